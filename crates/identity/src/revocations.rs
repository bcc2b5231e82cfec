//! Access tokens revoked before they expire: an account that was deleted (or signed out of
//! everything) must not get through with a token it still holds, on any instance.
//!
//! Access tokens are verified without a database look-up, so each instance keeps the recent
//! revocations in memory: `account -> revoked at`, refused for tokens issued at or before that
//! second. An entry matters only while a token issued before it can still be valid (the access
//! token's lifetime), so the map stays small. The revoking instance writes
//! `accounts.tokens_revoked_at` in its transaction, marks itself at once, and announces it; the
//! others take the announcement, and every few seconds read the column for what they missed
//! (Redis down, an instance starting).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use platform::coord::Notice;
use platform::schema::accounts as a;
use platform::{Coordinator, Db, DbConn, Result};

const CHANNEL: &str = "tokens_revoked";
/// How often each instance reads the revocations it may have missed.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Revocations {
    /// Account id -> the moment its earlier tokens stopped counting.
    revoked: Arc<RwLock<HashMap<i64, NaiveDateTime>>>,
    /// How long an access token lives: older entries are dropped.
    keep: chrono::Duration,
}

impl Revocations {
    pub fn new(access_ttl: Duration) -> Revocations {
        Revocations {
            revoked: Arc::default(),
            // A token minted a whole second before its `iat` says is still covered.
            keep: chrono::Duration::from_std(access_ttl).expect("short duration")
                + chrono::Duration::seconds(60),
        }
    }

    /// Whether a token of `account_id` issued at `iat` (Unix seconds) was revoked.
    pub fn is_revoked(&self, account_id: i64, iat: i64) -> bool {
        let revoked = self.revoked.read().unwrap_or_else(|p| p.into_inner());
        revoked
            .get(&account_id)
            .is_some_and(|at| iat <= at.and_utc().timestamp())
    }

    /// The earliest `iat` a new token of `account_id` may carry: tokens hold whole seconds, so
    /// a sign-in in the very second of a revocation (right after a password reset) is dated
    /// the next second, or it would be refused with the tokens it replaces.
    pub fn earliest_iat(&self, account_id: i64, now: i64) -> i64 {
        let revoked = self.revoked.read().unwrap_or_else(|p| p.into_inner());
        revoked
            .get(&account_id)
            .map_or(now, |at| now.max(at.and_utc().timestamp() + 1))
    }

    fn mark(&self, account_id: i64, at: NaiveDateTime) {
        let cutoff = platform::clock::now() - self.keep;
        let mut revoked = self.revoked.write().unwrap_or_else(|p| p.into_inner());
        revoked.retain(|_, at| *at > cutoff);
        let entry = revoked.entry(account_id).or_insert(at);
        *entry = (*entry).max(at);
    }

    /// Records the revocation in the caller's transaction; [`Revocations::announce`] follows
    /// once it has committed.
    pub fn revoke(conn: &mut DbConn, account_id: i64, at: NaiveDateTime) -> Result<()> {
        diesel::update(a::table.find(account_id))
            .set(a::tokens_revoked_at.eq(at))
            .execute(conn)?;
        Ok(())
    }

    /// After the commit: refused here at once, and on the other instances as soon as they hear.
    pub async fn announce(&self, coord: &Coordinator, account_id: i64, at: NaiveDateTime) {
        self.mark(account_id, at);
        let message = format!("{account_id} {}", at.and_utc().timestamp_micros());
        if let Err(e) = coord.publish(CHANNEL, &message).await {
            // The others read it from the database within seconds anyway.
            tracing::warn!(error = ?e, "token revocation not announced");
        }
    }

    /// Reads the revocations younger than a token's lifetime from the database.
    pub async fn reconcile(&self, db: &Db) -> Result<()> {
        let since = platform::clock::now() - self.keep;
        let rows: Vec<(i64, Option<NaiveDateTime>)> = db
            .run(move |conn| {
                Ok(a::table
                    .filter(a::tokens_revoked_at.gt(since))
                    .select((a::id, a::tokens_revoked_at))
                    .load(conn)?)
            })
            .await?;
        for (account_id, at) in rows {
            if let Some(at) = at {
                self.mark(account_id, at);
            }
        }
        Ok(())
    }

    /// Listens for announcements and reconciles every few seconds, for the process's life.
    pub fn spawn(&self, db: Db, coord: Coordinator) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut subscription = Some(coord.subscribe(CHANNEL));
            let mut tick = tokio::time::interval(RECONCILE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    notice = async { subscription.as_mut()?.recv().await }, if subscription.is_some() => {
                        match notice {
                            Some(Notice::Message(message)) => this.hear(&message),
                            Some(Notice::Subscribed) => this.reconcile_logged(&db).await,
                            None => subscription = None,
                        }
                    }
                    _ = tick.tick() => this.reconcile_logged(&db).await,
                }
            }
        });
    }

    fn hear(&self, message: &str) {
        let parsed = message.split_once(' ').and_then(|(id, micros)| {
            let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
            Some((id.parse().ok()?, at.naive_utc()))
        });
        match parsed {
            Some((account_id, at)) => self.mark(account_id, at),
            None => tracing::warn!(message, "unreadable token revocation"),
        }
    }

    async fn reconcile_logged(&self, db: &Db) {
        if let Err(e) = self.reconcile(db).await {
            tracing::warn!(error = ?e, "token revocations not read");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_issued_up_to_the_revocation_are_refused() {
        let revocations = Revocations::new(Duration::from_secs(900));
        let at = platform::clock::now();
        let second = at.and_utc().timestamp();
        assert!(!revocations.is_revoked(7, second));
        revocations.hear(&format!("7 {}", at.and_utc().timestamp_micros()));
        assert!(revocations.is_revoked(7, second - 600));
        assert!(revocations.is_revoked(7, second));
        assert!(!revocations.is_revoked(7, second + 1));
        assert!(!revocations.is_revoked(8, second));
        revocations.hear("nonsense");
        // Entries older than any live token are dropped when a new one comes.
        revocations.mark(9, at - chrono::Duration::hours(2));
        revocations.mark(10, at);
        assert!(!revocations.is_revoked(9, second - 7200));
    }
}
