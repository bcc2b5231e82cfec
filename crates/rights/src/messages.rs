//! Messages on a case: claimants answer and add news, staff ask and tell (or leave a note for
//! staff only). Each is a timeline entry; the claimants are told of a staff message.

use identity::AuthUser;
use membership::orgs;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::outbox::Topic;
use platform::text::Prose;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::cases::{self, CaseRow, Reader};
use crate::claimants;
use crate::notify;
use crate::queue;
use crate::timeline::{self, CaseEvent};
use crate::vocab::CaseEventKind;

/// The body of `POST /v1/me/cases/{id}/messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    pub body: Prose<2000>,
}

/// The body of `POST /v1/admin/cases/{id}/messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffMessage {
    pub body: Prose<2000>,
    /// A note for staff only: the claimants neither see it nor hear of it.
    #[serde(default)]
    pub internal: bool,
}

/// The open case `case_id`, locked until the write ends; `case_closed` once closed.
fn open_case(conn: &mut DbConn, case_id: i64) -> Result<CaseRow> {
    let case = cases::lock(conn, case_id)?;
    if !case.state.is_open() {
        return Err(Error::new(ErrorCode::CaseClosed));
    }
    Ok(case)
}

fn entry(
    conn: &mut DbConn,
    protector: &DataProtector,
    case_id: i64,
    event_id: i64,
    reader: Reader,
) -> Result<CaseEvent> {
    timeline::of_case(conn, protector, case_id, reader)?
        .into_iter()
        .find(|e| e.id == event_id)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("event {event_id} not written")))
}

/// The use case: a claimant writes on their open case.
pub fn reply(
    conn: &mut DbConn,
    protector: &DataProtector,
    account_id: i64,
    case_id: i64,
    body: PostMessage,
) -> Result<CaseEvent> {
    claimants::require(conn, case_id, account_id)?;
    open_case(conn, case_id)?;
    let kind = CaseEventKind::ClaimantMessage;
    let id = timeline::append(
        conn,
        protector,
        case_id,
        Some(account_id),
        kind,
        Some(&body.body),
    )?;
    entry(conn, protector, case_id, id, Reader::Claimant(account_id))
}

/// The use case: staff of the case's subtree write to its claimants, or a note for staff.
pub fn write(
    conn: &mut DbConn,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: StaffMessage,
) -> Result<CaseEvent> {
    queue::in_scope(conn, user, case_id)?;
    let case = open_case(conn, case_id)?;
    let kind = if body.internal {
        CaseEventKind::StaffNote
    } else {
        CaseEventKind::StaffMessage
    };
    let id = timeline::append(
        conn,
        protector,
        case_id,
        Some(user.account_id),
        kind,
        Some(&body.body),
    )?;
    if !body.internal {
        let org = orgs::reference(conn, case.org_id)?;
        let text = format!(
            "{}有{}的新留言，请在案件详情中查看并回复。",
            notify::named(&case),
            org.name
        );
        notify::tell(
            conn,
            &case,
            id,
            Topic::CaseMessage,
            ("维权案件有新留言", text),
        )?;
    }
    let entry_of =
        Entry::new(Action::CaseMessage, Record::new("case", case_id)).in_org(case.org_id);
    audit::record(conn, actor, entry_of)?;
    entry(conn, protector, case_id, id, Reader::Staff)
}
