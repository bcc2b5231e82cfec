//! Transfers: a member moves to another org by scanning its code. The move is an application
//! like a first join (see [`crate::applications`]); the old period ends only when the new one
//! starts, so a member is never without a union while the new one reviews them.

use diesel::prelude::*;
use platform::clock::now;
use platform::schema::memberships as ms;
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::applications::{self, Details, Outcome, Row};
use crate::join_codes::{self, JoinCode};
use crate::orgs;
use crate::vocab::{EventKind, Occupation, Status};

/// The end reason the system itself writes on a transfer: a code, not the member's words, and
/// what tells transfers from departures (erasure keeps it, see [`crate::personal_data`]).
pub(crate) const TRANSFERRED: &str = "transferred";

/// What a transfer changes of the current details; each left out stays as it is.
#[derive(Debug, Clone, Default)]
pub struct DetailChanges {
    pub occupation: Option<Occupation>,
    pub platform: Option<String>,
    pub work_city: Option<String>,
}

impl DetailChanges {
    fn over(self, current: Details) -> Details {
        Details {
            occupation: self.occupation.unwrap_or(current.occupation),
            platform: self.platform.unwrap_or(current.platform),
            work_city: self.work_city.unwrap_or(current.work_city),
        }
    }
}

// The body of `POST /v1/me/membership/transfer`; not a doc comment, which would become
// the schema description in the spec.
#[derive(Deserialize, ToSchema)]
pub struct TransferRequest {
    pub join_code: String,
    /// Each of these three defaults to the current membership's.
    pub occupation: Option<Occupation>,
    pub platform: Option<Text<40>>,
    pub work_city: Option<Text<40>>,
}

impl TransferRequest {
    /// The code to move through and what changes; a code not shaped like one is
    /// `join_code_unknown`, as an unknown code is.
    pub fn validate(self) -> Result<(JoinCode, DetailChanges)> {
        let code = JoinCode::parse(&self.join_code)?;
        let changes = DetailChanges {
            occupation: self.occupation,
            platform: self.platform.map(Text::into_inner),
            work_city: self.work_city.map(Text::into_inner),
        };
        Ok((code, changes))
    }
}

/// The use case: a member applies to the org of `code`; the old period ends when the new one
/// starts (at once with an auto-approving code, else on approval).
pub fn transfer(
    conn: &mut DbConn,
    account_id: i64,
    code: &JoinCode,
    changes: DetailChanges,
) -> Result<Outcome> {
    identity::accounts::lock(conn, account_id)?;
    let code = join_codes::find(conn, code)?;
    let Some(active) = applications::with_status(conn, account_id, Status::Active)? else {
        return Err(Error::new(ErrorCode::NotAMember));
    };
    // The same request again (double tap, retry after a lost response): the same answer.
    if active.join_code_id == Some(code.id) {
        return Ok(Outcome::Existing(applications::view(conn, active.id)?));
    }
    if let Some(pending) = applications::with_status(conn, account_id, Status::Pending)? {
        return if pending.join_code_id == Some(code.id) {
            Ok(Outcome::Existing(applications::view(conn, pending.id)?))
        } else {
            Err(Error::new(ErrorCode::ApplicationPending))
        };
    }
    if active.org_id == code.org_id {
        return Err(Error::new(ErrorCode::AlreadyInOrg));
    }
    join_codes::take_use(conn, &code)?;
    let details = changes.over(active.details);
    let application = applications::apply(conn, account_id, &code, details)?;
    if code.auto_approve {
        applications::activate(conn, &application, None)?;
    }
    Ok(Outcome::Created(applications::view(conn, application.id)?))
}

/// Ends the account's current period, if any, as `application` is about to start: a first
/// join has none, a transfer has the one it moves from.
pub(crate) fn end_previous(conn: &mut DbConn, application: &Row) -> Result<()> {
    let Some(current) = applications::with_status(conn, application.account_id, Status::Active)?
    else {
        return Ok(());
    };
    let to = orgs::reference(conn, application.org_id)?;
    diesel::update(ms::table.find(current.id))
        .set((
            ms::status.eq(Status::Ended.as_str()),
            ms::ended_at.eq(now()),
            ms::end_reason.eq(TRANSFERRED),
        ))
        .execute(conn)?;
    applications::record(conn, &current, EventKind::TransferredOut, Some(&to.name))
}
