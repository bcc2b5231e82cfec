//! The dispatcher: hands the outbox's due deliveries to the SMS sender, on every instance.
//!
//! A round claims a batch with a lease (`platform::outbox::claim`, which no two instances
//! share), sends each off the async workers, and marks what went out. A crash anywhere leaves
//! the lease to run out and the batch to be claimed again, with the same keys, so a gateway
//! that honours them delivers each message once.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use diesel::prelude::*;
use platform::crypto::DataProtector;
use platform::outbox::{self, Channel, Claimed};
use platform::schema::accounts as a;
use platform::{Db, Result};

use crate::phone::Phone;
use crate::sms::SmsSender;
use crate::Identity;

/// How long a claim holds its deliveries: far longer than a batch takes to send.
const LEASE: TimeDelta = TimeDelta::seconds(60);

/// Deliveries per round.
pub const BATCH: i64 = 200;

/// How long an idle dispatcher waits before it looks again.
const IDLE: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct Dispatcher {
    db: Db,
    sms: Arc<dyn SmsSender>,
    protector: DataProtector,
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
    pub fn new(identity: &Identity) -> Dispatcher {
        Dispatcher {
            db: identity.db.clone(),
            sms: identity.sms.clone(),
            protector: identity.protector.clone(),
        }
    }

    /// Claims up to `batch` due deliveries, sends them and marks them.
    pub async fn round(&self, batch: i64) -> Result<Round> {
        if !self.db.run(outbox::any_due).await? {
            return Ok(Round::default());
        }
        let claimed = self
            .db
            .write(move |conn| outbox::claim(conn, batch, LEASE))
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
        let (sms, protector) = (self.sms.clone(), self.protector.clone());
        let (sent, failed) = actix_web::web::block(move || {
            let mut sent = Vec::new();
            let mut failed = Vec::new();
            for delivery in claimed {
                let phone = phones
                    .iter()
                    .find(|(id, _)| *id == delivery.account_id)
                    .and_then(|(_, sealed)| open(&protector, sealed));
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
        tokio::spawn(async move {
            loop {
                match self.round(BATCH).await {
                    Ok(round) if round.claimed() as i64 == BATCH => continue,
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
