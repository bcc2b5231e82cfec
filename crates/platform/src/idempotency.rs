//! `Idempotency-Key` for creating POSTs: a phone on a flaky network retries, and the retry must
//! get the first response instead of creating a second thing.
//!
//! Only resources registered with [`creating`] take part: routes that issue tokens never do
//! (they have their own retry rule, and a stored token pair would be a secret at rest). The
//! first request with a key records it as in progress; when it succeeds (2xx) its response is
//! stored, sealed with the data key, and replayed to every retry with the same key and body. A
//! retry while the first is still running gets 409, a reuse of the key with another body 422.
//! Failures are not stored, so a retry after an error runs again. Keys are scoped by method,
//! path and the verified account (see [`CallerScope`]), and live 24 hours. An in-progress
//! record older than a minute is treated as abandoned (the process died mid-request) and the
//! request runs again; domain uniqueness constraints keep that safe.
//!
//! Nothing is buffered for a caller that is not signed in (the route refuses it with 401
//! itself), and never more than the route's own body limit, checked against `Content-Length`
//! before reading.

use crate::clock::now;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpResponse};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::StreamExt;

use crate::crypto::{sha256_hex, DataProtector};
use crate::db::{is_unique_violation, Db};
use crate::error::{Error, ErrorCode, Result};
use crate::schema::idempotency_keys as ik;

/// An `Idempotency-Key` is 1 to 255 visible ASCII characters (tabs and spaces only inside,
/// since HTTP trims them at the ends): what `HeaderValue::to_str` reads, as the spec says it.
pub const MAX_KEY_LEN: usize = 255;
pub const KEY_PATTERN: &str = "^[!-~]([\\t -~]*[!-~])?$";

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// How long a key is remembered.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// After this an in-progress record is considered abandoned.
const ABANDONED_AFTER: Duration = Duration::from_secs(60);
/// Associated data of sealed response bodies: a body cannot be moved into another column.
const SEALED_BODY: &str = "idempotency/response-body";

/// A resource whose POST creates something and takes `Idempotency-Key`, with bodies of at
/// most `body_limit` bytes (the limit its own extractor enforces).
pub fn creating(
    path: &str,
    body_limit: usize,
) -> actix_web::Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    crate::http::resource(path)
        .app_data(crate::http::json_config(body_limit))
        .wrap(from_fn(move |req, next| idempotency(req, next, body_limit)))
}

enum Begin {
    Run,
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
}

/// Names the authenticated caller of a request (identity provides it), so that keys are scoped
/// by account rather than by token.
pub trait CallerScope: Send + Sync {
    /// The verified account id of the request's caller.
    fn caller(&self, req: &actix_web::HttpRequest) -> Option<i64>;
}

/// A POST with a key, ready to be checked: where to record it and under which scope.
struct Keyed {
    db: Db,
    protector: DataProtector,
    account_id: i64,
    scope: String,
    key: String,
    request_hash: String,
}

/// Reads the key and the body (putting the body back for the handler). `None`: not keyed, or
/// no signed-in caller to key it for.
async fn prepare(req: &mut ServiceRequest, body_limit: usize) -> Result<Option<Keyed>> {
    let Some(key) = req.headers().get(&IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    if req.method() != Method::POST {
        return Ok(None);
    }
    // Who calls comes first: a stranger hears the route's 401, not what is wrong with a key.
    let Some(caller) = req
        .app_data::<web::Data<dyn CallerScope>>()
        .and_then(|scope| scope.caller(req.request()))
    else {
        return Ok(None);
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k.to_owned(),
        _ => return Err(Error::invalid(ErrorCode::InvalidField, "Idempotency-Key")),
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > body_limit as u64) {
        return Err(Error::new(ErrorCode::PayloadTooLarge));
    }
    let db = app_data::<Db>(req)?;
    let protector = app_data::<DataProtector>(req)?;
    let body = read_body(req.take_payload(), body_limit).await?;
    let scope = sha256_hex(
        &[
            req.method().as_str().as_bytes(),
            b" ",
            req.path().as_bytes(),
            b"\naccount:",
            caller.to_string().as_bytes(),
        ]
        .concat(),
    );
    let request_hash = sha256_hex(&body);
    req.set_payload(Payload::from(body));
    Ok(Some(Keyed {
        db,
        protector,
        account_id: caller,
        scope,
        key,
        request_hash,
    }))
}

fn app_data<T: 'static + Clone>(req: &ServiceRequest) -> Result<T> {
    req.app_data::<web::Data<T>>()
        .map(|data| data.get_ref().clone())
        .ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "{} missing from app data",
                std::any::type_name::<T>()
            ))
        })
}

/// Middleware applying the rules above to a [`creating`] resource's POSTs carrying the header.
/// Its own refusals are responses, not errors, so the outer middleware renders and logs them
/// like any other.
async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    body_limit: usize,
) -> std::result::Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Keyed {
        db,
        protector,
        account_id,
        scope,
        key,
        request_hash,
    } = match prepare(&mut req, body_limit).await {
        Ok(Some(keyed)) => keyed,
        Ok(None) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => return Ok(req.error_response(e)),
    };
    let record = NewRecord {
        account_id,
        scope: scope.clone(),
        key: key.clone(),
        request_hash,
    };
    let begun = match begin(&db, &protector, record).await {
        Ok(begun) => begun,
        Err(e) => return Ok(req.error_response(e)),
    };
    match begun {
        Begin::Replay {
            status,
            content_type,
            body,
        } => {
            let mut res =
                HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
            if let Some(ct) = content_type {
                res.insert_header((header::CONTENT_TYPE, ct));
            }
            res.insert_header((REPLAYED, HeaderValue::from_static("true")));
            Ok(req.into_response(res.body(body)))
        }
        Begin::Run => {
            let res = next.call(req).await;
            let res = match res {
                Ok(res) => res.map_into_boxed_body(),
                Err(e) => {
                    forget(&db, scope, key).await;
                    return Err(e);
                }
            };
            if !res.status().is_success() {
                forget(&db, scope, key).await;
                return Ok(res);
            }
            let status = res.status().as_u16();
            let content_type = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let (http_req, res) = res.into_parts();
            let (head, body) = res.into_parts();
            let bytes = actix_web::body::to_bytes(body)
                .await
                .map_err(|_| Error::internal(anyhow::anyhow!("response body unreadable")))?;
            let sealed = protector.seal(SEALED_BODY, &bytes);
            finish(&db, scope, key, status, content_type, sealed).await;
            Ok(ServiceResponse::new(
                http_req,
                head.set_body(BoxBody::new(bytes)),
            ))
        }
    }
}

async fn read_body(mut payload: Payload, limit: usize) -> Result<web::Bytes> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Error::new(ErrorCode::MalformedRequest).with_cause(e))?;
        if buf.len() + chunk.len() > limit {
            return Err(Error::new(ErrorCode::PayloadTooLarge));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// A stored record: request hash, status, content type, body, created at.
type Record = (
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// What a first request records.
struct NewRecord {
    account_id: i64,
    scope: String,
    key: String,
    request_hash: String,
}

async fn begin(db: &Db, protector: &DataProtector, record: NewRecord) -> Result<Begin> {
    let protector = protector.clone();
    let NewRecord {
        account_id,
        scope,
        key,
        request_hash,
    } = record;
    db.run(move |conn| {
        // Two attempts: the second follows the removal of an expired or abandoned record.
        for _ in 0..2 {
            let inserted = diesel::insert_into(ik::table)
                .values((
                    ik::scope.eq(&scope),
                    ik::idem_key.eq(&key),
                    ik::request_hash.eq(&request_hash),
                    ik::created_at.eq(now()),
                    ik::account_id.eq(account_id),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => return Ok(Begin::Run),
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e.into()),
            }
            let existing: Option<Record> = ik::table
                .filter(ik::scope.eq(&scope).and(ik::idem_key.eq(&key)))
                .select((
                    ik::request_hash,
                    ik::status,
                    ik::content_type,
                    ik::body,
                    ik::created_at,
                ))
                .first(conn)
                .optional()?;
            let Some((hash, status, content_type, body, created_at)) = existing else {
                continue; // removed meanwhile: try to insert again
            };
            let age = (now() - created_at).to_std().unwrap_or_default();
            // A body that does not open was sealed with another data key: run again.
            let opened = body.as_deref().map(|b| protector.open(SEALED_BODY, b).ok());
            let stale = match status {
                Some(_) => age > RETENTION || opened.as_ref().is_some_and(Option::is_none),
                None => age > ABANDONED_AFTER,
            };
            if stale {
                diesel::delete(ik::table)
                    .filter(ik::scope.eq(&scope).and(ik::idem_key.eq(&key)))
                    .filter(ik::created_at.eq(created_at))
                    .execute(conn)?;
                continue;
            }
            if hash != request_hash {
                return Err(Error::invalid(
                    ErrorCode::IdempotencyKeyReused,
                    "Idempotency-Key",
                ));
            }
            return match (status, opened.flatten()) {
                (Some(status), Some(body)) => Ok(Begin::Replay {
                    status: status as u16,
                    content_type,
                    body,
                }),
                _ => Err(Error::new(ErrorCode::IdempotencyInProgress)),
            };
        }
        Err(Error::new(ErrorCode::IdempotencyInProgress))
    })
    .await
}

async fn finish(
    db: &Db,
    scope: String,
    key: String,
    status: u16,
    content_type: Option<String>,
    body: String,
) {
    let stored = db
        .run(move |conn| {
            diesel::update(ik::table)
                .filter(ik::scope.eq(&scope).and(ik::idem_key.eq(&key)))
                .set((
                    ik::status.eq(i32::from(status)),
                    ik::content_type.eq(content_type),
                    ik::body.eq(body),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await;
    if let Err(e) = stored {
        // The response still goes out; a retry will run again instead of replaying.
        tracing::warn!(error = ?e, "could not store an idempotent response");
    }
}

async fn forget(db: &Db, scope: String, key: String) {
    let removed = db
        .run(move |conn| {
            diesel::delete(ik::table)
                .filter(ik::scope.eq(&scope).and(ik::idem_key.eq(&key)))
                .filter(ik::status.is_null())
                .execute(conn)?;
            Ok(())
        })
        .await;
    if let Err(e) = removed {
        tracing::warn!(error = ?e, "could not release an idempotency key");
    }
}

/// Deletes records past their retention; the server runs this periodically.
pub async fn purge_expired(db: &Db) -> Result<usize> {
    db.run(|conn| {
        let cutoff = now() - chrono::Duration::from_std(RETENTION).expect("fits");
        Ok(diesel::delete(ik::table.filter(ik::created_at.lt(cutoff))).execute(conn)?)
    })
    .await
}
