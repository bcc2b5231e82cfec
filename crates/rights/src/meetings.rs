//! Mediation meetings: when and where the parties meet (a mediation room, a rest station, or a
//! video link), with the respondent invited or not. The claimants are told at once, whatever
//! the hour if the meeting is sooner than the morning.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{Action, Actor, Record};
use platform::clock::shanghai_label;
use platform::crypto::DataProtector;
use platform::outbox::Topic;
use platform::schema::case_meetings as mt;
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cases::{CaseDetail, CaseRow};
use crate::groups;
use crate::notify;
use crate::queue;
use crate::timeline;
use crate::vocab::{CaseEventKind, Venue};
use crate::RightsConfig;

/// The body of `POST /v1/admin/cases/{id}/meetings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleMeeting {
    /// When it starts; later than now.
    pub starts_at: DateTime<Utc>,
    pub venue: Venue,
    /// The room's address, the station's name, or the video link.
    pub place: Text<200>,
    /// Whether the respondent is invited too.
    #[serde(default)]
    pub respondent_invited: bool,
    /// The same meeting for every accepted case against the same respondent that the caller
    /// may act on (group mediation), each case told on its own.
    #[serde(default)]
    pub with_group: bool,
}

/// A meeting as the case shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingView {
    pub id: i64,
    pub starts_at: DateTime<Utc>,
    pub venue: Venue,
    pub place: String,
    pub respondent_invited: bool,
}

type Row = (i64, NaiveDateTime, String, String, bool);

pub(crate) fn of_case(conn: &mut DbConn, case_id: i64) -> Result<Vec<MeetingView>> {
    let rows: Vec<Row> = mt::table
        .filter(mt::case_id.eq(case_id))
        .select((
            mt::id,
            mt::starts_at,
            mt::venue,
            mt::place,
            mt::respondent_invited,
        ))
        .order(mt::starts_at)
        .load(conn)?;
    rows.into_iter()
        .map(|(id, starts_at, venue, place, respondent_invited)| {
            Ok(MeetingView {
                id,
                starts_at: starts_at.and_utc(),
                venue: Venue::try_from(venue).map_err(Error::internal)?,
                place,
                respondent_invited,
            })
        })
        .collect()
}

/// The use case: staff of the case's subtree schedule a meeting of an accepted case, or with
/// `with_group` of every accepted case of its group they may act on; the claimants of each are
/// told by inbox and SMS.
pub fn schedule(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: ScheduleMeeting,
) -> Result<CaseDetail> {
    if body.starts_at.naive_utc() <= platform::clock::now() {
        return Err(Error::invalid(ErrorCode::InvalidField, "starts_at"));
    }
    let cases = groups::lock_for_step(conn, user, case_id, body.with_group)?;
    let together = groups::together(&cases);
    for case in &cases {
        hold(conn, protector, user, case, &body, &together)?;
        queue::audited(conn, actor, Action::MeetingSchedule, case)?;
    }
    queue::file_now(conn, (config, protector), case_id)
}

/// Writes the meeting of one locked case, its timeline entry and its claimants' notices.
fn hold(
    conn: &mut DbConn,
    protector: &DataProtector,
    user: &AuthUser,
    case: &CaseRow,
    body: &ScheduleMeeting,
    together: &str,
) -> Result<()> {
    let starts_at = body.starts_at.naive_utc();
    diesel::insert_into(mt::table)
        .values((
            mt::case_id.eq(case.id),
            mt::starts_at.eq(starts_at),
            mt::venue.eq(body.venue.as_str()),
            mt::place.eq(&*body.place),
            mt::respondent_invited.eq(body.respondent_invited),
            mt::created_by.eq(user.account_id),
            mt::created_at.eq(platform::clock::now()),
        ))
        .execute(conn)?;
    let when = shanghai_label(starts_at);
    let venue = body.venue.label_zh();
    let line = format!("调解会议：{when}，{}（{venue}）{together}。", &*body.place);
    let kind = CaseEventKind::MeetingScheduled;
    let author = Some(user.account_id);
    let event = timeline::append(conn, protector, case.id, author, kind, Some(&line))?;
    // The text names the time and the venue's kind, never the place staff typed.
    let text = format!(
        "{}安排了调解会议：{when}，{venue}{together}，地点详见案件详情。请按时参加。",
        notify::named(case),
    );
    notify::tell_about(
        conn,
        case.id,
        (Topic::CaseMeeting, Record::new("case_event", event)),
        Some(starts_at),
        ("调解会议通知", text),
    )
}
