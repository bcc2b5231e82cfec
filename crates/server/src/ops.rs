//! Operational routes: liveness, readiness, metrics and the spec.

use actix_web::{web, HttpResponse};
use platform::http::resource;
use platform::{Coordinator, Db};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(healthz)))
        .service(resource("/readyz").route(web::get().to(readyz)))
        .service(resource("/metrics").route(web::get().to(metrics)))
        .service(resource("/openapi.json").route(web::get().to(openapi)));
}

#[derive(OpenApi)]
#[openapi(paths(healthz, readyz, metrics, openapi), tags((name = "operations")))]
pub struct ApiDoc;

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

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics() -> HttpResponse {
    platform::http::metrics().await
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::spec())
}
