//! The staff's side of reading cases: an org's queue, and one case file. Staff of an org see
//! the cases of its whole subtree; outside it a case is `not_found`, exactly as one that does
//! not exist.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use identity::profile::mask_name;
use identity::AuthUser;
use membership::orgs::{self, OrgRef};
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::pagination::{Page, Paged};
use platform::schema::{case_claimants as cc, cases as c, org_closure as oc};
use platform::{DbConn, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::cases::{self, CaseDetail, CaseRow, Reader};
use crate::vocab::{CaseClass, CaseKind, CaseState, RespondentKind};
use crate::RightsConfig;

/// The case `case_id` if `user` is staff of its org or an org above it (or an admin):
/// `not_found` outside their subtree, `forbidden` when they are no staff at all.
pub(crate) fn in_scope(conn: &mut DbConn, user: &AuthUser, case_id: i64) -> Result<CaseRow> {
    staff::require_any(conn, user)?;
    let row = cases::load(conn, case_id)?;
    staff::require(conn, user, row.org_id)?;
    Ok(row)
}

/// The query of `GET /v1/admin/orgs/{id}/cases`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueFilter {
    pub state: Option<CaseState>,
    pub kind: Option<CaseKind>,
}

/// A case as the queue lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueRow {
    pub id: i64,
    pub kind: CaseKind,
    pub class: Option<CaseClass>,
    pub state: CaseState,
    pub state_label: String,
    pub org: OrgRef,
    pub respondent_kind: RespondentKind,
    /// A person's name is masked (`张*`); a business's is not.
    pub respondent_name: String,
    pub claimants: i64,
    pub total_claimed_fen: i64,
    pub filed_at: DateTime<Utc>,
    /// Accept or decline by the end of this day; null once decided.
    pub accept_by: Option<NaiveDate>,
    pub accept_overdue: bool,
    /// Open cases against the same respondent across the whole union, this one included.
    pub open_cases_against_respondent: i64,
}

/// The use case: a page of the cases of `org_id`'s subtree, newest first.
pub fn list(
    conn: &mut DbConn,
    config: &RightsConfig,
    user: &AuthUser,
    org_id: i64,
    filter: &QueueFilter,
    page: Page,
) -> Result<Paged<QueueRow>> {
    staff::require(conn, user, org_id)?;
    let subtree = oc::table
        .filter(oc::ancestor_id.eq(org_id))
        .select(oc::descendant_id);
    let mut query = c::table
        .filter(c::org_id.eq_any(subtree))
        .filter(c::id.lt(page.before.unwrap_or(i64::MAX)))
        .select(CaseRow::as_select())
        .order(c::id.desc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(state) = filter.state {
        query = query.filter(c::state.eq(state.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(c::kind.eq(kind.as_str()));
    }
    let rows: Vec<CaseRow> = query.load(conn)?;
    let rows = rows_of(conn, config, rows)?;
    Ok(Paged::from_rows(rows, page, |r| r.id))
}

/// Queue rows for case rows: their claimants and linked cases in two queries for the page.
pub(crate) fn rows_of(
    conn: &mut DbConn,
    config: &RightsConfig,
    rows: Vec<CaseRow>,
) -> Result<Vec<QueueRow>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut claims: HashMap<i64, (i64, i64)> = HashMap::new();
    let amounts: Vec<(i64, i64)> = cc::table
        .filter(cc::case_id.eq_any(&ids))
        .select((cc::case_id, cc::amount_claimed_fen))
        .load(conn)?;
    for (case, amount) in amounts {
        let entry = claims.entry(case).or_default();
        *entry = (entry.0 + 1, entry.1 + amount);
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.respondent_key.as_str()).collect();
    let linked = cases::open_against(conn, &keys)?;
    let org_ids: Vec<i64> = rows.iter().map(|r| r.org_id).collect();
    let names = orgs::references(conn, &org_ids)?;
    let now = platform::clock::now();
    rows.into_iter()
        .map(|row| {
            let (claimants, total) = claims.get(&row.id).copied().unwrap_or_default();
            let deadlines = row.dates().deadlines(config.accept_working_days, now);
            Ok(QueueRow {
                id: row.id,
                kind: row.kind,
                class: row.class(),
                state: row.state,
                state_label: row.state.label_zh().to_owned(),
                org: names.get(row.org_id)?,
                respondent_kind: row.respondent_kind,
                respondent_name: shown_name(row.respondent_kind, &row.respondent_name),
                claimants,
                total_claimed_fen: total,
                filed_at: row.filed_at.and_utc(),
                accept_by: deadlines.accept_by,
                accept_overdue: deadlines.accept_overdue,
                open_cases_against_respondent: linked
                    .get(&row.respondent_key)
                    .copied()
                    .unwrap_or(0),
            })
        })
        .collect()
}

/// A person's name is personal data: lists mask it like a member's.
pub(crate) fn shown_name(kind: RespondentKind, name: &str) -> String {
    match kind {
        RespondentKind::Person => mask_name(name),
        _ => name.to_owned(),
    }
}

/// The use case: staff open one case file (everything but the claimants' contact details),
/// which the audit log records.
pub fn staff_detail(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
) -> Result<CaseDetail> {
    let row = in_scope(conn, user, case_id)?;
    viewed(conn, actor, &row)?;
    cases::detail(conn, config, protector, row, Reader::Staff)
}

/// The audit entry of `action` on a case: in its org, about its filer.
fn entry(action: Action, case: &CaseRow) -> Entry {
    let entry = Entry::new(action, Record::new("case", case.id)).in_org(case.org_id);
    match case.filed_by {
        Some(filer) => entry.about(filer),
        None => entry,
    }
}

/// Records that staff read a case file.
pub(crate) fn viewed(conn: &mut DbConn, actor: &Actor, row: &CaseRow) -> Result<()> {
    audit::record(conn, actor, entry(Action::CaseView, row))
}

/// The end of every staff step on a case: its audit entry, and the case file as it stands now.
pub(crate) fn stepped(
    conn: &mut DbConn,
    (config, protector): (&RightsConfig, &DataProtector),
    actor: &Actor,
    action: Action,
    case: &CaseRow,
) -> Result<CaseDetail> {
    audited(conn, actor, action, case)?;
    file_now(conn, (config, protector), case.id)
}

/// The audit entry of a staff step on `case`.
pub(crate) fn audited(
    conn: &mut DbConn,
    actor: &Actor,
    action: Action,
    case: &CaseRow,
) -> Result<()> {
    audit::record(conn, actor, entry(action, case))
}

/// The case file as staff read it, as it stands now.
pub(crate) fn file_now(
    conn: &mut DbConn,
    (config, protector): (&RightsConfig, &DataProtector),
    case_id: i64,
) -> Result<CaseDetail> {
    let row = cases::load(conn, case_id)?;
    cases::detail(conn, config, protector, row, Reader::Staff)
}
