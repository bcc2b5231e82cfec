//! What rights tells claimants at each step (through `platform::outbox`, in the transaction of
//! the step). Texts name the kind of case, its number, the org and dates, never what anyone
//! wrote: the reason or the message is in the case, behind sign-in.

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
    (title, body): (&str, String),
) -> Result<()> {
    let notices: Vec<Notice> = claimants::accounts_of(conn, case.id)?
        .into_iter()
        .map(|account_id| Notice {
            account_id,
            topic,
            subject: Record::new("case_event", event_id),
            title: title.to_owned(),
            body: body.clone(),
            deadline: None,
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
