//! Gift-pack claims and vouchers.
//!
//! First come: a claim takes one pack through the batch writer or fails with `sold_out`; a
//! second claim by the same member fails with `already_claimed`. Once the stock is gone the
//! answer comes from memory (see `sold_out`) without touching the database.
//!
//! Fair mode: during the entry window a claim is an entry; the draw (see `draws`) issues the
//! vouchers.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use membership::applications::ActiveMember;
use platform::clock::now;
use platform::crypto::random_token;
use platform::db::is_unique_violation;
use platform::pagination::{Page, Paged};
use platform::schema::{draw_entries as e, programs as p, vouchers as v};
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::batcher::{self, ClaimJob, Issued};
use crate::eligibility::active_member;
use crate::ledger;
use crate::programs::Program;
use crate::vocab::{LedgerKind, Mode, ProgramKind, ProgramStatus, VoucherStatus};
use crate::Benefits;

/// What a claim answers.
pub enum Claimed {
    /// First come: the voucher just issued.
    Voucher(VoucherView),
    /// Fair mode: the entry; `created` is false when the member had entered already.
    Entry { entry: EntryView, created: bool },
}

/// The use case: the caller claims a gift pack of `program_id`.
///
/// The order is the crowd's fast path: a sold-out program is answered before anything else,
/// not even `caller` (which checks the access token's signature) is asked, since stock left is
/// public anyway. Then the program comes from a one-second cache, and membership, eligibility,
/// the per-member limit and the stock are decided for the whole batch at once ([`grant`]), so a
/// first-come claim makes no database round trip of its own.
pub async fn claim(
    db: &Db,
    benefits: &Benefits,
    program_id: i64,
    caller: impl FnOnce() -> Result<i64>,
) -> Result<Claimed> {
    if benefits.sold_out.is_sold_out(program_id).await? {
        return Err(Error::new(ErrorCode::SoldOut));
    }
    let account_id = caller()?;
    let program = benefits.programs.get(db, program_id).await?;
    if program.status == ProgramStatus::Draft {
        return Err(Error::new(ErrorCode::NotFound));
    }
    program.require_kind(ProgramKind::GiftPack)?;
    program.require_open(now())?;
    if program.mode == Mode::Draw {
        let (entry, created) = db
            .write(move |conn| {
                let member = active_member(conn, account_id)?;
                check_eligible(conn, &program, &member, now())?;
                enter(conn, &program, account_id, now())
            })
            .await?;
        return Ok(Claimed::Entry { entry, created });
    }
    let valid_until = program.voucher_valid_until(now());
    match benefits
        .batcher
        .claim(program.clone(), account_id, valid_until)
        .await?
    {
        ClaimOutcome::Issued {
            voucher,
            sold_out_now,
        } => {
            if sold_out_now {
                benefits.sold_out.mark(program_id).await;
            }
            let view = VoucherView::issued(&program, voucher, valid_until);
            Ok(Claimed::Voucher(view))
        }
        ClaimOutcome::SoldOut => {
            benefits.sold_out.mark(program_id).await;
            Err(Error::new(ErrorCode::SoldOut))
        }
        ClaimOutcome::AlreadyClaimed => Err(Error::new(ErrorCode::AlreadyClaimed)),
        ClaimOutcome::Refused(code) => Err(Error::new(code)),
    }
}

/// What the batch decided for one first-come claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// A voucher was issued. `sold_out_now`: this claim took the last pack.
    Issued {
        voucher: Issued,
        sold_out_now: bool,
    },
    SoldOut,
    AlreadyClaimed,
    /// Not eligible (not a member, outside the subtree, a rule), or the program closed.
    Refused(ErrorCode),
}

/// Decides the first-come claims of a batch, program by program, in arrival order, inside the
/// batch's transaction.
pub(crate) fn grant(conn: &mut DbConn, jobs: &[&ClaimJob]) -> Result<Vec<ClaimOutcome>> {
    let now = now();
    batcher::by_group(
        jobs,
        |job| job.program.id,
        |program_id, group| grant_program(conn, program_id, group, now),
    )
}

/// One program's claims of a batch: under the stock row's lock, in memory, then one insert for
/// all its vouchers and one for their ledger rows (one round trip, not two per claim).
fn grant_program(
    conn: &mut DbConn,
    program_id: i64,
    jobs: &[&ClaimJob],
    now: NaiveDateTime,
) -> Result<Vec<ClaimOutcome>> {
    // Taking the row lock first: concurrent batches (other instances) queue behind it. The
    // status is read under the lock: the requests' copy of the program may be a second old,
    // and a closed program must not issue anything.
    let (left, status): (Option<i32>, String) = diesel::update(p::table.find(program_id))
        .set(p::stock_left.eq(p::stock_left))
        .returning((p::stock_left, p::status))
        .get_result(conn)?;
    let left = left.ok_or_else(|| Error::new(ErrorCode::WrongProgramKind))?;
    let program = &jobs[0].program;
    if ProgramStatus::parse(&status) != Some(ProgramStatus::Published) || !program.is_open(now) {
        return Ok(vec![
            ClaimOutcome::Refused(ErrorCode::ProgramNotOpen);
            jobs.len()
        ]);
    }
    let accounts: Vec<i64> = jobs.iter().map(|job| job.account_id).collect();
    let refusals = program
        .rules
        .refusals(conn, program.org_id, &accounts, now)?;
    let held: Vec<i64> = v::table
        .filter(v::program_id.eq(program_id))
        .filter(v::account_id.eq_any(&accounts))
        .select(v::account_id)
        .load(conn)?;
    let arrivals: Vec<(i64, Option<ErrorCode>)> = accounts
        .iter()
        .map(|account| (*account, refusals.get(account).copied()))
        .collect();
    let (mut outcomes, issue, left) = decide(&arrivals, &held, program.per_member_limit, left);
    let ids = insert_vouchers(conn, program_id, jobs, &issue, now)?;
    let mut entries = Vec::with_capacity(issue.len());
    for (n, ((i, _), (id, code))) in issue.iter().zip(ids).enumerate() {
        entries.push((jobs[*i].account_id, Some(id)));
        outcomes[*i] = ClaimOutcome::Issued {
            voucher: Issued { id, code, at: now },
            sold_out_now: left == 0 && n + 1 == issue.len(),
        };
    }
    ledger::append_many(conn, program_id, LedgerKind::Claimed, &entries)?;
    diesel::update(p::table.find(program_id))
        .set(p::stock_left.eq(left))
        .execute(conn)?;
    Ok(outcomes)
}

/// The rule of a first-come batch, in memory: in arrival order, a refused member is refused, a
/// member at the per-member limit (counting vouchers `held` before and those of this batch)
/// has claimed already, and the rest take a pack each while `left` lasts. Returns the outcomes
/// (those to issue are filled in once written), which arrivals get a voucher with their claim
/// number, and the stock left after.
fn decide(
    arrivals: &[(i64, Option<ErrorCode>)],
    held: &[i64],
    per_member_limit: i32,
    mut left: i32,
) -> (Vec<ClaimOutcome>, Vec<(usize, i32)>, i32) {
    let mut counts: HashMap<i64, i32> = HashMap::new();
    for account in held {
        *counts.entry(*account).or_default() += 1;
    }
    let mut outcomes = Vec::with_capacity(arrivals.len());
    let mut issue = Vec::new();
    for (i, (account, refusal)) in arrivals.iter().enumerate() {
        let count = counts.entry(*account).or_default();
        outcomes.push(match refusal {
            Some(code) => ClaimOutcome::Refused(*code),
            None if *count >= per_member_limit => ClaimOutcome::AlreadyClaimed,
            None if left == 0 => ClaimOutcome::SoldOut,
            None => {
                *count += 1;
                left -= 1;
                issue.push((i, *count));
                ClaimOutcome::SoldOut // replaced by the voucher once it is written
            }
        });
    }
    (outcomes, issue, left)
}

/// Writes the vouchers `issue` names, in one statement; answers their ids and codes in order.
fn insert_vouchers(
    conn: &mut DbConn,
    program_id: i64,
    jobs: &[&ClaimJob],
    issue: &[(usize, i32)],
    now: NaiveDateTime,
) -> Result<Vec<(i64, String)>> {
    let codes: Vec<String> = issue.iter().map(|_| random_token(9)).collect();
    let rows: Vec<_> = issue
        .iter()
        .zip(&codes)
        .map(|((i, claim_no), code)| {
            (
                v::program_id.eq(program_id),
                v::account_id.eq(jobs[*i].account_id),
                v::claim_no.eq(*claim_no),
                v::code.eq(code),
                v::status.eq(VoucherStatus::Issued.as_str()),
                v::issued_at.eq(now),
                v::valid_until.eq(jobs[*i].valid_until),
            )
        })
        .collect();
    let inserted: Vec<(i64, i32, i64)> = platform::insert_rows!(
        conn,
        v::table,
        rows,
        returning(v::account_id, v::claim_no, v::id)
    )?;
    // A multi-row insert's RETURNING order is not promised: match the rows by their key.
    let ids: HashMap<(i64, i32), i64> = inserted
        .into_iter()
        .map(|(account, claim_no, id)| ((account, claim_no), id))
        .collect();
    issue
        .iter()
        .zip(codes)
        .map(|((i, claim_no), code)| {
            let id = ids.get(&(jobs[*i].account_id, *claim_no)).copied();
            let id = id.ok_or_else(|| {
                Error::internal(anyhow::anyhow!("a voucher insert returned no id"))
            })?;
            Ok((id, code))
        })
        .collect()
}

/// A voucher as its holder and staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherView {
    pub id: i64,
    pub program_id: i64,
    pub program_title: String,
    /// Shown as a QR for staff to scan at hand-out.
    pub code: String,
    pub status: VoucherStatus,
    pub issued_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub redeemed_at: Option<DateTime<Utc>>,
    /// The code as a QR (SVG) to show at hand-out. A separate, cacheable image, so that a claim
    /// in a crowd costs no image rendering.
    pub qr_svg_url: String,
}

impl VoucherView {
    /// A voucher the batch writer has just issued, as the claim's answer.
    pub fn issued(
        program: &Program,
        voucher: crate::batcher::Issued,
        valid_until: Option<NaiveDateTime>,
    ) -> VoucherView {
        VoucherView {
            id: voucher.id,
            program_id: program.id,
            program_title: program.title.clone(),
            code: voucher.code,
            status: VoucherStatus::Issued,
            issued_at: voucher.at.and_utc(),
            valid_until: valid_until.map(|t| t.and_utc()),
            redeemed_at: None,
            qr_svg_url: qr_svg_url(voucher.id),
        }
    }
}

fn qr_svg_url(voucher_id: i64) -> String {
    format!("/v1/me/vouchers/{voucher_id}/qr.svg")
}

/// A voucher with its program's title, as [`voucher_columns!`] selects it.
#[derive(Queryable)]
struct VoucherRow {
    id: i64,
    program_id: i64,
    program_title: String,
    code: String,
    #[diesel(deserialize_as = String)]
    status: VoucherStatus,
    issued_at: NaiveDateTime,
    valid_until: Option<NaiveDateTime>,
    redeemed_at: Option<NaiveDateTime>,
}

impl From<VoucherRow> for VoucherView {
    fn from(row: VoucherRow) -> VoucherView {
        VoucherView {
            id: row.id,
            program_id: row.program_id,
            program_title: row.program_title,
            qr_svg_url: qr_svg_url(row.id),
            code: row.code,
            status: row.status,
            issued_at: row.issued_at.and_utc(),
            valid_until: row.valid_until.map(|t| t.and_utc()),
            redeemed_at: row.redeemed_at.map(|t| t.and_utc()),
        }
    }
}

macro_rules! voucher_columns {
    () => {
        (
            v::id,
            v::program_id,
            p::title,
            v::code,
            v::status,
            v::issued_at,
            v::valid_until,
            v::redeemed_at,
        )
    };
}

/// The caller's own voucher; another member's is `not_found`.
pub fn voucher(conn: &mut DbConn, account_id: i64, voucher_id: i64) -> Result<VoucherView> {
    let row: VoucherRow = v::table
        .inner_join(p::table.on(p::id.eq(v::program_id)))
        .filter(v::id.eq(voucher_id))
        .filter(v::account_id.eq(account_id))
        .select(voucher_columns!())
        .first(conn)?;
    Ok(row.into())
}

pub fn mine(conn: &mut DbConn, account_id: i64, page: Page) -> Result<Paged<VoucherView>> {
    let rows: Vec<VoucherRow> = v::table
        .inner_join(p::table.on(p::id.eq(v::program_id)))
        .filter(v::account_id.eq(account_id))
        .filter(v::id.lt(page.before.unwrap_or(i64::MAX)))
        .order(v::id.desc())
        .limit(page.limit + 1)
        .select(voucher_columns!())
        .load(conn)?;
    let views = rows.into_iter().map(VoucherView::from).collect();
    Ok(Paged::from_rows(views, page, |v| v.id))
}

/// A fair-mode entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub id: i64,
    pub program_id: i64,
    /// null until the draw; then won or lost.
    pub outcome: Option<String>,
    pub entered_at: DateTime<Utc>,
    /// When entries close and the draw runs.
    pub draw_after: Option<DateTime<Utc>>,
}

/// Enters a fair-mode draw. Entering twice returns the same entry (`false`: not new).
pub fn enter(
    conn: &mut DbConn,
    program: &Program,
    member_account: i64,
    now: NaiveDateTime,
) -> Result<(EntryView, bool)> {
    if program.entry_closes_at.is_some_and(|closes| now >= closes) || program.drawn_at.is_some() {
        return Err(Error::new(ErrorCode::EntryWindowClosed));
    }
    // A savepoint: on PostgreSQL a duplicate must not abort the surrounding transaction.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(e::table)
            .values((
                e::program_id.eq(program.id),
                e::account_id.eq(member_account),
                e::created_at.eq(now),
            ))
            .returning(e::id)
            .get_result::<i64>(conn)
    });
    let created = match inserted {
        Ok(id) => {
            ledger::append(
                conn,
                member_account,
                program.id,
                LedgerKind::Entered,
                Some(id),
            )?;
            true
        }
        Err(err) if is_unique_violation(&err) => false,
        Err(err) => return Err(err.into()),
    };
    let (id, outcome, created_at): (i64, Option<String>, NaiveDateTime) = e::table
        .filter(e::program_id.eq(program.id))
        .filter(e::account_id.eq(member_account))
        .select((e::id, e::outcome, e::created_at))
        .first(conn)?;
    Ok((
        EntryView {
            id,
            program_id: program.id,
            outcome,
            entered_at: created_at.and_utc(),
            draw_after: program.entry_closes_at.map(|t| t.and_utc()),
        },
        created,
    ))
}

/// Eligibility of a member for a program, by the program's rules.
pub fn check_eligible(
    conn: &mut DbConn,
    program: &Program,
    member: &ActiveMember,
    now: NaiveDateTime,
) -> Result<()> {
    program.rules.check(conn, program.org_id, member, now)
}

/// Expires unredeemed vouchers past their validity and returns them to stock. Returns the
/// programs that got stock back (their sold-out marks must go).
pub fn expire_vouchers(conn: &mut DbConn, now: NaiveDateTime) -> Result<Vec<i64>> {
    let due: Vec<(i64, i64, i64)> = v::table
        .filter(v::status.eq(VoucherStatus::Issued.as_str()))
        .filter(v::valid_until.lt(now))
        .select((v::id, v::program_id, v::account_id))
        .limit(1000)
        .load(conn)?;
    let mut restocked: HashMap<i64, i32> = HashMap::new();
    for (id, program_id, account_id) in due {
        let expired = diesel::update(v::table.find(id))
            .filter(v::status.eq(VoucherStatus::Issued.as_str()))
            .set(v::status.eq(VoucherStatus::Expired.as_str()))
            .execute(conn)?;
        if expired == 1 {
            *restocked.entry(program_id).or_default() += 1;
            ledger::append(
                conn,
                account_id,
                program_id,
                LedgerKind::VoucherExpired,
                Some(id),
            )?;
        }
    }
    for (program_id, count) in &restocked {
        diesel::update(p::table.find(program_id))
            .set(p::stock_left.eq(p::stock_left + count))
            .execute(conn)?;
    }
    Ok(restocked.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_decided_in_arrival_order_until_the_stock_is_gone() {
        let refused = ErrorCode::NotAMember;
        // Member 1 holds a voucher already; 2 asks twice in the batch; 3 is refused; 4 and 5
        // come last, when one pack is left.
        let arrivals = [
            (1, None),
            (2, None),
            (2, None),
            (3, Some(refused)),
            (4, None),
            (5, None),
        ];
        let (outcomes, issue, left) = decide(&arrivals, &[1], 1, 2);
        assert_eq!(issue, vec![(1, 1), (4, 1)]);
        assert_eq!(left, 0);
        assert_eq!(outcomes[0], ClaimOutcome::AlreadyClaimed);
        assert_eq!(outcomes[2], ClaimOutcome::AlreadyClaimed);
        assert_eq!(outcomes[3], ClaimOutcome::Refused(refused));
        assert_eq!(outcomes[5], ClaimOutcome::SoldOut);
    }

    #[test]
    fn a_per_member_limit_above_one_counts_what_is_held_and_numbers_the_claims() {
        let arrivals = [(7, None), (7, None), (7, None)];
        let (outcomes, issue, left) = decide(&arrivals, &[7], 3, 10);
        assert_eq!(issue, vec![(0, 2), (1, 3)]);
        assert_eq!(left, 8);
        assert_eq!(outcomes[2], ClaimOutcome::AlreadyClaimed);
    }
}
