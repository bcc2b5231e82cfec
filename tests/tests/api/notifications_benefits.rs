//! Notifications of benefits beyond bookings: a program published tells the members of its
//! union it is open to (inbox only), and a voucher near the end of its validity is reminded
//! once, by SMS too, unless it was collected.
//!
//! Phones used here: `phone(881..882)` for staff, bulk members from `phone(5500)`.

use gigunion_tests::reqwest::Method;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{open_window, Districts, TestApp, Worker};

use gigunion_tests::console::{console_app, daytime_app};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((881, 882)).await
}

async fn ok(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> Value {
    let mut req = app.request(method, path).bearer_auth(token);
    if !body.is_null() {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

async fn account(app: &TestApp, member: &Worker) -> i64 {
    let me = ok(app, Method::GET, "/v1/me", &member.token, Value::Null).await;
    me["id"].as_i64().unwrap()
}

/// `(topic, SMS deliveries)` of each notification of `member`, oldest first.
async fn told(app: &TestApp, member: &Worker) -> Vec<(String, i64)> {
    let account = account(app, member).await;
    app.told(account)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_program_tells_the_members_it_is_open_to_and_no_one_else() {
    let app = console_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5500, 2, "rider").await;
    let courier = app.bulk_members(t.xuanwu, 5510, 1, "courier").await;
    let elsewhere = app.bulk_members(t.qinhuai, 5520, 1, "rider").await;
    let (starts, ends) = open_window();
    let body = json!({ "kind": "gift_pack", "title": "骑手冬季暖心礼包", "starts_at": starts,
        "ends_at": ends, "stock": 10, "eligibility": { "occupations": ["rider"] } });
    let program = app.published_program(&t.staff_a, t.xuanwu, body).await;
    // Publishing again tells no one twice.
    let again = format!("/v1/admin/programs/{}/publish", program["id"]);
    ok(&app, Method::POST, &again, &t.staff_a, json!({})).await;

    for rider in &riders {
        assert_eq!(
            told(&app, rider).await,
            [("program_published".to_owned(), 0)]
        );
        let inbox = ok(
            &app,
            Method::GET,
            "/v1/me/notifications",
            &rider.token,
            Value::Null,
        )
        .await;
        let first = &inbox["items"][0];
        assert_eq!(first["title"], "工会新福利");
        assert!(first["body"]
            .as_str()
            .unwrap()
            .starts_with("骑手冬季暖心礼包："));
    }
    assert!(
        told(&app, &courier[0]).await.is_empty(),
        "the rules refuse couriers"
    );
    assert!(
        told(&app, &elsewhere[0]).await.is_empty(),
        "another district"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_is_reminded_once_a_day_before_it_expires_unless_collected() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let (starts, ends) = open_window();
    let body = json!({ "kind": "gift_pack", "title": "夏日清凉礼包", "starts_at": starts,
        "ends_at": ends, "stock": 10, "voucher_valid_days": 2 });
    let program = app.published_program(&t.staff_a, t.xuanwu, body).await["id"].clone();
    let m = app.bulk_members(t.xuanwu, 5530, 2, "rider").await;
    let claim = format!("/v1/programs/{program}/claims");
    let mut codes = Vec::new();
    for member in &m {
        let voucher = ok(&app, Method::POST, &claim, &member.token, json!({})).await;
        codes.push(voucher["code"].as_str().unwrap().to_owned());
    }
    // The second collects the pack at once.
    let redeem = json!({ "code": codes[1] });
    ok(
        &app,
        Method::POST,
        "/v1/admin/redemptions",
        &t.staff_a,
        redeem,
    )
    .await;

    app.sweep_reminders().await;
    assert!(told(&app, &m[0]).await.is_empty(), "two days left");
    let accounts = [account(&app, &m[0]).await, account(&app, &m[1]).await];
    app.advance_clock(chrono::Duration::hours(25));
    app.sweep_reminders().await;
    app.sweep_reminders().await;
    let expiring = [("voucher_expiring".to_owned(), 1)];
    assert_eq!(app.told(accounts[0]), expiring);
    assert!(app.told(accounts[1]).is_empty(), "collected");
    let sent = app.wait_for_notices(&m[0].phone, 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let text = sent[0]["text"].as_str().unwrap();
    assert!(text.starts_with("礼包券即将过期：夏日清凉礼包"), "{text}");
}
