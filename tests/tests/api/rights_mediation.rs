//! Rights protection, the handling: mediators on a rota, a case assigned, an agreement paid in
//! instalments (a missed one flagged), a referral, closing, the follow-up call, and the figures
//! of a subtree against hand-computed ones.
//!
//! Phones used here: `phone(894..895)` for staff, `phone(896)` a mediator, bulk members from
//! `phone(5800)`.

use chrono::Duration;
use futures_util::future::join_all;
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, phone, Districts, TestApp, Worker};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((894, 895)).await
}

fn claim(amount: i64) -> Value {
    json!({
        "kind": "wage_arrears",
        "respondent": { "kind": "contractor", "name": "南京某某配送服务有限公司" },
        "amount_claimed_fen": amount,
        "facts": "配送费未结清。",
        "consent": true
    })
}

async fn file(app: &TestApp, rider: &Worker, amount: i64) -> i64 {
    app.call_ok(Method::POST, "/v1/me/cases", &rider.token, claim(amount))
        .await["id"]
        .as_i64()
        .unwrap()
}

fn day(app: &TestApp, days: i64) -> String {
    platform::clock::local(app.now() + Duration::days(days))
        .date()
        .to_string()
}

fn kinds(case: &Value) -> Vec<&str> {
    case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

/// A mediator on Xuanwu's rota: `phone(896)`, staff of Xuanwu, on duty every day.
async fn mediator(app: &TestApp, t: &Districts) -> i64 {
    app.register(&phone(896)).await;
    app.grant_staff(&t.admin, t.xuanwu, &phone(896)).await;
    let body = json!({ "phone": phone(896), "duty_days": [1, 2, 3, 4, 5, 6, 7] });
    let path = format!("/v1/admin/orgs/{}/mediators", t.xuanwu);
    let added = app.call_ok(Method::POST, &path, &t.staff_a, body).await;
    assert_eq!(added["on_duty_today"], true);
    added["account_id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_is_mediated_to_an_agreement_paid_in_two_instalments_and_followed_up() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5800, 3, "rider").await;
    let id = file(&app, &riders[0], 230_000).await;
    let case: Value = app
        .get(&format!("/v1/me/cases/{id}"), Some(&riders[0].token))
        .await
        .json()
        .await
        .unwrap();
    for rider in &riders[1..] {
        let join = json!({ "invite_code": case["invite_code"], "amount_claimed_fen": 100_000, "consent": true });
        app.call_ok(Method::POST, "/v1/me/cases/join", &rider.token, join)
            .await;
    }
    let mediator = mediator(&app, &t).await;
    let staff = &t.staff_a;
    let at = |step: &str| format!("/v1/admin/cases/{id}/{step}");
    app.call_ok(
        Method::POST,
        &at("accept"),
        staff,
        json!({ "class": "complex" }),
    )
    .await;
    let assigned = app
        .call_ok(
            Method::POST,
            &at("mediator"),
            staff,
            json!({ "account_id": mediator }),
        )
        .await;
    assert_eq!(assigned["mediator"]["account_id"], mediator);
    let agreement = json!({ "payer": "南京某某配送服务有限公司", "jointly_liable": "某某配送（总公司）",
        "instalments": [ { "due_on": day(&app, 7), "amount_fen": 200_000 }, { "due_on": day(&app, 37), "amount_fen": 230_000 } ] });
    let agreed = app
        .call_ok(Method::POST, &at("agreement"), staff, agreement.clone())
        .await;
    assert_eq!(agreed["state"], "agreed");
    assert_eq!(agreed["agreement"]["total_fen"], 430_000);
    let again = app.post(&at("agreement"), &agreement, Some(staff)).await;
    assert_problem(again, 409, "case_not_accepted").await;
    let instalments = agreed["agreement"]["instalments"]
        .as_array()
        .unwrap()
        .clone();
    let paid = |n: usize| at(&format!("instalments/{}/paid", instalments[n]["id"]));
    let first = app
        .call_ok(Method::POST, &paid(0), staff, Value::Null)
        .await;
    assert_eq!(
        (
            first["state"].as_str(),
            first["agreement"]["paid_fen"].as_i64()
        ),
        (Some("agreed"), Some(200_000))
    );
    assert_problem(
        app.post(&paid(0), &json!({}), Some(staff)).await,
        409,
        "instalment_paid",
    )
    .await;
    let last = app
        .call_ok(Method::POST, &paid(1), staff, Value::Null)
        .await;
    assert_eq!(
        (last["state"].as_str(), last["outcome"].as_str()),
        (Some("closed"), Some("mediated"))
    );
    assert_eq!(last["recovered_fen"], 430_000);
    let close = json!({ "outcome": "withdrawn", "recovered_fen": 0 });
    assert_problem(
        app.post(&at("close"), &close, Some(staff)).await,
        409,
        "case_closed",
    )
    .await;
    let rated = app
        .call_ok(
            Method::POST,
            &at("follow-up"),
            staff,
            json!({ "rating": 5, "note": "很满意" }),
        )
        .await;
    assert_eq!(rated["rating"], 5);
    assert_problem(
        app.post(&at("follow-up"), &json!({ "rating": 1 }), Some(staff))
            .await,
        409,
        "already_followed_up",
    )
    .await;

    // Each claimant saw every step and heard of each.
    for rider in &riders {
        let seen = app
            .call_ok(
                Method::GET,
                &format!("/v1/me/cases/{id}"),
                &rider.token,
                Value::Null,
            )
            .await;
        assert_eq!(
            kinds(&seen)[3..],
            [
                "accepted",
                "mediator_assigned",
                "agreement_signed",
                "instalment_paid",
                "instalment_paid",
                "closed"
            ]
        );
        assert!(seen["rating"].is_null(), "the rating is for staff");
        let account = app
            .call_ok(Method::GET, "/v1/me", &rider.token, Value::Null)
            .await["id"]
            .as_i64()
            .unwrap();
        let topics: Vec<String> = app
            .told(account)
            .into_iter()
            .map(|(topic, _)| topic)
            .collect();
        assert_eq!(
            topics,
            [
                "case_accepted",
                "case_message",
                "case_agreed",
                "case_message",
                "case_message",
                "case_closed"
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agreements_rotas_and_assignments_refuse_what_breaks_their_rules() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let rider = app.bulk_members(t.xuanwu, 5810, 1, "rider").await.remove(0);
    let id = file(&app, &rider, 50_000).await;
    let at = |step: &str| format!("/v1/admin/cases/{id}/{step}");
    let one = |due: String, amount: i64| json!({ "payer": "某公司", "instalments": [ { "due_on": due, "amount_fen": amount } ] });
    let res = app
        .post(&at("agreement"), &one(day(&app, 3), 100), Some(&t.staff_a))
        .await;
    assert_problem(res, 409, "case_not_accepted").await;
    app.call_ok(
        Method::POST,
        &at("accept"),
        &t.staff_a,
        json!({ "class": "general" }),
    )
    .await;
    let backwards = json!({ "payer": "某公司", "instalments": [
        { "due_on": day(&app, 9), "amount_fen": 100 }, { "due_on": day(&app, 3), "amount_fen": 100 } ] });
    for body in [
        one(day(&app, -1), 100),
        one(day(&app, 3), 0),
        backwards,
        json!({ "payer": "某公司", "instalments": [] }),
    ] {
        let res = app.post(&at("agreement"), &body, Some(&t.staff_a)).await;
        assert_eq!(
            assert_problem(res, 422, "invalid_field").await["field"],
            "instalments"
        );
    }
    // Someone who is no staff cannot mediate; a mediator of Qinhuai cannot take a Xuanwu case.
    let rota = format!("/v1/admin/orgs/{}/mediators", t.xuanwu);
    let res = app
        .post(
            &rota,
            &json!({ "phone": rider.phone, "duty_days": [1] }),
            Some(&t.staff_a),
        )
        .await;
    assert_problem(res, 422, "mediator_not_staff").await;
    let res = app
        .post(
            &rota,
            &json!({ "phone": phone(895), "duty_days": [8] }),
            Some(&t.staff_a),
        )
        .await;
    assert_eq!(
        assert_problem(res, 422, "invalid_field").await["field"],
        "duty_days"
    );
    let qinhuai_rota = format!("/v1/admin/orgs/{}/mediators", t.qinhuai);
    let qinhuai = app
        .call_ok(
            Method::POST,
            &qinhuai_rota,
            &t.staff_b,
            json!({ "phone": phone(895), "duty_days": [2, 4] }),
        )
        .await;
    let res = app
        .post(
            &at("mediator"),
            &json!({ "account_id": qinhuai["account_id"] }),
            Some(&t.staff_a),
        )
        .await;
    assert_eq!(
        assert_problem(res, 422, "invalid_field").await["field"],
        "account_id"
    );
    let listed = app
        .call_ok(Method::GET, &rota, &t.staff_a, Value::Null)
        .await;
    assert_eq!(
        listed["items"],
        json!([]),
        "Qinhuai's mediator is not on Xuanwu's rota"
    );
    // An instalment due in two days and unpaid three days on is missed.
    app.call_ok(
        Method::POST,
        &at("agreement"),
        &t.staff_a,
        one(day(&app, 2), 50_000),
    )
    .await;
    app.advance_clock(Duration::days(3));
    let staff = app.token_of(&phone(894)).await;
    let file = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/cases/{id}"),
            &staff,
            Value::Null,
        )
        .await;
    assert_eq!(file["agreement"]["missed"], 1);
    assert_eq!(file["agreement"]["instalments"][0]["missed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_the_last_instalments_at_once_closes_the_case_once() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let rider = app.bulk_members(t.xuanwu, 5820, 1, "rider").await.remove(0);
    let id = file(&app, &rider, 90_000).await;
    let at = |step: &str| format!("/v1/admin/cases/{id}/{step}");
    app.call_ok(
        Method::POST,
        &at("accept"),
        &t.staff_a,
        json!({ "class": "general" }),
    )
    .await;
    let instalments: Vec<Value> = (1..=3)
        .map(|n| json!({ "due_on": day(&app, n * 10), "amount_fen": 30_000 }))
        .collect();
    let agreed = app
        .call_ok(
            Method::POST,
            &at("agreement"),
            &t.staff_a,
            json!({ "payer": "某公司", "instalments": instalments }),
        )
        .await;
    let ids: Vec<i64> = agreed["agreement"]["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let pays = ids.iter().flat_map(|i| [*i, *i]).map(|i| {
        let (app, token, path) = (&app, &t.staff_a, at(&format!("instalments/{i}/paid")));
        async move { app.call(Method::POST, &path, token, &Value::Null).await.0 }
    });
    let statuses = join_all(pays).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        3,
        "{statuses:?}"
    );
    let file = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/cases/{id}"),
            &t.staff_a,
            Value::Null,
        )
        .await;
    assert_eq!(
        (file["state"].as_str(), file["recovered_fen"].as_i64()),
        (Some("closed"), Some(90_000))
    );
    assert_eq!(kinds(&file).iter().filter(|k| **k == "closed").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figures_of_a_subtree_match_the_cases_counted_by_hand() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5830, 4, "rider").await;
    let from = day(&app, 0);
    let (a, b, c) = (
        file(&app, &riders[0], 100_000).await,
        file(&app, &riders[1], 50_000).await,
        file(&app, &riders[2], 30_000).await,
    );
    // D stays filed.
    file(&app, &riders[3], 20_000).await;
    let step = |id: i64, what: &str| format!("/v1/admin/cases/{id}/{what}");
    // Day 1: A accepted; day 3: B accepted, C declined; day 5: B referred; day 10: A settled.
    app.advance_clock(Duration::days(1));
    let s = app.token_of(&phone(894)).await;
    app.call_ok(
        Method::POST,
        &step(a, "accept"),
        &s,
        json!({ "class": "general" }),
    )
    .await;
    app.advance_clock(Duration::days(2));
    let s = app.token_of(&phone(894)).await;
    app.call_ok(
        Method::POST,
        &step(b, "accept"),
        &s,
        json!({ "class": "policy" }),
    )
    .await;
    app.call_ok(
        Method::POST,
        &step(c, "decline"),
        &s,
        json!({ "reason": "不属于受理范围" }),
    )
    .await;
    app.advance_clock(Duration::days(2));
    let s = app.token_of(&phone(894)).await;
    let refer = json!({ "agency": "labour_arbitration", "reply": "请携带材料到区仲裁委立案。" });
    app.call_ok(Method::POST, &step(b, "refer"), &s, refer)
        .await;
    let agreement = json!({ "payer": "某公司", "instalments": [ { "due_on": day(&app, 1), "amount_fen": 80_000 } ] });
    let agreed = app
        .call_ok(Method::POST, &step(a, "agreement"), &s, agreement)
        .await;
    app.advance_clock(Duration::days(5));
    let s = app.token_of(&phone(894)).await;
    let paid = step(
        a,
        &format!(
            "instalments/{}/paid",
            agreed["agreement"]["instalments"][0]["id"]
        ),
    );
    app.call_ok(Method::POST, &paid, &s, Value::Null).await;
    app.call_ok(
        Method::POST,
        &step(a, "follow-up"),
        &s,
        json!({ "rating": 4 }),
    )
    .await;
    app.call_ok(
        Method::POST,
        &step(b, "follow-up"),
        &s,
        json!({ "rating": 2 }),
    )
    .await;

    let to = day(&app, 0);
    let path = format!("/v1/admin/orgs/{}/case-stats?from={from}&to={to}", t.city);
    let admin = app.admin().await;
    let f = app.call_ok(Method::GET, &path, &admin, Value::Null).await;
    assert_eq!(f["filed"], 4);
    assert_eq!(f["claimed_fen"], 200_000);
    assert_eq!(f["recovered_fen"], 80_000);
    assert_eq!(
        f["median_days_to_acceptance"], 2.0,
        "A after 1 day, B after 3"
    );
    assert_eq!(
        f["median_days_to_resolution"], 7.5,
        "A after 10 days, B after 5"
    );
    assert_eq!(
        (f["settled_by_mediation"].as_i64(), f["referred"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(f["mediation_share"], 0.5);
    assert_eq!(
        (f["followed_up"].as_i64(), f["mean_rating"].as_f64()),
        (Some(2), Some(3.0))
    );
    let states: Vec<(String, i64)> = f["by_state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_owned(),
                c["cases"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("closed", 1),
        ("declined", 1),
        ("filed", 1),
        ("referred", 1),
    ]
    .map(|(k, n)| (k.to_owned(), n));
    assert_eq!(states, expected);
    assert_eq!(f["by_class"].as_array().unwrap().len(), 2);

    let csv = app
        .get(&path.replace("case-stats", "case-stats.csv"), Some(&admin))
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert!(
        text.contains("追回金额（元）,800.00") && text.contains("调解成功占比,50.0%"),
        "{text}"
    );
    let qinhuai = app.token_of(&phone(895)).await;
    let other = app
        .get(
            &format!("/v1/admin/orgs/{}/case-stats", t.xuanwu),
            Some(&qinhuai),
        )
        .await;
    assert_problem(other, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_of_an_accepted_case_is_told_to_its_claimants_at_once() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let rider = app.bulk_members(t.xuanwu, 5840, 1, "rider").await.remove(0);
    let id = file(&app, &rider, 40_000).await;
    let path = format!("/v1/admin/cases/{id}/meetings");
    let at = |hours: i64| (app.now() + Duration::hours(hours)).to_rfc3339();
    let meeting = |when: String| json!({ "starts_at": when, "venue": "station", "place": "珠江路驿站二楼调解室" });
    let res = app.post(&path, &meeting(at(26)), Some(&t.staff_a)).await;
    assert_problem(res, 409, "case_not_accepted").await;
    let accept = format!("/v1/admin/cases/{id}/accept");
    app.call_ok(
        Method::POST,
        &accept,
        &t.staff_a,
        json!({ "class": "general" }),
    )
    .await;
    let res = app.post(&path, &meeting(at(-1)), Some(&t.staff_a)).await;
    assert_eq!(
        assert_problem(res, 422, "invalid_field").await["field"],
        "starts_at"
    );
    let file = app
        .call_ok(Method::POST, &path, &t.staff_a, meeting(at(26)))
        .await;
    assert_eq!(file["meetings"][0]["venue"], "station");
    let seen = app
        .call_ok(
            Method::GET,
            &format!("/v1/me/cases/{id}"),
            &rider.token,
            Value::Null,
        )
        .await;
    assert_eq!(kinds(&seen).last(), Some(&"meeting_scheduled"));
    assert!(seen["timeline"].as_array().unwrap().last().unwrap()["body"]
        .as_str()
        .unwrap()
        .contains("珠江路驿站"));
    let account = app
        .call_ok(Method::GET, "/v1/me", &rider.token, Value::Null)
        .await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.told(account).last(),
        Some(&("case_meeting".to_owned(), 1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadlines_tell_the_claimants_once_when_mediation_runs_out_and_before_the_limitation() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5850, 3, "rider").await;
    let accepted = file(&app, &riders[0], 40_000).await;
    let accept = format!("/v1/admin/cases/{accepted}/accept");
    app.call_ok(
        Method::POST,
        &accept,
        &t.staff_a,
        json!({ "class": "general" }),
    )
    .await;
    let mut old = claim(30_000);
    (old["period_from"], old["period_to"]) = (json!("2025-12-01"), json!("2025-12-31"));
    app.call_ok(Method::POST, "/v1/me/cases", &riders[1].token, old)
        .await;
    file(&app, &riders[2], 20_000).await;
    let accounts = {
        let mut ids = Vec::new();
        for rider in &riders {
            ids.push(
                app.call_ok(Method::GET, "/v1/me", &rider.token, Value::Null)
                    .await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        ids
    };
    let sweep = || async {
        app.db
            .run(|conn| rights::reminders::sweep(conn, platform::clock::now()))
            .await
            .unwrap()
    };
    let topics = |account: i64| -> Vec<String> {
        app.told(account)
            .into_iter()
            .map(|(topic, _)| topic)
            .filter(|t| t != "case_accepted")
            .collect()
    };
    // The housekeeping sweeps too (every minute): what counts is what each member was told.
    sweep().await;
    assert_eq!(topics(accounts[1]), ["case_limitation"]);
    assert!(topics(accounts[0]).is_empty(), "mediation is not over yet");

    app.advance_clock(Duration::days(16));
    sweep().await;
    sweep().await;
    assert_eq!(
        topics(accounts[0]),
        ["case_mediation_over"],
        "once, after two sweeps"
    );
    assert_eq!(topics(accounts[1]), ["case_limitation"]);
    assert!(
        topics(accounts[2]).is_empty(),
        "a case still waiting has no mediation period over"
    );
    assert_eq!(app.told(accounts[0]).last().unwrap().1, 1, "by SMS too");
}
