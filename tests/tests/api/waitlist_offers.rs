//! Waitlist offers: a seat freed well before its session is offered to the first in line, who
//! confirms it or lets it lapse to the next; nearer the start it is booked outright. Offers,
//! confirmations, releases and lapse sweeps racing for the same seats give each seat once.
//!
//! Phones used here: `phone(871..872)` for staff, bulk members from `phone(5400)`.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use futures_util::future::join_all;
use gigunion_tests::reqwest::Method;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, Districts, TestApp, Worker};
use platform::schema::{bookings as b, health_sessions as hs, notifications as n};

use gigunion_tests::console::daytime_app;

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((871, 872)).await
}

async fn call(app: &TestApp, method: Method, path: String, token: &str) -> (u16, Value) {
    let res = app
        .request(method, &path)
        .bearer_auth(token)
        .json(&json!({ "waitlist": true }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn ok(app: &TestApp, method: Method, path: &str, token: &str) -> Value {
    let (status, body) = call(app, method, path.to_owned(), token).await;
    assert!((200..300).contains(&status), "{path}: {status} {body}");
    body
}

async fn book(app: &TestApp, session: i64, member: &Worker) -> Value {
    let path = format!("/v1/sessions/{session}/bookings");
    ok(app, Method::POST, &path, &member.token).await
}

async fn booking(app: &TestApp, member: &Worker, id: &Value) -> Value {
    ok(
        app,
        Method::GET,
        &format!("/v1/me/bookings/{id}"),
        &member.token,
    )
    .await
}

fn deadline(view: &Value) -> Option<DateTime<Utc>> {
    view["offer_expires_at"]
        .as_str()
        .map(|t| t.parse().unwrap())
}

/// Runs the lapse sweep now, as the benefits housekeeping does every 30 seconds.
async fn lapse(app: &TestApp) -> usize {
    let offers = benefits::waitlist::Offers::default();
    app.db
        .write(move |conn| benefits::waitlist::lapse(conn, offers, platform::clock::now()))
        .await
        .unwrap()
}

/// The topics of the notifications of the member who made `booking`, oldest first.
fn topics_of(app: &TestApp, booking: &Value) -> Vec<String> {
    let conn = &mut *app.db.get().unwrap();
    let account: i64 = b::table
        .find(booking.as_i64().unwrap())
        .select(b::account_id)
        .first(conn)
        .unwrap();
    n::table
        .filter(n::account_id.eq(account))
        .order(n::id)
        .select(n::topic)
        .load(conn)
        .unwrap()
}

/// The session's seat counter, and the bookings that hold a seat.
fn seats(app: &TestApp, session: i64) -> (i32, i64) {
    let conn = &mut *app.db.get().unwrap();
    let counter = hs::table
        .find(session)
        .select(hs::booked)
        .first(conn)
        .unwrap();
    let holding = b::table
        .filter(b::session_id.eq(session))
        .filter(b::status.eq_any(["booked", "checked_in"]))
        .count()
        .get_result(conn)
        .unwrap();
    (counter, holding)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_not_confirmed_in_time_lapses_and_the_next_in_line_gets_one() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    // Two days ahead: far enough for offers.
    let (_, sid) = app.health_check(&t, 1).await;
    let m = app.bulk_members(t.xuanwu, 5400, 4, "rider").await;
    let seated = book(&app, sid, &m[0]).await;
    let mut waiting = Vec::new();
    for member in &m[1..] {
        let view = book(&app, sid, member).await;
        assert_eq!(view["status"], "waitlisted");
        waiting.push(view["id"].clone());
    }

    // The seat frees up: the first in line holds it as an offer, two hours to confirm.
    ok(
        &app,
        Method::DELETE,
        &format!("/v1/bookings/{}", seated["id"]),
        &m[0].token,
    )
    .await;
    let offered = booking(&app, &m[1], &waiting[0]).await;
    assert_eq!(offered["status"], "booked");
    let until = deadline(&offered).expect("an offer");
    let window = until - app.now();
    assert!(
        window > Duration::minutes(119) && window <= Duration::minutes(120),
        "{window}"
    );
    let sent = app.wait_for_notices(&m[1].phone, 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let text = sent[0]["text"].as_str().unwrap();
    assert!(text.starts_with("候补名额待确认"), "{text}");
    assert!(text.contains("前打开App确认"), "{text}");

    // Confirmed, and again: the seat is theirs, the offer closed.
    let confirm = |i: usize| format!("/v1/bookings/{}/confirm", waiting[i]);
    let confirmed = ok(&app, Method::POST, &confirm(0), &m[1].token).await;
    assert_eq!(deadline(&confirmed), None);
    let again = ok(&app, Method::POST, &confirm(0), &m[1].token).await;
    assert_eq!(again["status"], "booked");
    assert_eq!(deadline(&again), None);
    let (status, _) = call(&app, Method::POST, confirm(1), &m[1].token).await;
    assert_eq!(status, 404, "another member's booking");

    // They release it after all: the next in line is offered it, and lets it run out.
    ok(
        &app,
        Method::DELETE,
        &format!("/v1/bookings/{}", waiting[0]),
        &m[1].token,
    )
    .await;
    assert!(deadline(&booking(&app, &m[2], &waiting[1]).await).is_some());
    app.advance_clock(Duration::minutes(121));
    let m = app.signed_in_again(m).await;
    let late = app
        .request(Method::POST, &confirm(1))
        .bearer_auth(&m[2].token)
        .send()
        .await
        .unwrap();
    assert_problem(late, 409, "offer_lapsed").await;
    // (The housekeeping task may have swept first: what counts is what the members got.)
    lapse(&app).await;
    assert_eq!(lapse(&app).await, 0, "a lapse happens once");

    let lapsed = booking(&app, &m[2], &waiting[1]).await;
    assert_eq!(lapsed["status"], "lapsed");
    let next = booking(&app, &m[3], &waiting[2]).await;
    assert_eq!(next["status"], "booked");
    assert!(deadline(&next).is_some(), "the next in line gets an offer");
    assert_eq!(seats(&app, sid), (1, 1));
    assert_eq!(
        topics_of(&app, &waiting[1]),
        ["booking_made", "seat_promoted", "offer_lapsed"]
    );
    let sent = app.wait_for_notices(&m[2].phone, 2).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1]["text"]
        .as_str()
        .unwrap()
        .starts_with("候补名额已顺延"));
    ok(&app, Method::POST, &confirm(2), &m[3].token).await;
    assert_eq!(deadline(&booking(&app, &m[3], &waiting[2]).await), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_freed_near_the_start_is_booked_outright() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let (program, _) = app.health_check(&t, 1).await;
    let at = app.now() + Duration::hours(4);
    let session = json!({ "site_name": "玄武区户外劳动者驿站", "address": "南京市玄武区中山路",
        "starts_at": at.to_rfc3339(), "ends_at": (at + Duration::hours(4)).to_rfc3339(),
        "capacity": 1 });
    let path = format!("/v1/admin/programs/{program}/sessions");
    let created = app.post(&path, &session, Some(&t.staff_a)).await;
    let sid = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let m = app.bulk_members(t.xuanwu, 5410, 2, "rider").await;
    let seated = book(&app, sid, &m[0]).await;
    let waiting = book(&app, sid, &m[1]).await;

    ok(
        &app,
        Method::DELETE,
        &format!("/v1/bookings/{}", seated["id"]),
        &m[0].token,
    )
    .await;
    let promoted = booking(&app, &m[1], &waiting["id"]).await;
    assert_eq!(promoted["status"], "booked");
    assert_eq!(deadline(&promoted), None, "no time left for an offer");
    let sent = app.wait_for_notices(&m[1].phone, 1).await;
    assert!(sent[0]["text"].as_str().unwrap().starts_with("候补成功"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_releases_and_lapse_sweeps_racing_give_each_seat_once() {
    let app = daytime_app().await;
    let t = tree(&app).await;
    let (_, sid) = app.health_check(&t, 10).await;
    let m = app.bulk_members(t.xuanwu, 5420, 40, "rider").await;
    let mut ids = Vec::new();
    for member in &m {
        ids.push(book(&app, sid, member).await["id"].clone());
    }
    let path = |i: usize, action: &str| format!("/v1/bookings/{}{action}", ids[i]);

    // All ten seated cancel at once: the first ten waiting hold offers.
    let cancels = (0..10).map(|i| call(&app, Method::DELETE, path(i, ""), &m[i].token));
    assert!(join_all(cancels).await.iter().all(|(s, _)| *s == 200));
    assert_eq!(seats(&app, sid), (10, 10));
    // At once: five of them confirm, three release, and five more waiting members give up.
    let mut racing: Vec<_> = (10..15)
        .map(|i| call(&app, Method::POST, path(i, "/confirm"), &m[i].token))
        .collect();
    for i in (15..18).chain(30..35) {
        racing.push(call(&app, Method::DELETE, path(i, ""), &m[i].token));
    }
    assert!(join_all(racing).await.iter().all(|(s, _)| *s == 200));
    assert_eq!(seats(&app, sid), (10, 10));

    // The open offers run out while their members confirm and three sweeps run, all at once.
    app.advance_clock(Duration::minutes(121));
    let m = app.signed_in_again(m).await;
    let late = (10..25).map(|i| call(&app, Method::POST, path(i, "/confirm"), &m[i].token));
    let sweeps = join_all((0..3).map(|_| lapse(&app)));
    let (answers, swept) = tokio::join!(join_all(late), sweeps);
    let statuses: Vec<String> = {
        let views = join_all((0..40).map(|i| booking(&app, &m[i], &ids[i]))).await;
        views
            .iter()
            .map(|v| v["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let answer = |i: usize| (answers[i - 10].0, answers[i - 10].1["code"].clone());
    for i in 10..15 {
        assert_eq!(answer(i).0, 200, "confirmed before: {:?}", answer(i));
    }
    for i in 15..18 {
        assert_eq!(answer(i), (409, json!("booking_not_active")), "released");
    }
    // The offers left open, to 18 and 19 and to the three promoted by the releases, lapsed:
    // each once, whichever sweep (or housekeeping) got there, and their late confirmations
    // were refused. Their seats went on to 23..27, the next in line.
    let lapsed: Vec<usize> = (0..40).filter(|&i| statuses[i] == "lapsed").collect();
    assert_eq!(lapsed, (18..23).collect::<Vec<_>>(), "{statuses:?}");
    assert!(swept.iter().sum::<usize>() <= 5, "{swept:?}");
    for &i in &lapsed {
        assert_eq!(answer(i), (409, json!("offer_lapsed")), "member {i}");
        let told = topics_of(&app, &ids[i]);
        let times = told.iter().filter(|t| *t == "offer_lapsed").count();
        assert_eq!(times, 1, "{told:?}");
    }
    for i in 23..25 {
        // Promoted by a sweep after its confirmation came in, or before it (then confirmed).
        let refused = (409, json!("booking_not_active"));
        assert!(
            answer(i).0 == 200 || answer(i) == refused,
            "{:?}",
            answer(i)
        );
        assert_eq!(
            statuses.get(i).map(String::as_str),
            Some("booked"),
            "member {i}"
        );
    }
    // Ten seats, held by exactly ten bookings, the counter true; the queue served in order.
    assert_eq!(seats(&app, sid), (10, 10));
    let holding: Vec<usize> = (0..40).filter(|&i| statuses[i] == "booked").collect();
    let expected: Vec<usize> = (10..15).chain(23..28).collect();
    assert_eq!(holding, expected, "{statuses:?}");
}
