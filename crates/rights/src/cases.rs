//! The case: what the worker files, and how it reads to its claimants.
//!
//! A member, or a worker whose application to join is pending, files a case against a
//! respondent. It goes to the org that serves them (or one they choose) and its staff, who see
//! it with every org above. The facts and the respondent's contact are sealed with the data
//! key, bound to the case's invite code, which never changes.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::personal_data::give_consent;
use membership::orgs::{self, OrgRef};
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::clock::{shanghai_midnight, today};
use platform::crypto::DataProtector;
use platform::money::Fen;
use platform::pagination::{Page, Paged};
use platform::schema::{case_claimants as cc, cases as c};
use platform::text::{Prose, Text};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agreements::AgreementView;
use crate::claimants::{self, ClaimantView};
use crate::credit_code::{respondent_key, CreditCode};
use crate::deadlines::{Dates, Deadlines};
use crate::evidence::{self, EvidenceView};
use crate::mediators::CaseMediator;
use crate::timeline::{self, CaseEvent};
use crate::vocab::{CaseClass, CaseEventKind, CaseKind, CaseState, Outcome, RespondentKind};
use crate::{RightsConfig, CASE_DATA};

/// Who the worker claims against, as sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondentInput {
    pub kind: RespondentKind,
    /// The business name on its licence, or the person's name.
    pub name: Text<100>,
    /// The unified social credit code (统一社会信用代码), when known.
    #[schema(schema_with = CreditCode::schema)]
    pub credit_code: Option<String>,
    pub address: Option<Text<200>>,
    /// A phone number or other way to reach them.
    pub contact: Option<Text<50>>,
}

/// The body of `POST /v1/me/cases`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileCase {
    pub kind: CaseKind,
    /// The union org to handle it; by default the one the worker belongs (or applied) to.
    #[schema(minimum = 1)]
    pub org_id: Option<i64>,
    pub respondent: RespondentInput,
    /// What the worker claims for themself, in fen.
    pub amount_claimed_fen: Fen,
    /// The first day of the period the claim covers (YYYY-MM-DD).
    pub period_from: Option<NaiveDate>,
    /// Its last day, not after today.
    pub period_to: Option<NaiveDate>,
    /// What happened, in the worker's words.
    pub facts: Prose<4000>,
    /// Consent to the processing of the case's data, which is sensitive personal information:
    /// must be true.
    pub consent: bool,
}

/// A filing, checked.
pub struct NewCase {
    kind: CaseKind,
    org_id: Option<i64>,
    respondent_kind: RespondentKind,
    respondent_name: String,
    credit_code: Option<CreditCode>,
    respondent_address: Option<String>,
    respondent_contact: Option<String>,
    amount: Fen,
    period_from: Option<NaiveDate>,
    period_to: Option<NaiveDate>,
    facts: String,
}

impl FileCase {
    pub fn validate(self) -> Result<NewCase> {
        if !self.consent {
            return Err(Error::invalid(ErrorCode::CaseConsentRequired, "consent"));
        }
        let credit_code = self
            .respondent
            .credit_code
            .as_deref()
            .map(|code| {
                CreditCode::parse(code).ok_or_else(|| {
                    Error::invalid(ErrorCode::InvalidField, "respondent.credit_code")
                })
            })
            .transpose()?;
        if self.period_to.is_some_and(|to| to > today()) {
            return Err(Error::invalid(ErrorCode::InvalidField, "period_to"));
        }
        if let (Some(from), Some(to)) = (self.period_from, self.period_to) {
            if from > to {
                return Err(Error::invalid(ErrorCode::InvalidField, "period_from"));
            }
        }
        Ok(NewCase {
            kind: self.kind,
            org_id: self.org_id,
            respondent_kind: self.respondent.kind,
            respondent_name: self.respondent.name.into_inner(),
            credit_code,
            respondent_address: self.respondent.address.map(Text::into_inner),
            respondent_contact: self.respondent.contact.map(Text::into_inner),
            amount: self.amount_claimed_fen,
            period_from: self.period_from,
            period_to: self.period_to,
            facts: self.facts.into_inner(),
        })
    }
}

/// A case row as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = c)]
pub(crate) struct CaseRow {
    pub id: i64,
    pub org_id: i64,
    pub filed_by: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub kind: CaseKind,
    pub class: Option<String>,
    #[diesel(deserialize_as = String)]
    pub state: CaseState,
    #[diesel(deserialize_as = String)]
    pub respondent_kind: RespondentKind,
    pub respondent_name: String,
    pub respondent_code: Option<String>,
    pub respondent_key: String,
    pub respondent_address: Option<String>,
    pub respondent_contact: Option<String>,
    pub period_from: Option<NaiveDateTime>,
    pub period_to: Option<NaiveDateTime>,
    pub facts: String,
    pub invite_code: String,
    pub filed_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub outcome: Option<String>,
    pub recovered_fen: Option<i64>,
    pub rating: Option<i32>,
    pub followed_up_at: Option<NaiveDateTime>,
}

impl CaseRow {
    pub(crate) fn class(&self) -> Option<CaseClass> {
        self.class.as_deref().and_then(CaseClass::parse)
    }

    pub(crate) fn dates(&self) -> Dates {
        Dates {
            filed_at: self.filed_at,
            decided_at: self.decided_at,
            period_to: self.period_to.map(crate::deadlines::local_day),
        }
    }
}

pub(crate) fn load(conn: &mut DbConn, id: i64) -> Result<CaseRow> {
    Ok(c::table.find(id).select(CaseRow::as_select()).first(conn)?)
}

/// Takes the case's row lock until the transaction ends (an update that changes nothing):
/// what is counted or checked before a write holds until the commit, on both databases.
pub(crate) fn lock(conn: &mut DbConn, id: i64) -> Result<CaseRow> {
    diesel::update(c::table.find(id))
        .set(c::state.eq(c::state))
        .execute(conn)?;
    load(conn, id)
}

pub(crate) fn facts_context(invite_code: &str) -> String {
    format!("cases.facts:{invite_code}")
}

pub(crate) fn contact_context(invite_code: &str) -> String {
    format!("cases.respondent_contact:{invite_code}")
}

/// Characters of invite codes: no 0/O, 1/I/L to misread when a colleague types it.
const INVITE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

fn new_invite_code() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| char::from(INVITE_ALPHABET[rng.gen_range(0..INVITE_ALPHABET.len())]))
        .collect()
}

/// The use case: `account_id` files a case. Refused with `membership_required` unless the
/// worker is a member or has applied to join; `org_id`, when given, must exist. The case, its
/// first claimant, the first timeline entry, the consent and the audit entry are one write.
pub fn file(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (account_id, actor): (i64, &Actor),
    new: NewCase,
) -> Result<CaseDetail> {
    let serving = membership::applications::serving_org(conn, account_id)?
        .ok_or_else(|| Error::new(ErrorCode::MembershipRequired))?;
    let org_id = match new.org_id {
        Some(chosen) if orgs::exists(conn, chosen)? => chosen,
        Some(_) => return Err(Error::invalid(ErrorCode::InvalidField, "org_id")),
        None => serving,
    };
    let invite_code = new_invite_code();
    let now = platform::clock::now();
    let key = respondent_key(&new.respondent_name, new.credit_code.as_ref());
    let contact = new
        .respondent_contact
        .map(|text| protector.seal(&contact_context(&invite_code), text.as_bytes()));
    let id: i64 = diesel::insert_into(c::table)
        .values((
            c::org_id.eq(org_id),
            c::filed_by.eq(account_id),
            c::kind.eq(new.kind.as_str()),
            c::state.eq(CaseState::Filed.as_str()),
            c::respondent_kind.eq(new.respondent_kind.as_str()),
            c::respondent_name.eq(&new.respondent_name),
            c::respondent_code.eq(new.credit_code.as_ref().map(CreditCode::as_str)),
            c::respondent_key.eq(&key),
            c::respondent_address.eq(&new.respondent_address),
            c::respondent_contact.eq(contact),
            c::period_from.eq(new.period_from.map(shanghai_midnight)),
            c::period_to.eq(new.period_to.map(shanghai_midnight)),
            c::facts.eq(protector.seal(&facts_context(&invite_code), new.facts.as_bytes())),
            c::invite_code.eq(&invite_code),
            c::filed_at.eq(now),
        ))
        .returning(c::id)
        .get_result(conn)?;
    claimants::add(conn, id, account_id, new.amount)?;
    timeline::append(
        conn,
        protector,
        id,
        Some(account_id),
        CaseEventKind::Filed,
        None,
    )?;
    give_consent(conn, account_id, CASE_DATA, &config.consent_policy)?;
    let entry = Entry::new(Action::CaseFile, Record::new("case", id))
        .in_org(org_id)
        .about(account_id);
    audit::record(conn, actor, entry)?;
    for_claimant(conn, config, protector, account_id, id)
}

/// The respondent as a case shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RespondentView {
    pub kind: RespondentKind,
    pub name: String,
    pub credit_code: Option<String>,
    pub address: Option<String>,
    /// Masked (`139******78`) to claimants; whole in the staff's case file.
    pub contact: Option<String>,
}

/// A case as its claimants and staff read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetail {
    pub id: i64,
    pub kind: CaseKind,
    /// Set by staff when they accept it.
    pub class: Option<CaseClass>,
    pub state: CaseState,
    /// The state in plain words (zh-CN).
    pub state_label: String,
    /// The union org handling it.
    pub org: OrgRef,
    pub respondent: RespondentView,
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
    /// What happened, in the filer's words; null once the filer's data is erased.
    pub facts: Option<String>,
    /// What all claimants claim together, in fen.
    pub total_claimed_fen: i64,
    pub claimants: Vec<ClaimantView>,
    /// Colleagues join the case with it while it is open; null to staff and once closed.
    pub invite_code: Option<String>,
    pub deadlines: Deadlines,
    /// Open cases against the same respondent across the whole union, this one included.
    pub open_cases_against_respondent: i64,
    pub evidence: Vec<EvidenceView>,
    /// The mediator handling it, once assigned.
    pub mediator: Option<CaseMediator>,
    /// Mediation meetings, soonest first.
    pub meetings: Vec<crate::meetings::MeetingView>,
    /// The mediation agreement and its instalments, once signed.
    pub agreement: Option<AgreementView>,
    /// How it ended, once closed or referred.
    pub outcome: Option<Outcome>,
    /// What the claimants got, in fen, once closed.
    pub recovered_fen: Option<i64>,
    /// The follow-up rating, 1 to 5: staff see it, claimants do not.
    pub rating: Option<i32>,
    pub followed_up_at: Option<DateTime<Utc>>,
    /// Every step, oldest first (claimants see the public ones).
    pub timeline: Vec<CaseEvent>,
    pub filed_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Who is reading a case: one of its claimants, or staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reader {
    Claimant(i64),
    Staff,
}

/// How many open cases name each of `keys` as respondent, across the whole tree.
pub(crate) fn open_against(conn: &mut DbConn, keys: &[&str]) -> Result<HashMap<String, i64>> {
    let open: Vec<String> = c::table
        .filter(c::respondent_key.eq_any(keys))
        .filter(c::state.eq_any(CaseState::OPEN))
        .select(c::respondent_key)
        .load(conn)?;
    let mut counts = HashMap::new();
    for key in open {
        *counts.entry(key).or_default() += 1;
    }
    Ok(counts)
}

pub(crate) fn detail(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    row: CaseRow,
    reader: Reader,
) -> Result<CaseDetail> {
    let open = |sealed: &str, context: String| -> Result<String> {
        let bytes = protector.open(&context, sealed).map_err(Error::internal)?;
        String::from_utf8(bytes).map_err(Error::internal)
    };
    // An erased filer's facts are stored empty.
    let facts = match row.facts.as_str() {
        "" => None,
        sealed => Some(open(sealed, facts_context(&row.invite_code))?),
    };
    let contact = row
        .respondent_contact
        .as_deref()
        .map(|sealed| open(sealed, contact_context(&row.invite_code)))
        .transpose()?
        .map(|contact| match reader {
            // The case file (whose every reading is audited) shows it whole, for mediation.
            Reader::Staff => contact,
            Reader::Claimant(_) => mask_contact(&contact),
        });
    let claimants = claimants::of_case(conn, row.id, reader)?;
    let now = platform::clock::now();
    Ok(CaseDetail {
        id: row.id,
        kind: row.kind,
        class: row.class(),
        state: row.state,
        state_label: row.state.label_zh().to_owned(),
        org: orgs::reference(conn, row.org_id)?,
        respondent: RespondentView {
            kind: row.respondent_kind,
            name: row.respondent_name.clone(),
            credit_code: row.respondent_code.clone(),
            address: row.respondent_address.clone(),
            contact,
        },
        period_from: row.period_from.map(crate::deadlines::local_day),
        period_to: row.period_to.map(crate::deadlines::local_day),
        facts,
        total_claimed_fen: claimants.iter().map(|c| c.amount_claimed_fen).sum(),
        claimants,
        invite_code: (matches!(reader, Reader::Claimant(_)) && row.state.is_open())
            .then(|| row.invite_code.clone()),
        deadlines: row.dates().deadlines(config.accept_working_days, now),
        open_cases_against_respondent: open_against(conn, &[&row.respondent_key])?
            .get(&row.respondent_key)
            .copied()
            .unwrap_or(0),
        evidence: evidence::of_case(conn, protector, row.id, reader)?,
        mediator: crate::mediators::of_case(conn, row.id)?,
        meetings: crate::meetings::of_case(conn, row.id)?,
        agreement: crate::agreements::of_case(conn, row.id)?,
        outcome: row.outcome.as_deref().and_then(Outcome::parse),
        recovered_fen: row.recovered_fen,
        rating: row.rating.filter(|_| reader == Reader::Staff),
        followed_up_at: row.followed_up_at.map(|t| t.and_utc()),
        timeline: timeline::of_case(conn, protector, row.id, reader)?,
        filed_at: row.filed_at.and_utc(),
        decided_at: row.decided_at.map(|t| t.and_utc()),
        closed_at: row.closed_at.map(|t| t.and_utc()),
    })
}

/// A contact as views show it: the first three and last two characters, the rest starred.
fn mask_contact(contact: &str) -> String {
    let chars: Vec<char> = contact.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 2..]);
    format!(
        "{}{}{}",
        head.iter().collect::<String>(),
        "*".repeat(chars.len() - 5),
        tail.iter().collect::<String>()
    )
}

/// The case `id` as claimant `account_id` reads it; `not_found` for anyone else.
pub fn for_claimant(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    account_id: i64,
    id: i64,
) -> Result<CaseDetail> {
    claimants::require(conn, id, account_id)?;
    let row = load(conn, id)?;
    detail(conn, config, protector, row, Reader::Claimant(account_id))
}

/// One of the caller's cases, as their list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyCase {
    pub id: i64,
    pub kind: CaseKind,
    pub state: CaseState,
    pub state_label: String,
    pub respondent_name: String,
    /// What the caller claims, in fen.
    pub amount_claimed_fen: i64,
    pub filed_at: DateTime<Utc>,
}

/// The use case: the cases `account_id` is a claimant of, newest first.
pub fn mine(conn: &mut DbConn, account_id: i64, page: Page) -> Result<Paged<MyCase>> {
    let rows: Vec<(i64, String, String, String, i64, NaiveDateTime)> = c::table
        .inner_join(cc::table.on(cc::case_id.eq(c::id)))
        .filter(cc::account_id.eq(account_id))
        .filter(c::id.lt(page.before.unwrap_or(i64::MAX)))
        .select((
            c::id,
            c::kind,
            c::state,
            c::respondent_name,
            cc::amount_claimed_fen,
            c::filed_at,
        ))
        .order(c::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(id, kind, state, respondent_name, amount, filed_at)| {
            let state = CaseState::try_from(state).map_err(Error::internal)?;
            Ok(MyCase {
                id,
                kind: CaseKind::try_from(kind).map_err(Error::internal)?,
                state,
                state_label: state.label_zh().to_owned(),
                respondent_name,
                amount_claimed_fen: amount,
                filed_at: filed_at.and_utc(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Paged::from_rows(items, page, |c| c.id))
}
