//! Staff decide a filed case: accept it (受理) into one of the four handling classes, or
//! decline it with a reason and where to turn instead. A case is decided once: the state moves
//! only from `filed`, in one conditional update, so of two staff deciding at once exactly one
//! wins and the other gets `case_not_filed`.

use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs;
use platform::audit::{Action, Actor};
use platform::crypto::DataProtector;
use platform::outbox::Topic;
use platform::schema::cases as c;
use platform::text::{Prose, Text};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::cases::CaseDetail;
use crate::notify;
use crate::queue;
use crate::timeline;
use crate::vocab::{CaseClass, CaseEventKind, CaseState};
use crate::RightsConfig;

/// The body of `POST /v1/admin/cases/{id}/accept`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    pub class: CaseClass,
    /// What the claimants are told happens next.
    pub message: Option<Prose<2000>>,
}

/// The body of `POST /v1/admin/cases/{id}/decline`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decline {
    /// Why, in words the worker understands.
    pub reason: Prose<1000>,
    /// Where to turn instead (an arbitration committee, a labour inspection brigade).
    pub referral: Option<Text<200>>,
}

/// Moves `case_id` from filed to `state`; `case_not_filed` when it is no longer filed.
fn decide(
    conn: &mut DbConn,
    user: &AuthUser,
    case_id: i64,
    state: CaseState,
    class: Option<CaseClass>,
) -> Result<()> {
    let now = platform::clock::now();
    let closed_at = (state == CaseState::Declined).then_some(now);
    let changed = diesel::update(
        c::table
            .find(case_id)
            .filter(c::state.eq(CaseState::Filed.as_str())),
    )
    .set((
        c::state.eq(state.as_str()),
        c::class.eq(class.map(CaseClass::as_str)),
        c::decided_at.eq(now),
        c::decided_by.eq(user.account_id),
        c::closed_at.eq(closed_at),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(Error::new(ErrorCode::CaseNotFiled));
    }
    Ok(())
}

/// The use case: staff of the case's subtree accept it.
pub fn accept(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: Accept,
) -> Result<CaseDetail> {
    let case = queue::in_scope(conn, user, case_id)?;
    decide(conn, user, case_id, CaseState::Accepted, Some(body.class))?;
    let message = body.message.as_deref();
    let event = timeline::append(
        conn,
        protector,
        case_id,
        Some(user.account_id),
        CaseEventKind::Accepted,
        message,
    )?;
    let org = orgs::reference(conn, case.org_id)?;
    let mediation_ends = case.dates().deadlines(0, case.filed_at).mediation_ends;
    let text = format!(
        "{}已由{}受理（{}）。调解期限至 {}，期满未达成调解协议的，可依法申请劳动仲裁。",
        notify::named(&case),
        org.name,
        body.class.label_zh(),
        mediation_ends.format("%Y-%m-%d"),
    );
    notify::tell(
        conn,
        &case,
        event,
        Topic::CaseAccepted,
        ("维权申请已受理", text),
    )?;
    queue::stepped(conn, (config, protector), actor, Action::CaseAccept, &case)
}

/// The use case: staff of the case's subtree decline it, which closes it.
pub fn decline(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: Decline,
) -> Result<CaseDetail> {
    let case = queue::in_scope(conn, user, case_id)?;
    decide(conn, user, case_id, CaseState::Declined, None)?;
    let reason = match &body.referral {
        Some(referral) => format!("{}\n建议：{}", &*body.reason, &**referral),
        None => body.reason.to_string(),
    };
    let event = timeline::append(
        conn,
        protector,
        case_id,
        Some(user.account_id),
        CaseEventKind::Declined,
        Some(&reason),
    )?;
    let org = orgs::reference(conn, case.org_id)?;
    let text = format!(
        "{}未被{}受理。原因和建议的求助途径请在案件详情中查看。",
        notify::named(&case),
        org.name
    );
    notify::tell(
        conn,
        &case,
        event,
        Topic::CaseDeclined,
        ("维权申请未予受理", text),
    )?;
    queue::stepped(conn, (config, protector), actor, Action::CaseDecline, &case)
}
