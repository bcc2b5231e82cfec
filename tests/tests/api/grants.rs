//! Hardship grants: a rider whose orders fell below 50 a month for two months applies with their
//! household, is reviewed, verified, shown masked on the public notice, and approved after it
//! within the budget and the district's share; each rule refuses with its own code and writes
//! nothing; one grant per household; another district's staff get 404; a hundred approvals at
//! once pass exactly as many as the budget allows.
//!
//! Phones used here: `phone(875..876)` for staff, members from `phone(6300)`.

use chrono::{Datelike, Duration};
use diesel::prelude::*;
use futures_util::future::join_all;
use gigunion_tests::reqwest::Method;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{id_number, open_window, Districts, TestApp, Worker};
use platform::schema::{grant_applications as ga, grant_terms as gt};

/// 600 yuan a household.
pub(super) const AMOUNT: i64 = 60_000;

pub(super) async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((875, 876)).await
}

/// The first day of the month `back` months before this one.
pub(super) fn month(app: &TestApp, back: u32) -> String {
    let today = platform::clock::local(app.now()).date();
    let first = today.with_day(1).unwrap();
    first
        .checked_sub_months(chrono::Months::new(back))
        .unwrap()
        .to_string()
}

/// The city's grant: two households, one share each for Xuanwu and Qinhuai, 7 days on the
/// notice, orders below 50 for two months, income below 3,000 yuan, no income or illness.
async fn city_grant(app: &TestApp, t: &Districts) -> i64 {
    grant_for(app, t, 1).await
}

/// The same with a share of `households` households for each district.
pub(super) async fn grant_for(app: &TestApp, t: &Districts, households: i64) -> i64 {
    let (starts, ends) = open_window();
    let body = json!({
        "title": "新就业形态劳动者一次性困难帮扶", "starts_at": starts, "ends_at": ends,
        "amount_fen": AMOUNT, "budget_fen": 2 * households * AMOUNT,
        "shares": [{ "org_id": t.xuanwu, "share_fen": households * AMOUNT },
                   { "org_id": t.qinhuai, "share_fen": households * AMOUNT }],
        "notice_days": 7, "documents": ["近两个月接单记录截图"],
        "grant_rules": { "orders_below": { "orders": 50, "months": 2 }, "income_below_fen": 300_000,
                         "causes": ["no_income", "illness"] }
    });
    let path = format!("/v1/admin/orgs/{}/grant-programs", t.city);
    let created = app.call_ok(Method::POST, &path, &t.admin, body).await;
    assert_eq!(created["terms"]["budget_left_fen"], 2 * households * AMOUNT);
    let id = created["program"]["id"].as_i64().unwrap();
    let publish = format!("/v1/admin/programs/{id}/publish");
    app.call_ok(Method::POST, &publish, &t.admin, json!({}))
        .await;
    id
}

pub(super) fn application(app: &TestApp, household: Value, orders: [u32; 2]) -> Value {
    json!({
        "household": household,
        "cause": "no_income", "income_fen": 120_000,
        "orders": [{ "month": month(app, 2), "orders": orders[0] }, { "month": month(app, 1), "orders": orders[1] }],
        "declaration": "九月起平台派单减少，两个月接单不足50单，家中无其他收入。",
        "payout": { "bank_name": "中国工商银行", "card_number": "6222 0212 3456 7890 128" },
        "consent": true
    })
}

fn spouse(n: u32) -> Value {
    json!([{ "name": "王芳", "id_number": id_number(n), "relation": "spouse" }])
}

pub(super) async fn apply(
    app: &TestApp,
    program: i64,
    rider: &Worker,
    body: &Value,
) -> (u16, Value) {
    let path = format!("/v1/programs/{program}/grant-applications");
    app.call(Method::POST, &path, &rider.token, body).await
}

fn rows(app: &TestApp) -> i64 {
    let conn = &mut *app.db.get().unwrap();
    ga::table.count().get_result(conn).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_with_two_low_months_is_verified_noticed_and_approved_within_the_share() {
    let app = gigunion_tests::console::daytime_app().await;
    let t = tree(&app).await;
    let program = city_grant(&app, &t).await;
    let riders = app.bulk_members(t.xuanwu, 6300, 3, "rider").await;

    // Each rule refuses with its own code, naming the field, and writes nothing.
    let good = application(&app, spouse(700), [40, 31]);
    let mut refusals = Vec::new();
    let mut with = |field: &str, value: Value, code: &'static str, named: &'static str| {
        let mut body = good.clone();
        body[field] = value;
        refusals.push((body, code, named));
    };
    with(
        "orders",
        json!([{ "month": month(&app, 2), "orders": 40 }, { "month": month(&app, 1), "orders": 60 }]),
        "not_eligible_orders",
        "orders",
    );
    with(
        "income_fen",
        json!(300_000),
        "not_eligible_income",
        "income_fen",
    );
    with("cause", json!("disaster"), "not_eligible_cause", "cause");
    with("consent", json!(false), "grant_consent_required", "consent");
    with(
        "payout",
        json!({ "bank_name": "工行", "card_number": "6222021234567890127" }),
        "invalid_field",
        "payout.card_number",
    );
    with(
        "household",
        json!([{ "name": "王芳", "id_number": "320102199001017000", "relation": "spouse" }]),
        "invalid_id_number",
        "household.id_number",
    );
    with(
        "household",
        json!([{ "name": "王芳", "id_number": riders[0].id_number, "relation": "spouse" }]),
        "invalid_field",
        "household.id_number",
    );
    for (body, code, field) in &refusals {
        let (status, got) = apply(&app, program, &riders[0], body).await;
        assert_eq!(
            (got["code"].as_str(), got["field"].as_str()),
            (Some(*code), Some(*field)),
            "{status} {got}"
        );
    }
    assert_eq!(rows(&app), 0, "a refusal writes nothing");

    // The application, and one grant per household: the spouse's number is taken.
    let (status, mine) = apply(&app, program, &riders[0], &good).await;
    assert_eq!(status, 201, "{mine}");
    assert_eq!(mine["state"], "submitted");
    assert_eq!(mine["card_masked"], "6222 **** 0128");
    assert!(
        !mine.to_string().contains("6222021234567890128"),
        "the card is masked"
    );
    let household: Vec<&str> = mine["household"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["relation"].as_str().unwrap())
        .collect();
    assert_eq!(household, ["applicant", "spouse"]);
    assert_eq!(mine["household"][1]["name_masked"], "王*");
    let (status, again) = apply(
        &app,
        program,
        &riders[0],
        &application(&app, json!([]), [40, 31]),
    )
    .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("household_already_applied"))
    );
    let (status, shared) = apply(
        &app,
        program,
        &riders[1],
        &application(&app, spouse(700), [10, 0]),
    )
    .await;
    assert_eq!(
        (status, shared["code"].as_str()),
        (409, Some("household_already_applied"))
    );
    assert_eq!(rows(&app), 1);
    // A second Xuanwu rider applies while the window is open.
    let (_, second) = apply(
        &app,
        program,
        &riders[2],
        &application(&app, json!([]), [0, 12]),
    )
    .await;
    let second = second["id"].as_i64().unwrap();

    // Another district's staff do not see it; Xuanwu's take it through the path.
    let id = mine["id"].as_i64().unwrap();
    let at = |step: &str| format!("/v1/admin/grant-applications/{id}/{step}");
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/v1/admin/grant-applications/{id}"),
            &t.staff_b,
            &Value::Null,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(Method::POST, &at("review"), &t.staff_b, &json!({}))
        .await;
    assert_eq!(status, 404);
    let staff = &t.staff_a;
    let (status, early) = app
        .call(Method::POST, &at("notice"), staff, &Value::Null)
        .await;
    assert_eq!(
        (status, early["code"].as_str()),
        (409, Some("grant_wrong_state")),
        "no notice before review"
    );
    app.call_ok(Method::POST, &at("review"), staff, json!({}))
        .await;
    app.call_ok(
        Method::POST,
        &at("verify"),
        staff,
        json!({ "method": "phone", "note": "电话联系本人及站长，情况属实。" }),
    )
    .await;
    let noticed = app
        .call_ok(Method::POST, &at("notice"), staff, Value::Null)
        .await;
    assert_eq!(noticed["state"], "on_notice");

    // On the notice the public sees a masked name; approval waits for the notice to end.
    let public: Value = app
        .get(&format!("/v1/programs/{program}/grant-notice"), None)
        .await
        .json()
        .await
        .unwrap();
    let line = &public["items"][0];
    assert_eq!(
        (
            line["id"].as_i64(),
            line["name_masked"].as_str(),
            line["amount_fen"].as_i64()
        ),
        (Some(id), Some("骑*****"), Some(AMOUNT))
    );
    assert!(
        !public.to_string().contains("骑手"),
        "no full name on the notice"
    );
    app.call_ok(
        Method::POST,
        &at("objections"),
        staff,
        json!({ "note": "有群众反映其另有收入，已电话核查，不属实。" }),
    )
    .await;
    let (status, waiting) = app
        .call(Method::POST, &at("approve"), staff, &Value::Null)
        .await;
    assert_eq!(
        (status, waiting["code"].as_str()),
        (409, Some("notice_not_over"))
    );
    app.advance_clock(Duration::days(7) + Duration::minutes(1));
    let staff = &app.token_of(&gigunion_tests::phone(875)).await;
    let approved = app
        .call_ok(Method::POST, &at("approve"), staff, Value::Null)
        .await;
    assert_eq!(approved["state"], "approved");

    // The budget and Xuanwu's share are down by one household; a second Xuanwu grant finds
    // the share empty and stays on the notice.
    let terms = app
        .call_ok(
            Method::GET,
            &format!("/v1/programs/{program}/grant-terms"),
            staff,
            Value::Null,
        )
        .await;
    assert_eq!(terms["budget_left_fen"], AMOUNT);
    let left: Vec<(i64, i64)> = terms["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["org"]["id"].as_i64().unwrap(),
                s["left_fen"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(left, [(t.xuanwu, 0), (t.qinhuai, AMOUNT)]);
    for step in ["review", "verify", "notice"] {
        let body = if step == "verify" {
            json!({ "method": "home_visit", "note": "入户走访，属实。" })
        } else {
            json!({})
        };
        app.call_ok(
            Method::POST,
            &format!("/v1/admin/grant-applications/{second}/{step}"),
            staff,
            body,
        )
        .await;
    }
    app.advance_clock(Duration::days(8));
    let staff = &app.token_of(&gigunion_tests::phone(875)).await;
    let (status, empty) = app
        .call(
            Method::POST,
            &format!("/v1/admin/grant-applications/{second}/approve"),
            staff,
            &Value::Null,
        )
        .await;
    assert_eq!(
        (status, empty["code"].as_str()),
        (409, Some("budget_exhausted"))
    );
    let still = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/grant-applications/{second}"),
            staff,
            Value::Null,
        )
        .await;
    assert_eq!(
        still["state"], "on_notice",
        "a refused approval changes nothing"
    );

    // The rider sees every step in plain words and was told at each.
    let rider = app.signed_in_again(vec![riders[0].clone()]).await.remove(0);
    let seen = app
        .call_ok(
            Method::GET,
            &format!("/v1/me/grant-applications/{id}"),
            &rider.token,
            Value::Null,
        )
        .await;
    let steps: Vec<&str> = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "applied",
            "reviewed",
            "verified",
            "noticed",
            "objection",
            "approved"
        ]
    );
    assert!(
        seen["events"][2]["note"].is_null(),
        "staff notes stay with staff"
    );
    let inbox = app
        .call_ok(
            Method::GET,
            "/v1/me/notifications",
            &rider.token,
            Value::Null,
        )
        .await;
    let topics: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["topic"].as_str().unwrap())
        .filter(|t| t.starts_with("grant"))
        .collect();
    assert_eq!(
        topics.iter().filter(|t| **t == "grant_decided").count(),
        1,
        "{topics:?}"
    );
    assert_eq!(
        topics.iter().filter(|t| **t == "grant_step").count(),
        4,
        "{topics:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_a_hundred_approvals_at_once_exactly_as_many_as_the_budget_allows_pass() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let (starts, ends) = open_window();
    let households = 37;
    let body = json!({ "title": "困难帮扶", "starts_at": starts, "ends_at": ends, "amount_fen": AMOUNT,
        "budget_fen": households * AMOUNT, "notice_days": 1 });
    let path = format!("/v1/admin/orgs/{}/grant-programs", t.xuanwu);
    let program = app.call_ok(Method::POST, &path, &t.staff_a, body).await["program"]["id"]
        .as_i64()
        .unwrap();
    // A hundred applications whose notice is over, written as the path would leave them.
    let ids: Vec<i64> = {
        let conn = &mut *app.db.get().unwrap();
        let past = platform::clock::now() - Duration::days(1);
        (0..100)
            .map(|i| {
                diesel::insert_into(ga::table)
                    .values((
                        (
                            ga::program_id.eq(program),
                            ga::org_id.eq(t.xuanwu),
                            ga::state.eq("on_notice"),
                            ga::cause.eq("no_income"),
                            ga::income_fen.eq(0_i64),
                            ga::orders.eq("[]"),
                        ),
                        (
                            ga::declaration.eq(""),
                            ga::applicant_name.eq(format!("骑手{i}")),
                            ga::bank_name.eq("工行"),
                            ga::card_enc.eq(""),
                            ga::card_masked.eq("6222 **** 0128"),
                            ga::amount_fen.eq(AMOUNT),
                            ga::notice_until.eq(past),
                            ga::applied_at.eq(past),
                        ),
                    ))
                    .returning(ga::id)
                    .get_result(conn)
                    .unwrap()
            })
            .collect()
    };
    let staff = &t.staff_a;
    let calls = ids.iter().map(|id| {
        let path = format!("/v1/admin/grant-applications/{id}/approve");
        let app = &app;
        async move { app.call(Method::POST, &path, staff, &Value::Null).await }
    });
    let answers = join_all(calls).await;
    let passed = answers.iter().filter(|(s, _)| *s == 200).count();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "budget_exhausted")
        .count();
    assert_eq!(
        (passed, refused),
        (households as usize, 100 - households as usize),
        "{:?}",
        answers.iter().find(|(s, _)| *s != 200 && *s != 409)
    );
    let conn = &mut *app.db.get().unwrap();
    let left: i64 = gt::table
        .find(program)
        .select(gt::budget_left_fen)
        .first(conn)
        .unwrap();
    let approved: i64 = ga::table
        .filter(ga::state.eq("approved"))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!((left, approved), (0, households));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_program_refuses_terms_that_do_not_add_up() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let (starts, ends) = open_window();
    let base = json!({ "title": "困难帮扶", "starts_at": starts, "ends_at": ends, "amount_fen": AMOUNT, "budget_fen": 3 * AMOUNT });
    let path = format!("/v1/admin/orgs/{}/grant-programs", t.city);
    let street = app
        .org(
            &t.admin,
            Some(t.xuanwu),
            "street",
            "玄武区新街口街道总工会",
            "320102",
        )
        .await;
    let cases = [
        ("amount_fen", json!(0), "amount_fen"),
        ("budget_fen", json!(AMOUNT - 1), "budget_fen"),
        (
            "shares",
            json!([{ "org_id": t.xuanwu, "share_fen": 2 * AMOUNT }, { "org_id": t.qinhuai, "share_fen": 2 * AMOUNT }]),
            "shares",
        ),
        (
            "shares",
            json!([{ "org_id": t.city, "share_fen": AMOUNT }]),
            "shares",
        ),
        (
            "shares",
            json!([{ "org_id": t.xuanwu, "share_fen": AMOUNT }, { "org_id": street, "share_fen": AMOUNT }]),
            "shares",
        ),
        ("notice_days", json!(0), "notice_days"),
    ];
    for (field, value, named) in cases {
        let mut body = base.clone();
        body[field] = value;
        let (status, got) = app.call(Method::POST, &path, &t.admin, &body).await;
        assert_eq!((status, got["field"].as_str()), (422, Some(named)), "{got}");
    }
    // A share outside the issuer's subtree: Xuanwu's staff cannot give Qinhuai a share.
    let mut body = base.clone();
    body["shares"] = json!([{ "org_id": t.qinhuai, "share_fen": AMOUNT }]);
    let xuanwu = format!("/v1/admin/orgs/{}/grant-programs", t.xuanwu);
    let (status, got) = app.call(Method::POST, &xuanwu, &t.staff_a, &body).await;
    assert_eq!((status, got["field"].as_str()), (422, Some("shares")));
    // The generic route takes no grant: its terms would be missing.
    let generic = json!({ "kind": "hardship_grant", "title": "困难帮扶", "starts_at": starts, "ends_at": ends });
    let (status, got) = app
        .call(
            Method::POST,
            &format!("/v1/admin/orgs/{}/programs", t.xuanwu),
            &t.staff_a,
            &generic,
        )
        .await;
    assert_eq!((status, got["field"].as_str()), (422, Some("kind")));
}
