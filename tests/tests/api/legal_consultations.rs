//! Legal consultations: time with a duty lawyer, booked through the health-check machinery
//! (a program of kind `legal_consultation`, sessions with seats, the waitlist and its offers,
//! check-in by scan), not a second booking engine. What belongs to a health check only (the
//! report) or to a gift pack (stock, claims) is refused.
//!
//! Phones used here: `phone(873..874)` for staff, members from `phone(6100)`.

use chrono::Duration;
use gigunion_tests::console::{daytime_app, Console};
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, open_window, Districts, TestApp};

async fn ok(app: &TestApp, method: Method, path: &str, body: Value, token: &str) -> Value {
    let res = app
        .request(method, path)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A published consultation program of Xuanwu with a session at the service centre's legal
/// station (`seats` seats) and one by phone (3 seats), two days ahead: its id and the
/// sessions' ids.
async fn consultations(app: &TestApp, t: &Districts, seats: i32) -> (i64, i64, i64) {
    let (starts, ends) = open_window();
    let body = json!({ "kind": "legal_consultation", "title": "值班律师法律咨询",
        "description": "工资、社保、工伤、劳动关系等问题，值班律师一对一免费解答。",
        "starts_at": starts, "ends_at": ends, "per_member_limit": 2 });
    let program = app.published_program(&t.staff_a, t.xuanwu, body).await["id"]
        .as_i64()
        .unwrap();
    let at = app.now() + Duration::days(2);
    let mut ids = Vec::new();
    for (site, address, capacity) in [
        (
            "玄武区总工会职工服务中心 · 工会法律服务工作站",
            "南京市玄武区北京东路",
            seats,
        ),
        ("电话咨询", "值班律师按预约时间致电您的注册手机", 3),
    ] {
        let session = json!({ "site_name": site, "address": address,
            "starts_at": at.to_rfc3339(), "ends_at": (at + Duration::hours(2)).to_rfc3339(),
            "capacity": capacity });
        let path = format!("/v1/admin/programs/{program}/sessions");
        ids.push(
            ok(app, Method::POST, &path, session, &t.staff_a).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    (program, ids[0], ids[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consultation_is_booked_waitlisted_offered_and_checked_in_like_a_health_check() {
    let app = daytime_app().await;
    let t = app.nanjing_districts((873, 874)).await;
    let (program, station, phone_line) = consultations(&app, &t, 1).await;
    let m = app.bulk_members(t.xuanwu, 6100, 3, "rider").await;

    // The members see it with its seats: the station's one and the phone line's three.
    let listed = ok(
        &app,
        Method::GET,
        &format!("/v1/programs/{program}"),
        Value::Null,
        &m[0].token,
    )
    .await;
    assert_eq!(listed["kind"], "legal_consultation");
    assert_eq!(listed["seats_left"], 4);

    let book = |session: i64| format!("/v1/sessions/{session}/bookings");
    let seated = ok(&app, Method::POST, &book(station), json!({}), &m[0].token).await;
    assert_eq!(seated["status"], "booked");
    let full = app
        .post(&book(station), &json!({}), Some(&m[1].token))
        .await;
    assert_problem(full, 409, "full").await;
    let waiting = ok(
        &app,
        Method::POST,
        &book(station),
        json!({ "waitlist": true }),
        &m[1].token,
    )
    .await;
    assert_eq!(waiting["status"], "waitlisted");
    let by_phone = ok(
        &app,
        Method::POST,
        &book(phone_line),
        json!({}),
        &m[2].token,
    )
    .await;
    assert_eq!(by_phone["status"], "booked");

    // The seat frees up two days ahead: the first in line is offered it and confirms.
    ok(
        &app,
        Method::DELETE,
        &format!("/v1/bookings/{}", seated["id"]),
        Value::Null,
        &m[0].token,
    )
    .await;
    let offered = ok(
        &app,
        Method::GET,
        &format!("/v1/me/bookings/{}", waiting["id"]),
        Value::Null,
        &m[1].token,
    )
    .await;
    assert_eq!(offered["status"], "booked");
    assert!(offered["offer_expires_at"].is_string(), "{offered}");
    let confirm = format!("/v1/bookings/{}/confirm", waiting["id"]);
    ok(&app, Method::POST, &confirm, Value::Null, &m[1].token).await;
    let told = app.wait_for_notices(&m[1].phone, 2).await;
    let texts: Vec<&str> = told.iter().filter_map(|n| n["text"].as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("候补名额待确认") && t.contains("值班律师法律咨询")),
        "{texts:?}"
    );

    // On the day, staff scan the booking's code at the station: checked in, once.
    app.advance_clock(Duration::days(2));
    let staff = app.token_of(&gigunion_tests::phone(873)).await;
    let code = &offered["code"];
    let scan = || json!({ "code": code });
    let checked = ok(&app, Method::POST, "/v1/admin/redemptions", scan(), &staff).await;
    assert_eq!(
        (checked["kind"].as_str(), checked["outcome"].as_str()),
        (Some("booking"), Some("checked_in"))
    );
    let again = ok(&app, Method::POST, "/v1/admin/redemptions", scan(), &staff).await;
    assert_eq!(again["outcome"], "already_checked_in");

    // A health report has no place on a consultation; nor has a claim.
    let report = json!({ "summary": { "conclusion": "已解答" } });
    let path = format!("/v1/admin/bookings/{}/report", waiting["id"]);
    assert_problem(
        app.post(&path, &report, Some(&staff)).await,
        409,
        "wrong_program_kind",
    )
    .await;
    let member = app.token_of(&m[2].phone).await;
    let claim = app
        .post(
            &format!("/v1/programs/{program}/claims"),
            &json!({}),
            Some(&member),
        )
        .await;
    assert_problem(claim, 409, "wrong_program_kind").await;

    // The program's figures count the seats like a health check's.
    let stats = ok(
        &app,
        Method::GET,
        &format!("/v1/admin/programs/{program}/stats"),
        Value::Null,
        &staff,
    )
    .await;
    assert_eq!(
        (&stats["seats_total"], &stats["seats_booked"]),
        (&json!(4), &json!(2)),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consultation_program_refuses_stock_and_its_console_page_lists_the_sessions() {
    let app = daytime_app().await;
    let t = app.nanjing_districts((873, 874)).await;
    let (starts, ends) = open_window();
    let with_stock = json!({ "kind": "legal_consultation", "title": "法律咨询", "starts_at": starts,
        "ends_at": ends, "stock": 10 });
    let path = format!("/v1/admin/orgs/{}/programs", t.xuanwu);
    let refused = assert_problem(
        app.post(&path, &with_stock, Some(&t.staff_a)).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(refused["field"], "stock");

    let (program, station, _) = consultations(&app, &t, 5).await;
    let mut console = Console::signed_in(&app, &gigunion_tests::phone(873)).await;
    let page = console.get(&format!("/console/programs/{program}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("法律咨询"), "the kind is named");
    assert!(
        page.body.contains("工会法律服务工作站") && page.body.contains("电话咨询"),
        "both sessions are listed"
    );
    assert!(
        page.body.contains(&format!("/console/sessions/{station}")),
        "a session links to its roster"
    );
    let form = console
        .get(&format!("/console/programs?org={}", t.xuanwu))
        .await;
    assert!(
        form.body.contains(r#"value="legal_consultation""#),
        "staff can create one"
    );
}
