//! Workers signed in on the public pages a poster or a station door opens: a phone's browser,
//! often WeChat's, with no app and no password. The SMS code is the whole sign-in, and a number
//! with no account gets one (the rider who scanned a poster has never registered).
//!
//! A session is a random token in an HttpOnly cookie, stored hashed, like the console's; it
//! ends after two idle weeks or 30 days, on sign-out, and with the account. A cheap phone on a
//! flaky network often loses the answer to the code form and sends it again: the code is spent
//! by then, so the first sign-in is kept for two minutes under the form's own token (which only
//! that browser holds) and a repeat gets the same session instead of "code already used".

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use platform::clock::now;
use platform::crypto::{random_token, sha256_hex};
use platform::schema::{accounts as a, web_sessions as ws};
use platform::{DbConn, ErrorCode, Result};

use crate::phone::Phone;
use crate::{AuthUser, Identity};

/// A session unused this long is over.
const IDLE: TimeDelta = TimeDelta::days(14);
/// A session is over this long after sign-in.
const ABSOLUTE: TimeDelta = TimeDelta::days(30);
/// How long a repeat of the code form gets the session its first try opened.
const REPLAY: Duration = Duration::from_secs(120);
/// Writing `last_seen_at` on every page view would be a write per tap.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);
/// What an account opened by code stores as its password: no hash matches it, so the account
/// signs in by code until the rider sets a password (`/v1/auth/password/reset`).
const NO_PASSWORD: &str = "";

/// A signed-in worker on the public pages.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: AuthUser,
    /// The token every form of the session must carry.
    pub csrf_token: String,
}

/// A session's dates, for the member's data export.
pub type SessionDates = (NaiveDateTime, NaiveDateTime, NaiveDateTime);

fn replay_key(phone_hash: &str, form_token: &str) -> String {
    format!(
        "web_signin:{phone_hash}:{}",
        sha256_hex(form_token.as_bytes())
    )
}

impl Identity {
    /// Signs in with a code from [`Identity::send_otp`], opening an account for a new number;
    /// returns the session token for the cookie. `form_token` is the browser's double-submit
    /// token of the form: sent again with it, the same sign-in answers with the same session.
    /// Limited per address as every sign-in is; the code itself is single use, five tries.
    pub async fn web_sign_in(
        self: &Arc<Self>,
        phone: &Phone,
        code: &str,
        address: &str,
        form_token: &str,
    ) -> Result<String> {
        self.coord
            .throttle(
                &format!("login_ip:{address}"),
                self.config.limits.login_per_ip,
            )
            .await?;
        let key = replay_key(&self.phone_hash(phone), form_token);
        if let Some(token) = self.replayed(&key).await? {
            return Ok(token);
        }
        self.verify_otp(phone, code).await?;
        let this = Arc::clone(self);
        let phone = phone.clone();
        let token = self
            .db
            .write(move |conn| {
                let account_id = this.account_for(conn, &phone)?;
                open(conn, account_id)
            })
            .await?;
        let sealed = self.protector.seal("web_signin", token.as_bytes());
        self.coord.put(&key, &sealed, REPLAY).await?;
        Ok(token)
    }

    /// The session an earlier try of the same form opened, if it is still live.
    async fn replayed(&self, key: &str) -> Result<Option<String>> {
        let Some(sealed) = self.coord.get(key).await? else {
            return Ok(None);
        };
        let token = self
            .protector
            .open("web_signin", &sealed)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok());
        let Some(token) = token else {
            return Ok(None);
        };
        let lookup = token.clone();
        let live = self
            .db
            .run(move |conn| live_row(conn, &sha256_hex(lookup.as_bytes())))
            .await?;
        Ok(live.map(|_| token))
    }

    /// The account of `phone`, opened now when there is none. Two first sign-ins of one
    /// number at once: the second insert meets the unique index and finds the first's row.
    fn account_for(&self, conn: &mut DbConn, phone: &Phone) -> Result<i64> {
        if let Some(found) = self.credentials(conn, phone)? {
            return Ok(found.account_id);
        }
        match self.insert_account(conn, phone, NO_PASSWORD, false) {
            Err(e) if e.code() == ErrorCode::PhoneTaken => self
                .credentials(conn, phone)?
                .map(|c| c.account_id)
                .ok_or(e),
            other => other,
        }
    }

    /// The signed-in session a cookie names, or None (unknown, idle too long, past its limit).
    pub fn web_session(&self, conn: &mut DbConn, token: &str) -> Result<Option<WebSession>> {
        let Some((id, account_id, csrf_token, last_seen)) =
            live_row(conn, &sha256_hex(token.as_bytes()))?
        else {
            return Ok(None);
        };
        let at = now();
        if at - last_seen > IDLE {
            diesel::delete(ws::table.find(id)).execute(conn)?;
            return Ok(None);
        }
        if at - last_seen > TOUCH_EVERY {
            diesel::update(ws::table.find(id))
                .set(ws::last_seen_at.eq(at))
                .execute(conn)?;
        }
        let is_admin: bool = a::table.find(account_id).select(a::is_admin).first(conn)?;
        Ok(Some(WebSession {
            user: AuthUser {
                account_id,
                roles: self.roles(conn, account_id, is_admin)?,
            },
            csrf_token,
        }))
    }

    /// Sign-out: the session named by `token` ends (nothing happens for an unknown one).
    pub fn end_web_session(&self, conn: &mut DbConn, token: &str) -> Result<()> {
        diesel::delete(ws::table.filter(ws::token_hash.eq(sha256_hex(token.as_bytes()))))
            .execute(conn)?;
        Ok(())
    }
}

fn open(conn: &mut DbConn, account_id: i64) -> Result<String> {
    let token = random_token(32);
    let at = now();
    diesel::insert_into(ws::table)
        .values((
            ws::token_hash.eq(sha256_hex(token.as_bytes())),
            ws::account_id.eq(account_id),
            ws::csrf_token.eq(random_token(24)),
            ws::created_at.eq(at),
            ws::last_seen_at.eq(at),
            ws::expires_at.eq(at + ABSOLUTE),
        ))
        .execute(conn)?;
    Ok(token)
}

type LiveRow = (i64, i64, String, NaiveDateTime);

fn live_row(conn: &mut DbConn, token_hash: &str) -> Result<Option<LiveRow>> {
    Ok(ws::table
        .filter(ws::token_hash.eq(token_hash))
        .filter(ws::expires_at.gt(now()))
        .select((ws::id, ws::account_id, ws::csrf_token, ws::last_seen_at))
        .first(conn)
        .optional()?)
}

/// The account's sessions (signed in, last seen, expires), for its data export.
pub fn of_account(conn: &mut DbConn, account_id: i64) -> Result<Vec<SessionDates>> {
    Ok(ws::table
        .filter(ws::account_id.eq(account_id))
        .order(ws::id.asc())
        .select((ws::created_at, ws::last_seen_at, ws::expires_at))
        .load(conn)?)
}

/// Every session of the account ends (erasure, a password reset).
pub fn end_all(conn: &mut DbConn, account_id: i64) -> Result<()> {
    diesel::delete(ws::table.filter(ws::account_id.eq(account_id))).execute(conn)?;
    Ok(())
}

/// Retention: sessions past their limit.
pub fn purge_expired(conn: &mut DbConn) -> Result<usize> {
    Ok(diesel::delete(ws::table.filter(ws::expires_at.lt(now()))).execute(conn)?)
}
