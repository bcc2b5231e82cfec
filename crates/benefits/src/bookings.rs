//! Health-check bookings: a seat (through the batch writer), the waitlist, cancellation with
//! automatic promotion of the first person waiting, and no-shows.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::pagination::{Page, Paged};
use platform::schema::{bookings as b, health_sessions as hs, programs as p};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ledger;
use crate::vocab::{BookingStatus, LedgerKind};

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
    pub checked_in_at: Option<DateTime<Utc>>,
}

type Row = (
    i64,
    i64,
    i64,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

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
        )
    };
}

fn view_of(conn: &mut DbConn, row: Row) -> Result<BookingView> {
    let (
        id,
        session_id,
        program_id,
        program_title,
        site_name,
        starts_at,
        ends_at,
        status,
        code,
        created_at,
        checked_in_at,
    ) = row;
    let status = BookingStatus::parse(&status)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("booking status {status}")))?;
    let waitlist_position = match status {
        BookingStatus::Waitlisted => Some(
            b::table
                .filter(b::session_id.eq(session_id))
                .filter(b::status.eq(BookingStatus::Waitlisted.as_str()))
                .filter(b::id.lt(id))
                .count()
                .get_result(conn)?,
        ),
        _ => None,
    };
    Ok(BookingView {
        id,
        session_id,
        program_id,
        program_title,
        site_name,
        starts_at: starts_at.and_utc(),
        ends_at: ends_at.and_utc(),
        status,
        qr_svg_url: qr_svg_url(id),
        code,
        created_at: created_at.and_utc(),
        waitlist_position,
        checked_in_at: checked_in_at.map(|t| t.and_utc()),
    })
}

impl BookingView {
    /// A seat the batch writer has just booked, as the booking's answer.
    pub fn booked(
        session: &crate::sessions::Session,
        program_title: String,
        booking: crate::batcher::Issued,
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
    release(conn, account_id, id, (session_id, program_id), now)?;
    booking(conn, account_id, id)
}

/// Cancels a booking whose session row the caller has locked: a freed seat goes to the first
/// person on the waitlist, or back to the session. `booking_not_active` when it was neither
/// booked nor waitlisted.
pub fn release(
    conn: &mut DbConn,
    account_id: i64,
    id: i64,
    (session_id, program_id): (i64, i64),
    now: NaiveDateTime,
) -> Result<()> {
    let status: String = b::table.find(id).select(b::status).first(conn)?;
    let was = BookingStatus::parse(&status)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("booking status {status}")))?;
    let cancelled = diesel::update(b::table.find(id))
        .filter(b::status.eq_any([
            BookingStatus::Booked.as_str(),
            BookingStatus::Waitlisted.as_str(),
        ]))
        .set((
            b::status.eq(BookingStatus::Cancelled.as_str()),
            b::cancelled_at.eq(now),
        ))
        .execute(conn)?;
    if cancelled == 0 {
        return Err(Error::new(ErrorCode::BookingNotActive));
    }
    ledger::append(
        conn,
        account_id,
        program_id,
        LedgerKind::Cancelled,
        Some(id),
    )?;
    if was == BookingStatus::Booked {
        let next: Option<(i64, i64)> = b::table
            .filter(b::session_id.eq(session_id))
            .filter(b::status.eq(BookingStatus::Waitlisted.as_str()))
            .order(b::id)
            .select((b::id, b::account_id))
            .first(conn)
            .optional()?;
        match next {
            // The seat passes on: `booked` stays as it is.
            Some((next_id, next_account)) => {
                diesel::update(b::table.find(next_id))
                    .set((
                        b::status.eq(BookingStatus::Booked.as_str()),
                        b::promoted_at.eq(now),
                    ))
                    .execute(conn)?;
                ledger::append(
                    conn,
                    next_account,
                    program_id,
                    LedgerKind::Promoted,
                    Some(next_id),
                )?;
            }
            None => {
                diesel::update(hs::table.find(session_id))
                    .set(hs::booked.eq(hs::booked - 1))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// For an account being erased: its places in sessions still to come go to the waitlist (or
/// back to the session), as if it had cancelled, so no one who is gone holds a seat. The
/// session rows are locked first, as a cancel locks them.
pub fn release_upcoming(conn: &mut DbConn, account_id: i64, now: NaiveDateTime) -> Result<usize> {
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
        match release(conn, account_id, id, (session_id, program_id), now) {
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
