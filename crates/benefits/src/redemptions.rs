//! Staff scan a code: a voucher is redeemed (handed out) once, a booking is checked in once. A
//! second scan says when and by whom. Staff act only on programs of their subtree. A booking
//! checks in only within its session's check-in window; a voucher whenever it is valid.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::schema::{
    bookings as b, health_sessions as hs, programs as p, real_name_profiles as rn, vouchers as v,
};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::health_sessions::CheckInWindow;
use crate::ledger;
use crate::vocab::{BookingStatus, LedgerKind, VoucherStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    Voucher,
    Booking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanOutcome {
    /// Done now: hand the pack over / let the member in.
    Redeemed,
    CheckedIn,
    /// Done before: see `at` and `by`.
    AlreadyRedeemed,
    AlreadyCheckedIn,
    /// The voucher ran out before it was redeemed.
    Expired,
    /// The booking is waitlisted or cancelled (a no-show is past its check-in window:
    /// `409 outside_checkin_window`).
    NotBooked,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScanResult {
    pub kind: ScanKind,
    pub outcome: ScanOutcome,
    /// The voucher or booking id.
    pub id: i64,
    pub program_id: i64,
    pub program_title: String,
    /// The holder, for comparing with the person in front of staff: family name only.
    pub holder_name_masked: Option<String>,
    /// When it was redeemed or checked in (now, or the first time).
    pub at: Option<DateTime<Utc>>,
    /// The staff account that did it.
    pub by: Option<i64>,
}

fn masked_name(conn: &mut DbConn, account_id: i64) -> Result<Option<String>> {
    let name: Option<String> = rn::table
        .find(account_id)
        .select(rn::legal_name)
        .first(conn)
        .optional()?;
    Ok(name.as_deref().map(identity::profile::mask_name))
}

/// Longest code looked up; real codes are far shorter.
const CODE_LIMIT: usize = 64;

/// The use case: redeems the voucher or checks in the booking `code` stands for. Only staff
/// may scan: anyone else gets 403 whatever the code. A code of a program outside the caller's
/// subtree answers `not_found` exactly as a made-up one does, before anything about its state,
/// so scanning cannot tell which of another district's codes are real. Every answered scan is
/// recorded (it shows the holder), as the redemption or check-in when it was one. A booking
/// outside `window` is refused with `outside_checkin_window` and nothing is written.
pub fn scan(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    code: &str,
    window: &CheckInWindow,
    now: NaiveDateTime,
) -> Result<ScanResult> {
    staff::require_any(conn, user)?;
    let not_found = || Err(Error::new(ErrorCode::NotFound));
    if code.is_empty() || code.len() > CODE_LIMIT {
        return not_found();
    }
    if let Some(voucher) = find_voucher(conn, code)? {
        if !staff::can_act_on(conn, user, voucher.0.org_id)? {
            return not_found();
        }
        return redeem_voucher(conn, user, actor, code, voucher, window, now);
    }
    match find_booking(conn, code)? {
        Some(booking) if staff::can_act_on(conn, user, booking.0.org_id)? => {
            check_in(conn, user, actor, code, booking, window, now)
        }
        _ => not_found(),
    }
}

#[derive(Queryable)]
struct Scanned {
    id: i64,
    program_id: i64,
    account_id: i64,
    title: String,
    status: String,
    /// When and by whom it was redeemed or checked in.
    done_at: Option<NaiveDateTime>,
    done_by: Option<i64>,
    org_id: i64,
}

/// A voucher and when it runs out.
type Voucher = (Scanned, Option<NaiveDateTime>);

fn find_voucher(conn: &mut DbConn, code: &str) -> Result<Option<Voucher>> {
    Ok(v::table
        .inner_join(p::table.on(p::id.eq(v::program_id)))
        .filter(v::code.eq(code))
        .select((
            (
                v::id,
                v::program_id,
                v::account_id,
                p::title,
                v::status,
                v::redeemed_at,
                v::redeemed_by,
                p::org_id,
            ),
            v::valid_until,
        ))
        .first(conn)
        .optional()?)
}

/// A booking and when its session starts and ends.
type Booking = (Scanned, (NaiveDateTime, NaiveDateTime));

fn find_booking(conn: &mut DbConn, code: &str) -> Result<Option<Booking>> {
    Ok(b::table
        .inner_join(p::table.on(p::id.eq(b::program_id)))
        .inner_join(hs::table.on(hs::id.eq(b::session_id)))
        .filter(b::code.eq(code))
        .select((
            (
                b::id,
                b::program_id,
                b::account_id,
                p::title,
                b::status,
                b::checked_in_at,
                b::checked_in_by,
                p::org_id,
            ),
            (hs::starts_at, hs::ends_at),
        ))
        .first(conn)
        .optional()?)
}

/// Records a finished scan of `row` (a `kind` record) as `action`.
fn scanned(
    conn: &mut DbConn,
    actor: &Actor,
    action: Action,
    kind: &'static str,
    row: &Scanned,
) -> Result<()> {
    let entry = Entry::new(action, Record::new(kind, row.id))
        .in_org(row.org_id)
        .about(row.account_id);
    audit::record(conn, actor, entry)
}

fn result_of(conn: &mut DbConn, kind: ScanKind, row: &Scanned) -> Result<ScanResult> {
    Ok(ScanResult {
        kind,
        outcome: ScanOutcome::Redeemed,
        id: row.id,
        program_id: row.program_id,
        program_title: row.title.clone(),
        holder_name_masked: masked_name(conn, row.account_id)?,
        at: row.done_at.map(|t| t.and_utc()),
        by: row.done_by,
    })
}

fn redeem_voucher(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    code: &str,
    (voucher, valid_until): Voucher,
    window: &CheckInWindow,
    now: NaiveDateTime,
) -> Result<ScanResult> {
    let mut result = result_of(conn, ScanKind::Voucher, &voucher)?;
    let status = VoucherStatus::parse(&voucher.status)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("voucher status {}", voucher.status)))?;
    result.outcome = match status {
        VoucherStatus::Redeemed => ScanOutcome::AlreadyRedeemed,
        VoucherStatus::Expired => ScanOutcome::Expired,
        VoucherStatus::Issued if valid_until.is_some_and(|until| until <= now) => {
            ScanOutcome::Expired
        }
        VoucherStatus::Issued => {
            let done = diesel::update(v::table.find(voucher.id))
                .filter(v::status.eq(VoucherStatus::Issued.as_str()))
                .set((
                    v::status.eq(VoucherStatus::Redeemed.as_str()),
                    v::redeemed_at.eq(now),
                    v::redeemed_by.eq(user.account_id),
                ))
                .execute(conn)?;
            if done == 0 {
                // Another scanner won the race a moment ago.
                return scan(conn, user, actor, code, window, now);
            }
            let (account, program) = (voucher.account_id, voucher.program_id);
            ledger::append(
                conn,
                account,
                program,
                LedgerKind::Redeemed,
                Some(voucher.id),
            )?;
            result.at = Some(now.and_utc());
            result.by = Some(user.account_id);
            ScanOutcome::Redeemed
        }
    };
    let action = match result.outcome {
        ScanOutcome::Redeemed => Action::VoucherRedeem,
        _ => Action::VoucherScan,
    };
    scanned(conn, actor, action, "voucher", &voucher)?;
    Ok(result)
}

fn check_in(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    code: &str,
    (booking, (starts_at, ends_at)): Booking,
    window: &CheckInWindow,
    now: NaiveDateTime,
) -> Result<ScanResult> {
    let status = BookingStatus::parse(&booking.status)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("booking status {}", booking.status)))?;
    let admitted = window.admits(starts_at, ends_at, now);
    // Refused before anything is written, so the booking stays booked and can check in on the
    // day. A no-show is refused alike: it only exists once the window has closed, which is the
    // reason staff need to hear. A second scan of a done check-in still says when and by whom.
    if !admitted && matches!(status, BookingStatus::Booked | BookingStatus::NoShow) {
        return Err(Error::new(ErrorCode::OutsideCheckinWindow));
    }
    let mut result = result_of(conn, ScanKind::Booking, &booking)?;
    result.outcome = match status {
        BookingStatus::CheckedIn => ScanOutcome::AlreadyCheckedIn,
        BookingStatus::Booked => {
            let done = diesel::update(b::table.find(booking.id))
                .filter(b::status.eq(BookingStatus::Booked.as_str()))
                .set((
                    b::status.eq(BookingStatus::CheckedIn.as_str()),
                    b::checked_in_at.eq(now),
                    b::checked_in_by.eq(user.account_id),
                    // Turning up answers an offer still open.
                    b::offer_expires_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            if done == 0 {
                return scan(conn, user, actor, code, window, now);
            }
            let (account, program) = (booking.account_id, booking.program_id);
            ledger::append(
                conn,
                account,
                program,
                LedgerKind::CheckedIn,
                Some(booking.id),
            )?;
            result.at = Some(now.and_utc());
            result.by = Some(user.account_id);
            ScanOutcome::CheckedIn
        }
        BookingStatus::Waitlisted
        | BookingStatus::Cancelled
        | BookingStatus::NoShow
        | BookingStatus::Lapsed => ScanOutcome::NotBooked,
    };
    let action = match result.outcome {
        ScanOutcome::CheckedIn => Action::BookingCheckIn,
        _ => Action::BookingScan,
    };
    scanned(conn, actor, action, "booking", &booking)?;
    Ok(result)
}
