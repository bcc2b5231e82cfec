//! Paying approved grants (发放, "one batch as soon as it is verified"): staff of an org put
//! every approved application of their subtree into a batch, download it as the finance
//! office's CSV (the only place the full card number appears; each download is in the audit
//! log), then record each payment paid or failed with the bank's reason. A failed one goes back
//! to the applicant, who corrects the card; it is approved again and goes into the next batch.
//!
//! Nothing is paid twice: an application moves into a batch by a conditional UPDATE of its
//! state (of two batches made at once, each application lands in one), a unique index keeps
//! one pending payment per application, and a payment is settled once, by a conditional UPDATE
//! of its outcome. The amount left the budget at approval, so a batch never overspends it.

use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs;
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::schema::{
    grant_applications as ga, grant_batches as gb, grant_payments as gp, org_closure as oc,
};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Deserialize;
use utoipa::ToSchema;

use super::apply::{self, Payout};
use super::batches::{self, GrantBatchView};
use super::vocab::{GrantEventKind, GrantState, PaymentOutcome};
use super::{notify, timeline, views, GrantApplicationView, GRANT_DATA};
use crate::ledger;
use crate::programs;
use crate::vocab::{LedgerKind, ProgramKind};

/// Most applications one batch takes; the rest wait for the next.
pub const BATCH_MAX: i64 = 2000;
/// The body limit of `POST /v1/admin/grant-batches/{id}/results`: a report naming a whole
/// batch, every reason at its 200 characters written as JSON escapes (12 bytes for a character
/// outside the BMP), still fits, so a list over [`BATCH_MAX`] is answered with the field it
/// breaks rather than "payload too large".
pub const RESULTS_LIMIT: usize = BATCH_MAX as usize * (200 * 12 + 64) + 64 * 1024;

/// The body of `POST /v1/admin/programs/{id}/grant-batches`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    /// The org whose subtree's approved applications go in (the caller's district).
    pub org_id: i64,
}

/// A failed payment and the bank's reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedPayment {
    pub application_id: i64,
    /// Told to the applicant (`户名与卡号不符`).
    pub reason: Text<200>,
}

/// The body of `POST /v1/admin/grant-batches/{id}/results`: what the finance office reported.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentResults {
    /// Applications paid.
    #[serde(default)]
    #[schema(max_items = 2000)]
    pub paid: Vec<i64>,
    #[serde(default)]
    #[schema(max_items = 2000)]
    pub failed: Vec<FailedPayment>,
}

/// Moves the approved applications of `org_id`'s subtree for `program_id` (up to
/// [`BATCH_MAX`]) into batch `batch_id`; the state in the filter makes each go into one batch.
fn take_approved(
    conn: &mut DbConn,
    (program_id, org_id): (i64, i64),
    batch_id: i64,
) -> Result<Vec<views::ApplicationRow>> {
    let subtree = oc::table
        .filter(oc::ancestor_id.eq(org_id))
        .select(oc::descendant_id);
    let waiting: Vec<i64> = ga::table
        .filter(ga::program_id.eq(program_id))
        .filter(ga::state.eq(GrantState::Approved.as_str()))
        .filter(ga::org_id.eq_any(subtree))
        .order(ga::id)
        .limit(BATCH_MAX)
        .select(ga::id)
        .load(conn)?;
    diesel::update(
        ga::table
            .filter(ga::id.eq_any(&waiting))
            .filter(ga::state.eq(GrantState::Approved.as_str())),
    )
    .set((
        ga::state.eq(GrantState::Paying.as_str()),
        ga::batch_id.eq(batch_id),
    ))
    .execute(conn)?;
    Ok(ga::table
        .filter(ga::batch_id.eq(batch_id))
        .filter(ga::state.eq(GrantState::Paying.as_str()))
        .order(ga::id)
        .select(views::ApplicationRow::as_select())
        .load(conn)?)
}

/// The use case: staff of `body.org_id` put the approved applications of its subtree for
/// program `program_id` into a new batch (`nothing_to_pay` when there are none).
pub fn create(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    program_id: i64,
    body: CreateBatch,
) -> Result<GrantBatchView> {
    staff::require(conn, user, body.org_id)?;
    let program = programs::get(conn, program_id)?;
    program.require_kind(ProgramKind::HardshipGrant)?;
    let related = orgs::is_within(conn, body.org_id, program.org_id)?
        || orgs::is_within(conn, program.org_id, body.org_id)?;
    if !related {
        return Err(Error::new(ErrorCode::NotFound));
    }
    let now = platform::clock::now();
    let batch_id: i64 = diesel::insert_into(gb::table)
        .values((
            gb::program_id.eq(program_id),
            gb::org_id.eq(body.org_id),
            gb::created_by.eq(user.account_id),
            gb::created_at.eq(now),
        ))
        .returning(gb::id)
        .get_result(conn)?;
    let taken = take_approved(conn, (program_id, body.org_id), batch_id)?;
    if taken.is_empty() {
        return Err(Error::new(ErrorCode::NothingToPay));
    }
    let note = format!("发放批次 {batch_id}");
    for row in &taken {
        diesel::insert_into(gp::table)
            .values((
                gp::batch_id.eq(batch_id),
                gp::application_id.eq(row.id),
                gp::amount_fen.eq(row.amount_fen),
                gp::card_masked.eq(&row.card_masked),
                gp::outcome.eq(PaymentOutcome::Pending.as_str()),
            ))
            .execute(conn)?;
        let kind = GrantEventKind::Batched;
        let event = timeline::append(
            conn,
            protector,
            row.id,
            Some(user.account_id),
            kind,
            Some(&note),
        )?;
        notify::step(conn, row, kind, event)?;
    }
    let entry = Entry::new(
        Action::GrantBatchCreate,
        Record::new("grant_batch", batch_id),
    )
    .in_org(body.org_id);
    audit::record(conn, actor, entry)?;
    batches::view(conn, user, batch_id)
}

/// Settles the pending payment of application `id` in batch `batch_id` with `outcome`;
/// `payment_not_pending` when it is not pending there (settled already, or another batch's).
fn settle_one(
    conn: &mut DbConn,
    user: &AuthUser,
    (batch_id, id): (i64, i64),
    outcome: PaymentOutcome,
    reason: Option<&str>,
) -> Result<()> {
    let now = platform::clock::now();
    let settled = diesel::update(
        gp::table
            .filter(gp::batch_id.eq(batch_id))
            .filter(gp::application_id.eq(id))
            .filter(gp::outcome.eq(PaymentOutcome::Pending.as_str())),
    )
    .set((
        gp::outcome.eq(outcome.as_str()),
        gp::reason.eq(reason),
        gp::settled_at.eq(now),
        gp::settled_by.eq(user.account_id),
    ))
    .execute(conn)?;
    if settled != 1 {
        return Err(Error::new(ErrorCode::PaymentNotPending));
    }
    let (state, paid_at) = match outcome {
        PaymentOutcome::Paid => (GrantState::Paid, Some(now)),
        _ => (GrantState::PaymentFailed, None),
    };
    diesel::update(ga::table.find(id))
        .set((ga::state.eq(state.as_str()), ga::paid_at.eq(paid_at)))
        .execute(conn)?;
    Ok(())
}

/// The use case: staff record what the finance office reported for batch `batch_id`, all or
/// nothing: each application named must be pending in the batch, and named once.
pub fn settle(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    batch_id: i64,
    body: PaymentResults,
) -> Result<GrantBatchView> {
    batches::batch_in_scope(conn, user, batch_id)?;
    for (field, len) in [("paid", body.paid.len()), ("failed", body.failed.len())] {
        if len > BATCH_MAX as usize {
            return Err(Error::invalid(ErrorCode::InvalidField, field));
        }
    }
    let mut named: Vec<i64> = body.paid.clone();
    named.extend(body.failed.iter().map(|f| f.application_id));
    let count = named.len();
    named.sort_unstable();
    named.dedup();
    if count == 0 || named.len() != count {
        return Err(Error::invalid(ErrorCode::InvalidField, "paid"));
    }
    let results = body
        .paid
        .iter()
        .map(|&id| (id, PaymentOutcome::Paid, None))
        .chain(
            body.failed
                .iter()
                .map(|f| (f.application_id, PaymentOutcome::Failed, Some(&*f.reason))),
        );
    for (id, outcome, reason) in results {
        settle_one(conn, user, (batch_id, id), outcome, reason)?;
        let row = views::load(conn, id)?;
        let (kind, action) = match outcome {
            PaymentOutcome::Paid => (GrantEventKind::Paid, Action::GrantPaid),
            _ => (GrantEventKind::PaymentFailed, Action::GrantPaymentFailed),
        };
        let event = timeline::append(conn, protector, id, Some(user.account_id), kind, reason)?;
        notify::step(conn, &row, kind, event)?;
        let entry = Entry::new(action, Record::new("grant_application", id)).in_org(row.org_id);
        let entry = match row.account_id {
            Some(account_id) => {
                if outcome == PaymentOutcome::Paid {
                    ledger::append(
                        conn,
                        account_id,
                        row.program_id,
                        LedgerKind::GrantPaid,
                        Some(id),
                    )?;
                }
                entry.about(account_id)
            }
            None => entry,
        };
        audit::record(conn, actor, entry)?;
    }
    batches::view(conn, user, batch_id)
}

/// The use case: the applicant corrects the card of a grant whose payment failed; it is
/// approved again and goes into the next batch.
pub fn correct_payout(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    id: i64,
    body: Payout,
) -> Result<GrantApplicationView> {
    let card = apply::card_number(&body.card_number)
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "card_number"))?;
    let row = views::load(conn, id)?;
    if row.account_id != Some(user.account_id) {
        return Err(Error::new(ErrorCode::NotFound));
    }
    let moved = diesel::update(
        ga::table
            .find(id)
            .filter(ga::state.eq(GrantState::PaymentFailed.as_str())),
    )
    .set((
        ga::state.eq(GrantState::Approved.as_str()),
        ga::bank_name.eq(&*body.bank_name),
        ga::card_enc.eq(protector.seal(GRANT_DATA, card.as_bytes())),
        ga::card_masked.eq(apply::mask_card(&card)),
    ))
    .execute(conn)?;
    if moved != 1 {
        return Err(Error::new(ErrorCode::GrantWrongState));
    }
    let kind = GrantEventKind::PayoutCorrected;
    timeline::append(conn, protector, id, None, kind, None)?;
    let entry = Entry::new(
        Action::GrantPayoutCorrect,
        Record::new("grant_application", id),
    )
    .in_org(row.org_id)
    .about(user.account_id);
    audit::record(conn, actor, entry)?;
    views::for_applicant(conn, protector, user.account_id, id)
}

/// Erasure of `account_id`: their grants approved but not paid are withdrawn (rejected; a
/// pending payment fails), the money going back to the budget and the share, so no one who is
/// gone is paid. Runs before the card is blanked.
pub(crate) fn withdraw_unpaid(conn: &mut DbConn, account_id: i64) -> Result<()> {
    let unpaid: Vec<views::ApplicationRow> = ga::table
        .filter(ga::account_id.eq(account_id))
        .filter(ga::state.eq_any(GrantState::UNPAID))
        .select(views::ApplicationRow::as_select())
        .load(conn)?;
    for row in unpaid {
        diesel::update(
            gp::table
                .filter(gp::application_id.eq(row.id))
                .filter(gp::outcome.eq(PaymentOutcome::Pending.as_str())),
        )
        .set((
            gp::outcome.eq(PaymentOutcome::Failed.as_str()),
            gp::reason.eq("申请人已删除个人信息"),
            gp::settled_at.eq(platform::clock::now()),
        ))
        .execute(conn)?;
        diesel::update(ga::table.find(row.id))
            .set(ga::state.eq(GrantState::Rejected.as_str()))
            .execute(conn)?;
        super::review::give_back(conn, &row)?;
    }
    diesel::update(
        gp::table.filter(
            gp::application_id.eq_any(
                ga::table
                    .filter(ga::account_id.eq(account_id))
                    .select(ga::id),
            ),
        ),
    )
    .set(gp::card_masked.eq("—"))
    .execute(conn)?;
    Ok(())
}

/// Erasure of a staff account: the payments it settled stay, without who it was.
pub(crate) fn forget_staff(conn: &mut DbConn, account_id: i64) -> Result<()> {
    diesel::update(gp::table.filter(gp::settled_by.eq(account_id)))
        .set(gp::settled_by.eq(None::<i64>))
        .execute(conn)?;
    diesel::update(gb::table.filter(gb::created_by.eq(account_id)))
        .set(gb::created_by.eq(None::<i64>))
        .execute(conn)?;
    Ok(())
}
