//! The service's clock: every reading of the time of day goes through here, UTC, truncated to
//! microseconds, the precision both databases store, so a time in a response equals the same
//! time read back later. It is also the one home of Asia/Shanghai, the calendar in which
//! riders and staff read every date.
//!
//! Each app has its own [`Clock`], so a test can move one app's time (a window closing, a token
//! expiring) without waiting and without moving the apps of the tests beside it in the same
//! process. A clock is in force on a thread: on an app's HTTP workers for good
//! ([`Clock::install`]), and for the length of a database call wherever it runs
//! ([`Clock::during`], which `Db::run` does). Outside any app (the CLI, the bench) it is the
//! system's time. Only the time of day moves: lifetimes the coordination store counts (rate
//! limits, OTP resends) keep real time.

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{
    DateTime, DurationRound, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc,
};

/// One app's time: the system's, moved by however far a test has advanced it (never, in
/// service). Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    ahead_us: Arc<AtomicI64>,
}

thread_local! {
    static IN_FORCE: RefCell<Option<Clock>> = const { RefCell::new(None) };
}

impl Clock {
    /// Moves this clock forward (a test's tool; nothing in the service calls it).
    pub fn advance(&self, by: TimeDelta) {
        let us = by
            .num_microseconds()
            .expect("a test moves time by less than 290,000 years");
        self.ahead_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Makes this the clock of the current thread from now on: for threads that serve one app
    /// only (its HTTP workers).
    pub fn install(&self) {
        IN_FORCE.with(|c| *c.borrow_mut() = Some(self.clone()));
    }

    /// Runs `f` with this clock in force on the current thread, then restores the one before:
    /// for threads shared by apps (a blocking pool).
    pub fn during<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<Clock>);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_FORCE.with(|c| *c.borrow_mut() = self.0.take());
            }
        }
        let _restore = Restore(IN_FORCE.with(|c| c.borrow_mut().replace(self.clone())));
        f()
    }

    fn ahead(&self) -> TimeDelta {
        TimeDelta::microseconds(self.ahead_us.load(Ordering::Relaxed))
    }
}

/// Now, as stored (UTC, no offset).
pub fn now() -> NaiveDateTime {
    now_utc().naive_utc()
}

/// Now, as an instant, by the clock in force on this thread.
pub fn now_utc() -> DateTime<Utc> {
    let ahead = IN_FORCE.with(|c| c.borrow().as_ref().map_or(TimeDelta::zero(), Clock::ahead));
    (Utc::now() + ahead)
        .duration_trunc(TimeDelta::microseconds(1))
        .expect("truncating to a microsecond cannot overflow")
}

/// Asia/Shanghai. China Standard Time has no daylight saving: a fixed +08:00 offset is exact.
pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The civil time in Asia/Shanghai of an instant.
pub fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&shanghai()).naive_local()
}

/// A stored time as a message to a rider says it: `12月3日 09:00`, Asia/Shanghai.
pub fn shanghai_label(at: NaiveDateTime) -> String {
    local(at.and_utc()).format("%-m月%-d日 %H:%M").to_string()
}

/// Today's date in Asia/Shanghai.
pub fn today() -> NaiveDate {
    local(now_utc()).date()
}

/// Midnight starting a Shanghai calendar day, as stored (UTC).
pub fn shanghai_midnight(date: NaiveDate) -> NaiveDateTime {
    shanghai()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("fixed offsets are unambiguous")
        .naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_has_whole_microseconds() {
        assert_eq!(now().and_utc().timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn a_clock_moves_only_where_it_is_in_force() {
        let clock = Clock::default();
        clock.advance(TimeDelta::days(3));
        let outside = now_utc();
        let inside = clock.during(now_utc);
        let gap = inside - outside;
        assert!(gap >= TimeDelta::days(3) && gap < TimeDelta::days(3) + TimeDelta::seconds(5));
        // Restored after `during`, and another thread never saw it.
        assert!(now_utc() - outside < TimeDelta::seconds(5));
        clock.install();
        let elsewhere = std::thread::spawn(now_utc).join().unwrap();
        assert!(now_utc() - elsewhere >= TimeDelta::days(3));
        // Nested: the inner clock, then the installed one again.
        let other = Clock::default();
        let inner = other.during(now_utc);
        assert!(inner - elsewhere < TimeDelta::seconds(5));
        assert!(now_utc() - elsewhere >= TimeDelta::days(3));
    }

    #[test]
    fn a_shanghai_day_starts_at_16_00_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let start = shanghai_midnight(day);
        assert_eq!(start.to_string(), "2026-11-30 16:00:00");
        assert_eq!(local(start.and_utc()).to_string(), "2026-12-01 00:00:00");
        let before = local((start - TimeDelta::seconds(1)).and_utc()).date();
        assert_eq!(before, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    }
}
