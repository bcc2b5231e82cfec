//! The dispatcher: hands the outbox's due deliveries to the SMS sender, on every instance.
//!
//! A round claims a batch with a lease (`platform::outbox::claim`, which no two instances
//! share), sends each off the async workers, and marks what went out. A crash anywhere leaves
//! the lease to run out and the batch to be claimed again, with the same keys, so a gateway
//! that honours them delivers each message once.
//!
//! Two settings of the deployment shape it ([`DispatchConfig`]): how long a lease holds
//! (`NOTICE_LEASE_SECONDS`: after a crash, how long the batch in flight waits), and the SMS
//! gateway's rate limit for one instance (`SMS_PER_SECOND`: sends are spaced to stay under it).

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use diesel::prelude::*;
use platform::crypto::DataProtector;
use platform::outbox::{self, Channel, Claimed};
use platform::schema::accounts as a;
use platform::{Db, Result};

use crate::phone::Phone;
use crate::sms::SmsSender;
use crate::Identity;

/// Deliveries per round, at most.
pub const BATCH: i64 = 200;

/// How long an idle dispatcher waits before it looks again.
const IDLE: Duration = Duration::from_millis(500);

/// How a dispatcher paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchConfig {
    /// How long a claim holds its deliveries: far longer than a batch takes to send, since a
    /// lease that ends mid-batch lets another round send the rest again. It is also how long
    /// the batch in flight at a crash waits before it is sent.
    pub lease: Duration,
    /// The SMS gateway's rate limit for this instance: at most this many sends a second
    /// (unlimited when `None`).
    pub per_second: Option<NonZeroU32>,
}

impl Default for DispatchConfig {
    fn default() -> DispatchConfig {
        DispatchConfig {
            lease: Duration::from_secs(60),
            per_second: None,
        }
    }
}

impl DispatchConfig {
    /// Deliveries per claim: [`BATCH`], or fewer when the rate limit would not send them all
    /// within half the lease.
    pub fn batch(&self) -> i64 {
        match self.per_second {
            None => BATCH,
            Some(rate) => {
                let in_half_lease = u64::from(rate.get()) * self.lease.as_millis() as u64 / 2_000;
                (in_half_lease.max(1) as i64).min(BATCH)
            }
        }
    }
}

/// Spaces sends at least `gap` apart across rounds, so the rate limit holds however the
/// batches fall; an idle spell earns no burst.
#[derive(Debug)]
struct Pace {
    gap: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pace {
    fn new(per_second: NonZeroU32) -> Pace {
        Pace {
            gap: Duration::from_secs(1) / per_second.get(),
            next: Mutex::new(None),
        }
    }

    /// Books the next send's slot: how long after `now` it may go.
    fn slot(&self, now: Instant) -> Duration {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let at = next.map_or(now, |n| n.max(now));
        *next = Some(at + self.gap);
        at - now
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    db: Db,
    sms: Arc<dyn SmsSender>,
    protector: DataProtector,
    config: DispatchConfig,
    pace: Option<Arc<Pace>>,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub failed: usize,
}

impl Round {
    pub fn claimed(&self) -> usize {
        self.sent + self.failed
    }
}

impl Dispatcher {
    /// A dispatcher paced by `identity.config.dispatch`.
    pub fn new(identity: &Identity) -> Dispatcher {
        let config = identity.config.dispatch;
        Dispatcher {
            db: identity.db.clone(),
            sms: identity.sms.clone(),
            protector: identity.protector.clone(),
            config,
            pace: config.per_second.map(|rate| Arc::new(Pace::new(rate))),
        }
    }

    /// Claims up to `batch` due deliveries, sends them and marks them.
    pub async fn round(&self, batch: i64) -> Result<Round> {
        if !self.db.run(outbox::any_due).await? {
            return Ok(Round::default());
        }
        let lease = TimeDelta::from_std(self.config.lease).map_err(platform::Error::internal)?;
        let claimed = self
            .db
            .write(move |conn| outbox::claim(conn, batch, lease))
            .await?;
        if claimed.is_empty() {
            return Ok(Round::default());
        }
        let accounts: Vec<i64> = claimed.iter().map(|c| c.account_id).collect();
        let phones: Vec<(i64, String)> = self
            .db
            .run(move |conn| {
                Ok(a::table
                    .filter(a::id.eq_any(&accounts))
                    .filter(a::deleted_at.is_null())
                    .select((a::id, a::phone_enc))
                    .load(conn)?)
            })
            .await?;
        let (sms, protector, pace) = (self.sms.clone(), self.protector.clone(), self.pace.clone());
        let (sent, failed) = actix_web::web::block(move || {
            let mut sent = Vec::new();
            let mut failed = Vec::new();
            for delivery in claimed {
                let phone = phones
                    .iter()
                    .find(|(id, _)| *id == delivery.account_id)
                    .and_then(|(_, sealed)| open(&protector, sealed));
                if let (Some(pace), Some(_)) = (&pace, &phone) {
                    std::thread::sleep(pace.slot(Instant::now()));
                }
                match phone.map(|p| send(sms.as_ref(), &p, &delivery)) {
                    Some(Ok(())) => sent.push(delivery.id),
                    Some(Err(e)) => {
                        tracing::warn!(delivery = delivery.id, error = %e, "notice not sent");
                        failed.push(delivery);
                    }
                    // Erased meanwhile: its rows go with the erasure.
                    None => failed.push(delivery),
                }
            }
            (sent, failed)
        })
        .await
        .map_err(platform::Error::internal)?;
        let round = Round {
            sent: sent.len(),
            failed: failed.len(),
        };
        self.db
            .write(move |conn| {
                outbox::delivered(conn, &sent)?;
                failed.iter().try_for_each(|f| outbox::failed(conn, f))
            })
            .await?;
        Ok(round)
    }

    /// Runs rounds for as long as the process lives: back to back while a backlog lasts.
    pub fn spawn(self) {
        let batch = self.config.batch();
        tokio::spawn(async move {
            loop {
                match self.round(batch).await {
                    Ok(round) if round.claimed() as i64 == batch => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = ?e, "notice dispatch failed"),
                }
                tokio::time::sleep(IDLE).await;
            }
        });
    }
}

fn open(protector: &DataProtector, sealed: &str) -> Option<Phone> {
    let raw = protector.open("phone", sealed).ok()?;
    Phone::parse(std::str::from_utf8(&raw).ok()?)
}

fn send(sms: &dyn SmsSender, phone: &Phone, delivery: &Claimed) -> anyhow::Result<()> {
    match delivery.channel {
        Channel::Sms => {
            let text = format!("{}：{}", delivery.title, delivery.body);
            sms.send_notice(phone, &text, &delivery.key())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lease_secs: u64, per_second: Option<u32>) -> DispatchConfig {
        DispatchConfig {
            lease: Duration::from_secs(lease_secs),
            per_second: per_second.and_then(NonZeroU32::new),
        }
    }

    #[test]
    fn a_batch_is_sent_within_half_its_lease() {
        assert_eq!(DispatchConfig::default().batch(), BATCH, "unlimited");
        assert_eq!(config(60, Some(1_000)).batch(), BATCH);
        // Two a second for 30 s: 60 fit in half of a 60 s lease.
        assert_eq!(config(60, Some(2)).batch(), 60);
        assert_eq!(config(3, Some(100)).batch(), 150);
        assert_eq!(config(1, Some(1)).batch(), 1, "never none");
    }

    #[test]
    fn sends_are_spaced_across_rounds_without_a_burst_after_idling() {
        let pace = Pace::new(NonZeroU32::new(100).unwrap());
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(pace.slot(t0), Duration::ZERO, "the first goes at once");
        assert_eq!(pace.slot(t0), ms(10));
        assert_eq!(pace.slot(t0 + ms(5)), ms(15), "booked behind the last");
        // Idle for a second: the next goes at once, the one after a gap later, not sooner.
        let later = t0 + ms(1_000);
        assert_eq!(pace.slot(later), Duration::ZERO);
        assert_eq!(pace.slot(later), ms(10));
    }
}
