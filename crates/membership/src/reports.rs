//! The figures a union sends up the tree each month, for any period and subtree: here the
//! members who joined, left and transferred; benefits and stations count theirs beside these
//! (`benefits::figures`, `stations::visits::figures`) over the same [`Period`] and
//! [`Districts`]. Counts only: no figure names anyone, whatever few people it counts.
//!
//! A period is whole days in Asia/Shanghai. Each figure counts membership rows by their own
//! times, so any of them can be recomputed from the rows:
//! - joined: periods that started in it, transfers in excepted;
//! - transferred in: periods that started in it and, on starting, ended another period of the
//!   same account by transfer (that one ends between the new one's application and start);
//! - left: periods that ended in it other than by transfer;
//! - transferred out: periods that ended in it by transfer.
//!
//! An org's net change is joined + transferred in - left - transferred out. A move between
//! two districts of the subtree counts out in one and in in the other.

use std::collections::{BTreeMap, HashMap};
use std::ops::AddAssign;

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use identity::AuthUser;
use platform::clock::shanghai_midnight;
use platform::schema::{memberships as ms, org_closure as c, orgs as o};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::orgs::{self, OrgRef};
use crate::staff;
use crate::transfers::TRANSFERRED;
use crate::vocab::{Occupation, Status};

/// Longest period a report covers.
pub const MAX_DAYS: i64 = 366;

/// The query of the report routes: both days, or neither for last calendar month.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day, YYYY-MM-DD (Asia/Shanghai). With `to`, or neither: last calendar month.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive. At most 366 days in all.
    pub to: Option<NaiveDate>,
}

impl PeriodQuery {
    /// The period asked for; a missing half, a backwards or too long period names its field.
    pub fn validate(&self) -> Result<Period> {
        let period = match (self.from, self.to) {
            (None, None) => return Ok(Period::last_month(platform::clock::today())),
            (Some(from), Some(to)) => Period { from, to },
            (None, Some(_)) => return Err(Error::invalid(ErrorCode::MissingField, "from")),
            (Some(_), None) => return Err(Error::invalid(ErrorCode::MissingField, "to")),
        };
        if period.from > period.to || (period.to - period.from).num_days() >= MAX_DAYS {
            return Err(Error::invalid(ErrorCode::InvalidField, "from"));
        }
        Ok(period)
    }
}

/// Days from `from` to `to`, both included (Asia/Shanghai).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The calendar month before the one of `today`.
    pub fn last_month(today: NaiveDate) -> Period {
        let first_of_this = today.with_day(1).expect("every month has a first");
        let to = first_of_this - Days::new(1);
        let from = to.with_day(1).expect("every month has a first");
        Period { from, to }
    }

    /// The period as stored instants `[start, end)`: midnight of `from` to midnight after `to`.
    pub fn window(&self) -> (NaiveDateTime, NaiveDateTime) {
        (
            shanghai_midnight(self.from),
            shanghai_midnight(self.to + Days::new(1)),
        )
    }
}

/// The org a report is about and its districts: its direct children, each standing for its
/// whole subtree. What lies in the org itself, outside every district, is its own.
#[derive(Debug, Clone)]
pub struct Districts {
    pub org: OrgRef,
    /// By name, then id.
    pub children: Vec<OrgRef>,
    /// Every org below the org, by the index of its district in `children`.
    district_of: HashMap<i64, usize>,
}

/// Figures rolled up: in all, in the org itself, per district (in [`Districts`]'s order).
#[derive(Debug, Clone, Default)]
pub struct RolledUp<T> {
    pub total: T,
    pub own: T,
    pub districts: Vec<(OrgRef, T)>,
}

impl Districts {
    /// The use cases' first step: refused unless `user` may act on `org_id`, then two queries
    /// however large the subtree.
    pub fn load(conn: &mut DbConn, user: &AuthUser, org_id: i64) -> Result<Districts> {
        staff::require(conn, user, org_id)?;
        let org = orgs::reference(conn, org_id)?;
        let rows: Vec<(i64, i64, String)> = c::table
            .inner_join(o::table.on(o::id.eq(c::ancestor_id)))
            .filter(o::parent_id.eq(org_id))
            .select((c::descendant_id, o::id, o::name))
            .load(conn)?;
        let mut children: Vec<OrgRef> = rows
            .iter()
            .filter(|(descendant, child, _)| descendant == child)
            .map(|(_, id, name)| OrgRef {
                id: *id,
                name: name.clone(),
            })
            .collect();
        children.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        let index: HashMap<i64, usize> = children
            .iter()
            .enumerate()
            .map(|(i, child)| (child.id, i))
            .collect();
        let district_of = rows
            .iter()
            .map(|(descendant, child, _)| (*descendant, index[child]))
            .collect();
        Ok(Districts {
            org,
            children,
            district_of,
        })
    }

    /// Adds up figures per org of the subtree (`rows` may name an org more than once).
    pub fn roll_up<T: Default + Clone + AddAssign>(
        &self,
        rows: impl IntoIterator<Item = (i64, T)>,
    ) -> RolledUp<T> {
        let mut own = T::default();
        let mut per: Vec<T> = vec![T::default(); self.children.len()];
        for (org, figures) in rows {
            match self.district_of.get(&org) {
                Some(&i) => per[i] += figures,
                None => own += figures,
            }
        }
        let mut total = own.clone();
        for figures in &per {
            total += figures.clone();
        }
        let districts = self.children.iter().cloned().zip(per).collect();
        RolledUp {
            total,
            own,
            districts,
        }
    }
}

/// Membership movements of a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MemberCounts {
    pub joined: i64,
    pub left: i64,
    pub transferred_in: i64,
    pub transferred_out: i64,
}

impl AddAssign for MemberCounts {
    fn add_assign(&mut self, other: MemberCounts) {
        self.joined += other.joined;
        self.left += other.left;
        self.transferred_in += other.transferred_in;
        self.transferred_out += other.transferred_out;
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DistrictMemberCounts {
    /// The district: a direct child of the report's org, its whole subtree counted.
    pub org: OrgRef,
    #[serde(flatten)]
    pub counts: MemberCounts,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OccupationMemberCounts {
    pub occupation: Occupation,
    #[serde(flatten)]
    pub counts: MemberCounts,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlatformMemberCounts {
    pub platform: String,
    #[serde(flatten)]
    pub counts: MemberCounts,
}

/// The membership figures of an org's subtree over a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MembershipFigures {
    pub org: OrgRef,
    pub period: Period,
    pub totals: MemberCounts,
    /// In the org itself, outside every district.
    pub own: MemberCounts,
    /// Each direct child org with its subtree, by name.
    pub by_district: Vec<DistrictMemberCounts>,
    /// Every occupation, zeros included.
    pub by_occupation: Vec<OccupationMemberCounts>,
    /// The platforms members named (their own words), by name; only those with a figure.
    pub by_platform: Vec<PlatformMemberCounts>,
}

/// A count of one grouped query: org, occupation, platform.
type Cell = (i64, String, String, i64);

/// The use case: staff read the membership figures of their subtree for a period: the scope
/// check, the districts and four grouped counts, however many orgs and members there are.
pub fn figures(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    period: Period,
) -> Result<MembershipFigures> {
    let districts = Districts::load(conn, user, org_id)?;
    let mut cells: HashMap<(i64, String, String), MemberCounts> = HashMap::new();
    let mut add = |rows: Vec<Cell>, count: fn(&mut MemberCounts, i64)| {
        for (org, occupation, platform, n) in rows {
            count(cells.entry((org, occupation, platform)).or_default(), n);
        }
    };
    add(started(conn, org_id, period)?, |c, n| c.joined += n);
    add(transfers_in(conn, org_id, period)?, |c, n| {
        c.joined -= n;
        c.transferred_in += n;
    });
    add(ended(conn, org_id, period, false)?, |c, n| c.left += n);
    add(ended(conn, org_id, period, true)?, |c, n| {
        c.left -= n;
        c.transferred_out += n;
    });
    let mut by_occupation: HashMap<Occupation, MemberCounts> = HashMap::new();
    let mut by_platform: BTreeMap<String, MemberCounts> = BTreeMap::new();
    for ((_, occupation, platform), counts) in &cells {
        let occupation = Occupation::parse(occupation)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("occupation {occupation}")))?;
        *by_occupation.entry(occupation).or_default() += *counts;
        *by_platform.entry(platform.clone()).or_default() += *counts;
    }
    let by_occupation = Occupation::ALL
        .iter()
        .map(|&occupation| OccupationMemberCounts {
            occupation,
            counts: by_occupation.remove(&occupation).unwrap_or_default(),
        })
        .collect();
    let rolled = districts.roll_up(cells.into_iter().map(|((org, _, _), c)| (org, c)));
    Ok(MembershipFigures {
        org: districts.org,
        period,
        totals: rolled.total,
        own: rolled.own,
        by_district: rolled
            .districts
            .into_iter()
            .map(|(org, counts)| DistrictMemberCounts { org, counts })
            .collect(),
        by_occupation,
        by_platform: by_platform
            .into_iter()
            .map(|(platform, counts)| PlatformMemberCounts { platform, counts })
            .collect(),
    })
}

/// Periods of the subtree that started in the period.
fn started(conn: &mut DbConn, org_id: i64, period: Period) -> Result<Vec<Cell>> {
    let (start, end) = period.window();
    Ok(ms::table
        .inner_join(c::table.on(c::descendant_id.eq(ms::org_id)))
        .filter(c::ancestor_id.eq(org_id))
        .filter(ms::started_at.ge(start).and(ms::started_at.lt(end)))
        .group_by((ms::org_id, ms::occupation, ms::platform))
        .select((
            ms::org_id,
            ms::occupation,
            ms::platform,
            diesel::dsl::count_star(),
        ))
        .load(conn)?)
}

/// Of those, the ones whose start ended the account's previous period by transfer. An account
/// has one pending application at a time, so at most one period ends by transfer between a
/// period's application and its start: the join finds one row or none.
fn transfers_in(conn: &mut DbConn, org_id: i64, period: Period) -> Result<Vec<Cell>> {
    let (start, end) = period.window();
    let prev = diesel::alias!(platform::schema::memberships as previous);
    Ok(ms::table
        .inner_join(c::table.on(c::descendant_id.eq(ms::org_id)))
        .inner_join(
            prev.on(prev
                .field(ms::account_id)
                .eq(ms::account_id)
                .and(prev.field(ms::id).ne(ms::id))
                .and(prev.field(ms::end_reason).eq(TRANSFERRED))
                .and(prev.field(ms::ended_at).ge(ms::applied_at.nullable()))
                .and(prev.field(ms::ended_at).le(ms::started_at))),
        )
        .filter(c::ancestor_id.eq(org_id))
        .filter(ms::started_at.ge(start).and(ms::started_at.lt(end)))
        .group_by((ms::org_id, ms::occupation, ms::platform))
        .select((
            ms::org_id,
            ms::occupation,
            ms::platform,
            diesel::dsl::count_star(),
        ))
        .load(conn)?)
}

/// Periods of the subtree that ended in the period: all of them, or (`by_transfer`) those a
/// transfer ended.
fn ended(conn: &mut DbConn, org_id: i64, period: Period, by_transfer: bool) -> Result<Vec<Cell>> {
    let (start, end) = period.window();
    let mut q = ms::table
        .inner_join(c::table.on(c::descendant_id.eq(ms::org_id)))
        .filter(c::ancestor_id.eq(org_id))
        .filter(ms::status.eq(Status::Ended.as_str()))
        .filter(ms::ended_at.ge(start).and(ms::ended_at.lt(end)))
        .group_by((ms::org_id, ms::occupation, ms::platform))
        .select((
            ms::org_id,
            ms::occupation,
            ms::platform,
            diesel::dsl::count_star(),
        ))
        .into_boxed();
    if by_transfer {
        q = q.filter(ms::end_reason.eq(TRANSFERRED));
    }
    Ok(q.load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn last_month_is_the_whole_calendar_month_before_today() {
        let p = Period::last_month(day(2026, 3, 15));
        assert_eq!((p.from, p.to), (day(2026, 2, 1), day(2026, 2, 28)));
        let p = Period::last_month(day(2026, 1, 1));
        assert_eq!((p.from, p.to), (day(2025, 12, 1), day(2025, 12, 31)));
    }

    #[test]
    fn a_period_runs_from_shanghai_midnight_to_the_midnight_after_its_last_day() {
        let (start, end) = Period {
            from: day(2026, 2, 1),
            to: day(2026, 2, 28),
        }
        .window();
        assert_eq!(start.to_string(), "2026-01-31 16:00:00");
        assert_eq!(end.to_string(), "2026-02-28 16:00:00");
    }

    #[test]
    fn both_days_or_neither_forwards_and_at_most_a_year() {
        let q = |from, to| PeriodQuery { from, to }.validate();
        assert!(q(Some(day(2026, 2, 1)), Some(day(2026, 2, 1))).is_ok());
        assert!(q(None, None).is_ok());
        assert!(q(Some(day(2026, 2, 1)), None).is_err());
        assert!(q(Some(day(2026, 2, 2)), Some(day(2026, 2, 1))).is_err());
        // 2024 is a leap year: 367 days, then 366.
        assert!(q(Some(day(2024, 1, 1)), Some(day(2025, 1, 1))).is_err());
        assert!(q(Some(day(2024, 1, 2)), Some(day(2025, 1, 1))).is_ok());
    }
}
