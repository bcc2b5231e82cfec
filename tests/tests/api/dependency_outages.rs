//! Dependencies going away and coming back while the server runs. A proxy between the app and
//! the real PostgreSQL or Redis stages each outage twice: as a stopped server (connections cut,
//! new ones closed at once) and as a dead link (connections cut, new ones never answered).
//! Redis down: what it guards answers 503 and the rest keeps working. PostgreSQL down: what
//! needs it answers 503, never 500 and never a hang. Both: back without a restart.
//!
//! The Redis drill runs with `TEST_REDIS_URL`, the PostgreSQL drill with a postgres
//! `TEST_DATABASE_URL` (`make test-services` sets both).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gigunion_tests::proxy::{Mode, Proxy};
use gigunion_tests::reqwest::{Method, Response, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, phone, spawn_app_on, SharedDatabase, TestApp, PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest any request may take during a drill: an outage must be answered, not waited out.
/// (The database pool gives up on a connection after 5 s.)
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// Sends a request, failing the test if no answer comes within [`ANSWER_WITHIN`].
async fn send(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> Response {
    send_json(app, method, path, None, token).await
}

async fn send_json(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> Response {
    let mut req = app.request(method.clone(), path).timeout(ANSWER_WITHIN);
    if let Some(body) = body {
        req = req.json(body);
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    match req.send().await {
        Ok(res) => res,
        Err(e) => panic!("{method} {path} got no answer within {ANSWER_WITHIN:?}: {e}"),
    }
}

async fn otp(app: &TestApp, phone: &str) -> Response {
    send_json(
        app,
        Method::POST,
        "/v1/auth/otp",
        Some(&json!({ "phone": phone })),
        None,
    )
    .await
}

async fn login(app: &TestApp, phone: &str) -> Response {
    send_json(
        app,
        Method::POST,
        "/v1/auth/login",
        Some(&json!({ "phone": phone, "password": PASSWORD })),
        None,
    )
    .await
}

async fn assert_ok(res: Response) -> Value {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn readiness(app: &TestApp) -> (StatusCode, Value) {
    let res = send(app, Method::GET, "/readyz", None).await;
    (res.status(), res.json().await.unwrap())
}

/// Polls `/readyz` until it says ready; panics after 30 s.
async fn wait_until_ready(app: &TestApp) {
    for _ in 0..60 {
        if readiness(app).await.0 == StatusCode::OK {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "not ready 30 s after the dependency came back: {:?}",
        readiness(app).await
    );
}

/// What the drills read and write: the admin, a worker, a station, and a member with a gift
/// pack to claim.
struct Fixture {
    admin: String,
    org: i64,
    worker_phone: String,
    worker: String,
    station: i64,
    member: String,
    gift_pack: i64,
}

async fn fixture(app: &TestApp) -> Fixture {
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "city", "南京市总工会", "320100")
        .await;
    let station = create_station(app, &admin, org, "珠江路驿站").await;
    let worker_phone = phone(700);
    let pair = app.register(&worker_phone).await;
    let member = app.bulk_members(org, 710, 1, "rider").await.remove(0).token;
    let now = chrono::Utc::now();
    let gift_pack = app
        .published_program(
            &admin,
            org,
            json!({
                "kind": "gift_pack", "title": "暖新礼包", "stock": 10,
                "starts_at": now - chrono::Duration::hours(1),
                "ends_at": now + chrono::Duration::days(1),
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    Fixture {
        admin,
        org,
        member,
        gift_pack,
        worker: pair["access_token"].as_str().unwrap().to_owned(),
        worker_phone,
        station,
    }
}

async fn create_station(app: &TestApp, token: &str, org: i64, name: &str) -> i64 {
    let body = json!({
        "name": name,
        "address": format!("南京市玄武区{name}"),
        "location": { "lat": 32.0486, "lng": 118.7977 },
        "amenities": ["drinking_water", "phone_charging"],
        "hours": { "open_24h": true },
    });
    let res = send_json(
        app,
        Method::POST,
        &format!("/v1/admin/orgs/{org}/stations"),
        Some(&body),
        Some(token),
    )
    .await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str::<Value>(&text).unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// The ids nearby search finds around the fixture's station.
async fn nearby(app: &TestApp) -> Vec<i64> {
    let found = assert_ok(
        send(
            app,
            Method::GET,
            "/v1/stations/nearby?lat=32.0486&lng=118.7977",
            None,
        )
        .await,
    )
    .await;
    found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_closed_and_recovers_without_restart() {
    let Ok(redis_url) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("skipped: the Redis outage drill needs TEST_REDIS_URL");
        return;
    };
    let database = SharedDatabase::new();
    let (redis, proxied) = Proxy::in_front_of(&redis_url).await;
    let prefix = format!("gigunion-test:{}:", platform::crypto::random_token(8));
    let app = spawn_app_on(&database.url, Some((&proxied, &prefix))).await;
    let f = fixture(&app).await;
    let mut next_phone = 710;

    for mode in [Mode::Refuse, Mode::Blackhole] {
        redis.set(mode).await;

        // Fail closed: no code is sent and no password is tried without the shared limits.
        next_phone += 1;
        assert_problem(
            otp(&app, &phone(next_phone)).await,
            503,
            "dependency_unavailable",
        )
        .await;
        assert_problem(
            login(&app, &f.worker_phone).await,
            503,
            "dependency_unavailable",
        )
        .await;
        assert_eq!(
            readiness(&app).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "not_ready", "database": "ok", "redis": "down" })
            ),
            "{mode:?}"
        );
        // Everything else keeps working: liveness, signed-in reads, search, programs, writes.
        assert_ok(send(&app, Method::GET, "/healthz", None).await).await;
        let me = assert_ok(send(&app, Method::GET, "/v1/me", Some(&f.worker)).await).await;
        assert_eq!(me["roles"], json!(["worker"]));
        assert_eq!(nearby(&app).await, [f.station]);
        let station = assert_ok(
            send(
                &app,
                Method::GET,
                &format!("/v1/stations/{}", f.station),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(station["name"], "珠江路驿站");
        let programs =
            assert_ok(send(&app, Method::GET, "/v1/programs", Some(&f.worker)).await).await;
        assert_eq!(programs["items"], json!([]));
        assert_ok(send(&app, Method::GET, "/.well-known/jwks.json", None).await).await;
        // A write whose announcement to other instances (Redis pub/sub) cannot go out.
        let edit = json!({ "stars": if mode == Mode::Refuse { 3 } else { 4 } });
        let path = format!("/v1/admin/stations/{}", f.station);
        let edited =
            assert_ok(send_json(&app, Method::PATCH, &path, Some(&edit), Some(&f.admin)).await)
                .await;
        assert_eq!(edited["stars"], edit["stars"]);
        // A claim: the shared sold-out mark is unreadable, the stock row answers instead.
        let claim = send(
            &app,
            Method::POST,
            &format!("/v1/programs/{}/claims", f.gift_pack),
            Some(&f.member),
        )
        .await;
        if mode == Mode::Refuse {
            assert_eq!(claim.status(), StatusCode::CREATED);
        } else {
            // The second round: the first round's claim stands.
            assert_problem(claim, 409, "already_claimed").await;
        }

        // Back: the same routes answer normally again, without a restart.
        redis.set(Mode::Forward).await;
        wait_until_ready(&app).await;
        assert_eq!(
            readiness(&app).await.1,
            json!({ "status": "ready", "database": "ok", "redis": "ok" })
        );
        next_phone += 1;
        let sent = otp(&app, &phone(next_phone)).await;
        assert_eq!(sent.status(), StatusCode::ACCEPTED, "{mode:?}");
        assert!(app.last_code(&phone(next_phone)).is_some());
        let pair = assert_ok(login(&app, &f.worker_phone).await).await;
        assert!(pair["access_token"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers_without_restart() {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {}
        _ => {
            eprintln!("skipped: the PostgreSQL outage drill needs a postgres TEST_DATABASE_URL");
            return;
        }
    }
    let database = SharedDatabase::new();
    let (postgres, proxied) = Proxy::in_front_of(&database.url).await;
    let app = Arc::new(spawn_app_on(&proxied, None).await);
    let f = fixture(&app).await;

    for (round, mode) in [Mode::Refuse, Mode::Blackhole].into_iter().enumerate() {
        // Readers and writers keep going while the database goes away, so some queries and
        // transactions are cut mid-flight.
        let stop = Arc::new(AtomicBool::new(false));
        let load: Vec<_> = (0..6)
            .map(|n| {
                let (app, stop) = (app.clone(), stop.clone());
                let (worker, admin) = (f.worker.clone(), f.admin.clone());
                let station = format!("/v1/admin/stations/{}", f.station);
                tokio::spawn(async move {
                    let mut statuses = Vec::new();
                    let mut stars = 1;
                    while !stop.load(Ordering::Relaxed) {
                        let res = if n % 2 == 0 {
                            send(&app, Method::GET, "/v1/me", Some(&worker)).await
                        } else {
                            stars = stars % 5 + 1;
                            let edit = json!({ "stars": stars });
                            send_json(&app, Method::PATCH, &station, Some(&edit), Some(&admin))
                                .await
                        };
                        statuses.push(res.status().as_u16());
                    }
                    statuses
                })
            })
            .collect();
        let found_before = nearby(&app).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        postgres.set(mode).await;

        // What needs the database says so with a 503 problem (each check concurrently: in the
        // dead-link round every one waits out the pool's connection timeout).
        let stations = format!("/v1/admin/orgs/{}/stations", f.org);
        let new_station = json!({
            "name": "停电驿站", "address": "南京市玄武区",
            "location": { "lat": 32.05, "lng": 118.79 }, "hours": { "open_24h": true },
        });
        let checks = tokio::join!(
            send(&app, Method::GET, "/v1/me", Some(&f.worker)),
            send(&app, Method::GET, "/v1/programs", Some(&f.worker)),
            login(&app, &f.worker_phone),
            send(&app, Method::GET, &stations, Some(&f.admin)),
            send_json(
                &app,
                Method::POST,
                &stations,
                Some(&new_station),
                Some(&f.admin)
            ),
            readiness(&app),
        );
        assert_problem(checks.0, 503, "dependency_unavailable").await;
        assert_problem(checks.1, 503, "dependency_unavailable").await;
        assert_problem(checks.2, 503, "dependency_unavailable").await;
        assert_problem(checks.3, 503, "dependency_unavailable").await;
        assert_problem(checks.4, 503, "dependency_unavailable").await;
        assert_eq!(
            checks.5,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "not_ready", "database": "down", "redis": "not_configured" })
            ),
            "{mode:?}"
        );
        // What does not need it keeps working: search is served from memory.
        assert_ok(send(&app, Method::GET, "/healthz", None).await).await;
        assert_eq!(nearby(&app).await, found_before);
        // Once a wait for a connection has run out, the next requests hear so at once rather
        // than after the pool's whole connection timeout (5 s).
        for _ in 0..3 {
            let asked = std::time::Instant::now();
            let res = send(&app, Method::GET, "/v1/me", Some(&f.worker)).await;
            let took = asked.elapsed();
            assert_problem(res, 503, "dependency_unavailable").await;
            assert!(
                took < Duration::from_secs(2),
                "{mode:?}: 503 after {took:?}"
            );
        }

        stop.store(true, Ordering::Relaxed);
        let mut statuses = Vec::new();
        for task in load {
            statuses.extend(task.await.unwrap());
        }
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 503),
            "{mode:?}: only 200 or 503 while the database went away, got {statuses:?}"
        );
        assert!(statuses.contains(&503), "{mode:?}: {statuses:?}");

        // Back: reads and writes work again without a restart.
        postgres.set(Mode::Forward).await;
        wait_until_ready(&app).await;
        let me = assert_ok(send(&app, Method::GET, "/v1/me", Some(&f.worker)).await).await;
        assert_eq!(me["roles"], json!(["worker"]));
        assert!(login(&app, &f.worker_phone).await.status().is_success());
        let created =
            create_station(&app, &f.admin, f.org, &format!("恢复驿站{}", round + 1)).await;
        assert!(nearby(&app).await.contains(&created), "{mode:?}");
    }
}

/// The proxy itself: it forwards, cuts open connections, refuses or holds new ones, and
/// forwards a held connection once it is switched back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_cuts_refuses_holds_and_restores() {
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = echo.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = echo.accept().await {
            tokio::spawn(async move {
                let (mut rd, mut wr) = conn.split();
                let _ = tokio::io::copy(&mut rd, &mut wr).await;
            });
        }
    });
    let proxy = Proxy::start(upstream).await;
    let connect = || tokio::net::TcpStream::connect(proxy.addr());
    async fn echo_of(conn: &mut tokio::net::TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        conn.write_all(text).await?;
        let mut buf = vec![0; text.len()];
        let read = tokio::time::timeout(Duration::from_millis(500), conn.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        buf.truncate(read);
        Ok(buf)
    }

    let mut open = connect().await.unwrap();
    assert_eq!(echo_of(&mut open, b"ping").await.unwrap(), b"ping");

    proxy.set(Mode::Refuse).await;
    let cut = echo_of(&mut open, b"ping").await;
    assert!(!matches!(cut.as_deref(), Ok(b"ping")), "{cut:?}");
    let mut refused = connect().await.unwrap();
    let answer = echo_of(&mut refused, b"ping").await;
    assert!(!matches!(answer.as_deref(), Ok(b"ping")), "{answer:?}");

    proxy.set(Mode::Blackhole).await;
    let mut held = connect().await.unwrap();
    let silence = echo_of(&mut held, b"held").await;
    assert_eq!(
        silence.unwrap_err().kind(),
        std::io::ErrorKind::TimedOut,
        "a held connection gets no answer"
    );

    proxy.set(Mode::Forward).await;
    let mut buf = [0; 4];
    tokio::time::timeout(Duration::from_secs(5), held.read_exact(&mut buf))
        .await
        .expect("the held bytes are delivered once forwarding again")
        .unwrap();
    assert_eq!(&buf, b"held");
    let mut fresh = connect().await.unwrap();
    assert_eq!(echo_of(&mut fresh, b"back").await.unwrap(), b"back");
}
