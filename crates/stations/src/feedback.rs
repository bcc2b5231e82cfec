//! The message board: members post suggestions and fault reports ("microwave broken", "closed
//! during opening hours"); staff answer and resolve. An unresolved fault report flags its station
//! in search, kept as a count on the station row so the index sees it with the station.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::db::caller_gone;
use platform::outbox::{self, Notice, Topic};
use platform::pagination::{Cursor, Limit, Page, PageQuery, Paged};
use platform::schema::{org_closure as c, station_feedback as f, stations as s};
use platform::{Coordinator, Db, DbConn, Error, ErrorCode, Rate, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::station::{self, add_open_faults};
use crate::vocab::{FeedbackKind, FeedbackStatus, StationStatus};
use crate::Stations;

pub const MAX_BODY: usize = 500;
/// A message or a reply as the API takes it.
pub type Body = platform::text::Text<MAX_BODY>;

/// Messages one account may post per hour: a board is for reports, not for chatting.
pub const RATE: Rate = Rate::per(10, Duration::from_secs(3600));

/// The throttle bucket of one account's posts, across all boards.
pub fn rate_key(account_id: i64) -> String {
    format!("station-feedback:{account_id}")
}

/// A message as the board shows it (no personal data of its author).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedbackView {
    pub id: i64,
    pub station_id: i64,
    pub station_name: String,
    pub kind: FeedbackKind,
    pub body: String,
    pub status: FeedbackStatus,
    /// Staff's answer, shown on the board.
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A stored message with its station's name, in the order of [`COLUMNS`].
#[derive(Debug, Clone, Queryable)]
struct Message {
    id: i64,
    station_id: i64,
    station_name: String,
    #[diesel(deserialize_as = String)]
    kind: FeedbackKind,
    body: String,
    #[diesel(deserialize_as = String)]
    status: FeedbackStatus,
    reply: Option<String>,
    replied_at: Option<NaiveDateTime>,
    resolved_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

type Columns = (
    f::id,
    f::station_id,
    s::name,
    f::kind,
    f::body,
    f::status,
    f::reply,
    f::replied_at,
    f::resolved_at,
    f::created_at,
);

/// What a [`Message`] is read from (messages joined with their stations).
const COLUMNS: Columns = (
    f::id,
    f::station_id,
    s::name,
    f::kind,
    f::body,
    f::status,
    f::reply,
    f::replied_at,
    f::resolved_at,
    f::created_at,
);

impl From<Message> for FeedbackView {
    fn from(m: Message) -> FeedbackView {
        FeedbackView {
            id: m.id,
            station_id: m.station_id,
            station_name: m.station_name,
            kind: m.kind,
            body: m.body,
            status: m.status,
            reply: m.reply,
            replied_at: m.replied_at.map(|t| t.and_utc()),
            resolved_at: m.resolved_at.map(|t| t.and_utc()),
            created_at: m.created_at.and_utc(),
        }
    }
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<FeedbackView> {
    let message: Message = f::table
        .inner_join(s::table)
        .filter(f::id.eq(id))
        .select(COLUMNS)
        .first(conn)?;
    Ok(message.into())
}

/// The org running the station a message is about.
fn org_of(conn: &mut DbConn, id: i64) -> Result<i64> {
    Ok(f::table
        .inner_join(s::table)
        .filter(f::id.eq(id))
        .select(s::org_id)
        .first(conn)?)
}

/// A message after a write, and whether the write moved its station's fault flag: the flag
/// is part of what search shows, so the stations index has to catch up.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub view: FeedbackView,
    pub flag_changed: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct FeedbackRequest {
    /// `suggestion` or `fault` (a fault flags the station in search until resolved).
    pub kind: FeedbackKind,
    /// Up to 500 characters, e.g. "微波炉坏了".
    pub body: Body,
}

/// The use case as the API and the door page call it: the account's hourly limit, then
/// [`post`] in a write, then, when a fault report flagged the station, this instance's index
/// and the others catch up.
pub async fn report(
    db: &Db,
    coord: &Coordinator,
    stations: &Stations,
    account_id: i64,
    station_id: i64,
    kind: FeedbackKind,
    body: Body,
) -> Result<FeedbackView> {
    coord.throttle(&rate_key(account_id), RATE).await?;
    let posted = db
        .write(move |conn| post(conn, station_id, account_id, kind, &body))
        .await?;
    if posted.flag_changed {
        stations.changed(db, coord).await;
    }
    Ok(posted.view)
}

/// A worker posts a message; a fault report flags the station (inside [`report`]).
pub fn post(
    conn: &mut DbConn,
    station_id: i64,
    account_id: i64,
    kind: FeedbackKind,
    body: &str,
) -> Result<Outcome> {
    let status: String = s::table.find(station_id).select(s::status).first(conn)?;
    if status == StationStatus::Closed.as_str() {
        return Err(Error::new(ErrorCode::StationClosed));
    }
    let id: i64 = diesel::insert_into(f::table)
        .values((
            f::station_id.eq(station_id),
            f::account_id.eq(account_id),
            f::kind.eq(kind.as_str()),
            f::body.eq(body),
            f::status.eq(FeedbackStatus::Open.as_str()),
            f::created_at.eq(platform::clock::now()),
        ))
        .returning(f::id)
        .get_result(conn)
        .map_err(caller_gone)?;
    let flag_changed = kind == FeedbackKind::Fault;
    if flag_changed {
        add_open_faults(conn, station_id, 1)?;
    }
    Ok(Outcome {
        view: get(conn, id)?,
        flag_changed,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct PatchFeedback {
    /// Staff's answer, shown on the board (replaces an earlier one).
    pub reply: Option<Body>,
    /// `resolved`, or `open` to reopen.
    pub status: Option<FeedbackStatus>,
}

/// Staff's answer to a message: a reply, a new status, or both.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reply: Option<String>,
    pub status: Option<FeedbackStatus>,
}

impl PatchFeedback {
    /// The answer the body gives; one that changes nothing is refused (naming `reply`).
    pub fn validate(self) -> Result<Answer> {
        if self.reply.is_none() && self.status.is_none() {
            return Err(Error::invalid(ErrorCode::InvalidField, "reply"));
        }
        Ok(Answer {
            reply: self.reply.map(Body::into_inner),
            status: self.status,
        })
    }
}

/// [`update`] in a write, then, when a station's fault flag moved, this instance's index and
/// the others catch up (the JSON route and the console both).
pub async fn answer(
    db: &Db,
    coord: &Coordinator,
    stations: &Stations,
    (user, actor): (AuthUser, Actor),
    id: i64,
    answer: Answer,
) -> Result<FeedbackView> {
    let answered = db
        .write(move |conn| update(conn, &user, &actor, id, &answer))
        .await?;
    if answered.flag_changed {
        stations.changed(db, coord).await;
    }
    Ok(answered.view)
}

/// The use case: staff of the station's subtree answer and/or change the status. Only a real
/// change of a fault report's status moves the station's flag, so a repeated "resolve" does not
/// unflag a second report. The reply is free text: the board keeps it, the log only the id.
pub fn update(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    answer: &Answer,
) -> Result<Outcome> {
    let org_id = org_of(conn, id)?;
    staff::require(conn, user, org_id)?;
    let entry = Entry::new(Action::FeedbackUpdate, Record::new("feedback", id)).in_org(org_id);
    audit::record(conn, actor, entry)?;
    let now = platform::clock::now();
    if let Some(reply) = &answer.reply {
        diesel::update(f::table.find(id))
            .set((
                f::reply.eq(reply),
                f::replied_by.eq(user.account_id),
                f::replied_at.eq(now),
            ))
            .execute(conn)?;
    }
    let mut status_changed = false;
    if let Some(status) = answer.status {
        let resolved_at = (status == FeedbackStatus::Resolved).then_some(now);
        let changed = diesel::update(f::table.find(id))
            .filter(f::status.ne(status.as_str()))
            .set((
                f::status.eq(status.as_str()),
                f::resolved_at.eq(resolved_at),
            ))
            .execute(conn)?;
        status_changed = changed == 1;
    }
    let view = get(conn, id)?;
    if let Some(reply) = &answer.reply {
        tell_author(conn, id, reply)?;
    }
    let flag_changed = status_changed && view.kind == FeedbackKind::Fault;
    if flag_changed {
        // The status just changed to the stored one: resolving lowers the count.
        let delta = if view.status == FeedbackStatus::Resolved {
            -1
        } else {
            1
        };
        add_open_faults(conn, view.station_id, delta)?;
    }
    Ok(Outcome { view, flag_changed })
}

/// The member who wrote a message hears of its first reply (platform::outbox); a later edit
/// of the reply is not sent again.
fn tell_author(conn: &mut DbConn, id: i64, reply: &str) -> Result<()> {
    let (author, station): (i64, String) = f::table
        .inner_join(s::table)
        .filter(f::id.eq(id))
        .select((f::account_id, s::name))
        .first(conn)?;
    let excerpt: String = reply.chars().take(REPLY_EXCERPT).collect();
    let more = if reply.chars().count() > REPLY_EXCERPT {
        "…"
    } else {
        ""
    };
    let notice = Notice {
        account_id: author,
        topic: Topic::FeedbackAnswered,
        subject: Record::new("feedback", id),
        title: "驿站回复了您的留言".to_owned(),
        body: format!("{station}：{excerpt}{more}"),
        deadline: None,
    };
    outbox::send(conn, &[notice])?;
    Ok(())
}

/// Characters of a reply a notice quotes: an SMS stays one message.
const REPLY_EXCERPT: usize = 40;

/// Filters of a board.
#[derive(Debug, Clone, Copy, Default)]
pub struct BoardFilter {
    pub status: Option<FeedbackStatus>,
    pub kind: Option<FeedbackKind>,
}

/// Where a board's messages come from.
#[derive(Debug, Clone, Copy)]
pub enum Board {
    Station(i64),
    /// Every station of an org's subtree.
    Subtree(i64),
}

/// A page of a board, newest first (one row more than the page).
pub fn list(
    conn: &mut DbConn,
    board: Board,
    filter: BoardFilter,
    page: Page,
) -> Result<Vec<FeedbackView>> {
    let mut query = f::table
        .inner_join(s::table)
        .filter(f::id.lt(page.before.unwrap_or(i64::MAX)))
        .into_boxed();
    query = match board {
        Board::Station(id) => query.filter(f::station_id.eq(id)),
        Board::Subtree(org_id) => query.filter(
            s::org_id.eq_any(
                c::table
                    .filter(c::ancestor_id.eq(org_id))
                    .select(c::descendant_id),
            ),
        ),
    };
    if let Some(status) = filter.status {
        query = query.filter(f::status.eq(status.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(f::kind.eq(kind.as_str()));
    }
    let messages: Vec<Message> = query
        .order(f::id.desc())
        .limit(page.limit + 1)
        .select(COLUMNS)
        .load(conn)?;
    Ok(messages.into_iter().map(FeedbackView::from).collect())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// `open` or `resolved`; both when omitted.
    #[param(inline)]
    pub status: Option<FeedbackStatus>,
    /// `suggestion` or `fault`; both when omitted.
    #[param(inline)]
    pub kind: Option<FeedbackKind>,
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
}

/// The use case: staff read a board they answer for (a station they manage, or an org of
/// their subtree), newest first.
pub fn staff_board(
    conn: &mut DbConn,
    user: &AuthUser,
    board: Board,
    query: BoardQuery,
) -> Result<Paged<FeedbackView>> {
    match board {
        Board::Station(id) => {
            station::managed(conn, user, id)?;
        }
        Board::Subtree(org_id) => staff::require(conn, user, org_id)?,
    }
    let filter = BoardFilter {
        status: query.status,
        kind: query.kind,
    };
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page();
    let rows = list(conn, board, filter, page)?;
    Ok(Paged::from_rows(rows, page, |f| f.id))
}
