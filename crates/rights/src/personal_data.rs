//! What rights holds about a member, for export and erasure (PIPL Art. 45, 47).
//!
//! Export: every case the member is a claimant of, as they read it in the app. Erasure takes
//! out what is theirs and keeps the case for the other claimants and the anonymous figures
//! (kind, amounts, states, dates): their claimant row loses its account, the facts they wrote
//! and the respondent's contact they gave are blanked, their messages lose their text, their
//! evidence files are deleted (after the commit, so a rollback leaves no row without its file).

use diesel::prelude::*;
use platform::rights::{AfterCommit, PersonalData};
use platform::schema::{
    case_agreements as ag, case_claimants as cc, case_events as e, case_evidence as ev,
    case_instalments as i, case_mediators as cm, case_meetings as mt, case_referrals as r,
    cases as c, mediators as m,
};
use platform::{DbConn, Error, Result};
use serde_json::Value;

use crate::cases;
use crate::vocab::CaseEventKind;
use crate::Rights;

/// Rights' part of the member's data.
pub struct RightsData {
    rights: Rights,
}

impl RightsData {
    pub fn new(rights: Rights) -> RightsData {
        RightsData { rights }
    }
}

/// Timeline entries whose text the claimant wrote.
const CLAIMANT_WRITTEN: [CaseEventKind; 4] = [
    CaseEventKind::Filed,
    CaseEventKind::Joined,
    CaseEventKind::ClaimantMessage,
    CaseEventKind::EvidenceAdded,
];

/// What a staff member or mediator leaves on cases: their rota rows go, their name on the
/// steps they recorded becomes nobody's.
fn erase_staff_traces(conn: &mut DbConn, account_id: i64) -> Result<()> {
    diesel::delete(m::table.filter(m::account_id.eq(account_id))).execute(conn)?;
    diesel::update(cm::table.filter(cm::mediator_account_id.eq(account_id)))
        .set(cm::mediator_account_id.eq(None::<i64>))
        .execute(conn)?;
    diesel::update(cm::table.filter(cm::assigned_by.eq(account_id)))
        .set(cm::assigned_by.eq(None::<i64>))
        .execute(conn)?;
    diesel::update(ag::table.filter(ag::created_by.eq(account_id)))
        .set(ag::created_by.eq(None::<i64>))
        .execute(conn)?;
    diesel::update(i::table.filter(i::recorded_by.eq(account_id)))
        .set(i::recorded_by.eq(None::<i64>))
        .execute(conn)?;
    diesel::update(r::table.filter(r::created_by.eq(account_id)))
        .set(r::created_by.eq(None::<i64>))
        .execute(conn)?;
    diesel::update(mt::table.filter(mt::created_by.eq(account_id)))
        .set(mt::created_by.eq(None::<i64>))
        .execute(conn)?;
    Ok(())
}

impl PersonalData for RightsData {
    fn domain(&self) -> &'static str {
        "rights"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "cases",
            "case_claimants",
            "case_events",
            "case_evidence",
            "mediators",
            "case_mediators",
            "case_agreements",
            "case_instalments",
            "case_referrals",
            "case_meetings",
        ]
    }

    fn export(&self, conn: &mut DbConn, account_id: i64) -> Result<Value> {
        let ids: Vec<i64> = cc::table
            .filter(cc::account_id.eq(account_id))
            .select(cc::case_id)
            .order(cc::case_id)
            .load(conn)?;
        let (config, protector) = (&self.rights.config, self.rights.files.protector());
        let cases = ids
            .into_iter()
            .map(|id| cases::for_claimant(conn, config, protector, account_id, id))
            .collect::<Result<Vec<_>>>()?;
        serde_json::to_value(serde_json::json!({ "cases": cases })).map_err(Error::internal)
    }

    fn erase(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<AfterCommit>> {
        let keys: Vec<String> = diesel::delete(ev::table.filter(ev::uploaded_by.eq(account_id)))
            .returning(ev::file_key)
            .get_results(conn)?;
        let written: Vec<&str> = CLAIMANT_WRITTEN.iter().map(|k| k.as_str()).collect();
        diesel::update(
            e::table
                .filter(e::actor_account_id.eq(account_id))
                .filter(e::kind.eq_any(&written)),
        )
        .set(e::body.eq(None::<String>))
        .execute(conn)?;
        diesel::update(e::table.filter(e::actor_account_id.eq(account_id)))
            .set(e::actor_account_id.eq(None::<i64>))
            .execute(conn)?;
        diesel::update(cc::table.filter(cc::account_id.eq(account_id)))
            .set(cc::account_id.eq(None::<i64>))
            .execute(conn)?;
        diesel::update(c::table.filter(c::filed_by.eq(account_id)))
            .set((
                c::filed_by.eq(None::<i64>),
                c::facts.eq(""),
                c::respondent_contact.eq(None::<String>),
            ))
            .execute(conn)?;
        diesel::update(c::table.filter(c::decided_by.eq(account_id)))
            .set(c::decided_by.eq(None::<i64>))
            .execute(conn)?;
        erase_staff_traces(conn, account_id)?;
        Ok(self.rights.files.deletions(keys))
    }
}
