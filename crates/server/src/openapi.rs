//! The OpenAPI 3.1 document, assembled from each crate's own `ApiDoc`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use serde_json::Value;
use utoipa::openapi::InfoBuilder;
use utoipa::OpenApi as _;

pub fn spec() -> Value {
    let mut doc = crate::ops::ApiDoc::openapi();
    doc.merge(identity::ApiDoc::openapi());
    doc.merge(membership::ApiDoc::openapi());
    doc.merge(stations::ApiDoc::openapi());
    doc.merge(benefits::ApiDoc::openapi());
    doc.merge(benefits::grants::routes::ApiDoc::openapi());
    doc.merge(rights::ApiDoc::openapi());
    doc.merge(gigunion_web::ApiDoc::openapi());
    doc.info = InfoBuilder::new()
        .title("gigunion API")
        .version("1")
        .description(Some(
            "Backend of the trade-union app for gig workers. Errors are RFC 9457 \
             application/problem+json with a stable `code`; `detail` follows Accept-Language \
             (zh-CN default, en).",
        ))
        .build();
    let mut spec = serde_json::to_value(&doc).expect("the spec serialises");
    problems_as_problem_json(&mut spec);
    standard_refusals(&mut spec);
    idempotency_keys(&mut spec);
    spec
}

/// Every `Idempotency-Key` parameter states the key's form (`platform::idempotency`), so a
/// generated client cannot send one the server refuses.
fn idempotency_keys(spec: &mut Value) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let operations = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let Some(params) = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for param in params.iter_mut().filter(|p| p["name"] == "Idempotency-Key") {
            param["schema"] = serde_json::json!({
                "type": "string",
                "minLength": 1,
                "maxLength": platform::idempotency::MAX_KEY_LEN,
                "pattern": platform::idempotency::KEY_PATTERN,
            });
        }
    }
}

/// The refusals every route of a kind can give, from the layers in front of its handler, so
/// that each operation lists them without every handler repeating them: 401 where a token is
/// needed, 403 on staff routes (asked before the body is read), 400/413/415/422 where a JSON
/// body is read, 422 where query parameters are, 404 where path ids are, 409/422 where an
/// `Idempotency-Key` is taken.
fn standard_refusals(spec: &mut Value) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let staff_route = path.starts_with("/v1/admin/");
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut().filter_map(Value::as_object_mut) {
            let secured = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            let json_body = operation
                .get("requestBody")
                .and_then(|b| b.pointer("/content/application~1json"))
                .is_some();
            let params_in = |place: &str| {
                operation
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == place))
            };
            let idempotent = operation
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"));
            let mut refusals: Vec<(&str, &str)> = Vec::new();
            if secured {
                refusals.push(("401", "No valid access token"));
            }
            if staff_route {
                refusals.push(("403", "Not staff of an org that may do this"));
            }
            if json_body {
                refusals.extend([
                    ("400", "The body is not JSON"),
                    ("413", "The body is over the route's limit"),
                    ("415", "The body is not `application/json`"),
                    ("422", "A field is missing or invalid (`field` names it)"),
                ]);
            }
            if params_in("query") {
                refusals.push(("422", "A query parameter is invalid (`field` names it)"));
            }
            if params_in("path") {
                refusals.push(("404", "No such record (or not yours to see)"));
            }
            if idempotent {
                refusals.extend([
                    (
                        "409",
                        "A request with this Idempotency-Key is still running",
                    ),
                    ("422", "The Idempotency-Key was used with another body"),
                ]);
            }
            let responses = operation
                .entry("responses")
                .or_insert_with(|| Value::Object(Default::default()))
                .as_object_mut()
                .expect("responses is an object");
            for (status, description) in refusals {
                responses.entry(status).or_insert_with(|| {
                    serde_json::json!({
                        "description": description,
                        "content": { platform::error::PROBLEM_JSON: {
                            "schema": { "$ref": "#/components/schemas/Problem" } } }
                    })
                });
            }
        }
    }
}

/// The methods each route pattern answers, for the `Allow` header of a 405.
pub fn allowed_methods() -> HashMap<String, String> {
    let spec = spec();
    let Some(paths) = spec["paths"].as_object() else {
        return Default::default();
    };
    paths
        .iter()
        .filter_map(|(path, item)| {
            let methods: Vec<String> = item
                .as_object()?
                .keys()
                .map(|m| m.to_ascii_uppercase())
                .collect();
            Some((path.clone(), methods.join(", ")))
        })
        .collect()
}

/// Handlers declare error bodies as `Problem`; on the wire they are `application/problem+json`,
/// so the spec says that (clients and schema checkers validate the content type).
fn problems_as_problem_json(spec: &mut Value) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for content in responses
            .values_mut()
            .filter_map(|r| r.get_mut("content"))
            .filter_map(Value::as_object_mut)
        {
            let is_problem = content
                .get("application/json")
                .and_then(|c| c.pointer("/schema/$ref"))
                .is_some_and(|r| r == "#/components/schemas/Problem");
            if is_problem {
                let body = content.remove("application/json").expect("checked above");
                content.insert(platform::error::PROBLEM_JSON.to_owned(), body);
            }
        }
    }
}

/// The committed form: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut text = serde_json::to_string_pretty(&spec()).expect("the spec serialises");
    text.push('\n');
    text
}

/// Middleware: a 405 says which methods the path has (`Allow`, RFC 9110), from the spec.
pub async fn allow_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    allowed: Arc<HashMap<String, String>>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let mut res = next.call(req).await?.map_into_boxed_body();
    if res.status() == StatusCode::METHOD_NOT_ALLOWED {
        let methods = res
            .request()
            .match_pattern()
            .and_then(|pattern| allowed.get(&pattern))
            .and_then(|methods| HeaderValue::from_str(methods).ok());
        if let Some(methods) = methods {
            res.headers_mut().insert(header::ALLOW, methods);
        }
    }
    Ok(res)
}
