//! Sign-in sessions: a short-lived access JWT plus an opaque refresh token.
//!
//! Refresh tokens are random, stored hashed, live 30 days and rotate on every use. A family is
//! one sign-in; presenting an already rotated token means it leaked (or a client misbehaves),
//! so the whole family is revoked. One exception keeps flaky networks from locking riders out:
//! a retry of the same refresh within the grace window gets the very same new pair, which the
//! rotation kept (encrypted) for that purpose.

use platform::clock::now;
use std::sync::Arc;

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use diesel::prelude::*;
use platform::crypto::{random_token, sha256_hex};
use platform::db::write_tx;
use platform::schema::refresh_tokens as rt;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::tokens::{AccessClaims, ACCESS_TOKEN_TYPE};
use crate::Identity;

/// What sign-in, registration and refresh return.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; exchange it at `/v1/auth/refresh` for a new pair. Single use.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

fn chrono(d: std::time::Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).expect("durations are small")
}

/// The stored session a presented refresh token names.
#[derive(Queryable, Selectable)]
#[diesel(table_name = rt)]
struct Presented {
    id: i64,
    account_id: i64,
    family_id: String,
    expires_at: NaiveDateTime,
    rotated_at: Option<NaiveDateTime>,
    rotation_replay: Option<String>,
    revoked_at: Option<NaiveDateTime>,
}

enum Rotation {
    Rotated(TokenPair),
    Reused,
}

impl Identity {
    /// A signed access token for an account.
    pub fn access_token(&self, account_id: i64, roles: Vec<String>) -> Result<String> {
        let iat = self
            .revocations
            .earliest_iat(account_id, platform::clock::now_utc().timestamp());
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: account_id.to_string(),
            exp: iat + self.config.access_ttl.as_secs() as i64,
            iat,
            roles,
        };
        self.keys
            .sign(ACCESS_TOKEN_TYPE, &claims)
            .map_err(Error::internal)
    }

    /// Mints a pair and stores its refresh token in `family`.
    fn mint(
        &self,
        conn: &mut DbConn,
        account_id: i64,
        is_admin: bool,
        family: &str,
    ) -> Result<TokenPair> {
        let roles = self.roles(conn, account_id, is_admin)?;
        let refresh_token = random_token(32);
        let created = now();
        diesel::insert_into(rt::table)
            .values((
                rt::account_id.eq(account_id),
                rt::family_id.eq(family),
                rt::token_hash.eq(sha256_hex(refresh_token.as_bytes())),
                rt::created_at.eq(created),
                rt::expires_at.eq(created + chrono(self.config.refresh_ttl)),
            ))
            .execute(conn)?;
        Ok(TokenPair {
            access_token: self.access_token(account_id, roles)?,
            token_type: "Bearer".to_owned(),
            expires_in: self.config.access_ttl.as_secs() as i64,
            refresh_token,
            refresh_expires_in: self.config.refresh_ttl.as_secs() as i64,
        })
    }

    /// Starts a new session family (sign-in, registration, password change).
    pub fn start_session(
        &self,
        conn: &mut DbConn,
        account_id: i64,
        is_admin: bool,
    ) -> Result<TokenPair> {
        self.mint(conn, account_id, is_admin, &random_token(16))
    }

    /// Exchanges a refresh token for a new pair (see the module comment for the rules).
    pub async fn refresh(self: &Arc<Self>, presented: String) -> Result<TokenPair> {
        let this = Arc::clone(self);
        let outcome = self
            .db
            .run(move |conn| write_tx(conn, |conn| this.rotate(conn, &presented)))
            .await?;
        match outcome {
            Rotation::Rotated(pair) => Ok(pair),
            // Reported after the revocation committed.
            Rotation::Reused => Err(Error::new(ErrorCode::RefreshTokenReused)),
        }
    }

    fn rotate(&self, conn: &mut DbConn, presented: &str) -> Result<Rotation> {
        let token_hash = sha256_hex(presented.as_bytes());
        // Two passes at most: the conditional update below can lose a race to a concurrent
        // rotation of the same token, which the second pass then treats as a retry.
        for _ in 0..2 {
            let row: Option<Presented> = rt::table
                .filter(rt::token_hash.eq(&token_hash))
                .select(Presented::as_select())
                .first(conn)
                .optional()?;
            let Some(row) = row else {
                return Err(Error::new(ErrorCode::InvalidRefreshToken));
            };
            let now = now();
            if row.revoked_at.is_some() || row.expires_at <= now {
                return Err(Error::new(ErrorCode::InvalidRefreshToken));
            }
            if let Some(rotated_at) = row.rotated_at {
                return self.rotated_before(conn, &row, rotated_at, now);
            }
            if let Some(pair) = self.claim_rotation(conn, &row, now)? {
                return Ok(Rotation::Rotated(pair));
            }
        }
        Err(Error::new(ErrorCode::InvalidRefreshToken))
    }

    /// A token presented again after its rotation: within the grace window it is the same
    /// client retrying (a lost answer on a flaky network) and gets the same pair again; after
    /// it, someone else holds a copy, and the whole family is revoked.
    fn rotated_before(
        &self,
        conn: &mut DbConn,
        row: &Presented,
        rotated_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<Rotation> {
        let within_grace = now - rotated_at <= chrono(self.config.refresh_grace);
        if let (true, Some(sealed)) = (within_grace, &row.rotation_replay) {
            let raw = self
                .protector
                .open("rotation_replay", sealed)
                .map_err(Error::internal)?;
            let pair = serde_json::from_slice(&raw).map_err(Error::internal)?;
            return Ok(Rotation::Rotated(pair));
        }
        self.revoke_family(conn, &row.family_id)?;
        tracing::warn!(
            account_id = row.account_id,
            "refresh token reuse: session family revoked"
        );
        Ok(Rotation::Reused)
    }

    /// Mints the next pair and marks `row` rotated, keeping the pair sealed for a retry within
    /// the grace window. `None` when a concurrent rotation of the same token won the race (the
    /// new token is undone, and the caller looks again).
    fn claim_rotation(
        &self,
        conn: &mut DbConn,
        row: &Presented,
        now: NaiveDateTime,
    ) -> Result<Option<TokenPair>> {
        let is_admin = self.is_admin(conn, row.account_id)?;
        let pair = self.mint(conn, row.account_id, is_admin, &row.family_id)?;
        let sealed = self.protector.seal(
            "rotation_replay",
            &serde_json::to_vec(&pair).map_err(Error::internal)?,
        );
        let claimed = diesel::update(rt::table)
            .filter(
                rt::id
                    .eq(row.id)
                    .and(rt::rotated_at.is_null())
                    .and(rt::revoked_at.is_null()),
            )
            .set((rt::rotated_at.eq(now), rt::rotation_replay.eq(Some(sealed))))
            .execute(conn)?;
        if claimed != 1 {
            diesel::delete(
                rt::table.filter(rt::token_hash.eq(sha256_hex(pair.refresh_token.as_bytes()))),
            )
            .execute(conn)?;
            return Ok(None);
        }
        // Replays older than the grace window are useless; drop them from the family.
        diesel::update(rt::table)
            .filter(rt::family_id.eq(&row.family_id))
            .filter(rt::rotated_at.lt(now - chrono(self.config.refresh_grace)))
            .filter(rt::rotation_replay.is_not_null())
            .set(rt::rotation_replay.eq(None::<String>))
            .execute(conn)?;
        Ok(Some(pair))
    }

    pub fn revoke_family(&self, conn: &mut DbConn, family: &str) -> Result<()> {
        diesel::update(rt::table)
            .filter(rt::family_id.eq(family).and(rt::revoked_at.is_null()))
            .set((
                rt::revoked_at.eq(now()),
                rt::rotation_replay.eq(None::<String>),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Logout: revokes the family of `presented` if it belongs to `account_id`. Unknown tokens
    /// are ignored so logout is always safe to retry.
    pub fn logout(&self, conn: &mut DbConn, account_id: i64, presented: &str) -> Result<()> {
        let family: Option<String> = rt::table
            .filter(rt::token_hash.eq(sha256_hex(presented.as_bytes())))
            .filter(rt::account_id.eq(account_id))
            .select(rt::family_id)
            .first(conn)
            .optional()?;
        if let Some(family) = family {
            self.revoke_family(conn, &family)?;
        }
        Ok(())
    }

    /// Revokes every session of an account (password change).
    pub fn revoke_all_sessions(&self, conn: &mut DbConn, account_id: i64) -> Result<()> {
        diesel::update(rt::table)
            .filter(rt::account_id.eq(account_id).and(rt::revoked_at.is_null()))
            .set((
                rt::revoked_at.eq(now()),
                rt::rotation_replay.eq(None::<String>),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// Retention: removes refresh tokens that expired more than `keep` ago. Expired tokens are
/// refused anyway; only their hashes and times remain, and those go too.
pub fn purge_expired(conn: &mut DbConn, keep: std::time::Duration) -> Result<usize> {
    let cutoff = now() - chrono(keep);
    Ok(diesel::delete(rt::table.filter(rt::expires_at.lt(cutoff))).execute(conn)?)
}
