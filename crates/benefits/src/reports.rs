//! Health-check reports: summary fields staff fill in after the exam, and an optional PDF kept
//! in the platform's encrypted file store.
//! Members read their own reports only.
//!
//! Both are health data, sensitive personal information under PIPL, so both are sealed with the
//! data key before they are stored: the summary bound to its booking, the PDF to its storage
//! key, so neither can be moved to another member's report without failing to open.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::db::{is_unique_violation, write_tx};
use platform::files::{self, FileType, SealedFiles};
use platform::pagination::{Page, Paged};
use platform::schema::{bookings as b, health_reports as r, programs as p};
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ledger;
use crate::vocab::{BookingStatus, LedgerKind, ProgramKind};

fn summary_context(booking_id: i64) -> String {
    format!("health_reports.summary:{booking_id}")
}

fn pdf_context(key: &str) -> String {
    format!("health_reports.pdf:{key}")
}

/// Reports at rest: the sealed file store of the PDFs, whose data key also seals the summaries.
#[derive(Clone)]
pub struct Reports {
    files: SealedFiles,
}

impl Reports {
    pub fn new(files: SealedFiles) -> Reports {
        Reports { files }
    }

    /// The key summaries are sealed with, for the queries below.
    pub fn protector(&self) -> &DataProtector {
        self.files.protector()
    }

    /// Seals and stores a PDF under a new key; returns the key.
    async fn put_pdf(&self, booking_id: i64, bytes: Vec<u8>) -> Result<String> {
        let key = files::new_key(&format!("report-{booking_id}"), "pdf");
        let context = pdf_context(&key);
        self.files.put(key.clone(), context, bytes).await?;
        Ok(key)
    }

    async fn get_pdf(&self, key: String) -> Result<Vec<u8>> {
        let context = pdf_context(&key);
        self.files.get(key, context).await
    }

    /// The use case: attaches (or replaces) the report of a checked-in booking, as staff of its
    /// program's subtree. The PDF is stored before the row that points to it; a PDF the new row
    /// replaced is deleted once that row has committed.
    pub async fn attach(
        &self,
        db: &Db,
        user: AuthUser,
        actor: Actor,
        booking_id: i64,
        summary: Summary,
        pdf: Option<Vec<u8>>,
    ) -> Result<ReportView> {
        // Scope and state first, so nothing is stored for a refused request.
        let checking = user.clone();
        db.run(move |conn| reportable(conn, &checking, booking_id))
            .await?;
        let pdf_key = match pdf {
            Some(bytes) => Some(self.put_pdf(booking_id, bytes).await?),
            None => None,
        };
        let protector = self.protector().clone();
        let key = pdf_key.clone();
        let (view, replaced) = db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let (report_id, account_id, replaced) =
                        save(conn, &protector, &user, &actor, booking_id, &summary, key)?;
                    Ok((mine_one(conn, &protector, account_id, report_id)?, replaced))
                })
            })
            .await?;
        if let Some(old) = replaced {
            self.files.delete_quietly(old).await;
        }
        Ok(view)
    }

    /// Seals in place the reports that versions before this one stored in clear: a summary in clear
    /// is JSON and starts with `{`, which base64 never does, and a PDF in clear starts with
    /// `%PDF-`. Runs at startup before any request; a sweep stopped halfway, or run by two
    /// instances at once, leaves nothing the next one cannot finish. Returns the rows sealed.
    pub fn seal_clear(&self, conn: &mut DbConn) -> anyhow::Result<usize> {
        let mut sealed = 0;
        loop {
            let rows: Vec<(i64, i64, String, Option<String>)> = r::table
                .filter(r::summary.like("{%"))
                .select((r::id, r::booking_id, r::summary, r::pdf_key))
                .order(r::id)
                .limit(100)
                .load(conn)?;
            if rows.is_empty() {
                return Ok(sealed);
            }
            for (id, booking_id, clear, pdf_key) in rows {
                // The file first: once the row is sealed, nothing looks at its file again.
                if let Some(key) = pdf_key {
                    self.seal_clear_pdf(&key)?;
                }
                let summary = self
                    .protector()
                    .seal(&summary_context(booking_id), clear.as_bytes());
                sealed += diesel::update(r::table.find(id).filter(r::summary.eq(&clear)))
                    .set(r::summary.eq(summary))
                    .execute(conn)?;
            }
        }
    }

    fn seal_clear_pdf(&self, key: &str) -> anyhow::Result<()> {
        let store = self.files.store();
        match store.get(key) {
            Ok(bytes) if bytes.starts_with(b"%PDF-") => {
                let sealed = self.protector().seal(&pdf_context(key), &bytes);
                store.put(key, sealed.as_bytes())
            }
            // Sealed already, by a sweep that stopped before sealing its row.
            Ok(_) => Ok(()),
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                tracing::warn!(key, "a report PDF to seal is missing");
                Ok(())
            }
            Err(e) => Err(e.context(format!("sealing report PDF {key}"))),
        }
    }

    /// The PDF of the caller's own report.
    pub async fn my_pdf(&self, db: &Db, account_id: i64, id: i64) -> Result<Vec<u8>> {
        let key = db.run(move |conn| my_pdf_key(conn, account_id, id)).await?;
        self.get_pdf(key).await
    }
}

/// The summary of a health check. Free text stays short; numbers are what the truck measures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    #[schema(minimum = 30, maximum = 260)]
    pub height_cm: Option<f64>,
    #[schema(minimum = 2, maximum = 400)]
    pub weight_kg: Option<f64>,
    /// e.g. "120/80".
    #[schema(max_length = 16)]
    pub blood_pressure: Option<String>,
    #[schema(minimum = 20, maximum = 300)]
    pub heart_rate_bpm: Option<i32>,
    #[schema(minimum = 0.5, maximum = 60)]
    pub blood_glucose_mmol_l: Option<f64>,
    /// The doctor's conclusion, up to 2000 characters (lines allowed).
    #[schema(schema_with = conclusion_schema)]
    pub conclusion: String,
    #[schema(max_length = 2000)]
    pub advice: Option<String>,
}

/// The conclusion's rule as a schema: 1 to 2000 characters, not all blank.
fn conclusion_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(2000))
        .pattern(Some(platform::text::NOT_BLANK_PATTERN))
        .build()
}

impl Summary {
    pub fn validate(self) -> Result<Summary> {
        let bad = |field| Err(Error::invalid(ErrorCode::InvalidField, field));
        if self.conclusion.trim().is_empty() || self.conclusion.chars().count() > 2000 {
            return bad("summary.conclusion");
        }
        if self
            .advice
            .as_ref()
            .is_some_and(|a| a.chars().count() > 2000)
        {
            return bad("summary.advice");
        }
        if self
            .blood_pressure
            .as_ref()
            .is_some_and(|bp| bp.chars().count() > 16)
        {
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

/// The PDF of a report as sent (base64), checked: a whole PDF (`unsupported_file` otherwise)
/// of at most [`PDF_LIMIT`] bytes (`file_too_large`).
pub fn decode_pdf(base64_text: &str) -> Result<Vec<u8>> {
    let upload = files::Upload::check(
        "report.pdf",
        base64_text,
        "pdf_base64",
        &[FileType::Pdf],
        PDF_LIMIT,
    )?;
    Ok(upload.bytes)
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

/// The booking a report may be attached to by `user`: one of a program in the caller's subtree
/// (anyone not staff gets 403 first), then checked in. Scope comes before state, so outside the
/// subtree every booking, in any state or none, is the same `not_found`. Returns (account,
/// program).
pub fn reportable(conn: &mut DbConn, user: &AuthUser, booking_id: i64) -> Result<(i64, i64)> {
    staff::require_any(conn, user)?;
    let (account_id, program_id, status, org_id, kind): (i64, i64, String, i64, String) = b::table
        .inner_join(p::table.on(p::id.eq(b::program_id)))
        .filter(b::id.eq(booking_id))
        .select((b::account_id, b::program_id, b::status, p::org_id, p::kind))
        .first(conn)?;
    staff::require(conn, user, org_id)?;
    // A health report belongs to a health check, not to a lawyer's consultation.
    if kind != ProgramKind::HealthCheck.as_str() {
        return Err(Error::new(ErrorCode::WrongProgramKind));
    }
    if status != BookingStatus::CheckedIn.as_str() {
        return Err(Error::new(ErrorCode::BookingNotActive));
    }
    Ok((account_id, program_id))
}

/// Writes the report row of a checked-in booking, its summary sealed. Returns the report id,
/// the member's account and the PDF key the row pointed to before, if it changed.
fn save(
    conn: &mut DbConn,
    protector: &DataProtector,
    user: &AuthUser,
    actor: &Actor,
    booking_id: i64,
    summary: &Summary,
    pdf_key: Option<String>,
) -> Result<(i64, i64, Option<String>)> {
    let (account_id, program_id) = reportable(conn, user, booking_id)?;
    let clear = serde_json::to_string(summary).map_err(Error::internal)?;
    let row = NewRow {
        booking_id,
        account_id,
        program_id,
        summary: protector.seal(&summary_context(booking_id), clear.as_bytes()),
        pdf_key,
        by: user.account_id,
    };
    let (id, replaced) = upsert(conn, &row)?;
    ledger::append(
        conn,
        account_id,
        program_id,
        LedgerKind::ReportAttached,
        Some(id),
    )?;
    let org_id: i64 = p::table.find(program_id).select(p::org_id).first(conn)?;
    let entry = Entry::new(Action::ReportAttach, Record::new("report", id))
        .in_org(org_id)
        .about(account_id);
    audit::record(conn, actor, entry)?;
    Ok((
        id,
        account_id,
        replaced.filter(|old| Some(old) != row.pdf_key.as_ref()),
    ))
}

struct NewRow {
    booking_id: i64,
    account_id: i64,
    program_id: i64,
    summary: String,
    pdf_key: Option<String>,
    by: i64,
}

/// Inserts or replaces the row; returns its id and the PDF key it had. The replacement is
/// conditional on that key, so of two staff replacing one report at once each learns the key
/// it really replaced: every superseded PDF is deleted, and only those.
fn upsert(conn: &mut DbConn, row: &NewRow) -> Result<(i64, Option<String>)> {
    let now = platform::clock::now();
    loop {
        let existing: Option<(i64, Option<String>)> = r::table
            .filter(r::booking_id.eq(row.booking_id))
            .select((r::id, r::pdf_key))
            .first(conn)
            .optional()?;
        let Some((id, old_key)) = existing else {
            // A savepoint, so that losing the race to insert does not abort the transaction.
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(r::table)
                    .values((
                        r::booking_id.eq(row.booking_id),
                        r::account_id.eq(row.account_id),
                        r::program_id.eq(row.program_id),
                        r::summary.eq(&row.summary),
                        r::pdf_key.eq(&row.pdf_key),
                        r::created_by.eq(row.by),
                        r::created_at.eq(now),
                    ))
                    .returning(r::id)
                    .get_result(conn)
            });
            match inserted {
                Ok(id) => return Ok((id, None)),
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let values = (
            r::summary.eq(&row.summary),
            r::pdf_key.eq(&row.pdf_key),
            r::created_by.eq(row.by),
            r::created_at.eq(now),
        );
        let target = r::table.filter(r::id.eq(id));
        let done = match &old_key {
            Some(old) => diesel::update(target.filter(r::pdf_key.eq(old)))
                .set(values)
                .execute(conn)?,
            None => diesel::update(target.filter(r::pdf_key.is_null()))
                .set(values)
                .execute(conn)?,
        };
        if done == 1 {
            return Ok((id, old_key));
        }
    }
}

/// A new storage key for a report PDF.
type Row = (i64, i64, i64, String, String, Option<String>, NaiveDateTime);

fn view_of(protector: &DataProtector, row: Row) -> Result<ReportView> {
    let (id, booking_id, program_id, program_title, sealed, pdf_key, created_at) = row;
    let clear = protector
        .open(&summary_context(booking_id), &sealed)
        .map_err(Error::internal)?;
    Ok(ReportView {
        id,
        booking_id,
        program_id,
        program_title,
        summary: serde_json::from_slice(&clear).map_err(Error::internal)?,
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
pub fn mine_one(
    conn: &mut DbConn,
    protector: &DataProtector,
    account_id: i64,
    id: i64,
) -> Result<ReportView> {
    let row: Row = r::table
        .inner_join(p::table.on(p::id.eq(r::program_id)))
        .filter(r::id.eq(id))
        .filter(r::account_id.eq(account_id))
        .select(columns!())
        .first(conn)?;
    view_of(protector, row)
}

pub fn mine(
    conn: &mut DbConn,
    protector: &DataProtector,
    account_id: i64,
    page: Page,
) -> Result<Paged<ReportView>> {
    let rows: Vec<Row> = r::table
        .inner_join(p::table.on(p::id.eq(r::program_id)))
        .filter(r::account_id.eq(account_id))
        .filter(r::id.lt(page.before.unwrap_or(i64::MAX)))
        .order(r::id.desc())
        .limit(page.limit + 1)
        .select(columns!())
        .load(conn)?;
    let views = rows
        .into_iter()
        .map(|row| view_of(protector, row))
        .collect::<Result<Vec<_>>>()?;
    Ok(Paged::from_rows(views, page, |v| v.id))
}

/// The storage key of the caller's own report PDF.
fn my_pdf_key(conn: &mut DbConn, account_id: i64, id: i64) -> Result<String> {
    let key: Option<String> = r::table
        .filter(r::id.eq(id))
        .filter(r::account_id.eq(account_id))
        .select(r::pdf_key)
        .first(conn)?;
    key.ok_or_else(|| Error::new(ErrorCode::NotFound))
}

impl Reports {
    /// Deletes a stored PDF at once, for a caller that has removed the row pointing to it and
    /// committed (erasure: see `personal_data`).
    pub fn delete_pdf_now(&self, key: &str) -> anyhow::Result<()> {
        self.files.delete_now(key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use platform::files::memory::MemoryStore;
    use platform::files::FileStore;

    use super::*;

    fn reports() -> (Arc<MemoryStore>, Reports) {
        let memory = Arc::new(MemoryStore::default());
        let files = SealedFiles::new(memory.clone(), DataProtector::new(&[3u8; 32]));
        (memory, Reports::new(files))
    }

    #[tokio::test]
    async fn a_pdf_is_stored_sealed_to_its_key_so_a_swapped_file_does_not_open() {
        let (memory, reports) = reports();
        let pdf = b"%PDF-1.4 marker-one".to_vec();
        let one = reports.put_pdf(1, pdf.clone()).await.unwrap();
        let two = reports
            .put_pdf(2, b"%PDF-1.4 marker-two".to_vec())
            .await
            .unwrap();
        let stored = memory.get(&one).unwrap();
        assert!(!String::from_utf8_lossy(&stored).contains("marker-one"));
        assert_eq!(reports.get_pdf(one).await.unwrap(), pdf);
        memory.put(&two, &stored).unwrap();
        let swapped = reports.get_pdf(two).await.unwrap_err();
        assert_eq!(swapped.code(), ErrorCode::Internal);
    }

    #[test]
    fn a_pdf_in_clear_is_sealed_once_and_a_missing_one_is_skipped() {
        let (memory, reports) = reports();
        let pdf = b"%PDF-1.4 marker-clear".to_vec();
        memory.put("report-1-a.pdf", &pdf).unwrap();
        reports.seal_clear_pdf("report-1-a.pdf").unwrap();
        let sealed = memory.get("report-1-a.pdf").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("marker-clear"));
        // A second sweep leaves it as it is, and a file that is gone is no error.
        reports.seal_clear_pdf("report-1-a.pdf").unwrap();
        assert_eq!(memory.get("report-1-a.pdf").unwrap(), sealed);
        reports.seal_clear_pdf("report-2-b.pdf").unwrap();
        let opened = reports
            .protector()
            .open(
                &pdf_context("report-1-a.pdf"),
                std::str::from_utf8(&sealed).unwrap(),
            )
            .unwrap();
        assert_eq!(opened, pdf);
    }
}
