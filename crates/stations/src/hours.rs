//! Opening hours and whether a station is open at a moment, in the service's civil time
//! (Asia/Shanghai, a fixed +08:00: China has had no daylight saving time since 1991).
//!
//! A week of ranges per weekday. A range that ends at or before its start ("22:00-06:00")
//! runs past midnight and belongs to the day it starts: Friday's 22:00-06:00 covers Saturday
//! 02:00. `open_24h` means always open. A closure date cancels the ranges that start on it (so
//! Friday's night shift still runs into a closed Saturday) and, for a 24-hour station, the whole
//! date.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use platform::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A civil moment in Asia/Shanghai taken apart once, for checking many stations' hours (a
/// search checks every candidate when asked for open stations, and every result).
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    date: NaiveDate,
    yesterday: Option<NaiveDate>,
    /// Monday 0.
    weekday: usize,
    /// Minutes since midnight.
    minute: u16,
}

impl Moment {
    pub fn new(at: NaiveDateTime) -> Moment {
        let date = at.date();
        Moment {
            date,
            yesterday: date.pred_opt(),
            weekday: date.weekday().num_days_from_monday() as usize,
            minute: (at.hour() * 60 + at.minute()) as u16,
        }
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MAX_SPANS_PER_DAY: usize = 6;
const MAX_CLOSED_DATES: usize = 400;
const MINUTES_PER_DAY: u16 = 24 * 60;

/// Minutes since midnight: `start` in 0..1440, `end` in 1..=1440. `end <= start` runs past
/// midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    start: u16,
    end: u16,
}

impl Span {
    fn crosses_midnight(self) -> bool {
        self.end <= self.start
    }

    /// `HH:MM-HH:MM`; `24:00` only as an end; equal ends are refused (say `open_24h`).
    fn parse(text: &str) -> Option<Span> {
        let (start, end) = text.trim().split_once('-')?;
        let start = minutes(start.trim())?;
        let end = minutes(end.trim())?;
        (start < MINUTES_PER_DAY && end > 0 && start != end).then_some(Span { start, end })
    }

    fn text(self) -> String {
        format!(
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

fn minutes(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let total = h.checked_mul(60)? + m;
    (m < 60 && total <= MINUTES_PER_DAY).then_some(total)
}

/// A station's week.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Hours {
    open_24h: bool,
    /// Monday first.
    weekly: [Vec<Span>; 7],
    /// Sorted, without repeats.
    closed_dates: Vec<NaiveDate>,
}

/// Opening hours as the API shows and takes them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HoursDoc {
    /// Always open (the weekly ranges are then ignored). Closure dates still apply.
    #[serde(default)]
    pub open_24h: bool,
    /// Ranges `HH:MM-HH:MM` per weekday (`mon` ... `sun`); a day not listed is closed. A range
    /// ending at or before its start runs past midnight and belongs to the day it starts.
    #[serde(default)]
    #[schema(schema_with = weekly_schema)]
    pub weekly: BTreeMap<String, Vec<String>>,
    /// Dates (YYYY-MM-DD, Asia/Shanghai) closed all day, e.g. Spring Festival.
    #[serde(default)]
    #[schema(schema_with = closed_dates_schema)]
    pub closed_dates: Vec<String>,
}

/// The form of `weekly`: weekdays, each with at most a few `H:MM-HH:MM` ranges. That a range
/// may not end where it starts is the server's to check.
fn weekly_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let range = ObjectBuilder::new().schema_type(Type::String).pattern(Some(
        "^([01]?[0-9]|2[0-3]):[0-5][0-9]-(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)$",
    ));
    let ranges = ArrayBuilder::new()
        .items(range)
        .max_items(Some(MAX_SPANS_PER_DAY));
    let days = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(DAYS));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(days))
        .additional_properties(Some(ranges))
        .examples([
            serde_json::json!({"mon": ["08:00-20:00"], "fri": ["08:00-12:00", "22:00-06:00"]}),
        ])
        .build()
}

fn closed_dates_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let date = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)));
    ArrayBuilder::new()
        .items(date)
        .max_items(Some(MAX_CLOSED_DATES))
        .build()
}

impl Hours {
    /// Open around the clock, every day.
    pub fn always() -> Hours {
        Hours {
            open_24h: true,
            ..Hours::default()
        }
    }

    /// The same ranges every day.
    pub fn daily(ranges: &[&str]) -> Option<Hours> {
        let spans = ranges
            .iter()
            .map(|r| Span::parse(r))
            .collect::<Option<Vec<_>>>()?;
        Some(Hours {
            weekly: std::array::from_fn(|_| spans.clone()),
            ..Hours::default()
        })
    }

    pub fn with_closed_dates(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Hours {
        self.closed_dates.extend(dates);
        self.closed_dates.sort_unstable();
        self.closed_dates.dedup();
        self
    }

    pub fn open_24h(&self) -> bool {
        self.open_24h
    }

    fn closed_on(&self, date: NaiveDate) -> bool {
        self.closed_dates.binary_search(&date).is_ok()
    }

    /// Whether the station keeps these hours open at `at` (Asia/Shanghai civil time).
    pub fn is_open_at(&self, at: NaiveDateTime) -> bool {
        self.is_open(&Moment::new(at))
    }

    /// [`Hours::is_open_at`] for a moment decoded once for many stations.
    pub fn is_open(&self, at: &Moment) -> bool {
        if self.open_24h {
            return !self.closed_on(at.date);
        }
        let today = &self.weekly[at.weekday];
        if !self.closed_on(at.date)
            && today
                .iter()
                .any(|s| at.minute >= s.start && (s.crosses_midnight() || at.minute < s.end))
        {
            return true;
        }
        let Some(yesterday) = at.yesterday else {
            return false;
        };
        let overnight = &self.weekly[(at.weekday + 6) % 7];
        !self.closed_on(yesterday)
            && overnight
                .iter()
                .any(|s| s.crosses_midnight() && at.minute < s.end)
    }

    /// Validates the API form; any fault is reported on `field`.
    pub fn from_doc(doc: &HoursDoc, field: &'static str) -> Result<Hours> {
        let invalid = || Error::invalid(ErrorCode::InvalidField, field);
        let mut hours = Hours {
            open_24h: doc.open_24h,
            ..Hours::default()
        };
        for (day, ranges) in &doc.weekly {
            let i = DAYS.iter().position(|d| d == day).ok_or_else(invalid)?;
            if ranges.len() > MAX_SPANS_PER_DAY {
                return Err(invalid());
            }
            if !doc.open_24h {
                hours.weekly[i] = ranges
                    .iter()
                    .map(|r| Span::parse(r))
                    .collect::<Option<_>>()
                    .ok_or_else(invalid)?;
            }
        }
        if doc.closed_dates.len() > MAX_CLOSED_DATES {
            return Err(invalid());
        }
        let dates = doc
            .closed_dates
            .iter()
            .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| invalid()))
            .collect::<Result<Vec<_>>>()?;
        Ok(hours.with_closed_dates(dates))
    }

    pub fn to_doc(&self) -> HoursDoc {
        HoursDoc {
            open_24h: self.open_24h,
            weekly: DAYS
                .iter()
                .zip(&self.weekly)
                .filter(|(_, spans)| !spans.is_empty())
                .map(|(day, spans)| (day.to_string(), spans.iter().map(|s| s.text()).collect()))
                .collect(),
            closed_dates: self
                .closed_dates
                .iter()
                .map(|d| d.format("%Y-%m-%d").to_string())
                .collect(),
        }
    }

    /// The stored form: the spreadsheet syntax of [`Hours::parse_compact`] in a canonical
    /// spelling (`closed` for no ranges at all), and the closure dates comma-separated. Short,
    /// readable in SQL, and quick to read back for 200,000 stations at startup.
    pub fn to_storage(&self) -> (String, String) {
        let week = if self.open_24h {
            "24h".to_owned()
        } else {
            let mut clauses = Vec::new();
            let mut day = 0;
            while day < 7 {
                let spans = &self.weekly[day];
                let mut last = day;
                while last + 1 < 7 && self.weekly[last + 1] == *spans {
                    last += 1;
                }
                if !spans.is_empty() {
                    let days = match (day, last) {
                        (0, 6) => "daily".to_owned(),
                        (a, b) if a == b => DAYS[a].to_owned(),
                        (a, b) => format!("{}-{}", DAYS[a], DAYS[b]),
                    };
                    let ranges: Vec<String> = spans.iter().map(|s| s.text()).collect();
                    clauses.push(format!("{days} {}", ranges.join(",")));
                }
                day = last + 1;
            }
            if clauses.is_empty() {
                "closed".to_owned()
            } else {
                clauses.join("; ")
            }
        };
        let closed: Vec<String> = self
            .closed_dates
            .iter()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect();
        (week, closed.join(","))
    }

    /// Reads the stored form.
    pub fn from_storage(week: &str, closed_dates: &str) -> Result<Hours> {
        let parsed = if week == "closed" {
            Hours::parse_compact("24h", closed_dates).map(|h| Hours {
                open_24h: false,
                ..h
            })
        } else {
            Hours::parse_compact(week, closed_dates)
        };
        parsed.ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "stored hours {week:?} / {closed_dates:?} are invalid"
            ))
        })
    }

    /// The spreadsheet form: `24h`, or clauses such as `mon-fri 08:00-20:00; sat,sun
    /// 09:00-12:00,14:00-17:00` or `daily 22:00-06:00`, separated by `;`. Closure dates come
    /// separately as `2027-02-06;2027-02-07` or a range `2027-02-06..2027-02-12`.
    pub fn parse_compact(hours: &str, closed_dates: &str) -> Option<Hours> {
        let hours = hours.trim();
        let mut parsed = if matches!(hours, "24h" | "24H" | "24小时") {
            Hours::always()
        } else {
            let mut parsed = Hours::default();
            for clause in hours
                .split([';', '；', '\n'])
                .map(str::trim)
                .filter(|c| !c.is_empty())
            {
                let (days, ranges) = clause.split_once(char::is_whitespace)?;
                let spans = ranges
                    .split(',')
                    .map(Span::parse)
                    .collect::<Option<Vec<_>>>()?;
                for day in weekdays(days)? {
                    parsed.weekly[day].extend(&spans);
                    if parsed.weekly[day].len() > MAX_SPANS_PER_DAY {
                        return None;
                    }
                }
            }
            if parsed.weekly.iter().all(Vec::is_empty) {
                return None;
            }
            parsed
        };
        let mut dates = Vec::new();
        for item in closed_dates
            .split([';', '|', ',', ' '])
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            let date = |d: &str| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok();
            match item.split_once("..") {
                Some((from, to)) => {
                    let (from, to) = (date(from)?, date(to)?);
                    if to < from || (to - from).num_days() >= MAX_CLOSED_DATES as i64 {
                        return None;
                    }
                    dates.extend(from.iter_days().take_while(|d| *d <= to));
                }
                None => dates.push(date(item)?),
            }
        }
        if dates.len() > MAX_CLOSED_DATES {
            return None;
        }
        parsed = parsed.with_closed_dates(dates);
        Some(parsed)
    }
}

/// `daily`, `mon`, `mon-fri`, `sat,sun`, `fri-mon` (wrapping) -> weekday indexes.
fn weekdays(text: &str) -> Option<Vec<usize>> {
    if matches!(text, "daily" | "每天") {
        return Some((0..7).collect());
    }
    let day = |d: &str| DAYS.iter().position(|x| x.eq_ignore_ascii_case(d.trim()));
    let mut out = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                let len = (to + 7 - from) % 7 + 1;
                out.extend((0..len).map(|k| (from + k) % 7));
            }
            None => out.push(day(part)?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-20 is a Friday.
    fn at(day: u32, hh: u32, mm: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hh, mm, 0)
            .unwrap()
    }

    fn date(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn ranges_are_half_open_within_the_day() {
        let hours = Hours::daily(&["08:00-20:00"]).unwrap();
        assert!(!hours.is_open_at(at(20, 7, 59)));
        assert!(hours.is_open_at(at(20, 8, 0)));
        assert!(hours.is_open_at(at(20, 19, 59)));
        assert!(!hours.is_open_at(at(20, 20, 0)));
        let to_midnight = Hours::daily(&["18:00-24:00"]).unwrap();
        assert!(to_midnight.is_open_at(at(20, 23, 59)));
        assert!(!to_midnight.is_open_at(at(21, 0, 0)));
    }

    #[test]
    fn a_night_range_belongs_to_the_day_it_starts() {
        // Friday only: 22:00 to 06:00.
        let doc: HoursDoc =
            serde_json::from_value(serde_json::json!({"weekly": {"fri": ["22:00-06:00"]}}))
                .unwrap();
        let hours = Hours::from_doc(&doc, "hours").unwrap();
        assert!(!hours.is_open_at(at(20, 21, 59)));
        assert!(hours.is_open_at(at(20, 22, 0)));
        assert!(hours.is_open_at(at(20, 23, 59)));
        assert!(hours.is_open_at(at(21, 0, 0))); // Saturday 00:00
        assert!(hours.is_open_at(at(21, 5, 59)));
        assert!(!hours.is_open_at(at(21, 6, 0)));
        assert!(!hours.is_open_at(at(21, 22, 30))); // Saturday has no range of its own
        assert!(!hours.is_open_at(at(20, 2, 0))); // Thursday's night: none

        // Closing Saturday leaves Friday's night intact; closing Friday cancels all of it.
        let sat_closed = hours.clone().with_closed_dates([date(21)]);
        assert!(sat_closed.is_open_at(at(21, 2, 0)));
        let fri_closed = hours.with_closed_dates([date(20)]);
        assert!(!fri_closed.is_open_at(at(20, 23, 0)));
        assert!(!fri_closed.is_open_at(at(21, 2, 0)));
    }

    #[test]
    fn open_24h_is_always_open_except_on_closure_dates() {
        let hours = Hours::always().with_closed_dates([date(21)]);
        assert!(hours.is_open_at(at(20, 23, 59)));
        assert!(!hours.is_open_at(at(21, 0, 0)));
        assert!(!hours.is_open_at(at(21, 23, 59)));
        assert!(hours.is_open_at(at(22, 0, 0)));
    }

    #[test]
    fn api_form_round_trips_and_names_the_field() {
        let doc: HoursDoc = serde_json::from_value(serde_json::json!({
            "weekly": {"mon": ["08:00-12:00", "14:00-20:00"], "sun": ["22:00-06:00"]},
            "closed_dates": ["2027-02-06", "2027-02-06", "2027-02-05"]
        }))
        .unwrap();
        let hours = Hours::from_doc(&doc, "hours").unwrap();
        let (week, closed) = hours.to_storage();
        assert_eq!(week, "mon 08:00-12:00,14:00-20:00; sun 22:00-06:00");
        assert_eq!(closed, "2027-02-05,2027-02-06");
        assert_eq!(Hours::from_storage(&week, &closed).unwrap(), hours);
        assert_eq!(hours.to_doc().closed_dates, ["2027-02-05", "2027-02-06"]);
        for bad in [
            serde_json::json!({"weekly": {"monday": ["08:00-12:00"]}}),
            serde_json::json!({"weekly": {"mon": ["08:00-08:00"]}}),
            serde_json::json!({"weekly": {"mon": ["24:00-02:00"]}}),
            serde_json::json!({"weekly": {"mon": ["8-12"]}}),
            serde_json::json!({"weekly": {"mon": ["08:60-12:00"]}}),
            serde_json::json!({"closed_dates": ["2027-02-30"]}),
        ] {
            let doc: HoursDoc = serde_json::from_value(bad.clone()).unwrap();
            let err = Hours::from_doc(&doc, "hours").unwrap_err();
            assert_eq!(err.field(), Some("hours"), "{bad}");
        }
    }

    #[test]
    fn the_stored_form_round_trips_every_week() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let choices = ["08:00-20:00", "22:00-06:00", "09:00-12:00", "00:00-24:00"];
        for _ in 0..2_000 {
            let mut hours = Hours {
                open_24h: next(10) == 0,
                ..Hours::default()
            };
            if !hours.open_24h {
                for day in &mut hours.weekly {
                    for _ in 0..next(3) {
                        day.push(Span::parse(choices[next(4) as usize]).unwrap());
                    }
                }
            }
            let closed = (0..next(3)).map(|i| date(1 + i as u32 * 3));
            let hours = hours.with_closed_dates(closed);
            let (week, closed) = hours.to_storage();
            assert_eq!(
                Hours::from_storage(&week, &closed).unwrap(),
                hours,
                "{week} / {closed}"
            );
        }
        assert_eq!(
            Hours::daily(&["08:00-20:00"]).unwrap().to_storage().0,
            "daily 08:00-20:00"
        );
        assert_eq!(Hours::default().to_storage().0, "closed");
        assert_eq!(Hours::always().to_storage().0, "24h");
    }

    #[test]
    fn compact_form_for_spreadsheets() {
        let hours = Hours::parse_compact(
            "mon-fri 08:00-20:00; sat,sun 09:00-12:00,14:00-17:00",
            "2027-02-06..2027-02-08; 2027-10-01",
        )
        .unwrap();
        assert!(hours.is_open_at(at(20, 19, 0))); // Friday
        assert!(!hours.is_open_at(at(21, 13, 0))); // Saturday lunch
        assert!(hours.is_open_at(at(21, 15, 0)));
        assert_eq!(hours.closed_dates.len(), 4);
        assert!(Hours::parse_compact("24h", "").unwrap().open_24h());
        let wrap = Hours::parse_compact("fri-mon 10:00-11:00", "").unwrap();
        assert_eq!(
            wrap.weekly.iter().filter(|d| !d.is_empty()).count(),
            4,
            "fri, sat, sun, mon"
        );
        for bad in [
            "",
            "someday 08:00-12:00",
            "mon 8:00",
            "daily",
            "mon 08:00-25:00",
        ] {
            assert_eq!(Hours::parse_compact(bad, ""), None, "{bad}");
        }
        assert_eq!(Hours::parse_compact("24h", "2027-02-08..2027-02-06"), None);
    }
}
