//! The message board: members post suggestions and fault reports ("microwave broken", "closed
//! during opening hours"); staff answer and resolve. An unresolved fault report flags its station
//! in search, kept as a count on the station row so the index sees it with the station.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::db::caller_gone;
use platform::pagination::Page;
use platform::schema::{org_closure as c, station_feedback as f, stations as s};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::stations::add_open_faults;
use crate::vocab::{FeedbackKind, FeedbackStatus, StationStatus};

pub const MAX_BODY: usize = 500;
/// A message or a reply as the API takes it.
pub type Body = platform::text::Text<MAX_BODY>;

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

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    NaiveDateTime,
);

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

fn view(row: Row) -> Result<FeedbackView> {
    let (
        id,
        station_id,
        station_name,
        kind,
        body,
        status,
        reply,
        replied_at,
        resolved_at,
        created_at,
    ) = row;
    let corrupt = || Error::internal(anyhow::anyhow!("feedback {id}: {kind}/{status}"));
    Ok(FeedbackView {
        id,
        station_id,
        station_name,
        kind: FeedbackKind::parse(&kind).ok_or_else(corrupt)?,
        body,
        status: FeedbackStatus::parse(&status).ok_or_else(corrupt)?,
        reply,
        replied_at: replied_at.map(|t| t.and_utc()),
        resolved_at: resolved_at.map(|t| t.and_utc()),
        created_at: created_at.and_utc(),
    })
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<FeedbackView> {
    view(
        f::table
            .inner_join(s::table)
            .filter(f::id.eq(id))
            .select(COLUMNS)
            .first(conn)?,
    )
}

/// The station a message is about.
pub fn station_of(conn: &mut DbConn, id: i64) -> Result<(i64, i64)> {
    Ok(f::table
        .inner_join(s::table)
        .filter(f::id.eq(id))
        .select((s::id, s::org_id))
        .first(conn)?)
}

/// Posts a message; a fault report flags the station.
pub fn post(
    conn: &mut DbConn,
    station_id: i64,
    account_id: i64,
    kind: FeedbackKind,
    body: &str,
) -> Result<FeedbackView> {
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
    if kind == FeedbackKind::Fault {
        add_open_faults(conn, station_id, 1)?;
    }
    get(conn, id)
}

/// The use case: staff of the station's subtree answer and/or change the status. Only a real
/// change of a fault report's status moves the station's flag, so a repeated "resolve" does not
/// unflag a second report. The reply is free text: the board keeps it, the log only the id.
pub fn update(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    reply: Option<&str>,
    status: Option<FeedbackStatus>,
) -> Result<(FeedbackView, bool)> {
    let (_, org_id) = station_of(conn, id)?;
    staff::require(conn, user, org_id)?;
    let entry = Entry::new(Action::FeedbackUpdate, Record::new("feedback", id)).in_org(org_id);
    audit::record(conn, actor, entry)?;
    let now = platform::clock::now();
    if let Some(reply) = reply {
        diesel::update(f::table.find(id))
            .set((
                f::reply.eq(reply),
                f::replied_by.eq(user.account_id),
                f::replied_at.eq(now),
            ))
            .execute(conn)?;
    }
    let mut flag_changed = false;
    if let Some(status) = status {
        let resolved_at = (status == FeedbackStatus::Resolved).then_some(now);
        let changed = diesel::update(f::table.find(id))
            .filter(f::status.ne(status.as_str()))
            .set((
                f::status.eq(status.as_str()),
                f::resolved_at.eq(resolved_at),
            ))
            .execute(conn)?;
        let (station_id, kind): (i64, String) = f::table
            .find(id)
            .select((f::station_id, f::kind))
            .first(conn)?;
        if changed == 1 && kind == FeedbackKind::Fault.as_str() {
            let delta = if status == FeedbackStatus::Resolved {
                -1
            } else {
                1
            };
            add_open_faults(conn, station_id, delta)?;
            flag_changed = true;
        }
    }
    Ok((get(conn, id)?, flag_changed))
}

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
    let rows: Vec<Row> = query
        .order(f::id.desc())
        .limit(page.limit + 1)
        .select(COLUMNS)
        .load(conn)?;
    rows.into_iter().map(view).collect()
}
