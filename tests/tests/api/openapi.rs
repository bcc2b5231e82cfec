//! The committed OpenAPI document matches the code, and the server serves exactly what it
//! documents (routes are registered from the document: `platform::api`).

use gigunion_tests::reqwest::Method;
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
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    // Error bodies are declared with the content type they are sent with.
    let not_found = &spec["paths"]["/v1/orgs/{id}"]["get"]["responses"]["404"]["content"];
    assert!(
        not_found["application/problem+json"].is_object(),
        "{not_found}"
    );
}

/// Every documented path is a resource of the server (a method it does not document is 405
/// there, where an unknown path is 404), and every documented method on it reaches a handler
/// (anything but 405).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let app = spawn_app().await;
    // The admin passes the staff gate in front of `/v1/admin/`, so the router answers there.
    let admin = app.admin().await;
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let unknown = app.get("/v1/no-such-route", None).await;
    assert_eq!(unknown.status(), 404);
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() > 40, "{} paths", paths.len());
    for (path, item) in paths {
        // Ids that exist nowhere: the handlers answer 404, 401 or 422, never 405.
        let uri = path
            .replace("{id}", "999999")
            .replace("{code}", "no-such-code");
        let documented: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.as_str())
            .collect();
        for method in &documented {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let status = app
                .request(method.clone(), &uri)
                .send()
                .await
                .unwrap()
                .status();
            assert_ne!(status, 405, "{method} {path} is documented but not served");
        }
        let other = ["put", "patch", "delete", "post", "get"]
            .into_iter()
            .find(|m| !documented.contains(m))
            .unwrap();
        let method = Method::from_bytes(other.to_uppercase().as_bytes()).unwrap();
        let status = app
            .request(method, &uri)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(
            status, 405,
            "{other} {path}: the path is documented but not served"
        );
    }
}
