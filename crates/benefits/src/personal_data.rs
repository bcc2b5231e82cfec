//! What benefits hold about a member, for the member's rights (PIPL Art. 45, 47): the copy of
//! it and its erasure, registered with [`platform::rights::DataRights`] at startup.
//!
//! Vouchers, draw entries, bookings and the ledger are what stock, attendance, no-show and
//! program statistics are counted from, and they hold no text about the person (codes are
//! random tokens, statuses and kinds are vocabulary), so erasure keeps them as they are: the
//! account they point to becomes a tombstone. What is still to come goes, though: a booking
//! of a session not yet started is released (its seat to the waitlist) and an entry in a draw
//! not yet run is withdrawn, so that no one who is gone takes a seat or a pack. Health reports are health data and go, files
//! included; the ledger's `report_attached` entries keep the report count.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::pagination::{Page, Paged, MAX_LIMIT};
use platform::rights::{AfterCommit, PersonalData};
use platform::schema::{
    bookings as b, draw_entries as e, health_reports as r, health_sessions as hs, programs as p,
};
use platform::{DbConn, Error, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::reports::{self, Reports};
use crate::vocab::BookingStatus;
use crate::waitlist::Offers;
use crate::{bookings, claims, ledger};

/// Benefits' part of the member's data. Reports need the data key (summaries are sealed) and
/// the store (PDFs are deleted with their rows).
#[derive(Clone)]
pub struct BenefitsData {
    reports: Reports,
    /// How a seat an erased member leaves passes on.
    offers: Offers,
}

impl BenefitsData {
    pub fn new(reports: Reports, offers: Offers) -> BenefitsData {
        BenefitsData { reports, offers }
    }

    /// Work for after the erasure's commit: the PDF of a deleted report row. Before the commit
    /// a rollback would leave a row pointing at a file that is gone.
    fn delete_later(&self, key: String) -> AfterCommit {
        let reports = self.reports.clone();
        Box::new(move || {
            if let Err(error) = reports.delete_pdf_now(&key) {
                // Sealed with the data key, an orphan is unreadable; worth a look all the same.
                tracing::warn!(key, error = ?error, "could not delete an erased report's PDF");
            }
        })
    }
}

/// Every item of a newest-first paged list, page by page (the same queries the member's own
/// pages run, so the export reads like them).
fn every<T>(
    mut page: impl FnMut(Page) -> Result<Paged<T>>,
    id_of: impl Fn(&T) -> i64,
) -> Result<Vec<T>> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let got = page(Page {
            limit: MAX_LIMIT,
            before,
        })?;
        let more = got.next_cursor.is_some();
        before = got.items.last().map(&id_of);
        all.extend(got.items);
        if !more {
            return Ok(all);
        }
    }
}

/// A fair-mode entry with its program.
#[derive(Debug, Serialize)]
struct EntryView {
    id: i64,
    program_id: i64,
    program_title: String,
    entered_at: DateTime<Utc>,
    /// null until the draw; then won or lost.
    outcome: Option<String>,
    draw_after: Option<DateTime<Utc>>,
}

type EntryRow = (
    i64,
    i64,
    String,
    NaiveDateTime,
    Option<String>,
    Option<NaiveDateTime>,
);

fn entries(conn: &mut DbConn, account_id: i64) -> Result<Vec<EntryView>> {
    let rows: Vec<EntryRow> = e::table
        .inner_join(p::table.on(p::id.eq(e::program_id)))
        .filter(e::account_id.eq(account_id))
        .order(e::id.desc())
        .select((
            e::id,
            e::program_id,
            p::title,
            e::created_at,
            e::outcome,
            p::entry_closes_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, program_id, program_title, entered_at, outcome, closes)| EntryView {
                id,
                program_id,
                program_title,
                entered_at: entered_at.and_utc(),
                outcome,
                draw_after: closes.map(|t| t.and_utc()),
            },
        )
        .collect())
}

/// Where and when a booked health check takes place.
#[derive(Debug, Serialize)]
struct SessionPlace {
    id: i64,
    site_name: String,
    address: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

/// A booking with every time it records (who checked it in is staff's, not the member's).
#[derive(Debug, Serialize)]
struct BookingRecord {
    id: i64,
    program_id: i64,
    program_title: String,
    session: SessionPlace,
    status: BookingStatus,
    code: String,
    created_at: DateTime<Utc>,
    promoted_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    checked_in_at: Option<DateTime<Utc>>,
}

type BookingRow = (
    (i64, i64, String, String, NaiveDateTime),
    (i64, String, String, String, NaiveDateTime, NaiveDateTime),
    (
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    ),
);

fn booking_record(row: BookingRow) -> Result<BookingRecord> {
    let ((id, program_id, status, code, created_at), session, times) = row;
    let (session_id, program_title, site_name, address, starts_at, ends_at) = session;
    let (promoted_at, cancelled_at, checked_in_at) = times;
    Ok(BookingRecord {
        id,
        program_id,
        program_title,
        session: SessionPlace {
            id: session_id,
            site_name,
            address,
            starts_at: starts_at.and_utc(),
            ends_at: ends_at.and_utc(),
        },
        status: BookingStatus::parse(&status)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("booking {id}: status {status}")))?,
        code,
        created_at: created_at.and_utc(),
        promoted_at: promoted_at.map(|t| t.and_utc()),
        cancelled_at: cancelled_at.map(|t| t.and_utc()),
        checked_in_at: checked_in_at.map(|t| t.and_utc()),
    })
}

fn bookings(conn: &mut DbConn, account_id: i64) -> Result<Vec<BookingRecord>> {
    let rows: Vec<BookingRow> = b::table
        .inner_join(hs::table.on(hs::id.eq(b::session_id)))
        .inner_join(p::table.on(p::id.eq(b::program_id)))
        .filter(b::account_id.eq(account_id))
        .order(b::id.desc())
        .select((
            (b::id, b::program_id, b::status, b::code, b::created_at),
            (
                hs::id,
                p::title,
                hs::site_name,
                hs::address,
                hs::starts_at,
                hs::ends_at,
            ),
            (b::promoted_at, b::cancelled_at, b::checked_in_at),
        ))
        .load(conn)?;
    rows.into_iter().map(booking_record).collect()
}

impl PersonalData for BenefitsData {
    fn domain(&self) -> &'static str {
        "benefits"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "vouchers",
            "draw_entries",
            "bookings",
            "health_reports",
            "benefit_ledger",
        ]
    }

    fn export(&self, conn: &mut DbConn, account_id: i64) -> Result<Value> {
        let vouchers = every(|page| claims::mine(conn, account_id, page), |v| v.id)?;
        let protector = self.reports.protector();
        let health_reports: Vec<Value> = every(
            |page| reports::mine(conn, protector, account_id, page),
            |r| r.id,
        )?
        .into_iter()
        .map(|report| {
            json!({
                "id": report.id,
                "booking_id": report.booking_id,
                "program_id": report.program_id,
                "program_title": report.program_title,
                "summary": report.summary,
                "has_pdf": report.pdf_url.is_some(),
                "pdf_url": report.pdf_url,
                "created_at": report.created_at,
            })
        })
        .collect();
        let ledger = every(|page| ledger::mine(conn, account_id, page), |l| l.id)?;
        Ok(json!({
            "vouchers": vouchers,
            "draw_entries": entries(conn, account_id)?,
            "bookings": bookings(conn, account_id)?,
            "health_reports": health_reports,
            "ledger": ledger,
        }))
    }

    fn erase(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<AfterCommit>> {
        // Someone who is gone takes no seat and no pack: upcoming bookings are released and
        // entries of draws not yet run are withdrawn. Attended sessions and drawn entries stay
        // (they are the counts).
        bookings::release_upcoming(conn, account_id, self.offers, platform::clock::now())?;
        withdraw_undrawn_entries(conn, account_id)?;
        // RETURNING names exactly the rows this statement deleted, so a report attached
        // concurrently cannot lose its file to us, nor keep a file we meant to delete.
        let pdf_keys: Vec<Option<String>> =
            diesel::delete(r::table.filter(r::account_id.eq(account_id)))
                .returning(r::pdf_key)
                .get_results(conn)?;
        Ok(pdf_keys
            .into_iter()
            .flatten()
            .map(|key| self.delete_later(key))
            .collect())
    }
}

/// Takes the account out of the draws that have not run. Each program row is locked first, as
/// a draw claims it: a draw already under way keeps its entries, a later one never sees them.
fn withdraw_undrawn_entries(conn: &mut DbConn, account_id: i64) -> Result<usize> {
    let entered: Vec<i64> = e::table
        .filter(e::account_id.eq(account_id))
        .filter(e::outcome.is_null())
        .select(e::program_id)
        .load(conn)?;
    let undrawn: Vec<i64> = diesel::update(p::table)
        .filter(p::id.eq_any(&entered))
        .filter(p::drawn_at.is_null())
        .set(p::id.eq(p::id))
        .returning(p::id)
        .get_results(conn)?;
    Ok(diesel::delete(
        e::table
            .filter(e::account_id.eq(account_id))
            .filter(e::program_id.eq_any(&undrawn)),
    )
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use diesel::connection::SimpleConnection;
    use platform::crypto::DataProtector;
    use platform::schema::{benefit_ledger as l, programs as p, vouchers as v};
    use platform::testing::{account, ScratchDb};

    use super::*;
    use crate::vocab::LedgerKind;
    use platform::files::memory::MemoryStore as Memory;
    use platform::files::{FileStore, SealedFiles};

    /// A gift pack (program 1, stock 10 of which 2 claimed) and a health check (program 2,
    /// session 1): the rows of org 1, made by `staff`.
    fn programs(conn: &mut DbConn, staff: i64) {
        conn.batch_execute(&format!(
            "INSERT INTO orgs (id, kind, name, region_code, address, created_at) \
             VALUES (1, 'district', '玄武区总工会', '320102', '南京', '2026-11-01 00:00:00');
             INSERT INTO programs (id, org_id, kind, title, description, status, starts_at, \
               ends_at, per_member_limit, eligibility, mode, stock_total, stock_left, \
               entry_closes_at, created_by, created_at) VALUES \
             (1, 1, 'gift_pack', '暖新礼包', '', 'published', '2026-11-01 00:00:00', \
               '2027-11-01 00:00:00', 1, '{{}}', 'first_come', 10, 8, NULL, {staff}, \
               '2026-11-01 00:00:00'), \
             (2, 1, 'health_check', '免费体检', '', 'published', '2026-11-01 00:00:00', \
               '2027-11-01 00:00:00', 1, '{{}}', 'first_come', NULL, NULL, NULL, {staff}, \
               '2026-11-01 00:00:00');
             INSERT INTO health_sessions (id, program_id, site_name, address, starts_at, \
               ends_at, capacity, booked, created_at) VALUES (1, 2, '体检车', '中山路1号', \
               '2026-11-20 01:00:00', '2026-11-20 09:00:00', 20, 2, '2026-11-01 00:00:00');"
        ))
        .unwrap();
    }

    /// A member's voucher, checked-in booking and report (with a PDF in `store`).
    fn member_life(conn: &mut DbConn, store: &Memory, reports: &Reports, n: i64) -> i64 {
        let id = account(conn, n);
        conn.batch_execute(&format!(
            "INSERT INTO vouchers (program_id, account_id, claim_no, code, status, issued_at) \
             VALUES (1, {id}, 1, 'voucher-{n}', 'issued', '2026-11-02 00:00:00');
             INSERT INTO bookings (id, session_id, program_id, account_id, status, code, \
               created_at, checked_in_at) VALUES ({n}, 1, 2, {id}, 'checked_in', 'booking-{n}', \
               '2026-11-02 00:00:00', '2026-11-20 02:00:00');"
        ))
        .unwrap();
        ledger::append(conn, id, 1, LedgerKind::Claimed, None).unwrap();
        ledger::append(conn, id, 2, LedgerKind::Booked, Some(n)).unwrap();
        ledger::append(conn, id, 2, LedgerKind::CheckedIn, Some(n)).unwrap();
        // Sealed as `reports` seals a summary: bound to its booking.
        let summary = format!(r#"{{"conclusion":"血压偏高-{n}"}}"#);
        let sealed = reports
            .protector()
            .seal(&format!("health_reports.summary:{n}"), summary.as_bytes());
        let key = format!("report-{n}.pdf");
        store.put(&key, b"sealed pdf").unwrap();
        let report: i64 = diesel::insert_into(r::table)
            .values((
                r::booking_id.eq(n),
                r::account_id.eq(id),
                r::program_id.eq(2),
                r::summary.eq(sealed),
                r::pdf_key.eq(key),
                r::created_by.eq(1),
                r::created_at.eq(platform::clock::now()),
            ))
            .returning(r::id)
            .get_result(conn)
            .unwrap();
        ledger::append(conn, id, 2, LedgerKind::ReportAttached, Some(report)).unwrap();
        id
    }

    fn setup() -> (ScratchDb, Arc<Memory>, BenefitsData) {
        let store = Arc::new(Memory::default());
        let reports = Reports::new(SealedFiles::new(
            store.clone(),
            DataProtector::new(&[7u8; 32]),
        ));
        (
            ScratchDb::new(),
            store,
            BenefitsData::new(reports, Offers::default()),
        )
    }

    /// Everything a program's statistics are made of.
    fn counts(conn: &mut DbConn) -> Value {
        let (gift, _) = ledger::program_counts(conn, 1).unwrap();
        let (check, by_day) = ledger::program_counts(conn, 2).unwrap();
        let stock: Option<i32> = p::table.find(1).select(p::stock_left).first(conn).unwrap();
        let booked: i32 = hs::table.find(1).select(hs::booked).first(conn).unwrap();
        let rows: (i64, i64, i64) = (
            v::table.count().get_result(conn).unwrap(),
            b::table.count().get_result(conn).unwrap(),
            l::table.count().get_result(conn).unwrap(),
        );
        json!([gift, check, by_day, stock, booked, rows])
    }

    #[test]
    fn export_opens_my_reports_and_holds_nothing_of_others() {
        let (scratch, store, data) = setup();
        let conn = &mut *scratch.db.get().unwrap();
        let staff = account(conn, 0);
        programs(conn, staff);
        let mine = member_life(conn, &store, &data.reports, 1);
        member_life(conn, &store, &data.reports, 2);

        let out = data.export(conn, mine).unwrap();
        assert_eq!(out["vouchers"][0]["program_title"], "暖新礼包");
        assert_eq!(out["vouchers"][0]["code"], "voucher-1");
        let booking = &out["bookings"][0];
        assert_eq!(booking["session"]["site_name"], "体检车");
        assert_eq!(booking["session"]["address"], "中山路1号");
        assert_eq!(booking["session"]["starts_at"], "2026-11-20T01:00:00Z");
        assert_eq!(booking["status"], "checked_in");
        let report = &out["health_reports"][0];
        assert_eq!(report["summary"]["conclusion"], "血压偏高-1");
        assert_eq!(report["has_pdf"], true);
        let id = report["id"].as_i64().unwrap();
        assert_eq!(report["pdf_url"], format!("/v1/me/reports/{id}/pdf"));
        assert_eq!(out["ledger"].as_array().unwrap().len(), 4);
        assert_eq!(out["ledger"][0]["kind"], "report_attached");
        let text = out.to_string();
        for theirs in ["voucher-2", "booking-2", "血压偏高-2", "checked_in_by"] {
            assert!(!text.contains(theirs), "{theirs} in {text}");
        }
    }

    #[test]
    fn erasure_removes_reports_after_commit_and_keeps_every_count() {
        let (scratch, store, data) = setup();
        let conn = &mut *scratch.db.get().unwrap();
        let staff = account(conn, 0);
        programs(conn, staff);
        let mine = member_life(conn, &store, &data.reports, 1);
        member_life(conn, &store, &data.reports, 2);
        let before = counts(conn);

        let after_commit = data.erase(conn, mine).unwrap();
        assert_eq!(counts(conn), before);
        assert!(
            store.get("report-1.pdf").is_ok(),
            "files wait for the commit"
        );
        assert_eq!(after_commit.len(), 1);
        for work in after_commit {
            work();
        }
        assert!(store.get("report-1.pdf").is_err());
        assert!(store.get("report-2.pdf").is_ok());
        let left: Vec<i64> = r::table.select(r::account_id).load(conn).unwrap();
        assert_eq!(left.len(), 1);
        assert_ne!(left[0], mine);
        assert!(data.export(conn, mine).unwrap()["health_reports"]
            .as_array()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn every_walks_all_pages() {
        let ids: Vec<i64> = (1..=250).rev().collect();
        let all = every(
            |page| {
                let rows: Vec<i64> = ids
                    .iter()
                    .copied()
                    .filter(|id| *id < page.before.unwrap_or(i64::MAX))
                    .take(page.limit as usize + 1)
                    .collect();
                Ok(Paged::from_rows(rows, page, |id| *id))
            },
            |id| *id,
        )
        .unwrap();
        assert_eq!(all, ids);
    }
}
