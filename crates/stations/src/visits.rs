//! Check-ins at the door and the visitor counts stations are judged by.
//!
//! Scanning the door QR gives the app the station id and the station's door code; a check-in
//! must present the code, so counts cannot be inflated from a sofa with a list of station ids.
//! Any signed-in worker may check in (stations serve every outdoor worker, members or not);
//! each visit records whether the visitor was a member then, and the stats show both counts.
//! One visit per account and station per 30 minutes counts: a conditional update of the
//! account's last counted time at that station decides it, which holds under parallel
//! requests on both databases (SQLite serialises writers; on PostgreSQL the second update waits
//! for the first and re-checks its condition; a first insert race ends in a unique violation).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Days, Duration as Span, NaiveDate, Timelike, Utc};
use diesel::prelude::*;
use diesel::AggregateExpressionMethods;
use identity::AuthUser;
use membership::orgs::OrgRef;
use membership::reports::{Districts, Period};
use platform::crypto::constant_time_eq;
use platform::db::{caller_gone, is_unique_violation};
use platform::schema::{
    org_closure as c, station_visit_windows as w, station_visits as v, stations as s,
};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::station;
use crate::vocab::StationStatus;

/// Scans closer together than this count once.
pub const VISIT_WINDOW: Duration = Duration::from_secs(30 * 60);
/// Longest stats range.
pub const MAX_STATS_DAYS: i64 = 366;

/// The outcome of a scan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckIn {
    pub station_id: i64,
    pub station_name: String,
    /// False when this account's visit here was already counted within the last 30 minutes.
    pub counted: bool,
    /// When the counted visit was recorded (this one, or the earlier one).
    pub counted_at: DateTime<Utc>,
    /// The visitor has an active union membership.
    pub member: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct CheckInRequest {
    /// The `c` parameter of the scanned door QR.
    pub code: platform::text::Text<64>,
}

/// What a check-in needs to know of its station.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = s)]
struct Door {
    name: String,
    #[diesel(deserialize_as = String)]
    status: StationStatus,
    door_code: String,
}

/// The use case: `account_id` scanned the door QR of `station_id`, which gave `door_code`.
pub fn check_in(
    conn: &mut DbConn,
    station_id: i64,
    account_id: i64,
    door_code: &str,
    now: DateTime<Utc>,
) -> Result<CheckIn> {
    let door: Door = s::table
        .find(station_id)
        .select(Door::as_select())
        .first(conn)?;
    if !constant_time_eq(door.door_code.as_bytes(), door_code.as_bytes()) {
        return Err(Error::invalid(ErrorCode::InvalidField, "code"));
    }
    if door.status != StationStatus::Open {
        return Err(Error::new(ErrorCode::StationClosed));
    }
    let member = membership::applications::active(conn, account_id)?.is_some();
    let at = now.naive_utc();
    let window_start = at - Span::from_std(VISIT_WINDOW).expect("small duration");

    let renewed = diesel::update(w::table.find((station_id, account_id)))
        .filter(w::counted_at.le(window_start))
        .set(w::counted_at.eq(at))
        .execute(conn)?;
    let counted = renewed == 1 || {
        // A savepoint, so that on PostgreSQL a duplicate leaves the transaction usable.
        let first = conn.transaction(|conn| {
            diesel::insert_into(w::table)
                .values((
                    w::station_id.eq(station_id),
                    w::account_id.eq(account_id),
                    w::counted_at.eq(at),
                ))
                .execute(conn)
        });
        match first {
            Ok(_) => true,
            Err(e) if is_unique_violation(&e) => false,
            Err(e) => return Err(caller_gone(e)),
        }
    };
    let counted_at = if counted {
        let local = platform::clock::local(now);
        diesel::insert_into(v::table)
            .values((
                v::station_id.eq(station_id),
                v::account_id.eq(account_id),
                v::at.eq(at),
                v::local_date.eq(local.date()),
                v::local_hour.eq(local.hour() as i16),
                v::member.eq(member),
            ))
            .execute(conn)?;
        now
    } else {
        w::table
            .find((station_id, account_id))
            .select(w::counted_at)
            .first::<chrono::NaiveDateTime>(conn)?
            .and_utc()
    };
    Ok(CheckIn {
        station_id,
        station_name: door.name,
        counted,
        counted_at,
        member,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayCount {
    /// Asia/Shanghai date.
    pub date: NaiveDate,
    pub visits: i64,
    pub member_visits: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HourCount {
    /// 0 to 23, Asia/Shanghai.
    pub hour: i16,
    pub visits: i64,
}

/// Visitor counts of a station over a date range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stats {
    pub station_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub visits: i64,
    pub member_visits: i64,
    /// Distinct accounts that visited in the range.
    pub unique_visitors: i64,
    /// Every day of the range, zeros included.
    pub by_day: Vec<DayCount>,
    /// Visits by hour of day over the range, all 24 hours.
    pub by_hour: Vec<HourCount>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day, YYYY-MM-DD (Asia/Shanghai); default 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// Last day, inclusive; default today. At most 366 days in all.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
}

fn date(value: Option<&str>, field: &'static str) -> Result<Option<NaiveDate>> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map_err(|_| Error::invalid(ErrorCode::InvalidField, field))
        })
        .transpose()
}

/// Days from `from` to `to` inclusive, at most [`MAX_STATS_DAYS`] of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl StatsQuery {
    /// The range asked for: the last 30 days up to `to` (default today) unless `from` says
    /// otherwise. A range backwards or too long names `from`.
    pub fn validate(&self) -> Result<Range> {
        let to = date(self.to.as_deref(), "to")?.unwrap_or_else(platform::clock::today);
        let from = match date(self.from.as_deref(), "from")? {
            Some(from) => from,
            None => to.checked_sub_days(Days::new(29)).unwrap_or(to),
        };
        if from > to || (to - from).num_days() >= MAX_STATS_DAYS {
            return Err(Error::invalid(ErrorCode::InvalidField, "from"));
        }
        Ok(Range { from, to })
    }
}

/// The use case: staff read the visitor counts of a station they manage.
pub fn staff_stats(
    conn: &mut DbConn,
    user: &AuthUser,
    station_id: i64,
    range: Range,
) -> Result<Stats> {
    station::managed(conn, user, station_id)?;
    stats(conn, station_id, range.from, range.to)
}

/// Counts visits from `from` to `to` inclusive (Asia/Shanghai dates).
pub fn stats(conn: &mut DbConn, station_id: i64, from: NaiveDate, to: NaiveDate) -> Result<Stats> {
    let in_range = v::station_id
        .eq(station_id)
        .and(v::local_date.ge(from))
        .and(v::local_date.le(to));
    let per_day: Vec<(NaiveDate, bool, i64)> = v::table
        .filter(in_range)
        .group_by((v::local_date, v::member))
        .select((v::local_date, v::member, diesel::dsl::count_star()))
        .load(conn)?;
    let per_hour: Vec<(i16, i64)> = v::table
        .filter(in_range)
        .group_by(v::local_hour)
        .select((v::local_hour, diesel::dsl::count_star()))
        .load(conn)?;
    let unique_visitors: i64 = v::table
        .filter(in_range)
        .select(diesel::dsl::count(v::account_id).aggregate_distinct())
        .first(conn)?;

    let mut days: BTreeMap<NaiveDate, (i64, i64)> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| (d, (0, 0)))
        .collect();
    for (date, member, n) in per_day {
        let day = days.entry(date).or_default();
        day.0 += n;
        if member {
            day.1 += n;
        }
    }
    let mut by_hour: Vec<HourCount> = (0..24).map(|hour| HourCount { hour, visits: 0 }).collect();
    for (hour, n) in per_hour {
        if let Some(slot) = by_hour.get_mut(hour as usize) {
            slot.visits += n;
        }
    }
    let by_day: Vec<DayCount> = days
        .into_iter()
        .map(|(date, (visits, member_visits))| DayCount {
            date,
            visits,
            member_visits,
        })
        .collect();
    Ok(Stats {
        station_id,
        from,
        to,
        visits: by_day.iter().map(|d| d.visits).sum(),
        member_visits: by_day.iter().map(|d| d.member_visits).sum(),
        unique_visitors,
        by_day,
        by_hour,
    })
}

/// Visits of a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct VisitCounts {
    pub visits: i64,
    /// By visitors who were members then.
    pub member_visits: i64,
}

impl std::ops::AddAssign for VisitCounts {
    fn add_assign(&mut self, other: VisitCounts) {
        self.visits += other.visits;
        self.member_visits += other.member_visits;
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DistrictVisitCounts {
    /// The district: a direct child of the report's org, its whole subtree counted.
    pub org: OrgRef,
    #[serde(flatten)]
    pub counts: VisitCounts,
}

/// The station figures of a union's monthly report (see `membership::reports`): visits to the
/// stations of an org's subtree over a period, by the visit's Asia/Shanghai date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StationFigures {
    pub org: OrgRef,
    pub period: Period,
    pub totals: VisitCounts,
    /// Stations of the org itself.
    pub own: VisitCounts,
    /// Each direct child org with its subtree, by name.
    pub by_district: Vec<DistrictVisitCounts>,
}

/// The use case: staff read the visits to the stations of their subtree over a period: one
/// grouped query over the visits and one for the stations' orgs, however many there are.
pub fn figures(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    period: Period,
) -> Result<StationFigures> {
    let districts = Districts::load(conn, user, org_id)?;
    let in_subtree = c::table
        .filter(c::ancestor_id.eq(org_id))
        .select(c::descendant_id);
    let rows: Vec<(i64, bool, i64)> = v::table
        .inner_join(s::table.on(s::id.eq(v::station_id)))
        .filter(s::org_id.eq_any(in_subtree))
        .filter(
            v::local_date
                .ge(period.from)
                .and(v::local_date.le(period.to)),
        )
        .group_by((v::station_id, v::member))
        .select((v::station_id, v::member, diesel::dsl::count_star()))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let org_of: HashMap<i64, i64> = s::table
        .filter(s::id.eq_any(&ids))
        .select((s::id, s::org_id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let rolled = districts.roll_up(rows.into_iter().map(|(station, member, n)| {
        let counts = VisitCounts {
            visits: n,
            member_visits: if member { n } else { 0 },
        };
        (org_of[&station], counts)
    }));
    Ok(StationFigures {
        org: districts.org,
        period,
        totals: rolled.total,
        own: rolled.own,
        by_district: rolled
            .districts
            .into_iter()
            .map(|(org, counts)| DistrictVisitCounts { org, counts })
            .collect(),
    })
}

/// Retention: removes raw visits older than `keep` (and check-in windows long past their half
/// hour). Statistics older than that are gone with them; `keep` is longer than the longest
/// stats range.
pub fn purge_before(conn: &mut DbConn, keep: std::time::Duration) -> Result<usize> {
    let now = platform::clock::now();
    let cutoff = now - Span::from_std(keep).map_err(Error::internal)?;
    let windows_cutoff = now - Span::days(1);
    diesel::delete(w::table.filter(w::counted_at.lt(windows_cutoff))).execute(conn)?;
    Ok(diesel::delete(v::table.filter(v::at.lt(cutoff))).execute(conn)?)
}
