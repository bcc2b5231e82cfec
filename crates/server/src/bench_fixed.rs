//! A route for the stations benchmark only: `GET /bench/fixed` answers the bytes of the file
//! `BENCH_FIXED_ANSWER` names, as `application/json`.
//!
//! It exists so that the bench can measure, in one run of one server, what a nearby answer
//! costs beyond its bytes: a fixed copy of a nearby answer goes through the same middleware
//! (compression included) and the same HTTP path as the search, without the search and the
//! writing of the JSON. It is registered only when the variable is set (never in production,
//! and never in the OpenAPI document).

use actix_web::{web, HttpResponse};
use anyhow::Context;

/// The variable naming the file.
pub const VARIABLE: &str = "BENCH_FIXED_ANSWER";

/// The answer's bytes when [`VARIABLE`] names a file; an error when it names one that cannot
/// be read, so that a bench never measures a server without the route.
pub fn from_env() -> anyhow::Result<Option<web::Bytes>> {
    let Some(path) = std::env::var_os(VARIABLE).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let bytes = std::fs::read(&path)
        .with_context(|| format!("{VARIABLE}: cannot read {}", path.to_string_lossy()))?;
    tracing::warn!(
        bytes = bytes.len(),
        "{VARIABLE} is set: serving GET /bench/fixed, a benchmark's route"
    );
    Ok(Some(bytes.into()))
}

/// Registers `GET /bench/fixed` when there is an answer to serve.
pub fn routes(cfg: &mut web::ServiceConfig, answer: Option<&web::Bytes>) {
    let Some(answer) = answer.cloned() else {
        return;
    };
    cfg.route(
        "/bench/fixed",
        web::get().to(move || {
            // A reference-counted copy, as the nearby route hands over its buffer: no bytes
            // are copied here.
            let body = answer.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body)
            }
        }),
    );
}
