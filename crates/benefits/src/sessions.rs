//! Health-check sessions: the truck at one site for a time window, with a number of seats.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::Location;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::schema::health_sessions as hs;
use platform::{DbConn, Result};

use crate::programs;
use crate::vocab::ProgramKind;
use serde::Serialize;
use utoipa::ToSchema;

pub struct NewSession {
    pub program_id: i64,
    pub site_name: String,
    pub address: String,
    pub location: Option<Location>,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub program_id: i64,
    pub site_name: String,
    pub address: String,
    /// GCJ-02.
    pub location: Option<Location>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub seats_left: i32,
}

/// A stored session (what bookings need).
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub program_id: i64,
    pub site_name: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
}

type Row = (
    i64,
    i64,
    String,
    String,
    Option<f64>,
    Option<f64>,
    NaiveDateTime,
    NaiveDateTime,
    i32,
    i32,
);

macro_rules! columns {
    () => {
        (
            hs::id,
            hs::program_id,
            hs::site_name,
            hs::address,
            hs::lat,
            hs::lng,
            hs::starts_at,
            hs::ends_at,
            hs::capacity,
            hs::booked,
        )
    };
}

fn view_of(row: Row) -> SessionView {
    let (id, program_id, site_name, address, lat, lng, starts_at, ends_at, capacity, booked) = row;
    SessionView {
        id,
        program_id,
        site_name,
        address,
        location: lat.zip(lng).map(|(lat, lng)| Location { lat, lng }),
        starts_at: starts_at.and_utc(),
        ends_at: ends_at.and_utc(),
        capacity,
        seats_left: capacity - booked,
    }
}

/// The use case: staff add a session to a health-check program of their subtree.
pub fn create(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    new: NewSession,
) -> Result<SessionView> {
    let program = programs::managed(conn, user, new.program_id)?;
    program.require_kind(ProgramKind::HealthCheck)?;
    let id: i64 = diesel::insert_into(hs::table)
        .values((
            hs::program_id.eq(new.program_id),
            hs::site_name.eq(&new.site_name),
            hs::address.eq(&new.address),
            hs::lat.eq(new.location.map(|l| l.lat)),
            hs::lng.eq(new.location.map(|l| l.lng)),
            hs::starts_at.eq(new.starts_at),
            hs::ends_at.eq(new.ends_at),
            hs::capacity.eq(new.capacity),
            hs::booked.eq(0),
            hs::created_at.eq(platform::clock::now()),
        ))
        .returning(hs::id)
        .get_result(conn)?;
    let entry =
        Entry::new(Action::SessionCreate, Record::new("session", id)).in_org(program.org_id);
    audit::record(conn, actor, entry)?;
    let row: Row = hs::table.find(id).select(columns!()).first(conn)?;
    Ok(view_of(row))
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Session> {
    let (id, program_id, site_name, starts_at, ends_at) = hs::table
        .find(id)
        .select((
            hs::id,
            hs::program_id,
            hs::site_name,
            hs::starts_at,
            hs::ends_at,
        ))
        .first(conn)?;
    Ok(Session {
        id,
        program_id,
        site_name,
        starts_at,
        ends_at,
    })
}

/// A program's sessions that have not ended, soonest first.
pub fn upcoming(conn: &mut DbConn, program_id: i64) -> Result<Vec<SessionView>> {
    let rows: Vec<Row> = hs::table
        .filter(hs::program_id.eq(program_id))
        .filter(hs::ends_at.gt(platform::clock::now()))
        .order((hs::starts_at, hs::id))
        .select(columns!())
        .load(conn)?;
    Ok(rows.into_iter().map(view_of).collect())
}
