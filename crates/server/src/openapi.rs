//! The OpenAPI 3.1 document, assembled from each crate's own `ApiDoc`.

use serde_json::Value;
use utoipa::openapi::InfoBuilder;
use utoipa::OpenApi as _;

pub fn spec() -> Value {
    let mut doc = crate::ops::ApiDoc::openapi();
    doc.merge(identity::ApiDoc::openapi());
    doc.merge(membership::ApiDoc::openapi());
    doc.merge(stations::ApiDoc::openapi());
    doc.merge(benefits::ApiDoc::openapi());
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
    spec
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
