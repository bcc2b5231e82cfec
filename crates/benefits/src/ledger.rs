//! The benefit ledger: one append-only row per member per event (claim, redemption, booking,
//! cancellation, check-in, report ...). Members read theirs, staff a member's of their
//! subtree; staff statistics count them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::pagination::{Page, Paged};
use platform::schema::{benefit_ledger as l, memberships as ms, programs as p};
use platform::{DbConn, Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::vocab::LedgerKind;

pub fn append(
    conn: &mut DbConn,
    account_id: i64,
    program_id: i64,
    kind: LedgerKind,
    ref_id: Option<i64>,
) -> Result<()> {
    diesel::insert_into(l::table)
        .values((
            l::account_id.eq(account_id),
            l::program_id.eq(program_id),
            l::kind.eq(kind.as_str()),
            l::ref_id.eq(ref_id),
            l::at.eq(platform::clock::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// One row per (account, reference) of the same kind and program, in one statement: the
/// batch writer's claims.
pub fn append_many(
    conn: &mut DbConn,
    program_id: i64,
    kind: LedgerKind,
    entries: &[(i64, Option<i64>)],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let at = platform::clock::now();
    let rows: Vec<_> = entries
        .iter()
        .map(|(account_id, ref_id)| {
            (
                l::account_id.eq(*account_id),
                l::program_id.eq(program_id),
                l::kind.eq(kind.as_str()),
                l::ref_id.eq(*ref_id),
                l::at.eq(at),
            )
        })
        .collect();
    platform::insert_rows!(conn, l::table, rows)?;
    Ok(())
}

/// One row per `(account, booking)` of `kind`, in statements of a bounded size.
pub(crate) fn append_bookings(
    conn: &mut DbConn,
    program_id: i64,
    kind: LedgerKind,
    bookings: &[(i64, i64)],
) -> Result<()> {
    let entries: Vec<(i64, Option<i64>)> = bookings
        .iter()
        .map(|&(account_id, id)| (account_id, Some(id)))
        .collect();
    for chunk in entries.chunks(1000) {
        append_many(conn, program_id, kind, chunk)?;
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: LedgerKind,
    pub program_id: i64,
    pub program_title: String,
    /// The voucher, entry or booking the entry is about.
    pub ref_id: Option<i64>,
}

pub fn mine(conn: &mut DbConn, account_id: i64, page: Page) -> Result<Paged<LedgerEntry>> {
    entries(conn, account_id, None, page)
}

/// The use case: staff read the ledger of the member of membership `id` (the `membership_id`
/// of a staff list's row, in their subtree): what happened while that membership was active,
/// newest first; nothing for one that never was. Reading it is a view of the member's data,
/// so it is recorded.
pub fn of_member(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    page: Page,
) -> Result<Paged<LedgerEntry>> {
    let who = membership::members::subject(conn, user, id)?;
    let (started_at, ended_at): (Option<NaiveDateTime>, Option<NaiveDateTime>) = ms::table
        .find(id)
        .select((ms::started_at, ms::ended_at))
        .first(conn)?;
    let list = match started_at {
        Some(from) => entries(conn, who.account_id, Some((from, ended_at)), page)?,
        None => Paged::from_rows(Vec::new(), page, |e: &LedgerEntry| e.id),
    };
    let entry = Entry::new(Action::LedgerView, Record::new("membership", id))
        .in_org(who.org_id)
        .about(who.account_id);
    audit::record(conn, actor, entry)?;
    Ok(list)
}

/// A page of an account's entries, newest first; with `during`, only those from its start
/// until its end (if it has one).
fn entries(
    conn: &mut DbConn,
    account_id: i64,
    during: Option<(NaiveDateTime, Option<NaiveDateTime>)>,
    page: Page,
) -> Result<Paged<LedgerEntry>> {
    let mut query = l::table
        .inner_join(p::table.on(p::id.eq(l::program_id)))
        .filter(l::account_id.eq(account_id))
        .filter(l::id.lt(page.before.unwrap_or(i64::MAX)))
        .order(l::id.desc())
        .limit(page.limit + 1)
        .select((l::id, l::at, l::kind, l::program_id, p::title, l::ref_id))
        .into_boxed();
    if let Some((from, until)) = during {
        query = query.filter(l::at.ge(from));
        if let Some(until) = until {
            query = query.filter(l::at.le(until));
        }
    }
    let rows: Vec<(i64, NaiveDateTime, String, i64, String, Option<i64>)> = query.load(conn)?;
    let entries = rows
        .into_iter()
        .map(|(id, at, kind, program_id, program_title, ref_id)| {
            Ok(LedgerEntry {
                id,
                at: at.and_utc(),
                kind: LedgerKind::parse(&kind)
                    .ok_or_else(|| Error::internal(anyhow::anyhow!("ledger kind {kind}")))?,
                program_id,
                program_title,
                ref_id,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Paged::from_rows(entries, page, |e| e.id))
}

/// Counts of one kind of event.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
pub struct Counts {
    pub claimed: i64,
    pub entered: i64,
    pub won: i64,
    pub redeemed: i64,
    pub vouchers_expired: i64,
    pub booked: i64,
    pub waitlisted: i64,
    pub promoted: i64,
    pub cancelled: i64,
    pub checked_in: i64,
    pub no_shows: i64,
    pub reports: i64,
    pub grants_approved: i64,
    pub grants_paid: i64,
}

impl Counts {
    fn add(&mut self, kind: LedgerKind) {
        self.add_many(kind, 1);
    }

    /// Counts `n` entries of `kind`.
    pub(crate) fn add_many(&mut self, kind: LedgerKind, n: i64) {
        let slot = match kind {
            LedgerKind::Claimed => &mut self.claimed,
            LedgerKind::Entered => &mut self.entered,
            LedgerKind::Won => &mut self.won,
            LedgerKind::Lost => return,
            LedgerKind::Redeemed => &mut self.redeemed,
            LedgerKind::VoucherExpired => &mut self.vouchers_expired,
            LedgerKind::Booked => &mut self.booked,
            LedgerKind::Waitlisted => &mut self.waitlisted,
            LedgerKind::Promoted => &mut self.promoted,
            // An offer not confirmed in time is a cancellation of the seat, by the clock.
            LedgerKind::Cancelled | LedgerKind::OfferLapsed => &mut self.cancelled,
            LedgerKind::CheckedIn => &mut self.checked_in,
            LedgerKind::NoShow => &mut self.no_shows,
            LedgerKind::ReportAttached => &mut self.reports,
            LedgerKind::GrantApproved => &mut self.grants_approved,
            LedgerKind::GrantPaid => &mut self.grants_paid,
        };
        *slot += n;
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayCounts {
    /// Calendar day in Asia/Shanghai.
    pub date: NaiveDate,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Serialize, ToSchema)]
pub struct ProgramStats {
    pub program_id: i64,
    pub totals: Counts,
    /// Gift packs left.
    pub remaining: Option<i32>,
    /// Health checks: seats over all sessions, and how many are taken.
    pub seats_total: Option<i64>,
    pub seats_booked: Option<i64>,
    /// Per calendar day (Asia/Shanghai).
    pub by_day: Vec<DayCounts>,
}

/// The use case: staff read a program's figures: claimed, redeemed, remaining, seats booked,
/// checked in, no-shows, in total and per day.
pub fn program_stats(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<ProgramStats> {
    let program = crate::programs::managed(conn, user, id)?;
    let (totals, by_day) = program_counts(conn, id)?;
    let (seats_total, seats_booked) = match program.kind {
        kind if kind.has_sessions() => {
            let (total, booked) = crate::health_sessions::seats(conn, id)?;
            (Some(total), Some(booked))
        }
        _ => (None, None),
    };
    Ok(ProgramStats {
        program_id: id,
        totals,
        remaining: program.stock_left,
        seats_total,
        seats_booked,
        by_day,
    })
}

/// Totals and per-day counts of a program's ledger.
pub fn program_counts(conn: &mut DbConn, program_id: i64) -> Result<(Counts, Vec<DayCounts>)> {
    let rows: Vec<(String, NaiveDateTime)> = l::table
        .filter(l::program_id.eq(program_id))
        .select((l::kind, l::at))
        .load(conn)?;
    let shanghai = platform::clock::shanghai();
    let mut total = Counts::default();
    let mut by_day: BTreeMap<NaiveDate, Counts> = BTreeMap::new();
    for (kind, at) in rows {
        let kind = LedgerKind::parse(&kind)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("ledger kind {kind}")))?;
        total.add(kind);
        by_day
            .entry(at.and_utc().with_timezone(&shanghai).date_naive())
            .or_default()
            .add(kind);
    }
    let days = by_day
        .into_iter()
        .map(|(date, counts)| DayCounts { date, counts })
        .collect();
    Ok((total, days))
}
