//! Health-check reports: summary fields staff fill in after the exam, and an optional PDF kept
//! in a [`ReportStore`] (a directory here; object storage plugs in behind the same trait).
//! Members read their own reports only.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::crypto::random_token;
use platform::pagination::{Page, Paged};
use platform::schema::{bookings as b, health_reports as r, programs as p};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ledger;
use crate::vocab::{BookingStatus, LedgerKind};

/// Where report PDFs live.
pub trait ReportStore: Send + Sync {
    fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()>;
    fn get(&self, key: &str) -> anyhow::Result<Vec<u8>>;
}

/// Files under a directory, written atomically (temporary file, then rename).
pub struct DiskStore {
    root: PathBuf,
}

impl DiskStore {
    pub fn new(root: PathBuf) -> DiskStore {
        DiskStore { root }
    }

    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(
            !key.is_empty()
                && key
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                && !key.starts_with('.'),
            "bad report key {key:?}"
        );
        Ok(self.root.join(key))
    }
}

impl ReportStore for DiskStore {
    fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.path(key)?;
        std::fs::create_dir_all(&self.root)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, path)?;
        Ok(())
    }

    fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        Ok(std::fs::read(self.path(key)?)?)
    }
}

/// The summary of a health check. Free text stays short; numbers are what the truck measures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub height_cm: Option<f64>,
    pub weight_kg: Option<f64>,
    /// e.g. "120/80".
    pub blood_pressure: Option<String>,
    pub heart_rate_bpm: Option<i32>,
    pub blood_glucose_mmol_l: Option<f64>,
    /// The doctor's conclusion.
    pub conclusion: String,
    pub advice: Option<String>,
}

impl Summary {
    pub fn validate(self) -> Result<Summary> {
        let bad = |field| Err(Error::invalid(ErrorCode::InvalidField, field));
        let conclusion = self.conclusion.trim();
        if conclusion.is_empty() || conclusion.chars().count() > 2000 {
            return bad("summary.conclusion");
        }
        if self
            .advice
            .as_ref()
            .is_some_and(|a| a.chars().count() > 2000)
        {
            return bad("summary.advice");
        }
        if self.blood_pressure.as_ref().is_some_and(|bp| bp.len() > 16) {
            return bad("summary.blood_pressure");
        }
        let in_range = |v: Option<f64>, lo: f64, hi: f64| {
            v.is_none_or(|v| v.is_finite() && (lo..=hi).contains(&v))
        };
        if !in_range(self.height_cm, 30.0, 260.0) {
            return bad("summary.height_cm");
        }
        if !in_range(self.weight_kg, 2.0, 400.0) {
            return bad("summary.weight_kg");
        }
        if !in_range(self.blood_glucose_mmol_l, 0.5, 60.0) {
            return bad("summary.blood_glucose_mmol_l");
        }
        if self
            .heart_rate_bpm
            .is_some_and(|h| !(20..=300).contains(&h))
        {
            return bad("summary.heart_rate_bpm");
        }
        Ok(self)
    }
}

/// Largest PDF accepted.
pub const PDF_LIMIT: usize = 5 * 1024 * 1024;

/// Checks that bytes are a PDF of acceptable size.
pub fn check_pdf(bytes: &[u8]) -> Result<()> {
    if bytes.len() > PDF_LIMIT || !bytes.starts_with(b"%PDF-") {
        return Err(Error::invalid(ErrorCode::InvalidField, "pdf_base64"));
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub id: i64,
    pub booking_id: i64,
    pub program_id: i64,
    pub program_title: String,
    pub summary: Summary,
    /// Where the PDF is, when there is one.
    pub pdf_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The booking a report may be attached to: checked in. Returns (account, program).
pub fn reportable(conn: &mut DbConn, booking_id: i64) -> Result<(i64, i64)> {
    let (account_id, program_id, status): (i64, i64, String) = b::table
        .find(booking_id)
        .select((b::account_id, b::program_id, b::status))
        .first(conn)?;
    if status != BookingStatus::CheckedIn.as_str() {
        return Err(Error::new(ErrorCode::BookingNotActive));
    }
    Ok((account_id, program_id))
}

/// Attaches (or replaces) the report of a checked-in booking.
pub fn attach(
    conn: &mut DbConn,
    booking_id: i64,
    summary: &Summary,
    pdf_key: Option<String>,
    by: i64,
) -> Result<i64> {
    let (account_id, program_id) = reportable(conn, booking_id)?;
    let summary_text = serde_json::to_string(summary).map_err(Error::internal)?;
    let now = platform::clock::now();
    let existing: Option<i64> = r::table
        .filter(r::booking_id.eq(booking_id))
        .select(r::id)
        .first(conn)
        .optional()?;
    let id = match existing {
        Some(id) => {
            diesel::update(r::table.find(id))
                .set((
                    r::summary.eq(&summary_text),
                    r::pdf_key.eq(&pdf_key),
                    r::created_by.eq(by),
                    r::created_at.eq(now),
                ))
                .execute(conn)?;
            id
        }
        None => diesel::insert_into(r::table)
            .values((
                r::booking_id.eq(booking_id),
                r::account_id.eq(account_id),
                r::program_id.eq(program_id),
                r::summary.eq(&summary_text),
                r::pdf_key.eq(&pdf_key),
                r::created_by.eq(by),
                r::created_at.eq(now),
            ))
            .returning(r::id)
            .get_result(conn)?,
    };
    ledger::append(
        conn,
        account_id,
        program_id,
        LedgerKind::ReportAttached,
        Some(id),
    )?;
    Ok(id)
}

/// A new storage key for a report PDF.
pub fn new_pdf_key(booking_id: i64) -> String {
    format!("report-{booking_id}-{}.pdf", random_token(9))
}

type Row = (i64, i64, i64, String, String, Option<String>, NaiveDateTime);

fn view_of(row: Row) -> Result<ReportView> {
    let (id, booking_id, program_id, program_title, summary, pdf_key, created_at) = row;
    Ok(ReportView {
        id,
        booking_id,
        program_id,
        program_title,
        summary: serde_json::from_str(&summary).map_err(Error::internal)?,
        pdf_url: pdf_key.map(|_| format!("/v1/me/reports/{id}/pdf")),
        created_at: created_at.and_utc(),
    })
}

macro_rules! columns {
    () => {
        (
            r::id,
            r::booking_id,
            r::program_id,
            p::title,
            r::summary,
            r::pdf_key,
            r::created_at,
        )
    };
}

/// The caller's own report; anyone else's is `not_found`.
pub fn mine_one(conn: &mut DbConn, account_id: i64, id: i64) -> Result<ReportView> {
    let row: Row = r::table
        .inner_join(p::table.on(p::id.eq(r::program_id)))
        .filter(r::id.eq(id))
        .filter(r::account_id.eq(account_id))
        .select(columns!())
        .first(conn)?;
    view_of(row)
}

pub fn mine(conn: &mut DbConn, account_id: i64, page: Page) -> Result<Paged<ReportView>> {
    let rows: Vec<Row> = r::table
        .inner_join(p::table.on(p::id.eq(r::program_id)))
        .filter(r::account_id.eq(account_id))
        .filter(r::id.lt(page.before.unwrap_or(i64::MAX)))
        .order(r::id.desc())
        .limit(page.limit + 1)
        .select(columns!())
        .load(conn)?;
    let views = rows.into_iter().map(view_of).collect::<Result<Vec<_>>>()?;
    Ok(Paged::from_rows(views, page, |v| v.id))
}

/// The storage key of the caller's own report PDF.
pub fn my_pdf_key(conn: &mut DbConn, account_id: i64, id: i64) -> Result<String> {
    let key: Option<String> = r::table
        .filter(r::id.eq(id))
        .filter(r::account_id.eq(account_id))
        .select(r::pdf_key)
        .first(conn)?;
    key.ok_or_else(|| Error::new(ErrorCode::NotFound))
}
