//! Staff work on stations over HTTP: CRUD within their subtree only, CSV import all or nothing,
//! the door QR and check-ins (one per 30 minutes, also under parallel scans), visitor stats,
//! and the message board whose fault reports flag a station in search.

use crate::stations_support::{create, ids, nearby, station, tree};
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, decode_qr_png, spawn_app, TestApp};

async fn patch(
    app: &TestApp,
    path: &str,
    body: &Value,
    token: &str,
) -> gigunion_tests::reqwest::Response {
    app.request(Method::PATCH, path)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> gigunion_tests::reqwest::Response {
    app.request(Method::DELETE, path)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn import(
    app: &TestApp,
    org: i64,
    csv: String,
    token: &str,
) -> gigunion_tests::reqwest::Response {
    import_file(
        app,
        &format!("/v1/admin/orgs/{org}/stations/import"),
        csv,
        token,
    )
    .await
}

/// POSTs a file in whatever encoding to an import path with its query. The `charset` says
/// UTF-8, as clients send it whatever the file holds.
async fn import_file(
    app: &TestApp,
    path: &str,
    file: impl Into<gigunion_tests::reqwest::Body>,
    token: &str,
) -> gigunion_tests::reqwest::Response {
    app.request(Method::POST, path)
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(file)
        .send()
        .await
        .unwrap()
}

async fn subtree_count(app: &TestApp, org: i64, token: &str) -> usize {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/orgs/{org}/stations?limit=100&cursor={c}"),
            None => format!("/v1/admin/orgs/{org}/stations?limit=100"),
        };
        let page: Value = app.get(&path, Some(token)).await.json().await.unwrap();
        count += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return count,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_manage_stations_of_their_subtree_only() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let worker = app.worker(310).await;
    let body = station("珠江路驿站", 32.0486, 118.7977, json!({"open_24h": true}));

    // Outside the subtree: 404 as for nothing; no staff role at all: 403.
    let res = app
        .post(
            &format!("/v1/admin/orgs/{}/stations", t.xuanwu),
            &body,
            Some(&t.staff_b),
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    let res = app
        .post(
            &format!("/v1/admin/orgs/{}/stations", t.xuanwu),
            &body,
            Some(&worker.token),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .post(
            &format!("/v1/admin/orgs/{}/stations", t.xuanwu),
            &body,
            None,
        )
        .await;
    assert_problem(res, 401, "unauthenticated").await;

    let created = create(&app, &t.staff_a, t.xuanwu, &body).await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["org"]["name"], "玄武区总工会");
    assert_eq!(
        created["amenities"],
        json!(["drinking_water", "phone_charging"])
    );
    assert_eq!(created["stars"], 4);
    assert_eq!(created["status"], "open");
    assert_eq!(created["flagged"], false);
    // Nobody said they checked it on site.
    assert!(created["last_verified_at"].is_null());
    assert!(created["door_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/s/{id}?c=", app.base)));
    // Found at once by this instance's search.
    assert_eq!(ids(&nearby(&app, "lat=32.0486&lng=118.7977").await), [id]);

    // The public detail has no door code.
    let public: Value = app
        .get(&format!("/v1/stations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["name"], "珠江路驿站");
    assert_eq!(public["hours"]["open_24h"], true);
    assert!(public.get("door_url").is_none());
    assert!(public["links"]["amap"].is_string());

    // Edit: staff of the district, of the city above, the admin; not the neighbour.
    let path = format!("/v1/admin/stations/{id}");
    assert_problem(
        patch(&app, &path, &json!({"stars": 5}), &t.staff_b).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        patch(&app, &path, &json!({"stars": 5}), &worker.token).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(delete(&app, &path, &t.staff_b).await, 404, "not_found").await;
    assert_problem(
        app.get(
            &format!("/v1/admin/orgs/{}/stations", t.xuanwu),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let res = patch(
        &app,
        &path,
        &json!({"name": "珠江路工会驿站", "stars": 5, "phone": null, "amenities": ["toilet"], "verified": true}),
        &t.staff_a,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["name"], "珠江路工会驿站");
    assert_eq!(edited["stars"], 5);
    assert!(edited["phone"].is_null());
    assert_eq!(edited["amenities"], json!(["toilet"]));
    assert!(edited["last_verified_at"].is_string());
    let by_admin = patch(
        &app,
        &path,
        &json!({"address": "南京市玄武区珠江路88号"}),
        &t.admin,
    )
    .await;
    assert_eq!(by_admin.status(), StatusCode::OK);
    let found = nearby(&app, "lat=32.0486&lng=118.7977&amenities=toilet").await;
    assert_eq!(found["items"][0]["name"], "珠江路工会驿站");
    assert_eq!(found["items"][0]["address"], "南京市玄武区珠江路88号");

    // Invalid values name their field; nothing changes.
    for (change, field) in [
        (json!({"stars": 6}), "stars"),
        (json!({"amenities": ["sauna"]}), "amenities"),
        (
            json!({"hours": {"weekly": {"mon": ["25:00-26:00"]}}}),
            "hours",
        ),
        (json!({"location": {"lat": 95.0, "lng": 118.0}}), "location"),
        (json!({"phone": "call us"}), "phone"),
        (json!({"photos": ["ftp://x/y.jpg"]}), "photos"),
        (json!({"status": "demolished"}), "status"),
        (json!({"name": " "}), "name"),
    ] {
        let problem = assert_problem(
            patch(&app, &path, &change, &t.staff_a).await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(problem["field"], field, "{change}");
    }

    // The staff list of the city sees the district's station; the other district's does not.
    let city_list: Value = app
        .get(
            &format!("/v1/admin/orgs/{}/stations", t.city),
            Some(&t.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(city_list["items"][0]["id"], id);
    let other: Value = app
        .get(
            &format!("/v1/admin/orgs/{}/stations", t.qinhuai),
            Some(&t.staff_b),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["items"], json!([]));

    // DELETE closes: gone from search, kept for history.
    let closed = delete(&app, &path, &t.staff_a).await;
    assert_eq!(closed.status(), StatusCode::OK);
    assert_eq!(closed.json::<Value>().await.unwrap()["status"], "closed");
    assert_eq!(
        ids(&nearby(&app, "lat=32.0486&lng=118.7977").await),
        Vec::<i64>::new()
    );
    let public: Value = app
        .get(&format!("/v1/stations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["status"], "closed");
    assert_eq!(public["open_now"], false);
    let closed_only: Value = app
        .get(
            &format!("/v1/admin/orgs/{}/stations?status=closed", t.xuanwu),
            Some(&t.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed_only["items"][0]["id"], id);
    assert_problem(app.get("/v1/stations/999999", None).await, 404, "not_found").await;
}

fn csv_file(rows: usize, bom: bool, bad: &[usize]) -> String {
    let mut csv = String::new();
    if bom {
        csv.push('\u{FEFF}');
    }
    csv.push_str("name,address,lat,lng,hours,closed_dates,amenities,stars,phone\n");
    for i in 0..rows {
        let lat = if bad.contains(&i) {
            "91.5".to_owned()
        } else {
            format!("{:.6}", 31.70 + (i % 100) as f64 * 0.002)
        };
        csv.push_str(&format!(
            "导入驿站{i},合肥市包河区徽州大道{i}号,{lat},{:.6},\"mon-fri 08:00-20:00; sat,sun 09:00-17:00\",2027-02-06..2027-02-08,\"饮用水;toilet;换电\",{},0551-6512{:04}\n",
            117.25 + (i / 100) as f64 * 0.002,
            1 + i % 5,
            i % 10_000
        ));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_writes_all_rows_or_none() {
    let app = spawn_app().await;
    let t = tree(&app).await;

    // 3 bad rows among 1,500: nothing written, each bad row named.
    let res = import(
        &app,
        t.qinhuai,
        csv_file(1_500, true, &[10, 700, 1_499]),
        &t.staff_b,
    )
    .await;
    let problem = assert_problem(res, 422, "csv_invalid").await;
    assert_eq!(problem["error_count"], 3);
    let errors: Vec<(u64, u64, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [(11, 12, "lat"), (701, 702, "lat"), (1_500, 1_501, "lat")]
    );
    assert_eq!(subtree_count(&app, t.qinhuai, &t.staff_b).await, 0);
    assert_eq!(app.state.stations.index.len(), 0);

    // A row for an org outside the importer's subtree: nothing written either.
    let csv = format!(
        "name,address,lat,lng,hours,org_id\nA,合肥市,31.8,117.3,24h,{}\nB,合肥市,31.8,117.3,24h,{}\n",
        t.qinhuai, t.xuanwu
    );
    let problem = assert_problem(
        import(&app, t.qinhuai, csv, &t.staff_b).await,
        422,
        "csv_invalid",
    )
    .await;
    assert_eq!(
        problem["errors"],
        json!([{
            "row": 2, "line": 3, "field": "org_id", "value": t.xuanwu.to_string(),
            "message_zh": "org_id 不是导入所在的工会或其下级工会",
            "message_en": "org_id is neither the org imported into nor one below it",
        }])
    );
    assert_eq!(subtree_count(&app, t.qinhuai, &t.staff_b).await, 0);

    // Another district's staff, a JSON body, an unreadable file.
    assert_problem(
        import(&app, t.qinhuai, csv_file(2, false, &[]), &t.staff_a).await,
        404,
        "not_found",
    )
    .await;
    let res = app
        .post(
            &format!("/v1/admin/orgs/{}/stations/import", t.qinhuai),
            &json!({}),
            Some(&t.staff_b),
        )
        .await;
    assert_problem(res, 415, "unsupported_media_type").await;
    let res = app
        .request(
            Method::POST,
            &format!("/v1/admin/orgs/{}/stations/import", t.qinhuai),
        )
        .bearer_auth(&t.staff_b)
        .header("content-type", "text/csv")
        .body(vec![0xC4u8, 0xCF, 0xFF]) // 南 in GBK, then a byte neither UTF-8 nor GB18030
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(res, 422, "invalid_field").await["field"],
        "encoding"
    );

    // All valid: 5,000 rows in one request, with BOM; the city's staff can import into a
    // district with `org_id`, and the rows are searchable at once.
    let res = import(&app, t.qinhuai, csv_file(5_000, true, &[]), &t.staff_b).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let imported: Value = res.json().await.unwrap();
    assert_eq!(imported["imported"], 5_000);
    assert_eq!(imported["ids"].as_array().unwrap().len(), 5_000);
    assert_eq!(subtree_count(&app, t.qinhuai, &t.staff_b).await, 5_000);
    let found = nearby(
        &app,
        "lat=31.70&lng=117.25&radius_m=100&amenities=battery_swap,toilet",
    )
    .await;
    assert_eq!(found["items"][0]["name"], "导入驿站0");
    assert_eq!(found["items"][0]["stars"], 1);
    let detail: Value = app
        .get(&format!("/v1/stations/{}", imported["ids"][0]), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["hours"]["weekly"]["sat"], json!(["09:00-17:00"]));
    assert_eq!(
        detail["hours"]["closed_dates"],
        json!(["2027-02-06", "2027-02-07", "2027-02-08"])
    );
    assert_eq!(detail["phone"], "0551-65120000");

    let admin = t.admin.clone();
    let csv = format!(
        "name,address,lat,lng,hours,org_id\n城中驿站,南京市,32.02,118.79,24h,{}\n",
        t.qinhuai
    );
    let res = import(&app, t.city, csv, &admin).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(subtree_count(&app, t.qinhuai, &t.staff_b).await, 5_001);
}

/// The `c` parameter of a door URL.
fn door_code(url: &str) -> String {
    url.split("?c=").nth(1).unwrap().to_owned()
}

/// A validly signed access token whose account has since gone from the database: check-in and
/// feedback answer 401, not a foreign-key failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_token_of_an_account_that_is_gone_is_refused() {
    use diesel::prelude::*;
    use platform::schema::{accounts as a, refresh_tokens as rt};
    let app = spawn_app().await;
    let t = tree(&app).await;
    let created = create(
        &app,
        &t.staff_a,
        t.xuanwu,
        &station("夜归驿站", 32.06, 118.79, json!({"open_24h": true})),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let code = door_code(created["door_url"].as_str().unwrap());
    let pair = app.register(&gigunion_tests::phone(330)).await;
    let token = pair["access_token"].as_str().unwrap();
    let me: Value = app.get("/v1/me", Some(token)).await.json().await.unwrap();
    let account = me["id"].as_i64().unwrap();
    {
        let mut conn = app.db.get().unwrap();
        diesel::delete(rt::table.filter(rt::account_id.eq(account)))
            .execute(&mut *conn)
            .unwrap();
        diesel::delete(a::table.find(account))
            .execute(&mut *conn)
            .unwrap();
    }
    let visit = app
        .post(
            &format!("/v1/stations/{id}/visits"),
            &json!({ "code": code }),
            Some(token),
        )
        .await;
    assert_problem(visit, 401, "unauthenticated").await;
    let feedback = app
        .post(
            &format!("/v1/stations/{id}/feedback"),
            &json!({ "kind": "suggestion", "body": "饮水机没水了" }),
            Some(token),
        )
        .await;
    assert_problem(feedback, 401, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn door_qr_check_ins_count_once_per_half_hour_and_feed_stats() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let created = create(
        &app,
        &t.staff_a,
        t.xuanwu,
        &station("幸福驿站", 32.05, 118.80, json!({"open_24h": true})),
    )
    .await;
    let id = created["id"].as_i64().unwrap();

    // The door QR decodes to the door URL; only the station's staff get it.
    let png = app
        .get(&format!("/v1/admin/stations/{id}/qr.png"), Some(&t.staff_a))
        .await;
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()["content-type"], "image/png");
    let url = decode_qr_png(&png.bytes().await.unwrap());
    assert_eq!(url, created["door_url"].as_str().unwrap());
    let svg = app
        .get(&format!("/v1/admin/stations/{id}/qr.svg"), Some(&t.staff_a))
        .await;
    assert!(svg.text().await.unwrap().contains("<svg"));
    assert_problem(
        app.get(&format!("/v1/admin/stations/{id}/qr.png"), Some(&t.staff_b))
            .await,
        404,
        "not_found",
    )
    .await;
    // The landing page of the URL names the station.
    let landing = app.get(&format!("/s/{id}"), None).await;
    assert_eq!(landing.status(), StatusCode::OK);
    assert!(landing.text().await.unwrap().contains("幸福驿站"));
    let code = door_code(&url);

    let rider = app.worker(320).await;
    let visit = |token: String, code: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/v1/stations/{id}/visits"),
                &json!({ "code": code }),
                Some(&token),
            )
            .await
        }
    };
    // A wrong code (a guessed URL) does not count; no token, no visit.
    let wrong = visit(rider.token.clone(), "AAAAAAAAAAAA".into()).await;
    assert_eq!(
        assert_problem(wrong, 422, "invalid_field").await["field"],
        "code"
    );
    let res = app
        .post(
            &format!("/v1/stations/{id}/visits"),
            &json!({ "code": code }),
            None,
        )
        .await;
    assert_problem(res, 401, "unauthenticated").await;

    let first = visit(rider.token.clone(), code.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["counted"], true);
    assert_eq!(first["member"], false);
    let again = visit(rider.token.clone(), code.clone()).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["counted"], false);
    assert_eq!(again["counted_at"], first["counted_at"]);

    // Parallel scans of one phone (a double tap, a flaky network): exactly one counts.
    let other = app.worker(321).await;
    let scans = (0..8).map(|_| visit(other.token.clone(), code.clone()));
    let statuses: Vec<u16> = futures_util::future::join_all(scans)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{statuses:?}"
    );

    // Stats: two visits today by two people, in the current hour (Asia/Shanghai).
    let stats = app
        .get(&format!("/v1/admin/stations/{id}/stats"), Some(&t.staff_a))
        .await;
    assert_eq!(stats.status(), StatusCode::OK);
    let stats: Value = stats.json().await.unwrap();
    assert_eq!(stats["visits"], 2);
    assert_eq!(stats["member_visits"], 0);
    assert_eq!(stats["unique_visitors"], 2);
    let days = stats["by_day"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    // The last day is today in Shanghai; a run across midnight there may split the visits
    // over the last two days, or ask for the stats just before midnight.
    let today = now.format("%Y-%m-%d").to_string();
    let yesterday = (now - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        [&today, &yesterday].contains(&&days[29]["date"].as_str().unwrap().to_owned()),
        "{}",
        days[29]
    );
    let last_two: i64 = days[28..]
        .iter()
        .map(|d| d["visits"].as_i64().unwrap())
        .sum();
    assert_eq!(last_two, 2);
    let hours = stats["by_hour"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let hour: usize = now.format("%H").to_string().parse().unwrap();
    // A run across the top of an hour may split the two visits.
    let around: i64 = [hour, (hour + 23) % 24]
        .iter()
        .map(|h| hours[*h]["visits"].as_i64().unwrap())
        .sum();
    assert_eq!(around, 2);
    assert_problem(
        app.get(&format!("/v1/admin/stations/{id}/stats"), Some(&t.staff_b))
            .await,
        404,
        "not_found",
    )
    .await;
    let bad = app
        .get(
            &format!("/v1/admin/stations/{id}/stats?from=2026-01-01&to=2027-06-01"),
            Some(&t.staff_a),
        )
        .await;
    assert_eq!(
        assert_problem(bad, 422, "invalid_field").await["field"],
        "from"
    );

    // A closed station takes no visits.
    delete(&app, &format!("/v1/admin/stations/{id}"), &t.staff_a).await;
    let third = app.worker(322).await;
    assert_problem(
        visit(third.token.clone(), code.clone()).await,
        409,
        "station_closed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_reports_flag_the_station_until_resolved() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let id = create(
        &app,
        &t.staff_a,
        t.xuanwu,
        &station("北京东路驿站", 32.06, 118.80, json!({"open_24h": true})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let rider = app.worker(330).await;
    async fn flagged(app: &TestApp) -> Value {
        nearby(app, "lat=32.06&lng=118.80").await["items"][0]["flagged"].clone()
    }
    assert_eq!(flagged(&app).await, false);

    let post = |kind: &str, body: &str| {
        let app = &app;
        let token = rider.token.clone();
        let payload = json!({ "kind": kind, "body": body });
        async move {
            app.post(
                &format!("/v1/stations/{id}/feedback"),
                &payload,
                Some(&token),
            )
            .await
        }
    };
    let suggestion = post("suggestion", "希望有台电视机，播放消防、安全类的教育片").await;
    assert_eq!(suggestion.status(), StatusCode::CREATED);
    assert_eq!(flagged(&app).await, false);
    let fault = post("fault", "微波炉坏了").await;
    assert_eq!(fault.status(), StatusCode::CREATED);
    let fault: Value = fault.json().await.unwrap();
    assert_eq!(fault["status"], "open");
    assert_eq!(flagged(&app).await, true);
    let second_fault: Value = post("fault", "开放时间内大门紧锁")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(post("complaint", "x").await, 422, "invalid_field").await["field"],
        "kind"
    );
    assert_eq!(
        assert_problem(post("fault", "  ").await, 422, "invalid_field").await["field"],
        "body"
    );

    // The board: the station's staff and those above; not the neighbour's.
    let board: Value = app
        .get(
            &format!("/v1/admin/stations/{id}/feedback?kind=fault&status=open"),
            Some(&t.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(board["items"].as_array().unwrap().len(), 2);
    assert_eq!(board["items"][0]["body"], "开放时间内大门紧锁");
    let city_board: Value = app
        .get(
            &format!("/v1/admin/orgs/{}/feedback", t.city),
            Some(&t.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(city_board["items"].as_array().unwrap().len(), 3);
    assert_problem(
        app.get(
            &format!("/v1/admin/stations/{id}/feedback"),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let fault_path = format!("/v1/admin/feedback/{}", fault["id"]);
    assert_problem(
        patch(
            &app,
            &fault_path,
            &json!({"status": "resolved"}),
            &t.staff_b,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        patch(
            &app,
            &fault_path,
            &json!({"status": "resolved"}),
            &rider.token,
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    // Answer and resolve one fault (twice: the second changes nothing): still flagged by the
    // other; resolving that one lifts the flag.
    let res = patch(
        &app,
        &fault_path,
        &json!({"reply": "已报修，明天更换", "status": "resolved"}),
        &t.staff_a,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let answered: Value = res.json().await.unwrap();
    assert_eq!(answered["reply"], "已报修，明天更换");
    assert_eq!(answered["status"], "resolved");
    assert!(answered["resolved_at"].is_string());
    patch(
        &app,
        &fault_path,
        &json!({"status": "resolved"}),
        &t.staff_a,
    )
    .await;
    assert_eq!(flagged(&app).await, true);
    let second_path = format!("/v1/admin/feedback/{}", second_fault["id"]);
    patch(
        &app,
        &second_path,
        &json!({"status": "resolved"}),
        &t.staff_a,
    )
    .await;
    assert_eq!(flagged(&app).await, false);
    // Reopened: flagged again.
    patch(&app, &second_path, &json!({"status": "open"}), &t.staff_a).await;
    assert_eq!(flagged(&app).await, true);
    let detail: Value = app
        .get(&format!("/v1/stations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["flagged"], true);
}

/// A "CSV" as Excel on Chinese Windows saves it: GBK, no BOM. The rows read:
/// 鼓楼驿站,南京市鼓楼区中山北路1号,32.0665,118.7780,24h,饮用水、卫生间
/// 夫子庙驿站,南京市秦淮区贡院街2号,32.0204,118.7880,daily 09:00-21:00,换电
const GBK_FILE: &[u8] = b"name,address,lat,lng,hours,amenities\n\
    \xB9\xC4\xC2\xA5\xE6\xE4\xD5\xBE,\
    \xC4\xCF\xBE\xA9\xCA\xD0\xB9\xC4\xC2\xA5\xC7\xF8\xD6\xD0\xC9\xBD\xB1\xB1\xC2\xB71\xBA\xC5,\
    32.0665,118.7780,24h,\xD2\xFB\xD3\xC3\xCB\xAE\xA1\xA2\xCE\xC0\xC9\xFA\xBC\xE4\n\
    \xB7\xF2\xD7\xD3\xC3\xED\xE6\xE4\xD5\xBE,\
    \xC4\xCF\xBE\xA9\xCA\xD0\xC7\xD8\xBB\xB4\xC7\xF8\xB9\xB1\xD4\xBA\xBD\xD62\xBA\xC5,\
    32.0204,118.7880,daily 09:00-21:00,\xBB\xBB\xB5\xE7\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gbk_file_from_chinese_excel_is_imported_with_its_chinese_names() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let path = format!("/v1/admin/orgs/{}/stations/import", t.qinhuai);

    // Declared UTF-8, the file is not: refused with what to do, in the caller's language.
    let res = app
        .request(Method::POST, &format!("{path}?encoding=utf-8"))
        .bearer_auth(&t.staff_b)
        .header("content-type", "text/csv")
        .header("accept-language", "en")
        .body(GBK_FILE)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(res, 422, "invalid_field").await;
    assert_eq!(problem["field"], "encoding");
    assert_eq!(
        problem["detail"],
        "The file is not valid UTF-8 text (the request declared encoding=utf-8)."
    );
    let res = import_file(
        &app,
        &format!("{path}?encoding=latin1"),
        GBK_FILE,
        &t.staff_b,
    )
    .await;
    assert_eq!(
        assert_problem(res, 422, "invalid_field").await["field"],
        "encoding"
    );
    assert_eq!(subtree_count(&app, t.qinhuai, &t.staff_b).await, 0);

    // Detected, or declared as GBK: the same stations, names as written.
    let res = import_file(&app, &path, GBK_FILE, &t.staff_b).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let ids = res.json::<Value>().await.unwrap()["ids"].clone();
    let res = import_file(&app, &format!("{path}?encoding=GBK"), GBK_FILE, &t.staff_b).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(subtree_count(&app, t.qinhuai, &t.staff_b).await, 4);

    let mut stored = Vec::new();
    for id in ids.as_array().unwrap() {
        let detail: Value = app
            .get(&format!("/v1/stations/{id}"), None)
            .await
            .json()
            .await
            .unwrap();
        // A file is not an on-site check.
        assert!(detail["last_verified_at"].is_null(), "{detail}");
        stored.push((
            detail["name"].clone(),
            detail["address"].clone(),
            detail["amenities"].clone(),
        ));
    }
    assert_eq!(
        stored,
        [
            (
                json!("鼓楼驿站"),
                json!("南京市鼓楼区中山北路1号"),
                json!(["drinking_water", "toilet"])
            ),
            (
                json!("夫子庙驿站"),
                json!("南京市秦淮区贡院街2号"),
                json!(["battery_swap"])
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_row_says_why_in_chinese_and_in_english() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let csv = "name,address,lat,lng,hours,amenities\n\
               好驿站,南京市秦淮区,32.02,118.79,24h,饮用水\n\
               坏驿站,南京市秦淮区,91.5,118.79,24h,桑拿\n"
        .to_owned();
    let problem = assert_problem(
        import(&app, t.qinhuai, csv, &t.staff_b).await,
        422,
        "csv_invalid",
    )
    .await;
    assert_eq!(problem["error_count"], 2);
    assert_eq!(
        problem["errors"],
        json!([
            {
                "row": 2, "line": 3, "field": "lat", "value": "91.5",
                "message_zh": "纬度必须在 -90 到 90 之间",
                "message_en": "latitude must be between -90 and 90",
            },
            {
                "row": 2, "line": 3, "field": "amenities", "value": "桑拿",
                "message_zh": "有无法识别的设施；请填写设施代码或中文名称，用 ; 、 , 或 | 分隔",
                "message_en": "unknown amenity; write amenity codes or their Chinese labels, separated by ; , 、 or |",
            },
        ])
    );
    assert_eq!(subtree_count(&app, t.qinhuai, &t.staff_b).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_verified_at_is_set_only_by_an_on_site_check() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let body = station("长江路驿站", 32.05, 118.79, json!({"open_24h": true}));
    let unchecked = create(&app, &t.staff_a, t.xuanwu, &body).await;
    assert!(unchecked["last_verified_at"].is_null(), "{unchecked}");
    // An edit without `verified` is no check either.
    let path = format!("/v1/admin/stations/{}", unchecked["id"]);
    let edited: Value = patch(&app, &path, &json!({"stars": 3}), &t.staff_a)
        .await
        .json()
        .await
        .unwrap();
    assert!(edited["last_verified_at"].is_null(), "{edited}");

    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut body = station("汉中路驿站", 32.04, 118.77, json!({"open_24h": true}));
    body["verified"] = json!(true);
    let checked = create(&app, &t.staff_a, t.xuanwu, &body).await;
    let at: chrono::DateTime<chrono::Utc> = checked["last_verified_at"]
        .as_str()
        .expect("set by verified: true")
        .parse()
        .unwrap();
    assert!(at >= before && at <= chrono::Utc::now(), "{at}");
    let public: Value = app
        .get(&format!("/v1/stations/{}", checked["id"]), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["last_verified_at"], checked["last_verified_at"]);
}
