//! The waitlist: who gets a seat that frees up, and the offer a promoted member answers.
//!
//! A freed seat (a cancellation, staff adding seats, an offer that lapsed) goes to the first
//! person waiting, at once. When the session is further away than [`Offers::min_lead`], the
//! seat comes as an offer: the member confirms it (or releases it, by cancelling) before the
//! offer's deadline, or it lapses and passes to the next in line, who may get an offer in turn.
//! Nearer the start there is no time for a chain of offers, so the seat is simply theirs; both
//! come with an SMS. Every step that moves a seat runs under the session row's lock, as booking
//! batches and cancellations do, so seats never exceed capacity and no seat goes twice.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use platform::schema::{bookings as b, health_sessions as hs};
use platform::{DbConn, Error, ErrorCode, Result};

use crate::bookings::{self, BookingView, CANCEL_CUTOFF};
use crate::vocab::{BookingStatus, LedgerKind};
use crate::{ledger, notify};

/// When a promoted member must confirm (an operator's setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offers {
    /// How long an offer stays open.
    pub window: TimeDelta,
    /// Offers are made only for sessions starting at least this far away; a seat promoted
    /// nearer the start is booked outright.
    pub min_lead: TimeDelta,
}

impl Default for Offers {
    /// Two hours to answer, for sessions six or more hours away: a rider on shift sees the SMS
    /// at the next stop, and an unanswered offer still leaves the next person hours to plan.
    fn default() -> Self {
        Offers::minutes(120, 360)
    }
}

impl Offers {
    pub fn minutes(window: u32, min_lead: u32) -> Offers {
        Offers {
            window: TimeDelta::minutes(window.into()),
            min_lead: TimeDelta::minutes(min_lead.into()),
        }
    }

    /// The deadline of a seat promoted at `now` on a session starting at `starts_at`: none
    /// (booked outright) when the session is nearer than `min_lead`. An offer never outlasts
    /// the cancellation cut-off, so whoever releases it still passes the seat on.
    pub fn deadline(&self, starts_at: NaiveDateTime, now: NaiveDateTime) -> Option<NaiveDateTime> {
        if starts_at - now < self.min_lead {
            return None;
        }
        Some((now + self.window).min(starts_at - CANCEL_CUTOFF))
    }
}

/// Gives the seats free on a session to the first people on its waitlist, in order, as offers
/// or outright (see [`Offers::deadline`]). The caller holds the session row. Answers how many
/// were promoted.
pub(crate) fn promote(
    conn: &mut DbConn,
    session_id: i64,
    program_id: i64,
    offers: Offers,
    now: NaiveDateTime,
) -> Result<usize> {
    let (capacity, booked, starts_at): (i32, i32, NaiveDateTime) = hs::table
        .find(session_id)
        .select((hs::capacity, hs::booked, hs::starts_at))
        .first(conn)?;
    if booked >= capacity {
        return Ok(0);
    }
    let next: Vec<i64> = b::table
        .filter(b::session_id.eq(session_id))
        .filter(b::status.eq(BookingStatus::Waitlisted.as_str()))
        .order(b::id)
        .limit(i64::from(capacity - booked))
        .select(b::id)
        .load(conn)?;
    if next.is_empty() {
        return Ok(0);
    }
    let deadline = offers.deadline(starts_at, now);
    let promoted: Vec<(i64, i64)> = diesel::update(
        b::table
            .filter(b::id.eq_any(&next))
            .filter(b::status.eq(BookingStatus::Waitlisted.as_str())),
    )
    .set((
        b::status.eq(BookingStatus::Booked.as_str()),
        b::promoted_at.eq(now),
        b::offer_expires_at.eq(deadline),
    ))
    .returning((b::account_id, b::id))
    .get_results(conn)?;
    ledger::append_bookings(conn, program_id, LedgerKind::Promoted, &promoted)?;
    notify::Session::load(conn, session_id)?.promoted(conn, &promoted, deadline)?;
    diesel::update(hs::table.find(session_id))
        .set(hs::booked.eq(hs::booked + promoted.len() as i32))
        .execute(conn)?;
    Ok(promoted.len())
}

/// The use case: the member confirms a seat offered from the waitlist; it is theirs until
/// the session, like one booked directly. Confirming again, or a seat that was never an offer,
/// answers the booking unchanged (safe to retry). An offer past its deadline is
/// `409 offer_lapsed`, even before the sweep has passed it on; a booking that holds no seat is
/// `409 booking_not_active`.
///
/// The deadline is the UPDATE's own condition and the lapse sweep's is its opposite, so of a
/// confirmation and a lapse racing for one offer exactly one changes the row.
pub fn confirm(
    conn: &mut DbConn,
    account_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> Result<BookingView> {
    let confirmed = diesel::update(
        b::table
            .filter(b::id.eq(id))
            .filter(b::account_id.eq(account_id))
            .filter(b::status.eq(BookingStatus::Booked.as_str()))
            .filter(b::offer_expires_at.gt(now)),
    )
    .set(b::offer_expires_at.eq(None::<NaiveDateTime>))
    .execute(conn)?;
    if confirmed == 0 {
        let (status, offer): (String, Option<NaiveDateTime>) = b::table
            .filter(b::id.eq(id))
            .filter(b::account_id.eq(account_id))
            .select((b::status, b::offer_expires_at))
            .first(conn)?;
        match (BookingStatus::parse(&status), offer) {
            (Some(BookingStatus::Booked | BookingStatus::CheckedIn), None) => {}
            // Offered between the UPDATE and this read: a sweep promoted the waiting booking
            // and committed in between (PostgreSQL reads each statement's own snapshot). The
            // offer is open: confirm it.
            (Some(BookingStatus::Booked), Some(until)) if until > now => {
                return confirm(conn, account_id, id, now);
            }
            (Some(BookingStatus::Booked), Some(_)) | (Some(BookingStatus::Lapsed), _) => {
                return Err(Error::new(ErrorCode::OfferLapsed))
            }
            _ => return Err(Error::new(ErrorCode::BookingNotActive)),
        }
    }
    bookings::booking(conn, account_id, id)
}

/// Offers lapsed per sweep at most; the next sweep takes the rest.
const SWEEP_LIMIT: i64 = 500;

/// Housekeeping: offers past their deadline lapse, each member is told, and the seats pass to
/// the next in line. Session by session, under the session row's lock; an offer confirmed or
/// released meanwhile is left alone. Answers how many lapsed.
pub fn lapse(conn: &mut DbConn, offers: Offers, now: NaiveDateTime) -> Result<usize> {
    let due: Vec<(i64, i64)> = b::table
        .filter(b::status.eq(BookingStatus::Booked.as_str()))
        .filter(b::offer_expires_at.le(now))
        .order((b::session_id, b::id))
        .limit(SWEEP_LIMIT)
        .select((b::session_id, b::program_id))
        .load(conn)?;
    let mut sessions = due;
    sessions.dedup();
    let mut lapsed = 0;
    for (session_id, program_id) in sessions {
        diesel::update(hs::table.find(session_id))
            .set(hs::booked.eq(hs::booked))
            .execute(conn)?;
        let gone: Vec<(i64, i64)> = diesel::update(
            b::table
                .filter(b::session_id.eq(session_id))
                .filter(b::status.eq(BookingStatus::Booked.as_str()))
                .filter(b::offer_expires_at.le(now)),
        )
        .set((
            b::status.eq(BookingStatus::Lapsed.as_str()),
            b::cancelled_at.eq(now),
            b::offer_expires_at.eq(None::<NaiveDateTime>),
        ))
        .returning((b::account_id, b::id))
        .get_results(conn)?;
        if gone.is_empty() {
            continue;
        }
        ledger::append_bookings(conn, program_id, LedgerKind::OfferLapsed, &gone)?;
        notify::Session::load(conn, session_id)?.lapsed(conn, &gone)?;
        notify::withdraw_reminders(conn, &gone)?;
        diesel::update(hs::table.find(session_id))
            .set(hs::booked.eq(hs::booked - gone.len() as i32))
            .execute(conn)?;
        promote(conn, session_id, program_id, offers, now)?;
        lapsed += gone.len();
    }
    Ok(lapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    #[test]
    fn a_seat_far_ahead_is_offered_and_a_near_one_is_given() {
        let offers = Offers::default();
        let starts = at(10, 9);
        // A day ahead: two hours to answer.
        assert_eq!(offers.deadline(starts, at(9, 9)), Some(at(9, 11)));
        // Seven hours ahead: the offer closes at the cut-off, two hours before the start.
        let close = Offers::minutes(360, 360);
        assert_eq!(close.deadline(starts, at(10, 2)), Some(at(10, 7)));
        // Five hours ahead: booked outright.
        assert_eq!(offers.deadline(starts, at(10, 4)), None);
    }
}
