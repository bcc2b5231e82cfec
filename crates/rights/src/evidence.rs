//! Evidence: photos, screenshots of orders, PDFs a claimant hands in. The bytes go sealed into
//! the platform's file store under a random key before the row that names them is written;
//! the name the phone sent is sealed too and only ever shown.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::{sha256_hex, DataProtector};
use platform::files::{self, Download, SealedFiles, Upload};
use platform::schema::case_evidence as ev;
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cases::{self, Reader};
use crate::claimants;
use crate::queue;
use crate::timeline;
use crate::vocab::CaseEventKind;

/// Most files one case holds.
pub const FILES_PER_CASE: i64 = 20;

/// A file of a case as its list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceView {
    pub id: i64,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the file, so both sides can tell they hold the same one.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    /// Whether the reader handed it in.
    pub yours: bool,
}

fn name_context(file_key: &str) -> String {
    format!("case_evidence.name:{file_key}")
}

fn file_context(file_key: &str) -> String {
    format!("case_evidence.file:{file_key}")
}

type Row = (
    i64,
    Option<i64>,
    String,
    String,
    i64,
    String,
    String,
    NaiveDateTime,
);

pub(crate) fn of_case(
    conn: &mut DbConn,
    protector: &DataProtector,
    case_id: i64,
    reader: Reader,
) -> Result<Vec<EvidenceView>> {
    let rows: Vec<Row> = ev::table
        .filter(ev::case_id.eq(case_id))
        .select((
            ev::id,
            ev::uploaded_by,
            ev::name,
            ev::media_type,
            ev::size_bytes,
            ev::sha256,
            ev::file_key,
            ev::created_at,
        ))
        .order(ev::id)
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, by, name, media_type, size_bytes, sha256, key, created_at)| {
                let name = protector
                    .open(&name_context(&key), &name)
                    .map_err(Error::internal)?;
                Ok(EvidenceView {
                    id,
                    name: String::from_utf8(name).map_err(Error::internal)?,
                    media_type,
                    size_bytes,
                    sha256,
                    created_at: created_at.and_utc(),
                    yours: by.is_some_and(|by| reader == Reader::Claimant(by)),
                })
            },
        )
        .collect()
}

/// The use case: claimant `account_id` adds a file to their open case. The file is stored
/// first; when the row cannot be written (the case closed meanwhile, or holds 20 files) it is
/// deleted again.
pub async fn add(
    db: &Db,
    files: &SealedFiles,
    (account_id, actor): (i64, Actor),
    case_id: i64,
    upload: Upload,
) -> Result<EvidenceView> {
    db.run(move |conn| claimants::require(conn, case_id, account_id))
        .await?;
    let key = files::new_key(&format!("evidence-{case_id}"), upload.file_type.extension());
    let sha256 = sha256_hex(&upload.bytes);
    let size = upload.bytes.len() as i64;
    files
        .put(key.clone(), file_context(&key), upload.bytes)
        .await?;
    let protector = files.protector().clone();
    let stored = key.clone();
    let written = db
        .write(move |conn| {
            let case = cases::lock(conn, case_id)?;
            if !case.state.is_open() {
                return Err(Error::new(ErrorCode::CaseClosed));
            }
            let held: i64 = ev::table
                .filter(ev::case_id.eq(case_id))
                .count()
                .get_result(conn)?;
            if held >= FILES_PER_CASE {
                return Err(Error::new(ErrorCode::EvidenceLimit));
            }
            let name = protector.seal(&name_context(&stored), upload.name.as_bytes());
            diesel::insert_into(ev::table)
                .values((
                    ev::case_id.eq(case_id),
                    ev::uploaded_by.eq(account_id),
                    ev::name.eq(name),
                    ev::media_type.eq(upload.file_type.media_type()),
                    ev::size_bytes.eq(size),
                    ev::sha256.eq(&sha256),
                    ev::file_key.eq(&stored),
                    ev::created_at.eq(platform::clock::now()),
                ))
                .execute(conn)?;
            let note = Some(upload.name.as_str());
            timeline::append(
                conn,
                &protector,
                case_id,
                Some(account_id),
                CaseEventKind::EvidenceAdded,
                note,
            )?;
            let entry = Entry::new(Action::EvidenceAdd, Record::new("case", case_id))
                .in_org(case.org_id)
                .about(account_id);
            audit::record(conn, &actor, entry)?;
            let mut views = of_case(conn, &protector, case_id, Reader::Claimant(account_id))?;
            views
                .pop()
                .ok_or_else(|| Error::internal(anyhow::anyhow!("evidence not written")))
        })
        .await;
    if written.is_err() {
        files.delete_quietly(key).await;
    }
    written
}

/// The key, type and sealed name of file `evidence_id` of case `case_id`.
fn stored(conn: &mut DbConn, case_id: i64, evidence_id: i64) -> Result<(String, String, String)> {
    Ok(ev::table
        .filter(ev::id.eq(evidence_id))
        .filter(ev::case_id.eq(case_id))
        .select((ev::file_key, ev::media_type, ev::name))
        .first(conn)?)
}

async fn fetch(files: &SealedFiles, found: (String, String, String)) -> Result<Download> {
    let contexts = (name_context(&found.0), file_context(&found.0));
    files.download(found, contexts).await
}

/// The use case: a claimant downloads a file of their case.
pub async fn for_claimant(
    db: &Db,
    files: &SealedFiles,
    account_id: i64,
    case_id: i64,
    evidence_id: i64,
) -> Result<Download> {
    let found = db
        .run(move |conn| {
            claimants::require(conn, case_id, account_id)?;
            stored(conn, case_id, evidence_id)
        })
        .await?;
    fetch(files, found).await
}

/// The use case: staff of the case's subtree download a file; recorded in the audit log.
pub async fn for_staff(
    db: &Db,
    files: &SealedFiles,
    (user, actor): (AuthUser, Actor),
    case_id: i64,
    evidence_id: i64,
) -> Result<Download> {
    let found = db
        .run(move |conn| {
            let case = queue::in_scope(conn, &user, case_id)?;
            let found = stored(conn, case_id, evidence_id)?;
            let entry = Entry::new(
                Action::EvidenceDownload,
                Record::new("case_evidence", evidence_id),
            )
            .in_org(case.org_id);
            let entry = match case.filed_by {
                Some(filer) => entry.about(filer),
                None => entry,
            };
            audit::record(conn, &actor, entry)?;
            Ok(found)
        })
        .await?;
    fetch(files, found).await
}
