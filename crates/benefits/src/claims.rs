//! Gift-pack claims and vouchers.
//!
//! First come: a claim takes one pack through the batch writer or fails with `sold_out`; a
//! second claim by the same member fails with `already_claimed`. Once the stock is gone the
//! answer comes from memory (and Redis across instances) without touching the database, which
//! is what keeps the service standing when a crowd keeps pressing the button.
//!
//! Fair mode: during the entry window a claim is an entry; the draw (see `draws`) issues the
//! vouchers.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use membership::applications::ActiveMember;
use platform::db::is_unique_violation;
use platform::pagination::{Page, Paged};
use platform::schema::{draw_entries as e, programs as p, vouchers as v};
use platform::{Coordinator, DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ledger;
use crate::programs::Program;
use crate::vocab::{LedgerKind, VoucherStatus};

/// How long a local "sold out" is trusted before Redis is asked again, when other instances
/// may have returned stock (expired vouchers).
const LOCAL_TRUST: Duration = Duration::from_secs(2);

/// How long a shared mark lives. Any sold-out answer from the database renews it; a mark whose
/// clearing was lost (stock came back while Redis was away) stops misleading within this.
const SHARED_MARK_LIFE: Duration = Duration::from_secs(600);

/// Which programs are sold out, known without the database.
pub struct SoldOut {
    local: RwLock<HashMap<i64, Instant>>,
    coord: Coordinator,
}

impl SoldOut {
    pub fn new(coord: Coordinator) -> SoldOut {
        SoldOut {
            local: RwLock::new(HashMap::new()),
            coord,
        }
    }

    fn key(program_id: i64) -> String {
        format!("soldout:{program_id}")
    }

    pub async fn is_sold_out(&self, program_id: i64) -> Result<bool> {
        let seen = self
            .local
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&program_id)
            .copied();
        match seen {
            // Alone, this instance's knowledge is the truth until it restocks itself.
            Some(_) if !self.coord.is_redis() => return Ok(true),
            Some(at) if at.elapsed() < LOCAL_TRUST => return Ok(true),
            _ => {}
        }
        if !self.coord.is_redis() {
            return Ok(false);
        }
        // The mark only saves work; the stock row decides. With Redis away the claim goes to
        // the database instead of failing: claiming is not one of the routes that must fail
        // closed.
        let shared = match self.coord.get(&Self::key(program_id)).await {
            Ok(mark) => mark.is_some(),
            Err(e) => {
                tracing::warn!(error = ?e, program_id, "sold-out mark unreadable; asking the database");
                return Ok(false);
            }
        };
        let mut local = self.local.write().unwrap_or_else(|p| p.into_inner());
        if shared {
            local.insert(program_id, Instant::now());
        } else {
            local.remove(&program_id);
        }
        Ok(shared)
    }

    pub async fn mark(&self, program_id: i64) {
        self.local
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(program_id, Instant::now());
        if let Err(e) = self
            .coord
            .put(&Self::key(program_id), "1", SHARED_MARK_LIFE)
            .await
        {
            tracing::warn!(error = ?e, program_id, "sold-out mark not shared");
        }
    }

    pub async fn clear(&self, program_id: i64) -> Result<()> {
        self.local
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&program_id);
        self.coord.delete(&Self::key(program_id)).await.map(|_| ())
    }
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

type VoucherRow = (
    i64,
    i64,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

fn voucher_view(row: VoucherRow) -> Result<VoucherView> {
    let (id, program_id, program_title, code, status, issued_at, valid_until, redeemed_at) = row;
    Ok(VoucherView {
        id,
        program_id,
        program_title,
        qr_svg_url: qr_svg_url(id),
        code,
        status: VoucherStatus::parse(&status)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("voucher status {status}")))?,
        issued_at: issued_at.and_utc(),
        valid_until: valid_until.map(|t| t.and_utc()),
        redeemed_at: redeemed_at.map(|t| t.and_utc()),
    })
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
    voucher_view(row)
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
    let views = rows
        .into_iter()
        .map(voucher_view)
        .collect::<Result<Vec<_>>>()?;
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
