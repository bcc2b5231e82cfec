//! HTTP plumbing shared by every crate: the per-request span and id, metrics, problem+json
//! localisation, and extractor settings that turn bad input into clear 4xx problems.

use std::sync::LazyLock;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use tracing::Instrument;

use crate::error::{Error, ErrorCode, Lang, ProblemInfo};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Largest JSON body any route accepts. Bodies are small forms; anything bigger is a mistake
/// or an attack.
pub const JSON_LIMIT: usize = 64 * 1024;

/// The request id of the current request, available to handlers through extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

static METRICS: LazyLock<HttpMetrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new("http_requests_total", "HTTP requests by route and status"),
        &["method", "route", "status"],
    )
    .expect("metric definition");
    let duration = HistogramVec::new(
        HistogramOpts::new(
            "http_request_duration_seconds",
            "HTTP request latency by route",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]),
        &["method", "route"],
    )
    .expect("metric definition");
    registry
        .register(Box::new(requests.clone()))
        .expect("register");
    registry
        .register(Box::new(duration.clone()))
        .expect("register");
    HttpMetrics {
        registry,
        requests,
        duration,
    }
});

/// A gauge on `/metrics`, registered once (for a `LazyLock` static).
pub fn gauge(name: &str, help: &str) -> prometheus::IntGauge {
    let gauge = prometheus::IntGauge::new(name, help).expect("valid metric definition");
    register_metric(Box::new(gauge.clone()));
    gauge
}

/// Registers an extra metric (a domain counter) on the registry `/metrics` serves.
pub fn register_metric(metric: Box<dyn prometheus::core::Collector>) {
    if let Err(e) = METRICS.registry.register(metric) {
        tracing::warn!(error = %e, "metric registered twice");
    }
}

/// `GET /metrics` in the Prometheus text format.
pub async fn metrics() -> HttpResponse {
    let mut out = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    if let Err(e) = encoder.encode(&METRICS.registry.gather(), &mut out) {
        return Error::internal(e).into();
    }
    HttpResponse::Ok()
        .content_type(encoder.format_type())
        .body(out)
}

impl From<Error> for HttpResponse {
    fn from(e: Error) -> Self {
        actix_web::ResponseError::error_response(&e)
    }
}

fn accepted_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| value.to_owned())
}

/// The outermost middleware: one span per request carrying its id, a completion log line,
/// metrics, the `x-request-id` header, and problem bodies in the client's language with their
/// internal cause logged (never sent).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = accepted_request_id(&req).unwrap_or_else(|| crate::crypto::random_token(12));
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let method = req.method().to_string();
    let span = tracing::info_span!("request", id = %request_id, %method, path = %req.path());
    req.extensions_mut().insert(RequestId(request_id.clone()));

    // Middlewares inside this one answer with responses, not errors, so every problem passes here.
    let res = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();
    let _entered = span.enter();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status();

    let problem = res.response().extensions().get::<ProblemInfo>().cloned();
    let mut res = res;
    if let Some(problem) = problem {
        if let Some(cause) = &problem.cause {
            if status.is_server_error() {
                tracing::error!(code = %problem.code, cause = %cause, "request failed");
            } else {
                tracing::debug!(code = %problem.code, cause = %cause, "request refused");
            }
        }
        if lang != Lang::ZhCn {
            let body = problem.render(lang);
            res = res.map_body(|_, _| BoxBody::new(body));
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }

    let elapsed = started.elapsed();
    METRICS
        .requests
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .inc();
    METRICS
        .duration
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        status = status.as_u16(),
        route = %route,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "served"
    );
    Ok(res)
}

/// Extractor settings: every malformed body or path becomes a problem+json with the right
/// status (400 unparseable, 413 too large, 415 wrong type, 404 a path that names nothing).
/// Queries and the values in a body are checked by [`crate::extract`], which names the field.
pub fn configure_extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config(JSON_LIMIT))
        .app_data(web::PathConfig::default().error_handler(path_error));
}

/// JSON bodies up to `limit` bytes, errors as problems. Routes taking larger bodies (a report
/// with its PDF) set their own with this.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(json_error)
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let code = match &err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ErrorCode::PayloadTooLarge
        }
        JsonPayloadError::ContentType => ErrorCode::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) if e.is_data() => ErrorCode::InvalidField,
        _ => ErrorCode::MalformedRequest,
    };
    Error::new(code).with_cause(anyhow::anyhow!("{err}")).into()
}

fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    // A path segment that does not parse (e.g. a non-numeric id) names nothing that exists.
    Error::new(ErrorCode::NotFound)
        .with_cause(anyhow::anyhow!("{err}"))
        .into()
}

/// The default service: unknown paths get a problem+json 404.
pub async fn not_found() -> HttpResponse {
    Error::new(ErrorCode::NotFound).into()
}

async fn method_not_allowed() -> HttpResponse {
    Error::new(ErrorCode::MethodNotAllowed).into()
}

/// A resource whose unsupported methods get a problem+json 405 instead of a bare one.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The one policy for every answer: pages load only what we serve, nothing frames us, and
/// JSON or SVG opened in a browser runs nothing.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Browser hardening headers on every response; HSTS as well when the public URL is https
/// (behind a proxy that terminates TLS, the server itself only sees http).
pub async fn secure_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    hsts: bool,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    let set = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Join and door links carry codes in their paths: never pass them on.
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    Ok(res)
}
