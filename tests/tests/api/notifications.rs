//! Notifications: each trigger writes exactly one notification per member into the inbox and,
//! where its topic says so, exactly one SMS; the member reads and marks the inbox, turns off
//! what may be turned off, and finds it all in their export; several dispatchers share a
//! backlog without sending anything twice.
//!
//! Phones used here: `phone(851..852)` for staff, `phone(861..)` for riders, bulk members from
//! `phone(5000)`.

use diesel::prelude::*;
use futures_util::future::join_all;
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, spawn_app, Districts, TestApp, Worker};
use platform::audit::Record;
use platform::outbox::{Notice, Topic};
use platform::schema::{notification_deliveries as d, notifications as n};

use gigunion_tests::console::{daytime_app, Console};
use gigunion_tests::phone;

use crate::stations_support::{create, station};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((851, 852)).await
}

async fn ok(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
    let mut req = app.request(method, path).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

async fn inbox(app: &TestApp, token: &str) -> Value {
    ok(app, Method::GET, "/v1/me/notifications", token, None).await
}

/// The topics of a member's inbox, newest first.
async fn topics(app: &TestApp, token: &str) -> Vec<String> {
    inbox(app, token).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["topic"].as_str().unwrap().to_owned())
        .collect()
}

/// SMS deliveries written for the caller of `token`, sent or not.
async fn deliveries_of(app: &TestApp, token: &str) -> i64 {
    let account = account_of(app, token).await;
    d::table
        .inner_join(n::table)
        .filter(n::account_id.eq(account))
        .count()
        .get_result(&mut *app.db.get().unwrap())
        .unwrap()
}

async fn account_of(app: &TestApp, token: &str) -> i64 {
    ok(app, Method::GET, "/v1/me", token, None).await["id"]
        .as_i64()
        .unwrap()
}

/// A join code of Xuanwu whose applications staff decide.
async fn review_code(app: &TestApp, t: &Districts) -> String {
    let body = json!({ "label": "审核入会", "auto_approve": false });
    let code = app.join_code(&t.staff_a, t.xuanwu, body).await;
    code["code"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_decision_reaches_the_inbox_and_the_phone_once() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let code = review_code(&app, &t).await;
    let (yes, no) = (app.worker(861).await, app.worker(862).await);
    let mut applications = Vec::new();
    for rider in [&yes, &no] {
        let res = app.join(&rider.token, &code).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        applications.push(res.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    assert_eq!(
        topics(&app, &yes.token).await,
        Vec::<String>::new(),
        "pending says nothing"
    );
    let approve = format!("/v1/admin/memberships/{}/approve", applications[0]);
    ok(&app, Method::POST, &approve, &t.staff_a, None).await;
    let reject = format!("/v1/admin/memberships/{}/reject", applications[1]);
    let reason = json!({ "reason": "工作城市不在本区" });
    ok(&app, Method::POST, &reject, &t.staff_a, Some(reason)).await;

    let approved = inbox(&app, &yes.token).await;
    assert_eq!(approved["unread"], 1);
    let item = &approved["items"][0];
    assert_eq!(item["topic"], "join_approved");
    assert_eq!(item["subject"], format!("membership:{}", applications[0]));
    assert!(
        item["body"].as_str().unwrap().contains("玄武区总工会"),
        "{item}"
    );
    let rejected = inbox(&app, &no.token).await;
    assert_eq!(rejected["items"][0]["topic"], "join_rejected");
    let body = rejected["items"][0]["body"].as_str().unwrap();
    assert!(
        !body.contains("工作城市"),
        "the reason stays on the application: {body}"
    );

    for (rider, says) in [(&yes, "入会申请已通过"), (&no, "入会申请未通过")] {
        let sent = app.wait_for_notices(&rider.phone, 1).await;
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0]["text"].as_str().unwrap().starts_with(says));
    }

    // Reading: one, then all; the count follows.
    let id = item["id"].as_i64().unwrap();
    let read = format!("/v1/me/notifications/{id}/read");
    let marked = ok(&app, Method::POST, &read, &yes.token, None).await;
    assert!(marked["read_at"].is_string());
    let again = ok(&app, Method::POST, &read, &yes.token, None).await;
    assert_eq!(
        again["read_at"], marked["read_at"],
        "reading twice changes nothing"
    );
    let unread = "/v1/me/notifications/unread";
    assert_eq!(
        ok(&app, Method::GET, unread, &yes.token, None).await["unread"],
        0
    );
    let theirs = app
        .request(Method::POST, &read)
        .bearer_auth(&no.token)
        .send()
        .await
        .unwrap();
    assert_problem(theirs, 404, "not_found").await;
    let all = "/v1/me/notifications/read-all";
    assert_eq!(
        ok(&app, Method::POST, all, &no.token, None).await["unread"],
        0
    );
    assert_eq!(inbox(&app, &no.token).await["unread"], 0);

    // Staff of the union see what the member was told, on the member's page too; the
    // neighbouring district's staff do not.
    let told = format!("/v1/admin/members/{}/notifications", applications[0]);
    let seen = ok(&app, Method::GET, &told, &t.staff_a, None).await;
    assert_eq!(seen["items"][0]["topic"], "join_approved");
    let other = app.get(&told, Some(&t.staff_b)).await;
    assert_problem(other, 404, "not_found").await;
    let mut console = Console::signed_in(&app, &phone(851)).await;
    let page = console
        .get(&format!("/console/members/{}", applications[0]))
        .await;
    assert!(
        page.body.contains(r#"data-topic="join_approved""#),
        "{}",
        page.body
    );
    assert!(page.body.contains("欢迎加入玄武区总工会"));

    // The export carries the inbox and what went by SMS.
    let export = ok(&app, Method::GET, "/v1/me/export", &yes.token, None).await;
    let part = &export["parts"]["notifications"];
    assert_eq!(part["inbox"][0]["topic"], "join_approved");
    assert_eq!(part["deliveries"][0]["channel"], "sms");
    assert!(part["deliveries"][0]["sent_at"].is_string(), "{part}");
}

async fn book(app: &TestApp, session: i64, member: &Worker) -> Value {
    let path = format!("/v1/sessions/{session}/bookings");
    let body = json!({ "waitlist": true });
    ok(app, Method::POST, &path, &member.token, Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_promotions_and_a_cancelled_session_each_tell_their_members_once() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let (_, sid) = app.health_check(&t, 1).await;
    let m = app.bulk_members(t.xuanwu, 5000, 4, "rider").await;
    let seated = book(&app, sid, &m[0]).await;
    for member in &m[1..] {
        assert_eq!(book(&app, sid, member).await["status"], "waitlisted");
    }
    assert_eq!(topics(&app, &m[0].token).await, ["booking_made"]);
    let first = &inbox(&app, &m[0].token).await["items"][0];
    assert_eq!(first["title"], "预约成功");
    assert!(first["body"]
        .as_str()
        .unwrap()
        .contains("玄武区户外劳动者驿站"));
    assert_eq!(
        inbox(&app, &m[1].token).await["items"][0]["title"],
        "已加入候补"
    );
    assert_eq!(
        deliveries_of(&app, &m[0].token).await,
        0,
        "a booking made goes to the inbox only"
    );

    // The seated member cancels: the first in line gets the seat and is told, by SMS too.
    let cancel = format!("/v1/bookings/{}", seated["id"]);
    ok(&app, Method::DELETE, &cancel, &m[0].token, None).await;
    assert_eq!(
        topics(&app, &m[1].token).await,
        ["seat_promoted", "booking_made"]
    );
    // Staff add a seat: the next in line is promoted the same way.
    let session = format!("/v1/admin/sessions/{sid}");
    let bigger = json!({ "capacity": 2 });
    ok(&app, Method::PATCH, &session, &t.staff_a, Some(bigger)).await;
    assert_eq!(
        topics(&app, &m[2].token).await,
        ["seat_promoted", "booking_made"]
    );
    assert_eq!(topics(&app, &m[3].token).await, ["booking_made"]);

    // Staff call the session off: the two seated and the one waiting hear of it.
    let call_off = format!("{session}/cancel");
    let cancelled = ok(&app, Method::POST, &call_off, &t.staff_a, None).await;
    assert_eq!(cancelled["bookings_cancelled"], 3);
    ok(&app, Method::POST, &call_off, &t.staff_a, None).await;
    for member in &m[1..] {
        assert_eq!(topics(&app, &member.token).await[0], "session_cancelled");
    }
    assert_eq!(
        topics(&app, &m[0].token).await,
        ["booking_made"],
        "m0 had cancelled"
    );

    let expected = [(&m[1], 2), (&m[2], 2), (&m[3], 1)];
    for (member, count) in expected {
        let sent = app.wait_for_notices(&member.phone, count).await;
        let texts: Vec<&str> = sent.iter().map(|s| s["text"].as_str().unwrap()).collect();
        assert_eq!(texts.len(), count, "{texts:?}");
        assert!(
            texts.last().unwrap().starts_with("预约场次已取消"),
            "{texts:?}"
        );
    }
    assert!(app.wait_for_notices(&m[0].phone, 0).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_station_report_is_told_once_and_its_sms_follows_the_setting() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let body = station("北京东路驿站", 32.06, 118.80, json!({"open_24h": true}));
    let id = create(&app, &t.staff_a, t.xuanwu, &body).await["id"]
        .as_i64()
        .unwrap();
    let (quiet, keen) = (app.worker(863).await, app.worker(864).await);
    let settings = "/v1/me/notification-settings";
    let off = json!({ "sms_off": ["feedback_answered"] });
    let changed = ok(&app, Method::PUT, settings, &quiet.token, Some(off)).await;
    let answered = changed["sms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["topic"] == "feedback_answered")
        .unwrap()
        .clone();
    assert_eq!(
        answered,
        json!({ "topic": "feedback_answered", "enabled": false, "required": false })
    );
    let must = json!({ "sms_off": ["seat_promoted"] });
    let refused = app.put(settings, &must, Some(&keen.token)).await;
    assert_eq!(
        assert_problem(refused, 422, "invalid_field").await["field"],
        "sms_off"
    );

    for rider in [&quiet, &keen] {
        let post = json!({ "kind": "fault", "body": "微波炉坏了" });
        let path = format!("/v1/stations/{id}/feedback");
        let note = ok(&app, Method::POST, &path, &rider.token, Some(post)).await;
        let answer = format!("/v1/admin/feedback/{}", note["id"]);
        for reply in ["已报修，明天上午修好", "已修好，欢迎使用"] {
            let body = json!({ "reply": reply });
            ok(&app, Method::PATCH, &answer, &t.staff_a, Some(body)).await;
        }
    }
    for rider in [&quiet, &keen] {
        let items = inbox(&app, &rider.token).await;
        assert_eq!(items["items"].as_array().unwrap().len(), 1, "{items}");
        let body = items["items"][0]["body"].as_str().unwrap();
        assert_eq!(body, "北京东路驿站：已报修，明天上午修好");
    }
    assert_eq!(app.wait_for_notices(&keen.phone, 1).await.len(), 1);
    assert!(
        app.notices_sent(&quiet.phone).is_empty(),
        "turned off by SMS"
    );
    assert_eq!(deliveries_of(&app, &quiet.token).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_dispatchers_deliver_a_backlog_with_no_delivery_claimed_twice() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let members = app.bulk_members(t.xuanwu, 5100, 20, "rider").await;
    let mut accounts = Vec::new();
    for member in &members {
        accounts.push(account_of(&app, &member.token).await);
    }
    let notices: Vec<Notice> = (0..600)
        .map(|i| Notice {
            account_id: accounts[i % accounts.len()],
            topic: Topic::SessionCancelled,
            subject: Record::new("booking", i as i64),
            title: "预约场次已取消".into(),
            body: "测试".into(),
            deadline: Some(platform::clock::now()),
        })
        .collect();
    let written = app
        .db
        .write(move |conn| platform::outbox::send(conn, &notices))
        .await
        .unwrap();
    assert_eq!(written, 600);
    // Three more dispatchers beside the app's own, each in rounds of 25.
    let dispatcher = identity::dispatch::Dispatcher::new(&app.state.identity);
    let sent: Vec<usize> = join_all((0..3).map(|_| {
        let dispatcher = dispatcher.clone();
        async move {
            let mut sent = 0;
            loop {
                let round = dispatcher.round(25).await.unwrap();
                sent += round.sent;
                if round.claimed() == 0 {
                    return sent;
                }
            }
        }
    }))
    .await;
    assert!(sent.iter().sum::<usize>() <= 600, "{sent:?}");
    // The app's own dispatcher may still be sending a batch it leased when the three above
    // found nothing left to claim: wait for it rather than read its rows half-way.
    let load = || {
        let mut conn = app.db.get().unwrap();
        d::table
            .select((d::sent_at, d::attempts))
            .load::<(Option<chrono::NaiveDateTime>, i32)>(&mut *conn)
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut rows = load();
    while rows.iter().any(|(sent_at, _)| sent_at.is_none()) && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        rows = load();
    }
    assert_eq!(rows.len(), 600);
    assert!(
        rows.iter().all(|(sent_at, _)| sent_at.is_some()),
        "all sent"
    );
    assert!(
        rows.iter().all(|&(_, attempts)| attempts == 1),
        "each claimed once"
    );
    let lines: usize = members
        .iter()
        .map(|m| app.notices_sent(&m.phone).len())
        .sum();
    assert_eq!(lines, 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_an_sms_until_eight_while_the_inbox_has_it_at_once() {
    let app = spawn_app().await;
    app.advance_clock_to_shanghai(23, 0);
    let t = tree(&app).await;
    let code = review_code(&app, &t).await;
    let rider = app.worker(865).await;
    let res = app.join(&rider.token, &code).await;
    let application = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let approve = format!("/v1/admin/memberships/{application}/approve");
    ok(&app, Method::POST, &approve, &t.staff_a, None).await;
    assert_eq!(topics(&app, &rider.token).await, ["join_approved"]);
    assert!(
        app.wait_for_notices(&rider.phone, 1).await.is_empty(),
        "not at 23:00"
    );
    app.advance_clock_to_shanghai(7, 59);
    assert!(
        app.wait_for_notices(&rider.phone, 1).await.is_empty(),
        "not at 07:59"
    );
    app.advance_clock_to_shanghai(8, 0);
    assert_eq!(
        app.wait_for_notices(&rider.phone, 1).await.len(),
        1,
        "at 08:00"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_come_a_day_and_two_hours_before_once_and_never_for_a_cancelled_booking() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let (starts, ends) = gigunion_tests::open_window();
    let body = json!({ "kind": "health_check", "title": "免费体检车进驿站", "starts_at": starts,
                       "ends_at": ends });
    let program = app.published_program(&t.staff_a, t.xuanwu, body).await["id"].clone();
    // Two days ahead at 10:00 in Shanghai: both reminders fall in the daytime.
    let at = app.now() + chrono::Duration::days(2);
    let session = json!({ "site_name": "玄武区户外劳动者驿站", "address": "南京市玄武区中山路",
        "starts_at": at.to_rfc3339(), "ends_at": (at + chrono::Duration::hours(8)).to_rfc3339(),
        "capacity": 5 });
    let path = format!("/v1/admin/programs/{program}/sessions");
    let sid = ok(&app, Method::POST, &path, &t.staff_a, Some(session)).await["id"]
        .as_i64()
        .unwrap();
    let m = app.bulk_members(t.xuanwu, 5200, 3, "rider").await;
    let mut bookings = Vec::new();
    for member in &m {
        bookings.push(book(&app, sid, member).await["id"].clone());
    }
    let cancel = |i: usize| format!("/v1/bookings/{}", bookings[i]);
    ok(&app, Method::DELETE, &cancel(2), &m[2].token, None).await;

    app.sweep_reminders().await;
    assert_eq!(
        topics(&app, &m[0].token).await,
        ["booking_made"],
        "not 48 h before"
    );
    app.advance_clock(chrono::Duration::hours(25));
    let m = app.signed_in_again(m).await;
    app.sweep_reminders().await;
    app.sweep_reminders().await;
    for member in &m[..2] {
        assert_eq!(
            topics(&app, &member.token).await,
            ["session_reminder", "booking_made"]
        );
        let sent = app.wait_for_notices(&member.phone, 1).await;
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0]["text"].as_str().unwrap().starts_with("预约提醒"));
    }
    assert_eq!(
        topics(&app, &m[2].token).await,
        ["booking_made"],
        "cancelled before"
    );

    ok(&app, Method::DELETE, &cancel(1), &m[1].token, None).await;
    app.advance_clock(chrono::Duration::hours(22));
    let m = app.signed_in_again(m).await;
    app.sweep_reminders().await;
    let last = ["session_starting", "session_reminder", "booking_made"];
    assert_eq!(topics(&app, &m[0].token).await, last);
    assert_eq!(app.wait_for_notices(&m[0].phone, 2).await.len(), 2);
    assert_eq!(
        topics(&app, &m[1].token).await[0],
        "session_reminder",
        "cancelled since"
    );
    assert_eq!(app.wait_for_notices(&m[1].phone, 2).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_exactly_the_filtered_members_of_the_subtree() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5300, 3, "rider").await;
    let couriers = app.bulk_members(t.xuanwu, 5310, 2, "courier").await;
    let neighbours = app.bulk_members(t.qinhuai, 5320, 2, "rider").await;
    let (program, sid) = app.health_check(&t, 5).await;
    book(&app, sid, &couriers[0]).await;

    let path = format!("/v1/admin/orgs/{}/broadcasts", t.xuanwu);
    let preview = |audience: Value| {
        let app = &app;
        let (path, token) = (format!("{path}/preview"), t.staff_a.clone());
        async move { ok(app, Method::POST, &path, &token, Some(audience)).await["recipients"].clone() }
    };
    assert_eq!(preview(json!({})).await, 5);
    assert_eq!(preview(json!({ "occupation": "rider" })).await, 3);
    assert_eq!(preview(json!({ "program_id": program })).await, 1);
    let from_city = format!("/v1/admin/orgs/{}/broadcasts/preview", t.city);
    let refused = app.post(&from_city, &json!({}), Some(&t.staff_a)).await;
    assert_problem(refused, 404, "not_found").await;

    let message = json!({ "title": "服务季义诊", "body": "周六上午在玄武区职工服务中心义诊，欢迎参加。",
                          "audience": { "occupation": "rider" } });
    let sent = ok(&app, Method::POST, &path, &t.staff_a, Some(message)).await;
    assert_eq!(sent["recipients"], 3);
    for rider in &riders {
        let items = inbox(&app, &rider.token).await;
        assert_eq!(items["items"][0]["topic"], "broadcast", "{items}");
        assert_eq!(items["items"][0]["title"], "服务季义诊");
    }
    for other in couriers.iter().chain(&neighbours) {
        assert!(!topics(&app, &other.token)
            .await
            .contains(&"broadcast".to_owned()));
    }
    assert!(
        app.wait_for_notices(&riders[0].phone, 1).await.is_empty(),
        "inbox only"
    );
    let listed = ok(&app, Method::GET, &path, &t.staff_a, None).await;
    assert_eq!(listed["items"][0]["id"], sent["id"]);
    let audit = format!("/v1/admin/orgs/{}/audit?action=broadcast.send", t.xuanwu);
    let entries = ok(&app, Method::GET, &audit, &t.staff_a, None).await;
    assert_eq!(
        entries["items"][0]["record"],
        format!("broadcast:{}", sent["id"])
    );

    // Three a day: two more go, the fourth is refused, also when sent in parallel.
    let again = json!({ "title": "提醒", "body": "明天降温，注意保暖。" });
    let tries = join_all((0..3).map(|_| app.post(&path, &again, Some(&t.staff_a)))).await;
    let mut statuses: Vec<u16> = tries.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 429]);
}
