//! Staff console sign-in: the password, then a second factor, because a staff account sees the
//! personal data of thousands (PIPL Art. 51).
//!
//! The second factor is an SMS code to the account's phone, asked on a browser the account has
//! not passed it on before; passing it marks the browser trusted for a while, so a staff member
//! at their own laptop types the password only. A session is a random token in an HttpOnly
//! cookie, stored hashed; it ends after an idle spell, at an absolute limit, on sign-out, and
//! with every other session of the account when the password is reset. A worker account gets
//! no console session at all.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use platform::clock::now;
use platform::crypto::{random_token, sha256_hex};
use platform::schema::{accounts as a, console_sessions as cs, trusted_browsers as tb};
use platform::{DbConn, Error, ErrorCode, Result};

use crate::accounts::{ROLE_ADMIN, ROLE_STAFF};
use crate::phone::Phone;
use crate::{AuthUser, Identity};

/// How long console sessions and trusted browsers last.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleTimeouts {
    /// A session unused this long is over.
    pub idle: Duration,
    /// A session is over this long after sign-in, however busy.
    pub absolute: Duration,
    /// A browser that passed the second factor skips it this long.
    pub trusted_browser: Duration,
}

impl Default for ConsoleTimeouts {
    fn default() -> Self {
        ConsoleTimeouts {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            trusted_browser: Duration::from_secs(30 * 86_400),
        }
    }
}

/// What the password step leads to. Either way the browser gets a new session token.
#[derive(Debug)]
pub enum PasswordStep {
    /// A trusted browser: signed in.
    SignedIn { session: String },
    /// A new browser: a code went to the account's phone; the session waits for it.
    CodeSent {
        session: String,
        phone_masked: String,
    },
}

/// The second factor passed: the session's new token (the pre-code one stops counting, so a
/// token seen before sign-in is worthless after it) and the browser's trusted mark.
#[derive(Debug)]
pub struct CodeStep {
    pub session: String,
    pub trusted_browser: String,
}

/// A signed-in console session.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub user: AuthUser,
    /// The token every form of the session must carry.
    pub csrf_token: String,
}

#[derive(Queryable)]
struct SessionRow {
    id: i64,
    account_id: i64,
    csrf_token: String,
    second_factor_done: bool,
    last_seen_at: NaiveDateTime,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).expect("durations are small")
}

/// Writing `last_seen_at` on every page view would be a write per click; a minute's slack in
/// the idle timeout costs nothing.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

impl Identity {
    /// Checks the password, refuses non-staff, and either signs in (a trusted browser) or sends
    /// the SMS code.
    pub async fn console_password_step(
        self: &Arc<Self>,
        phone: Phone,
        password: &str,
        address: &str,
        trusted_browser: Option<String>,
    ) -> Result<PasswordStep> {
        let (account_id, is_admin) = self.check_password(&phone, password, address).await?;
        let this = Arc::clone(self);
        let trusted = self
            .db
            .run(move |conn| {
                if !this.is_staff_or_admin(conn, account_id, is_admin)? {
                    return Err(Error::new(ErrorCode::ConsoleStaffOnly));
                }
                match trusted_browser {
                    Some(token) => is_trusted(conn, account_id, &token),
                    None => Ok(false),
                }
            })
            .await?;
        if !trusted {
            self.send_otp(&phone, address).await?;
        }
        let this = Arc::clone(self);
        let session = self
            .db
            .run(move |conn| this.open_console_session(conn, account_id, trusted))
            .await?;
        Ok(if trusted {
            PasswordStep::SignedIn { session }
        } else {
            PasswordStep::CodeSent {
                session,
                phone_masked: phone.masked(),
            }
        })
    }

    /// The SMS code of a session waiting for it.
    pub async fn console_code_step(
        self: &Arc<Self>,
        session: &str,
        code: &str,
    ) -> Result<CodeStep> {
        let hash = sha256_hex(session.as_bytes());
        let lookup = hash.clone();
        let this = Arc::clone(self);
        let (row_id, account_id, phone) = self
            .db
            .run(move |conn| {
                let row = live_row(conn, &lookup)?
                    .filter(|row| !row.second_factor_done)
                    .ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
                let sealed: String = a::table
                    .find(row.account_id)
                    .select(a::phone_enc)
                    .first(conn)?;
                let phone = this.open_phone(&sealed, format_args!("account {}", row.account_id))?;
                Ok((row.id, row.account_id, phone))
            })
            .await?;
        self.verify_otp(&phone, code).await?;
        let timeouts = self.config.console;
        self.db
            .run(move |conn| {
                let session = random_token(32);
                let at = now();
                let updated = diesel::update(cs::table.find(row_id))
                    .filter(cs::token_hash.eq(&hash))
                    .set((
                        cs::token_hash.eq(sha256_hex(session.as_bytes())),
                        cs::second_factor_done.eq(true),
                        cs::last_seen_at.eq(at),
                        cs::expires_at.eq(at + delta(timeouts.absolute)),
                    ))
                    .execute(conn)?;
                if updated == 0 {
                    return Err(Error::new(ErrorCode::Unauthenticated));
                }
                let trusted_browser = random_token(32);
                diesel::insert_into(tb::table)
                    .values((
                        tb::token_hash.eq(sha256_hex(trusted_browser.as_bytes())),
                        tb::account_id.eq(account_id),
                        tb::created_at.eq(at),
                        tb::expires_at.eq(at + delta(timeouts.trusted_browser)),
                    ))
                    .execute(conn)?;
                Ok(CodeStep {
                    session,
                    trusted_browser,
                })
            })
            .await
    }

    /// The signed-in session a cookie names, or None (unknown, idle too long, past its limit,
    /// still waiting for its code, or the account is no longer staff).
    pub fn console_session(
        &self,
        conn: &mut DbConn,
        token: &str,
    ) -> Result<Option<ConsoleSession>> {
        let Some(row) = live_row(conn, &sha256_hex(token.as_bytes()))? else {
            return Ok(None);
        };
        if !row.second_factor_done {
            return Ok(None);
        }
        let at = now();
        if at - row.last_seen_at > delta(self.config.console.idle) {
            diesel::delete(cs::table.find(row.id)).execute(conn)?;
            return Ok(None);
        }
        let is_admin: bool = a::table
            .find(row.account_id)
            .select(a::is_admin)
            .first(conn)?;
        let roles = self.roles(conn, row.account_id, is_admin)?;
        if !roles.iter().any(|r| r == ROLE_STAFF || r == ROLE_ADMIN) {
            return Ok(None);
        }
        if at - row.last_seen_at > TOUCH_EVERY {
            diesel::update(cs::table.find(row.id))
                .set(cs::last_seen_at.eq(at))
                .execute(conn)?;
        }
        Ok(Some(ConsoleSession {
            user: AuthUser {
                account_id: row.account_id,
                roles,
            },
            csrf_token: row.csrf_token,
        }))
    }

    /// Sign-out: the session named by `token` ends (nothing happens for an unknown one).
    pub fn end_console_session(&self, conn: &mut DbConn, token: &str) -> Result<()> {
        diesel::delete(cs::table.filter(cs::token_hash.eq(sha256_hex(token.as_bytes()))))
            .execute(conn)?;
        Ok(())
    }

    /// Every console session and trusted browser of the account ends (a password reset).
    pub fn end_console_sessions(&self, conn: &mut DbConn, account_id: i64) -> Result<()> {
        diesel::delete(cs::table.filter(cs::account_id.eq(account_id))).execute(conn)?;
        diesel::delete(tb::table.filter(tb::account_id.eq(account_id))).execute(conn)?;
        Ok(())
    }

    fn is_staff_or_admin(
        &self,
        conn: &mut DbConn,
        account_id: i64,
        is_admin: bool,
    ) -> Result<bool> {
        Ok(is_admin || !self.staff_scopes(conn, account_id)?.is_empty())
    }

    /// A new session row; one still waiting for its code lasts as long as the code does.
    fn open_console_session(
        &self,
        conn: &mut DbConn,
        account_id: i64,
        done: bool,
    ) -> Result<String> {
        let token = random_token(32);
        let at = now();
        let lasts = if done {
            self.config.console.absolute
        } else {
            self.config.otp_ttl
        };
        diesel::insert_into(cs::table)
            .values((
                cs::token_hash.eq(sha256_hex(token.as_bytes())),
                cs::account_id.eq(account_id),
                cs::csrf_token.eq(random_token(24)),
                cs::second_factor_done.eq(done),
                cs::created_at.eq(at),
                cs::last_seen_at.eq(at),
                cs::expires_at.eq(at + delta(lasts)),
            ))
            .execute(conn)?;
        Ok(token)
    }
}

/// The session row of a token hash, unless past its absolute limit.
fn live_row(conn: &mut DbConn, token_hash: &str) -> Result<Option<SessionRow>> {
    Ok(cs::table
        .filter(cs::token_hash.eq(token_hash))
        .filter(cs::expires_at.gt(now()))
        .select((
            cs::id,
            cs::account_id,
            cs::csrf_token,
            cs::second_factor_done,
            cs::last_seen_at,
        ))
        .first::<SessionRow>(conn)
        .optional()?)
}

fn is_trusted(conn: &mut DbConn, account_id: i64, token: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        tb::table
            .filter(tb::token_hash.eq(sha256_hex(token.as_bytes())))
            .filter(tb::account_id.eq(account_id))
            .filter(tb::expires_at.gt(now())),
    ))
    .get_result(conn)?)
}

/// Retention: sessions and trusted marks past their limits.
pub fn purge_expired(conn: &mut DbConn) -> Result<usize> {
    let at = now();
    let sessions = diesel::delete(cs::table.filter(cs::expires_at.lt(at))).execute(conn)?;
    let browsers = diesel::delete(tb::table.filter(tb::expires_at.lt(at))).execute(conn)?;
    Ok(sessions + browsers)
}
