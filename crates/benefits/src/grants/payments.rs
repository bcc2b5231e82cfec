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

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::{self, OrgRef};
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::csv::{self, Column};
use platform::error::Lang;
use platform::pagination::{Page, Paged};
use platform::schema::{
    grant_applications as ga, grant_batches as gb, grant_payments as gp, org_closure as oc,
    programs as p,
};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::apply::{self, Payout};
use super::vocab::{GrantEventKind, GrantState, PaymentOutcome};
use super::{notify, timeline, views, GrantApplicationView, GRANT_DATA};
use crate::ledger;
use crate::programs;
use crate::vocab::{LedgerKind, ProgramKind};

/// Most applications one batch takes; the rest wait for the next.
pub const BATCH_MAX: i64 = 2000;

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

/// One payment of a batch as staff read it: the card masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentLine {
    pub application_id: i64,
    pub applicant_name: String,
    pub org: OrgRef,
    pub bank_name: String,
    /// `6222 **** 1234`.
    pub card_masked: String,
    pub amount_fen: i64,
    pub outcome: PaymentOutcome,
    pub reason: Option<String>,
    pub settled_at: Option<DateTime<Utc>>,
}

/// A batch with its figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantBatchRow {
    pub id: i64,
    pub program_id: i64,
    pub program_title: String,
    pub org_id: i64,
    pub created_at: DateTime<Utc>,
    /// When the finance file was first downloaded.
    pub exported_at: Option<DateTime<Utc>>,
    pub payments: i64,
    pub total_fen: i64,
    pub pending: i64,
    pub paid: i64,
    pub failed: i64,
    pub paid_fen: i64,
}

/// A batch and its payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantBatchView {
    #[serde(flatten)]
    pub batch: GrantBatchRow,
    pub items: Vec<PaymentLine>,
}

/// The query of `GET /v1/admin/orgs/{id}/grant-batches`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchFilter {
    pub program_id: Option<i64>,
}

#[derive(Queryable)]
struct BatchRecord {
    id: i64,
    program_id: i64,
    program_title: String,
    org_id: i64,
    created_at: NaiveDateTime,
    exported_at: Option<NaiveDateTime>,
}

type BatchColumns = (
    gb::id,
    gb::program_id,
    p::title,
    gb::org_id,
    gb::created_at,
    gb::exported_at,
);
const BATCH_COLUMNS: BatchColumns = (
    gb::id,
    gb::program_id,
    p::title,
    gb::org_id,
    gb::created_at,
    gb::exported_at,
);

/// Batch `id` if `user` is staff of the org that made it or above (`not_found` outside).
fn batch_in_scope(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<BatchRecord> {
    staff::require_any(conn, user)?;
    let batch: BatchRecord = gb::table
        .inner_join(p::table)
        .filter(gb::id.eq(id))
        .select(BATCH_COLUMNS)
        .first(conn)?;
    staff::require(conn, user, batch.org_id)?;
    Ok(batch)
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
    let subtree = oc::table
        .filter(oc::ancestor_id.eq(body.org_id))
        .select(oc::descendant_id);
    let waiting: Vec<i64> = ga::table
        .filter(ga::program_id.eq(program_id))
        .filter(ga::state.eq(GrantState::Approved.as_str()))
        .filter(ga::org_id.eq_any(subtree))
        .order(ga::id)
        .limit(BATCH_MAX)
        .select(ga::id)
        .load(conn)?;
    // The state in the filter makes each application go into one batch only.
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
    let taken: Vec<views::ApplicationRow> = ga::table
        .filter(ga::batch_id.eq(batch_id))
        .filter(ga::state.eq(GrantState::Paying.as_str()))
        .order(ga::id)
        .select(views::ApplicationRow::as_select())
        .load(conn)?;
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
    view(conn, user, batch_id)
}

/// The figures of `batches` from their payments.
fn rows(conn: &mut DbConn, batches: Vec<BatchRecord>) -> Result<Vec<GrantBatchRow>> {
    let ids: Vec<i64> = batches.iter().map(|b| b.id).collect();
    let payments: Vec<(i64, String, i64)> = gp::table
        .filter(gp::batch_id.eq_any(&ids))
        .select((gp::batch_id, gp::outcome, gp::amount_fen))
        .load(conn)?;
    Ok(batches
        .into_iter()
        .map(|b| {
            let mut row = GrantBatchRow {
                id: b.id,
                program_id: b.program_id,
                program_title: b.program_title,
                org_id: b.org_id,
                created_at: b.created_at.and_utc(),
                exported_at: b.exported_at.map(|t| t.and_utc()),
                payments: 0,
                total_fen: 0,
                pending: 0,
                paid: 0,
                failed: 0,
                paid_fen: 0,
            };
            for (_, outcome, amount) in payments.iter().filter(|p| p.0 == b.id) {
                row.payments += 1;
                row.total_fen += amount;
                match PaymentOutcome::parse(outcome) {
                    Some(PaymentOutcome::Pending) => row.pending += 1,
                    Some(PaymentOutcome::Paid) => {
                        row.paid += 1;
                        row.paid_fen += amount;
                    }
                    Some(PaymentOutcome::Failed) | None => row.failed += 1,
                }
            }
            row
        })
        .collect())
}

/// The use case: a page of the batches made by `org_id` and the orgs below it, newest first.
pub fn list(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    filter: &BatchFilter,
    page: Page,
) -> Result<Paged<GrantBatchRow>> {
    staff::require(conn, user, org_id)?;
    let subtree = oc::table
        .filter(oc::ancestor_id.eq(org_id))
        .select(oc::descendant_id);
    let mut query = gb::table
        .inner_join(p::table)
        .filter(gb::org_id.eq_any(subtree))
        .filter(gb::id.lt(page.before.unwrap_or(i64::MAX)))
        .order(gb::id.desc())
        .limit(page.limit + 1)
        .select(BATCH_COLUMNS)
        .into_boxed();
    if let Some(program) = filter.program_id {
        query = query.filter(gb::program_id.eq(program));
    }
    let batches: Vec<BatchRecord> = query.load(conn)?;
    Ok(Paged::from_rows(rows(conn, batches)?, page, |b| b.id))
}

/// The payments of batch `batch_id`, in application order, cards masked.
fn lines(conn: &mut DbConn, batch_id: i64) -> Result<Vec<(PaymentLine, String)>> {
    type Line = (
        i64,
        String,
        i64,
        String,
        String,
        i64,
        String,
        Option<String>,
        Option<NaiveDateTime>,
        String,
    );
    let found: Vec<Line> = gp::table
        .inner_join(ga::table)
        .filter(gp::batch_id.eq(batch_id))
        .order(gp::application_id)
        .select((
            gp::application_id,
            ga::applicant_name,
            ga::org_id,
            ga::bank_name,
            gp::card_masked,
            gp::amount_fen,
            gp::outcome,
            gp::reason,
            gp::settled_at,
            ga::card_enc,
        ))
        .load(conn)?;
    let org_ids: Vec<i64> = found.iter().map(|l| l.2).collect();
    let names = orgs::references(conn, &org_ids)?;
    found
        .into_iter()
        .map(
            |(id, name, org, bank, masked, amount, outcome, reason, at, card)| {
                let line = PaymentLine {
                    application_id: id,
                    applicant_name: name,
                    org: names.get(org)?,
                    bank_name: bank,
                    card_masked: masked,
                    amount_fen: amount,
                    outcome: PaymentOutcome::try_from(outcome).map_err(Error::internal)?,
                    reason,
                    settled_at: at.map(|t| t.and_utc()),
                };
                Ok((line, card))
            },
        )
        .collect()
}

/// The use case: a batch with every payment, cards masked.
pub fn view(conn: &mut DbConn, user: &AuthUser, batch_id: i64) -> Result<GrantBatchView> {
    let batch = batch_in_scope(conn, user, batch_id)?;
    let batch = rows(conn, vec![batch])?
        .pop()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("batch {batch_id} lost")))?;
    let items = lines(conn, batch_id)?.into_iter().map(|(l, _)| l).collect();
    Ok(GrantBatchView { batch, items })
}

/// A row of the finance office's file.
struct FinanceRow {
    line: PaymentLine,
    card: String,
}

const FINANCE_COLUMNS: &[Column<FinanceRow>] = &[
    Column {
        zh: "申请编号",
        en: "application_id",
        value: |r, _| r.line.application_id.to_string(),
    },
    Column {
        zh: "户名",
        en: "account_name",
        value: |r, _| r.line.applicant_name.clone(),
    },
    Column {
        zh: "开户银行",
        en: "bank_name",
        value: |r, _| r.line.bank_name.clone(),
    },
    Column {
        zh: "银行卡号",
        en: "card_number",
        value: |r, _| r.card.clone(),
    },
    Column {
        zh: "金额（元）",
        en: "amount_yuan",
        value: |r, _| format!("{}.{:02}", r.line.amount_fen / 100, r.line.amount_fen % 100),
    },
    Column {
        zh: "所属工会",
        en: "org",
        value: |r, _| r.line.org.name.clone(),
    },
];

/// The use case: the finance office's file of the payments still to make in batch
/// `batch_id`, with the full card numbers; each download is recorded in the audit log.
pub fn export(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    batch_id: i64,
    lang: Lang,
) -> Result<String> {
    let batch = batch_in_scope(conn, user, batch_id)?;
    let mut rows = Vec::new();
    for (line, sealed) in lines(conn, batch_id)? {
        if line.outcome != PaymentOutcome::Pending {
            continue;
        }
        let card = timeline::open(protector, &sealed)?;
        rows.push(FinanceRow { line, card });
    }
    diesel::update(gb::table.find(batch_id).filter(gb::exported_at.is_null()))
        .set(gb::exported_at.eq(platform::clock::now()))
        .execute(conn)?;
    let entry = Entry::new(
        Action::GrantBatchExport,
        Record::new("grant_batch", batch_id),
    )
    .in_org(batch.org_id);
    audit::record(conn, actor, entry)?;
    Ok(csv::render(FINANCE_COLUMNS, &rows, lang))
}

/// The finance file as a download, named after the batch.
pub fn finance_download(batch_id: i64, file: String) -> actix_web::HttpResponse {
    let ascii = format!("grant-batch-{batch_id}");
    let name = format!("困难帮扶发放批次-{batch_id}");
    csv::download(&ascii, &name, file)
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
    batch_in_scope(conn, user, batch_id)?;
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
    view(conn, user, batch_id)
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
