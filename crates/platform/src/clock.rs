//! The service's clock: UTC, truncated to microseconds, the precision both databases store, so
//! a time in a response equals the same time read back later.

use chrono::{DurationRound, NaiveDateTime, TimeDelta, Utc};

pub fn now() -> NaiveDateTime {
    Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .expect("truncating to a microsecond cannot overflow")
        .naive_utc()
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_has_whole_microseconds() {
        assert_eq!(super::now().and_utc().timestamp_subsec_nanos() % 1000, 0);
    }
}
