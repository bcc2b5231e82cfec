//! Payment batches as staff read them: the list of an org's subtree, one batch with every
//! payment (cards masked), and the finance office's file, the only place the full card number
//! appears (each download in the audit log). Making and settling batches is [`super::payments`].

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
use platform::{DbConn, Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::timeline;
use super::vocab::PaymentOutcome;

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
pub(crate) struct BatchRecord {
    id: i64,
    program_id: i64,
    program_title: String,
    pub(crate) org_id: i64,
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
pub(crate) fn batch_in_scope(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<BatchRecord> {
    staff::require_any(conn, user)?;
    let batch: BatchRecord = gb::table
        .inner_join(p::table)
        .filter(gb::id.eq(id))
        .select(BATCH_COLUMNS)
        .first(conn)?;
    staff::require(conn, user, batch.org_id)?;
    Ok(batch)
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
