//! How a case ends: referred to a partner agency with one reply to the worker (labour
//! arbitration, a court with judicial confirmation, the procuratorate's support for a lawsuit,
//! labour inspection), or closed by staff with the outcome and the amount recovered; then the
//! follow-up call with the worker's rating (每案必回访), once.

use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{Action, Actor};
use platform::crypto::DataProtector;
use platform::money::Fen;
use platform::outbox::Topic;
use platform::schema::{case_referrals as r, cases as c};
use platform::text::Prose;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::cases::{CaseDetail, CaseRow};
use crate::notify;
use crate::queue;
use crate::timeline;
use crate::vocab::{Agency, CaseEventKind, CaseState, Outcome};
use crate::RightsConfig;

/// The body of `POST /v1/admin/cases/{id}/refer`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refer {
    pub agency: Agency,
    /// The one reply the worker gets: where the case went, what to bring, what happens next.
    pub reply: Prose<1000>,
}

/// The body of `POST /v1/admin/cases/{id}/close`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// `mediated`, `withdrawn` or `unresolved` (a referral closes by itself).
    pub outcome: Outcome,
    /// What the claimants got, in fen (0 when nothing).
    pub recovered_fen: Fen,
    /// What the claimants are told.
    pub note: Option<Prose<1000>>,
}

/// The body of `POST /v1/admin/cases/{id}/follow-up`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// The worker's satisfaction, 1 (very unsatisfied) to 5 (very satisfied).
    #[schema(minimum = 1, maximum = 5)]
    pub rating: u8,
    /// What the worker said, for staff.
    pub note: Option<Prose<1000>>,
}

/// Closes a handled case (accepted or agreed) now: one conditional update, so of two closings
/// one wins and the other gets `case_closed`. The claimants are told.
pub(crate) fn close_now(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, case): (&AuthUser, &CaseRow),
    outcome: Outcome,
    recovered: Fen,
    note: Option<&str>,
) -> Result<()> {
    let handled = [CaseState::Accepted.as_str(), CaseState::Agreed.as_str()];
    let closed = diesel::update(c::table.find(case.id).filter(c::state.eq_any(handled)))
        .set((
            c::state.eq(CaseState::Closed.as_str()),
            c::outcome.eq(outcome.as_str()),
            c::recovered_fen.eq(recovered.get()),
            c::closed_at.eq(platform::clock::now()),
        ))
        .execute(conn)?;
    if closed == 0 {
        return Err(Error::new(ErrorCode::CaseClosed));
    }
    let line = format!("{}，追回{}。", outcome.label_zh(), recovered);
    let body = match note {
        Some(note) => format!("{line}\n{note}"),
        None => line.clone(),
    };
    let kind = CaseEventKind::Closed;
    let event = timeline::append(
        conn,
        protector,
        case.id,
        Some(user.account_id),
        kind,
        Some(&body),
    )?;
    let text = format!(
        "{}已办结：{line}工会将回访了解您对办理结果的意见。",
        notify::named(case)
    );
    notify::tell(
        conn,
        case,
        event,
        Topic::CaseClosed,
        ("维权案件已办结", text),
    )
}

/// The use case: staff close a handled case with its outcome and the amount recovered.
pub fn close(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: Close,
) -> Result<CaseDetail> {
    if body.outcome == Outcome::Referred {
        return Err(Error::invalid(ErrorCode::InvalidField, "outcome"));
    }
    let case = queue::in_scope(conn, user, case_id)?;
    close_now(
        conn,
        protector,
        (user, &case),
        body.outcome,
        body.recovered_fen,
        body.note.as_deref(),
    )?;
    queue::stepped(conn, (config, protector), actor, Action::CaseClose, &case)
}

/// The use case: staff hand an accepted case to a partner agency; it closes as referred, and
/// the worker gets the one reply.
pub fn refer(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: Refer,
) -> Result<CaseDetail> {
    let case = queue::in_scope(conn, user, case_id)?;
    let now = platform::clock::now();
    let moved = diesel::update(
        c::table
            .find(case_id)
            .filter(c::state.eq(CaseState::Accepted.as_str())),
    )
    .set((
        c::state.eq(CaseState::Referred.as_str()),
        c::outcome.eq(Outcome::Referred.as_str()),
        c::recovered_fen.eq(0),
        c::closed_at.eq(now),
    ))
    .execute(conn)?;
    if moved == 0 {
        return Err(Error::new(ErrorCode::CaseNotAccepted));
    }
    diesel::insert_into(r::table)
        .values((
            r::case_id.eq(case_id),
            r::agency.eq(body.agency.as_str()),
            r::created_at.eq(now),
            r::created_by.eq(user.account_id),
        ))
        .execute(conn)?;
    let body_text = format!("转交{}。\n{}", body.agency.label_zh(), &*body.reply);
    let kind = CaseEventKind::Referred;
    let event = timeline::append(
        conn,
        protector,
        case_id,
        Some(user.account_id),
        kind,
        Some(&body_text),
    )?;
    let text = format!(
        "{}已转交{}办理，办理意见和需准备的材料请在案件详情中查看。",
        notify::named(&case),
        body.agency.label_zh()
    );
    notify::tell(
        conn,
        &case,
        event,
        Topic::CaseClosed,
        ("维权案件已转交", text),
    )?;
    queue::stepped(conn, (config, protector), actor, Action::CaseRefer, &case)
}

/// The use case: staff record the follow-up call of a closed case, once (`already_followed_up`).
pub fn follow_up(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: FollowUp,
) -> Result<CaseDetail> {
    if !(1..=5).contains(&body.rating) {
        return Err(Error::invalid(ErrorCode::InvalidField, "rating"));
    }
    let case = queue::in_scope(conn, user, case_id)?;
    if case.closed_at.is_none() || case.state == CaseState::Declined {
        return Err(Error::new(ErrorCode::CaseNotClosed));
    }
    let done = diesel::update(c::table.find(case_id).filter(c::followed_up_at.is_null()))
        .set((
            c::rating.eq(i32::from(body.rating)),
            c::followed_up_at.eq(platform::clock::now()),
        ))
        .execute(conn)?;
    if done == 0 {
        return Err(Error::new(ErrorCode::AlreadyFollowedUp));
    }
    let kind = CaseEventKind::FollowedUp;
    timeline::append(
        conn,
        protector,
        case_id,
        Some(user.account_id),
        kind,
        body.note.as_deref(),
    )?;
    queue::stepped(
        conn,
        (config, protector),
        actor,
        Action::CaseFollowUp,
        &case,
    )
}
