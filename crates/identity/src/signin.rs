//! Signing in, by password or by SMS code, and resetting a forgotten password by SMS code.
//!
//! A rider who forgot the password still owns the phone: a code sent to it signs in, or sets a
//! new password. Password guessing is slowed per phone and address; code sign-in does not go
//! through those limits (so a stranger hammering a rider's number with wrong passwords cannot
//! keep the rider out), since each code is single use, five tries, and its sending is limited.
//! Every failure of a code, and a phone without an account, answer the same
//! `invalid_code_credentials`: the answer does not tell whether a number is registered.

use std::sync::Arc;

use platform::db::write_tx;
use platform::{Error, ErrorCode, Result};

use crate::password::Password;
use crate::phone::Phone;
use crate::revocations::Revocations;
use crate::sign_in_sessions::TokenPair;
use crate::Identity;

impl Identity {
    /// Sign-in with the password; unknown phone and wrong password answer the same 401.
    pub async fn sign_in_with_password(
        self: &Arc<Self>,
        phone: Phone,
        password: &str,
        address: &str,
    ) -> Result<TokenPair> {
        let (account_id, is_admin) = self.check_password(&phone, password, address).await?;
        let this = Arc::clone(self);
        self.db
            .run(move |conn| this.start_session(conn, account_id, is_admin))
            .await
    }

    /// The account (id, is admin) whose password this is, through the guessing limits; the
    /// app's sign-in and the console's both come here.
    pub(crate) async fn check_password(
        self: &Arc<Self>,
        phone: &Phone,
        password: &str,
        address: &str,
    ) -> Result<(i64, bool)> {
        let limits = &self.config.limits;
        let phone_hash = self.phone_hash(phone);
        self.coord
            .throttle(&format!("login_ip:{address}"), limits.login_per_ip)
            .await?;
        self.coord
            .throttle(
                &format!("login_phone_ip:{phone_hash}:{address}"),
                limits.login_per_phone,
            )
            .await?;
        self.coord
            .throttle(
                &format!("login_phone:{phone_hash}"),
                limits.login_per_phone_any_address,
            )
            .await?;
        let this = Arc::clone(self);
        let lookup = phone.clone();
        let credentials = self
            .db
            .run(move |conn| this.credentials(conn, &lookup))
            .await?;
        let (stored, account) = match credentials {
            Some(c) => (Some(c.password_hash), Some((c.account_id, c.is_admin))),
            None => (None, None),
        };
        let valid = self.hasher.verify(password, stored).await?;
        account
            .filter(|_| valid)
            .ok_or_else(|| Error::new(ErrorCode::InvalidCredentials))
    }

    /// Sign-in with a code from `/v1/auth/otp`.
    pub async fn sign_in_with_code(
        self: &Arc<Self>,
        phone: Phone,
        code: &str,
        address: &str,
    ) -> Result<TokenPair> {
        self.coord
            .throttle(
                &format!("login_ip:{address}"),
                self.config.limits.login_per_ip,
            )
            .await?;
        let (account_id, is_admin) = self.account_by_code(&phone, code).await?;
        let this = Arc::clone(self);
        self.db
            .run(move |conn| this.start_session(conn, account_id, is_admin))
            .await
    }

    /// Sets a new password with a code from `/v1/auth/otp`. Every session of the account ends,
    /// access tokens included (a lost phone's tokens die with the old password); the rider then
    /// signs in with the new password.
    pub async fn reset_password(
        self: &Arc<Self>,
        phone: Phone,
        code: &str,
        new_password: Password,
    ) -> Result<()> {
        let (account_id, _) = self.account_by_code(&phone, code).await?;
        let hash = self.hasher.hash(new_password).await?;
        let at = platform::clock::now();
        let this = Arc::clone(self);
        self.db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    this.set_password_hash(conn, account_id, &hash)?;
                    this.revoke_all_sessions(conn, account_id)?;
                    this.end_console_sessions(conn, account_id)?;
                    crate::web_sessions::end_all(conn, account_id)?;
                    Revocations::revoke(conn, account_id, at)
                })
            })
            .await?;
        self.revocations.announce(&self.coord, account_id, at).await;
        tracing::info!(account_id, "password reset by SMS code");
        Ok(())
    }

    /// The account the code proves, consuming the code.
    async fn account_by_code(self: &Arc<Self>, phone: &Phone, code: &str) -> Result<(i64, bool)> {
        let refused = || Error::invalid(ErrorCode::InvalidCodeCredentials, "code");
        match self.verify_otp(phone, code).await {
            Ok(()) => {}
            Err(e) if matches!(e.code(), ErrorCode::OtpInvalid | ErrorCode::OtpExpired) => {
                return Err(refused())
            }
            Err(e) => return Err(e),
        }
        let this = Arc::clone(self);
        let lookup = phone.clone();
        let credentials = self
            .db
            .run(move |conn| this.credentials(conn, &lookup))
            .await?;
        credentials
            .map(|c| (c.account_id, c.is_admin))
            .ok_or_else(refused)
    }
}
