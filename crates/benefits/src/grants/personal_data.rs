//! What grants hold about a member, for the member's rights (PIPL Art. 45, 47): their
//! applications as they read them, and erasure. An application still pending is withdrawn
//! (rejected), so no one who is gone is paid, and one approved but not paid yet is withdrawn
//! with its money back in the budget; a decided one keeps its amount and state for the budget
//! and the figures. What identifies the household goes (names, ID numbers, the card,
//! the declaration, notes they are the subject of); the keyed hashes stay until the program's
//! end so the household cannot be paid twice in it, and they identify no one without the key.

use diesel::prelude::*;
use platform::crypto::DataProtector;
use platform::rights::{AfterCommit, PersonalData};
use platform::schema::{grant_applications as ga, grant_events as ge, grant_household as gh};
use platform::{DbConn, Error, Result};
use serde_json::{json, Value};

use super::documents::{self, GrantFiles};
use super::vocab::GrantState;
use super::{payments, views};

/// Grants' part of the member's data; the sealed fields need the data key.
#[derive(Clone)]
pub struct GrantsData {
    protector: DataProtector,
    files: GrantFiles,
}

impl GrantsData {
    pub fn new(files: GrantFiles) -> GrantsData {
        GrantsData {
            protector: files.0.protector().clone(),
            files,
        }
    }
}

impl PersonalData for GrantsData {
    fn domain(&self) -> &'static str {
        "grants"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "grant_applications",
            "grant_household",
            "grant_events",
            "grant_payments",
            "grant_documents",
        ]
    }

    fn export(&self, conn: &mut DbConn, account_id: i64) -> Result<Value> {
        let applications = views::mine(conn, &self.protector, account_id)?;
        serde_json::to_value(json!({ "applications": applications })).map_err(Error::internal)
    }

    fn erase(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<AfterCommit>> {
        // First, while the applications still name the account.
        let keys = documents::erase(conn, account_id)?;
        let theirs = ga::table
            .filter(ga::account_id.eq(account_id))
            .select(ga::id);
        diesel::update(gh::table.filter(gh::application_id.eq_any(theirs)))
            .set((gh::id_enc.eq(""), gh::name_enc.eq("")))
            .execute(conn)?;
        let theirs = ga::table
            .filter(ga::account_id.eq(account_id))
            .select(ga::id);
        diesel::update(ge::table.filter(ge::application_id.eq_any(theirs)))
            .set(ge::note.eq(None::<String>))
            .execute(conn)?;
        diesel::update(
            ga::table
                .filter(ga::account_id.eq(account_id))
                .filter(ga::state.eq_any(GrantState::PENDING)),
        )
        .set(ga::state.eq(GrantState::Rejected.as_str()))
        .execute(conn)?;
        payments::withdraw_unpaid(conn, account_id)?;
        diesel::update(ga::table.filter(ga::account_id.eq(account_id)))
            .set((
                ga::account_id.eq(None::<i64>),
                ga::declaration.eq(""),
                ga::applicant_name.eq("—"),
                ga::card_enc.eq(""),
                ga::card_masked.eq("—"),
                ga::bank_name.eq(""),
            ))
            .execute(conn)?;
        // As staff, what they did stays; who they were does not.
        diesel::update(ga::table.filter(ga::decided_by.eq(account_id)))
            .set(ga::decided_by.eq(None::<i64>))
            .execute(conn)?;
        diesel::update(ge::table.filter(ge::actor_id.eq(account_id)))
            .set(ge::actor_id.eq(None::<i64>))
            .execute(conn)?;
        payments::forget_staff(conn, account_id)?;
        Ok(self.files.0.deletions(keys))
    }
}
