//! Health-check bookings: a seat (through the batch writer), the waitlist, cancellation with
//! automatic promotion of the first person waiting, and no-shows.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::clock::now;
use platform::crypto::random_token;
use platform::pagination::{Page, Paged};
use platform::schema::{bookings as b, health_sessions as hs, programs as p};
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::batcher::{self, BookJob, Issued};
use crate::vocab::{BookingStatus, LedgerKind, ProgramStatus};
use crate::waitlist::{self, Offers};
use crate::Benefits;
use crate::{health_sessions, ledger, notify};

/// The use case: the caller books a seat of `session_id`, or with `waitlist` a place in its
/// queue when the seats are gone.
///
/// As for claims, the session and the program come from a one-second cache, and membership,
/// eligibility, one live booking per member and the seats are decided for the whole batch at
/// once ([`grant`]). A session that has started or was cancelled takes no bookings.
pub async fn book(
    db: &Db,
    benefits: &Benefits,
    session_id: i64,
    account_id: i64,
    waitlist: bool,
) -> Result<BookingView> {
    let session = benefits.sessions.get(db, session_id).await?;
    let program = benefits.programs.get(db, session.program_id).await?;
    if program.status == ProgramStatus::Draft {
        return Err(Error::new(ErrorCode::NotFound));
    }
    program.require_open(now())?;
    session.require_bookable(now())?;
    let outcome = benefits
        .batcher
        .book(session_id, program.clone(), account_id, waitlist)
        .await?;
    match outcome {
        BookOutcome::Booked(booking) => Ok(BookingView::booked(
            &session,
            program.title.clone(),
            booking,
        )),
        // The queue position needs a count; waitlisting is the rare path.
        BookOutcome::Waitlisted(booking) => {
            db.run(move |conn| self::booking(conn, account_id, booking.id))
                .await
        }
        BookOutcome::Full => Err(Error::new(ErrorCode::Full)),
        BookOutcome::AlreadyBooked => Err(Error::new(ErrorCode::AlreadyBooked)),
        BookOutcome::Refused(code) => Err(Error::new(code)),
    }
}

/// What the batch decided for one booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookOutcome {
    Booked(Issued),
    Waitlisted(Issued),
    Full,
    AlreadyBooked,
    /// Not eligible, the program closed, the session started or cancelled.
    Refused(ErrorCode),
}

/// A booking that holds or waits for a seat: a member has at most one per program.
const LIVE: [BookingStatus; 3] = [
    BookingStatus::Booked,
    BookingStatus::Waitlisted,
    BookingStatus::CheckedIn,
];

/// Decides the bookings of a batch, session by session, in arrival order, inside the batch's
/// transaction.
pub(crate) fn grant(conn: &mut DbConn, jobs: &[&BookJob]) -> Result<Vec<BookOutcome>> {
    let now = now();
    batcher::by_group(
        jobs,
        |job| job.session_id,
        |session_id, group| grant_session(conn, session_id, group, now),
    )
}

/// One session's bookings of a batch: under the session row's lock, in memory, then one insert
/// for all of them and one per ledger kind.
fn grant_session(
    conn: &mut DbConn,
    session_id: i64,
    jobs: &[&BookJob],
    now: NaiveDateTime,
) -> Result<Vec<BookOutcome>> {
    let locked: (i32, i32, NaiveDateTime, Option<NaiveDateTime>, String) =
        diesel::update(hs::table.find(session_id))
            .set(hs::booked.eq(hs::booked))
            .returning((
                hs::capacity,
                hs::booked,
                hs::starts_at,
                hs::cancelled_at,
                hs::site_name,
            ))
            .get_result(conn)?;
    let (capacity, booked, starts_at, cancelled_at, site) = locked;
    // Staff may have moved or cancelled the session since the cached copy was read.
    let bookable = health_sessions::bookable(cancelled_at.is_some(), starts_at, now);
    if let Err(code) = bookable {
        return Ok(vec![BookOutcome::Refused(code); jobs.len()]);
    }
    let program = &jobs[0].program;
    let status: String = p::table.find(program.id).select(p::status).first(conn)?;
    if ProgramStatus::parse(&status) != Some(ProgramStatus::Published) || !program.is_open(now) {
        return Ok(vec![
            BookOutcome::Refused(ErrorCode::ProgramNotOpen);
            jobs.len()
        ]);
    }
    let accounts: Vec<i64> = jobs.iter().map(|job| job.account_id).collect();
    let refusals = program
        .rules
        .refusals(conn, program.org_id, &accounts, now)?;
    let live: HashSet<i64> = b::table
        .filter(b::program_id.eq(program.id))
        .filter(b::account_id.eq_any(&accounts))
        .filter(b::status.eq_any(LIVE.map(BookingStatus::as_str)))
        .select(b::account_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let arrivals: Vec<Arrival> = jobs
        .iter()
        .map(|job| Arrival {
            account_id: job.account_id,
            refusal: refusals.get(&job.account_id).copied(),
            waitlist: job.waitlist,
        })
        .collect();
    let (mut outcomes, seat, booked) = decide(&arrivals, live, capacity, booked);
    let ids = insert_bookings(conn, session_id, program.id, &arrivals, &seat, now)?;
    let (mut seated, mut waiting) = (Vec::new(), Vec::new());
    for ((i, status), (id, code)) in seat.into_iter().zip(ids) {
        let account_id = arrivals[i].account_id;
        let issued = Issued { id, code, at: now };
        outcomes[i] = if status == BookingStatus::Booked {
            seated.push((account_id, id));
            BookOutcome::Booked(issued)
        } else {
            waiting.push((account_id, id));
            BookOutcome::Waitlisted(issued)
        };
    }
    ledger::append_bookings(conn, program.id, LedgerKind::Booked, &seated)?;
    ledger::append_bookings(conn, program.id, LedgerKind::Waitlisted, &waiting)?;
    notify::Session::new(&program.title, &site, starts_at).booked(conn, &seated, &waiting)?;
    diesel::update(hs::table.find(session_id))
        .set(hs::booked.eq(booked))
        .execute(conn)?;
    Ok(outcomes)
}

/// One request of a batch, as the rule sees it.
struct Arrival {
    account_id: i64,
    refusal: Option<ErrorCode>,
    waitlist: bool,
}

/// The rule of a booking batch, in memory: in arrival order, a refused member is refused, a
/// member with a live booking (before or in this batch) has booked already, the rest take a
/// seat while `booked < capacity`, then a place on the waitlist if they asked for one. Returns
/// the outcomes (those to write are filled in once written), which arrivals get a booking and
/// of what status, and the seats taken after.
fn decide(
    arrivals: &[Arrival],
    mut live: HashSet<i64>,
    capacity: i32,
    mut booked: i32,
) -> (Vec<BookOutcome>, Vec<(usize, BookingStatus)>, i32) {
    let mut outcomes = Vec::with_capacity(arrivals.len());
    let mut seat = Vec::new();
    for (i, arrival) in arrivals.iter().enumerate() {
        let status = match arrival.refusal {
            Some(code) => Err(BookOutcome::Refused(code)),
            None if live.contains(&arrival.account_id) => Err(BookOutcome::AlreadyBooked),
            None if booked < capacity => {
                booked += 1;
                Ok(BookingStatus::Booked)
            }
            None if arrival.waitlist => Ok(BookingStatus::Waitlisted),
            None => Err(BookOutcome::Full),
        };
        match status {
            Ok(status) => {
                live.insert(arrival.account_id);
                seat.push((i, status));
                outcomes.push(BookOutcome::Full); // replaced by the booking once it is written
            }
            Err(outcome) => outcomes.push(outcome),
        }
    }
    (outcomes, seat, booked)
}

/// Writes the bookings `seat` names, in one statement; answers their ids and codes in order.
fn insert_bookings(
    conn: &mut DbConn,
    session_id: i64,
    program_id: i64,
    arrivals: &[Arrival],
    seat: &[(usize, BookingStatus)],
    now: NaiveDateTime,
) -> Result<Vec<(i64, String)>> {
    let codes: Vec<String> = seat.iter().map(|_| random_token(9)).collect();
    let rows: Vec<_> = seat
        .iter()
        .zip(&codes)
        .map(|((i, status), code)| {
            (
                b::session_id.eq(session_id),
                b::program_id.eq(program_id),
                b::account_id.eq(arrivals[*i].account_id),
                b::status.eq(status.as_str()),
                b::code.eq(code),
                b::created_at.eq(now),
            )
        })
        .collect();
    let inserted: Vec<(i64, i64)> =
        platform::insert_rows!(conn, b::table, rows, returning(b::account_id, b::id))?;
    // One live booking per member per program: the account finds its row.
    let ids: HashMap<i64, i64> = inserted.into_iter().collect();
    seat.iter()
        .zip(codes)
        .map(|((i, _), code)| {
            let id = ids.get(&arrivals[*i].account_id).copied().ok_or_else(|| {
                Error::internal(anyhow::anyhow!("a booking insert returned no id"))
            })?;
            Ok((id, code))
        })
        .collect()
}

/// Cancelling closes this long before the session starts.
pub const CANCEL_CUTOFF: Duration = Duration::hours(2);

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingView {
    pub id: i64,
    pub session_id: i64,
    pub program_id: i64,
    pub program_title: String,
    pub site_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: BookingStatus,
    /// Shown as a QR for check-in.
    pub code: String,
    /// The code as a QR (SVG) to show at check-in.
    pub qr_svg_url: String,
    pub created_at: DateTime<Utc>,
    /// Waitlisted bookings: how many are ahead in the queue.
    pub waitlist_position: Option<i64>,
    /// A seat offered from the waitlist: confirm it (`POST /v1/bookings/{id}/confirm`) before
    /// this time or it passes to the next in line. Absent once confirmed, and for seats booked
    /// directly.
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub checked_in_at: Option<DateTime<Utc>>,
}

/// A booking with its session and program, as [`columns!`] selects it.
#[derive(Queryable)]
struct Row {
    id: i64,
    session_id: i64,
    program_id: i64,
    program_title: String,
    site_name: String,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    #[diesel(deserialize_as = String)]
    status: BookingStatus,
    code: String,
    created_at: NaiveDateTime,
    checked_in_at: Option<NaiveDateTime>,
    offer_expires_at: Option<NaiveDateTime>,
}

macro_rules! columns {
    () => {
        (
            b::id,
            b::session_id,
            b::program_id,
            p::title,
            hs::site_name,
            hs::starts_at,
            hs::ends_at,
            b::status,
            b::code,
            b::created_at,
            b::checked_in_at,
            b::offer_expires_at,
        )
    };
}

fn view_of(conn: &mut DbConn, row: Row) -> Result<BookingView> {
    let waitlist_position = match row.status {
        BookingStatus::Waitlisted => Some(
            b::table
                .filter(b::session_id.eq(row.session_id))
                .filter(b::status.eq(BookingStatus::Waitlisted.as_str()))
                .filter(b::id.lt(row.id))
                .count()
                .get_result(conn)?,
        ),
        _ => None,
    };
    Ok(BookingView {
        id: row.id,
        session_id: row.session_id,
        program_id: row.program_id,
        program_title: row.program_title,
        site_name: row.site_name,
        starts_at: row.starts_at.and_utc(),
        ends_at: row.ends_at.and_utc(),
        status: row.status,
        qr_svg_url: qr_svg_url(row.id),
        code: row.code,
        created_at: row.created_at.and_utc(),
        waitlist_position,
        checked_in_at: row.checked_in_at.map(|t| t.and_utc()),
        offer_expires_at: row.offer_expires_at.map(|t| t.and_utc()),
    })
}

impl BookingView {
    /// A seat the batch writer has just booked, as the booking's answer.
    pub fn booked(
        session: &health_sessions::Session,
        program_title: String,
        booking: Issued,
    ) -> BookingView {
        BookingView {
            id: booking.id,
            session_id: session.id,
            program_id: session.program_id,
            program_title,
            site_name: session.site_name.clone(),
            starts_at: session.starts_at.and_utc(),
            ends_at: session.ends_at.and_utc(),
            status: BookingStatus::Booked,
            qr_svg_url: qr_svg_url(booking.id),
            code: booking.code,
            created_at: booking.at.and_utc(),
            waitlist_position: None,
            checked_in_at: None,
            offer_expires_at: None,
        }
    }
}

fn qr_svg_url(booking_id: i64) -> String {
    format!("/v1/me/bookings/{booking_id}/qr.svg")
}

/// Bookings with their session and program.
type Joined = diesel::dsl::InnerJoinOn<
    diesel::dsl::InnerJoinOn<b::table, hs::table, diesel::dsl::Eq<hs::id, b::session_id>>,
    p::table,
    diesel::dsl::Eq<p::id, b::program_id>,
>;

fn joined() -> Joined {
    b::table
        .inner_join(hs::table.on(hs::id.eq(b::session_id)))
        .inner_join(p::table.on(p::id.eq(b::program_id)))
}

/// The caller's own booking; another member's is `not_found`.
pub fn booking(conn: &mut DbConn, account_id: i64, id: i64) -> Result<BookingView> {
    let row: Row = joined()
        .filter(b::id.eq(id))
        .filter(b::account_id.eq(account_id))
        .select(columns!())
        .first(conn)?;
    view_of(conn, row)
}

pub fn mine(conn: &mut DbConn, account_id: i64, page: Page) -> Result<Paged<BookingView>> {
    let rows: Vec<Row> = joined()
        .filter(b::account_id.eq(account_id))
        .filter(b::id.lt(page.before.unwrap_or(i64::MAX)))
        .order(b::id.desc())
        .limit(page.limit + 1)
        .select(columns!())
        .load(conn)?;
    let views = rows
        .into_iter()
        .map(|r| view_of(conn, r))
        .collect::<Result<Vec<_>>>()?;
    Ok(Paged::from_rows(views, page, |v| v.id))
}

/// Cancels the caller's booking before the cut-off. A freed seat goes to the first person on
/// the waitlist in the same transaction; the session row lock keeps concurrent cancels from
/// promoting twice or pushing seats past capacity.
pub fn cancel(
    conn: &mut DbConn,
    account_id: i64,
    id: i64,
    offers: Offers,
    now: NaiveDateTime,
) -> Result<BookingView> {
    let (session_id, program_id): (i64, i64) = b::table
        .filter(b::id.eq(id))
        .filter(b::account_id.eq(account_id))
        .select((b::session_id, b::program_id))
        .first(conn)?;
    // The session lock first, then the booking's status: a cancel waiting for the lock may
    // find its booking promoted meanwhile, and must then pass the seat on like any booked one.
    let starts_at: NaiveDateTime = diesel::update(hs::table.find(session_id))
        .set(hs::booked.eq(hs::booked))
        .returning(hs::starts_at)
        .get_result(conn)?;
    if now > starts_at - CANCEL_CUTOFF {
        return Err(Error::new(ErrorCode::CancelWindowClosed));
    }
    release(conn, account_id, id, (session_id, program_id), offers, now)?;
    booking(conn, account_id, id)
}

/// Cancels a booking whose session row the caller has locked: a freed seat goes to the first
/// person on the waitlist ([`waitlist::promote`]), or back to the session.
/// `booking_not_active` when it was neither booked nor waitlisted.
pub fn release(
    conn: &mut DbConn,
    account_id: i64,
    id: i64,
    (session_id, program_id): (i64, i64),
    offers: Offers,
    now: NaiveDateTime,
) -> Result<()> {
    let status: String = b::table.find(id).select(b::status).first(conn)?;
    let was = BookingStatus::try_from(status).map_err(Error::internal)?;
    let cancelled = diesel::update(b::table.find(id))
        .filter(b::status.eq_any([
            BookingStatus::Booked.as_str(),
            BookingStatus::Waitlisted.as_str(),
        ]))
        .set((
            b::status.eq(BookingStatus::Cancelled.as_str()),
            b::cancelled_at.eq(now),
            b::offer_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    if cancelled == 0 {
        return Err(Error::new(ErrorCode::BookingNotActive));
    }
    notify::withdraw_reminders(conn, &[(account_id, id)])?;
    ledger::append(
        conn,
        account_id,
        program_id,
        LedgerKind::Cancelled,
        Some(id),
    )?;
    if was == BookingStatus::Booked {
        diesel::update(hs::table.find(session_id))
            .set(hs::booked.eq(hs::booked - 1))
            .execute(conn)?;
        waitlist::promote(conn, session_id, program_id, offers, now)?;
    }
    Ok(())
}

/// For an account being erased: its places in sessions still to come go to the waitlist (or
/// back to the session), as if it had cancelled, so no one who is gone holds a seat. The
/// session rows are locked first, as a cancel locks them.
pub fn release_upcoming(
    conn: &mut DbConn,
    account_id: i64,
    offers: Offers,
    now: NaiveDateTime,
) -> Result<usize> {
    let upcoming: Vec<(i64, i64, i64)> = b::table
        .inner_join(hs::table.on(hs::id.eq(b::session_id)))
        .filter(b::account_id.eq(account_id))
        .filter(b::status.eq_any([
            BookingStatus::Booked.as_str(),
            BookingStatus::Waitlisted.as_str(),
        ]))
        .filter(hs::starts_at.gt(now))
        .select((b::id, b::session_id, b::program_id))
        .order(b::id)
        .load(conn)?;
    for &(id, session_id, program_id) in &upcoming {
        diesel::update(hs::table.find(session_id))
            .set(hs::booked.eq(hs::booked))
            .execute(conn)?;
        match release(conn, account_id, id, (session_id, program_id), offers, now) {
            // Cancelled or promoted meanwhile: nothing held any more, or the seat passed on.
            Err(e) if e.code() == ErrorCode::BookingNotActive => {}
            other => other?,
        }
    }
    Ok(upcoming.len())
}

/// Marks bookings of ended sessions that never checked in as no-shows (and the waitlist of
/// those sessions as cancelled). Returns how many no-shows were marked.
pub fn mark_no_shows(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize> {
    let due: Vec<(i64, i64, i64, String)> = b::table
        .inner_join(hs::table.on(hs::id.eq(b::session_id)))
        .filter(hs::ends_at.lt(now))
        .filter(b::status.eq_any([
            BookingStatus::Booked.as_str(),
            BookingStatus::Waitlisted.as_str(),
        ]))
        .select((b::id, b::account_id, b::program_id, b::status))
        .limit(1000)
        .load(conn)?;
    let mut no_shows = 0;
    for (id, account_id, program_id, status) in due {
        let (to, kind) = if status == BookingStatus::Booked.as_str() {
            (BookingStatus::NoShow, LedgerKind::NoShow)
        } else {
            (BookingStatus::Cancelled, LedgerKind::Cancelled)
        };
        let changed = diesel::update(b::table.find(id))
            .filter(b::status.eq(status))
            .set(b::status.eq(to.as_str()))
            .execute(conn)?;
        if changed == 1 {
            ledger::append(conn, account_id, program_id, kind, Some(id))?;
            no_shows += usize::from(to == BookingStatus::NoShow);
        }
    }
    Ok(no_shows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(account_id: i64, waitlist: bool) -> Arrival {
        Arrival {
            account_id,
            refusal: None,
            waitlist,
        }
    }

    #[test]
    fn seats_go_in_arrival_order_then_the_waitlist_to_those_who_asked() {
        let mut refused = arrival(3, true);
        refused.refusal = Some(ErrorCode::NotAMember);
        let arrivals = [
            arrival(1, false), // booked before the batch
            arrival(2, false), // the last seat
            refused,
            arrival(4, false), // full
            arrival(5, true),  // waitlisted
            arrival(5, true),  // the same member again
        ];
        let (outcomes, seat, booked) = decide(&arrivals, HashSet::from([1]), 10, 9);
        assert_eq!(
            seat,
            vec![(1, BookingStatus::Booked), (4, BookingStatus::Waitlisted)]
        );
        assert_eq!(booked, 10);
        assert_eq!(outcomes[0], BookOutcome::AlreadyBooked);
        assert_eq!(outcomes[2], BookOutcome::Refused(ErrorCode::NotAMember));
        assert_eq!(outcomes[3], BookOutcome::Full);
        assert_eq!(outcomes[5], BookOutcome::AlreadyBooked);
    }
}
