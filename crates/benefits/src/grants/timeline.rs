//! Every step of an application, append-only: who took it and the note, sealed. The applicant
//! reads each step in plain words, and the reason of a rejection or a failed payment; staff read
//! every note.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::crypto::DataProtector;
use platform::schema::grant_events as ge;
use platform::{DbConn, Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

use super::vocab::GrantEventKind;
use super::GRANT_DATA;

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantEvent {
    pub kind: GrantEventKind,
    /// The step in plain words (zh-CN).
    pub label: String,
    /// Staff read every note; the applicant the reason of a rejection only.
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

pub(crate) fn append(
    conn: &mut DbConn,
    protector: &DataProtector,
    application_id: i64,
    actor_id: Option<i64>,
    kind: GrantEventKind,
    note: Option<&str>,
) -> Result<i64> {
    let note = note.map(|n| protector.seal(GRANT_DATA, n.as_bytes()));
    Ok(diesel::insert_into(ge::table)
        .values((
            ge::application_id.eq(application_id),
            ge::kind.eq(kind.as_str()),
            ge::actor_id.eq(actor_id),
            ge::note.eq(note),
            ge::at.eq(platform::clock::now()),
        ))
        .returning(ge::id)
        .get_result(conn)?)
}

pub(crate) fn of(
    conn: &mut DbConn,
    protector: &DataProtector,
    application_id: i64,
    staff: bool,
) -> Result<Vec<GrantEvent>> {
    let rows: Vec<(String, Option<String>, NaiveDateTime)> = ge::table
        .filter(ge::application_id.eq(application_id))
        .order(ge::id)
        .select((ge::kind, ge::note, ge::at))
        .load(conn)?;
    rows.into_iter()
        .map(|(kind, note, at)| {
            let kind = GrantEventKind::try_from(kind).map_err(Error::internal)?;
            // The applicant reads why they were refused or not paid: what to answer or correct.
            let shown = staff
                || matches!(
                    kind,
                    GrantEventKind::Rejected | GrantEventKind::PaymentFailed
                );
            let note = match note.filter(|_| shown) {
                Some(sealed) => Some(open(protector, &sealed)?),
                None => None,
            };
            Ok(GrantEvent {
                kind,
                label: kind.label_zh().to_owned(),
                note,
                at: at.and_utc(),
            })
        })
        .collect()
}

/// A sealed grant field in clear; one erased (blank) stays blank.
pub(crate) fn open(protector: &DataProtector, sealed: &str) -> Result<String> {
    if sealed.is_empty() {
        return Ok(String::new());
    }
    let bytes = protector
        .open(GRANT_DATA, sealed)
        .map_err(Error::internal)?;
    String::from_utf8(bytes).map_err(Error::internal)
}
