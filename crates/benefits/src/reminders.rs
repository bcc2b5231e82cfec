//! Reminders of booked health-check sessions: a first one (a day before, by default) and a
//! last one (two hours before), each once per booking.
//!
//! Nothing is written when a booking is made: the benefits housekeeping sweeps every 30
//! seconds for booked seats whose session comes within a reminder's lead and which have not had
//! that reminder yet, so a booking cancelled before then is never reminded, a session moved is
//! reminded at its new time, and the booking crowd's batches write nothing more. What a sweep
//! writes goes through the outbox (quiet hours included: a reminder due at night waits for
//! 08:00 unless the session starts sooner). `bookings.reminded` counts the reminders a booking
//! has had, so a sweep reads only those behind. A seat offered from the waitlist is reminded
//! once confirmed: until then its member has the offer to answer (`benefits::waitlist`).
//!
//! Vouchers are reminded the same way, once, when they come within the first reminder's lead
//! of the end of their validity (a pack not collected by then goes back to stock).

use std::collections::HashSet;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use platform::outbox::Topic;
use platform::schema::{bookings as b, health_sessions as hs, programs as p, vouchers as v};
use platform::{DbConn, Result};

use crate::notify;
use crate::vocab::{BookingStatus, VoucherStatus};

/// How long before a session its two reminders go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leads {
    pub first: TimeDelta,
    pub last: TimeDelta,
}

impl Leads {
    pub fn minutes(first: u32, last: u32) -> Leads {
        Leads {
            first: TimeDelta::minutes(first.into()),
            last: TimeDelta::minutes(last.into()),
        }
    }
}

impl Default for Leads {
    fn default() -> Self {
        Leads {
            first: TimeDelta::hours(24),
            last: TimeDelta::hours(2),
        }
    }
}

/// Bookings one sweep reminds at most per reminder; the next sweep takes the rest.
const BATCH: i64 = 1000;

/// Writes the reminders due at `now`; answers how many. The last reminder is swept first: a
/// booking made within its lead gets that one and never the first.
pub fn sweep(conn: &mut DbConn, leads: Leads, now: NaiveDateTime) -> Result<usize> {
    let last = remind(conn, now, leads.last, (Topic::SessionStarting, 2))?;
    let first = remind(conn, now, leads.first, (Topic::SessionReminder, 1))?;
    let vouchers = remind_vouchers(conn, now, leads.first)?;
    Ok(last + first + vouchers)
}

/// Reminds, with `topic`, the booked seats of sessions starting within `lead` of `now` that
/// have had fewer than `nth` reminders (up to [`BATCH`] of them); marks them `nth`.
fn remind(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lead: TimeDelta,
    (topic, nth): (Topic, i32),
) -> Result<usize> {
    let due: Vec<(i64, i64, i64)> = b::table
        .inner_join(hs::table.on(hs::id.eq(b::session_id)))
        .filter(hs::cancelled_at.is_null())
        .filter(hs::starts_at.gt(now))
        .filter(hs::starts_at.le(now + lead))
        .filter(b::status.eq(BookingStatus::Booked.as_str()))
        .filter(b::reminded.lt(nth))
        .filter(b::offer_expires_at.is_null())
        .order((b::session_id, b::id))
        .limit(BATCH)
        .select((b::session_id, b::account_id, b::id))
        .load(conn)?;
    let mut reminded = 0;
    for group in due.chunk_by(|a, b| a.0 == b.0) {
        let ids: Vec<i64> = group.iter().map(|&(_, _, id)| id).collect();
        // Only what is still booked and behind: a cancel since the read is not reminded.
        let marked: Vec<(i64, i64)> = diesel::update(
            b::table
                .filter(b::id.eq_any(&ids))
                .filter(b::status.eq(BookingStatus::Booked.as_str()))
                .filter(b::reminded.lt(nth)),
        )
        .set(b::reminded.eq(nth))
        .returning((b::account_id, b::id))
        .get_results(conn)?;
        notify::Session::load(conn, group[0].0)?.remind(conn, topic, &marked)?;
        reminded += marked.len();
    }
    Ok(reminded)
}

/// Reminds the members of issued vouchers whose validity ends within `lead` of `now` and that
/// have had no reminder (up to [`BATCH`]); marks them.
fn remind_vouchers(conn: &mut DbConn, now: NaiveDateTime, lead: TimeDelta) -> Result<usize> {
    let due: Vec<notify::Voucher> = v::table
        .inner_join(p::table.on(p::id.eq(v::program_id)))
        .filter(v::status.eq(VoucherStatus::Issued.as_str()))
        .filter(v::valid_until.gt(now))
        .filter(v::valid_until.le(now + lead))
        .filter(v::reminded.eq(0))
        .limit(BATCH)
        .select((
            v::id,
            v::account_id,
            p::title,
            v::valid_until.assume_not_null(),
        ))
        .load::<(i64, i64, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, account_id, program, valid_until)| notify::Voucher {
            id,
            account_id,
            program,
            valid_until,
        })
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    // Only what is still issued and not reminded: one redeemed since the read is not.
    let marked: HashSet<i64> = diesel::update(
        v::table
            .filter(v::id.eq_any(due.iter().map(|d| d.id)))
            .filter(v::status.eq(VoucherStatus::Issued.as_str()))
            .filter(v::reminded.eq(0)),
    )
    .set(v::reminded.eq(1))
    .returning(v::id)
    .get_results::<i64>(conn)?
    .into_iter()
    .collect();
    let reminded: Vec<notify::Voucher> =
        due.into_iter().filter(|d| marked.contains(&d.id)).collect();
    notify::expiring(conn, &reminded)?;
    Ok(reminded.len())
}
