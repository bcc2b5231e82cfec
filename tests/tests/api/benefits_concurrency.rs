//! Benefits under bursts of parallel requests: a gift pack never goes below zero stock or to
//! anyone twice, a session never takes more seats than it has, concurrent cancellations promote
//! the waitlist in order and keep the seat counter true, `Idempotency-Key` replays the first
//! response, and nobody reaches another member's vouchers, bookings or reports, nor staff another
//! district's programs.
//!
//! Phones used here: `phone(701..702)` for registered staff; bulk members in disjoint ranges
//! within `1000..2000` (1000.., 1300.., 1400.., 1700.., 1800.., 1850.., 1900..), so that their
//! ID numbers (which wrap at 1000) stay distinct.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{Duration, Utc};
use diesel::prelude::*;
use futures_util::future::join_all;
use gigunion_tests::reqwest::{Method, RequestBuilder, Response, StatusCode};
use gigunion_tests::serde_json::{self, json, Value};
use gigunion_tests::{assert_problem, open_window, spawn_app, Districts, TestApp, Worker};
use platform::schema::{bookings as b, health_sessions as hs, programs as p, vouchers as v};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((701, 702)).await
}

/// A first-come gift pack of Xuanwu with `stock` packs; its id.
async fn gift_pack(app: &TestApp, t: &Districts, stock: i32) -> i64 {
    let (starts, ends) = open_window();
    let pack = app.published_program(&t.staff_a,
        t.xuanwu,
        json!({ "kind": "gift_pack", "title": "夏日清凉礼包", "starts_at": starts, "ends_at": ends, "stock": stock }),
    )
    .await;
    assert_eq!(pack["stock_left"], stock);
    pack["id"].as_i64().unwrap()
}

/// A health-check program of Xuanwu; its id.
async fn health_check(app: &TestApp, t: &Districts) -> i64 {
    let (starts, ends) = open_window();
    let hc = app.published_program(&t.staff_a,
        t.xuanwu,
        json!({ "kind": "health_check", "title": "免费体检车进驿站", "starts_at": starts, "ends_at": ends }),
    )
    .await;
    hc["id"].as_i64().unwrap()
}

/// A session of `program` starting two days ahead with `capacity` seats; its id.
async fn session(app: &TestApp, token: &str, program: i64, capacity: i32) -> i64 {
    let res = app
        .post(
            &format!("/v1/admin/programs/{program}/sessions"),
            &session_body(capacity),
            Some(token),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["seats_left"], capacity);
    view["id"].as_i64().unwrap()
}

fn session_body(capacity: i32) -> Value {
    let starts = Utc::now() + Duration::days(2);
    json!({ "site_name": "玄武区户外劳动者驿站", "address": "南京市玄武区中山路", "location": { "lat": 32.0487, "lng": 118.7905 },
            "starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(8)).to_rfc3339(), "capacity": capacity })
}

/// Status, body and whether the response was a replay.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    replayed: bool,
}

impl Reply {
    fn id(&self) -> i64 {
        self.body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id in {}", self.body))
    }
}

async fn read(res: Response) -> Reply {
    let status = res.status().as_u16();
    let replayed = res
        .headers()
        .get("idempotency-replayed")
        .is_some_and(|v| v == "true");
    let text = res.text().await.expect("body readable");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        replayed,
    }
}

/// Sends all requests at once (each on its own task, released together by a barrier); the
/// replies in request order.
async fn burst(requests: Vec<RequestBuilder>) -> Vec<Reply> {
    let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks = requests.into_iter().map(|req| {
        let barrier = barrier.clone();
        tokio::spawn(async move {
            barrier.wait().await;
            read(req.send().await.expect("request sent")).await
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("request task"))
        .collect()
}

/// How many replies had each (HTTP status, the body's `status` word or else its problem code).
fn tally(replies: &[Reply]) -> Vec<(u16, String, usize)> {
    let mut counts = BTreeMap::new();
    for r in replies {
        // A problem's `status` is a number; a voucher's or booking's is a word.
        let label = r.body["status"]
            .as_str()
            .or_else(|| r.body["code"].as_str())
            .unwrap_or("-")
            .to_owned();
        *counts.entry((r.status, label)).or_insert(0) += 1;
    }
    counts.into_iter().map(|((s, l), n)| (s, l, n)).collect()
}

fn expected(rows: &[(u16, &str, usize)]) -> Vec<(u16, String, usize)> {
    let mut rows: Vec<(u16, String, usize)> = rows
        .iter()
        .filter(|r| r.2 > 0)
        .map(|&(s, l, n)| (s, l.to_owned(), n))
        .collect();
    rows.sort();
    rows
}

fn claim_req(app: &TestApp, program: i64, token: &str) -> RequestBuilder {
    app.request(Method::POST, &format!("/v1/programs/{program}/claims"))
        .bearer_auth(token)
        .json(&json!({}))
}

fn book_req(app: &TestApp, session: i64, token: &str, waitlist: bool) -> RequestBuilder {
    app.request(Method::POST, &format!("/v1/sessions/{session}/bookings"))
        .bearer_auth(token)
        .json(&json!({ "waitlist": waitlist }))
}

fn cancel_req(app: &TestApp, booking: i64, token: &str) -> RequestBuilder {
    app.request(Method::DELETE, &format!("/v1/bookings/{booking}"))
        .bearer_auth(token)
}

async fn account_id(app: &TestApp, token: &str) -> i64 {
    let me = read(app.get("/v1/me", Some(token)).await).await;
    assert_eq!(me.status, 200, "{}", me.body);
    me.body["id"].as_i64().unwrap()
}

/// (id, account, status) of a program's vouchers, by id.
fn vouchers_of(app: &TestApp, program: i64) -> Vec<(i64, i64, String)> {
    let mut conn = app.db.get().unwrap();
    v::table
        .filter(v::program_id.eq(program))
        .order(v::id)
        .select((v::id, v::account_id, v::status))
        .load(&mut *conn)
        .unwrap()
}

/// (stock_total, stock_left) of a program.
fn stock_of(app: &TestApp, program: i64) -> (Option<i32>, Option<i32>) {
    let mut conn = app.db.get().unwrap();
    p::table
        .find(program)
        .select((p::stock_total, p::stock_left))
        .first(&mut *conn)
        .unwrap()
}

/// (id, account, status) of a session's bookings, by id.
fn bookings_of(app: &TestApp, session: i64) -> Vec<(i64, i64, String)> {
    let mut conn = app.db.get().unwrap();
    b::table
        .filter(b::session_id.eq(session))
        .order(b::id)
        .select((b::id, b::account_id, b::status))
        .load(&mut *conn)
        .unwrap()
}

/// (capacity, booked) of a session.
fn seats_of(app: &TestApp, session: i64) -> (i32, i32) {
    let mut conn = app.db.get().unwrap();
    hs::table
        .find(session)
        .select((hs::capacity, hs::booked))
        .first(&mut *conn)
        .unwrap()
}

fn ids_with(rows: &[(i64, i64, String)], status: &str) -> Vec<i64> {
    rows.iter().filter(|r| r.2 == status).map(|r| r.0).collect()
}

async fn stats(app: &TestApp, token: &str, program: i64) -> Value {
    let res = read(
        app.get(&format!("/v1/admin/programs/{program}/stats"), Some(token))
            .await,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_members_race_for_a_hundred_gift_packs() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pid = gift_pack(&app, &t, 100).await;
    let members = app.bulk_members(t.xuanwu, 1000, 300, "rider").await;

    let replies = burst(
        members
            .iter()
            .map(|m| claim_req(&app, pid, &m.token))
            .collect(),
    )
    .await;
    assert_eq!(
        tally(&replies),
        expected(&[(201, "issued", 100), (409, "sold_out", 200)])
    );

    // Every voucher handed out is distinct, of this program, and its holder's own.
    let winners: Vec<(&Worker, &Reply)> = members
        .iter()
        .zip(&replies)
        .filter(|(_, r)| r.status == 201)
        .collect();
    let ids: BTreeSet<i64> = winners.iter().map(|(_, r)| r.id()).collect();
    let codes: BTreeSet<&str> = winners
        .iter()
        .map(|(_, r)| r.body["code"].as_str().unwrap())
        .collect();
    assert_eq!((ids.len(), codes.len()), (100, 100));
    assert!(winners.iter().all(|(_, r)| r.body["program_id"] == pid));
    let own = burst(
        winners
            .iter()
            .map(|(m, r)| {
                app.request(Method::GET, &format!("/v1/me/vouchers/{}", r.id()))
                    .bearer_auth(&m.token)
            })
            .collect(),
    )
    .await;
    assert!(
        own.iter()
            .all(|r| r.status == 200 && r.body["status"] == "issued"),
        "{:?}",
        tally(&own)
    );

    // Staff see it sold out; the database agrees: 100 vouchers, one per account, none below zero.
    let s = stats(&app, &t.staff_a, pid).await;
    assert_eq!(s["remaining"], 0);
    assert_eq!(s["totals"]["claimed"], 100);
    let stored = vouchers_of(&app, pid);
    assert_eq!(stored.len(), 100);
    assert_eq!(
        stored.iter().map(|r| r.0).collect::<BTreeSet<_>>(),
        ids,
        "the vouchers answered are the ones stored"
    );
    let mut per_account: BTreeMap<i64, usize> = BTreeMap::new();
    for (_, account, _) in &stored {
        *per_account.entry(*account).or_default() += 1;
    }
    assert_eq!(
        per_account.len(),
        100,
        "no account holds two vouchers: {per_account:?}"
    );
    assert_eq!(stock_of(&app, pid), (Some(100), Some(0)));
    {
        let mut conn = app.db.get().unwrap();
        let negative: i64 = p::table
            .filter(p::stock_left.lt(0))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(negative, 0);
    }

    // It stays sold out, for a loser and for a winner trying again.
    let loser = members
        .iter()
        .zip(&replies)
        .find(|(_, r)| r.status == 409)
        .unwrap()
        .0;
    assert_problem(
        claim_req(&app, pid, &loser.token).send().await.unwrap(),
        409,
        "sold_out",
    )
    .await;
    let again = read(
        claim_req(&app, pid, &winners[0].0.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, 409);
    assert!(
        matches!(
            again.body["code"].as_str(),
            Some("sold_out" | "already_claimed")
        ),
        "{}",
        again.body
    );
    assert_eq!(vouchers_of(&app, pid).len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_claims_by_one_member_issue_one_voucher() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pid = gift_pack(&app, &t, 50).await;
    let members = app.bulk_members(t.xuanwu, 1300, 2, "rider").await;
    let account = account_id(&app, &members[0].token).await;

    let replies = burst(
        (0..20)
            .map(|_| claim_req(&app, pid, &members[0].token))
            .collect(),
    )
    .await;
    assert_eq!(
        tally(&replies),
        expected(&[(201, "issued", 1), (409, "already_claimed", 19)])
    );
    let voucher = replies.iter().find(|r| r.status == 201).unwrap().id();

    let stored = vouchers_of(&app, pid);
    assert_eq!(stored, vec![(voucher, account, "issued".to_owned())]);
    assert_eq!(stock_of(&app, pid), (Some(50), Some(49)));
    let mine = read(app.get("/v1/me/vouchers", Some(&members[0].token)).await).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine.body["items"][0]["id"], voucher);
    let s = stats(&app, &t.staff_a, pid).await;
    assert_eq!(
        (s["remaining"].as_i64(), s["totals"]["claimed"].as_i64()),
        (Some(49), Some(1))
    );

    // The refusals took nothing from anyone else.
    let other = read(
        claim_req(&app, pid, &members[1].token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(other.status, 201, "{}", other.body);
    assert_eq!(stock_of(&app, pid), (Some(50), Some(48)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_and_fifty_members_book_two_hundred_seats() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pid = health_check(&app, &t).await;
    let sid = session(&app, &t.staff_a, pid, 200).await;
    let members = app.bulk_members(t.xuanwu, 1400, 250, "courier").await;

    // Every other member asks to be waitlisted when full.
    let wants_waitlist = |i: usize| i % 2 == 1;
    let replies = burst(
        members
            .iter()
            .enumerate()
            .map(|(i, m)| book_req(&app, sid, &m.token, wants_waitlist(i)))
            .collect(),
    )
    .await;
    let counts = tally(&replies);
    let count = |status: u16, label: &str| {
        counts
            .iter()
            .find(|c| c.0 == status && c.1 == label)
            .map_or(0, |c| c.2)
    };
    let (booked, waitlisted, full) = (
        count(201, "booked"),
        count(201, "waitlisted"),
        count(409, "full"),
    );
    assert_eq!(booked, 200, "{counts:?}");
    assert_eq!(
        booked + waitlisted + full,
        250,
        "nothing else happened: {counts:?}"
    );
    for (i, r) in replies.iter().enumerate() {
        match r.body["status"].as_str().or(r.body["code"].as_str()) {
            Some("waitlisted") => assert!(wants_waitlist(i), "waitlisted without asking"),
            Some("full") => assert!(
                !wants_waitlist(i),
                "refused though it asked for the waitlist"
            ),
            _ => {}
        }
    }
    // The waitlist is a queue: positions 0.. without gaps or repeats.
    let mut positions: Vec<i64> = replies
        .iter()
        .filter(|r| r.body["status"] == "waitlisted")
        .map(|r| r.body["waitlist_position"].as_i64().unwrap())
        .collect();
    positions.sort();
    assert_eq!(positions, (0..waitlisted as i64).collect::<Vec<_>>());

    let rows = bookings_of(&app, sid);
    assert_eq!(ids_with(&rows, "booked").len(), 200);
    assert_eq!(ids_with(&rows, "waitlisted").len(), waitlisted);
    assert_eq!(rows.len(), 200 + waitlisted);
    assert_eq!(
        rows.iter().map(|r| r.1).collect::<BTreeSet<_>>().len(),
        rows.len(),
        "one booking per member"
    );
    let answered: BTreeSet<i64> = replies
        .iter()
        .filter(|r| r.status == 201)
        .map(Reply::id)
        .collect();
    assert_eq!(answered, rows.iter().map(|r| r.0).collect::<BTreeSet<_>>());
    assert_eq!(seats_of(&app, sid), (200, 200));

    let s = stats(&app, &t.staff_a, pid).await;
    assert_eq!(
        (s["seats_total"].as_i64(), s["seats_booked"].as_i64()),
        (Some(200), Some(200))
    );
    assert_eq!(s["totals"]["booked"], 200);
    assert_eq!(s["totals"]["waitlisted"], waitlisted);
    let sessions = read(
        app.get(
            &format!("/v1/programs/{pid}/sessions"),
            Some(&members[0].token),
        )
        .await,
    )
    .await;
    assert_eq!(sessions.body["items"][0]["seats_left"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cancellations_promote_the_waitlist_in_order() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pid = health_check(&app, &t).await;
    let sid = session(&app, &t.staff_a, pid, 20).await;
    let members = app.bulk_members(t.xuanwu, 1700, 56, "rider").await;
    let (crowd, late) = members.split_at(50);
    let token_of: BTreeMap<i64, &str> = {
        let ids = join_all(crowd.iter().map(|m| account_id(&app, &m.token))).await;
        ids.into_iter()
            .zip(crowd.iter().map(|m| m.token.as_str()))
            .collect()
    };

    let replies = burst(
        crowd
            .iter()
            .map(|m| book_req(&app, sid, &m.token, true))
            .collect(),
    )
    .await;
    assert_eq!(
        tally(&replies),
        expected(&[(201, "booked", 20), (201, "waitlisted", 30)])
    );
    let rows = bookings_of(&app, sid);
    let owner: BTreeMap<i64, i64> = rows.iter().map(|r| (r.0, r.1)).collect();
    let booked = ids_with(&rows, "booked");
    let waiting = ids_with(&rows, "waitlisted"); // in id order: the queue
    assert_eq!((booked.len(), waiting.len()), (20, 30));
    assert_eq!(seats_of(&app, sid), (20, 20));

    // Watches the seats while cancellations run.
    let watch = |app: &TestApp| {
        let stop = Arc::new(AtomicBool::new(false));
        let db = app.db.clone();
        let flag = stop.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut seen = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let mut conn = db.get().unwrap();
                let booked: i32 = hs::table
                    .find(sid)
                    .select(hs::booked)
                    .first(&mut *conn)
                    .unwrap();
                seen.push(booked);
                drop(conn);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            seen
        });
        (stop, task)
    };

    // 15 booked members cancel at once: the first 15 waiting take their seats, in queue order.
    let (stop, watcher) = watch(&app);
    let cancels = burst(
        booked[..15]
            .iter()
            .map(|id| cancel_req(&app, *id, token_of[&owner[id]]))
            .collect(),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.await.unwrap();
    assert_eq!(tally(&cancels), expected(&[(200, "cancelled", 15)]));
    assert!(
        seen.iter().all(|&n| n == 20),
        "booked must stay 20 while seats pass to the waitlist: {seen:?}"
    );
    let rows = bookings_of(&app, sid);
    let now_booked: BTreeSet<i64> = ids_with(&rows, "booked").into_iter().collect();
    let expected_booked: BTreeSet<i64> =
        booked[15..].iter().chain(&waiting[..15]).copied().collect();
    assert_eq!(
        now_booked, expected_booked,
        "the first 15 in the queue were promoted"
    );
    assert_eq!(ids_with(&rows, "waitlisted"), waiting[15..].to_vec());
    assert_eq!(ids_with(&rows, "cancelled"), booked[..15].to_vec());
    assert_eq!(seats_of(&app, sid), (20, 20));
    {
        let mut conn = app.db.get().unwrap();
        let promoted: Vec<i64> = b::table
            .filter(b::session_id.eq(sid))
            .filter(b::promoted_at.is_not_null())
            .order(b::id)
            .select(b::id)
            .load(&mut *conn)
            .unwrap();
        assert_eq!(promoted, waiting[..15].to_vec());
    }
    for id in [waiting[0], waiting[14]] {
        let mine = read(
            app.get(
                &format!("/v1/me/bookings/{id}"),
                Some(token_of[&owner[&id]]),
            )
            .await,
        )
        .await;
        assert_eq!(
            (mine.status, mine.body["status"].as_str()),
            (200, Some("booked")),
            "{}",
            mine.body
        );
        assert!(mine.body["waitlist_position"].is_null());
    }
    for (position, id) in waiting[15..].iter().enumerate() {
        let mine = read(
            app.get(&format!("/v1/me/bookings/{id}"), Some(token_of[&owner[id]]))
                .await,
        )
        .await;
        assert_eq!(mine.body["status"], "waitlisted");
        assert_eq!(mine.body["waitlist_position"], position as i64);
    }
    let s = stats(&app, &t.staff_a, pid).await;
    assert_eq!(
        (
            s["totals"]["promoted"].as_i64(),
            s["totals"]["cancelled"].as_i64()
        ),
        (Some(15), Some(15))
    );
    assert_eq!(s["seats_booked"], 20);

    // All 20 booked cancel at once, with only 15 waiting: 15 seats pass on, 5 come free.
    let holders: Vec<i64> = now_booked.iter().copied().collect();
    let (stop, watcher) = watch(&app);
    let cancels = burst(
        holders
            .iter()
            .map(|id| cancel_req(&app, *id, token_of[&owner[id]]))
            .collect(),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.await.unwrap();
    assert_eq!(tally(&cancels), expected(&[(200, "cancelled", 20)]));
    assert!(seen.iter().all(|&n| (15..=20).contains(&n)), "{seen:?}");
    let rows = bookings_of(&app, sid);
    let (capacity, counter) = seats_of(&app, sid);
    assert_eq!(ids_with(&rows, "booked"), waiting[15..].to_vec());
    assert!(ids_with(&rows, "waitlisted").is_empty());
    assert_eq!(
        (capacity, counter),
        (20, ids_with(&rows, "booked").len() as i32),
        "the counter matches the booked rows"
    );
    assert_eq!(counter, 15);
    let sessions = read(
        app.get(
            &format!("/v1/programs/{pid}/sessions"),
            Some(&late[0].token),
        )
        .await,
    )
    .await;
    assert_eq!(sessions.body["items"][0]["seats_left"], 5);

    // The 5 free seats are real: 6 newcomers at once get 5 seats and 1 waitlist place.
    let replies = burst(
        late.iter()
            .map(|m| book_req(&app, sid, &m.token, true))
            .collect(),
    )
    .await;
    assert_eq!(
        tally(&replies),
        expected(&[(201, "booked", 5), (201, "waitlisted", 1)])
    );
    let rows = bookings_of(&app, sid);
    assert_eq!(seats_of(&app, sid), (20, 20));
    assert_eq!(ids_with(&rows, "booked").len(), 20);
}

/// Seated and waiting members cancel at the same moment, the waiting ones being exactly those
/// the seated cancellations promote. Whatever the interleaving, a freed seat must never be lost:
/// while anyone waits every seat is taken, and the `booked` counter is the number of booked rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seated_and_waiting_members_cancelling_at_once_lose_no_seat() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pid = health_check(&app, &t).await;
    let sid = session(&app, &t.staff_a, pid, 20).await;
    let members = app.bulk_members(t.xuanwu, 1900, 51, "rider").await;
    let (crowd, late) = members.split_at(50);
    let token_of: BTreeMap<i64, &str> = {
        let ids = join_all(crowd.iter().map(|m| account_id(&app, &m.token))).await;
        ids.into_iter()
            .zip(crowd.iter().map(|m| m.token.as_str()))
            .collect()
    };
    let replies = burst(
        crowd
            .iter()
            .map(|m| book_req(&app, sid, &m.token, true))
            .collect(),
    )
    .await;
    assert_eq!(
        tally(&replies),
        expected(&[(201, "booked", 20), (201, "waitlisted", 30)])
    );
    let rows = bookings_of(&app, sid);
    let owner: BTreeMap<i64, i64> = rows.iter().map(|r| (r.0, r.1)).collect();
    let booked = ids_with(&rows, "booked");
    let waiting = ids_with(&rows, "waitlisted");

    // 15 seated and the first 15 waiting (the ones those cancellations promote) cancel at once.
    let leaving: Vec<i64> = booked[..15].iter().chain(&waiting[..15]).copied().collect();
    let cancels = burst(
        leaving
            .iter()
            .map(|id| cancel_req(&app, *id, token_of[&owner[id]]))
            .collect(),
    )
    .await;
    assert_eq!(tally(&cancels), expected(&[(200, "cancelled", 30)]));

    // 20 bookings remain (5 seated, 15 that were waiting behind): all must hold seats.
    let rows = bookings_of(&app, sid);
    let left: BTreeSet<i64> = booked[15..].iter().chain(&waiting[15..]).copied().collect();
    let live: BTreeSet<i64> = rows
        .iter()
        .filter(|r| r.2 != "cancelled")
        .map(|r| r.0)
        .collect();
    assert_eq!(live, left);
    let (capacity, counter) = seats_of(&app, sid);
    let now_booked = ids_with(&rows, "booked");
    let still_waiting = ids_with(&rows, "waitlisted");
    // For the message: bookings promoted and then cancelled, and the promotions counted.
    let promoted_then_cancelled: Vec<i64> = {
        let mut conn = app.db.get().unwrap();
        b::table
            .filter(b::session_id.eq(sid))
            .filter(b::promoted_at.is_not_null())
            .filter(b::status.eq("cancelled"))
            .order(b::id)
            .select(b::id)
            .load(&mut *conn)
            .unwrap()
    };
    let promotions = stats(&app, &t.staff_a, pid).await["totals"]["promoted"].clone();
    assert_eq!(
        (counter as usize, now_booked.len(), still_waiting.len()),
        (20, 20, 0),
        "(booked counter, booked rows, waitlisted rows) of a session of {capacity}: a seat freed by a \
         cancellation went to nobody while members still wait. Promoted, then cancelled: \
         {promoted_then_cancelled:?}; promotions: {promotions}; bookings {rows:?}"
    );
    let sessions = read(
        app.get(
            &format!("/v1/programs/{pid}/sessions"),
            Some(&late[0].token),
        )
        .await,
    )
    .await;
    assert_eq!(sessions.body["items"][0]["seats_left"], 0);
    assert_problem(
        book_req(&app, sid, &late[0].token, false)
            .send()
            .await
            .unwrap(),
        409,
        "full",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_the_first_response() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pid = gift_pack(&app, &t, 50).await;
    let hc = health_check(&app, &t).await;
    let sid = session(&app, &t.staff_a, hc, 10).await;
    let m = app.bulk_members(t.xuanwu, 1800, 4, "rider").await;
    let keyed_claim =
        |token: &str, key: &str| claim_req(&app, pid, token).header("Idempotency-Key", key);

    // A retry with the same key gets the first voucher back, marked as a replay.
    let first = read(keyed_claim(&m[0].token, "claim-k1").send().await.unwrap()).await;
    assert_eq!(
        (first.status, first.replayed),
        (201, false),
        "{}",
        first.body
    );
    let retry = read(keyed_claim(&m[0].token, "claim-k1").send().await.unwrap()).await;
    assert_eq!((retry.status, retry.replayed), (201, true));
    assert_eq!(retry.body, first.body);
    // A new key runs the claim again, and the rules still hold.
    assert_problem(
        keyed_claim(&m[0].token, "claim-k2").send().await.unwrap(),
        409,
        "already_claimed",
    )
    .await;
    // Keys are per caller: the same key from another member is that member's own claim.
    let other = read(keyed_claim(&m[1].token, "claim-k1").send().await.unwrap()).await;
    assert_eq!((other.status, other.replayed), (201, false));
    assert_ne!(other.id(), first.id());
    let a0 = account_id(&app, &m[0].token).await;
    let vouchers = vouchers_of(&app, pid);
    assert_eq!(vouchers.iter().filter(|r| r.1 == a0).count(), 1);
    assert_eq!(vouchers.len(), 2);
    // The stored answers are sealed: the voucher codes are nowhere in the table in clear.
    let stored: Vec<Option<String>> = platform::schema::idempotency_keys::table
        .select(platform::schema::idempotency_keys::body)
        .load(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(stored.iter().flatten().count(), 2);
    for code in [&first.body["code"], &other.body["code"]] {
        let code = code.as_str().expect("voucher code");
        assert!(stored.iter().flatten().all(|body| !body.contains(code)));
    }

    // A booking likewise; the same key with another body is refused.
    let book = |waitlist: bool| {
        book_req(&app, sid, &m[2].token, waitlist).header("Idempotency-Key", "book-k1")
    };
    let first = read(book(false).send().await.unwrap()).await;
    assert_eq!(
        (first.status, first.replayed, first.body["status"].as_str()),
        (201, false, Some("booked")),
        "{}",
        first.body
    );
    let retry = read(book(false).send().await.unwrap()).await;
    assert_eq!((retry.status, retry.replayed), (201, true));
    assert_eq!(retry.body, first.body);
    let reused = assert_problem(
        book(true).send().await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(reused["field"], "Idempotency-Key");
    let a2 = account_id(&app, &m[2].token).await;
    let bookings = bookings_of(&app, sid);
    assert_eq!(bookings, vec![(first.id(), a2, "booked".to_owned())]);
    assert_eq!(seats_of(&app, sid), (10, 1));

    // Twenty parallel retries of one keyed claim: one voucher; whoever gets a 2xx gets it.
    let replies = burst(
        (0..20)
            .map(|_| keyed_claim(&m[3].token, "claim-burst"))
            .collect(),
    )
    .await;
    let ok: Vec<&Reply> = replies
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .collect();
    assert!(!ok.is_empty(), "{:?}", tally(&replies));
    assert_eq!(
        ok.iter().filter(|r| !r.replayed).count(),
        1,
        "exactly one ran: {:?}",
        tally(&replies)
    );
    let voucher = ok[0].id();
    assert!(ok
        .iter()
        .all(|r| r.status == 201 && r.id() == voucher && r.body == ok[0].body));
    for r in replies.iter().filter(|r| !(200..300).contains(&r.status)) {
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (409, Some("idempotency_in_progress")),
            "{}",
            r.body
        );
    }
    let a3 = account_id(&app, &m[3].token).await;
    let held: Vec<i64> = vouchers_of(&app, pid)
        .into_iter()
        .filter(|r| r.1 == a3)
        .map(|r| r.0)
        .collect();
    assert_eq!(held, vec![voucher]);
    // Once settled, a retry replays it.
    let late = read(
        keyed_claim(&m[3].token, "claim-burst")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (late.status, late.replayed, late.id()),
        (201, true, voucher)
    );
    assert_eq!(stock_of(&app, pid), (Some(50), Some(47)));
}

/// What the access-rule tests below start from: in Xuanwu, a draw (its window closed later by the
/// test that tries it from the wrong district), a gift pack of 10 and a health check with a
/// session of 5 seats; members A and B (`phone(1850..1852)`). B holds a voucher and a booking of
/// the session, A a booking of their own.
struct Reach {
    app: TestApp,
    t: Districts,
    draw_id: i64,
    pid: i64,
    hc: i64,
    sid: i64,
    a: String,
    b: String,
    mine: Reply,
    vid: i64,
    bid: i64,
    vcode: String,
    bcode: String,
}

async fn reach() -> Reach {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let now = Utc::now();
    let closes = now + Duration::hours(1);
    let draw = app.published_program(&t.staff_a,
        t.xuanwu,
        json!({ "kind": "gift_pack", "mode": "draw", "title": "抽签礼包", "starts_at": (now - Duration::hours(1)).to_rfc3339(),
                "ends_at": (now + Duration::days(3)).to_rfc3339(), "entry_closes_at": closes.to_rfc3339(), "stock": 1 }),
    )
    .await;
    let draw_id = draw["id"].as_i64().unwrap();
    let pid = gift_pack(&app, &t, 10).await;
    let hc = health_check(&app, &t).await;
    let sid = session(&app, &t.staff_a, hc, 5).await;
    let m = app.bulk_members(t.xuanwu, 1850, 2, "rider").await;
    let (a, b) = (m[0].token.clone(), m[1].token.clone());

    let voucher = read(claim_req(&app, pid, &b).send().await.unwrap()).await;
    assert_eq!(voucher.status, 201);
    let booking = read(book_req(&app, sid, &b, false).send().await.unwrap()).await;
    assert_eq!(
        (booking.status, booking.body["status"].as_str()),
        (201, Some("booked"))
    );
    let mine = read(book_req(&app, sid, &a, false).send().await.unwrap()).await;
    assert_eq!(mine.status, 201);
    let (vid, bid) = (voucher.id(), booking.id());
    let vcode = voucher.body["code"].as_str().unwrap().to_owned();
    let bcode = booking.body["code"].as_str().unwrap().to_owned();
    Reach {
        app,
        t,
        draw_id,
        pid,
        hc,
        sid,
        a,
        b,
        mine,
        vid,
        bid,
        vcode,
        bcode,
    }
}

/// A request to redeem or check in `code`, as `token`.
fn scan_req(app: &TestApp, token: &str, code: &str) -> RequestBuilder {
    app.request(Method::POST, "/v1/admin/redemptions")
        .bearer_auth(token)
        .json(&json!({ "code": code }))
}

/// Xuanwu's staff redeem B's voucher (`vcode`).
async fn redeem_voucher(app: &TestApp, t: &Districts, vcode: &str) {
    let redeemed = read(scan_req(app, &t.staff_a, vcode).send().await.unwrap()).await;
    assert_eq!(
        (redeemed.status, redeemed.body["outcome"].as_str()),
        (200, Some("redeemed")),
        "{}",
        redeemed.body
    );
}

/// Xuanwu's staff check B in (`bcode`), once session `sid` is moved to now: check-in opens
/// around the session's time.
async fn check_in_booking(app: &TestApp, t: &Districts, sid: i64, bcode: &str) {
    let now = platform::clock::now();
    let moved = app
        .db
        .run(move |conn| {
            Ok(diesel::update(hs::table.find(sid))
                .set((
                    hs::starts_at.eq(now - Duration::hours(1)),
                    hs::ends_at.eq(now + Duration::hours(7)),
                ))
                .execute(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let checked = read(scan_req(app, &t.staff_a, bcode).send().await.unwrap()).await;
    assert_eq!(
        (checked.status, checked.body["outcome"].as_str()),
        (200, Some("checked_in")),
        "{}",
        checked.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_see_or_cancel_another_members_voucher_or_booking() {
    let Reach {
        app,
        sid,
        a,
        b,
        mine,
        vid,
        bid,
        ..
    } = reach().await;
    let (a, b) = (a.as_str(), b.as_str());

    // Member A cannot see or cancel B's things: 404, exactly as for what does not exist.
    assert_problem(
        app.get(&format!("/v1/me/vouchers/{vid}"), Some(a)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/me/bookings/{bid}"), Some(a)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        cancel_req(&app, bid, a).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get("/v1/me/vouchers/999999", Some(a)).await,
        404,
        "not_found",
    )
    .await;
    let still = read(app.get(&format!("/v1/me/bookings/{bid}"), Some(b)).await).await;
    assert_eq!(
        (still.status, still.body["status"].as_str()),
        (200, Some("booked"))
    );
    assert_eq!(
        bookings_of(&app, sid)
            .iter()
            .find(|r| r.0 == bid)
            .unwrap()
            .2,
        "booked"
    );
    let theirs = read(app.get("/v1/me/bookings", Some(a)).await).await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(theirs.body["items"][0]["id"], mine.id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_cannot_scan_codes_not_even_their_own() {
    let Reach {
        app,
        a,
        b,
        vcode,
        bcode,
        ..
    } = reach().await;
    let (a, b) = (a.as_str(), b.as_str());
    let scan = |token: &str, code: &str| scan_req(&app, token, code);

    // Members cannot scan codes at all, not even their own.
    assert_problem(scan(a, &vcode).send().await.unwrap(), 403, "forbidden").await;
    assert_problem(scan(b, &vcode).send().await.unwrap(), 403, "forbidden").await;
    assert_problem(scan(a, &bcode).send().await.unwrap(), 403, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_of_another_district_cannot_redeem_or_check_in_and_the_right_staff_can() {
    let Reach {
        app,
        t,
        pid,
        sid,
        b,
        vid,
        bid,
        vcode,
        bcode,
        ..
    } = reach().await;
    let b = b.as_str();
    let scan = |token: &str, code: &str| scan_req(&app, token, code);

    // Staff of another district: not found, and nothing changes.
    assert_problem(
        scan(&t.staff_b, &vcode).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_problem(
        scan(&t.staff_b, &bcode).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    let v_now = read(app.get(&format!("/v1/me/vouchers/{vid}"), Some(b)).await).await;
    assert_eq!(v_now.body["status"], "issued");
    assert!(v_now.body["redeemed_at"].is_null());
    assert_eq!(
        vouchers_of(&app, pid),
        vec![(vid, account_id(&app, b).await, "issued".to_owned())]
    );
    assert_eq!(
        bookings_of(&app, sid)
            .iter()
            .find(|r| r.0 == bid)
            .unwrap()
            .2,
        "booked"
    );

    // The right staff still can, once.
    redeem_voucher(&app, &t, &vcode).await;
    check_in_booking(&app, &t, sid, &bcode).await;
    assert_eq!(vouchers_of(&app, pid)[0].2, "redeemed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_member_reads_their_report_and_only_their_district_attaches_it() {
    let Reach {
        app,
        t,
        sid,
        a,
        b,
        bid,
        bcode,
        ..
    } = reach().await;
    check_in_booking(&app, &t, sid, &bcode).await;
    let (a, b) = (a.as_str(), b.as_str());

    // B's report: staff of another district cannot attach it; A cannot read it or its PDF.
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    let report_body = json!({
        "summary": { "blood_pressure": "120/80", "conclusion": "未见明显异常" },
        "pdf_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pdf),
    });
    let path = format!("/v1/admin/bookings/{bid}/report");
    assert_problem(
        app.post(&path, &report_body, Some(&t.staff_b)).await,
        404,
        "not_found",
    )
    .await;
    let report = read(app.post(&path, &report_body, Some(&t.staff_a)).await).await;
    assert_eq!(report.status, 201, "{}", report.body);
    let rid = report.id();
    let pdf_path = report.body["pdf_url"].as_str().unwrap().to_owned();
    assert_eq!(pdf_path, format!("/v1/me/reports/{rid}/pdf"));
    assert_problem(
        app.get(&format!("/v1/me/reports/{rid}"), Some(a)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(app.get(&pdf_path, Some(a)).await, 404, "not_found").await;
    let listed = read(app.get("/v1/me/reports", Some(a)).await).await;
    assert!(listed.body["items"].as_array().unwrap().is_empty());
    assert_eq!(
        read(app.get(&format!("/v1/me/reports/{rid}"), Some(b)).await)
            .await
            .status,
        200
    );
    let got = app.get(&pdf_path, Some(b)).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), pdf);
    // A checked-in booking of someone else is still just not found, not "not active".
    assert_problem(
        cancel_req(&app, bid, a).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
}

/// A draft gift pack of Xuanwu, created by its staff; its id.
async fn draft(app: &TestApp, t: &Districts) -> i64 {
    let (starts, ends) = open_window();
    let draft = read(
        app.post(
            &format!("/v1/admin/orgs/{}/programs", t.xuanwu),
            &json!({ "kind": "gift_pack", "title": "草稿礼包", "starts_at": starts, "ends_at": ends, "stock": 3 }),
            Some(&t.staff_a),
        )
        .await,
    )
    .await;
    assert_eq!(draft.status, 201);
    draft.id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_of_another_district_cannot_manage_a_districts_programs() {
    let Reach {
        app,
        t,
        draw_id,
        pid,
        hc,
        a,
        ..
    } = reach().await;
    let a = a.as_str();
    let draft_id = draft(&app, &t).await;

    // Staff of another district cannot manage Xuanwu's programs.
    assert_problem(
        app.post(
            &format!("/v1/admin/orgs/{}/programs", t.xuanwu),
            &draft_body(),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.post(
            &format!("/v1/admin/programs/{hc}/sessions"),
            &session_body(50),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.post(
            &format!("/v1/admin/programs/{draft_id}/publish"),
            &json!({}),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.post(
            &format!("/v1/admin/programs/{hc}/close"),
            &json!({}),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.post(
            &format!("/v1/admin/programs/{pid}/close"),
            &json!({}),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/admin/programs/{pid}/stats"), Some(&t.staff_b))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/admin/programs/{hc}/stats"), Some(&t.staff_b))
            .await,
        404,
        "not_found",
    )
    .await;
    // A member is told it is forbidden.
    assert_problem(
        app.get(&format!("/v1/admin/programs/{pid}/stats"), Some(a))
            .await,
        403,
        "forbidden",
    )
    .await;

    // Nothing changed: one session, the draft still a draft, the programs still open.
    {
        let mut conn = app.db.get().unwrap();
        let sessions: i64 = hs::table
            .filter(hs::program_id.eq(hc))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(sessions, 1);
        let statuses: Vec<(i64, String)> = p::table
            .filter(p::org_id.eq(t.xuanwu))
            .order(p::id)
            .select((p::id, p::status))
            .load(&mut *conn)
            .unwrap();
        let published = "published".to_owned();
        assert_eq!(
            statuses,
            vec![
                (draw_id, published.clone()),
                (pid, published.clone()),
                (hc, published),
                (draft_id, "draft".to_owned())
            ]
        );
        let qinhuai: i64 = p::table
            .filter(p::org_id.eq(t.qinhuai))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(qinhuai, 0);
    }
    let open = read(claim_req(&app, pid, a).send().await.unwrap()).await;
    assert_eq!(open.status, 201, "{}", open.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_districts_staff_and_an_admin_manage_its_programs() {
    let Reach {
        app,
        t,
        pid,
        hc,
        a,
        vcode,
        ..
    } = reach().await;
    // B's voucher redeemed and A's claimed, so that the stats count two claims, one redeemed.
    redeem_voucher(&app, &t, &vcode).await;
    let draft_id = draft(&app, &t).await;
    let open = read(claim_req(&app, pid, &a).send().await.unwrap()).await;
    assert_eq!(open.status, 201, "{}", open.body);

    // The right staff can see the stats, publish and close.
    let s = stats(&app, &t.staff_a, pid).await;
    assert_eq!(
        (
            s["totals"]["claimed"].as_i64(),
            s["totals"]["redeemed"].as_i64()
        ),
        (Some(2), Some(1))
    );
    let published = read(
        app.post(
            &format!("/v1/admin/programs/{draft_id}/publish"),
            &json!({}),
            Some(&t.staff_a),
        )
        .await,
    )
    .await;
    assert_eq!(published.body["status"], "published");
    let closed = read(
        app.post(
            &format!("/v1/admin/programs/{hc}/close"),
            &json!({}),
            Some(&t.staff_a),
        )
        .await,
    )
    .await;
    assert_eq!(closed.body["status"], "closed");
    // So can an admin, above every district.
    assert_eq!(stats(&app, &t.admin, pid).await["totals"]["claimed"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_programs_district_runs_its_draw_before_or_after_the_window_closes() {
    let Reach {
        app, t, draw_id, a, ..
    } = reach().await;
    let a = a.as_str();

    // The wrong district is refused before and after the window closes; the right one runs it.
    assert_problem(
        app.post(
            &format!("/v1/admin/programs/{draw_id}/draw"),
            &json!({}),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let entered = read(claim_req(&app, draw_id, a).send().await.unwrap()).await;
    assert_eq!(entered.status, 201, "{}", entered.body);
    app.close_entries(draw_id).await;
    assert_problem(
        app.post(
            &format!("/v1/admin/programs/{draw_id}/draw"),
            &json!({}),
            Some(&t.staff_b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let public = read(app.get(&format!("/v1/programs/{draw_id}/draw"), None).await).await;
    assert!(public.body["drawn_at"].is_null(), "{}", public.body);
    let drawn = read(
        app.post(
            &format!("/v1/admin/programs/{draw_id}/draw"),
            &json!({}),
            Some(&t.staff_a),
        )
        .await,
    )
    .await;
    assert_eq!(drawn.status, 200, "{}", drawn.body);
    assert_eq!(drawn.body["winners"], json!([entered.id()]));
}

fn draft_body() -> Value {
    let (starts, ends) = open_window();
    json!({ "kind": "gift_pack", "title": "越权礼包", "starts_at": starts, "ends_at": ends, "stock": 3 })
}
