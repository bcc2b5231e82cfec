//! Membership under bursts of parallel requests: an idempotent double tap creates one
//! membership, a capped join code never admits more than its cap, and one application is decided
//! exactly once however many staff press the button at the same moment.
//!
//! Phones used here: `phone(400..599)`.

use std::collections::BTreeSet;
use std::sync::Arc;

use diesel::prelude::*;
use futures_util::future::join_all;
use gigunion_tests::reqwest::{Method, RequestBuilder, Response};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{phone, spawn_app_with, TestApp, Worker};
use platform::schema::{
    join_codes as j, member_no_counters as counters, members as m, membership_events as ev,
    memberships as ms,
};
use platform::Rate;

/// Many registrations come from one IP here.
async fn app() -> TestApp {
    spawn_app_with(|c| c.limits.otp_per_ip = Rate::per_minute(10_000)).await
}

/// Admin token, and the district org (320102) under a city under a province.
struct Setup {
    admin: String,
    province: i64,
    city: i64,
    district: i64,
}

async fn setup(app: &TestApp) -> Setup {
    let admin = app.admin().await;
    let province = app
        .org(&admin, None, "federation", "江苏省总工会", "320000")
        .await;
    let city = app
        .org(&admin, Some(province), "city", "南京市总工会", "320100")
        .await;
    let district = app
        .org(&admin, Some(city), "district", "玄武区总工会", "320102")
        .await;
    Setup {
        admin,
        province,
        city,
        district,
    }
}

/// Workers with real-name profiles, created ten at a time.
async fn workers(app: &TestApp, ns: std::ops::Range<u32>) -> Vec<Worker> {
    let ns: Vec<u32> = ns.collect();
    let mut out = Vec::new();
    for chunk in ns.chunks(10) {
        out.extend(join_all(chunk.iter().map(|&n| app.worker(n))).await);
    }
    out
}

async fn read(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body readable");
    let body = gigunion_tests::serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body)
}

/// Sends all requests at once (each on its own task, released together); status and body of
/// each, in order.
async fn burst(requests: Vec<RequestBuilder>) -> Vec<(u16, Value)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                read(req.send().await.expect("request sent")).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("request task"));
    }
    out
}

fn join_request(app: &TestApp, token: &str, code: &str) -> RequestBuilder {
    app.request(Method::POST, "/v1/memberships")
        .bearer_auth(token)
        .json(&json!({ "join_code": code, "occupation": "rider", "platform": "美团", "work_city": "南京" }))
}

/// How many responses had each (status, problem code or "-").
fn tally(results: &[(u16, Value)]) -> Vec<(u16, String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for (status, body) in results {
        let code = body["code"].as_str().unwrap_or("-").to_owned();
        *counts.entry((*status, code)).or_insert(0) += 1;
    }
    counts.into_iter().map(|((s, c), n)| (s, c, n)).collect()
}

async fn account_id(app: &TestApp, token: &str) -> i64 {
    let (status, me) = read(app.get("/v1/me", Some(token)).await).await;
    assert_eq!(status, 200, "{me}");
    me["id"].as_i64().unwrap()
}

/// `uses` of a code as staff see it.
async fn uses_via_api(app: &TestApp, token: &str, org: i64, code_id: i64) -> i64 {
    let (status, list) = read(
        app.get(
            &format!("/v1/admin/orgs/{org}/join-codes?limit=100"),
            Some(token),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == code_id)
        .expect("the code is listed")["uses"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_identical_idempotent_joins_make_one_membership() {
    let app = app().await;
    let s = setup(&app).await;
    let code = app
        .join_code(
            &s.admin,
            s.district,
            json!({ "label": "直通", "auto_approve": true }),
        )
        .await;
    let code_id = code["id"].as_i64().unwrap();
    let code = code["code"].as_str().unwrap().to_owned();
    let rider = app.worker(400).await;
    let key = "join-6f1c2a9e-double-tap";

    let results = burst(
        (0..50)
            .map(|_| join_request(&app, &rider.token, &code).header("Idempotency-Key", key))
            .collect(),
    )
    .await;

    let mut ids = BTreeSet::new();
    let mut created = 0;
    for (status, body) in &results {
        match status {
            201 | 200 => {
                created += usize::from(*status == 201);
                assert_eq!(body["status"], "active", "{body}");
                ids.insert(body["id"].as_i64().expect("a membership id"));
            }
            409 => assert_eq!(body["code"], "idempotency_in_progress", "{body}"),
            _ => panic!("unexpected {status}: {body}"),
        }
    }
    assert!(created >= 1, "{:?}", tally(&results));
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = *ids.first().unwrap();

    // A retry now replays the stored response; without the key it is the existing membership.
    let replay = join_request(&app, &rider.token, &code)
        .header("Idempotency-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotency-replayed"], "true");
    let (status, body) = read(replay).await;
    assert_eq!((status, body["id"].as_i64()), (201, Some(id)));
    let (status, body) = read(
        join_request(&app, &rider.token, &code)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["id"].as_i64()), (200, Some(id)));
    // The key with another body is a client bug, said so.
    let (status, body) = read(
        app.request(Method::POST, "/v1/memberships")
            .bearer_auth(&rider.token)
            .header("Idempotency-Key", key)
            .json(&json!({ "join_code": code, "occupation": "courier", "platform": "顺丰", "work_city": "南京" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    // One row, one use, one member number.
    let account = account_id(&app, &rider.token).await;
    let mut conn = app.db.get().unwrap();
    let rows: Vec<(i64, String)> = ms::table
        .filter(ms::account_id.eq(account))
        .select((ms::id, ms::status))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(rows, vec![(id, "active".to_owned())]);
    let uses: i32 = j::table
        .find(code_id)
        .select(j::uses)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(uses, 1);
    let numbers: i64 = m::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(numbers, 1);
    drop(conn);
    assert_eq!(uses_via_api(&app, &s.admin, s.district, code_id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_identical_joins_without_a_key_still_make_one_membership() {
    let app = app().await;
    let s = setup(&app).await;
    let code = app
        .join_code(&s.admin, s.district, json!({ "label": "审核" }))
        .await;
    let code_id = code["id"].as_i64().unwrap();
    let code = code["code"].as_str().unwrap().to_owned();
    let rider = app.worker(401).await;

    // No Idempotency-Key: the account's lock orders the requests, the later ones find the first.
    let results = burst(
        (0..50)
            .map(|_| join_request(&app, &rider.token, &code))
            .collect(),
    )
    .await;
    assert_eq!(
        tally(&results),
        vec![(200, "-".to_owned(), 49), (201, "-".to_owned(), 1)]
    );
    let ids: BTreeSet<i64> = results
        .iter()
        .map(|(_, body)| {
            assert_eq!(body["status"], "pending", "{body}");
            body["id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");

    let account = account_id(&app, &rider.token).await;
    let mut conn = app.db.get().unwrap();
    let rows: Vec<i64> = ms::table
        .filter(ms::account_id.eq(account))
        .select(ms::id)
        .load(&mut *conn)
        .unwrap();
    assert_eq!(rows, ids.into_iter().collect::<Vec<_>>());
    let applied: i64 = ev::table
        .filter(ev::account_id.eq(account))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(applied, 1, "one history entry");
    drop(conn);
    assert_eq!(uses_via_api(&app, &s.admin, s.district, code_id).await, 1);
}

/// Fires one join per worker at a capped code at once; checks exactly `cap` got in.
async fn capped_burst(app: &TestApp, s: &Setup, riders: &[Worker], cap: i64, auto_approve: bool) {
    let code = app
        .join_code(
            &s.admin,
            s.district,
            json!({ "label": "限额", "max_uses": cap, "auto_approve": auto_approve }),
        )
        .await;
    let code_id = code["id"].as_i64().unwrap();
    let code = code["code"].as_str().unwrap().to_owned();

    let results = burst(
        riders
            .iter()
            .map(|w| join_request(app, &w.token, &code))
            .collect(),
    )
    .await;

    let refused = riders.len() - cap as usize;
    assert_eq!(
        tally(&results),
        vec![
            (201, "-".to_owned(), cap as usize),
            (409, "join_code_used_up".to_owned(), refused),
        ]
    );
    let expected_status = if auto_approve { "active" } else { "pending" };
    let admitted: BTreeSet<i64> = results
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, body)| {
            assert_eq!(body["status"], expected_status, "{body}");
            assert_eq!(body["member_no"].is_string(), auto_approve, "{body}");
            body["id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(admitted.len() as i64, cap);

    // The store agrees: the cap in uses, one row per admitted rider and none for the others.
    assert_eq!(uses_via_api(app, &s.admin, s.district, code_id).await, cap);
    let mut conn = app.db.get().unwrap();
    let uses: i32 = j::table
        .find(code_id)
        .select(j::uses)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(i64::from(uses), cap);
    let rows: Vec<(i64, i64, String)> = ms::table
        .filter(ms::join_code_id.eq(code_id))
        .select((ms::id, ms::account_id, ms::status))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<BTreeSet<_>>(),
        admitted,
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r.2 == expected_status), "{rows:?}");
    let accounts: BTreeSet<i64> = rows.iter().map(|r| r.1).collect();
    assert_eq!(accounts.len() as i64, cap, "one row per rider");
    let total: i64 = ms::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(total, cap, "refused joins left no rows");

    // Members get distinct numbers, in sequence; applicants none yet.
    let numbers: Vec<String> = m::table.select(m::member_no).load(&mut *conn).unwrap();
    if auto_approve {
        assert_eq!(numbers.len() as i64, cap);
        assert_eq!(
            numbers.iter().collect::<BTreeSet<_>>().len() as i64,
            cap,
            "{numbers:?}"
        );
        let last: i64 = counters::table
            .find("320102")
            .select(counters::last_value)
            .first(&mut *conn)
            .unwrap();
        assert_eq!(last, cap);
    } else {
        assert_eq!(numbers, Vec::<String>::new());
    }
    drop(conn);

    // Staff see exactly the admitted ones.
    let list = if auto_approve {
        "members"
    } else {
        "applications"
    };
    let (status, page) = read(
        app.get(
            &format!("/v1/admin/orgs/{}/{list}?limit=100", s.district),
            Some(&s.admin),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let listed: BTreeSet<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["membership_id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, admitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_riders_racing_for_ten_auto_approve_places_get_exactly_ten() {
    let app = app().await;
    let s = setup(&app).await;
    let riders = workers(&app, 410..460).await;
    assert_eq!(riders.len(), 50);
    capped_burst(&app, &s, &riders, 10, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifteen_riders_racing_for_five_review_places_get_exactly_five() {
    let app = app().await;
    let s = setup(&app).await;
    let riders = workers(&app, 460..475).await;
    capped_burst(&app, &s, &riders, 5, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_members_of_a_region_activated_at_once_get_distinct_consecutive_numbers() {
    let app = app().await;
    let s = setup(&app).await;
    let riders = workers(&app, 500..520).await;
    // A code per rider, so that nothing but the region's number counter is shared.
    let mut codes = Vec::new();
    for i in 0..riders.len() {
        let code = app
            .join_code(
                &s.admin,
                s.district,
                json!({ "label": format!("站点{i}"), "auto_approve": true }),
            )
            .await;
        codes.push(code["code"].as_str().unwrap().to_owned());
    }
    let results = burst(
        riders
            .iter()
            .zip(&codes)
            .map(|(w, code)| join_request(&app, &w.token, code))
            .collect(),
    )
    .await;
    assert_eq!(tally(&results), vec![(201, "-".to_owned(), riders.len())]);
    let numbers: BTreeSet<String> = results
        .iter()
        .map(|(_, body)| body["member_no"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), riders.len(), "{numbers:?}");
    let sequence: BTreeSet<i64> = numbers
        .iter()
        .map(|n| {
            assert!(n.len() == 15 && n.starts_with("320102"), "{n}");
            n[6..14].parse().unwrap()
        })
        .collect();
    assert_eq!(sequence, (1..=riders.len() as i64).collect());
    let mut conn = app.db.get().unwrap();
    let last: i64 = counters::table
        .find("320102")
        .select(counters::last_value)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(last, riders.len() as i64);
    let stored: Vec<String> = m::table.select(m::member_no).load(&mut *conn).unwrap();
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), numbers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_is_decided_exactly_once_under_parallel_decisions() {
    let app = app().await;
    let s = setup(&app).await;
    let code = app
        .join_code(&s.admin, s.district, json!({ "label": "审核" }))
        .await;
    let code = code["code"].as_str().unwrap().to_owned();

    // Staff on the district, the city and the province, and the admin: all may decide.
    let mut staff = vec![s.admin.clone()];
    for (n, org) in [
        (481, s.district),
        (482, s.district),
        (483, s.city),
        (484, s.city),
        (485, s.province),
    ] {
        app.register(&phone(n)).await;
        app.grant_staff(&s.admin, org, &phone(n)).await;
        staff.push(app.token_of(&phone(n)).await);
    }
    let mut deciders = BTreeSet::new();
    for token in &staff {
        deciders.insert(account_id(&app, token).await);
    }

    // Ten approvals of one application at once: one wins, nine are told it is decided.
    let rider = app.worker(480).await;
    let (status, application) = read(app.join(&rider.token, &code).await).await;
    assert_eq!(
        (status, application["status"].as_str()),
        (201, Some("pending"))
    );
    let id = application["id"].as_i64().unwrap();
    let results = burst(
        (0..10)
            .map(|i| {
                app.request(Method::POST, &format!("/v1/admin/memberships/{id}/approve"))
                    .bearer_auth(&staff[i % staff.len()])
                    .json(&json!({}))
            })
            .collect(),
    )
    .await;
    assert_eq!(
        tally(&results),
        vec![
            (200, "-".to_owned(), 1),
            (409, "application_not_pending".to_owned(), 9)
        ]
    );
    let approved = &results.iter().find(|r| r.0 == 200).unwrap().1;
    assert_eq!(approved["status"], "active");
    let member_no = approved["member_no"].as_str().unwrap().to_owned();

    let account = account_id(&app, &rider.token).await;
    {
        let mut conn = app.db.get().unwrap();
        let numbers: Vec<String> = m::table
            .filter(m::account_id.eq(account))
            .select(m::member_no)
            .load(&mut *conn)
            .unwrap();
        assert_eq!(numbers, vec![member_no.clone()]);
        let last: i64 = counters::table
            .find("320102")
            .select(counters::last_value)
            .first(&mut *conn)
            .unwrap();
        assert_eq!(last, 1, "one number allocated");
        let activated: i64 = ev::table
            .filter(ev::membership_id.eq(id))
            .filter(ev::kind.eq("activated"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(activated, 1);
        let (status, decided_by): (String, Option<i64>) = ms::table
            .find(id)
            .select((ms::status, ms::decided_by))
            .first(&mut *conn)
            .unwrap();
        assert_eq!(status, "active");
        assert!(deciders.contains(&decided_by.unwrap()));
    }
    let (_, mine) = read(app.get("/v1/me/membership", Some(&rider.token)).await).await;
    assert_eq!(mine["current"]["id"], id);
    assert_eq!(mine["current"]["member_no"], member_no);

    // Approvals and rejections racing: still exactly one decision, and the state matches it.
    let rival = app.worker(486).await;
    let (status, application) = read(app.join(&rival.token, &code).await).await;
    assert_eq!(status, 201, "{application}");
    let id = application["id"].as_i64().unwrap();
    let results = burst(
        (0..10)
            .map(|i| {
                let (action, body) = if i % 2 == 0 {
                    ("approve", json!({}))
                } else {
                    ("reject", json!({ "reason": "名额已满" }))
                };
                app.request(
                    Method::POST,
                    &format!("/v1/admin/memberships/{id}/{action}"),
                )
                .bearer_auth(&staff[i % staff.len()])
                .json(&body)
            })
            .collect(),
    )
    .await;
    let wins: Vec<&Value> = results
        .iter()
        .filter(|r| r.0 == 200)
        .map(|r| &r.1)
        .collect();
    assert_eq!(wins.len(), 1, "{:?}", tally(&results));
    assert!(results
        .iter()
        .filter(|r| r.0 != 200)
        .all(|r| r.0 == 409 && r.1["code"] == "application_not_pending"));
    let outcome = wins[0]["status"].as_str().unwrap().to_owned();
    let rival_account = account_id(&app, &rival.token).await;
    let mut conn = app.db.get().unwrap();
    let status: String = ms::table
        .find(id)
        .select(ms::status)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(status, outcome);
    let numbers: i64 = m::table
        .filter(m::account_id.eq(rival_account))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let events: Vec<String> = ev::table
        .filter(ev::membership_id.eq(id))
        .order(ev::id)
        .select(ev::kind)
        .load(&mut *conn)
        .unwrap();
    match outcome.as_str() {
        "active" => {
            assert_eq!(numbers, 1);
            assert_eq!(events, ["applied", "activated"]);
        }
        "rejected" => {
            assert_eq!(numbers, 0);
            assert_eq!(events, ["applied", "rejected"]);
        }
        other => panic!("unexpected outcome {other}"),
    }
}
