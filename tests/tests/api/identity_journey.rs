//! The whole identity journey over HTTP, as the phone app drives it.

use diesel::prelude::*;
use gigunion_tests::reqwest::StatusCode;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, phone, spawn_app, spawn_app_with, PASSWORD};
use platform::Rate;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_me_refresh_logout_and_change_password() {
    let app = spawn_app().await;
    let rider = phone(1);

    // Register with the code the SMS sender delivered.
    let pair = app.register(&rider).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 30 * 86_400);
    let access = pair["access_token"].as_str().unwrap();

    // A second code within the minute is refused, with how long to wait.
    let soon = app
        .post("/v1/auth/otp", &json!({ "phone": rider }), None)
        .await;
    let wait: u64 = soon.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_problem(soon, 429, "rate_limited").await;

    // Me: roles and a masked phone, never the full number.
    let me = app.get("/v1/me", Some(access)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["roles"], json!(["worker"]));
    assert_eq!(me["phone_masked"], "139****0001");
    assert!(me["real_name"].is_null());
    assert!(!me.to_string().contains(&rider));

    // Login: unknown phone and wrong password are indistinguishable.
    let wrong = assert_problem(
        app.login(&rider, "wrong2026").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        app.login(&phone(999), PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
    let login = app.login(&rider, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let session: Value = login.json().await.unwrap();

    // Refresh rotates: a new pair, and the new refresh token works in turn.
    let first = session["refresh_token"].as_str().unwrap().to_owned();
    let rotated: Value = app
        .post("/v1/auth/refresh", &json!({ "refresh_token": first }), None)
        .await
        .json()
        .await
        .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let me = app.get("/v1/me", rotated["access_token"].as_str()).await;
    assert_eq!(me.status(), StatusCode::OK);

    // A lost response: the immediate retry of the same refresh gets the same new pair.
    let retry: Value = app
        .post("/v1/auth/refresh", &json!({ "refresh_token": first }), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retry, rotated);

    let third: Value = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": second }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let third_refresh = third["refresh_token"].as_str().unwrap().to_owned();

    // Logout revokes the family: its current refresh token no longer works.
    let logout = app
        .post(
            "/v1/auth/logout",
            &json!({ "refresh_token": third_refresh }),
            third["access_token"].as_str(),
        )
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": third_refresh }),
            None,
        )
        .await;
    assert_problem(after, 401, "invalid_refresh_token").await;

    // Password change: wrong old password refused; success revokes other sessions.
    let other: Value = app.login(&rider, PASSWORD).await.json().await.unwrap();
    let bad = app
        .post(
            "/v1/auth/password",
            &json!({ "old_password": "nope12345", "new_password": "newpass2026" }),
            Some(access),
        )
        .await;
    assert_problem(bad, 422, "wrong_password").await;
    let weak = app
        .post(
            "/v1/auth/password",
            &json!({ "old_password": PASSWORD, "new_password": "short" }),
            Some(access),
        )
        .await;
    assert_problem(weak, 422, "weak_password").await;
    let changed = app
        .post(
            "/v1/auth/password",
            &json!({ "old_password": PASSWORD, "new_password": "newpass2026" }),
            Some(access),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let fresh: Value = changed.json().await.unwrap();
    let revoked = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": other["refresh_token"] }),
            None,
        )
        .await;
    assert_problem(revoked, 401, "invalid_refresh_token").await;
    let kept = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": fresh["refresh_token"] }),
            None,
        )
        .await;
    assert_eq!(kept.status(), StatusCode::OK);
    assert_problem(
        app.login(&rider, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login(&rider, "newpass2026").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    // No grace window, so the second use of a token is a reuse at once.
    let app = spawn_app_with(|c| c.refresh_grace = std::time::Duration::ZERO).await;
    let pair = app.register(&phone(2)).await;
    let stolen = pair["refresh_token"].as_str().unwrap().to_owned();

    let legit: Value = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": stolen }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let reuse = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": stolen }),
            None,
        )
        .await;
    assert_problem(reuse, 401, "refresh_token_reused").await;

    // The legitimate holder's newer token died with the family.
    let legit_refresh = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": legit["refresh_token"] }),
            None,
        )
        .await;
    assert_problem(legit_refresh, 401, "invalid_refresh_token").await;

    // Another sign-in is a separate family and unaffected.
    assert_eq!(
        app.login(&phone(2), PASSWORD).await.status(),
        StatusCode::OK
    );
}

/// Lifetimes follow the app's clock: an access token is taken for 15 minutes (and 30 s of
/// leeway), a rotated refresh token presented again within 10 s gets the same pair, after
/// that the family is revoked as stolen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_live_as_long_as_the_apps_clock_says() {
    let app = spawn_app().await;
    let pair = app.register(&phone(7)).await;
    let access = pair["access_token"].as_str().unwrap();
    app.advance_clock(chrono::TimeDelta::minutes(15));
    assert_eq!(
        app.get("/v1/me", Some(access)).await.status(),
        StatusCode::OK
    );
    app.advance_clock(chrono::TimeDelta::minutes(1));
    assert_problem(
        app.get("/v1/me", Some(access)).await,
        401,
        "unauthenticated",
    )
    .await;

    let refresh = json!({ "refresh_token": pair["refresh_token"] });
    let rotated: Value = app
        .post("/v1/auth/refresh", &refresh, None)
        .await
        .json()
        .await
        .unwrap();
    let fresh = rotated["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/me", Some(fresh)).await.status(),
        StatusCode::OK
    );
    app.advance_clock(chrono::TimeDelta::seconds(9));
    let retried: Value = app
        .post("/v1/auth/refresh", &refresh, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retried, rotated);
    app.advance_clock(chrono::TimeDelta::seconds(2));
    let late = app.post("/v1/auth/refresh", &refresh, None).await;
    assert_problem(late, 401, "refresh_token_reused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_codes_are_single_use_and_burn_after_five_wrong_tries() {
    let app = spawn_app_with(|c| c.limits.otp_per_phone_minute = Rate::per_minute(10)).await;
    let rider = phone(3);
    let code = app.otp(&rider).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        let res = app.try_register(&rider, wrong, PASSWORD).await;
        assert_problem(res, 422, "otp_invalid").await;
    }
    // The fifth wrong try burns the code: even the right one no longer works.
    let fifth = app.try_register(&rider, wrong, PASSWORD).await;
    assert_problem(fifth, 422, "otp_invalid").await;
    let right = app.try_register(&rider, &code, PASSWORD).await;
    assert_problem(right, 422, "otp_expired").await;

    // A weak password is refused before the code is spent.
    let other = phone(4);
    let code = app.otp(&other).await;
    let weak = app.try_register(&other, &code, "123").await;
    assert_problem(weak, 422, "weak_password").await;
    let ok = app.try_register(&other, &code, PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    // Single use.
    let reused = app.try_register(&other, &code, PASSWORD).await;
    assert_problem(reused, 422, "otp_expired").await;

    // A registered phone cannot register again, even with a good code.
    let code = app.otp(&other).await;
    let again = app.try_register(&other, &code, PASSWORD).await;
    assert_problem(again, 409, "phone_taken").await;
}

/// Token-issuing routes are never answered from storage: a retry with the same key runs
/// again under the route's own rules, and no token is ever stored to be replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_routes_ignore_idempotency_keys() {
    let app = spawn_app().await;
    let rider = phone(5);
    let code = app.otp(&rider).await;
    let keyed = |path: &str, body: &Value| {
        app.request(gigunion_tests::reqwest::Method::POST, path)
            .header("Idempotency-Key", "same-key")
            .json(body)
            .send()
    };
    let register = json!({ "phone": rider, "code": code, "password": PASSWORD });
    let first = keyed("/v1/auth/register", &register).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    // The code is spent: a retry is refused, not replayed (the rider signs in instead).
    let retry = keyed("/v1/auth/register", &register).await.unwrap();
    assert!(retry.headers().get("idempotency-replayed").is_none());
    assert_problem(retry, 422, "otp_expired").await;

    let login = json!({ "phone": rider, "password": PASSWORD });
    let mut pairs = Vec::new();
    for _ in 0..2 {
        let res = keyed("/v1/auth/login", &login).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("idempotency-replayed").is_none());
        pairs.push(res.json::<Value>().await.unwrap());
    }
    assert_ne!(pairs[0]["refresh_token"], pairs[1]["refresh_token"]);

    // After logout the old refresh token is dead, whatever key comes with it.
    let refresh = json!({ "refresh_token": pairs[0]["refresh_token"] });
    assert_eq!(
        keyed("/v1/auth/refresh", &refresh).await.unwrap().status(),
        StatusCode::OK
    );
    let token = pairs[1]["access_token"].as_str().unwrap();
    let out = app
        .request(gigunion_tests::reqwest::Method::POST, "/v1/auth/logout")
        .bearer_auth(token)
        .json(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_problem(
        keyed("/v1/auth/refresh", &refresh).await.unwrap(),
        401,
        "invalid_refresh_token",
    )
    .await;

    let stored: i64 = platform::schema::idempotency_keys::table
        .count()
        .get_result(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(stored, 0, "nothing of a token route is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_speak_english_on_request() {
    let app = spawn_app().await;
    let zh = app
        .post("/v1/auth/otp", &json!({ "phone": "12345" }), None)
        .await;
    let zh = assert_problem(zh, 422, "invalid_phone").await;
    assert_eq!(zh["field"], "phone");
    assert!(zh["detail"].as_str().unwrap().contains("手机号"));
    let en = app
        .request(gigunion_tests::reqwest::Method::POST, "/v1/auth/otp")
        .header("Accept-Language", "en-US,en;q=0.9")
        .json(&json!({ "phone": "12345" }))
        .send()
        .await
        .unwrap();
    let request_id = en.headers().get("x-request-id").cloned();
    let en = assert_problem(en, 422, "invalid_phone").await;
    assert!(en["detail"].as_str().unwrap().contains("mobile number"));
    assert!(request_id.is_some_and(|id| !id.is_empty()));
}

/// A rider who forgot the password signs in with an SMS code, or sets a new password with one;
/// the reset signs out every session, access tokens included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_no_lockout() {
    let app = spawn_app_with(|c| c.limits.otp_per_phone_minute = Rate::per_minute(10)).await;
    let rider = phone(7);
    let first = app.register(&rider).await;
    let old_access = first["access_token"].as_str().unwrap().to_owned();
    let old_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let app = &app;
    let login_by_code = |phone: String, code: String| async move {
        app.post(
            "/v1/auth/login",
            &json!({ "phone": phone, "code": code }),
            None,
        )
        .await
    };

    // Sign-in by code: a fresh pair, the code single use.
    let code = app.otp(&rider).await;
    let res = login_by_code(rider.clone(), code.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.unwrap();
    let me = app.get("/v1/me", pair["access_token"].as_str()).await;
    assert_eq!(me.status(), StatusCode::OK);
    let reused = assert_problem(
        login_by_code(rider.clone(), code).await,
        401,
        "invalid_code_credentials",
    )
    .await;
    // A number without an account answers exactly like a wrong code, even with a good code.
    let stranger = phone(8);
    let code = app.otp(&stranger).await;
    let unknown = assert_problem(
        login_by_code(stranger.clone(), code).await,
        401,
        "invalid_code_credentials",
    )
    .await;
    assert_eq!(reused, unknown);
    // Exactly one of password and code.
    let neither = app
        .post("/v1/auth/login", &json!({ "phone": rider }), None)
        .await;
    assert_eq!(
        assert_problem(neither, 422, "missing_field").await["field"],
        "password"
    );

    // Reset: a weak password does not spend the code; then the old password, the old refresh
    // token and the old access token all stop working.
    let code = app.otp(&rider).await;
    let reset = |code: &str, password: &str| {
        let body = json!({ "phone": rider, "code": code, "new_password": password });
        async move { app.post("/v1/auth/password/reset", &body, None).await }
    };
    assert_problem(reset(&code, "short").await, 422, "weak_password").await;
    assert_eq!(
        reset(&code, "newpass2027").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        reset(&code, "newpass2028").await,
        401,
        "invalid_code_credentials",
    )
    .await;
    let unknown_reset = app
        .post(
            "/v1/auth/password/reset",
            &json!({ "phone": stranger, "code": app.otp(&stranger).await, "new_password": "newpass2027" }),
            None,
        )
        .await;
    assert_eq!(
        assert_problem(unknown_reset, 401, "invalid_code_credentials").await,
        unknown
    );
    assert_problem(
        app.login(&rider, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        app.get("/v1/me", Some(&old_access)).await,
        401,
        "unauthenticated",
    )
    .await;
    let refresh = app
        .post(
            "/v1/auth/refresh",
            &json!({ "refresh_token": old_refresh }),
            None,
        )
        .await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
    let signed_in = app.login(&rider, "newpass2027").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let fresh: Value = signed_in.json().await.unwrap();
    let me = app.get("/v1/me", fresh["access_token"].as_str()).await;
    assert_eq!(me.status(), StatusCode::OK);
}
