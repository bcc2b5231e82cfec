//! The real-name profile (实名信息): legal name and resident ID number, given with consent.
//!
//! PIPL: the ID number is stored encrypted, with a keyed hash beside it so one number can belong
//! to one account only, and a masked copy for display. No response ever carries it in full.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::db::is_unique_violation;
use platform::schema::real_name_profiles as p;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::id_number::IdNumber;
use crate::Identity;

/// A legal name as on the ID card: 1 to 60 characters of letters, with the middle dot of
/// minority and transliterated names, spaces, hyphens and periods allowed between them.
#[derive(Debug, Clone)]
pub struct LegalName(String);

impl LegalName {
    pub fn parse(input: &str) -> Result<LegalName> {
        let name = input.trim();
        let len = name.chars().count();
        let ok = (1..=60).contains(&len)
            && name.chars().any(char::is_alphabetic)
            && name
                .chars()
                .all(|c| c.is_alphabetic() || matches!(c, '·' | '•' | ' ' | '-' | '.'));
        if ok {
            Ok(LegalName(name.to_owned()))
        } else {
            Err(Error::invalid(ErrorCode::InvalidLegalName, "legal_name"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The profile as responses show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileView {
    pub legal_name: String,
    /// First 3 and last 4 characters, e.g. `110***********002X`.
    pub id_number_masked: String,
    pub consent_at: DateTime<Utc>,
    /// Version of the personal-information policy consented to.
    pub consent_policy: String,
}

/// The real-name profile as the worker typed it, checked once for the app and the web page:
/// the name, the ID number (checksum and birth date against today), and the consent box.
pub fn parse_profile(
    legal_name: &str,
    id_number: &str,
    consent: Option<bool>,
) -> Result<(LegalName, IdNumber)> {
    let name = LegalName::parse(legal_name)?;
    let number = IdNumber::parse(id_number, platform::clock::today())
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidIdNumber, "id_number"))?;
    if consent != Some(true) {
        return Err(Error::invalid(ErrorCode::ConsentRequired, "consent"));
    }
    Ok((name, number))
}

impl Identity {
    /// Creates or replaces the caller's profile. `id_number_taken` when another account holds
    /// the same ID number. Runs inside a write transaction.
    pub fn save_profile(
        &self,
        conn: &mut DbConn,
        account_id: i64,
        name: &LegalName,
        id_number: &IdNumber,
    ) -> Result<ProfileView> {
        // Without the lock, two parallel first saves by one account would both insert and the
        // loser would be told its own number belongs to someone else.
        crate::accounts::lock(conn, account_id)?;
        let now = platform::clock::now();
        let id_hash = self.protector.lookup_hash("id_number", id_number.as_str());
        let holder: Option<i64> = p::table
            .filter(p::id_number_hash.eq(&id_hash))
            .select(p::account_id)
            .first(conn)
            .optional()?;
        if holder.is_some_and(|holder| holder != account_id) {
            return Err(Error::new(ErrorCode::IdNumberTaken));
        }
        let values = (
            p::legal_name.eq(name.as_str()),
            p::id_number_enc.eq(self
                .protector
                .seal("id_number", id_number.as_str().as_bytes())),
            p::id_number_hash.eq(&id_hash),
            p::id_number_masked.eq(id_number.masked()),
            p::consent_at.eq(now),
            p::consent_policy.eq(&self.config.consent_policy),
            p::updated_at.eq(now),
        );
        let updated = diesel::update(p::table.find(account_id))
            .set(values.clone())
            .execute(conn);
        let written = match updated {
            Ok(0) => diesel::insert_into(p::table)
                .values((p::account_id.eq(account_id), values))
                .execute(conn),
            other => other,
        };
        match written {
            Ok(_) => crate::personal_data::give_consent(
                conn,
                account_id,
                crate::personal_data::REAL_NAME,
                &self.config.consent_policy,
            )?,
            // Another account saved the same number between our check and our write.
            Err(e) if is_unique_violation(&e) => return Err(Error::new(ErrorCode::IdNumberTaken)),
            Err(e) => return Err(e.into()),
        }
        Ok(ProfileView {
            legal_name: name.as_str().to_owned(),
            id_number_masked: id_number.masked(),
            consent_at: now.and_utc(),
            consent_policy: self.config.consent_policy.clone(),
        })
    }

    pub fn load_profile(&self, conn: &mut DbConn, account_id: i64) -> Result<Option<ProfileView>> {
        let row: Option<(String, String, NaiveDateTime, String)> = p::table
            .find(account_id)
            .select((
                p::legal_name,
                p::id_number_masked,
                p::consent_at,
                p::consent_policy,
            ))
            .first(conn)
            .optional()?;
        Ok(row.map(
            |(legal_name, id_number_masked, consent_at, consent_policy)| ProfileView {
                legal_name,
                id_number_masked,
                consent_at: consent_at.and_utc(),
                consent_policy,
            },
        ))
    }
}

/// A legal name as lists and cards show it: the family name, then a `*` per other character
/// (at least one).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    let first: String = chars.next().map(String::from).unwrap_or_default();
    format!("{first}{}", "*".repeat(chars.count().max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_the_family_name() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "李*");
    }

    #[test]
    fn legal_names_accept_real_names_and_refuse_junk() {
        for ok in ["张三", "欧阳娜娜", "迪丽热巴·迪力木拉提", "John Smith"] {
            assert_eq!(LegalName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "   ", "张三1", "<script>", "·", &"张".repeat(61)] {
            assert!(LegalName::parse(bad).is_err(), "{bad}");
        }
    }
}
