//! Nearby search over HTTP: equal to a brute-force scan of 10,000 random stations, opening
//! hours across midnight and closures, coordinate systems, and 422s that name the field.

use crate::stations_support::{at, create, ids, nearby, station, tree};
use chrono::{NaiveDateTime, Timelike};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, spawn_app};
use platform::db::write_tx;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stations::coords::LatLng;
use stations::hours::Hours;
use stations::station::{create_many, StationInput};
use stations::vocab::{Amenities, Amenity, StationStatus};

/// The test's own great-circle distance (haversine, mean Earth radius).
fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8_f64;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dla = (b.0 - a.0).to_radians();
    let dlo = (b.1 - a.1).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().min(1.0).asin()
}

#[derive(Clone, Copy)]
enum Pattern {
    Always,
    Day,
    Night,
}

impl Pattern {
    fn hours(self) -> Hours {
        match self {
            Pattern::Always => Hours::always(),
            Pattern::Day => Hours::daily(&["08:00-20:00"]).unwrap(),
            Pattern::Night => Hours::daily(&["22:00-06:00"]).unwrap(),
        }
    }

    /// Independent of the code under test: the three patterns by hand.
    fn open_at(self, local: NaiveDateTime) -> bool {
        let h = local.hour();
        match self {
            Pattern::Always => true,
            Pattern::Day => (8..20).contains(&h),
            Pattern::Night => !(6..22).contains(&h),
        }
    }
}

struct Generated {
    id: i64,
    at: (f64, f64),
    amenities: Vec<Amenity>,
    pattern: Pattern,
    status: StationStatus,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearby_equals_a_brute_force_scan_of_10000_random_stations() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let mut rng = StdRng::seed_from_u64(20261123);

    // 10,000 stations around Nanjing, some sharing a point with another (ties by id).
    let mut inputs: Vec<(f64, f64, Vec<Amenity>, Pattern, StationStatus)> = Vec::new();
    for i in 0..10_000 {
        let (lat, lng) = if i > 0 && rng.gen_bool(0.02) {
            let other = &inputs[rng.gen_range(0..inputs.len())];
            (other.0, other.1)
        } else {
            (
                32.05 + rng.gen_range(-0.25..0.25),
                118.78 + rng.gen_range(-0.3..0.3),
            )
        };
        let amenities: Vec<Amenity> = Amenity::ALL
            .iter()
            .copied()
            .filter(|_| rng.gen_bool(0.4))
            .collect();
        let pattern = [Pattern::Always, Pattern::Day, Pattern::Night][rng.gen_range(0..3)];
        let status = match rng.gen_range(0..100) {
            0..=4 => StationStatus::Closed,
            5..=9 => StationStatus::TemporarilyClosed,
            _ => StationStatus::Open,
        };
        inputs.push((lat, lng, amenities, pattern, status));
    }
    let rows: Vec<StationInput> = inputs
        .iter()
        .enumerate()
        .map(|(i, (lat, lng, amenities, pattern, status))| StationInput {
            name: format!("随机驿站{i}"),
            address: format!("南京市随机路{i}号"),
            location: LatLng {
                lat: *lat,
                lng: *lng,
            },
            amenities: amenities.iter().copied().collect::<Amenities>(),
            hours: pattern.hours(),
            stars: None,
            phone: None,
            photos: Vec::new(),
            status: *status,
        })
        .collect();
    let org = t.xuanwu;
    let ids_written = app
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                create_many(conn, rows.iter().map(|r| (org, r)), None)
            })
        })
        .await
        .unwrap();
    let stations: Vec<Generated> = ids_written
        .into_iter()
        .zip(inputs)
        .map(|(id, (lat, lng, amenities, pattern, status))| Generated {
            id,
            at: (lat, lng),
            amenities,
            pattern,
            status,
        })
        .collect();
    // The rows were written behind the app's back: catch its index up (a rebuild, this many).
    app.state.stations.refresh(&app.db).await.unwrap();
    let searchable = stations
        .iter()
        .filter(|s| s.status != StationStatus::Closed)
        .count();
    assert_eq!(app.state.stations.index.len(), searchable);

    let moments = [
        "2026-11-20T02:30:00",
        "2026-11-20T12:00:00",
        "2026-11-20T21:00:00",
        "2026-11-21T07:59:00",
    ];
    let mut compared_results = 0;
    for q in 0..150 {
        let center = (
            32.05 + rng.gen_range(-0.3..0.3),
            118.78 + rng.gen_range(-0.35..0.35),
        );
        let radius = if q % 3 == 0 {
            rng.gen_range(100..3_000)
        } else {
            rng.gen_range(100..50_001)
        };
        let limit = rng.gen_range(1..=100usize);
        let wanted: Vec<Amenity> = Amenity::ALL
            .iter()
            .copied()
            .filter(|_| rng.gen_bool(0.08))
            .collect();
        let open_only = rng.gen_bool(0.3);
        let moment = moments[q % moments.len()];
        let local = NaiveDateTime::parse_from_str(moment, "%Y-%m-%dT%H:%M:%S").unwrap();

        let mut expected: Vec<(f64, i64)> = stations
            .iter()
            .filter(|s| s.status != StationStatus::Closed)
            .filter(|s| wanted.iter().all(|a| s.amenities.contains(a)))
            .filter(|s| !open_only || (s.status == StationStatus::Open && s.pattern.open_at(local)))
            .map(|s| (distance_m(center, s.at), s.id))
            .filter(|(d, _)| *d <= f64::from(radius))
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        expected.truncate(limit);

        let amenities: Vec<&str> = wanted.iter().map(|a| a.as_str()).collect();
        let got = nearby(
            &app,
            &format!(
                "lat={}&lng={}&radius_m={radius}&limit={limit}&amenities={}&open_now={open_only}&at={}",
                center.0,
                center.1,
                amenities.join(","),
                at(moment)
            ),
        )
        .await;
        let expected_ids: Vec<i64> = expected.iter().map(|(_, id)| *id).collect();
        assert_eq!(ids(&got), expected_ids, "query {q}");
        for (item, (d, _)) in got["items"].as_array().unwrap().iter().zip(&expected) {
            assert!((item["distance_m"].as_f64().unwrap() - d).abs() <= 0.5 + 1e-9);
            let s = stations.iter().find(|s| s.id == item["id"]).unwrap();
            let open = s.status == StationStatus::Open && s.pattern.open_at(local);
            assert_eq!(item["open_now"], open, "query {q}, station {}", s.id);
        }
        compared_results += expected_ids.len();
    }
    // The comparison was not vacuous.
    assert!(compared_results > 2_000, "{compared_results}");
}

/// Without `at`, "open now" is the app's now, in Asia/Shanghai.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_now_is_the_apps_now() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (lat, lng) = (32.0486, 118.7977);
    let every_day: serde_json::Map<String, Value> =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| (d.to_string(), json!(["08:00-20:00"])))
            .collect();
    let day = create(
        &app,
        &t.staff_a,
        t.xuanwu,
        &station("日间驿站", lat, lng, json!({ "weekly": every_day })),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let open_now = || {
        let app = &app;
        async move { nearby(app, &format!("lat={lat}&lng={lng}&open_now=true")).await }
    };
    app.advance_clock_to_shanghai(3, 0);
    let night = open_now().await;
    assert_eq!(ids(&night), Vec::<i64>::new());
    assert!(night["at"].as_str().unwrap().contains("T03:00:"), "{night}");
    app.advance_clock(chrono::TimeDelta::hours(8));
    let morning = open_now().await;
    assert_eq!(ids(&morning), [day]);
    assert!(
        morning["at"].as_str().unwrap().contains("T11:00:"),
        "{morning}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_now_across_midnight_24_hours_and_closures() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (lat, lng) = (32.0486, 118.7977);
    // 2026-11-20 is a Friday.
    let night = create(
        &app,
        &t.staff_a,
        t.xuanwu,
        &station(
            "夜班驿站",
            lat,
            lng,
            json!({"weekly": {"fri": ["22:00-06:00"]}}),
        ),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let always = create(
        &app,
        &t.staff_a,
        t.xuanwu,
        &station(
            "全天驿站",
            lat + 0.001,
            lng,
            json!({"open_24h": true, "closed_dates": ["2026-11-21"]}),
        ),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let day = create(
        &app,
        &t.staff_a,
        t.xuanwu,
        &station(
            "白班驿站",
            lat + 0.002,
            lng,
            json!({"weekly": {"fri": ["08:00-20:00"], "sat": ["08:00-20:00"]}, "closed_dates": ["2026-11-21"]}),
        ),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let open_at = |local: &'static str| {
        let app = &app;
        async move {
            let found = nearby(
                app,
                &format!("lat={lat}&lng={lng}&open_now=true&at={}", at(local)),
            )
            .await;
            ids(&found)
        }
    };
    assert_eq!(open_at("2026-11-20T12:00:00").await, [always, day]);
    assert_eq!(open_at("2026-11-20T21:59:00").await, [always]);
    assert_eq!(open_at("2026-11-20T22:00:00").await, [night, always]);
    // Saturday: Friday's night shift runs on; the 24-hour station and the day station are
    // closed for the date.
    assert_eq!(open_at("2026-11-21T02:00:00").await, [night]);
    assert_eq!(open_at("2026-11-21T06:00:00").await, Vec::<i64>::new());
    assert_eq!(open_at("2026-11-21T12:00:00").await, Vec::<i64>::new());
    assert_eq!(open_at("2026-11-22T00:30:00").await, [always]);
    // Thursday 23:00: no range of its own, and Wednesday's night is not Friday's.
    assert_eq!(open_at("2026-11-19T23:00:00").await, [always]);

    // Without the filter all three come back, each saying whether it is open.
    let all = nearby(
        &app,
        &format!("lat={lat}&lng={lng}&at={}", at("2026-11-21T02:00:00")),
    )
    .await;
    assert_eq!(ids(&all), [night, always, day]);
    let open: Vec<bool> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["open_now"].as_bool().unwrap())
        .collect();
    assert_eq!(open, [true, false, false]);
    assert_eq!(all["items"][1]["open_24h"], true);
    assert_eq!(all["at"], "2026-11-21T02:00:00+08:00");

    // Temporarily closed: still found, never open.
    let res = app
        .request(reqwest_patch(), &format!("/v1/admin/stations/{always}"))
        .bearer_auth(&t.staff_a)
        .json(&json!({"status": "temporarily_closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(open_at("2026-11-22T00:30:00").await, Vec::<i64>::new());
    let all = nearby(&app, &format!("lat={lat}&lng={lng}")).await;
    assert!(ids(&all).contains(&always));
}

fn reqwest_patch() -> gigunion_tests::reqwest::Method {
    gigunion_tests::reqwest::Method::PATCH
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinates_links_and_invalid_input() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    // A station entered from a GPS device (WGS-84) is stored in GCJ-02.
    let wgs = (32.0603, 118.7969);
    let mut body = station("鼓楼驿站", wgs.0, wgs.1, json!({"open_24h": true}));
    body["coord"] = json!("wgs84");
    let created = create(&app, &t.staff_a, t.xuanwu, &body).await;
    let stored = (
        created["location"]["lat"].as_f64().unwrap(),
        created["location"]["lng"].as_f64().unwrap(),
    );
    assert_eq!(created["coord"], "gcj02");
    let shift = distance_m(wgs, stored);
    assert!((300.0..700.0).contains(&shift), "GCJ-02 offset {shift} m");

    // A rider standing at the station with raw GPS finds it at ~0 m; in GCJ-02 too.
    let by_gps = nearby(
        &app,
        &format!("lat={}&lng={}&coord=wgs84&radius_m=100", wgs.0, wgs.1),
    )
    .await;
    assert_eq!(by_gps["items"][0]["id"], created["id"]);
    assert!(by_gps["items"][0]["distance_m"].as_u64().unwrap() <= 1);
    assert_eq!(by_gps["coord"], "gcj02");
    let by_gcj = nearby(
        &app,
        &format!("lat={}&lng={}&radius_m=100", stored.0, stored.1),
    )
    .await;
    assert_eq!(by_gcj["items"][0]["distance_m"], 0);

    // Links of the rider's map app, Amap unless asked: its universal link and its app scheme,
    // in GCJ-02.
    let links = &by_gcj["items"][0]["links"];
    let keys = |links: &Value| {
        links
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(links), ["amap", "amap_app"]);
    let amap = links["amap"].as_str().unwrap();
    assert!(amap.starts_with(&format!(
        "https://uri.amap.com/navigation?to={:.6},{:.6},",
        stored.1, stored.0
    )));
    assert!(amap.contains("%E9%BC%93%E6%A5%BC")); // 鼓楼, escaped
    assert!(links["amap_app"].as_str().unwrap().starts_with(&format!(
        "amapuri://route/plan/?dlat={:.6}&dlon={:.6}&dname=%E9%BC%93%E6%A5%BC",
        stored.0, stored.1
    )));
    // Baidu's, in BD-09 (about 1 km away from GCJ-02 in Nanjing); its web page routes from
    // the rider, who stands 0 m from the station here.
    let query = format!("lat={}&lng={}&radius_m=100&map=baidu", stored.0, stored.1);
    let by_baidu = nearby(&app, &query).await;
    let links = &by_baidu["items"][0]["links"];
    assert_eq!(keys(links), ["baidu", "baidu_web"]);
    let baidu = links["baidu"].as_str().unwrap();
    let latlng = |link: &str, after: &str| {
        let text = link.split(after).nth(1).unwrap().split('|').next().unwrap();
        let (lat, lng) = text.split_once(',').unwrap();
        (lat.parse::<f64>().unwrap(), lng.parse::<f64>().unwrap())
    };
    let bd = latlng(baidu, "latlng:");
    assert!((500.0..1_500.0).contains(&distance_m(stored, bd)));
    assert!(baidu.contains("coord_type=bd09ll"));
    let web = links["baidu_web"].as_str().unwrap();
    assert!(web.starts_with("https://api.map.baidu.com/direction?origin=latlng:"));
    assert!(distance_m(latlng(web, "origin=latlng:"), bd) < 1.0);
    assert_eq!(latlng(web, "destination=latlng:"), bd);
    let query = format!("lat={}&lng={}&radius_m=100&map=both", stored.0, stored.1);
    let both = nearby(&app, &query).await;
    let all = ["amap", "amap_app", "baidu", "baidu_web"];
    assert_eq!(keys(&both["items"][0]["links"]), all);
    // The station's own page keeps both apps' main links, and Baidu's page of the place.
    let page = app
        .get(&format!("/v1/stations/{}", created["id"]), None)
        .await;
    let page: Value = page.json().await.unwrap();
    assert_eq!(keys(&page["links"]), ["amap", "baidu", "baidu_web"]);

    for (query, field) in [
        ("lat=91&lng=118", "lat"),
        ("lat=32&lng=-181", "lng"),
        ("lng=118", "lat"),
        ("lat=north&lng=118", "lat"),
        ("lat=32&lng=118&radius_m=50001", "radius_m"),
        ("lat=32&lng=118&limit=0", "limit"),
        ("lat=32&lng=118&amenities=drinking_water,sauna", "amenities"),
        ("lat=32&lng=118&coord=mars", "coord"),
        ("lat=32&lng=118&open_now=maybe", "open_now"),
        ("lat=32&lng=118&map=google", "map"),
    ] {
        let res = app.get(&format!("/v1/stations/nearby?{query}"), None).await;
        let problem = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(problem["field"], field, "{query}");
    }
    // The largest radius and limit are fine.
    nearby(&app, "lat=32&lng=118&radius_m=50000&limit=100").await;
}
