//! A grant program's terms: the amount per household and the budget (integer fen), optionally
//! split among child orgs, the days on the public notice, the documents asked for, and the
//! eligibility rules beyond the common ones (membership state, platforms, monthly orders, the
//! household income, the cause). Staff create a grant program with them in one step; it is a
//! program of kind `hardship_grant` and is published like any other.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::{self, OrgRef};
use membership::staff;
use platform::audit::Actor;
use platform::money::Fen;
use platform::schema::{grant_shares as gs, grant_terms as gt};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::vocab::HardshipCause;
use crate::eligibility::Rules;
use crate::programs::{self, NewProgram, ProgramView};
use crate::vocab::{Mode, ProgramKind};

/// Monthly orders below `orders` for at least `months` consecutive months (the Urumqi rule:
/// fewer than 50 a month for two months or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrdersBelow {
    #[schema(minimum = 1, maximum = 100_000)]
    pub orders: u32,
    #[schema(minimum = 1, maximum = 12)]
    pub months: u32,
}

/// The rules of a grant besides the common ones ([`Rules`]: org, occupations, joining dates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRules {
    /// Whether workers whose application to join is pending may apply as well as members
    /// (the union serves them too); default true.
    #[serde(default = "yes")]
    pub applicants_too: bool,
    /// Only workers of these platforms (any when empty), as their membership names it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 20)]
    pub platforms: Vec<Text<50>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders_below: Option<OrdersBelow>,
    /// Declared monthly household income below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub income_below_fen: Option<Fen>,
    /// Only these causes (any when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<HardshipCause>,
}

fn yes() -> bool {
    true
}

impl Default for GrantRules {
    fn default() -> GrantRules {
        GrantRules {
            applicants_too: true,
            platforms: Vec::new(),
            orders_below: None,
            income_below_fen: None,
            causes: Vec::new(),
        }
    }
}

/// A child org's part of the budget.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareInput {
    pub org_id: i64,
    pub share_fen: Fen,
}

/// The body of `POST /v1/admin/orgs/{id}/grant-programs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantProgram {
    pub title: Text<100>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// The application window.
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Per household, at least 1 fen.
    pub amount_fen: Fen,
    /// At least one household's amount.
    pub budget_fen: Fen,
    /// Parts of the budget for child orgs (each within the issuing org's subtree, together at
    /// most the budget); an applicant is then paid from the share of their district.
    #[serde(default)]
    pub shares: Vec<ShareInput>,
    /// Days on the public notice before approval (1 to 30, default 7).
    #[schema(minimum = 1, maximum = 30)]
    pub notice_days: Option<i32>,
    /// What to upload, in words (up to 10).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub documents: Vec<Text<100>>,
    #[serde(default)]
    pub eligibility: Rules,
    #[serde(default)]
    pub grant_rules: GrantRules,
}

/// A grant program's terms, as staff and applicants read them.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantTermsView {
    pub program_id: i64,
    pub amount_fen: i64,
    pub budget_fen: i64,
    pub budget_left_fen: i64,
    pub notice_days: i32,
    pub documents: Vec<String>,
    pub rules: GrantRules,
    pub shares: Vec<ShareView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShareView {
    pub org: OrgRef,
    pub share_fen: i64,
    pub left_fen: i64,
}

/// A grant program as created: the program and its terms.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantProgramView {
    pub program: ProgramView,
    pub terms: GrantTermsView,
}

/// The terms row of a program.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = gt)]
pub struct Terms {
    pub program_id: i64,
    pub amount_fen: i64,
    pub budget_fen: i64,
    pub budget_left_fen: i64,
    pub notice_days: i32,
    pub documents: String,
    #[diesel(deserialize_as = String)]
    pub rules: StoredRules,
}

/// [`GrantRules`] as stored (JSON text).
#[derive(Debug, Clone)]
pub struct StoredRules(pub GrantRules);

impl TryFrom<String> for StoredRules {
    type Error = serde_json::Error;

    fn try_from(text: String) -> std::result::Result<StoredRules, serde_json::Error> {
        serde_json::from_str(&text).map(StoredRules)
    }
}

impl CreateGrantProgram {
    /// The rules the body alone decides.
    fn check(&self) -> Result<()> {
        let bad = |field| Error::invalid(ErrorCode::InvalidField, field);
        if self.starts_at >= self.ends_at {
            return Err(bad("ends_at"));
        }
        if self.description.chars().count() > 2000 {
            return Err(bad("description"));
        }
        if self.amount_fen.get() == 0 {
            return Err(bad("amount_fen"));
        }
        if self.budget_fen < self.amount_fen {
            return Err(bad("budget_fen"));
        }
        let shared: i64 = self.shares.iter().map(|s| s.share_fen.get()).sum();
        if shared > self.budget_fen.get() || self.shares.iter().any(|s| s.share_fen.get() == 0) {
            return Err(bad("shares"));
        }
        if !(1..=30).contains(&self.notice_days.unwrap_or(7)) {
            return Err(bad("notice_days"));
        }
        if self.documents.len() > 10 {
            return Err(bad("documents"));
        }
        let r = &self.grant_rules;
        if r.platforms.len() > 20 || r.orders_below.is_some_and(|o| !valid_orders(o)) {
            return Err(bad("grant_rules"));
        }
        Ok(())
    }
}

fn valid_orders(o: OrdersBelow) -> bool {
    (1..=100_000).contains(&o.orders) && (1..=12).contains(&o.months)
}

/// The use case: staff of `org_id` create a grant program (a draft) with its terms and shares.
pub fn create(
    conn: &mut DbConn,
    (user, actor): (&AuthUser, &Actor),
    org_id: i64,
    body: CreateGrantProgram,
) -> Result<GrantProgramView> {
    body.check()?;
    staff::require(conn, user, org_id)?;
    // Shares lie strictly inside the issuer's subtree and never inside one another, so each
    // applicant has at most one share to be paid from.
    let mut seen: Vec<i64> = Vec::new();
    for share in &body.shares {
        let mut fits = share.org_id != org_id && orgs::is_within(conn, share.org_id, org_id)?;
        for &other in &seen {
            let nested = orgs::is_within(conn, share.org_id, other)?
                || orgs::is_within(conn, other, share.org_id)?;
            fits &= !nested;
        }
        if !fits {
            return Err(Error::invalid(ErrorCode::InvalidField, "shares"));
        }
        seen.push(share.org_id);
    }
    let new = NewProgram {
        org_id,
        kind: ProgramKind::HardshipGrant,
        title: body.title.to_string(),
        description: body.description.trim().to_owned(),
        starts_at: body.starts_at.naive_utc(),
        ends_at: body.ends_at.naive_utc(),
        per_member_limit: 1,
        rules: body.eligibility.validate()?,
        mode: Mode::FirstCome,
        stock: None,
        voucher_valid_days: None,
        entry_closes_at: None,
        created_by: user.account_id,
    };
    let program = programs::create(conn, user, actor, new)?;
    let documents: Vec<&str> = body.documents.iter().map(|d| &**d).collect();
    diesel::insert_into(gt::table)
        .values((
            gt::program_id.eq(program.id),
            gt::amount_fen.eq(body.amount_fen.get()),
            gt::budget_fen.eq(body.budget_fen.get()),
            gt::budget_left_fen.eq(body.budget_fen.get()),
            gt::notice_days.eq(body.notice_days.unwrap_or(7)),
            gt::documents.eq(serde_json::to_string(&documents).expect("strings serialise")),
            gt::rules.eq(serde_json::to_string(&body.grant_rules).expect("rules serialise")),
        ))
        .execute(conn)?;
    for share in &body.shares {
        diesel::insert_into(gs::table)
            .values((
                gs::program_id.eq(program.id),
                gs::org_id.eq(share.org_id),
                gs::share_fen.eq(share.share_fen.get()),
                gs::left_fen.eq(share.share_fen.get()),
            ))
            .execute(conn)?;
    }
    let terms = view(conn, program.id)?;
    Ok(GrantProgramView { program, terms })
}

/// The terms of grant program `program_id` (`wrong_program_kind` for any other program).
pub fn load(conn: &mut DbConn, program_id: i64) -> Result<Terms> {
    gt::table
        .find(program_id)
        .select(Terms::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::new(ErrorCode::WrongProgramKind))
}

/// The terms as read, with the shares and what is left of each.
pub fn view(conn: &mut DbConn, program_id: i64) -> Result<GrantTermsView> {
    let terms = load(conn, program_id)?;
    let rows: Vec<(i64, i64, i64)> = gs::table
        .filter(gs::program_id.eq(program_id))
        .select((gs::org_id, gs::share_fen, gs::left_fen))
        .order(gs::org_id)
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let names = orgs::references(conn, &ids)?;
    let shares = rows
        .into_iter()
        .map(|(org, share_fen, left_fen)| {
            Ok(ShareView {
                org: names.get(org)?,
                share_fen,
                left_fen,
            })
        })
        .collect::<Result<_>>()?;
    Ok(GrantTermsView {
        program_id,
        amount_fen: terms.amount_fen,
        budget_fen: terms.budget_fen,
        budget_left_fen: terms.budget_left_fen,
        notice_days: terms.notice_days,
        documents: serde_json::from_str(&terms.documents).map_err(Error::internal)?,
        rules: terms.rules.0,
        shares,
    })
}

/// The share an applicant of `org_id` is paid from: the one share org at or above theirs
/// (shares never nest). `Ok(None)` when the budget is not split; `not_eligible_org` when it is and no
/// share covers them.
pub(crate) fn share_of(conn: &mut DbConn, program_id: i64, org_id: i64) -> Result<Option<i64>> {
    let shares: Vec<i64> = gs::table
        .filter(gs::program_id.eq(program_id))
        .select(gs::org_id)
        .load(conn)?;
    if shares.is_empty() {
        return Ok(None);
    }
    for share in shares {
        if orgs::is_within(conn, org_id, share)? {
            return Ok(Some(share));
        }
    }
    Err(Error::new(ErrorCode::NotEligibleOrg))
}

/// A grant program as the lists of an org's pages name it.
#[derive(Debug, Clone)]
pub struct GrantProgramRef {
    pub id: i64,
    pub title: String,
    pub status: crate::vocab::ProgramStatus,
}

/// The use case: the grant programs that concern `org_id`, newest first: issued by it or by
/// an org above it (whose budget reaches its applicants) or below it.
pub fn concerning(conn: &mut DbConn, user: &AuthUser, org_id: i64) -> Result<Vec<GrantProgramRef>> {
    use platform::schema::{org_closure as oc, programs as p};
    staff::require(conn, user, org_id)?;
    let above = oc::table
        .filter(oc::descendant_id.eq(org_id))
        .select(oc::ancestor_id);
    let below = oc::table
        .filter(oc::ancestor_id.eq(org_id))
        .select(oc::descendant_id);
    let rows: Vec<(i64, String, String)> = p::table
        .filter(p::kind.eq(ProgramKind::HardshipGrant.as_str()))
        .filter(p::org_id.eq_any(above).or(p::org_id.eq_any(below)))
        .order(p::id.desc())
        .limit(200)
        .select((p::id, p::title, p::status))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, title, status)| {
            let status = crate::vocab::ProgramStatus::try_from(status).map_err(Error::internal)?;
            Ok(GrantProgramRef { id, title, status })
        })
        .collect()
}
