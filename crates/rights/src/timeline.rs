//! A case's timeline: every step, message and note, append-only. Free text is sealed, bound to
//! its case. Claimants read the public entries; staff read all.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::crypto::DataProtector;
use platform::schema::case_events as e;
use platform::{DbConn, Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cases::Reader;
use crate::vocab::CaseEventKind;

pub(crate) fn body_context(case_id: i64) -> String {
    format!("case_events.body:{case_id}")
}

/// Whether claimants see entries of this kind.
fn is_public(kind: CaseEventKind) -> bool {
    !matches!(kind, CaseEventKind::StaffNote | CaseEventKind::FollowedUp)
}

/// Appends an entry; returns its id.
pub(crate) fn append(
    conn: &mut DbConn,
    protector: &DataProtector,
    case_id: i64,
    actor: Option<i64>,
    kind: CaseEventKind,
    body: Option<&str>,
) -> Result<i64> {
    let sealed = body.map(|text| protector.seal(&body_context(case_id), text.as_bytes()));
    Ok(diesel::insert_into(e::table)
        .values((
            e::case_id.eq(case_id),
            e::at.eq(platform::clock::now()),
            e::actor_account_id.eq(actor),
            e::kind.eq(kind.as_str()),
            e::public.eq(is_public(kind)),
            e::body.eq(sealed),
        ))
        .returning(e::id)
        .get_result(conn)?)
}

/// Who wrote an entry, as a claimant may know it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// The reader.
    You,
    /// Another claimant of the case.
    Claimant,
    /// Union staff.
    Staff,
    /// The service itself, or an erased account.
    System,
}

/// One entry as the timeline shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: CaseEventKind,
    /// What happened, in plain words (zh-CN).
    pub label: String,
    pub author: Author,
    /// The staff account that wrote it: staff see it, claimants never do.
    pub staff_account_id: Option<i64>,
    /// The message, note or reason; null when the step has none or it was erased.
    pub body: Option<String>,
    /// False for staff notes, which claimants never see.
    pub public: bool,
}

fn label(kind: CaseEventKind) -> &'static str {
    match kind {
        CaseEventKind::Filed => "提交维权申请",
        CaseEventKind::Joined => "工友加入本案",
        CaseEventKind::ClaimantMessage => "申请人留言",
        CaseEventKind::StaffMessage => "工会工作人员回复",
        CaseEventKind::StaffNote => "内部备注",
        CaseEventKind::EvidenceAdded => "补充证据材料",
        CaseEventKind::Accepted => "工会已受理",
        CaseEventKind::Declined => "工会不予受理",
        CaseEventKind::MediatorAssigned => "已指派调解员",
        CaseEventKind::AgreementSigned => "达成调解协议",
        CaseEventKind::InstalmentPaid => "款项到账",
        CaseEventKind::Referred => "转交相关部门办理",
        CaseEventKind::Closed => "案件办结",
        CaseEventKind::FollowedUp => "办结回访",
        CaseEventKind::MeetingScheduled => "安排调解会议",
    }
}

type Row = (
    i64,
    NaiveDateTime,
    Option<i64>,
    String,
    bool,
    Option<String>,
);

pub(crate) fn of_case(
    conn: &mut DbConn,
    protector: &DataProtector,
    case_id: i64,
    reader: Reader,
) -> Result<Vec<CaseEvent>> {
    let mut query = e::table
        .filter(e::case_id.eq(case_id))
        .select((
            e::id,
            e::at,
            e::actor_account_id,
            e::kind,
            e::public,
            e::body,
        ))
        .order(e::id)
        .into_boxed();
    if reader != Reader::Staff {
        query = query.filter(e::public.eq(true));
    }
    let rows: Vec<Row> = query.load(conn)?;
    let context = body_context(case_id);
    rows.into_iter()
        .map(|(id, at, actor, kind, public, body)| {
            let kind = CaseEventKind::try_from(kind).map_err(Error::internal)?;
            let body = body
                .map(|sealed| {
                    let bytes = protector.open(&context, &sealed).map_err(Error::internal)?;
                    String::from_utf8(bytes).map_err(Error::internal)
                })
                .transpose()?;
            let staff_side = !matches!(
                kind,
                CaseEventKind::Filed
                    | CaseEventKind::Joined
                    | CaseEventKind::ClaimantMessage
                    | CaseEventKind::EvidenceAdded
            );
            let author = match (actor, reader) {
                (None, _) => Author::System,
                _ if staff_side => Author::Staff,
                (Some(a), Reader::Claimant(me)) if a == me => Author::You,
                _ => Author::Claimant,
            };
            Ok(CaseEvent {
                id,
                at: at.and_utc(),
                kind,
                label: label(kind).to_owned(),
                author,
                staff_account_id: (staff_side && reader == Reader::Staff)
                    .then_some(actor)
                    .flatten(),
                body,
                public,
            })
        })
        .collect()
}
