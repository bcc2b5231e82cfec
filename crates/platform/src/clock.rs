//! The service's clock: every reading of the time of day goes through here, UTC, truncated to
//! microseconds, the precision both databases store, so a time in a response equals the same
//! time read back later. It is also the one home of Asia/Shanghai, the calendar in which
//! riders and staff read every date.

use chrono::{
    DateTime, DurationRound, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc,
};

/// Now, as stored (UTC, no offset).
pub fn now() -> NaiveDateTime {
    now_utc().naive_utc()
}

/// Now, as an instant.
pub fn now_utc() -> DateTime<Utc> {
    Utc::now()
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
    fn a_shanghai_day_starts_at_16_00_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let start = shanghai_midnight(day);
        assert_eq!(start.to_string(), "2026-11-30 16:00:00");
        assert_eq!(local(start.and_utc()).to_string(), "2026-12-01 00:00:00");
        let before = local((start - TimeDelta::seconds(1)).and_utc()).date();
        assert_eq!(before, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    }
}
