//! The membership journey over HTTP, one test per step, each on a fresh app brought up to that
//! step: staff creates a code, the poster decodes to its URL; a rider registers, gives a real
//! name, looks the code up, joins; staff approves; the rider's card verifies (online and
//! offline); the rider transfers and reads the history; leaves.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gigunion_tests::reqwest::StatusCode;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, decode_qr_png, phone, spawn_app, TestApp, Worker, PASSWORD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, TokenData, Validation};

/// The union tree and its staff: a province, Nanjing, and its districts Xuanwu (staff A,
/// `phone(201)`) and Qinhuai (staff B, `phone(202)`).
struct Union {
    app: TestApp,
    admin: String,
    city: i64,
    xuanwu: i64,
    qinhuai: i64,
    staff_a_token: String,
    staff_b_token: String,
}

async fn union() -> Union {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let province = app
        .org(&admin, None, "federation", "江苏省总工会", "320000")
        .await;
    let city = app
        .org(&admin, Some(province), "city", "南京市总工会", "320100")
        .await;
    let xuanwu = app
        .org(&admin, Some(city), "district", "玄武区总工会", "320102")
        .await;
    let qinhuai = app
        .org(&admin, Some(city), "district", "秦淮区总工会", "320104")
        .await;
    let staff_a = phone(201);
    let staff_b = phone(202);
    app.register(&staff_a).await;
    app.register(&staff_b).await;
    app.grant_staff(&admin, xuanwu, &staff_a).await;
    app.grant_staff(&admin, qinhuai, &staff_b).await;
    let staff_a_token = app.token_of(&staff_a).await;
    let staff_b_token = app.token_of(&staff_b).await;
    Union {
        app,
        admin,
        city,
        xuanwu,
        qinhuai,
        staff_a_token,
        staff_b_token,
    }
}

/// Staff A's review-mode code of Xuanwu: its view and its text.
async fn review_code(u: &Union) -> (Value, String) {
    let code = u
        .app
        .join_code(
            &u.staff_a_token,
            u.xuanwu,
            json!({ "label": "2026 夏季服务集市", "max_uses": 100 }),
        )
        .await;
    let code_text = code["code"].as_str().unwrap().to_owned();
    (code, code_text)
}

/// `rider` joins with `code_text`; the application.
async fn apply(u: &Union, rider: &Worker, code_text: &str) -> Value {
    let joined = u.app.join(&rider.token, code_text).await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    joined.json().await.unwrap()
}

/// Staff A approves the application; the membership.
async fn approve(u: &Union, application_id: i64) -> Value {
    let approved = u
        .app
        .post(
            &format!("/v1/admin/memberships/{application_id}/approve"),
            &json!({}),
            Some(&u.staff_a_token),
        )
        .await;
    assert_eq!(approved.status(), StatusCode::OK);
    approved.json().await.unwrap()
}

/// The rider `phone(210)`, an active member of Xuanwu through the review code; the rider and
/// the member number.
async fn member(u: &Union) -> (Worker, String) {
    let (_, code_text) = review_code(u).await;
    let rider = u.app.worker(210).await;
    let application = apply(u, &rider, &code_text).await;
    let approved = approve(u, application["id"].as_i64().unwrap()).await;
    (rider, approved["member_no"].as_str().unwrap().to_owned())
}

/// The member moves to Qinhuai through an auto-approving code of staff B; the new membership.
async fn transfer(u: &Union, rider: &Worker) -> Value {
    let qinhuai_code = u
        .app
        .join_code(
            &u.staff_b_token,
            u.qinhuai,
            json!({ "label": "秦淮驿站入会点", "auto_approve": true }),
        )
        .await;
    let moved = u
        .app
        .post(
            "/v1/me/membership/transfer",
            &json!({ "join_code": qinhuai_code["code"] }),
            Some(&rider.token),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::CREATED);
    moved.json().await.unwrap()
}

/// The member's card.
async fn card_of(app: &TestApp, rider: &Worker) -> Value {
    app.get("/v1/me/card", Some(&rider.token))
        .await
        .json()
        .await
        .unwrap()
}

/// What `/v1/admin/cards/verify` says of `token`, asked by `staff`.
async fn verify(app: &TestApp, staff: &str, token: String) -> String {
    let body: Value = app
        .post(
            "/v1/admin/cards/verify",
            &json!({ "token": token }),
            Some(staff),
        )
        .await
        .json()
        .await
        .unwrap();
    body["result"].as_str().unwrap().to_owned()
}

/// The card token decoded with nothing but the JWKS key.
async fn offline(app: &TestApp, token: &str) -> TokenData<Value> {
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let key = DecodingKey::from_ed_components(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["gigunion-card"]);
    validation.set_issuer(&[app.base.as_str()]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("verifies offline")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_their_scope_and_a_codes_poster_decodes_to_its_url() {
    let u = union().await;
    let Union {
        app,
        xuanwu,
        staff_a_token,
        ..
    } = &u;
    let xuanwu = *xuanwu;
    let me: Value = app
        .get("/v1/me", Some(staff_a_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["worker", "staff"]));
    assert_eq!(
        me["staff_scopes"],
        json!([{ "org_id": xuanwu, "org_name": "玄武区总工会" }])
    );

    // Staff creates a review-mode code; the PNG poster decodes to exactly its URL.
    let (code, code_text) = review_code(&u).await;
    assert_eq!(code_text.len(), 12);
    assert_eq!(code["url"], format!("{}/j/{}", app.base, code_text));
    let png = app
        .get(
            &format!("/v1/admin/join-codes/{code_text}/qr.png"),
            Some(staff_a_token),
        )
        .await;
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    assert_eq!(
        decode_qr_png(&png.bytes().await.unwrap()),
        code["url"].as_str().unwrap()
    );
    let svg = app
        .get(
            &format!("/v1/admin/join-codes/{code_text}/qr.svg"),
            Some(staff_a_token),
        )
        .await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_looks_a_code_up_joins_and_has_no_card_until_approved() {
    let u = union().await;
    let app = &u.app;
    let (_, code_text) = review_code(&u).await;

    // The rider: registers, gives the real name, scans, joins.
    let rider = app.worker(210).await;
    let preview = app.get(&format!("/v1/join/{code_text}"), None).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview: Value = preview.json().await.unwrap();
    assert_eq!(preview["org"]["name"], "玄武区总工会");
    assert_eq!(preview["org"]["parent_name"], "南京市总工会");
    assert_eq!(preview["auto_approve"], false);

    let application = apply(&u, &rider, &code_text).await;
    assert_eq!(application["status"], "pending");
    assert!(application["member_no"].is_null());

    // Not a member yet: no card.
    assert_problem(
        app.get("/v1/me/card", Some(&rider.token)).await,
        404,
        "not_a_member",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_approve_from_a_masked_queue_the_sibling_district_cannot_see() {
    let u = union().await;
    let Union {
        app,
        xuanwu,
        staff_a_token,
        staff_b_token,
        ..
    } = &u;
    let (_, code_text) = review_code(&u).await;
    let rider = app.worker(210).await;
    let application_id = apply(&u, &rider, &code_text).await["id"].as_i64().unwrap();

    // Staff sees it in the queue, masked, and approves.
    let queue: Value = app
        .get(
            &format!("/v1/admin/orgs/{xuanwu}/applications"),
            Some(staff_a_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["membership_id"], application_id);
    assert_eq!(items[0]["phone_masked"], "139****0210");
    assert_eq!(
        items[0]["id_number_masked"],
        format!("320***********{}", &rider.id_number[14..])
    );
    // The city's staff would see it too; the sibling district's staff does not.
    let hidden = app
        .get(
            &format!("/v1/admin/orgs/{xuanwu}/applications"),
            Some(staff_b_token),
        )
        .await;
    assert_problem(hidden, 404, "not_found").await;

    let approved = approve(&u, application_id).await;
    assert_eq!(approved["status"], "active");
    let member_no = approved["member_no"].as_str().unwrap().to_owned();
    assert_eq!(member_no.len(), 15);
    assert!(member_no.starts_with("320102"), "{member_no}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_verifies_for_staff_of_any_district_online_and_offline() {
    let u = union().await;
    let (rider, member_no) = member(&u).await;
    let Union {
        app, staff_b_token, ..
    } = &u;

    // The card: a short-lived token that staff verify.
    let card = card_of(app, &rider).await;
    assert_eq!(card["member_no"], member_no);
    assert_eq!(card["org"]["name"], "玄武区总工会");
    // The app draws the QR from the token; the drawn SVG only on request.
    assert!(card.get("qr_svg").is_none(), "{card}");
    let drawn: Value = app
        .get("/v1/me/card?qr=svg", Some(&rider.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(drawn["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let token = card["token"].as_str().unwrap().to_owned();
    let verified: Value = app
        .post(
            "/v1/admin/cards/verify",
            &json!({ "token": token }),
            Some(staff_b_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["result"], "valid");
    assert_eq!(verified["member"]["member_no"], member_no);
    assert_eq!(verified["member"]["org"]["name"], "玄武区总工会");
    assert_eq!(verified["member"]["legal_name_masked"], "骑****"); // 骑手二一零

    // Offline: the JWKS key alone verifies the card token.
    let offline = offline(app, &token).await;
    assert_eq!(offline.claims["mno"], member_no);
    assert_eq!(
        offline.claims["exp"].as_i64().unwrap() - offline.claims["iat"].as_i64().unwrap(),
        60
    );
    assert_eq!(offline.header.typ.as_deref(), Some("card+jwt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_tampered_or_garbage_card_token_does_not_verify_nor_sign_in() {
    let u = union().await;
    let (rider, _) = member(&u).await;
    let Union {
        app, staff_b_token, ..
    } = &u;
    let token = card_of(app, &rider).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let offline = offline(app, &token).await;
    let result = |token: String| verify(app, staff_b_token, token);

    // A card token shown too long ago (forged here with the server's key) says so; garbage too;
    // and a card token is never an access token.
    let mut stale = offline.claims.clone();
    stale["iat"] = json!(offline.claims["iat"].as_i64().unwrap() - 600);
    stale["exp"] = json!(offline.claims["exp"].as_i64().unwrap() - 600);
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("card+jwt".into());
    header.kid = offline.header.kid.clone();
    let stale = jsonwebtoken::encode(
        &header,
        &stale,
        &EncodingKey::from_ed_pem(&app.signing_key_pem()).unwrap(),
    )
    .unwrap();
    assert_eq!(result(stale).await, "expired");
    assert_eq!(result("not.a.token".into()).await, "invalid");
    let tampered = {
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["mno"] = json!("320102000000990");
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        )
    };
    assert_eq!(result(tampered).await, "invalid");
    assert_problem(
        app.get("/v1/me", Some(&token)).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_keeps_the_member_number_and_the_history_records_it() {
    let u = union().await;
    let (rider, member_no) = member(&u).await;
    let app = &u.app;

    // Transfer: the rider moves to Qinhuai through an auto-approving code.
    let moved = transfer(&u, &rider).await;
    assert_eq!(moved["status"], "active");
    assert_eq!(moved["org"]["name"], "秦淮区总工会");
    assert_eq!(
        moved["member_no"], member_no,
        "the member number is kept for life"
    );
    assert_eq!(moved["occupation"], "rider", "details carried over");

    let mine: Value = app
        .get("/v1/me/membership", Some(&rider.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["current"]["org"]["name"], "秦淮区总工会");
    assert!(mine["pending"].is_null());
    let kinds: Vec<(&str, &str)> = mine["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["org"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("activated", "秦淮区总工会"),
            ("transferred_out", "玄武区总工会"),
            ("applied", "秦淮区总工会"),
            ("activated", "玄武区总工会"),
            ("applied", "玄武区总工会"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_lists_follow_a_transfer_and_the_city_exports_its_subtree() {
    let u = union().await;
    let (rider, member_no) = member(&u).await;
    transfer(&u, &rider).await;
    let Union {
        app,
        admin,
        city,
        xuanwu,
        qinhuai,
        staff_a_token,
        staff_b_token,
    } = &u;

    // Lists follow the transfer: Qinhuai has the member, Xuanwu keeps the ended period.
    let b_members: Value = app
        .get(
            &format!("/v1/admin/orgs/{qinhuai}/members"),
            Some(staff_b_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_members["items"].as_array().unwrap().len(), 1);
    assert_eq!(b_members["items"][0]["member_no"], member_no);
    let a_members: Value = app
        .get(
            &format!("/v1/admin/orgs/{xuanwu}/members"),
            Some(staff_a_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(a_members["items"].as_array().unwrap().is_empty());
    let a_ended: Value = app
        .get(
            &format!("/v1/admin/orgs/{xuanwu}/members?status=ended"),
            Some(staff_a_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a_ended["items"][0]["member_no"], member_no);
    // The city sees the whole subtree, and exports it as CSV for Excel.
    let city_staff = phone(203);
    app.register(&city_staff).await;
    app.grant_staff(admin, *city, &city_staff).await;
    let city_token = app.token_of(&city_staff).await;
    let csv = app
        .get(
            &format!("/v1/admin/orgs/{city}/members?format=csv"),
            Some(&city_token),
        )
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = csv.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("会员编号,姓名,"), "{}", lines[0]);
    assert!(lines[1].contains(&member_no) && lines[1].contains("秦淮区总工会"));
    assert!(!text.contains(&rider.id_number) && !text.contains(&rider.phone));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_ends_the_membership_and_its_card_but_not_the_account() {
    let u = union().await;
    let (rider, _) = member(&u).await;
    // Left after a transfer, as at the end of the journey: the membership that ends is the one
    // the transfer opened.
    transfer(&u, &rider).await;
    let Union {
        app, staff_b_token, ..
    } = &u;
    let result = |token: String| verify(app, staff_b_token, token);

    // Leaving ends the membership; the card stops verifying. A card fetched just before, so
    // its minute of life cannot run out during a slow run and hide the rule.
    let card = card_of(app, &rider).await;
    let left = app
        .request(gigunion_tests::reqwest::Method::DELETE, "/v1/me/membership")
        .bearer_auth(&rider.token)
        .json(&json!({ "reason": "换城市工作" }))
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), StatusCode::OK);
    let left: Value = left.json().await.unwrap();
    assert!(left["current"].is_null());
    assert_eq!(left["history"][0]["kind"], "left");
    assert_eq!(left["history"][0]["note"], "换城市工作");
    assert_eq!(
        result(card["token"].as_str().unwrap().to_owned()).await,
        "not_a_member"
    );
    assert_problem(
        app.get("/v1/me/card", Some(&rider.token)).await,
        404,
        "not_a_member",
    )
    .await;
    // The login still works; membership and account are separate.
    assert_eq!(
        app.login(&rider.phone, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_org_summary_and_the_poster_landing_page() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let province = app
        .org(&admin, None, "federation", "安徽省总工会", "340000")
        .await;
    let hefei = app
        .org(&admin, Some(province), "city", "合肥市总工会", "340100")
        .await;
    let org: Value = app
        .get(&format!("/v1/orgs/{hefei}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(org["name"], "合肥市总工会");
    assert_eq!(org["kind"], "city");
    assert_eq!(org["parent_id"], province);
    assert_problem(app.get("/v1/orgs/999999", None).await, 404, "not_found").await;
    assert_problem(app.get("/v1/orgs/abc", None).await, 404, "not_found").await;

    let code = app
        .join_code(&admin, hefei, json!({ "label": "合肥 24 小时驿站" }))
        .await;
    let page = app
        .get(&format!("/j/{}", code["code"].as_str().unwrap()), None)
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains("合肥市总工会") && html.contains("合肥 24 小时驿站"));
    let unknown = app.get("/j/AAAAAAAAAAAA", None).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_a_refreshed_token_replays_the_first_response() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "federation", "江苏省总工会", "320000")
        .await;
    let code = app.join_code(&admin, org, json!({ "label": "入会" })).await;
    let rider = app.worker(220).await;
    let body = json!({ "join_code": code["code"], "occupation": "rider", "platform": "饿了么", "work_city": "南京" });
    let send = |token: String| {
        let app = &app;
        let body = body.clone();
        async move {
            app.request(gigunion_tests::reqwest::Method::POST, "/v1/memberships")
                .bearer_auth(token)
                .header("Idempotency-Key", "join-1")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let first = send(rider.token.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    // A new token for the same account (tokens carry whole seconds: the app's clock moves on).
    app.advance_clock(chrono::TimeDelta::seconds(2));
    let fresh = app.token_of(&rider.phone).await;
    assert_ne!(fresh, rider.token);
    let retry = send(fresh).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotency-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
}
