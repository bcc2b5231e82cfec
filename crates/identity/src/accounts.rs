//! Accounts: created from a verified phone, found by the phone's keyed hash.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use platform::db::is_unique_violation;
use platform::schema::accounts as a;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::phone::Phone;
use crate::Identity;

pub const ROLE_WORKER: &str = "worker";
pub const ROLE_STAFF: &str = "staff";
pub const ROLE_ADMIN: &str = "admin";

/// What sign-in needs of an account.
pub struct Credentials {
    pub account_id: i64,
    pub password_hash: String,
    pub is_admin: bool,
}

/// An account as its owner sees it.
pub struct Account {
    pub id: i64,
    pub phone: Phone,
    pub is_admin: bool,
    pub created_at: NaiveDateTime,
}

/// An org an account is staff of.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffScope {
    pub org_id: i64,
    pub org_name: String,
}

/// Takes the account's row lock until the transaction ends, so one account's concurrent
/// writes (a double-tapped submit) run one after the other on PostgreSQL too. A no-op update
/// locks portably: SQLite's `BEGIN IMMEDIATE` already serialises writers.
pub fn lock(conn: &mut DbConn, account_id: i64) -> Result<()> {
    let found = diesel::update(a::table.find(account_id))
        .set(a::is_admin.eq(a::is_admin))
        .execute(conn)?;
    if found == 0 {
        return Err(Error::new(ErrorCode::NotFound));
    }
    Ok(())
}

/// Where staff scopes come from. Membership owns orgs and grants; identity shows the scopes on
/// `/v1/me` and marks tokens with the `staff` role through this hook, so the crates depend on
/// each other in one direction only.
pub type StaffScopes = fn(&mut DbConn, i64) -> Result<Vec<StaffScope>>;

impl Identity {
    pub fn phone_hash(&self, phone: &Phone) -> String {
        self.protector.lookup_hash("phone", phone.as_str())
    }

    /// Inserts an account; `phone_taken` when the number is already registered.
    pub fn insert_account(
        &self,
        conn: &mut DbConn,
        phone: &Phone,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<i64> {
        let now = platform::clock::now();
        let inserted = diesel::insert_into(a::table)
            .values((
                a::phone_hash.eq(self.phone_hash(phone)),
                a::phone_enc.eq(self.protector.seal("phone", phone.as_str().as_bytes())),
                a::password_hash.eq(password_hash),
                a::is_admin.eq(is_admin),
                a::created_at.eq(now),
                a::password_changed_at.eq(now),
            ))
            .returning(a::id)
            .get_result(conn);
        match inserted {
            Ok(id) => Ok(id),
            Err(e) if is_unique_violation(&e) => Err(Error::new(ErrorCode::PhoneTaken)),
            Err(e) => Err(e.into()),
        }
    }

    pub fn credentials(&self, conn: &mut DbConn, phone: &Phone) -> Result<Option<Credentials>> {
        let row: Option<(i64, String, bool)> = a::table
            .filter(a::phone_hash.eq(self.phone_hash(phone)))
            .select((a::id, a::password_hash, a::is_admin))
            .first(conn)
            .optional()?;
        Ok(
            row.map(|(account_id, password_hash, is_admin)| Credentials {
                account_id,
                password_hash,
                is_admin,
            }),
        )
    }

    pub fn load_account(&self, conn: &mut DbConn, id: i64) -> Result<Account> {
        type Row = (i64, String, bool, NaiveDateTime, Option<NaiveDateTime>);
        let (id, phone_enc, is_admin, created_at, deleted_at): Row = a::table
            .find(id)
            .select((
                a::id,
                a::phone_enc,
                a::is_admin,
                a::created_at,
                a::deleted_at,
            ))
            .first(conn)?;
        // Deleted while a token of it was still on its way here.
        if deleted_at.is_some() {
            return Err(Error::new(ErrorCode::Unauthenticated));
        }
        let phone = self.open_phone(&phone_enc, format_args!("account {id}"))?;
        Ok(Account {
            id,
            phone,
            is_admin,
            created_at,
        })
    }

    /// The phone sealed in `accounts.phone_enc`; `whose` names the row in the error.
    pub fn open_phone(&self, sealed: &str, whose: std::fmt::Arguments) -> Result<Phone> {
        self.protector
            .open("phone", sealed)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|s| Phone::parse(&s))
            .ok_or_else(|| Error::internal(anyhow::anyhow!("{whose}: phone does not decrypt")))
    }

    pub fn staff_scopes(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<StaffScope>> {
        match self.staff_scopes {
            Some(scopes) => scopes(conn, account_id),
            None => Ok(Vec::new()),
        }
    }

    /// Every account is a worker; staff and admins are also that. Informational in tokens:
    /// every staff action checks the grants in the database.
    pub fn roles(&self, conn: &mut DbConn, account_id: i64, is_admin: bool) -> Result<Vec<String>> {
        let mut roles = vec![ROLE_WORKER.to_owned()];
        if !self.staff_scopes(conn, account_id)?.is_empty() {
            roles.push(ROLE_STAFF.to_owned());
        }
        if is_admin {
            roles.push(ROLE_ADMIN.to_owned());
        }
        Ok(roles)
    }

    pub fn is_admin(&self, conn: &mut DbConn, id: i64) -> Result<bool> {
        Ok(a::table.find(id).select(a::is_admin).first(conn)?)
    }

    pub fn password_hash(&self, conn: &mut DbConn, id: i64) -> Result<String> {
        Ok(a::table.find(id).select(a::password_hash).first(conn)?)
    }

    pub fn set_password_hash(&self, conn: &mut DbConn, id: i64, hash: &str) -> Result<()> {
        diesel::update(a::table.find(id))
            .set((
                a::password_hash.eq(hash),
                a::password_changed_at.eq(platform::clock::now()),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Creates an admin account, or makes an existing account admin (its password is then
    /// left unchanged). Returns the account id and whether it was created.
    pub async fn ensure_admin(
        self: &Arc<Self>,
        phone: &Phone,
        password: crate::password::Password,
    ) -> Result<(i64, bool)> {
        let hash = self.hasher.hash(password).await?;
        let this = Arc::clone(self);
        let phone = phone.clone();
        self.db
            .run(move |conn| {
                platform::db::write_tx(conn, |conn| {
                    if let Some(existing) = this.credentials(conn, &phone)? {
                        diesel::update(a::table.find(existing.account_id))
                            .set(a::is_admin.eq(true))
                            .execute(conn)?;
                        return Ok((existing.account_id, false));
                    }
                    Ok((this.insert_account(conn, &phone, &hash, true)?, true))
                })
            })
            .await
    }
}
