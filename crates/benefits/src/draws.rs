//! Fair mode: a seeded, reproducible draw. The seed is published when the program is, before
//! any entry exists; at the close of the entry window the draw ranks every entry by
//! SHA-256(seed ":" entry_id) (hex, ascending; ties by entry id) and the first `stock` win.
//! Anyone holding the published seed and entry ids can recompute the winners.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor};
use platform::crypto::{random_token, sha256_hex};
use platform::schema::{draw_entries as e, programs as p, vouchers as v};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ledger;
use crate::programs::{self, Program};
use crate::vocab::{LedgerKind, Mode, VoucherStatus};

pub const ALGORITHM: &str = "rank entries by lowercase hex SHA-256 of \"{seed}:{entry_id}\" ascending (ties by entry_id); the first `stock` entries win";

/// The score of an entry; lower wins.
pub fn score(seed: &str, entry_id: i64) -> String {
    sha256_hex(format!("{seed}:{entry_id}").as_bytes())
}

/// The winners among `entries` (entry ids), in rank order.
pub fn winners(seed: &str, entries: &[i64], stock: usize) -> Vec<i64> {
    let mut ranked: Vec<(String, i64)> = entries.iter().map(|&id| (score(seed, id), id)).collect();
    ranked.sort();
    ranked.into_iter().take(stock).map(|(_, id)| id).collect()
}

/// Everything needed to re-run a draw.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrawView {
    pub program_id: i64,
    pub seed: Option<String>,
    pub algorithm: &'static str,
    /// Packs to win.
    pub stock: Option<i32>,
    pub entry_closes_at: Option<DateTime<Utc>>,
    /// Entry ids, ascending.
    pub entries: Vec<i64>,
    /// Winning entry ids in rank order; null before the draw.
    pub winners: Option<Vec<i64>>,
    pub drawn_at: Option<DateTime<Utc>>,
}

pub fn view(conn: &mut DbConn, program: &Program) -> Result<DrawView> {
    if program.mode != Mode::Draw {
        return Err(Error::new(ErrorCode::WrongProgramKind));
    }
    let entries: Vec<(i64, Option<String>)> = e::table
        .filter(e::program_id.eq(program.id))
        .order(e::id)
        .select((e::id, e::outcome))
        .load(conn)?;
    let winners = program.drawn_at.map(|_| {
        let won: Vec<i64> = entries
            .iter()
            .filter(|(_, o)| o.as_deref() == Some("won"))
            .map(|(id, _)| *id)
            .collect();
        // Rank order, as the algorithm produces it.
        let seed = program.draw_seed.as_deref().unwrap_or_default();
        winners(seed, &won, won.len())
    });
    Ok(DrawView {
        program_id: program.id,
        seed: program.draw_seed.clone(),
        algorithm: ALGORITHM,
        stock: program.stock_total,
        entry_closes_at: program.entry_closes_at.map(|t| t.and_utc()),
        entries: entries.into_iter().map(|(id, _)| id).collect(),
        winners,
        drawn_at: program.drawn_at.map(|t| t.and_utc()),
    })
}

/// The use case: staff run the draw once the window has closed; winners get vouchers,
/// everyone learns the outcome.
pub fn run(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    now: NaiveDateTime,
) -> Result<DrawView> {
    let program = programs::managed(conn, user, id)?;
    draw(conn, &program, now)?;
    audit::record(conn, actor, programs::entry(Action::ProgramDraw, &program))?;
    let drawn = programs::get(conn, id)?;
    view(conn, &drawn)
}

fn draw(conn: &mut DbConn, program: &Program, now: NaiveDateTime) -> Result<()> {
    if program.mode != Mode::Draw {
        return Err(Error::new(ErrorCode::WrongProgramKind));
    }
    if program.entry_closes_at.is_none_or(|closes| now < closes) {
        return Err(Error::new(ErrorCode::DrawNotReady));
    }
    // Claiming the draw first makes a second, concurrent run a no-op that says so.
    let claimed = diesel::update(p::table.find(program.id))
        .filter(p::drawn_at.is_null())
        .set(p::drawn_at.eq(now))
        .execute(conn)?;
    if claimed == 0 {
        return Err(Error::new(ErrorCode::AlreadyDrawn));
    }
    let seed = program.draw_seed.clone().ok_or_else(|| {
        Error::internal(anyhow::anyhow!("draw program {} without seed", program.id))
    })?;
    let entries: Vec<(i64, i64)> = e::table
        .filter(e::program_id.eq(program.id))
        .select((e::id, e::account_id))
        .load(conn)?;
    let ids: Vec<i64> = entries.iter().map(|(id, _)| *id).collect();
    let stock = program.stock_left.unwrap_or(0).max(0) as usize;
    let won: std::collections::HashSet<i64> = winners(&seed, &ids, stock).into_iter().collect();
    for (entry_id, account_id) in entries {
        let (outcome, kind) = if won.contains(&entry_id) {
            ("won", LedgerKind::Won)
        } else {
            ("lost", LedgerKind::Lost)
        };
        diesel::update(e::table.find(entry_id))
            .set(e::outcome.eq(outcome))
            .execute(conn)?;
        let mut ref_id = Some(entry_id);
        if won.contains(&entry_id) {
            let voucher_id: i64 = diesel::insert_into(v::table)
                .values((
                    v::program_id.eq(program.id),
                    v::account_id.eq(account_id),
                    v::claim_no.eq(1),
                    v::code.eq(random_token(9)),
                    v::status.eq(VoucherStatus::Issued.as_str()),
                    v::issued_at.eq(now),
                    v::valid_until.eq(program.voucher_valid_until(now)),
                ))
                .returning(v::id)
                .get_result(conn)?;
            ref_id = Some(voucher_id);
        }
        ledger::append(conn, account_id, program.id, kind, ref_id)?;
    }
    diesel::update(p::table.find(program.id))
        .set(p::stock_left.eq(p::stock_left - won.len() as i32))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draw_is_a_pure_function_of_seed_and_entries() {
        let entries: Vec<i64> = (1..=50).collect();
        let a = winners("00ff", &entries, 10);
        assert_eq!(a.len(), 10);
        assert_eq!(a, winners("00ff", &entries, 10));
        let mut shuffled = entries.clone();
        shuffled.reverse();
        assert_eq!(
            a,
            winners("00ff", &shuffled, 10),
            "order of entries does not matter"
        );
        assert_ne!(a, winners("00fe", &entries, 10), "the seed does");
        assert_eq!(winners("00ff", &entries, 100).len(), 50);
        // The documented score: SHA-256 of "seed:id".
        assert_eq!(score("abc", 7), sha256_hex(b"abc:7"));
    }
}
