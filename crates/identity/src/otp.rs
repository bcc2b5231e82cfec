//! One-time SMS codes: 6 digits, 5 minutes, 5 tries, single use, stored only as a keyed hash in
//! the coordination store (Redis when configured), so every instance sees the same code.

use std::sync::LazyLock;
use std::time::Duration;

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

/// Codes the whole service sent in the current clock hour, as this instance last counted.
static SMS_THIS_HOUR: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    platform::http::gauge(
        "gigunion_sms_sent_this_hour",
        "Verification codes sent in the current hour by every instance (the budget counter)",
    )
});

static SMS_BUDGET: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    platform::http::gauge(
        "gigunion_sms_budget_per_hour",
        "Verification codes the service may send per hour (SMS_BUDGET_PER_HOUR)",
    )
});

/// A code's form as a schema: six digits.
pub fn code_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^[0-9]{6}$"))
        .build()
}

impl Identity {
    /// Counts one SMS against the service's hourly budget (shared by every instance through
    /// the coordination store); refused with 503 and the wait until the next hour when it is
    /// used up. Fixed clock hours keep the count one number an operator can read and alert on.
    async fn spend_sms_budget(&self) -> Result<()> {
        let budget = self.config.limits.sms_per_hour;
        let now = platform::clock::now().and_utc().timestamp();
        let hour = now.div_euclid(3600);
        let sent = self
            .coord
            .incr(&format!("sms_hour:{hour}"), Duration::from_secs(2 * 3600))
            .await?;
        SMS_BUDGET.set(i64::try_from(budget).unwrap_or(i64::MAX));
        SMS_THIS_HOUR.set(i64::try_from(sent).unwrap_or(i64::MAX));
        let warn_at = budget - budget / 5;
        if sent == warn_at.max(1) {
            tracing::warn!(sent, budget, "80% of this hour's SMS budget is used");
        }
        if sent > budget {
            if sent == budget + 1 {
                tracing::error!(
                    budget,
                    "this hour's SMS budget is used up; codes are refused"
                );
            }
            let next_hour = u64::try_from((hour + 1) * 3600 - now).unwrap_or(1);
            return Err(Error::new(ErrorCode::SmsBudgetExhausted)
                .retry_after(Duration::from_secs(next_hour)));
        }
        Ok(())
    }

    fn code_hash(&self, phone: &Phone, code: &str) -> String {
        self.protector
            .lookup_hash("otp", &format!("{}:{code}", phone.as_str()))
    }

    /// Sends a fresh code, replacing any earlier one. Limited per phone (1/min, 10/day by
    /// default), per client address (generously), and by the service's hourly SMS budget.
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
        self.spend_sms_budget().await?;

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
