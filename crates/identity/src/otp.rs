//! One-time SMS codes: 6 digits, 5 minutes, 5 tries, single use, stored only as a keyed hash in
//! the coordination store (Redis when configured), so every instance sees the same code.

use platform::crypto::constant_time_eq;
use platform::{Error, ErrorCode, Result};
use rand::Rng;

use crate::phone::Phone;
use crate::Identity;

const MAX_TRIES: u64 = 5;

fn code_key(phone_hash: &str) -> String {
    format!("otp:{phone_hash}")
}

fn tries_key(phone_hash: &str) -> String {
    format!("otp_tries:{phone_hash}")
}

impl Identity {
    fn code_hash(&self, phone: &Phone, code: &str) -> String {
        self.protector
            .lookup_hash("otp", &format!("{}:{code}", phone.as_str()))
    }

    /// Sends a fresh code, replacing any earlier one. Limited per phone (1/min, 10/day by
    /// default) and per client IP.
    pub async fn send_otp(&self, phone: &Phone, ip: &str) -> Result<()> {
        let limits = &self.config.limits;
        let phone_hash = self.phone_hash(phone);
        self.coord
            .throttle(&format!("otp_ip:{ip}"), limits.otp_per_ip)
            .await?;
        self.coord
            .throttle(
                &format!("otp_min:{phone_hash}"),
                limits.otp_per_phone_minute,
            )
            .await?;
        self.coord
            .throttle(&format!("otp_day:{phone_hash}"), limits.otp_per_phone_day)
            .await?;

        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let ttl = self.config.otp_ttl;
        self.coord.delete(&tries_key(&phone_hash)).await?;
        self.coord
            .put(&code_key(&phone_hash), &self.code_hash(phone, &code), ttl)
            .await?;
        let sms = self.sms.clone();
        let phone = phone.clone();
        tokio::task::spawn_blocking(move || sms.send_code(&phone, &code))
            .await
            .map_err(Error::internal)?
            .map_err(Error::unavailable)?;
        Ok(())
    }

    /// Consumes the code if it is right. Wrong codes count; the fifth wrong try burns it.
    pub async fn verify_otp(&self, phone: &Phone, code: &str) -> Result<()> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(ErrorCode::OtpInvalid, "code"));
        }
        let phone_hash = self.phone_hash(phone);
        let key = code_key(&phone_hash);
        let Some(stored) = self.coord.get(&key).await? else {
            return Err(Error::invalid(ErrorCode::OtpExpired, "code"));
        };
        let tries = self
            .coord
            .incr(&tries_key(&phone_hash), self.config.otp_ttl)
            .await?;
        if tries > MAX_TRIES {
            self.coord.delete(&key).await?;
            return Err(Error::invalid(ErrorCode::OtpExpired, "code"));
        }
        if constant_time_eq(stored.as_bytes(), self.code_hash(phone, code).as_bytes()) {
            // Deleting is the single-use check: of two racing requests only one removes it.
            return if self.coord.delete(&key).await? {
                Ok(())
            } else {
                Err(Error::invalid(ErrorCode::OtpExpired, "code"))
            };
        }
        if tries == MAX_TRIES {
            self.coord.delete(&key).await?;
        }
        Err(Error::invalid(ErrorCode::OtpInvalid, "code"))
    }
}
