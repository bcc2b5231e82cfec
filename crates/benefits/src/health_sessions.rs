//! Health-check sessions: the truck at one site for a time window, with a number of seats.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::Location;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::schema::health_sessions as hs;
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};

use crate::programs;
use crate::vocab::ProgramKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct CreateSession {
    pub site_name: Text<100>,
    pub address: Text<200>,
    pub location: Option<Location>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Exams the truck can do in the session (about 200 a day).
    #[schema(minimum = 1, maximum = 10_000)]
    pub capacity: i32,
}

impl CreateSession {
    /// The rules of a new session that its body alone decides; the program's scope and kind
    /// are checked by [`create`].
    pub fn validate(self, program_id: i64) -> Result<NewSession> {
        let bad = |field| Error::invalid(ErrorCode::InvalidField, field);
        if self.starts_at >= self.ends_at {
            return Err(bad("ends_at"));
        }
        if !(1..=10_000).contains(&self.capacity) {
            return Err(bad("capacity"));
        }
        Ok(NewSession {
            program_id,
            site_name: self.site_name.into_inner(),
            address: self.address.into_inner(),
            location: self.location.map(Location::validate).transpose()?,
            starts_at: self.starts_at.naive_utc(),
            ends_at: self.ends_at.naive_utc(),
            capacity: self.capacity,
        })
    }
}

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

/// When staff may check in a booking of a session: from `opens_before` its start until
/// `closes_after` its end. A booking is for one session, so a scan days before (or after) it is
/// a mistake or a shared code, not attendance; refusing it keeps check-ins and no-shows true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInWindow {
    /// Riders queue before the truck opens; scanning the queue early lets the first checks
    /// start on time.
    pub opens_before: TimeDelta,
    /// Whoever is still in line when the session's end passes is served and checked in; the
    /// no-show sweep waits as long.
    pub closes_after: TimeDelta,
}

impl Default for CheckInWindow {
    /// An hour before the start until half an hour after the end: a truck serves about 200
    /// people over a day's session, some 25 an hour, so half an hour clears a closing queue.
    fn default() -> Self {
        CheckInWindow {
            opens_before: TimeDelta::minutes(60),
            closes_after: TimeDelta::minutes(30),
        }
    }
}

impl CheckInWindow {
    pub fn minutes(opens_before: u32, closes_after: u32) -> CheckInWindow {
        CheckInWindow {
            opens_before: TimeDelta::minutes(opens_before.into()),
            closes_after: TimeDelta::minutes(closes_after.into()),
        }
    }

    /// Whether a session from `starts_at` to `ends_at` admits a check-in at `now` (both ends
    /// included). A bound past the calendar's range is no bound.
    pub fn admits(
        &self,
        starts_at: NaiveDateTime,
        ends_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> bool {
        let opened = starts_at
            .checked_sub_signed(self.opens_before)
            .is_none_or(|opens| opens <= now);
        let open = ends_at
            .checked_add_signed(self.closes_after)
            .is_none_or(|closes| now <= closes);
        opened && open
    }

    /// Sessions that ended before this have closed their window: what is still booked on them
    /// is a no-show.
    pub fn closed_if_ended_before(&self, now: NaiveDateTime) -> NaiveDateTime {
        now.checked_sub_signed(self.closes_after)
            .unwrap_or(NaiveDateTime::MIN)
    }
}

/// A session as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = hs)]
struct Row {
    id: i64,
    program_id: i64,
    site_name: String,
    address: String,
    lat: Option<f64>,
    lng: Option<f64>,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    capacity: i32,
    booked: i32,
}

impl From<Row> for SessionView {
    fn from(row: Row) -> SessionView {
        SessionView {
            id: row.id,
            program_id: row.program_id,
            site_name: row.site_name,
            address: row.address,
            location: row.lat.zip(row.lng).map(|(lat, lng)| Location { lat, lng }),
            starts_at: row.starts_at.and_utc(),
            ends_at: row.ends_at.and_utc(),
            capacity: row.capacity,
            seats_left: row.capacity - row.booked,
        }
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
    let row = hs::table.find(id).select(Row::as_select()).first(conn)?;
    Ok(SessionView::from(row))
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
        .select(Row::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(SessionView::from).collect())
}

/// Seats over all sessions of `program_id`, and how many are taken.
pub fn seats(conn: &mut DbConn, program_id: i64) -> Result<(i64, i64)> {
    let seats: Vec<(i32, i32)> = hs::table
        .filter(hs::program_id.eq(program_id))
        .select((hs::capacity, hs::booked))
        .load(conn)?;
    Ok(seats.iter().fold((0, 0), |(total, booked), (c, b)| {
        (total + i64::from(*c), booked + i64::from(*b))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32, minute: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 10)
            .unwrap()
            .and_hms_opt(hour, minute, 0)
            .unwrap()
    }

    #[test]
    fn the_check_in_window_runs_from_before_the_start_to_after_the_end() {
        let window = CheckInWindow::default();
        let (starts, ends) = (at(9, 0), at(17, 0));
        let day_before = at(9, 0) - TimeDelta::days(1);
        assert!(!window.admits(starts, ends, day_before));
        assert!(!window.admits(starts, ends, at(7, 59)));
        assert!(window.admits(starts, ends, at(8, 0)));
        assert!(window.admits(starts, ends, at(12, 0)));
        assert!(window.admits(starts, ends, at(17, 30)));
        assert!(!window.admits(starts, ends, at(17, 31)));
        assert_eq!(window.closed_if_ended_before(at(17, 30)), at(17, 0));
    }

    #[test]
    fn a_bound_beyond_the_calendar_is_no_bound() {
        let window = CheckInWindow {
            opens_before: TimeDelta::MAX,
            closes_after: TimeDelta::MAX,
        };
        assert!(window.admits(at(9, 0), at(17, 0), at(0, 0) - TimeDelta::days(3650)));
        assert!(window.admits(at(9, 0), at(17, 0), at(0, 0) + TimeDelta::days(3650)));
        assert_eq!(window.closed_if_ended_before(at(17, 0)), NaiveDateTime::MIN);
    }
}
