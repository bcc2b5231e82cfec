//! The member's rights over their data (PIPL Art. 15, 45, 47): a copy of everything held about
//! them and nothing of anyone else, consent that can be withdrawn and is asked again for a new
//! policy text, and deletion that leaves no trace of the person in any table or file while
//! every statistic stays the same.

use diesel::prelude::*;
use gigunion_tests::reqwest::header::HeaderMap;
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{
    assert_problem, backend, legal_name, open_window, spawn_app, spawn_app_with, Districts,
    TestApp, Worker, PASSWORD,
};

/// Two members of Xuanwu, each with a membership, a gift-pack voucher, a station visit and a
/// message on the station's board.
struct Life {
    t: Districts,
    a: Worker,
    b: Worker,
    a_name: String,
    b_name: String,
    pack: i64,
    station: i64,
    codes: (String, String),
}

const A_MESSAGE: &str = "甲骑手的留言：饮水机坏了";
const B_MESSAGE: &str = "乙骑手的留言：插座没电";

async fn live(app: &TestApp) -> Life {
    let t = app.nanjing_districts((701, 702)).await;
    let code = app
        .join_code(
            &t.staff_a,
            t.xuanwu,
            json!({ "label": "入会", "auto_approve": true }),
        )
        .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (a, b) = (app.worker(710).await, app.worker(711).await);
    for w in [&a, &b] {
        assert_eq!(
            app.join(&w.token, &code).await.status(),
            StatusCode::CREATED
        );
    }
    let (starts, ends) = open_window();
    let pack = app
        .published_program(
            &t.staff_a,
            t.xuanwu,
            json!({ "kind": "gift_pack", "title": "暖新礼包", "starts_at": starts, "ends_at": ends, "stock": 5 }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let mut codes = Vec::new();
    for w in [&a, &b] {
        let res = app
            .post(
                &format!("/v1/programs/{pack}/claims"),
                &json!({}),
                Some(&w.token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        codes.push(
            res.json::<Value>().await.unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let created: Value = app
        .post(
            &format!("/v1/admin/orgs/{}/stations", t.xuanwu),
            &json!({ "name": "玄武驿站", "address": "南京市玄武区中山路1号",
                     "location": { "lat": 32.05, "lng": 118.80 }, "amenities": ["drinking_water"],
                     "hours": { "open_24h": true } }),
            Some(&t.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();
    let station = created["id"].as_i64().unwrap();
    let door = created["door_url"].as_str().unwrap();
    let door_code = door.split("?c=").nth(1).unwrap().to_owned();
    for (w, message) in [(&a, A_MESSAGE), (&b, B_MESSAGE)] {
        let visit = app
            .post(
                &format!("/v1/stations/{station}/visits"),
                &json!({ "code": door_code }),
                Some(&w.token),
            )
            .await;
        assert_eq!(
            visit.status(),
            StatusCode::CREATED,
            "{}",
            visit.text().await.unwrap()
        );
        let said = app
            .post(
                &format!("/v1/stations/{station}/feedback"),
                &json!({ "kind": "fault", "body": message }),
                Some(&w.token),
            )
            .await;
        assert_eq!(said.status(), StatusCode::CREATED);
    }
    Life {
        t,
        a,
        b,
        a_name: legal_name(710),
        b_name: legal_name(711),
        pack,
        station,
        codes: (codes[0].clone(), codes[1].clone()),
    }
}

/// The caller's export as text (to search it), with its headers.
async fn export_of(app: &TestApp, token: &str) -> (HeaderMap, String) {
    let res = app.get("/v1/me/export", Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    (headers, res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_everything_about_me_and_nothing_of_anyone_else() {
    let app = spawn_app().await;
    let life = live(&app).await;
    let (headers, text) = export_of(&app, &life.a.token).await;
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let export: Value = gigunion_tests::serde_json::from_str(&text).unwrap();
    for domain in ["identity", "membership", "benefits", "stations"] {
        assert!(export["parts"][domain].is_object(), "{domain}: {text}");
    }
    for mine in [
        &life.a.phone,
        &life.a.id_number,
        &life.a_name,
        &life.codes.0,
        "玄武区总工会",
        "暖新礼包",
        "玄武驿站",
        A_MESSAGE,
    ] {
        assert!(text.contains(mine), "{mine} missing from {text}");
    }
    for theirs in [
        &life.b.phone,
        &life.b.id_number,
        &life.b_name,
        &life.codes.1,
        B_MESSAGE,
    ] {
        assert!(!text.contains(theirs), "{theirs} leaked into {text}");
    }
    assert_problem(app.get("/v1/me/export", None).await, 401, "unauthenticated").await;
}

async fn stats(app: &TestApp, life: &Life) -> (Value, Value) {
    let program: Value = app
        .get(
            &format!("/v1/admin/programs/{}/stats", life.pack),
            Some(&life.t.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();
    let station: Value = app
        .get(
            &format!("/v1/admin/stations/{}/stats", life.station),
            Some(&life.t.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();
    (program, station)
}

/// Every stored byte that could hold the person: the database (file and WAL after a checkpoint
/// on SQLite, every row as text on PostgreSQL) and the data directory's files.
fn stored_text(app: &TestApp) -> Vec<u8> {
    let mut conn = app.db.get().unwrap();
    let mut bytes = Vec::new();
    if backend() == "sqlite" {
        diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *conn)
            .unwrap();
        let dir = app.data_dir.parent().unwrap();
        for name in ["test.db", "test.db-wal"] {
            bytes.extend(std::fs::read(dir.join(name)).unwrap_or_default());
        }
    } else {
        #[derive(QueryableByName)]
        struct Text {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let tables: Vec<Text> = diesel::sql_query(
            "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .load(&mut *conn)
        .unwrap();
        for table in tables {
            let rows: Vec<Text> =
                diesel::sql_query(format!("SELECT x::text AS t FROM \"{}\" x", table.t))
                    .load(&mut *conn)
                    .unwrap();
            for row in rows {
                bytes.extend(row.t.into_bytes());
            }
        }
    }
    for entry in walk(&app.data_dir) {
        bytes.extend(std::fs::read(entry).unwrap());
    }
    bytes
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_leaves_no_trace_and_the_same_statistics() {
    // A second code for the same phone at the end, within the minute.
    let app =
        spawn_app_with(|c| c.limits.otp_per_phone_minute = platform::Rate::per_minute(5)).await;
    let life = live(&app).await;
    let before = stats(&app, &life).await;
    let pair: Value = app
        .login(&life.a.phone, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let delete = |password: &str| {
        app.request(Method::DELETE, "/v1/me")
            .bearer_auth(&life.a.token)
            .json(&json!({ "password": password }))
            .send()
    };
    let wrong = delete("not-mine-2026").await.unwrap();
    assert_eq!(
        assert_problem(wrong, 422, "wrong_password").await["field"],
        "password"
    );
    assert_eq!(
        delete(PASSWORD).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );

    // Every token stops at once; the phone and password no longer sign in.
    assert_problem(
        app.get("/v1/me", Some(&life.a.token)).await,
        401,
        "unauthenticated",
    )
    .await;
    let refreshed = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": pair["refresh_token"] }),
            None,
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED);
    let login = app.login(&life.a.phone, PASSWORD).await;
    assert_problem(login, 401, "invalid_credentials").await;

    // The counts are what they were; the other member is untouched.
    assert_eq!(stats(&app, &life).await, before);
    let (_, theirs) = export_of(&app, &life.b.token).await;
    for kept in [&life.b.phone, &life.b_name, &life.codes.1, B_MESSAGE] {
        assert!(theirs.contains(kept), "{kept}");
    }

    let stored = stored_text(&app);
    for trace in [&life.a.phone, &life.a_name, &life.a.id_number, A_MESSAGE] {
        assert!(!holds(&stored, trace), "{trace} is still stored");
    }
    assert!(
        holds(&stored, &life.b_name),
        "the search itself finds what is there"
    );

    // The phone is free for a new account.
    let again = app.register(&life.a.phone).await;
    assert!(again["access_token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_can_be_withdrawn_and_a_new_policy_asks_again() {
    use platform::schema::consents as c;
    let app = spawn_app().await;
    let life = live(&app).await;
    let me = |token: String| {
        let app = &app;
        async move {
            let res = app.get("/v1/me", Some(&token)).await;
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(me(life.b.token.clone()).await["consent_required"], false);

    // A new policy text: the standing consent is to an older version, so the app asks again.
    diesel::update(c::table)
        .set(c::version.eq("2025-01"))
        .execute(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(me(life.b.token.clone()).await["consent_required"], true);
    // A member-to-be whose consent is to the old text joins only after agreeing again.
    let newcomer = app.worker(712).await;
    diesel::update(c::table)
        .set(c::version.eq("2025-01"))
        .execute(&mut *app.db.get().unwrap())
        .unwrap();
    let code = app
        .join_code(
            &life.t.staff_a,
            life.t.xuanwu,
            json!({ "label": "入会", "auto_approve": true }),
        )
        .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = app.join(&newcomer.token, &code).await;
    assert_eq!(
        assert_problem(refused, 422, "consent_required").await["field"],
        "consent"
    );
    let agreed = app
        .put(
            "/v1/me/identity",
            &json!({ "legal_name": legal_name(712), "id_number": newcomer.id_number, "consent": true }),
            Some(&newcomer.token),
        )
        .await;
    assert_eq!(agreed.status(), StatusCode::OK);
    assert_eq!(
        app.join(&newcomer.token, &code).await.status(),
        StatusCode::CREATED
    );
    let again = app
        .put(
            "/v1/me/identity",
            &json!({ "legal_name": life.b_name, "id_number": life.b.id_number, "consent": true }),
            Some(&life.b.token),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(me(life.b.token.clone()).await["consent_required"], false);

    // Withdrawing: the profile goes, and the membership that needs it ends.
    let withdrawn = app
        .request(Method::DELETE, "/v1/me/identity")
        .bearer_auth(&life.b.token)
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), StatusCode::NO_CONTENT);
    let after = me(life.b.token.clone()).await;
    assert!(after["real_name"].is_null(), "{after}");
    let membership: Value = app
        .get("/v1/me/membership", Some(&life.b.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(membership["current"].is_null(), "{membership}");
    let (_, text) = export_of(&app, &life.b.token).await;
    let export: Value = gigunion_tests::serde_json::from_str(&text).unwrap();
    let records = export["parts"]["identity"]["consents"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(
        records.iter().all(|r| r["withdrawn_at"].is_string()),
        "{records:?}"
    );
    assert!(!text.contains(&life.b.id_number));
    let twice = app
        .request(Method::DELETE, "/v1/me/identity")
        .bearer_auth(&life.b.token)
        .send()
        .await
        .unwrap();
    assert_problem(twice, 404, "not_found").await;
}

/// Every table that holds rows about an account is some domain's to export and erase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_with_an_account_is_covered_by_export_and_erasure() {
    let app = spawn_app().await;
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let sql = if backend() == "sqlite" {
        "SELECT m.name AS t FROM sqlite_master m, pragma_table_info(m.name) c \
         WHERE m.type = 'table' AND c.name = 'account_id'"
    } else {
        "SELECT table_name::text AS t FROM information_schema.columns \
         WHERE table_schema = 'public' AND column_name = 'account_id'"
    };
    let with_accounts: Vec<Name> = diesel::sql_query(sql)
        .load(&mut *app.db.get().unwrap())
        .unwrap();
    let covered = app.state.data_rights.tables();
    assert!(with_accounts.len() >= 10);
    for table in with_accounts {
        assert!(
            covered.contains(&table.t.as_str()),
            "{} is not covered",
            table.t
        );
    }
    assert!(covered.contains(&"accounts"));
}

/// The housekeeping job's purges keep what is young and remove what is past retention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_old_visits_and_long_expired_sessions() {
    use platform::schema::{refresh_tokens as rt, station_visits as v};
    let app = spawn_app().await;
    let life = live(&app).await;
    let keep = app.state.retention;
    let now = platform::clock::now();
    let counts = |app: &TestApp| -> (i64, i64) {
        let mut conn = app.db.get().unwrap();
        (
            v::table.count().get_result(&mut *conn).unwrap(),
            rt::table.count().get_result(&mut *conn).unwrap(),
        )
    };
    let (visits, sessions) = counts(&app);
    {
        let mut conn = app.db.get().unwrap();
        let oldest: i64 = v::table
            .select(v::id)
            .order(v::id.asc())
            .first(&mut *conn)
            .unwrap();
        diesel::update(v::table.find(oldest))
            .set(v::at.eq(now - chrono::Duration::days(401)))
            .execute(&mut *conn)
            .unwrap();
        let first: i64 = rt::table
            .select(rt::id)
            .order(rt::id.asc())
            .first(&mut *conn)
            .unwrap();
        diesel::update(rt::table.find(first))
            .set(rt::expires_at.eq(now - chrono::Duration::days(8)))
            .execute(&mut *conn)
            .unwrap();
    }
    let purged = app
        .db
        .run(move |conn| {
            Ok((
                stations::visits::purge_before(conn, keep.visits)?,
                identity::sign_in_sessions::purge_expired(conn, keep.expired_sessions)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(purged, (1, 1));
    assert_eq!(counts(&app), (visits - 1, sessions - 1));
    // Members still sign in and visit as before.
    assert_eq!(
        app.get("/v1/me", Some(&life.b.token)).await.status(),
        StatusCode::OK
    );
}

/// Two instances of one deployment: once the account is deleted on one, its tokens are refused
/// on the other too, by the Redis announcement or, without Redis, the database check every
/// two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_refused_on_every_instance() {
    let shared = gigunion_tests::SharedDatabase::new();
    let prefix = format!("gigunion-test:{}:", platform::crypto::random_token(8));
    let redis_url = std::env::var("TEST_REDIS_URL").ok();
    let redis = redis_url.as_deref().map(|url| (url, prefix.as_str()));
    let a = gigunion_tests::spawn_instance(&shared, redis).await;
    let b = gigunion_tests::spawn_instance(&shared, redis).await;
    let pair = a.register(&gigunion_tests::phone(720)).await;
    let token = pair["access_token"].as_str().unwrap();
    assert_eq!(b.get("/v1/me", Some(token)).await.status(), StatusCode::OK);

    let deleted = a
        .request(Method::DELETE, "/v1/me")
        .bearer_auth(token)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        a.get("/v1/me", Some(token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A route that reads nothing of the account but its id: only the revocation refuses it.
    let started = std::time::Instant::now();
    while b.get("/v1/me/vouchers", Some(token)).await.status() != StatusCode::UNAUTHORIZED {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(6),
            "the other instance still takes the token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Someone who is gone takes no seat and no pack: deleting the account hands its seat in a
/// session still to come to the first on the waitlist, and takes its entry out of a draw that
/// has not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_member_holds_no_seat_and_no_draw_entry() {
    let app = spawn_app().await;
    let life = live(&app).await;
    let (starts, ends) = open_window();
    let staff = &life.t.staff_a;
    let health = app
        .published_program(
            staff,
            life.t.xuanwu,
            json!({ "kind": "health_check", "title": "免费体检", "starts_at": starts, "ends_at": ends }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let day_after = chrono::Utc::now() + chrono::Duration::days(2);
    let session: Value = app
        .post(
            &format!("/v1/admin/programs/{health}/sessions"),
            &json!({ "site_name": "体检车", "address": "南京市玄武区中山路1号",
                     "starts_at": day_after.to_rfc3339(),
                     "ends_at": (day_after + chrono::Duration::hours(8)).to_rfc3339(),
                     "capacity": 1 }),
            Some(staff),
        )
        .await
        .json()
        .await
        .unwrap();
    let session = session["id"].as_i64().unwrap();
    let book = |token: &str| {
        let token = token.to_owned();
        let app = &app;
        async move {
            let res = app
                .post(
                    &format!("/v1/sessions/{session}/bookings"),
                    &json!({ "waitlist": true }),
                    Some(&token),
                )
                .await;
            assert_eq!(res.status(), StatusCode::CREATED);
            res.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(book(&life.a.token).await["status"], "booked");
    let theirs = book(&life.b.token).await;
    assert_eq!(theirs["status"], "waitlisted");

    let draw = app
        .published_program(
            staff,
            life.t.xuanwu,
            json!({ "kind": "gift_pack", "title": "抽签礼包", "mode": "draw", "stock": 1,
                    "starts_at": starts, "ends_at": ends,
                    "entry_closes_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339() }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    for w in [&life.a, &life.b] {
        let entered = app
            .post(
                &format!("/v1/programs/{draw}/claims"),
                &json!({}),
                Some(&w.token),
            )
            .await;
        assert_eq!(entered.status(), StatusCode::CREATED);
    }

    let deleted = app
        .request(Method::DELETE, "/v1/me")
        .bearer_auth(&life.a.token)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let now_theirs: Value = app
        .get(
            &format!("/v1/me/bookings/{}", theirs["id"]),
            Some(&life.b.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now_theirs["status"], "booked", "{now_theirs}");
    use platform::schema::{draw_entries as e, health_sessions as hs};
    let (booked, entries) = app
        .db
        .run(move |conn| {
            let booked: i32 = hs::table.find(session).select(hs::booked).first(conn)?;
            let entries: i64 = e::table
                .filter(e::program_id.eq(draw))
                .count()
                .get_result(conn)?;
            Ok((booked, entries))
        })
        .await
        .unwrap();
    assert_eq!((booked, entries), (1, 1), "on {}", backend());
}
