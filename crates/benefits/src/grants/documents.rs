//! The documents an applicant hands in with an application (the terms say which: screenshots of
//! the orders, a diagnosis, a notice of dismissal), while it is still undecided. The bytes go
//! sealed into the platform's file store under a random key before the row that names them is
//! written (and are deleted again when the row cannot be); the name the phone sent is sealed
//! too and only ever shown. Staff downloads are in the audit log.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::{sha256_hex, DataProtector};
use platform::files::{self, Download, SealedFiles, Upload};
use platform::schema::grant_documents as gd;
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use super::review;
use super::timeline;
use super::views;
use super::vocab::{GrantEventKind, GrantState};

/// Most documents one application holds.
pub const DOCUMENTS_PER_APPLICATION: i64 = 10;

/// The sealed store of grant documents.
#[derive(Clone)]
pub struct GrantFiles(pub SealedFiles);

/// A document as the application lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantDocumentView {
    pub id: i64,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the file.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

fn name_context(file_key: &str) -> String {
    format!("grant_documents.name:{file_key}")
}

fn file_context(file_key: &str) -> String {
    format!("grant_documents.file:{file_key}")
}

type Row = (i64, String, String, i64, String, String, NaiveDateTime);

pub(crate) fn of_application(
    conn: &mut DbConn,
    protector: &DataProtector,
    application_id: i64,
) -> Result<Vec<GrantDocumentView>> {
    let rows: Vec<Row> = gd::table
        .filter(gd::application_id.eq(application_id))
        .select((
            gd::id,
            gd::name,
            gd::media_type,
            gd::size_bytes,
            gd::sha256,
            gd::file_key,
            gd::created_at,
        ))
        .order(gd::id)
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, name, media_type, size_bytes, sha256, key, created_at)| {
                let name = protector
                    .open(&name_context(&key), &name)
                    .map_err(Error::internal)?;
                Ok(GrantDocumentView {
                    id,
                    name: String::from_utf8(name).map_err(Error::internal)?,
                    media_type,
                    size_bytes,
                    sha256,
                    created_at: created_at.and_utc(),
                })
            },
        )
        .collect()
}

/// The application `id` if `account_id` applied with it (`not_found` otherwise).
fn own(conn: &mut DbConn, account_id: i64, id: i64) -> Result<views::ApplicationRow> {
    let row = views::load(conn, id)?;
    if row.account_id != Some(account_id) {
        return Err(Error::new(ErrorCode::NotFound));
    }
    Ok(row)
}

/// The use case: the applicant adds a document to their undecided application.
pub async fn add(
    db: &Db,
    files: &GrantFiles,
    (account_id, actor): (i64, Actor),
    id: i64,
    upload: Upload,
) -> Result<GrantDocumentView> {
    db.run(move |conn| own(conn, account_id, id)).await?;
    let files = &files.0;
    let key = files::new_key(&format!("grant-{id}"), upload.file_type.extension());
    let sha256 = sha256_hex(&upload.bytes);
    let size = upload.bytes.len() as i64;
    files
        .put(key.clone(), file_context(&key), upload.bytes)
        .await?;
    let protector = files.protector().clone();
    let stored = key.clone();
    let written = db
        .write(move |conn| {
            let row = views::lock(conn, id)?;
            if !GrantState::PENDING.contains(&row.state.as_str()) {
                return Err(Error::new(ErrorCode::GrantWrongState));
            }
            let held: i64 = gd::table
                .filter(gd::application_id.eq(id))
                .count()
                .get_result(conn)?;
            if held >= DOCUMENTS_PER_APPLICATION {
                return Err(Error::new(ErrorCode::DocumentLimit));
            }
            let name = protector.seal(&name_context(&stored), upload.name.as_bytes());
            diesel::insert_into(gd::table)
                .values((
                    gd::application_id.eq(id),
                    gd::name.eq(name),
                    gd::media_type.eq(upload.file_type.media_type()),
                    gd::size_bytes.eq(size),
                    gd::sha256.eq(&sha256),
                    gd::file_key.eq(&stored),
                    gd::created_at.eq(platform::clock::now()),
                ))
                .execute(conn)?;
            let kind = GrantEventKind::DocumentAdded;
            timeline::append(conn, &protector, id, None, kind, Some(&upload.name))?;
            let entry = Entry::new(
                Action::GrantDocumentAdd,
                Record::new("grant_application", id),
            )
            .in_org(row.org_id)
            .about(account_id);
            audit::record(conn, &actor, entry)?;
            let mut views = of_application(conn, &protector, id)?;
            views
                .pop()
                .ok_or_else(|| Error::internal(anyhow::anyhow!("document not written")))
        })
        .await;
    if written.is_err() {
        files.delete_quietly(key).await;
    }
    written
}

/// The key, type and sealed name of document `document_id` of application `id`.
fn stored(conn: &mut DbConn, id: i64, document_id: i64) -> Result<(String, String, String)> {
    Ok(gd::table
        .filter(gd::id.eq(document_id))
        .filter(gd::application_id.eq(id))
        .select((gd::file_key, gd::media_type, gd::name))
        .first(conn)?)
}

async fn fetch(files: &GrantFiles, found: (String, String, String)) -> Result<Download> {
    let contexts = (name_context(&found.0), file_context(&found.0));
    files.0.download(found, contexts).await
}

/// The use case: the applicant downloads one of their documents.
pub async fn for_applicant(
    db: &Db,
    files: &GrantFiles,
    account_id: i64,
    (id, document_id): (i64, i64),
) -> Result<Download> {
    let found = db
        .run(move |conn| {
            own(conn, account_id, id)?;
            stored(conn, id, document_id)
        })
        .await?;
    fetch(files, found).await
}

/// The use case: staff of the application's subtree download a document; audited.
pub async fn for_staff(
    db: &Db,
    files: &GrantFiles,
    (user, actor): (AuthUser, Actor),
    (id, document_id): (i64, i64),
) -> Result<Download> {
    let found = db
        .run(move |conn| {
            let row = review::in_scope(conn, &user, id)?;
            let found = stored(conn, id, document_id)?;
            let record = Record::new("grant_document", document_id);
            let entry = Entry::new(Action::GrantDocumentDownload, record).in_org(row.org_id);
            let entry = match row.account_id {
                Some(account) => entry.about(account),
                None => entry,
            };
            audit::record(conn, &actor, entry)?;
            Ok(found)
        })
        .await?;
    fetch(files, found).await
}

/// Erasure: the documents of `account_id`'s applications go, rows now and files after the
/// commit.
pub(crate) fn erase(conn: &mut DbConn, account_id: i64) -> Result<Vec<String>> {
    use platform::schema::grant_applications as ga;
    let theirs = ga::table
        .filter(ga::account_id.eq(account_id))
        .select(ga::id);
    Ok(
        diesel::delete(gd::table.filter(gd::application_id.eq_any(theirs)))
            .returning(gd::file_key)
            .get_results(conn)?,
    )
}
