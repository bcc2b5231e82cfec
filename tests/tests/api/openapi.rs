//! The committed OpenAPI document matches the code, and lists the routes of the v1 map.

use gigunion_tests::serde_json::Value;
use gigunion_tests::spawn_app;

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn committed_spec_is_current() {
    let generated = gigunion_server::openapi::spec_json();
    assert!(
        committed() == generated,
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_spec_is_openapi_3_1_and_lists_the_route_map() {
    let app = spawn_app().await;
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    // Operation ids name the generated client's functions: each one once.
    let mut ids = std::collections::BTreeMap::<&str, usize>::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            *ids.entry(op["operationId"].as_str().unwrap()).or_default() += 1;
        }
    }
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "operationIds used more than once: {twice:?}"
    );
    for (method, path) in [
        ("post", "/v1/auth/otp"),
        ("post", "/v1/auth/register"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/auth/refresh"),
        ("post", "/v1/auth/logout"),
        ("post", "/v1/auth/password"),
        ("post", "/v1/auth/password/reset"),
        ("get", "/v1/me"),
        ("put", "/v1/me/identity"),
        ("get", "/.well-known/jwks.json"),
        ("post", "/v1/admin/orgs"),
        ("get", "/v1/orgs/{id}"),
        ("post", "/v1/admin/orgs/{id}/staff"),
        ("post", "/v1/admin/orgs/{id}/join-codes"),
        ("get", "/v1/admin/join-codes/{code}/qr.svg"),
        ("get", "/v1/admin/join-codes/{code}/qr.png"),
        ("get", "/v1/join/{code}"),
        ("post", "/v1/memberships"),
        ("get", "/v1/me/membership"),
        ("post", "/v1/me/membership/transfer"),
        ("delete", "/v1/me/membership"),
        ("get", "/v1/me/card"),
        ("get", "/v1/admin/orgs/{id}/applications"),
        ("post", "/v1/admin/memberships/{id}/approve"),
        ("post", "/v1/admin/memberships/{id}/reject"),
        ("get", "/v1/admin/orgs/{id}/members"),
        ("post", "/v1/admin/cards/verify"),
        ("get", "/v1/admin/orgs/{id}/audit"),
        ("get", "/v1/stations/nearby"),
        ("get", "/v1/stations/{id}"),
        ("post", "/v1/admin/orgs/{id}/stations"),
        ("get", "/v1/admin/orgs/{id}/stations"),
        ("patch", "/v1/admin/stations/{id}"),
        ("delete", "/v1/admin/stations/{id}"),
        ("post", "/v1/admin/orgs/{id}/stations/import"),
        ("get", "/v1/admin/stations/{id}/qr.svg"),
        ("get", "/v1/admin/stations/{id}/qr.png"),
        ("post", "/v1/stations/{id}/visits"),
        ("get", "/v1/admin/stations/{id}/stats"),
        ("post", "/v1/stations/{id}/feedback"),
        ("get", "/v1/admin/stations/{id}/feedback"),
        ("patch", "/v1/admin/feedback/{id}"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    // Error bodies are declared with the content type they are sent with.
    let not_found = &spec["paths"]["/v1/orgs/{id}"]["get"]["responses"]["404"]["content"];
    assert!(
        not_found["application/problem+json"].is_object(),
        "{not_found}"
    );
}
