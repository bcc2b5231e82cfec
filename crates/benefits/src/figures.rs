//! The benefit figures of a union's monthly report (see `membership::reports`): what the
//! ledger recorded over a period for the programs of an org's subtree, per district. A program
//! counts where it belongs, not where its members are now: a district reports what it gave.

use std::collections::HashMap;
use std::ops::AddAssign;

use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::OrgRef;
use membership::reports::{Districts, Period};
use platform::schema::{benefit_ledger as l, org_closure as c, programs as p};
use platform::{DbConn, Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ledger::Counts;
use crate::vocab::LedgerKind;

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.claimed += other.claimed;
        self.entered += other.entered;
        self.won += other.won;
        self.redeemed += other.redeemed;
        self.vouchers_expired += other.vouchers_expired;
        self.booked += other.booked;
        self.waitlisted += other.waitlisted;
        self.promoted += other.promoted;
        self.cancelled += other.cancelled;
        self.checked_in += other.checked_in;
        self.no_shows += other.no_shows;
        self.reports += other.reports;
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DistrictBenefitCounts {
    /// The district: a direct child of the report's org, its whole subtree counted.
    pub org: OrgRef,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Ledger entries of a period, by kind, for the programs of an org's subtree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BenefitFigures {
    pub org: OrgRef,
    pub period: Period,
    pub totals: Counts,
    /// Programs of the org itself.
    pub own: Counts,
    /// Each direct child org with its subtree, by name.
    pub by_district: Vec<DistrictBenefitCounts>,
}

/// The use case: staff read the benefit figures of their subtree for a period: one grouped
/// query over the ledger and one for the programs' orgs, however many there are.
pub fn figures(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    period: Period,
) -> Result<BenefitFigures> {
    let districts = Districts::load(conn, user, org_id)?;
    let (start, end) = period.window();
    let in_subtree = c::table
        .filter(c::ancestor_id.eq(org_id))
        .select(c::descendant_id);
    let rows: Vec<(i64, String, i64)> = l::table
        .inner_join(p::table.on(p::id.eq(l::program_id)))
        .filter(p::org_id.eq_any(in_subtree))
        .filter(l::at.ge(start).and(l::at.lt(end)))
        .group_by((l::program_id, l::kind))
        .select((l::program_id, l::kind, diesel::dsl::count_star()))
        .load(conn)?;
    // Grouped by program above (one table's columns), then put in their orgs here.
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let org_of: HashMap<i64, i64> = p::table
        .filter(p::id.eq_any(&ids))
        .select((p::id, p::org_id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let per_org = rows
        .into_iter()
        .map(|(program, kind, n)| {
            let kind = LedgerKind::parse(&kind)
                .ok_or_else(|| Error::internal(anyhow::anyhow!("ledger kind {kind}")))?;
            let mut counts = Counts::default();
            counts.add_many(kind, n);
            Ok((org_of[&program], counts))
        })
        .collect::<Result<Vec<_>>>()?;
    let rolled = districts.roll_up(per_org);
    Ok(BenefitFigures {
        org: districts.org,
        period,
        totals: rolled.total,
        own: rolled.own,
        by_district: rolled
            .districts
            .into_iter()
            .map(|(org, counts)| DistrictBenefitCounts { org, counts })
            .collect(),
    })
}
