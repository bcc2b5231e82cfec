//! The mediation agreement (调解协议): what the respondent pays, who answers for it jointly, and
//! the instalments it is paid in, tracked until the last is paid (Liunan's six riders agreed
//! 23,000 yuan in instalments). Only an accepted case can reach one; the last instalment paid
//! closes the case as settled by mediation, with what was paid as the amount recovered.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{Action, Actor};
use platform::clock::{shanghai_midnight, today};
use platform::crypto::DataProtector;
use platform::money::{Fen, MAX_FEN};
use platform::outbox::Topic;
use platform::schema::{case_agreements as ag, case_instalments as i, cases as c};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cases::{self, CaseDetail};
use crate::deadlines::local_day;
use crate::notify;
use crate::queue;
use crate::timeline;
use crate::vocab::{CaseEventKind, CaseState, Outcome};
use crate::RightsConfig;

/// Most instalments one agreement is paid in.
pub const MAX_INSTALMENTS: usize = 24;

/// One instalment as agreed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstalmentInput {
    /// Due by the end of this day (YYYY-MM-DD, Asia/Shanghai).
    pub due_on: NaiveDate,
    pub amount_fen: Fen,
}

/// The body of `POST /v1/admin/cases/{id}/agreement`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignAgreement {
    /// Who pays (the respondent, or who stands in for it).
    pub payer: Text<100>,
    /// Who answers for the payment jointly (a head office for its branch), when agreed.
    pub jointly_liable: Option<Text<100>>,
    /// 1 to 24 instalments, due dates in order, each of at least 1 fen.
    #[schema(min_items = 1, max_items = 24)]
    pub instalments: Vec<InstalmentInput>,
}

impl SignAgreement {
    /// The total, or the field at fault: instalments empty or too many, an amount of 0, dates
    /// not strictly in order or before today.
    fn total(&self) -> Result<i64> {
        let bad = || Error::invalid(ErrorCode::InvalidField, "instalments");
        if self.instalments.is_empty() || self.instalments.len() > MAX_INSTALMENTS {
            return Err(bad());
        }
        let in_order = self
            .instalments
            .windows(2)
            .all(|w| w[0].due_on < w[1].due_on);
        let first_due = self.instalments[0].due_on;
        if !in_order
            || first_due < today()
            || self.instalments.iter().any(|i| i.amount_fen.get() == 0)
        {
            return Err(bad());
        }
        let total: i64 = self.instalments.iter().map(|i| i.amount_fen.get()).sum();
        if total > MAX_FEN {
            return Err(bad());
        }
        Ok(total)
    }
}

/// An instalment as the case shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstalmentView {
    pub id: i64,
    /// 1 for the first.
    pub number: i64,
    pub due_on: NaiveDate,
    pub amount_fen: i64,
    pub paid_at: Option<DateTime<Utc>>,
    /// Due before today and not paid.
    pub missed: bool,
}

/// The agreement as the case shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementView {
    pub total_fen: i64,
    pub payer: String,
    pub jointly_liable: Option<String>,
    pub signed_at: DateTime<Utc>,
    pub paid_fen: i64,
    pub missed: i64,
    pub instalments: Vec<InstalmentView>,
}

pub(crate) fn of_case(conn: &mut DbConn, case_id: i64) -> Result<Option<AgreementView>> {
    let found: Option<(i64, i64, String, Option<String>, NaiveDateTime)> = ag::table
        .filter(ag::case_id.eq(case_id))
        .select((
            ag::id,
            ag::total_fen,
            ag::payer,
            ag::jointly_liable,
            ag::signed_at,
        ))
        .first(conn)
        .optional()?;
    let Some((id, total_fen, payer, jointly_liable, signed_at)) = found else {
        return Ok(None);
    };
    let rows: Vec<(i64, NaiveDateTime, i64, Option<NaiveDateTime>)> = i::table
        .filter(i::agreement_id.eq(id))
        .select((i::id, i::due_on, i::amount_fen, i::paid_at))
        .order(i::due_on)
        .load(conn)?;
    let today = today();
    let instalments: Vec<InstalmentView> = rows
        .into_iter()
        .zip(1..)
        .map(|((id, due_on, amount_fen, paid_at), number)| {
            let due_on = local_day(due_on);
            InstalmentView {
                id,
                number,
                due_on,
                amount_fen,
                paid_at: paid_at.map(|t| t.and_utc()),
                missed: paid_at.is_none() && due_on < today,
            }
        })
        .collect();
    Ok(Some(AgreementView {
        total_fen,
        payer,
        jointly_liable,
        signed_at: signed_at.and_utc(),
        paid_fen: instalments
            .iter()
            .filter(|i| i.paid_at.is_some())
            .map(|i| i.amount_fen)
            .sum(),
        missed: instalments.iter().filter(|i| i.missed).count() as i64,
        instalments,
    }))
}

/// The use case: staff record the agreement of an accepted case (`case_not_accepted` for any
/// other state: no agreement on a case never accepted, nor a second one); the claimants are told.
pub fn sign(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: SignAgreement,
) -> Result<CaseDetail> {
    let total = body.total()?;
    let case = queue::in_scope(conn, user, case_id)?;
    let moved = diesel::update(
        c::table
            .find(case_id)
            .filter(c::state.eq(CaseState::Accepted.as_str())),
    )
    .set(c::state.eq(CaseState::Agreed.as_str()))
    .execute(conn)?;
    if moved == 0 {
        return Err(Error::new(ErrorCode::CaseNotAccepted));
    }
    let now = platform::clock::now();
    let agreement: i64 = diesel::insert_into(ag::table)
        .values((
            ag::case_id.eq(case_id),
            ag::total_fen.eq(total),
            ag::payer.eq(&*body.payer),
            ag::jointly_liable.eq(body.jointly_liable.as_deref()),
            ag::signed_at.eq(now),
            ag::created_by.eq(user.account_id),
        ))
        .returning(ag::id)
        .get_result(conn)?;
    // One statement each: the multi-backend connection has no batch insert (at most 24 rows).
    for due in &body.instalments {
        diesel::insert_into(i::table)
            .values((
                i::agreement_id.eq(agreement),
                i::due_on.eq(shanghai_midnight(due.due_on)),
                i::amount_fen.eq(due.amount_fen.get()),
            ))
            .execute(conn)?;
    }
    let total = Fen::new(total).expect("bounded above");
    let summary = format!(
        "调解协议：{}支付{}，分 {} 期，首期 {} 前到账。",
        &*body.payer,
        total,
        body.instalments.len(),
        body.instalments[0].due_on
    );
    let kind = CaseEventKind::AgreementSigned;
    let event = timeline::append(
        conn,
        protector,
        case_id,
        Some(user.account_id),
        kind,
        Some(&summary),
    )?;
    let text = format!(
        "{}已达成调解协议，共{}，分 {} 期支付。",
        notify::named(&case),
        total,
        body.instalments.len()
    );
    notify::tell(
        conn,
        &case,
        event,
        Topic::CaseAgreed,
        ("维权案件已达成调解协议", text),
    )?;
    queue::stepped(
        conn,
        (config, protector),
        actor,
        Action::AgreementSign,
        &case,
    )
}

/// Marks an instalment of `agreement` paid: `not_found` when it is none of its instalments,
/// `instalment_paid` when it was paid already.
fn mark_paid(conn: &mut DbConn, user: &AuthUser, agreement: i64, instalment_id: i64) -> Result<()> {
    let now = platform::clock::now();
    let paid = diesel::update(
        i::table
            .filter(i::id.eq(instalment_id))
            .filter(i::agreement_id.eq(agreement))
            .filter(i::paid_at.is_null()),
    )
    .set((i::paid_at.eq(now), i::recorded_by.eq(user.account_id)))
    .execute(conn)?;
    if paid == 0 {
        // Not found under this case's agreement is 404; found, it was paid already.
        let exists: i64 = i::table
            .filter(i::id.eq(instalment_id))
            .filter(i::agreement_id.eq(agreement))
            .count()
            .get_result(conn)?;
        return Err(Error::new(if exists == 0 {
            ErrorCode::NotFound
        } else {
            ErrorCode::InstalmentPaid
        }));
    }
    Ok(())
}

/// The use case: staff record an instalment as paid (`instalment_paid` when it already is).
/// The last one closes the case, settled by mediation, with the whole total recovered.
pub fn pay(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    instalment_id: i64,
) -> Result<CaseDetail> {
    queue::in_scope(conn, user, case_id)?;
    // Payments of one case one at a time: the one that pays the last instalment sees the others.
    let case = cases::lock(conn, case_id)?;
    let agreement: i64 = ag::table
        .filter(ag::case_id.eq(case_id))
        .select(ag::id)
        .first(conn)?;
    mark_paid(conn, user, agreement, instalment_id)?;
    let view = of_case(conn, case_id)?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("agreement gone")))?;
    let paid = view.instalments.iter().find(|i| i.id == instalment_id);
    let (number, amount) = paid.map_or((0, 0), |i| (i.number, i.amount_fen));
    let line = format!(
        "第 {number} 期 {} 已到账。",
        Fen::new(amount).expect("stored bounded")
    );
    let kind = CaseEventKind::InstalmentPaid;
    let event = timeline::append(
        conn,
        protector,
        case_id,
        Some(user.account_id),
        kind,
        Some(&line),
    )?;
    notify::tell(
        conn,
        &case,
        event,
        Topic::CaseMessage,
        (
            "维权案件有新进展",
            format!("{}：{line}", notify::named(&case)),
        ),
    )?;
    if view.instalments.iter().all(|i| i.paid_at.is_some()) {
        let recovered = Fen::new(view.paid_fen).expect("stored bounded");
        crate::closing::close_now(
            conn,
            protector,
            (user, &case),
            Outcome::Mediated,
            recovered,
            None,
        )?;
    }
    queue::stepped(
        conn,
        (config, protector),
        actor,
        Action::InstalmentPay,
        &case,
    )
}
