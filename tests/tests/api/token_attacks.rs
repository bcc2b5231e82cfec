//! Forged and misused access tokens on `GET /v1/me`: every one of them gets 401
//! `unauthenticated`. A token forged here with the server's own key gets 200 first, so each
//! refusal below is for the one thing that case gets wrong.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::spki::EncodePublicKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, phone, spawn_app, TestApp};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

const AUDIENCE: &str = "gigunion-app";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims the server accepts for account `sub`.
fn valid_claims(app: &TestApp, sub: &str) -> Value {
    let now = now();
    json!({
        "iss": app.base,
        "aud": AUDIENCE,
        "sub": sub,
        "exp": now + 600,
        "iat": now,
        "roles": ["worker"],
    })
}

/// Signs `claims` with `key` under a header of `alg`, `typ` and `kid`.
fn sign(
    key: &EncodingKey,
    alg: Algorithm,
    typ: Option<&str>,
    kid: Option<&str>,
    claims: &Value,
) -> String {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("token encodes")
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The account id and the `kid` of a freshly registered account's real access token.
struct Victim {
    access: String,
    refresh: String,
    id: i64,
    kid: String,
}

async fn register(app: &TestApp, n: u32) -> Victim {
    let pair = app.register(&phone(n)).await;
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    let me = app.get("/v1/me", Some(&access)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    let id = me["id"].as_i64().expect("me has a numeric id");
    let kid = jsonwebtoken::decode_header(&access)
        .unwrap()
        .kid
        .expect("access tokens carry a kid");
    Victim {
        access,
        refresh,
        id,
        kid,
    }
}

async fn refused(app: &TestApp, token: &str, case: &str) {
    let res = app.get("/v1/me", Some(token)).await;
    eprintln!("case {case}: {}", res.status());
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "case {case} must be refused"
    );
    assert_problem(res, 401, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_access_tokens_are_refused() {
    let app = spawn_app().await;
    let victim = register(&app, 101).await;
    let sub = victim.id.to_string();
    let real_key =
        EncodingKey::from_ed_pem(&app.signing_key_pem()).expect("server key is Ed25519 PEM");
    let kid = Some(victim.kid.as_str());

    // Control: the real token, and one forged here with the real key and valid claims.
    let header = jsonwebtoken::decode_header(&victim.access).unwrap();
    assert_eq!(
        (header.alg, header.typ.as_deref()),
        (Algorithm::EdDSA, Some("at+jwt"))
    );
    assert_eq!(
        app.get("/v1/me", Some(&victim.access)).await.status(),
        StatusCode::OK
    );
    let forged = sign(
        &real_key,
        Algorithm::EdDSA,
        Some("at+jwt"),
        kid,
        &valid_claims(&app, &sub),
    );
    let me = app.get("/v1/me", Some(&forged)).await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the forging harness signs tokens the server accepts"
    );
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], victim.id);

    // alg: none, built by hand, with an empty signature.
    let none_header = json!({ "alg": "none", "typ": "at+jwt", "kid": victim.kid });
    let unsigned = format!("{}.{}.", b64(&none_header), b64(&valid_claims(&app, &sub)));
    refused(&app, &unsigned, "alg none").await;
    let none_lower = json!({ "alg": "None", "typ": "at+jwt", "kid": victim.kid });
    refused(
        &app,
        &format!("{}.{}.", b64(&none_lower), b64(&valid_claims(&app, &sub))),
        "alg None",
    )
    .await;

    // Algorithm confusion: HS256 keyed with what is public about the real key.
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let public_raw = URL_SAFE_NO_PAD.decode(&x).unwrap();
    let server_pem = String::from_utf8(app.signing_key_pem()).unwrap();
    let public_pem = SigningKey::from_pkcs8_pem(&server_pem)
        .unwrap()
        .verifying_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    let secrets: [(&str, &[u8]); 4] = [
        ("raw public key", &public_raw),
        ("jwk x", x.as_bytes()),
        ("public key PEM", public_pem.as_bytes()),
        ("any secret", b"secret"),
    ];
    for (what, secret) in secrets {
        let hs = sign(
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
            Some("at+jwt"),
            kid,
            &valid_claims(&app, &sub),
        );
        refused(&app, &hs, &format!("HS256 with {what}")).await;
    }

    // A key of the attacker's own, with and without the server's kid.
    let pem = SigningKey::generate(&mut rand::rngs::OsRng)
        .to_pkcs8_pem(Default::default())
        .unwrap();
    let other_key = EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    let foreign = sign(
        &other_key,
        Algorithm::EdDSA,
        Some("at+jwt"),
        kid,
        &valid_claims(&app, &sub),
    );
    refused(&app, &foreign, "foreign Ed25519 key").await;
    let foreign_no_kid = sign(
        &other_key,
        Algorithm::EdDSA,
        Some("at+jwt"),
        None,
        &valid_claims(&app, &sub),
    );
    refused(&app, &foreign_no_kid, "foreign Ed25519 key without kid").await;

    // Real key, but the kid is wrong or missing.
    let claims = valid_claims(&app, &sub);
    refused(
        &app,
        &sign(
            &real_key,
            Algorithm::EdDSA,
            Some("at+jwt"),
            Some("0123456789abcdef"),
            &claims,
        ),
        "wrong kid",
    )
    .await;
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), None, &claims),
        "no kid",
    )
    .await;

    // Real key, header right, one claim wrong.
    let mut expired = valid_claims(&app, &sub);
    expired["exp"] = json!(now() - 600);
    expired["iat"] = json!(now() - 1500);
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), kid, &expired),
        "expired 10 minutes ago",
    )
    .await;

    let mut no_exp = valid_claims(&app, &sub);
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), kid, &no_exp),
        "no exp",
    )
    .await;

    let mut wrong_aud = valid_claims(&app, &sub);
    wrong_aud["aud"] = json!("gigunion-admin");
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), kid, &wrong_aud),
        "wrong aud",
    )
    .await;

    let mut no_aud = valid_claims(&app, &sub);
    no_aud.as_object_mut().unwrap().remove("aud");
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), kid, &no_aud),
        "no aud",
    )
    .await;

    let mut wrong_iss = valid_claims(&app, &sub);
    wrong_iss["iss"] = json!("https://evil.example");
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), kid, &wrong_iss),
        "wrong iss",
    )
    .await;
    wrong_iss["iss"] = json!(format!("{}/", app.base));
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), kid, &wrong_iss),
        "iss with a trailing slash",
    )
    .await;

    let mut no_iss = valid_claims(&app, &sub);
    no_iss.as_object_mut().unwrap().remove("iss");
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), kid, &no_iss),
        "no iss",
    )
    .await;

    let mut no_sub = valid_claims(&app, &sub);
    no_sub.as_object_mut().unwrap().remove("sub");
    refused(
        &app,
        &sign(&real_key, Algorithm::EdDSA, Some("at+jwt"), kid, &no_sub),
        "no sub",
    )
    .await;

    refused(
        &app,
        &sign(
            &real_key,
            Algorithm::EdDSA,
            Some("at+jwt"),
            kid,
            &valid_claims(&app, "not-a-number"),
        ),
        "non-numeric sub",
    )
    .await;

    // Real key and claims, but not an access token by its typ.
    for typ in [Some("JWT"), Some("card+jwt"), Some("AT+JWT-not"), None] {
        let token = sign(
            &real_key,
            Algorithm::EdDSA,
            typ,
            kid,
            &valid_claims(&app, &sub),
        );
        refused(&app, &token, &format!("typ {typ:?}")).await;
    }

    // The real token with admin added to its roles, original signature kept.
    let parts: Vec<&str> = victim.access.split('.').collect();
    assert_eq!(parts.len(), 3);
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(payload["roles"], json!(["worker"]));
    payload["roles"] = json!(["worker", "admin"]);
    let tampered = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    assert_ne!(tampered, victim.access);
    refused(&app, &tampered, "roles tampered to admin").await;
    // The same with the signature stripped.
    refused(
        &app,
        &format!("{}.{}.", parts[0], parts[1]),
        "signature stripped",
    )
    .await;

    // The untouched real token still works after all of that.
    assert_eq!(
        app.get("/v1/me", Some(&victim.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_misplaced_and_garbage_credentials_are_refused() {
    let app = spawn_app().await;
    let victim = register(&app, 102).await;

    // The refresh token is opaque and never a bearer token.
    refused(&app, &victim.refresh, "refresh token as bearer").await;

    // No Authorization header at all.
    assert_problem(app.get("/v1/me", None).await, 401, "unauthenticated").await;

    // A real access token under another scheme, and Basic credentials.
    for value in [
        format!("Basic {}", victim.access),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:rider2026", phone(102)))
        ),
        format!("Token {}", victim.access),
        victim.access.clone(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
    ] {
        let res = app
            .request(Method::GET, "/v1/me")
            .header("authorization", &value)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "Authorization: {value}"
        );
        assert_problem(res, 401, "unauthenticated").await;
    }

    for garbage in ["garbage", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
        refused(&app, garbage, &format!("garbage {garbage:?}")).await;
    }

    // Control: the same access token as a bearer token still works.
    assert_eq!(
        app.get("/v1/me", Some(&victim.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwks_publishes_the_one_public_key_that_verifies_access_tokens() {
    let app = spawn_app().await;
    let victim = register(&app, 103).await;

    let res = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let jwks: Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 1, "{jwks}");
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["kid"], victim.kid.as_str());
    assert!(
        key.get("d").is_none(),
        "the private half is never published: {key}"
    );
    let x = key["x"].as_str().expect("x");
    assert_eq!(URL_SAFE_NO_PAD.decode(x).unwrap().len(), 32);

    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[app.base.as_str()]);
    let decoding = DecodingKey::from_ed_components(x).unwrap();
    let data = jsonwebtoken::decode::<Value>(&victim.access, &decoding, &validation)
        .expect("the published key verifies the real access token");
    assert_eq!(data.claims["sub"], victim.id.to_string());
    assert_eq!(data.claims["roles"], json!(["worker"]));

    // And it does not verify a token from some other key (the check above can fail).
    let pem = SigningKey::generate(&mut rand::rngs::OsRng)
        .to_pkcs8_pem(Default::default())
        .unwrap();
    let foreign = sign(
        &EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        Algorithm::EdDSA,
        Some("at+jwt"),
        Some(&victim.kid),
        &valid_claims(&app, &victim.id.to_string()),
    );
    assert!(jsonwebtoken::decode::<Value>(&foreign, &decoding, &validation).is_err());
}
