//! Claimants: the worker who filed, and colleagues who join the same case with its invite code
//! (a dozen riders owed by one contractor file once, not twelve times).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::personal_data::give_consent;
use identity::profile::mask_name;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::db::is_unique_violation;
use platform::money::Fen;
use platform::schema::{case_claimants as cc, cases as c, real_name_profiles as rn};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cases::{self, CaseDetail, Reader};
use crate::timeline;
use crate::vocab::{CaseEventKind, CaseState};
use crate::{RightsConfig, CASE_DATA};

/// Adds a claimant; `already_claimant` when they are one.
pub(crate) fn add(conn: &mut DbConn, case_id: i64, account_id: i64, amount: Fen) -> Result<()> {
    // A savepoint, so that on PostgreSQL a duplicate does not abort the caller's transaction.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(cc::table)
            .values((
                cc::case_id.eq(case_id),
                cc::account_id.eq(account_id),
                cc::amount_claimed_fen.eq(amount.get()),
                cc::joined_at.eq(platform::clock::now()),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(Error::new(ErrorCode::AlreadyClaimant)),
        Err(e) => Err(e.into()),
    }
}

/// `not_found` unless `account_id` is a claimant of case `case_id`.
pub(crate) fn require(conn: &mut DbConn, case_id: i64, account_id: i64) -> Result<()> {
    let found: i64 = cc::table
        .filter(cc::case_id.eq(case_id))
        .filter(cc::account_id.eq(account_id))
        .count()
        .get_result(conn)?;
    if found == 0 {
        return Err(Error::new(ErrorCode::NotFound));
    }
    Ok(())
}

/// The accounts to tell about a step of the case.
pub(crate) fn accounts_of(conn: &mut DbConn, case_id: i64) -> Result<Vec<i64>> {
    Ok(cc::table
        .filter(cc::case_id.eq(case_id))
        .filter(cc::account_id.is_not_null())
        .select(cc::account_id.assume_not_null())
        .order(cc::id)
        .load(conn)?)
}

/// A claimant as a case shows them: the name masked (`张*`) to everyone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimantView {
    /// The legal name masked; null once the account is erased.
    pub name_masked: Option<String>,
    pub amount_claimed_fen: i64,
    pub joined_at: DateTime<Utc>,
    /// Whether this is the reader.
    pub is_you: bool,
}

pub(crate) fn of_case(
    conn: &mut DbConn,
    case_id: i64,
    reader: Reader,
) -> Result<Vec<ClaimantView>> {
    let rows: Vec<(Option<i64>, i64, NaiveDateTime, Option<String>)> = cc::table
        .left_join(rn::table.on(cc::account_id.eq(rn::account_id.nullable())))
        .filter(cc::case_id.eq(case_id))
        .select((
            cc::account_id,
            cc::amount_claimed_fen,
            cc::joined_at,
            rn::legal_name.nullable(),
        ))
        .order(cc::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(account, amount, joined_at, name)| ClaimantView {
            name_masked: name.as_deref().map(mask_name),
            amount_claimed_fen: amount,
            joined_at: joined_at.and_utc(),
            is_you: account.is_some_and(|a| reader == Reader::Claimant(a)),
        })
        .collect())
}

/// The body of `POST /v1/me/cases/join`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinCase {
    /// The code a colleague shared (10 letters and digits).
    #[schema(min_length = 1, max_length = 32)]
    pub invite_code: String,
    /// What the joining worker claims for themself, in fen.
    pub amount_claimed_fen: Fen,
    /// Consent to the processing of the case's data: must be true.
    pub consent: bool,
}

/// The use case: `account_id` joins the open case whose invite code they were given, as a
/// member or applicant like its filer. An unknown code, and one of a closed case, are
/// `invite_code_unknown` alike: a closed case is not to be found by guessing.
pub fn join(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (account_id, actor): (i64, &Actor),
    body: JoinCase,
) -> Result<CaseDetail> {
    if !body.consent {
        return Err(Error::invalid(ErrorCode::CaseConsentRequired, "consent"));
    }
    if membership::applications::serving_org(conn, account_id)?.is_none() {
        return Err(Error::new(ErrorCode::MembershipRequired));
    }
    let code = body.invite_code.trim().to_ascii_uppercase();
    let found: Option<(i64, i64, String)> = c::table
        .filter(c::invite_code.eq(&code))
        .select((c::id, c::org_id, c::state))
        .first(conn)
        .optional()?;
    let (case_id, org_id) = match found {
        Some((id, org, state)) if CaseState::parse(&state).is_some_and(CaseState::is_open) => {
            (id, org)
        }
        _ => return Err(Error::invalid(ErrorCode::InviteCodeUnknown, "invite_code")),
    };
    // Under the row lock, the state again: a decline may have committed since the look-up.
    if !cases::lock(conn, case_id)?.state.is_open() {
        return Err(Error::invalid(ErrorCode::InviteCodeUnknown, "invite_code"));
    }
    add(conn, case_id, account_id, body.amount_claimed_fen)?;
    timeline::append(
        conn,
        protector,
        case_id,
        Some(account_id),
        CaseEventKind::Joined,
        None,
    )?;
    give_consent(conn, account_id, CASE_DATA, &config.consent_policy)?;
    let entry = Entry::new(Action::CaseJoin, Record::new("case", case_id))
        .in_org(org_id)
        .about(account_id);
    audit::record(conn, actor, entry)?;
    cases::for_claimant(conn, config, protector, account_id, case_id)
}
