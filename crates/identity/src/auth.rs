//! The auth extractor: a handler that takes [`AuthUser`] only runs for a valid access token.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use platform::audit::Actor;
use platform::{Error, ErrorCode};

use crate::accounts::ROLE_ADMIN;
use crate::tokens::{AccessClaims, ACCESS_TOKEN_TYPE};
use crate::Identity;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub account_id: i64,
    pub roles: Vec<String>,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ROLE_ADMIN)
    }
}

/// The caller of `req`, for handlers that must answer some requests before authenticating
/// (the sold-out fast path); others take [`AuthUser`] as an extractor.
pub fn authenticate(req: &HttpRequest) -> Result<AuthUser, Error> {
    let identity = identity_of(req)?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or(ErrorCode::Unauthenticated)?;
    let claims: AccessClaims = identity
        .keys
        .verify(
            token,
            ACCESS_TOKEN_TYPE,
            &identity.config.issuer,
            &identity.config.audience,
        )
        .ok_or(ErrorCode::Unauthenticated)?;
    let account_id = claims.sub.parse().map_err(|_| ErrorCode::Unauthenticated)?;
    if identity.revocations.is_revoked(account_id, claims.iat) {
        return Err(Error::new(ErrorCode::Unauthenticated));
    }
    Ok(AuthUser {
        account_id,
        roles: claims.roles,
    })
}

fn identity_of(req: &HttpRequest) -> Result<&web::Data<Identity>, Error> {
    req.app_data::<web::Data<Identity>>()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("Identity missing from app data")))
}

/// The caller of a route whose use case is audited: the authenticated account, and the actor
/// the audit log records (that account, from its client address as our proxies saw it). Built
/// from one request, so the two cannot disagree.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: AuthUser,
    pub actor: Actor,
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Ready<Result<Caller, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|user| {
            let address = identity_of(req)?.config.proxies.client_ip(req);
            Ok(Caller {
                actor: Actor::account(user.account_id, address),
                user,
            })
        }))
    }
}

impl FromRequest for AuthUser {
    type Error = Error;
    type Future = Ready<Result<AuthUser, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// Idempotency keys are scoped by the verified account, so a retry with a refreshed token
/// still gets the first response.
impl platform::idempotency::CallerScope for Identity {
    fn caller(&self, req: &HttpRequest) -> Option<i64> {
        authenticate(req).ok().map(|user| user.account_id)
    }
}
