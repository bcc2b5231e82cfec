//! Operational routes: liveness, readiness, metrics and the spec.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use platform::crypto::{constant_time_eq, sha256_hex};
use platform::{Coordinator, Db, Error, ErrorCode};
use serde::Serialize;
use utoipa::ToSchema;

platform::api! {
    /// The operations part of the OpenAPI document.
    pub struct ApiDoc {
        tags((name = "operations"))
    }

    pub fn routes {
        healthz,
        readyz,
        metrics,
        openapi,
    }
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `ok` or `down`.
    pub database: &'static str,
    /// `ok`, `down` or `not_configured`.
    pub redis: &'static str,
}

/// The database, and Redis when configured, answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(db: web::Data<Db>, coord: web::Data<Coordinator>) -> HttpResponse {
    let (database, redis) = tokio::join!(db.ping(), coord.ping());
    let database = if database.is_ok() { "ok" } else { "down" };
    let redis = match (coord.is_redis(), redis.is_ok()) {
        (false, _) => "not_configured",
        (true, true) => "ok",
        (true, false) => "down",
    };
    let ready = database == "ok" && redis != "down";
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database,
        redis,
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Who may read `/metrics`: the holder of the configured token, nobody without one. The
/// metrics name every route and its traffic, which is nothing to hand a stranger.
pub struct MetricsAccess {
    token_hash: Option<String>,
}

impl MetricsAccess {
    pub fn new(token: Option<String>) -> MetricsAccess {
        MetricsAccess {
            token_hash: token
                .filter(|t| !t.is_empty())
                .map(|t| sha256_hex(t.as_bytes())),
        }
    }

    fn allows(&self, req: &HttpRequest) -> bool {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Digests of equal length, compared in constant time: the time says nothing.
        match (&self.token_hash, presented) {
            (Some(expected), Some(token)) => {
                constant_time_eq(expected.as_bytes(), sha256_hex(token.as_bytes()).as_bytes())
            }
            _ => false,
        }
    }
}

/// Prometheus metrics in the text exposition format, with `Authorization: Bearer
/// METRICS_TOKEN`; anyone else gets the same 404 as for a path that does not exist.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format, with `Authorization: Bearer` and the METRICS_TOKEN", content_type = "text/plain"),
        (status = 404, description = "Without the token: as if there were no such path", body = platform::error::Problem)))]
async fn metrics(access: web::Data<MetricsAccess>, req: HttpRequest) -> HttpResponse {
    if !access.allows(&req) {
        return Error::new(ErrorCode::NotFound).into();
    }
    platform::http::metrics().await
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::spec())
}
