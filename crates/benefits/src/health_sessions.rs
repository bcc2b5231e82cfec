//! Health-check sessions: the truck at one site for a time window, with a number of seats;
//! staff move, resize and cancel them.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::Location;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::schema::{bookings as b, health_sessions as hs};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};

use crate::ledger;
use crate::notify;
use crate::programs::{self, Program};
use crate::vocab::{BookingStatus, LedgerKind};
use crate::waitlist::{self, Offers};
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
        let (starts_at, ends_at) = (self.starts_at.naive_utc(), self.ends_at.naive_utc());
        check(starts_at, ends_at, self.capacity, "ends_at")?;
        Ok(NewSession {
            program_id,
            site_name: self.site_name.into_inner(),
            address: self.address.into_inner(),
            location: self.location.map(Location::validate).transpose()?,
            starts_at,
            ends_at,
            capacity: self.capacity,
        })
    }
}

/// What every session keeps to, new or edited: it ends after it starts (else `ends`, the field
/// to blame, is refused) and has 1 to 10 000 seats.
fn check(
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    capacity: i32,
    ends: &'static str,
) -> Result<()> {
    if starts_at >= ends_at {
        return Err(Error::invalid(ErrorCode::InvalidField, ends));
    }
    if !(1..=10_000).contains(&capacity) {
        return Err(Error::invalid(ErrorCode::InvalidField, "capacity"));
    }
    Ok(())
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
    /// When staff called the session off; a cancelled session takes no bookings.
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// A stored session (what bookings need).
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub program_id: i64,
    pub site_name: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub cancelled: bool,
}

impl Session {
    pub fn require_bookable(&self, now: NaiveDateTime) -> Result<()> {
        bookable(self.cancelled, self.starts_at, now).map_err(Error::new)
    }
}

/// Whether a session takes bookings at `now`: not cancelled and not started yet.
pub fn bookable(
    cancelled: bool,
    starts_at: NaiveDateTime,
    now: NaiveDateTime,
) -> std::result::Result<(), ErrorCode> {
    if cancelled {
        Err(ErrorCode::SessionCancelled)
    } else if starts_at <= now {
        Err(ErrorCode::ProgramNotOpen)
    } else {
        Ok(())
    }
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
    cancelled_at: Option<NaiveDateTime>,
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
            cancelled_at: row.cancelled_at.map(|t| t.and_utc()),
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
    program.require_sessions()?;
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
    audit::record(conn, actor, entry(Action::SessionCreate, &program, id))?;
    view(conn, id)
}

/// The entry of an action on session `id`, which belongs to its program's org.
fn entry(action: Action, program: &Program, id: i64) -> Entry {
    Entry::new(action, Record::new("session", id)).in_org(program.org_id)
}

fn row(conn: &mut DbConn, id: i64) -> Result<Row> {
    Ok(hs::table.find(id).select(Row::as_select()).first(conn)?)
}

pub fn view(conn: &mut DbConn, id: i64) -> Result<SessionView> {
    row(conn, id).map(SessionView::from)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Session> {
    let row = row(conn, id)?;
    Ok(Session {
        id: row.id,
        program_id: row.program_id,
        site_name: row.site_name,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        cancelled: row.cancelled_at.is_some(),
    })
}

/// A program's sessions that have not ended and are not cancelled, soonest first.
pub fn upcoming(conn: &mut DbConn, program_id: i64) -> Result<Vec<SessionView>> {
    let rows: Vec<Row> = hs::table
        .filter(hs::program_id.eq(program_id))
        .filter(hs::ends_at.gt(platform::clock::now()))
        .filter(hs::cancelled_at.is_null())
        .order((hs::starts_at, hs::id))
        .select(Row::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(SessionView::from).collect())
}

/// Every session of a program, cancelled and past ones too, soonest first (what staff see).
pub fn of_program(conn: &mut DbConn, program_id: i64) -> Result<Vec<SessionView>> {
    let rows: Vec<Row> = hs::table
        .filter(hs::program_id.eq(program_id))
        .order((hs::starts_at, hs::id))
        .select(Row::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(SessionView::from).collect())
}

/// Seats over the sessions of `program_id` not cancelled, and how many are taken.
pub fn seats(conn: &mut DbConn, program_id: i64) -> Result<(i64, i64)> {
    let seats: Vec<(i32, i32)> = hs::table
        .filter(hs::program_id.eq(program_id))
        .filter(hs::cancelled_at.is_null())
        .select((hs::capacity, hs::booked))
        .load(conn)?;
    Ok(seats.iter().fold((0, 0), |(total, booked), (c, b)| {
        (total + i64::from(*c), booked + i64::from(*b))
    }))
}

/// The use case behind the console's home: the sessions of the subtree's programs that start
/// on `day` (Asia/Shanghai), not cancelled, soonest first.
pub fn on_day(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    day: chrono::NaiveDate,
) -> Result<Vec<SessionView>> {
    use platform::schema::{org_closure as c, programs as p};
    membership::staff::require(conn, user, org_id)?;
    let from = platform::clock::shanghai_midnight(day);
    let until = from + TimeDelta::days(1);
    let rows: Vec<Row> = hs::table
        .inner_join(p::table.on(p::id.eq(hs::program_id)))
        .inner_join(c::table.on(c::descendant_id.eq(p::org_id)))
        .filter(c::ancestor_id.eq(org_id))
        .filter(hs::starts_at.ge(from).and(hs::starts_at.lt(until)))
        .filter(hs::cancelled_at.is_null())
        .order((hs::starts_at, hs::id))
        .select(Row::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(SessionView::from).collect())
}

// ---- staff: moving, resizing and cancelling a session ----

/// A session `user` manages, with its program: 403 for non-staff before any look-up, 404 for
/// a session of a program outside the caller's subtree exactly as for one that does not exist.
pub fn managed(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<(Program, SessionView)> {
    membership::staff::require_any(conn, user)?;
    let session = view(conn, id)?;
    let program = programs::managed(conn, user, session.program_id)?;
    Ok((program, session))
}

/// A session's changes: present fields replace the stored ones.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSession {
    pub site_name: Option<Text<100>>,
    pub address: Option<Text<200>>,
    /// GCJ-02; `null` removes it.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<Location>)]
    pub location: Option<Option<Location>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Not below the seats already booked (`409 capacity_below_booked`); seats added go to the
    /// waitlist first, in order.
    #[schema(minimum = 1, maximum = 10_000)]
    pub capacity: Option<i32>,
}

impl PatchSession {
    /// The session once patched, held to the rules of a new one. An end before the start
    /// names `ends_at` when the patch moves the end, else `starts_at`.
    fn apply(self, stored: &SessionView) -> Result<NewSession> {
        let starts_at = self.starts_at.unwrap_or(stored.starts_at).naive_utc();
        let ends_at = self.ends_at.unwrap_or(stored.ends_at).naive_utc();
        let capacity = self.capacity.unwrap_or(stored.capacity);
        let ends = if self.ends_at.is_some() {
            "ends_at"
        } else {
            "starts_at"
        };
        check(starts_at, ends_at, capacity, ends)?;
        let location = match self.location {
            Some(location) => location.map(Location::validate).transpose()?,
            None => stored.location,
        };
        Ok(NewSession {
            program_id: stored.program_id,
            site_name: self
                .site_name
                .map_or_else(|| stored.site_name.clone(), Text::into_inner),
            address: self
                .address
                .map_or_else(|| stored.address.clone(), Text::into_inner),
            location,
            starts_at,
            ends_at,
            capacity,
        })
    }
}

/// The use case: staff move or resize a session of their subtree. Capacity may not go below
/// the seats already booked (`capacity_below_booked`): the check is the UPDATE's own condition,
/// evaluated on the row as the last booking batch committed it (a batch holds the session row
/// while it decides), so no booking slips in between. Seats added go to the waitlist first. A
/// cancelled session stays as it is (`session_cancelled`).
pub fn edit(
    conn: &mut DbConn,
    (user, actor): (&AuthUser, &Actor),
    id: i64,
    patch: PatchSession,
    offers: Offers,
) -> Result<SessionView> {
    let (program, stored) = managed(conn, user, id)?;
    if stored.cancelled_at.is_some() {
        return Err(Error::new(ErrorCode::SessionCancelled));
    }
    let new = patch.apply(&stored)?;
    let updated = diesel::update(hs::table.find(id))
        .filter(hs::cancelled_at.is_null())
        .filter(hs::booked.le(new.capacity))
        .set((
            hs::site_name.eq(&new.site_name),
            hs::address.eq(&new.address),
            hs::lat.eq(new.location.map(|l| l.lat)),
            hs::lng.eq(new.location.map(|l| l.lng)),
            hs::starts_at.eq(new.starts_at),
            hs::ends_at.eq(new.ends_at),
            hs::capacity.eq(new.capacity),
        ))
        .execute(conn)?;
    if updated == 0 {
        let code = match row(conn, id)?.cancelled_at {
            Some(_) => ErrorCode::SessionCancelled,
            None => ErrorCode::CapacityBelowBooked,
        };
        return Err(Error::new(code));
    }
    waitlist::promote(conn, id, program.id, offers, platform::clock::now())?;
    audit::record(conn, actor, entry(Action::SessionUpdate, &program, id))?;
    view(conn, id)
}

/// What cancelling a session did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelledSession {
    #[serde(flatten)]
    pub session: SessionView,
    /// Bookings (seats and waitlist) cancelled with it by this call; 0 when it was cancelled
    /// before.
    pub bookings_cancelled: i64,
}

/// The use case: staff call a session off. The session stays, marked cancelled, and takes no
/// more bookings (`session_cancelled`); its booked seats and its waitlist are cancelled in the
/// same transaction, each with a ledger entry. Check-ins and no-shows stay as they are: they
/// happened. Cancelling twice is harmless.
pub fn cancel(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
) -> Result<CancelledSession> {
    let (program, _) = managed(conn, user, id)?;
    let now = platform::clock::now();
    // Marking takes the session row, as a booking batch does first: a batch waiting for the
    // row finds the session cancelled, and the bookings of one before are cancelled here.
    let marked = diesel::update(hs::table.find(id))
        .filter(hs::cancelled_at.is_null())
        .set(hs::cancelled_at.eq(now))
        .execute(conn)?;
    let mut bookings_cancelled = 0;
    if marked == 1 {
        let seated = cancel_bookings(conn, id, program.id, BookingStatus::Booked, now)?;
        let waiting = cancel_bookings(conn, id, program.id, BookingStatus::Waitlisted, now)?;
        diesel::update(hs::table.find(id))
            .set(hs::booked.eq(hs::booked - seated.len() as i32))
            .execute(conn)?;
        let everyone = [seated.as_slice(), &waiting].concat();
        notify::Session::load(conn, id)?.cancelled(conn, &everyone)?;
        notify::withdraw_reminders(conn, &seated)?;
        audit::record(conn, actor, entry(Action::SessionCancel, &program, id))?;
        bookings_cancelled = (seated.len() + waiting.len()) as i64;
    }
    Ok(CancelledSession {
        session: view(conn, id)?,
        bookings_cancelled,
    })
}

/// Cancels the bookings of a session in `status`; answers them as `(account, booking)`.
fn cancel_bookings(
    conn: &mut DbConn,
    session_id: i64,
    program_id: i64,
    status: BookingStatus,
    now: NaiveDateTime,
) -> Result<Vec<(i64, i64)>> {
    let cancelled: Vec<(i64, i64)> = diesel::update(
        b::table
            .filter(b::session_id.eq(session_id))
            .filter(b::status.eq(status.as_str())),
    )
    .set((
        b::status.eq(BookingStatus::Cancelled.as_str()),
        b::cancelled_at.eq(now),
        b::offer_expires_at.eq(None::<NaiveDateTime>),
    ))
    .returning((b::account_id, b::id))
    .get_results(conn)?;
    ledger::append_bookings(conn, program_id, LedgerKind::Cancelled, &cancelled)?;
    Ok(cancelled)
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
