//! Staff scan a code: a voucher is redeemed (handed out) once, a booking is checked in once. A
//! second scan says when and by whom. Staff act only on programs of their subtree.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::schema::{
    bookings as b, health_sessions as hs, programs as p, real_name_profiles as rn, vouchers as v,
};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

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
    /// The booking is waitlisted, cancelled or a no-show.
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
    Ok(name.map(|n| {
        let mut chars = n.chars();
        let first: String = chars.next().map(String::from).unwrap_or_default();
        format!("{first}{}", "*".repeat(chars.count().max(1)))
    }))
}

pub fn scan(
    conn: &mut DbConn,
    user: &AuthUser,
    code: &str,
    now: NaiveDateTime,
) -> Result<ScanResult> {
    type VoucherRow = (
        i64,
        i64,
        i64,
        String,
        String,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i64>,
        i64,
    );
    let voucher: Option<VoucherRow> = v::table
        .inner_join(p::table.on(p::id.eq(v::program_id)))
        .filter(v::code.eq(code))
        .select((
            v::id,
            v::program_id,
            v::account_id,
            p::title,
            v::status,
            v::valid_until,
            v::redeemed_at,
            v::redeemed_by,
            p::org_id,
        ))
        .first(conn)
        .optional()?;
    if let Some((
        id,
        program_id,
        account_id,
        title,
        status,
        valid_until,
        redeemed_at,
        redeemed_by,
        org_id,
    )) = voucher
    {
        membership::staff::require(conn, user, org_id)?;
        let mut result = ScanResult {
            kind: ScanKind::Voucher,
            outcome: ScanOutcome::Redeemed,
            id,
            program_id,
            program_title: title,
            holder_name_masked: masked_name(conn, account_id)?,
            at: redeemed_at.map(|t| t.and_utc()),
            by: redeemed_by,
        };
        let status = VoucherStatus::parse(&status)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("voucher status {status}")))?;
        result.outcome = match status {
            VoucherStatus::Redeemed => ScanOutcome::AlreadyRedeemed,
            VoucherStatus::Expired => ScanOutcome::Expired,
            VoucherStatus::Issued if valid_until.is_some_and(|until| until <= now) => {
                ScanOutcome::Expired
            }
            VoucherStatus::Issued => {
                let done = diesel::update(v::table.find(id))
                    .filter(v::status.eq(VoucherStatus::Issued.as_str()))
                    .set((
                        v::status.eq(VoucherStatus::Redeemed.as_str()),
                        v::redeemed_at.eq(now),
                        v::redeemed_by.eq(user.account_id),
                    ))
                    .execute(conn)?;
                if done == 0 {
                    // Another scanner won the race a moment ago.
                    return scan(conn, user, code, now);
                }
                ledger::append(conn, account_id, program_id, LedgerKind::Redeemed, Some(id))?;
                result.at = Some(now.and_utc());
                result.by = Some(user.account_id);
                ScanOutcome::Redeemed
            }
        };
        return Ok(result);
    }

    type BookingRow = (
        i64,
        i64,
        i64,
        String,
        String,
        Option<NaiveDateTime>,
        Option<i64>,
        i64,
        NaiveDateTime,
    );
    let booking: Option<BookingRow> = b::table
        .inner_join(p::table.on(p::id.eq(b::program_id)))
        .inner_join(hs::table.on(hs::id.eq(b::session_id)))
        .filter(b::code.eq(code))
        .select((
            b::id,
            b::program_id,
            b::account_id,
            p::title,
            b::status,
            b::checked_in_at,
            b::checked_in_by,
            p::org_id,
            hs::ends_at,
        ))
        .first(conn)
        .optional()?;
    let Some((
        id,
        program_id,
        account_id,
        title,
        status,
        checked_in_at,
        checked_in_by,
        org_id,
        _ends_at,
    )) = booking
    else {
        return Err(Error::new(ErrorCode::RedemptionCodeUnknown));
    };
    membership::staff::require(conn, user, org_id)?;
    let mut result = ScanResult {
        kind: ScanKind::Booking,
        outcome: ScanOutcome::CheckedIn,
        id,
        program_id,
        program_title: title,
        holder_name_masked: masked_name(conn, account_id)?,
        at: checked_in_at.map(|t| t.and_utc()),
        by: checked_in_by,
    };
    let status = BookingStatus::parse(&status)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("booking status {status}")))?;
    result.outcome = match status {
        BookingStatus::CheckedIn => ScanOutcome::AlreadyCheckedIn,
        BookingStatus::Booked => {
            let done = diesel::update(b::table.find(id))
                .filter(b::status.eq(BookingStatus::Booked.as_str()))
                .set((
                    b::status.eq(BookingStatus::CheckedIn.as_str()),
                    b::checked_in_at.eq(now),
                    b::checked_in_by.eq(user.account_id),
                ))
                .execute(conn)?;
            if done == 0 {
                return scan(conn, user, code, now);
            }
            ledger::append(
                conn,
                account_id,
                program_id,
                LedgerKind::CheckedIn,
                Some(id),
            )?;
            result.at = Some(now.and_utc());
            result.by = Some(user.account_id);
            ScanOutcome::CheckedIn
        }
        BookingStatus::Waitlisted | BookingStatus::Cancelled | BookingStatus::NoShow => {
            ScanOutcome::NotBooked
        }
    };
    Ok(result)
}
