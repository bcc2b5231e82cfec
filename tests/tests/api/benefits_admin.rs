//! The staff console's benefit routes: programs of a subtree with their drafts, editing a
//! draft, moving, resizing and cancelling health-check sessions (also while riders book), a
//! session's roster as JSON and CSV, and a member's benefit ledger, each within the caller's
//! subtree only.
//!
//! Phones used here: `phone(801..802)` for registered staff; bulk members from `phone(1000)`.

use std::sync::Arc;

use chrono::{Duration, Utc};
use diesel::prelude::*;
use futures_util::future::join_all;
use gigunion_tests::reqwest::{Method, RequestBuilder, Response, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{
    assert_problem, legal_name, open_window, spawn_app, Districts, TestApp, Worker,
};
use platform::schema::{audit_log as al, bookings as b, health_sessions as hs};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((801, 802)).await
}

fn gift_body(title: &str, stock: i32) -> Value {
    let (starts, ends) = open_window();
    json!({ "kind": "gift_pack", "title": title, "starts_at": starts, "ends_at": ends,
            "stock": stock })
}

/// Creates a draft of `org` as `staff`; its view.
async fn draft(app: &TestApp, staff: &str, org: i64, body: Value) -> Value {
    let path = format!("/v1/admin/orgs/{org}/programs");
    let res = app.post(&path, &body, Some(staff)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

fn patch_req(app: &TestApp, path: &str, token: &str, body: Value) -> RequestBuilder {
    app.request(Method::PATCH, path)
        .bearer_auth(token)
        .json(&body)
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> Response {
    patch_req(app, path, token, body).send().await.unwrap()
}

async fn post(app: &TestApp, path: &str, token: &str) -> Response {
    let req = app.request(Method::POST, path).bearer_auth(token);
    req.send().await.unwrap()
}

fn book_req(app: &TestApp, session: i64, token: &str, waitlist: bool) -> RequestBuilder {
    app.request(Method::POST, &format!("/v1/sessions/{session}/bookings"))
        .bearer_auth(token)
        .json(&json!({ "waitlist": waitlist }))
}

/// Books `session` for `member`; the booking.
async fn book(app: &TestApp, session: i64, member: &Worker, waitlist: bool) -> Value {
    let req = book_req(app, session, &member.token, waitlist);
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

/// The body of a 200.
async fn body(res: Response) -> Value {
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// GET `path` as `token`, which answers 200; its body.
async fn ok(app: &TestApp, path: &str, token: &str) -> Value {
    body(app.get(path, Some(token)).await).await
}

/// How many audit entries of `action` name `record`.
fn audited(app: &TestApp, action: &str, record: &str) -> i64 {
    let mut conn = app.db.get().unwrap();
    let entries = al::table.filter(al::action.eq(action));
    let named = entries.filter(al::record.eq(record)).count();
    named.get_result(&mut *conn).unwrap()
}

/// (capacity, booked) of a session, and how many of its bookings hold a seat.
fn seats(app: &TestApp, session: i64) -> (i32, i32, i64) {
    let mut conn = app.db.get().unwrap();
    let row = hs::table.find(session).select((hs::capacity, hs::booked));
    let (capacity, booked) = row.first(&mut *conn).unwrap();
    let booked_rows = b::table.filter(b::session_id.eq(session));
    let seated = booked_rows.filter(b::status.eq("booked")).count();
    (capacity, booked, seated.get_result(&mut *conn).unwrap())
}

fn ids(list: &Value) -> Vec<i64> {
    let items = list["items"].as_array().unwrap();
    items.iter().map(|p| p["id"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_list_holds_the_drafts_of_the_subtree_and_nothing_beyond() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (health, _) = app.health_check(&t, 5).await;
    let pack = draft(&app, &t.staff_a, t.xuanwu, gift_body("冬日暖心礼包", 300)).await;
    let other = app.published_program(&t.staff_b, t.qinhuai, gift_body("秦淮区礼包", 10));
    let other = other.await["id"].as_i64().unwrap();
    let xuanwu = format!("/v1/admin/orgs/{}/programs", t.xuanwu);
    let list = ok(&app, &xuanwu, &t.staff_a).await;
    let pack_id = pack["id"].as_i64().unwrap();
    assert_eq!(ids(&list), [pack_id, health], "newest first, Xuanwu's only");
    let (drafted, checkup) = (&list["items"][0], &list["items"][1]);
    assert_eq!(drafted["status"], "draft");
    assert_eq!(
        (&drafted["stock_total"], &drafted["stock_left"]),
        (&json!(300), &json!(300))
    );
    assert_eq!(
        (&checkup["kind"], &checkup["session_count"]),
        (&json!("health_check"), &json!(1))
    );
    let drafts = ok(&app, &format!("{xuanwu}?status=draft"), &t.staff_a).await;
    assert_eq!(ids(&drafts), [pack_id]);
    // The city's staff (here the admin) see every district's; a district does not see its
    // neighbour's, exactly as for an org that does not exist.
    let city = ok(
        &app,
        &format!("/v1/admin/orgs/{}/programs", t.city),
        &t.admin,
    )
    .await;
    assert_eq!(ids(&city), [other, pack_id, health]);
    let qinhuai = format!("/v1/admin/orgs/{}/programs", t.qinhuai);
    assert_problem(app.get(&qinhuai, Some(&t.staff_a)).await, 404, "not_found").await;
    let bad = app
        .get(&format!("{xuanwu}?status=open"), Some(&t.staff_a))
        .await;
    assert_eq!(
        assert_problem(bad, 422, "invalid_field").await["field"],
        "status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_read_a_program_in_any_state_with_all_its_sessions() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pack = draft(&app, &t.staff_a, t.xuanwu, gift_body("冬日暖心礼包", 300)).await;
    let got = ok(
        &app,
        &format!("/v1/admin/programs/{}", pack["id"]),
        &t.staff_a,
    )
    .await;
    assert_eq!(
        (&got["status"], &got["title"]),
        (&json!("draft"), &json!("冬日暖心礼包"))
    );
    assert_eq!(got["sessions"], json!([]));
    let (health, session) = app.health_check(&t, 5).await;
    let path = format!("/v1/admin/programs/{health}");
    let hc = ok(&app, &path, &t.staff_a).await;
    assert_eq!(hc["sessions"][0]["id"], session);
    assert_eq!(hc["sessions"][0]["cancelled_at"], Value::Null);
    // Members never see a draft; staff of another district get 404 as for a missing one.
    let members_view = format!("/v1/programs/{}", pack["id"]);
    let hidden = app.get(&members_view, Some(&t.staff_b)).await;
    assert_problem(hidden, 404, "not_found").await;
    let beyond = app.get(&path, Some(&t.staff_b)).await;
    assert_problem(beyond, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_edited_in_part_and_audited() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let mut created = gift_body("冬日暖心礼包", 300);
    created["description"] = json!("每人一份");
    created["voucher_valid_days"] = json!(30);
    let pack = draft(&app, &t.staff_a, t.xuanwu, created).await;
    let path = format!("/v1/admin/programs/{}", pack["id"]);
    let changes = json!({ "title": "  冬日暖心礼包（加量） ", "stock": 500,
        "voucher_valid_days": null, "eligibility": { "occupations": ["rider"] } });
    let edited = body(patch(&app, &path, &t.staff_a, changes).await).await;
    assert_eq!(edited["title"], "冬日暖心礼包（加量）");
    assert_eq!(
        (&edited["stock_total"], &edited["stock_left"]),
        (&json!(500), &json!(500))
    );
    assert_eq!(edited["voucher_valid_days"], Value::Null, "null clears");
    assert_eq!(edited["eligibility"], json!({ "occupations": ["rider"] }));
    // What the patch left out stays as it was.
    assert_eq!(edited["description"], "每人一份");
    assert_eq!(
        (&edited["ends_at"], &edited["status"]),
        (&pack["ends_at"], &json!("draft"))
    );
    assert_eq!(ok(&app, &path, &t.staff_a).await["title"], edited["title"]);
    let record = format!("program:{}", pack["id"]);
    assert_eq!(audited(&app, "program.update", &record), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_or_closed_program_is_not_edited() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let body_in = gift_body("冬日暖心礼包", 300);
    let pack = app.published_program(&t.staff_a, t.xuanwu, body_in).await;
    let path = format!("/v1/admin/programs/{}", pack["id"]);
    let refused = patch(&app, &path, &t.staff_a, json!({ "stock": 1 })).await;
    let problem = assert_problem(refused, 409, "program_not_draft").await;
    assert!(problem["detail"].as_str().unwrap().contains("不能再修改"));
    let close = format!("/v1/admin/programs/{}/close", pack["id"]);
    let closed = app.post(&close, &json!({}), Some(&t.staff_a)).await;
    assert_eq!(closed.status(), StatusCode::OK);
    let refused = patch(&app, &path, &t.staff_a, json!({ "title": "改名" })).await;
    assert_problem(refused, 409, "program_not_draft").await;
    let stored = ok(&app, &path, &t.staff_a).await;
    assert_eq!(
        (&stored["title"], &stored["stock_total"]),
        (&json!("冬日暖心礼包"), &json!(300))
    );
    let record = format!("program:{}", pack["id"]);
    assert_eq!(audited(&app, "program.update", &record), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_refuse_bad_input_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pack = draft(&app, &t.staff_a, t.xuanwu, gift_body("冬日暖心礼包", 300)).await;
    let program = format!("/v1/admin/programs/{}", pack["id"]);
    let (_, sid) = app.health_check(&t, 5).await;
    let session = format!("/v1/admin/sessions/{sid}");
    let late = (Utc::now() + Duration::days(30)).to_rfc3339();
    let of_program = [
        (json!({ "starts_at": late }), "ends_at"),
        (json!({ "stock": 0 }), "stock"),
        (json!({ "mode": "draw" }), "entry_closes_at"),
        (json!({ "title": " " }), "title"),
        (json!({ "kind": "health_check" }), "kind"),
    ];
    let of_session = [
        (json!({ "capacity": 0 }), "capacity"),
        (json!({ "starts_at": late }), "starts_at"),
        (
            json!({ "location": { "lat": 95.0, "lng": 118.0 } }),
            "location",
        ),
    ];
    let cases = of_program.map(|c| (&program, c)).into_iter();
    for (path, (change, field)) in cases.chain(of_session.map(|c| (&session, c))) {
        let res = patch(&app, path, &t.staff_a, change.clone()).await;
        let problem = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(problem["field"], field, "{change}");
    }
    let stored = ok(&app, &program, &t.staff_a).await;
    assert_eq!(
        (&stored["stock_total"], &stored["mode"]),
        (&json!(300), &json!("first_come"))
    );
    assert_eq!(seats(&app, sid).0, 5);
    assert_eq!(
        audited(&app, "session.update", &format!("session:{sid}")),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_cannot_go_below_the_seats_booked() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (_, sid) = app.health_check(&t, 3).await;
    let m = app.bulk_members(t.xuanwu, 1000, 3, "rider").await;
    book(&app, sid, &m[0], false).await;
    book(&app, sid, &m[1], false).await;
    let path = format!("/v1/admin/sessions/{sid}");
    let too_small = json!({ "capacity": 1, "site_name": "新地点" });
    let refused = patch(&app, &path, &t.staff_a, too_small).await;
    assert_problem(refused, 409, "capacity_below_booked").await;
    let session = body(patch(&app, &path, &t.staff_a, json!({ "capacity": 2 })).await).await;
    assert_eq!(
        (&session["capacity"], &session["seats_left"]),
        (&json!(2), &json!(0))
    );
    let site = &session["site_name"];
    assert_eq!(
        site, "玄武区户外劳动者驿站",
        "the refused change wrote nothing"
    );
    let late = book_req(&app, sid, &m[2].token, false)
        .send()
        .await
        .unwrap();
    assert_problem(late, 409, "full").await;
    assert_eq!(seats(&app, sid), (2, 2, 2));
    assert_eq!(
        audited(&app, "session.update", &format!("session:{sid}")),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_added_to_a_session_go_to_its_waitlist_in_order() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (_, sid) = app.health_check(&t, 1).await;
    let m = app.bulk_members(t.xuanwu, 1000, 4, "rider").await;
    book(&app, sid, &m[0], false).await;
    let mut waiting = Vec::new();
    for member in &m[1..] {
        waiting.push(book(&app, sid, member, true).await["id"].as_i64().unwrap());
    }
    let path = format!("/v1/admin/sessions/{sid}");
    let session = body(patch(&app, &path, &t.staff_a, json!({ "capacity": 3 })).await).await;
    assert_eq!(session["seats_left"], 0);
    let mut statuses = Vec::new();
    for (member, id) in m[1..].iter().zip(&waiting) {
        let mine = ok(&app, &format!("/v1/me/bookings/{id}"), &member.token).await;
        statuses.push(mine["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        statuses,
        ["booked", "booked", "waitlisted"],
        "the first two waiting"
    );
    assert_eq!(seats(&app, sid), (3, 3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_session_cancels_its_bookings_and_refuses_new_ones() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (program, sid) = app.health_check(&t, 1).await;
    let m = app.bulk_members(t.xuanwu, 1000, 3, "rider").await;
    let seated = book(&app, sid, &m[0], false).await;
    let waiting = book(&app, sid, &m[1], true).await;
    let path = format!("/v1/admin/sessions/{sid}");
    let cancel = format!("{path}/cancel");
    let cancelled = body(post(&app, &cancel, &t.staff_a).await).await;
    assert_eq!(cancelled["bookings_cancelled"], 2);
    assert!(cancelled["cancelled_at"].is_string());
    for (member, booking) in [(&m[0], &seated), (&m[1], &waiting)] {
        let mine = format!("/v1/me/bookings/{}", booking["id"]);
        assert_eq!(ok(&app, &mine, &member.token).await["status"], "cancelled");
        let ledger = ok(&app, "/v1/me/benefits", &member.token).await;
        assert_eq!(ledger["items"][0]["kind"], "cancelled");
    }
    let refused = book_req(&app, sid, &m[2].token, true).send().await.unwrap();
    assert_problem(refused, 409, "session_cancelled").await;
    let listed = ok(
        &app,
        &format!("/v1/programs/{program}/sessions"),
        &m[2].token,
    )
    .await;
    assert_eq!(listed["items"], json!([]), "members no longer see it");
    let edit = patch(&app, &path, &t.staff_a, json!({ "capacity": 5 })).await;
    assert_problem(edit, 409, "session_cancelled").await;
    let again = body(post(&app, &cancel, &t.staff_a).await).await;
    assert_eq!(
        again["bookings_cancelled"], 0,
        "cancelling twice changes nothing"
    );
    assert_eq!(seats(&app, sid), (1, 0, 0));
    assert_eq!(
        audited(&app, "session.cancel", &format!("session:{sid}")),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shrinking_a_session_while_riders_book_never_leaves_more_bookings_than_seats() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (_, sid) = app.health_check(&t, 60).await;
    let members = app.bulk_members(t.xuanwu, 1000, 80, "rider").await;
    let path = format!("/v1/admin/sessions/{sid}");
    let mut requests: Vec<(bool, RequestBuilder)> = members
        .iter()
        .map(|m| (false, book_req(&app, sid, &m.token, false)))
        .collect();
    // Staff shrink the session step by step while the crowd books: 50, 40 ... 10 seats.
    for (i, capacity) in [50, 40, 30, 20, 10].into_iter().enumerate() {
        let req = patch_req(&app, &path, &t.staff_a, json!({ "capacity": capacity }));
        requests.insert(i * 16, (true, req));
    }
    // All at once: each on its own task, released together.
    let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
    let replies = join_all(requests.into_iter().map(|(is_patch, req)| {
        let barrier = barrier.clone();
        tokio::spawn(async move {
            barrier.wait().await;
            let res = req.send().await.unwrap();
            (
                is_patch,
                res.status().as_u16(),
                res.json::<Value>().await.unwrap(),
            )
        })
    }))
    .await;
    let mut booked = 0;
    for (is_patch, status, reply) in replies.into_iter().map(Result::unwrap) {
        match (is_patch, status) {
            (true, 200) => assert!(reply["seats_left"].as_i64().unwrap() >= 0, "{reply}"),
            (true, 409) => assert_eq!(reply["code"], "capacity_below_booked"),
            (false, 201) => booked += 1,
            (false, 409) => assert_eq!(reply["code"], "full"),
            other => panic!("unexpected {other:?}: {reply}"),
        }
    }
    let (capacity, counter, seated) = seats(&app, sid);
    assert!(
        seated <= i64::from(capacity),
        "{seated} bookings on {capacity} seats"
    );
    assert_eq!((i64::from(counter), seated), (booked, booked));
}

/// A session of Xuanwu with `m[0]` booked and `m[1]` waiting; its id and the two bookings.
async fn booked_session(app: &TestApp, t: &Districts, m: &[Worker]) -> (i64, Value, Value) {
    let (_, sid) = app.health_check(t, 1).await;
    let first = book(app, sid, &m[0], false).await;
    let second = book(app, sid, &m[1], true).await;
    (sid, first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_lists_the_booked_riders_masked() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let m = app.bulk_members(t.xuanwu, 1000, 2, "rider").await;
    let (sid, first, second) = booked_session(&app, &t, &m).await;
    let page = ok(
        &app,
        &format!("/v1/admin/sessions/{sid}/bookings"),
        &t.staff_a,
    )
    .await;
    let rows = page["items"].as_array().unwrap();
    let row = |r: &Value| {
        let fields = ["booking_id", "status", "name_masked", "phone_masked"];
        fields.map(|f| r[f].clone())
    };
    let (booked, waiting) = (json!("booked"), json!("waitlisted"));
    let name = json!("骑*****");
    assert_eq!(
        row(&rows[0]),
        [
            second["id"].clone(),
            waiting,
            name.clone(),
            json!("139****1001")
        ]
    );
    assert_eq!(
        row(&rows[1]),
        [first["id"].clone(), booked, name, json!("139****1000")]
    );
    assert!(rows[1]["member_no"].is_string() && rows[1]["checked_in_at"].is_null());
    let text = page.to_string();
    assert!(
        !text.contains(&m[0].phone) && !text.contains(&legal_name(1000)),
        "{text}"
    );
    assert_eq!(audited(&app, "bookings.list", &format!("session:{sid}")), 1);
    let beyond = format!("/v1/admin/sessions/{sid}/bookings");
    assert_problem(app.get(&beyond, Some(&t.staff_b)).await, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_file_lists_the_same_riders_masked_as_csv() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let m = app.bulk_members(t.xuanwu, 1000, 2, "rider").await;
    let (sid, first, _) = booked_session(&app, &t, &m).await;
    let path = format!("/v1/admin/sessions/{sid}/bookings?format=csv");
    let csv = app.get(&path, Some(&t.staff_a)).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.headers()["cache-control"], "no-store");
    let file = csv.text().await.unwrap();
    let lines: Vec<&str> = file.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "\u{feff}预约编号,姓名,手机号,会员编号,状态,预约时间,签到时间"
    );
    assert!(lines[1].contains(",骑*****,139****1001,") && lines[1].contains(",候补中,"));
    let seated = format!("{},骑*****,139****1000,", first["id"]);
    assert!(
        lines[2].starts_with(&seated) && lines[2].contains(",已预约,"),
        "{file}"
    );
    assert_eq!(lines.len(), 4, "two rows and the last line end");
    assert!(!file.contains(&m[0].phone) && !file.contains(&legal_name(1000)));
    let en = app.get(&format!("{path}&lang=en"), Some(&t.staff_a)).await;
    let header = "booking_id,name_masked,phone_masked,member_no,status,booked_at,checked_in_at";
    assert!(en
        .text()
        .await
        .unwrap()
        .starts_with(&format!("\u{feff}{header}\r\n")));
    assert_eq!(
        audited(&app, "bookings.export", &format!("session:{sid}")),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_ledger_is_read_by_staff_of_the_members_subtree_only() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let pack = app.published_program(&t.staff_a, t.xuanwu, gift_body("冬日暖心礼包", 10));
    let pack = pack.await;
    let m = app.bulk_members(t.xuanwu, 1000, 1, "rider").await;
    let claims = format!("/v1/programs/{}/claims", pack["id"]);
    let claimed = app.post(&claims, &json!({}), Some(&m[0].token)).await;
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let members = format!("/v1/admin/orgs/{}/members", t.xuanwu);
    let membership = ok(&app, &members, &t.staff_a).await["items"][0]["membership_id"].clone();
    let path = format!("/v1/admin/members/{membership}/benefits");
    let ledger = ok(&app, &path, &t.staff_a).await;
    let entry = &ledger["items"][0];
    assert_eq!(
        (&entry["kind"], &entry["program_id"]),
        (&json!("claimed"), &pack["id"])
    );
    assert_eq!(
        ok(&app, &path, &t.admin).await,
        ledger,
        "the city above sees it too"
    );
    // Another district's staff hear what they would for a membership that does not exist.
    assert_problem(app.get(&path, Some(&t.staff_b)).await, 404, "not_found").await;
    let missing = app
        .get("/v1/admin/members/999999/benefits", Some(&t.staff_a))
        .await;
    assert_problem(missing, 404, "not_found").await;
    assert_problem(app.get(&path, Some(&m[0].token)).await, 403, "forbidden").await;
    let bad = app.get(&format!("{path}?limit=0"), Some(&t.staff_a)).await;
    assert_eq!(
        assert_problem(bad, 422, "invalid_field").await["field"],
        "limit"
    );
    assert_eq!(
        audited(&app, "ledger.view", &format!("membership:{membership}")),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_of_another_district_can_neither_see_nor_change_its_sessions() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (program, sid) = app.health_check(&t, 5).await;
    let m = app.bulk_members(t.xuanwu, 1000, 1, "rider").await;
    book(&app, sid, &m[0], false).await;
    let session = format!("/v1/admin/sessions/{sid}");
    let attempts = [
        (
            Method::PATCH,
            session.clone(),
            Some(json!({ "capacity": 9 })),
        ),
        (Method::POST, format!("{session}/cancel"), None),
        (Method::GET, format!("{session}/bookings"), None),
        (Method::GET, format!("{session}/bookings?format=csv"), None),
        (
            Method::PATCH,
            format!("/v1/admin/programs/{program}"),
            Some(json!({ "title": "改" })),
        ),
    ];
    for (method, path, change) in attempts {
        let mut req = app.request(method, &path).bearer_auth(&t.staff_b);
        if let Some(change) = change {
            req = req.json(&change);
        }
        assert_problem(req.send().await.unwrap(), 404, "not_found").await;
    }
    assert_eq!(seats(&app, sid), (5, 1, 1));
    let mut conn = app.db.get().unwrap();
    let of_session = al::table.filter(al::record.eq(format!("session:{sid}")));
    let actions: Vec<String> = of_session.select(al::action).load(&mut *conn).unwrap();
    assert_eq!(actions, ["session.create"]);
}
