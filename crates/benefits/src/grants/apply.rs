//! Applying for a grant: a member, or a worker whose application to join is pending, sends
//! their household, the cause, the declared income and recent monthly orders, a declaration
//! and how to be paid, with consent. The rules of the program are checked here, each failure
//! with its own code; one grant per household per program, checked on the keyed hash of every
//! household member's ID number (the applicant's from their real-name profile).

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use identity::id_number::IdNumber;
use identity::personal_data::give_consent;
use identity::AuthUser;
use membership::applications::Serving;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::money::Fen;
use platform::schema::{grant_applications as ga, grant_household as gh, real_name_profiles as rp};
use platform::text::{Prose, Text};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::order_counts;
use super::terms::{self, GrantRules, Terms};
use super::vocab::{GrantEventKind, GrantState, HardshipCause, HouseholdRelation, OrdersSource};
use super::{timeline, views, GrantApplicationView, GRANT_DATA};
use crate::programs::{self, Program};
use crate::vocab::ProgramKind;

/// Household members besides the applicant.
const MAX_HOUSEHOLD: usize = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdMember {
    pub name: Text<60>,
    /// Resident ID number (GB 11643), checked; sealed, and compared by keyed hash only.
    pub id_number: String,
    /// Not `applicant`: the applicant is in the household already.
    pub relation: HouseholdRelation,
}

/// One month's orders, as the worker declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonthOrders {
    /// The month's first day (`2026-10-01` for October 2026).
    pub month: NaiveDate,
    #[schema(minimum = 0, maximum = 100_000)]
    pub orders: u32,
}

/// Where the grant is paid: a bank card in the applicant's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payout {
    pub bank_name: Text<50>,
    /// 12 to 19 digits, the last a Luhn check digit; sealed, and masked everywhere but the
    /// finance office's export.
    pub card_number: String,
}

/// The body of `POST /v1/programs/{id}/grant-applications`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyForGrant {
    /// The other household members (up to 10).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub household: Vec<HouseholdMember>,
    pub cause: HardshipCause,
    /// Declared monthly household income.
    pub income_fen: Fen,
    /// Recent months' orders (up to 12, no month twice, none still to come).
    #[serde(default)]
    #[schema(max_items = 12)]
    pub orders: Vec<MonthOrders>,
    /// The hardship in the worker's words.
    pub declaration: Prose<2000>,
    pub payout: Payout,
    /// Consent to process the application's data, household ID numbers and the bank card
    /// included (sensitive personal information).
    pub consent: bool,
}

/// A checked household member: what is stored of them.
struct Member {
    name: String,
    id: IdNumber,
    relation: HouseholdRelation,
}

/// Whether `digits` is a card number: 12 to 19 digits passing the Luhn check.
pub(crate) fn card_number(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            match i % 2 {
                1 if d * 2 > 9 => d * 2 - 9,
                1 => d * 2,
                _ => d,
            }
        })
        .sum();
    (sum % 10 == 0).then_some(digits)
}

/// `6222 **** 1234`.
pub(crate) fn mask_card(digits: &str) -> String {
    format!("{} **** {}", &digits[..4], &digits[digits.len() - 4..])
}

impl ApplyForGrant {
    /// The rules the body alone decides: the household's ID numbers, the months, the card.
    fn check(&self, today: NaiveDate) -> Result<(Vec<Member>, String)> {
        let bad = |field| Error::invalid(ErrorCode::InvalidField, field);
        if !self.consent {
            return Err(Error::invalid(ErrorCode::GrantConsentRequired, "consent"));
        }
        if self.household.len() > MAX_HOUSEHOLD {
            return Err(bad("household"));
        }
        let mut members = Vec::new();
        for m in &self.household {
            let id = IdNumber::parse(&m.id_number, today)
                .ok_or_else(|| Error::invalid(ErrorCode::InvalidIdNumber, "household.id_number"))?;
            if m.relation == HouseholdRelation::Applicant {
                return Err(bad("household.relation"));
            }
            members.push(Member {
                name: m.name.to_string(),
                id,
                relation: m.relation,
            });
        }
        let this_month = today.with_day(1).expect("a first day");
        let mut months: Vec<NaiveDate> = self.orders.iter().map(|o| o.month).collect();
        months.sort_unstable();
        months.dedup();
        let future = self
            .orders
            .iter()
            .any(|o| o.month > this_month || o.month.day() != 1);
        if self.orders.len() > 12 || months.len() != self.orders.len() || future {
            return Err(bad("orders"));
        }
        let card =
            card_number(&self.payout.card_number).ok_or_else(|| bad("payout.card_number"))?;
        Ok((members, card))
    }
}

/// How recent the low months must be: a run of them must reach one of the last three months,
/// this one included (a platform's figures for a month come some weeks after it), so that an
/// old slump does not qualify a worker whose orders have since come back.
const RECENT_MONTHS: u32 = 3;

/// Whether some `months` consecutive calendar months, the last of them recent, each had fewer
/// than `below` orders.
pub(crate) fn low_for(orders: &[MonthOrders], below: u32, months: u32, today: NaiveDate) -> bool {
    let this_month = today.with_day(1).expect("a first day");
    let recent = this_month - chrono::Months::new(RECENT_MONTHS - 1);
    let mut low: Vec<NaiveDate> = orders
        .iter()
        .filter(|o| o.orders < below)
        .map(|o| o.month)
        .collect();
    low.sort_unstable();
    let mut run = 0;
    let mut previous: Option<NaiveDate> = None;
    for month in low {
        let follows =
            previous.is_some_and(|p| p.checked_add_months(chrono::Months::new(1)) == Some(month));
        run = if follows { run + 1 } else { 1 };
        if run >= months && month >= recent {
            return true;
        }
        previous = Some(month);
    }
    false
}

/// The program's rules against the applicant and what they declared.
fn eligible(
    conn: &mut DbConn,
    program: &Program,
    rules: &GrantRules,
    who: (i64, &Serving),
    (body, orders): (&ApplyForGrant, &[MonthOrders]),
) -> Result<()> {
    let (account_id, applicant) = who;
    if !membership::orgs::is_within(conn, applicant.org_id, program.org_id)? {
        return Err(Error::new(ErrorCode::NotEligibleOrg));
    }
    if applicant.active {
        let member = crate::eligibility::active_member(conn, account_id)?;
        program
            .rules
            .check_personal(&member, platform::clock::now())?;
    } else if !rules.applicants_too {
        return Err(Error::new(ErrorCode::MembershipRequired));
    } else if !program.rules.occupations.is_empty()
        && !program.rules.occupations.contains(&applicant.occupation)
    {
        return Err(Error::new(ErrorCode::NotEligibleOccupation));
    }
    if !rules.platforms.is_empty() && !rules.platforms.iter().any(|p| **p == applicant.platform) {
        return Err(Error::new(ErrorCode::NotEligiblePlatform));
    }
    if let Some(rule) = rules.orders_below {
        if !low_for(orders, rule.orders, rule.months, platform::clock::today()) {
            return Err(Error::invalid(ErrorCode::NotEligibleOrders, "orders"));
        }
    }
    if rules
        .income_below_fen
        .is_some_and(|limit| body.income_fen >= limit)
    {
        return Err(Error::invalid(ErrorCode::NotEligibleIncome, "income_fen"));
    }
    if !rules.causes.is_empty() && !rules.causes.contains(&body.cause) {
        return Err(Error::invalid(ErrorCode::NotEligibleCause, "cause"));
    }
    Ok(())
}

/// The use case: the caller applies for grant program `program_id`.
pub fn apply(
    conn: &mut DbConn,
    (protector, policy): (&DataProtector, &str),
    (user, actor): (&AuthUser, &Actor),
    program_id: i64,
    body: ApplyForGrant,
) -> Result<GrantApplicationView> {
    let now = platform::clock::now();
    let (members, card) = body.check(platform::clock::today())?;
    let program = programs::get(conn, program_id)?;
    program.require_kind(ProgramKind::HardshipGrant)?;
    program.require_open(now)?;
    let terms: Terms = terms::load(conn, program_id)?;
    let account_id = user.account_id;
    let who = membership::applications::serving(conn, account_id)?
        .ok_or_else(|| Error::new(ErrorCode::MembershipRequired))?;
    let (name, id_enc, id_hash): (String, String, String) = rp::table
        .find(account_id)
        .select((rp::legal_name, rp::id_number_enc, rp::id_number_hash))
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::new(ErrorCode::RealNameRequired))?;
    // A platform's figures, when staff imported them, decide the orders rule, not what the
    // worker declared.
    let imported = order_counts::of(conn, program_id, &id_hash)?;
    let (orders, source) = match imported.is_empty() {
        true => (body.orders.clone(), OrdersSource::Declared),
        false => (imported, OrdersSource::Imported),
    };
    let with = (&body, orders.as_slice());
    eligible(conn, &program, &terms.rules.0, (account_id, &who), with)?;
    let share_org_id = terms::share_of(conn, program_id, who.org_id)?;
    let id: i64 = diesel::insert_into(ga::table)
        .values((
            (
                ga::program_id.eq(program_id),
                ga::account_id.eq(account_id),
                ga::org_id.eq(who.org_id),
                ga::share_org_id.eq(share_org_id),
                ga::state.eq(GrantState::Submitted.as_str()),
                ga::cause.eq(body.cause.as_str()),
                ga::income_fen.eq(body.income_fen.get()),
                ga::orders.eq(serde_json::to_string(&orders).expect("months serialise")),
            ),
            (
                ga::declaration.eq(protector.seal(GRANT_DATA, body.declaration.as_bytes())),
                ga::applicant_name.eq(&name),
                ga::bank_name.eq(&*body.payout.bank_name),
                ga::card_enc.eq(protector.seal(GRANT_DATA, card.as_bytes())),
                ga::card_masked.eq(mask_card(&card)),
                ga::amount_fen.eq(terms.amount_fen),
                ga::applied_at.eq(now),
                ga::orders_source.eq(source.as_str()),
            ),
        ))
        .returning(ga::id)
        .get_result(conn)?;
    // The applicant's number is sealed by identity; the household keeps its own sealed copy.
    let own = protector
        .open("id_number", &id_enc)
        .map_err(Error::internal)?;
    let own = protector.seal(GRANT_DATA, &own);
    let mut household = vec![(id_hash, own, name, HouseholdRelation::Applicant)];
    for m in members {
        let hash = protector.lookup_hash("id_number", m.id.as_str());
        let id_enc = protector.seal(GRANT_DATA, m.id.as_str().as_bytes());
        household.push((hash, id_enc, m.name, m.relation));
    }
    write_household(conn, protector, (program_id, id), household)?;
    give_consent(conn, account_id, GRANT_DATA, policy)?;
    timeline::append(conn, protector, id, None, GrantEventKind::Applied, None)?;
    let entry = Entry::new(Action::GrantApply, Record::new("grant_application", id))
        .in_org(who.org_id)
        .about(account_id);
    audit::record(conn, actor, entry)?;
    views::for_applicant(conn, protector, account_id, id)
}

type HouseholdRow = (String, String, String, HouseholdRelation);

/// The household rows of application `id`: a number twice in one household is the caller's
/// mistake; one in another application of the program is `household_already_applied`, from the
/// unique index even when two households apply at the same instant.
fn write_household(
    conn: &mut DbConn,
    protector: &DataProtector,
    (program_id, id): (i64, i64),
    household: Vec<HouseholdRow>,
) -> Result<()> {
    let mut hashes: Vec<&str> = household.iter().map(|h| h.0.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.len() != household.len() {
        return Err(Error::invalid(
            ErrorCode::InvalidField,
            "household.id_number",
        ));
    }
    for (hash, id_enc, name, relation) in household {
        let inserted = diesel::insert_into(gh::table)
            .values((
                gh::application_id.eq(id),
                gh::program_id.eq(program_id),
                gh::id_hash.eq(&hash),
                gh::id_enc.eq(&id_enc),
                gh::name_enc.eq(protector.seal(GRANT_DATA, name.as_bytes())),
                gh::relation.eq(relation.as_str()),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                return Err(Error::new(ErrorCode::HouseholdAlreadyApplied));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(y: i32, m: u32, orders: u32) -> MonthOrders {
        MonthOrders {
            month: NaiveDate::from_ymd_opt(y, m, 1).unwrap(),
            orders,
        }
    }

    #[test]
    fn low_months_must_follow_each_other_and_be_recent() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let low = |orders: &[MonthOrders], months| low_for(orders, 50, months, today);
        let two = [month(2026, 9, 40), month(2026, 10, 31), month(2026, 11, 80)];
        assert!(
            low(&two, 2),
            "September and October, October within three months"
        );
        assert!(!low(&two, 3));
        let apart = [month(2026, 8, 40), month(2026, 10, 31)];
        assert!(!low(&apart, 2), "August and October are not consecutive");
        let over_new_year = [month(2025, 12, 10), month(2026, 1, 0)];
        assert!(
            !low(&over_new_year, 2),
            "a slump a year ago does not qualify today"
        );
        let new_year = NaiveDate::from_ymd_opt(2026, 2, 10).unwrap();
        assert!(
            low_for(&over_new_year, 50, 2, new_year),
            "across the new year"
        );
        assert!(
            !low(&[month(2026, 10, 50), month(2026, 11, 49)], 2),
            "50 is not below 50"
        );
        assert!(
            low(&[month(2026, 11, 3), month(2026, 12, 1)], 2),
            "this month counts"
        );
    }

    #[test]
    fn card_numbers_pass_luhn_and_are_masked() {
        assert_eq!(
            card_number("4111 1111 1111 1111").as_deref(),
            Some("4111111111111111"),
            "spaces are dropped"
        );
        assert!(card_number("4111111111111111").is_some());
        assert!(card_number("4111111111111112").is_none());
        assert!(card_number("41111111").is_none());
        assert!(card_number("4111-1111-1111-1111").is_none());
        assert_eq!(mask_card("4111111111111111"), "4111 **** 1111");
    }
}
