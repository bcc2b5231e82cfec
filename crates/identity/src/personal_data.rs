//! What identity holds about a member, for the member's rights (PIPL Art. 15, 45, 47): the
//! copy of it, its erasure, consent records, and the two use cases that end processing:
//! withdrawing the real-name consent, and deleting the account.
//!
//! A deleted account stays as a tombstone row (id and dates, no phone, password or profile):
//! the other domains' anonymous counts keep pointing at it, and nothing in it leads back to the
//! person.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::rights::{AfterCommit, DataRights, PersonalData};
use platform::schema::{
    accounts as a, consents as c, console_sessions as cs, idempotency_keys as ik,
    real_name_profiles as p, refresh_tokens as rt, trusted_browsers as tb,
};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::revocations::Revocations;
use crate::Identity;

/// The purpose a real-name consent is given for.
pub const REAL_NAME: &str = "real_name";

/// One consent record as the member reads it.
#[derive(Debug, Serialize)]
pub struct ConsentRecord {
    pub purpose: String,
    pub version: String,
    pub given_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// Records consent to `version` unless it is already given and not withdrawn.
pub fn give_consent(
    conn: &mut DbConn,
    account_id: i64,
    purpose: &str,
    version: &str,
) -> Result<()> {
    if !consent_is_current(conn, account_id, purpose, version)? {
        diesel::insert_into(c::table)
            .values((
                c::account_id.eq(account_id),
                c::purpose.eq(purpose),
                c::version.eq(version),
                c::given_at.eq(platform::clock::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether the member's standing consent for `purpose` is to `version` (a new policy text
/// asks again).
pub fn consent_is_current(
    conn: &mut DbConn,
    account_id: i64,
    purpose: &str,
    version: &str,
) -> Result<bool> {
    let current: i64 = c::table
        .filter(c::account_id.eq(account_id).and(c::purpose.eq(purpose)))
        .filter(c::version.eq(version).and(c::withdrawn_at.is_null()))
        .count()
        .get_result(conn)?;
    Ok(current > 0)
}

fn withdraw_consents(conn: &mut DbConn, account_id: i64, purpose: Option<&str>) -> Result<()> {
    let open = c::table
        .filter(c::account_id.eq(account_id))
        .filter(c::withdrawn_at.is_null());
    let now = platform::clock::now();
    match purpose {
        Some(purpose) => diesel::update(open.filter(c::purpose.eq(purpose)))
            .set(c::withdrawn_at.eq(now))
            .execute(conn)?,
        None => diesel::update(open)
            .set(c::withdrawn_at.eq(now))
            .execute(conn)?,
    };
    Ok(())
}

fn consents(conn: &mut DbConn, account_id: i64) -> Result<Vec<ConsentRecord>> {
    let rows: Vec<(String, String, NaiveDateTime, Option<NaiveDateTime>)> = c::table
        .filter(c::account_id.eq(account_id))
        .order(c::id.asc())
        .select((c::purpose, c::version, c::given_at, c::withdrawn_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(purpose, version, given_at, withdrawn_at)| ConsentRecord {
            purpose,
            version,
            given_at: given_at.and_utc(),
            withdrawn_at: withdrawn_at.map(|t| t.and_utc()),
        })
        .collect())
}

/// Identity's part of the member's data.
pub struct IdentityData {
    protector: DataProtector,
}

impl IdentityData {
    pub fn new(protector: DataProtector) -> IdentityData {
        IdentityData { protector }
    }

    fn open(&self, context: &str, sealed: &str) -> Result<String> {
        self.protector
            .open(context, sealed)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .ok_or_else(|| Error::internal(anyhow::anyhow!("{context} does not decrypt")))
    }
}

type AccountRow = (String, bool, NaiveDateTime, NaiveDateTime);
type ProfileRow = (String, String, NaiveDateTime, String, NaiveDateTime);

impl PersonalData for IdentityData {
    fn domain(&self) -> &'static str {
        "identity"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "accounts",
            "real_name_profiles",
            "refresh_tokens",
            "console_sessions",
            "web_sessions",
            "trusted_browsers",
            "consents",
            "idempotency_keys",
        ]
    }

    fn export(&self, conn: &mut DbConn, account_id: i64) -> Result<Value> {
        let (phone_enc, is_admin, created_at, password_changed_at): AccountRow = a::table
            .find(account_id)
            .select((
                a::phone_enc,
                a::is_admin,
                a::created_at,
                a::password_changed_at,
            ))
            .first(conn)?;
        let profile: Option<ProfileRow> = p::table
            .find(account_id)
            .select((
                p::legal_name,
                p::id_number_enc,
                p::consent_at,
                p::consent_policy,
                p::updated_at,
            ))
            .first(conn)
            .optional()?;
        let real_name = profile
            .map(|(legal_name, id_enc, consent_at, policy, updated_at)| {
                Ok::<_, Error>(json!({
                    "legal_name": legal_name,
                    "id_number": self.open("id_number", &id_enc)?,
                    "consent_at": consent_at.and_utc(),
                    "consent_policy": policy,
                    "updated_at": updated_at.and_utc(),
                }))
            })
            .transpose()?;
        let sessions: Vec<(NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>)> = rt::table
            .filter(rt::account_id.eq(account_id))
            .filter(rt::rotated_at.is_null())
            .order(rt::id.asc())
            .select((rt::created_at, rt::expires_at, rt::revoked_at))
            .load(conn)?;
        let sessions: Vec<Value> = sessions
            .into_iter()
            .map(|(created, expires, revoked)| {
                json!({ "signed_in_at": created.and_utc(), "expires_at": expires.and_utc(),
                        "revoked_at": revoked.map(|t| t.and_utc()) })
            })
            .collect();
        let console: Vec<(NaiveDateTime, NaiveDateTime, NaiveDateTime)> = cs::table
            .filter(cs::account_id.eq(account_id))
            .filter(cs::second_factor_done.eq(true))
            .order(cs::id.asc())
            .select((cs::created_at, cs::last_seen_at, cs::expires_at))
            .load(conn)?;
        let console: Vec<Value> = console
            .into_iter()
            .map(|(created, seen, expires)| {
                json!({ "signed_in_at": created.and_utc(), "last_seen_at": seen.and_utc(),
                        "expires_at": expires.and_utc() })
            })
            .collect();
        let web: Vec<Value> = crate::web_sessions::of_account(conn, account_id)?
            .into_iter()
            .map(|(created, seen, expires)| {
                json!({ "signed_in_at": created.and_utc(), "last_seen_at": seen.and_utc(),
                        "expires_at": expires.and_utc() })
            })
            .collect();
        Ok(json!({
            "account": {
                "id": account_id,
                "phone": self.open("phone", &phone_enc)?,
                "is_admin": is_admin,
                "created_at": created_at.and_utc(),
                "password_changed_at": password_changed_at.and_utc(),
            },
            "real_name": real_name,
            "consents": consents(conn, account_id)?,
            "sessions": sessions,
            "console_sessions": console,
            "web_sessions": web,
        }))
    }

    fn erase(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<AfterCommit>> {
        diesel::delete(p::table.find(account_id)).execute(conn)?;
        diesel::delete(rt::table.filter(rt::account_id.eq(account_id))).execute(conn)?;
        diesel::delete(cs::table.filter(cs::account_id.eq(account_id))).execute(conn)?;
        diesel::delete(tb::table.filter(tb::account_id.eq(account_id))).execute(conn)?;
        crate::web_sessions::end_all(conn, account_id)?;
        diesel::delete(ik::table.filter(ik::account_id.eq(account_id))).execute(conn)?;
        // The records stay, withdrawn: they show processing had a lawful basis while it lasted.
        withdraw_consents(conn, account_id, None)?;
        Ok(Vec::new())
    }
}

/// The account row that remains: no phone, no password, never signs in again, and a
/// revocation so tokens it still has stop at once.
fn tombstone(conn: &mut DbConn, account_id: i64, at: NaiveDateTime) -> Result<()> {
    diesel::update(a::table.find(account_id))
        .set((
            a::phone_hash.eq(format!("deleted:{account_id}")),
            a::phone_enc.eq(""),
            a::password_hash.eq("!"),
            a::is_admin.eq(false),
            a::deleted_at.eq(at),
        ))
        .execute(conn)?;
    Revocations::revoke(conn, account_id, at)
}

impl Identity {
    /// Withdraws the consent to the real-name profile: the profile is removed, and with it
    /// what needs it (membership ends, see [`PersonalData::real_name_withdrawn`]).
    pub async fn withdraw_real_name(
        &self,
        rights: &DataRights,
        actor: Actor,
        account_id: i64,
    ) -> Result<()> {
        rights
            .real_name_withdrawn(&self.db, account_id, move |conn| {
                let removed = diesel::delete(p::table.find(account_id)).execute(conn)?;
                if removed == 0 {
                    return Err(Error::new(ErrorCode::NotFound));
                }
                withdraw_consents(conn, account_id, Some(REAL_NAME))?;
                let entry = Entry::new(Action::ConsentWithdraw, Record::new("account", account_id));
                audit::record(conn, &actor, entry.about(account_id))
            })
            .await
    }

    /// The member's copy of their data, recorded in the audit log (who, when, from where).
    pub async fn export_data(
        &self,
        rights: &DataRights,
        actor: Actor,
        account_id: i64,
    ) -> Result<serde_json::Map<String, Value>> {
        let parts = rights.export(&self.db, account_id).await?;
        self.db
            .run(move |conn| {
                let entry = Entry::new(Action::DataExport, Record::new("account", account_id));
                audit::record(conn, &actor, entry.about(account_id))
            })
            .await?;
        Ok(parts)
    }

    /// Deletes the account after checking its password again (a stolen access token must not
    /// be enough): every domain erases its part in one transaction, the account becomes a
    /// tombstone, and every token it holds stops working at once, on every instance.
    pub async fn delete_account(
        self: &Arc<Self>,
        rights: &DataRights,
        actor: Actor,
        account_id: i64,
        password: &str,
    ) -> Result<()> {
        self.coord
            .throttle(
                &format!("password_change:{account_id}"),
                self.config.limits.login_per_phone,
            )
            .await?;
        let this = Arc::clone(self);
        let stored = self
            .db
            .run(move |conn| this.password_hash(conn, account_id))
            .await?;
        if !self.hasher.verify(password, Some(stored)).await? {
            return Err(Error::invalid(ErrorCode::WrongPassword, "password"));
        }
        let at = platform::clock::now();
        rights
            .erase(&self.db, account_id, move |conn| {
                tombstone(conn, account_id, at)?;
                // Recorded without any of the data that went.
                let entry = Entry::new(Action::AccountDelete, Record::new("account", account_id));
                audit::record(conn, &actor, entry.about(account_id))
            })
            .await?;
        self.revocations.announce(&self.coord, account_id, at).await;
        tracing::info!(account_id, "account deleted");
        Ok(())
    }
}
