//! The staff's path of an application, each step once: first review (初审), verification (核实:
//! by phone, a home visit or the documents, with notes), the public notice (公示: the days the
//! terms say, objections recorded), then approval or rejection with a reason. Staff of the
//! org that serves the applicant and of every org above it handle it; outside that subtree an
//! application is `not_found`. Each move is one conditional UPDATE on the state, so of staff
//! acting at once exactly one wins. Approval takes the amount from the budget, and from the
//! district's share when the budget is split, each by a conditional UPDATE that never takes it
//! below zero: however many approvals run at once, exactly as many pass as the money allows.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use identity::AuthUser;
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::pagination::{Page, Paged};
use platform::schema::{
    grant_applications as ga, grant_shares as gs, grant_terms as gt, org_closure as oc,
};
use platform::text::Prose;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::notify;
use super::timeline;
use super::views::{self, ApplicationRow, GrantApplicationView};
use super::vocab::{GrantEventKind, GrantState, VerifyMethod};
use crate::vocab::LedgerKind;

/// A note with a step (optional for the first review, required for an objection).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepNote {
    pub note: Option<Prose<1000>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    pub method: VerifyMethod,
    /// What staff found.
    pub note: Prose<1000>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectGrant {
    /// Told to the applicant.
    pub reason: Prose<1000>,
}

/// The query of `GET /v1/admin/orgs/{id}/grant-applications`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantQueueFilter {
    pub program_id: Option<i64>,
    pub state: Option<GrantState>,
}

/// An application as the staff queue lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantQueueRow {
    pub id: i64,
    pub program_id: i64,
    pub org_id: i64,
    pub applicant_name: String,
    pub state: GrantState,
    pub amount_fen: i64,
    pub applied_at: chrono::DateTime<chrono::Utc>,
    pub notice_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// The use case: a page of the applications of `org_id`'s subtree, newest first.
pub fn queue(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    filter: &GrantQueueFilter,
    page: Page,
) -> Result<Paged<GrantQueueRow>> {
    staff::require(conn, user, org_id)?;
    let subtree = oc::table
        .filter(oc::ancestor_id.eq(org_id))
        .select(oc::descendant_id);
    let mut query = ga::table
        .filter(ga::org_id.eq_any(subtree))
        .filter(ga::id.lt(page.before.unwrap_or(i64::MAX)))
        .select(ApplicationRow::as_select())
        .order(ga::id.desc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(program) = filter.program_id {
        query = query.filter(ga::program_id.eq(program));
    }
    if let Some(state) = filter.state {
        query = query.filter(ga::state.eq(state.as_str()));
    }
    let rows: Vec<GrantQueueRow> = query
        .load::<ApplicationRow>(conn)?
        .into_iter()
        .map(|r| GrantQueueRow {
            id: r.id,
            program_id: r.program_id,
            org_id: r.org_id,
            applicant_name: r.applicant_name,
            state: r.state,
            amount_fen: r.amount_fen,
            applied_at: r.applied_at.and_utc(),
            notice_until: r.notice_until.map(|t| t.and_utc()),
        })
        .collect();
    Ok(Paged::from_rows(rows, page, |r| r.id))
}

/// Application `id` if `user` is staff of its org or above (`not_found` outside).
pub(crate) fn in_scope(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<ApplicationRow> {
    staff::require_any(conn, user)?;
    let row = views::load(conn, id)?;
    staff::require(conn, user, row.org_id)?;
    Ok(row)
}

/// The use case: staff read an application, which the audit log records.
pub fn staff_view(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    id: i64,
) -> Result<GrantApplicationView> {
    let row = in_scope(conn, user, id)?;
    audit::record(conn, actor, entry(Action::GrantView, &row))?;
    views::build(conn, protector, row, true)
}

fn entry(action: Action, row: &ApplicationRow) -> Entry {
    let entry = Entry::new(action, Record::new("grant_application", row.id)).in_org(row.org_id);
    match row.account_id {
        Some(account) => entry.about(account),
        None => entry,
    }
}

/// Moves application `id` from `from` to `to`, or `grant_wrong_state` when it is not in `from`
/// (any more): of two staff moving it at once one wins.
fn advance(conn: &mut DbConn, id: i64, from: GrantState, to: GrantState) -> Result<()> {
    let moved = diesel::update(ga::table.find(id).filter(ga::state.eq(from.as_str())))
        .set(ga::state.eq(to.as_str()))
        .execute(conn)?;
    match moved {
        1 => Ok(()),
        _ => Err(Error::new(ErrorCode::GrantWrongState)),
    }
}

/// One step's timeline entry, notice to the applicant, audit entry, and the file as it is now.
fn stepped(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    row: &ApplicationRow,
    (kind, note): (GrantEventKind, Option<&str>),
    action: Action,
) -> Result<GrantApplicationView> {
    let event = timeline::append(conn, protector, row.id, Some(user.account_id), kind, note)?;
    audit::record(conn, actor, entry(action, row))?;
    let now = views::load(conn, row.id)?;
    notify::step(conn, &now, kind, event)?;
    views::build(conn, protector, now, true)
}

/// The use case: the first review (初审) passes.
pub fn review(
    conn: &mut DbConn,
    protector: &DataProtector,
    who: (&AuthUser, &Actor),
    id: i64,
    body: StepNote,
) -> Result<GrantApplicationView> {
    let row = in_scope(conn, who.0, id)?;
    advance(conn, id, GrantState::Submitted, GrantState::Reviewed)?;
    let note = body.note.as_deref();
    let step = (GrantEventKind::Reviewed, note);
    stepped(conn, protector, who, &row, step, Action::GrantReview)
}

/// The use case: staff record how they checked the application and what they found.
pub fn verify(
    conn: &mut DbConn,
    protector: &DataProtector,
    who: (&AuthUser, &Actor),
    id: i64,
    body: Verify,
) -> Result<GrantApplicationView> {
    let row = in_scope(conn, who.0, id)?;
    advance(conn, id, GrantState::Reviewed, GrantState::Verified)?;
    let note = format!("{}：{}", body.method.label_zh(), &*body.note);
    let step = (GrantEventKind::Verified, Some(note.as_str()));
    stepped(conn, protector, who, &row, step, Action::GrantVerify)
}

/// The use case: a verified application goes on the public notice for the terms' days.
pub fn put_on_notice(
    conn: &mut DbConn,
    protector: &DataProtector,
    who: (&AuthUser, &Actor),
    id: i64,
) -> Result<GrantApplicationView> {
    let row = in_scope(conn, who.0, id)?;
    advance(conn, id, GrantState::Verified, GrantState::OnNotice)?;
    let days = super::terms::load(conn, row.program_id)?.notice_days;
    let until = platform::clock::now() + Duration::days(i64::from(days));
    diesel::update(ga::table.find(id))
        .set(ga::notice_until.eq(until))
        .execute(conn)?;
    let step = (GrantEventKind::Noticed, None);
    stepped(conn, protector, who, &row, step, Action::GrantNotice)
}

/// The use case: staff record an objection raised during the notice.
pub fn object(
    conn: &mut DbConn,
    protector: &DataProtector,
    who: (&AuthUser, &Actor),
    id: i64,
    body: StepNote,
) -> Result<GrantApplicationView> {
    let row = in_scope(conn, who.0, id)?;
    let note = body
        .note
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "note"))?;
    let row = views::lock(conn, row.id)?;
    if row.state != GrantState::OnNotice {
        return Err(Error::new(ErrorCode::GrantWrongState));
    }
    let step = (GrantEventKind::Objection, Some(&*note));
    stepped(conn, protector, who, &row, step, Action::GrantObject)
}

/// The use case: approval after the notice, within the budget and the district's share.
pub fn approve(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    id: i64,
) -> Result<GrantApplicationView> {
    let row = in_scope(conn, user, id)?;
    let now = platform::clock::now();
    if row.state == GrantState::OnNotice && row.notice_until.is_some_and(|t| t > now) {
        return Err(Error::new(ErrorCode::NoticeNotOver));
    }
    advance(conn, id, GrantState::OnNotice, GrantState::Approved)?;
    decided(conn, id, user, now)?;
    take_from_budget(conn, &row)?;
    if let Some(account_id) = row.account_id {
        let kind = LedgerKind::GrantApproved;
        crate::ledger::append(conn, account_id, row.program_id, kind, Some(id))?;
    }
    let step = (GrantEventKind::Approved, None);
    stepped(
        conn,
        protector,
        (user, actor),
        &row,
        step,
        Action::GrantApprove,
    )
}

/// Takes the row's amount from the budget and its share; `budget_exhausted` (and the caller's
/// transaction rolls back) when either has less left.
fn take_from_budget(conn: &mut DbConn, row: &ApplicationRow) -> Result<()> {
    let amount = row.amount_fen;
    let taken = diesel::update(
        gt::table
            .find(row.program_id)
            .filter(gt::budget_left_fen.ge(amount)),
    )
    .set(gt::budget_left_fen.eq(gt::budget_left_fen - amount))
    .execute(conn)?;
    if taken == 0 {
        return Err(Error::new(ErrorCode::BudgetExhausted));
    }
    if let Some(share) = row.share_org_id {
        let taken = diesel::update(
            gs::table
                .find((row.program_id, share))
                .filter(gs::left_fen.ge(amount)),
        )
        .set(gs::left_fen.eq(gs::left_fen - amount))
        .execute(conn)?;
        if taken == 0 {
            return Err(Error::new(ErrorCode::BudgetExhausted));
        }
    }
    Ok(())
}

/// Returns the row's amount to the budget and its share (a grant withdrawn after approval).
pub(crate) fn give_back(conn: &mut DbConn, row: &ApplicationRow) -> Result<()> {
    let amount = row.amount_fen;
    diesel::update(gt::table.find(row.program_id))
        .set(gt::budget_left_fen.eq(gt::budget_left_fen + amount))
        .execute(conn)?;
    if let Some(share) = row.share_org_id {
        diesel::update(gs::table.find((row.program_id, share)))
            .set(gs::left_fen.eq(gs::left_fen + amount))
            .execute(conn)?;
    }
    Ok(())
}

fn decided(conn: &mut DbConn, id: i64, user: &AuthUser, now: NaiveDateTime) -> Result<()> {
    diesel::update(ga::table.find(id))
        .set((ga::decided_at.eq(now), ga::decided_by.eq(user.account_id)))
        .execute(conn)?;
    Ok(())
}

/// The use case: staff reject an application still pending, with the reason the applicant is
/// told. Its household may apply again in a later program, not in this one.
pub fn reject(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    id: i64,
    body: RejectGrant,
) -> Result<GrantApplicationView> {
    let row = in_scope(conn, user, id)?;
    let moved = diesel::update(
        ga::table
            .find(id)
            .filter(ga::state.eq_any(GrantState::PENDING)),
    )
    .set(ga::state.eq(GrantState::Rejected.as_str()))
    .execute(conn)?;
    if moved == 0 {
        return Err(Error::new(ErrorCode::GrantWrongState));
    }
    decided(conn, id, user, platform::clock::now())?;
    let step = (GrantEventKind::Rejected, Some(&*body.reason as &str));
    stepped(
        conn,
        protector,
        (user, actor),
        &row,
        step,
        Action::GrantReject,
    )
}

impl VerifyMethod {
    pub fn label_zh(self) -> &'static str {
        match self {
            VerifyMethod::Phone => "电话核实",
            VerifyMethod::HomeVisit => "入户走访",
            VerifyMethod::Documents => "材料核验",
        }
    }
}
