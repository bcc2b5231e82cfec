//! Floods, storms and bad input: the service says no clearly and keeps serving.

use std::time::Duration;

use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{
    assert_problem, phone, spawn_app, spawn_app_with, spawn_app_with_dead_redis, PASSWORD,
};
use platform::Rate;

fn retry_after(res: &gigunion_tests::reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .expect("429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_flood_is_rate_limited_per_phone_per_day() {
    // Lift the per-minute limit to reach the daily one (10 per phone) quickly.
    let app = spawn_app_with(|c| c.limits.otp_per_phone_minute = Rate::per_minute(100)).await;
    let rider = phone(20);
    for _ in 0..10 {
        app.otp(&rider).await;
    }
    let flood = app
        .post("/v1/auth/otp", &json!({ "phone": rider }), None)
        .await;
    let wait = retry_after(&flood);
    // GCRA spreads 10/day: the next code is allowed one interval (2.4 h) later, not tomorrow.
    assert!((60..=86_400).contains(&wait), "Retry-After {wait}");
    assert_problem(flood, 429, "rate_limited").await;
    // Another phone is not affected.
    app.otp(&phone(21)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_flood_from_one_address_is_limited() {
    let app = spawn_app_with(|c| c.limits.otp_per_ip = Rate::per_minute(3)).await;
    for n in 0..3 {
        app.otp(&phone(30 + n)).await;
    }
    let flood = app
        .post("/v1/auth/otp", &json!({ "phone": phone(39) }), None)
        .await;
    assert!(retry_after(&flood) >= 1);
    assert_problem(flood, 429, "rate_limited").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flood_is_rate_limited_per_phone_and_per_address() {
    let app = spawn_app_with(|c| {
        c.proxies = platform::client_addr::ProxyTrust::parse("127.0.0.0/8").unwrap();
        c.limits.login_per_phone_any_address = Rate::per(15, Duration::from_secs(3600));
    })
    .await;
    let rider = phone(40);
    app.register(&rider).await;
    let login_from = |address: &str, password: &str| {
        app.request(Method::POST, "/v1/auth/login")
            .header("X-Forwarded-For", address)
            .json(&json!({ "phone": rider, "password": password }))
            .send()
    };
    // Default: 10 attempts per phone from one address per 15 minutes.
    for _ in 0..10 {
        let guess = login_from("198.51.100.1", "guess12345").await.unwrap();
        assert_problem(guess, 401, "invalid_credentials").await;
    }
    let locked = login_from("198.51.100.1", PASSWORD).await.unwrap();
    assert!(retry_after(&locked) >= 60);
    assert_problem(locked, 429, "rate_limited").await;
    // The owner, somewhere else, still signs in.
    let owner = login_from("203.0.113.9", PASSWORD).await.unwrap();
    assert_eq!(owner.status(), StatusCode::OK);
    // A guesser spread over many addresses meets the limit of all addresses together.
    // 15 for the test: ten guesses and the owner so far, four more now.
    for n in 0..4 {
        let guess = login_from(&format!("192.0.2.{n}"), "guess12345")
            .await
            .unwrap();
        assert_problem(guess, 401, "invalid_credentials").await;
    }
    let spread = login_from("192.0.2.200", "guess12345").await.unwrap();
    assert_problem(spread, 429, "rate_limited").await;

    let app = spawn_app_with(|c| c.limits.login_per_ip = Rate::per_minute(5)).await;
    for n in 0..5 {
        app.login(&phone(50 + n), PASSWORD).await;
    }
    let flood = app.login(&phone(59), PASSWORD).await;
    assert!(retry_after(&flood) >= 1);
    assert_problem(flood, 429, "rate_limited").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_parallel_logins_complete_while_health_keeps_answering() {
    let app = spawn_app().await;
    // 20 accounts x 5 logins: within the per-phone limit, so every login must succeed.
    let riders: Vec<String> = (0..20).map(|n| phone(60 + n)).collect();
    for rider in &riders {
        app.register(rider).await;
    }
    let logins =
        futures_util::future::join_all((0..100).map(|i| app.login(&riders[i % 20], PASSWORD)));
    let health = async {
        let mut answered = 0;
        for _ in 0..20 {
            let res = app.get("/healthz", None).await;
            assert_eq!(res.status(), StatusCode::OK);
            answered += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        answered
    };
    let (results, answered) = tokio::join!(logins, health);
    assert_eq!(answered, 20);
    let ok = results
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(
        ok,
        100,
        "statuses: {:?}",
        results.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_problem_json_never_a_500() {
    let app = spawn_app().await;
    let malformed = app
        .request(Method::POST, "/v1/auth/login")
        .header("content-type", "application/json")
        .body("{\"phone\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 400, "malformed_request").await;

    let wrong_type = app
        .request(Method::POST, "/v1/auth/login")
        .header("content-type", "text/plain")
        .body("phone=13900000001")
        .send()
        .await
        .unwrap();
    assert_problem(wrong_type, 415, "unsupported_media_type").await;

    let huge = json!({ "phone": "13900000001", "password": "x".repeat(100_000) });
    let too_large = app.post("/v1/auth/login", &huge, None).await;
    assert_problem(too_large, 413, "payload_too_large").await;

    let wrong_shape = app
        .post("/v1/auth/login", &json!({ "phone": 13900000001u64 }), None)
        .await;
    assert_problem(wrong_shape, 422, "invalid_field").await;

    let unknown = app.get("/v1/nothing-here", None).await;
    assert_problem(unknown, 404, "not_found").await;
    let wrong_method = app
        .request(Method::DELETE, "/v1/auth/login")
        .send()
        .await
        .unwrap();
    assert_problem(wrong_method, 405, "method_not_allowed").await;
    let no_token = app.get("/v1/me", None).await;
    assert_problem(no_token, 401, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_and_readyz_says_so() {
    let app = spawn_app_with_dead_redis().await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "status": "not_ready", "database": "ok", "redis": "down" })
    );
    // What needs Redis refuses with 503 rather than running unlimited...
    let otp = app
        .post("/v1/auth/otp", &json!({ "phone": phone(90) }), None)
        .await;
    assert_problem(otp, 503, "dependency_unavailable").await;
    let login = app.login(&phone(90), PASSWORD).await;
    assert_problem(login, 503, "dependency_unavailable").await;
    // ...and what does not keeps working.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/.well-known/jwks.json", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints_answer() {
    let app = spawn_app().await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    let expected_redis = if std::env::var("TEST_REDIS_URL").is_ok() {
        "ok"
    } else {
        "not_configured"
    };
    assert_eq!(body["redis"], expected_redis);

    app.get("/healthz", None).await;
    // Metrics are for the operator's scraper only: without the token they do not exist.
    assert_problem(app.get("/metrics", None).await, 404, "not_found").await;
    assert_problem(app.get("/metrics", Some("guess")).await, 404, "not_found").await;
    let metrics = app
        .get("/metrics", Some(gigunion_tests::METRICS_TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));

    let echoed = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc-123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_browser_hardening_headers() {
    let app = spawn_app().await;
    let rider = app.register(&phone(80)).await;
    let token = rider["access_token"].as_str().unwrap();
    // JSON, a problem, HTML and SVG alike.
    for (path, bearer) in [
        ("/healthz", None),
        ("/v1/nothing-here", None),
        ("/j/unknowncode1", None),
        ("/v1/me", Some(token)),
    ] {
        let res = app.get(path, bearer).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{path}: {csp}");
        // The test server's public URL is http: no HSTS.
        assert!(h.get("strict-transport-security").is_none(), "{path}");
    }
}

/// Sends the head of a keyed POST declaring a 15 MiB body, then 1 KiB of it, and returns the
/// status the server answers with before the rest arrives (a server that waited to buffer the
/// whole body would never answer).
async fn answer_to_a_large_keyed_body(app: &gigunion_tests::TestApp, token: Option<&str>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut head = format!(
        "POST /v1/memberships HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Idempotency-Key: large-1\r\nContent-Length: {}\r\n",
        15 << 20
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b' '; 1024]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the whole body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_request_buffers_nothing_for_strangers_and_no_more_than_the_route_takes() {
    let app = spawn_app().await;
    // Not signed in: refused before any of the body is held.
    assert_eq!(answer_to_a_large_keyed_body(&app, None).await, 401);
    assert_eq!(
        answer_to_a_large_keyed_body(&app, Some("not-a-token")).await,
        401
    );
    // Signed in: the declared length is over the route's limit, refused before reading.
    let rider = app.worker(60).await;
    assert_eq!(
        answer_to_a_large_keyed_body(&app, Some(&rider.token)).await,
        413
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_the_limit_counts_the_address_the_proxy_saw() {
    let app = spawn_app_with(|c| {
        c.limits.otp_per_ip = Rate::per_minute(3);
        c.proxies = platform::client_addr::ProxyTrust::parse("127.0.0.0/8").unwrap();
    })
    .await;
    // The client writes a new address on the left each time; our proxy appends the real one.
    let otp = |n: u32, forwarded: String| {
        app.request(Method::POST, "/v1/auth/otp")
            .header("X-Forwarded-For", forwarded)
            .json(&json!({ "phone": phone(70 + n) }))
            .send()
    };
    for n in 0..3 {
        let sent = otp(n, format!("198.51.100.{n}, 203.0.113.7"))
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::ACCEPTED);
    }
    let forged = otp(3, "198.51.100.99, 203.0.113.7".to_owned())
        .await
        .unwrap();
    assert_problem(forged, 429, "rate_limited").await;
    // Another client behind the same proxy has its own limit.
    let other = otp(4, "203.0.113.8".to_owned()).await.unwrap();
    assert_eq!(other.status(), StatusCode::ACCEPTED);
}

/// A stranger who keeps guessing a rider's password from one address slows that address
/// down, not the rider: sign-in by SMS code stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_does_not_lock_out_code_sign_in() {
    let app = spawn_app_with(|c| {
        c.limits.login_per_phone = Rate::per(3, Duration::from_secs(900));
        c.limits.otp_per_phone_minute = Rate::per_minute(10);
    })
    .await;
    let rider = phone(45);
    app.register(&rider).await;
    for _ in 0..3 {
        assert_problem(
            app.login(&rider, "guess12345").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_problem(app.login(&rider, PASSWORD).await, 429, "rate_limited").await;
    let code = app.otp(&rider).await;
    let by_code = app
        .post(
            "/v1/auth/login",
            &json!({ "phone": rider, "code": code }),
            None,
        )
        .await;
    assert_eq!(by_code.status(), StatusCode::OK);
}

/// A service fair: 300 riders sign up over the venue's one Wi-Fi address within the hour,
/// with the default limits, while a phone asking for a second code within the minute is
/// still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_sign_ups_from_one_address_go_through() {
    let app = spawn_app().await;
    let riders: Vec<String> = (0..300).map(|n| phone(1000 + n)).collect();
    let app = &app;
    let sign_up = |rider: &String| {
        let rider = rider.clone();
        async move {
            let code = app.otp(&rider).await;
            app.try_register(&rider, &code, PASSWORD).await.status()
        }
    };
    let mut created = 0;
    for chunk in riders.chunks(20) {
        let statuses = futures_util::future::join_all(chunk.iter().map(sign_up)).await;
        created += statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
    }
    assert_eq!(created, 300);
    let again = app
        .post("/v1/auth/otp", &json!({ "phone": riders[0] }), None)
        .await;
    assert_problem(again, 429, "rate_limited").await;
}

/// The hourly SMS budget is shared by every phone and address: once used up, codes are
/// refused with 503 and the wait until the next hour, and the counter is on /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hourly_sms_budget_caps_every_sender_together() {
    let app = spawn_app_with(|c| c.limits.sms_per_hour = 5).await;
    // The budget counts clock hours: this app's clock a second past the turn of one.
    let now = app.now();
    let into_hour = now.timestamp().rem_euclid(3600);
    app.advance_clock(chrono::TimeDelta::seconds(3600 - into_hour + 1));
    for n in 0..5 {
        app.otp(&phone(1400 + n)).await;
    }
    let over = app
        .post("/v1/auth/otp", &json!({ "phone": phone(1409) }), None)
        .await;
    let wait = retry_after(&over);
    assert!((3500..=3599).contains(&wait), "Retry-After {wait}");
    assert_problem(over, 503, "sms_budget_exhausted").await;
    assert!(app.last_code(&phone(1409)).is_none());
    // The next hour has a budget of its own.
    app.advance_clock(chrono::TimeDelta::seconds(wait as i64));
    app.otp(&phone(1408)).await;
    let metrics = app
        .request(Method::GET, "/metrics")
        .bearer_auth(gigunion_tests::METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The gauges are the process's; other tests' apps in this binary set them too.
    assert!(
        metrics.contains("gigunion_sms_budget_per_hour "),
        "{metrics}"
    );
    assert!(
        metrics.contains("gigunion_sms_sent_this_hour "),
        "{metrics}"
    );
}

/// A 422 names what to fix: the missing field, or the path of the mistyped one. Staff routes
/// first ask who is calling: a rider with a bad body hears 403, a stranger 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_name_the_field_and_staff_routes_ask_who_first() {
    let app = spawn_app().await;
    let missing = app
        .post(
            "/v1/auth/register",
            &json!({ "phone": phone(70), "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(
        assert_problem(missing, 422, "missing_field").await["field"],
        "code"
    );
    let mistyped = app
        .post("/v1/auth/otp", &json!({ "phone": 13900000070u64 }), None)
        .await;
    assert_eq!(
        assert_problem(mistyped, 422, "invalid_field").await["field"],
        "phone"
    );

    let rider = app.register(&phone(71)).await;
    let rider = rider["access_token"].as_str().unwrap();
    let admin = app.admin().await;
    let org_route = "/v1/admin/orgs";
    let no_kind = json!({ "name": "南京市总工会", "region_code": "320100" });
    let stranger = app.post(org_route, &no_kind, None).await;
    assert_problem(stranger, 401, "unauthenticated").await;
    let worker = app.post(org_route, &no_kind, Some(rider)).await;
    assert_problem(worker, 403, "forbidden").await;
    let garbage = app
        .request(Method::POST, org_route)
        .bearer_auth(rider)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(garbage, 403, "forbidden").await;
    let staff = app.post(org_route, &no_kind, Some(&admin)).await;
    assert_eq!(
        assert_problem(staff, 422, "missing_field").await["field"],
        "kind"
    );
}
