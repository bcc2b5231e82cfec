//! A grant program's figures for staff: applications, approvals, what was paid, per org of the
//! caller's subtree, and how many days it took from the application to the money.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::{self, OrgRef};
use membership::staff;
use platform::schema::{grant_applications as ga, org_closure as oc};
use platform::{DbConn, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::terms;
use super::vocab::GrantState;
use crate::programs;
use crate::vocab::ProgramKind;

/// The query of `GET /v1/admin/programs/{id}/grant-stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantStatsQuery {
    /// The org whose subtree is counted (the caller's).
    pub org_id: i64,
}

/// Counts and sums of a set of applications.
#[derive(Debug, Default, Clone, PartialEq, Serialize, ToSchema)]
pub struct GrantFigures {
    pub applications: i64,
    /// Not decided yet (submitted to on the notice).
    pub pending: i64,
    /// Approved, paid or not.
    pub approved: i64,
    pub rejected: i64,
    pub paid: i64,
    pub approved_fen: i64,
    pub paid_fen: i64,
    /// Mean days from the application to the payment, of those paid (one decimal).
    pub days_to_payment_avg: Option<f64>,
    /// The longest of those.
    pub days_to_payment_max: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgGrantFigures {
    /// The org serving the applicants.
    pub org: OrgRef,
    #[serde(flatten)]
    pub figures: GrantFigures,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantStats {
    pub program_id: i64,
    pub budget_fen: i64,
    pub budget_left_fen: i64,
    pub totals: GrantFigures,
    /// One row per org with applications, by org id.
    pub by_org: Vec<OrgGrantFigures>,
}

/// Figures as they are summed, with the payment times kept for the mean.
#[derive(Default)]
struct Tally {
    figures: GrantFigures,
    days: Vec<f64>,
}

impl Tally {
    fn add(&mut self, state: GrantState, amount: i64, days: Option<f64>) {
        let f = &mut self.figures;
        f.applications += 1;
        if GrantState::PENDING.contains(&state.as_str()) {
            f.pending += 1;
        }
        if state == GrantState::Rejected {
            f.rejected += 1;
        }
        if state.approved() {
            f.approved += 1;
            f.approved_fen += amount;
        }
        if state == GrantState::Paid {
            f.paid += 1;
            f.paid_fen += amount;
            self.days.extend(days);
        }
    }

    fn done(mut self) -> GrantFigures {
        let tenths = |d: f64| (d * 10.0).round() / 10.0;
        if !self.days.is_empty() {
            let mean = self.days.iter().sum::<f64>() / self.days.len() as f64;
            self.figures.days_to_payment_avg = Some(tenths(mean));
            let max = self.days.iter().copied().fold(0.0, f64::max);
            self.figures.days_to_payment_max = Some(tenths(max));
        }
        self.figures
    }
}

/// The use case: program `program_id`'s figures over `org_id`'s subtree.
pub fn figures(
    conn: &mut DbConn,
    user: &AuthUser,
    program_id: i64,
    org_id: i64,
) -> Result<GrantStats> {
    staff::require(conn, user, org_id)?;
    programs::get(conn, program_id)?.require_kind(ProgramKind::HardshipGrant)?;
    let terms = terms::load(conn, program_id)?;
    let subtree = oc::table
        .filter(oc::ancestor_id.eq(org_id))
        .select(oc::descendant_id);
    type Row = (i64, String, i64, NaiveDateTime, Option<NaiveDateTime>);
    let rows: Vec<Row> = ga::table
        .filter(ga::program_id.eq(program_id))
        .filter(ga::org_id.eq_any(subtree))
        .select((
            ga::org_id,
            ga::state,
            ga::amount_fen,
            ga::applied_at,
            ga::paid_at,
        ))
        .load(conn)?;
    let mut total = Tally::default();
    let mut by_org: BTreeMap<i64, Tally> = BTreeMap::new();
    for (org, state, amount, applied_at, paid_at) in rows {
        let state = GrantState::try_from(state).map_err(platform::Error::internal)?;
        let days = paid_at.map(|paid| (paid - applied_at).num_seconds() as f64 / 86_400.0);
        total.add(state, amount, days);
        by_org.entry(org).or_default().add(state, amount, days);
    }
    let ids: Vec<i64> = by_org.keys().copied().collect();
    let names = orgs::references(conn, &ids)?;
    let by_org = by_org
        .into_iter()
        .map(|(org, tally)| {
            Ok(OrgGrantFigures {
                org: names.get(org)?,
                figures: tally.done(),
            })
        })
        .collect::<Result<_>>()?;
    Ok(GrantStats {
        program_id,
        budget_fen: terms.budget_fen,
        budget_left_fen: terms.budget_left_fen,
        totals: total.done(),
        by_org,
    })
}
