//! Bytes a rider pays for on 4G: compressed answers when the client asks, and an e-card that
//! stays small although the app fetches it every minute while it is shown.

use std::io::Read;

use gigunion_tests::reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use gigunion_tests::reqwest::{Method, Response, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{spawn_app, TestApp};

async fn fetch(app: &TestApp, path: &str, token: Option<&str>, encoding: &str) -> Response {
    let mut req = app
        .request(Method::GET, path)
        .header(ACCEPT_ENCODING, encoding);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

fn header(res: &Response, name: gigunion_tests::reqwest::header::HeaderName) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "br" => brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .unwrap(),
        "gzip" => flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap(),
        other => panic!("unexpected encoding {other}"),
    };
    out
}

/// A member of a fresh union, by an auto-approving join code; their access token.
async fn member(app: &TestApp) -> String {
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "city", "南京市总工会", "320100")
        .await;
    let code = app
        .join_code(
            &admin,
            org,
            json!({ "label": "驿站入会点", "auto_approve": true }),
        )
        .await;
    let rider = app.worker(1).await;
    let joined = app.join(&rider.token, code["code"].as_str().unwrap()).await;
    assert!(
        joined.status().is_success(),
        "{}",
        joined.text().await.unwrap()
    );
    rider.token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_answers_are_compressed_as_the_client_asks_and_images_are_not() {
    let app = spawn_app().await;
    let plain = fetch(&app, "/openapi.json", None, "identity").await;
    assert_eq!(header(&plain, CONTENT_ENCODING), "");
    let plain = plain.bytes().await.unwrap();
    assert!(plain.len() > 100_000, "{}", plain.len());
    for (asked, expected) in [("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "br")] {
        let res = fetch(&app, "/openapi.json", None, asked).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, CONTENT_ENCODING), expected, "asked {asked}");
        assert!(header(&res, VARY)
            .to_lowercase()
            .contains("accept-encoding"));
        let wire = res.bytes().await.unwrap();
        assert!(
            wire.len() * 3 < plain.len(),
            "{asked}: {} of {}",
            wire.len(),
            plain.len()
        );
        assert_eq!(decode(expected, &wire), plain.to_vec(), "{asked}");
    }
    // Below 1 KB the encoding would cost more than it saves.
    let small = fetch(&app, "/healthz", None, "br, gzip").await;
    assert_eq!(header(&small, CONTENT_ENCODING), "");

    // SVG is text and shrinks; a PNG is compressed already and goes as it is.
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "city", "南京市总工会", "320100")
        .await;
    let code = app.join_code(&admin, org, json!({ "label": "海报" })).await;
    let code = code["code"].as_str().unwrap();
    let svg = fetch(
        &app,
        &format!("/v1/admin/join-codes/{code}/qr.svg"),
        Some(&admin),
        "br",
    )
    .await;
    assert_eq!(svg.status(), StatusCode::OK);
    assert!(header(&svg, CONTENT_TYPE).starts_with("image/svg+xml"));
    assert_eq!(header(&svg, CONTENT_ENCODING), "br");
    let svg = decode("br", &svg.bytes().await.unwrap());
    assert!(String::from_utf8(svg).unwrap().starts_with("<svg"));
    let png = fetch(
        &app,
        &format!("/v1/admin/join-codes/{code}/qr.png"),
        Some(&admin),
        "br, gzip",
    )
    .await;
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(header(&png, CONTENT_TYPE), "image/png");
    assert_eq!(header(&png, CONTENT_ENCODING), "");
    let png = png.bytes().await.unwrap();
    assert!(gigunion_tests::decode_qr_png(&png).ends_with(code));
}

/// The card answer fits in 3 KB before compression: the token, not a drawing of it. The
/// drawing, when asked for, is one path and still scans as the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_e_card_fits_in_three_kilobytes() {
    let app = spawn_app().await;
    let token = member(&app).await;
    let res = fetch(&app, "/v1/me/card", Some(&token), "identity").await;
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    assert!(
        bytes.len() <= 3 * 1024,
        "card answer is {} bytes",
        bytes.len()
    );
    let card: Value = gigunion_tests::serde_json::from_slice(&bytes).unwrap();
    assert!(card["token"].as_str().unwrap().len() > 100);

    let drawn = fetch(&app, "/v1/me/card?qr=svg", Some(&token), "identity").await;
    let drawn: Value = drawn.json().await.unwrap();
    let svg = drawn["qr_svg"].as_str().unwrap();
    assert!(svg.matches("<path").count() == 1, "{svg}");
    assert!(svg.len() < 12 * 1024, "SVG is {} bytes", svg.len());
}

/// A web app on its own origin may call the API from a browser when its origin is listed;
/// any other origin gets no CORS headers, so the browser keeps the answer from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_web_origins_get_cors_answers_and_others_do_not() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/v1/admin/orgs")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, idempotency-key",
            )
            .send()
    };
    let allowed = preflight(gigunion_tests::CORS_ORIGIN).await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin".parse().unwrap()),
        gigunion_tests::CORS_ORIGIN
    );
    let methods = header(&allowed, "access-control-allow-methods".parse().unwrap());
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let headers = header(&allowed, "access-control-allow-headers".parse().unwrap());
    assert!(
        headers.to_lowercase().contains("idempotency-key"),
        "{headers}"
    );

    let other = preflight("https://evil.example.com").await.unwrap();
    assert_eq!(
        header(&other, "access-control-allow-origin".parse().unwrap()),
        ""
    );
    // A simple request from the listed origin carries the header and exposes the request id.
    let res = app
        .request(Method::GET, "/healthz")
        .header("origin", gigunion_tests::CORS_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&res, "access-control-allow-origin".parse().unwrap()),
        gigunion_tests::CORS_ORIGIN
    );
    assert!(
        header(&res, "access-control-expose-headers".parse().unwrap())
            .to_lowercase()
            .contains("x-request-id")
    );
}
