//! The dates a case runs against, computed from its own dates and shown to the worker and to
//! staff:
//! - acceptance (受理): staff decide within a configured number of working days of the filing;
//! - mediation: 15 days from the union's receipt of the request (劳动争议调解仲裁法 Art. 14);
//!   after them without an agreement the worker may go to labour arbitration;
//! - limitation: arbitration must be asked for within one year (Art. 27). It is counted here
//!   from the end of the period the claim covers (from the filing when no period is given),
//!   the earliest it can run from, so a warning never comes too late.
//!
//! Working days are Monday to Friday in Asia/Shanghai; the State Council's public holidays and
//! their swapped working days are not in the calendar yet, so an acceptance deadline over a
//! holiday comes early, never late.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, Weekday};
use platform::clock::{shanghai, shanghai_midnight};
use serde::Serialize;
use utoipa::ToSchema;

/// The days the law gives mediation before the worker may go to arbitration.
pub const MEDIATION_DAYS: u64 = 15;

/// How long before the limitation period ends the worker is warned.
pub const LIMITATION_WARNING_DAYS: u64 = 60;

/// The day in Asia/Shanghai of a stored (UTC) instant.
pub fn local_day(at: NaiveDateTime) -> NaiveDate {
    (at + chrono::TimeDelta::seconds(i64::from(shanghai().local_minus_utc()))).date()
}

fn is_working_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The `n`th working day after `day` (`day` itself not counted).
pub fn working_days_after(day: NaiveDate, n: u32) -> NaiveDate {
    let mut at = day;
    let mut left = n;
    while left > 0 {
        at = at.succ_opt().expect("a date within the calendar");
        if is_working_day(at) {
            left -= 1;
        }
    }
    at
}

/// The end (exclusive, UTC) of a Shanghai day: midnight of the next.
fn end_of(day: NaiveDate) -> NaiveDateTime {
    shanghai_midnight(day.succ_opt().expect("a date within the calendar"))
}

/// A case's deadlines as the worker and staff read them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deadlines {
    /// Staff accept or decline by the end of this day; null once decided.
    pub accept_by: Option<NaiveDate>,
    /// Whether the acceptance deadline has passed undecided.
    pub accept_overdue: bool,
    /// The last day of the 15-day mediation period; after it without an agreement the worker
    /// may apply for labour arbitration.
    pub mediation_ends: NaiveDate,
    /// Arbitration must be applied for by this day (one year, counted from the end of the
    /// claim's period).
    pub limitation_ends: NaiveDate,
    /// The limitation period ends within 60 days (or has ended): the worker is told to act.
    pub limitation_warning: bool,
}

/// What the deadlines of one case are computed from.
pub struct Dates {
    pub filed_at: NaiveDateTime,
    /// Null until staff accept or decline.
    pub decided_at: Option<NaiveDateTime>,
    /// The last day of the period the claim covers, when given.
    pub period_to: Option<NaiveDate>,
}

impl Dates {
    pub fn deadlines(&self, working_days: u32, now: NaiveDateTime) -> Deadlines {
        let filed = local_day(self.filed_at);
        let accept_by = self
            .decided_at
            .is_none()
            .then(|| working_days_after(filed, working_days));
        let limitation_ends = self.period_to.unwrap_or(filed) + Months::new(12);
        let today = local_day(now);
        Deadlines {
            accept_by,
            accept_overdue: accept_by.is_some_and(|day| now >= end_of(day)),
            mediation_ends: filed + Days::new(MEDIATION_DAYS),
            limitation_ends,
            limitation_warning: today + Days::new(LIMITATION_WARNING_DAYS) >= limitation_ends,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn working_days_skip_weekends() {
        // 2026-12-04 is a Friday.
        assert_eq!(working_days_after(day(2026, 12, 4), 1), day(2026, 12, 7));
        assert_eq!(working_days_after(day(2026, 12, 4), 5), day(2026, 12, 11));
        assert_eq!(working_days_after(day(2026, 12, 5), 1), day(2026, 12, 7));
        assert_eq!(working_days_after(day(2026, 12, 1), 0), day(2026, 12, 1));
    }

    #[test]
    fn filing_on_a_friday_evening_in_shanghai_counts_from_friday() {
        // 2026-12-04 20:00 in Shanghai is 12:00 UTC.
        let filed_at = day(2026, 12, 4).and_hms_opt(12, 0, 0).unwrap();
        let dates = Dates {
            filed_at,
            decided_at: None,
            period_to: Some(day(2026, 11, 30)),
        };
        let d = dates.deadlines(3, filed_at);
        assert_eq!(d.accept_by, Some(day(2026, 12, 9)));
        assert!(!d.accept_overdue);
        assert_eq!(d.mediation_ends, day(2026, 12, 19));
        assert_eq!(d.limitation_ends, day(2027, 11, 30));
        assert!(!d.limitation_warning);
        // Midnight in Shanghai after the 9th: overdue.
        let late = day(2026, 12, 9).and_hms_opt(16, 0, 0).unwrap();
        assert!(dates.deadlines(3, late).accept_overdue);
        let not_yet = day(2026, 12, 9).and_hms_opt(15, 59, 59).unwrap();
        assert!(!dates.deadlines(3, not_yet).accept_overdue);
    }

    #[test]
    fn an_old_claim_warns_of_its_limitation_at_once() {
        let filed_at = day(2026, 12, 1).and_hms_opt(2, 0, 0).unwrap();
        let dates = Dates {
            filed_at,
            decided_at: Some(filed_at),
            period_to: Some(day(2026, 1, 15)),
        };
        let d = dates.deadlines(3, filed_at);
        assert_eq!(d.accept_by, None);
        assert_eq!(d.limitation_ends, day(2027, 1, 15));
        assert!(d.limitation_warning);
    }
}
