//! The audit log over HTTP: staff writes and views of members' data are recorded with actor,
//! action, record and client address; staff read their subtree only, admins everything, workers
//! nothing; and the stored rows hold no personal data of the member.

use crate::stations_support::{create, station};
use gigunion_tests::reqwest::{Method, RequestBuilder, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, spawn_app_with, Districts, TestApp, Worker};

/// Where staff of Xuanwu work from, as our proxy (the loopback peer) reports it.
const STAFF_ADDRESS: &str = "203.0.113.7";

/// What the scenario did, for the assertions.
struct Scene {
    d: Districts,
    worker: Worker,
    worker_id: i64,
    staff_a_id: i64,
    membership_id: i64,
    station_a: i64,
    station_b: i64,
}

async fn account_id(app: &TestApp, token: &str) -> i64 {
    let me: Value = app.get("/v1/me", Some(token)).await.json().await.unwrap();
    me["id"].as_i64().unwrap()
}

/// A request from Xuanwu's staff through our proxy.
fn from_staff_a(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.request(method, path)
        .bearer_auth(token)
        .header("X-Forwarded-For", format!("10.9.9.9, {STAFF_ADDRESS}"))
}

/// Staff of Xuanwu approve a rider, export the member CSV and create a station; staff of
/// Qinhuai create a station of their own.
async fn scenario() -> (TestApp, Scene) {
    let app = spawn_app_with(|c| {
        c.proxies = platform::client_addr::ProxyTrust::parse("127.0.0.0/8").unwrap();
    })
    .await;
    let d = app.nanjing_districts((301, 302)).await;
    let code = app
        .join_code(&d.staff_a, d.xuanwu, json!({ "label": "review" }))
        .await;
    let worker = app.worker(303).await;
    let joined = app
        .join(&worker.token, code["code"].as_str().unwrap())
        .await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    let membership_id = joined.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let approve = format!("/v1/admin/memberships/{membership_id}/approve");
    let res = from_staff_a(&app, Method::POST, &approve, &d.staff_a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let csv_path = format!("/v1/admin/orgs/{}/members?format=csv", d.xuanwu);
    let csv = from_staff_a(&app, Method::GET, &csv_path, &d.staff_a)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    // The export really held the member's personal data (that is why it is recorded).
    assert!(csv.text().await.unwrap().contains("骑手三零三"));
    let body = station("珠江路驿站", 32.0486, 118.7977, json!({"open_24h": true}));
    let stations = format!("/v1/admin/orgs/{}/stations", d.xuanwu);
    let res = from_staff_a(&app, Method::POST, &stations, &d.staff_a)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let station_a = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let body = station("中华门驿站", 32.01, 118.78, json!({"open_24h": true}));
    let station_b = create(&app, &d.staff_b, d.qinhuai, &body).await["id"]
        .as_i64()
        .unwrap();
    let scene = Scene {
        worker_id: account_id(&app, &worker.token).await,
        staff_a_id: account_id(&app, &d.staff_a).await,
        d,
        worker,
        membership_id,
        station_a,
        station_b,
    };
    (app, scene)
}

/// Every entry `token` sees through `org` (with `query`), following the cursors, newest first.
async fn audit(app: &TestApp, token: &str, org: i64, query: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/admin/orgs/{org}/audit?limit=3{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = app.get(&path, Some(token)).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
        let page: Value = res.json().await.unwrap();
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return entries,
        }
    }
}

fn find<'a>(entries: &'a [Value], action: &str, record: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|e| e["action"] == action && e["record"] == record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_who_did_what_to_which_record_from_where() {
    let (app, s) = scenario().await;
    let entries = audit(&app, &s.d.staff_a, s.d.xuanwu, "").await;
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let approve = find(
        &entries,
        "membership.approve",
        &format!("membership:{}", s.membership_id),
    )
    .expect("the approval is recorded");
    assert_eq!(approve["actor_account_id"], s.staff_a_id);
    assert_eq!(approve["actor_address"], STAFF_ADDRESS);
    assert_eq!(approve["org_id"], s.d.xuanwu);
    assert_eq!(approve["subject_account_id"], s.worker_id);
    let export = find(&entries, "members.export", &format!("org:{}", s.d.xuanwu))
        .expect("the export is recorded");
    assert_eq!(export["actor_account_id"], s.staff_a_id);
    assert_eq!(export["actor_address"], STAFF_ADDRESS);
    let created = find(
        &entries,
        "station.create",
        &format!("station:{}", s.station_a),
    )
    .expect("the station is recorded");
    assert_eq!(created["actor_address"], STAFF_ADDRESS);
    // The order of the log is the order of the work.
    let position = |e: &Value| ids.iter().position(|id| *id == e["id"]).unwrap();
    assert!(position(created) < position(export) && position(export) < position(approve));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_read_their_subtree_admins_everything_workers_nothing() {
    let (app, s) = scenario().await;
    let theirs = audit(&app, &s.d.staff_b, s.d.qinhuai, "").await;
    assert!(
        theirs.iter().all(|e| e["org_id"] == s.d.qinhuai),
        "{theirs:?}"
    );
    assert!(find(
        &theirs,
        "station.create",
        &format!("station:{}", s.station_b)
    )
    .is_some());
    assert!(theirs.iter().all(|e| e["actor_account_id"] != s.staff_a_id));
    let outside = format!("/v1/admin/orgs/{}/audit", s.d.xuanwu);
    assert_problem(
        app.get(&outside, Some(&s.d.staff_b)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&outside, Some(&s.worker.token)).await,
        403,
        "forbidden",
    )
    .await;

    let all = audit(&app, &s.d.admin, s.d.city, "").await;
    for (action, record) in [
        (
            "membership.approve",
            format!("membership:{}", s.membership_id),
        ),
        ("members.export", format!("org:{}", s.d.xuanwu)),
        ("station.create", format!("station:{}", s.station_a)),
        ("station.create", format!("station:{}", s.station_b)),
    ] {
        assert!(find(&all, action, &record).is_some(), "{action} {record}");
    }
    let stations = audit(&app, &s.d.admin, s.d.city, "&action=station.").await;
    assert_eq!(stations.len(), 2, "{stations:?}");
    let bad = format!("/v1/admin/orgs/{}/audit?action=station%25", s.d.city);
    let res = app.get(&bad, Some(&s.d.admin)).await;
    assert_eq!(
        assert_problem(res, 422, "invalid_field").await["field"],
        "action"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_entries_hold_no_personal_data_of_the_member() {
    use diesel::prelude::*;
    use platform::schema::audit_log as al;
    let (app, s) = scenario().await;
    let rows: Vec<(String, String, String)> = app
        .db
        .run(|conn| {
            Ok(al::table
                .select((al::actor_address, al::action, al::record))
                .load(conn)?)
        })
        .await
        .unwrap();
    let about_worker: Vec<_> = app
        .db
        .run(move |conn| {
            Ok(al::table
                .filter(al::subject_account_id.eq(s.worker_id))
                .select(al::action)
                .load::<String>(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(about_worker, ["membership.approve"]);
    let personal = [
        s.worker.phone.as_str(),
        &s.worker.phone[7..],
        "骑手三零三",
        s.worker.id_number.as_str(),
    ];
    for (address, action, record) in &rows {
        for text in [address, action, record] {
            for secret in personal {
                assert!(!text.contains(secret), "{secret:?} in {text:?}");
            }
        }
    }
    assert!(
        rows.len() >= 10,
        "the scenario's entries are there: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_filters_by_actor_record_and_day() {
    let (app, s) = scenario().await;
    let admin = &s.d.admin;
    let by_staff = audit(&app, admin, s.d.city, &format!("&actor={}", s.staff_a_id)).await;
    assert!(!by_staff.is_empty());
    assert!(by_staff
        .iter()
        .all(|e| e["actor_account_id"] == s.staff_a_id));

    let record = format!("membership:{}", s.membership_id);
    let about = audit(&app, admin, s.d.city, &format!("&record={record}")).await;
    assert!(!about.is_empty());
    assert!(
        about.iter().all(|e| e["record"] == record.as_str()),
        "{about:?}"
    );

    // Today in Asia/Shanghai holds them all; tomorrow holds none yet.
    let today = platform::clock::local(app.now()).date();
    let tomorrow = today.succ_opt().unwrap();
    let all = audit(&app, admin, s.d.city, "").await;
    let on_today = audit(&app, admin, s.d.city, &format!("&from={today}&to={today}")).await;
    assert_eq!(on_today.len(), all.len());
    let later = audit(&app, admin, s.d.city, &format!("&from={tomorrow}")).await;
    assert!(later.is_empty(), "{later:?}");

    for (query, field) in [
        ("record=membership", "record"),
        ("actor=0", "actor"),
        (&*format!("from={tomorrow}&to={today}"), "from"),
    ] {
        let res = app
            .get(
                &format!("/v1/admin/orgs/{}/audit?{query}", s.d.city),
                Some(admin),
            )
            .await;
        let problem = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(problem["field"], field, "{query}");
    }
}
