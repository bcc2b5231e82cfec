//! What rights tells claimants at each step (through `platform::outbox`, in the transaction of
//! the step). Texts name the kind of case, its number, the org and dates, never what anyone
//! wrote: the reason or the message is in the case, behind sign-in.

use chrono::NaiveDateTime;
use platform::audit::Record;
use platform::outbox::{self, Notice, Topic};
use platform::DbConn;
use platform::Result;

use crate::cases::CaseRow;
use crate::claimants;

/// Tells every claimant of `case` about timeline entry `event_id`.
pub(crate) fn tell(
    conn: &mut DbConn,
    case: &CaseRow,
    event_id: i64,
    topic: Topic,
    text: (&str, String),
) -> Result<()> {
    let subject = Record::new("case_event", event_id);
    tell_about(conn, case.id, (topic, subject), None, text)
}

/// Tells every claimant of case `case_id` one notice on `subject`, the one place rights
/// writes notices: steps, meetings (with the meeting as deadline) and the deadline sweeps.
pub(crate) fn tell_about(
    conn: &mut DbConn,
    case_id: i64,
    (topic, subject): (Topic, Record),
    deadline: Option<NaiveDateTime>,
    (title, body): (&str, String),
) -> Result<()> {
    let notices: Vec<Notice> = claimants::accounts_of(conn, case_id)?
        .into_iter()
        .map(|account_id| Notice {
            account_id,
            topic,
            subject,
            title: title.to_owned(),
            body: body.clone(),
            deadline,
        })
        .collect();
    outbox::send(conn, &notices)?;
    Ok(())
}

/// `您的欠薪维权申请（案件编号 12）`: how texts name a case.
pub(crate) fn named(case: &CaseRow) -> String {
    format!(
        "您的{}维权申请（案件编号 {}）",
        case.kind.label_zh(),
        case.id
    )
}
