//! An application as the applicant and as staff read it, and the public notice (公示) with
//! masked names.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::profile::mask_name;
use membership::orgs::{self, OrgRef};
use platform::crypto::DataProtector;
use platform::schema::{grant_applications as ga, grant_household as gh, programs as p};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use super::apply::MonthOrders;
use super::documents::GrantDocumentView;
use super::timeline::{self, GrantEvent};
use super::vocab::{GrantState, HardshipCause, HouseholdRelation, OrdersSource};

/// An application row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ga)]
pub struct ApplicationRow {
    pub id: i64,
    pub program_id: i64,
    pub account_id: Option<i64>,
    pub org_id: i64,
    pub share_org_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub state: GrantState,
    #[diesel(deserialize_as = String)]
    pub cause: HardshipCause,
    pub income_fen: i64,
    pub orders: String,
    pub declaration: String,
    pub applicant_name: String,
    pub bank_name: String,
    pub card_masked: String,
    pub amount_fen: i64,
    pub notice_until: Option<NaiveDateTime>,
    pub applied_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = String)]
    pub orders_source: OrdersSource,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdView {
    /// `张*`.
    pub name_masked: String,
    /// `110***********002X`.
    pub id_number_masked: String,
    pub relation: HouseholdRelation,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantApplicationView {
    pub id: i64,
    pub program_id: i64,
    pub program_title: String,
    pub org: OrgRef,
    pub state: GrantState,
    /// Where it stands, in plain words (zh-CN).
    pub state_label: String,
    pub amount_fen: i64,
    pub cause: HardshipCause,
    pub income_fen: i64,
    /// The months the orders rule was checked against.
    pub orders: Vec<MonthOrders>,
    /// Whether they are the worker's declaration or a file staff imported.
    pub orders_source: OrdersSource,
    pub declaration: String,
    pub applicant_name: String,
    pub household: Vec<HouseholdView>,
    pub bank_name: String,
    /// `6222 **** 1234`: the full number is in the finance office's export only.
    pub card_masked: String,
    /// While on the notice: when it may be approved.
    pub notice_until: Option<DateTime<Utc>>,
    pub applied_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The documents handed in.
    pub documents: Vec<GrantDocumentView>,
    pub events: Vec<GrantEvent>,
}

pub(crate) fn load(conn: &mut DbConn, id: i64) -> Result<ApplicationRow> {
    Ok(ga::table
        .find(id)
        .select(ApplicationRow::as_select())
        .first(conn)?)
}

/// The same, under its row lock (PostgreSQL; SQLite has one writer).
pub(crate) fn lock(conn: &mut DbConn, id: i64) -> Result<ApplicationRow> {
    diesel::update(ga::table.find(id))
        .set(ga::state.eq(ga::state))
        .execute(conn)?;
    load(conn, id)
}

/// The use case: an applicant reads their application; anyone else's is `not_found`.
pub fn for_applicant(
    conn: &mut DbConn,
    protector: &DataProtector,
    account_id: i64,
    id: i64,
) -> Result<GrantApplicationView> {
    let row = load(conn, id)?;
    if row.account_id != Some(account_id) {
        return Err(Error::new(ErrorCode::NotFound));
    }
    build(conn, protector, row, false)
}

/// The use case: an applicant's applications, newest first (a household has few).
pub fn mine(
    conn: &mut DbConn,
    protector: &DataProtector,
    account_id: i64,
) -> Result<Vec<GrantApplicationView>> {
    let rows: Vec<ApplicationRow> = ga::table
        .filter(ga::account_id.eq(account_id))
        .order(ga::id.desc())
        .limit(50)
        .select(ApplicationRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| build(conn, protector, row, false))
        .collect()
}

pub(crate) fn build(
    conn: &mut DbConn,
    protector: &DataProtector,
    row: ApplicationRow,
    staff: bool,
) -> Result<GrantApplicationView> {
    let program_title = p::table.find(row.program_id).select(p::title).first(conn)?;
    let members: Vec<(String, String, String)> = gh::table
        .filter(gh::application_id.eq(row.id))
        .select((gh::name_enc, gh::id_enc, gh::relation))
        .load(conn)?;
    let mut household = Vec::new();
    for (name, id, relation) in members {
        household.push(HouseholdView {
            name_masked: mask_name(&timeline::open(protector, &name)?),
            id_number_masked: mask_id(&timeline::open(protector, &id)?),
            relation: HouseholdRelation::try_from(relation).map_err(Error::internal)?,
        });
    }
    // The applicant first; the others in a fixed order.
    household.sort_by_key(|m| m.relation != HouseholdRelation::Applicant);
    Ok(GrantApplicationView {
        id: row.id,
        program_id: row.program_id,
        program_title,
        org: orgs::reference(conn, row.org_id)?,
        state: row.state,
        state_label: row.state.label_zh().to_owned(),
        amount_fen: row.amount_fen,
        cause: row.cause,
        income_fen: row.income_fen,
        orders: serde_json::from_str(&row.orders).map_err(Error::internal)?,
        orders_source: row.orders_source,
        declaration: timeline::open(protector, &row.declaration)?,
        applicant_name: row.applicant_name,
        household,
        bank_name: row.bank_name,
        card_masked: row.card_masked,
        notice_until: row.notice_until.map(|t| t.and_utc()),
        applied_at: row.applied_at.and_utc(),
        decided_at: row.decided_at.map(|t| t.and_utc()),
        documents: super::documents::of_application(conn, protector, row.id)?,
        events: timeline::of(conn, protector, row.id, staff)?,
    })
}

/// `110***********002X`, as identity masks ID numbers.
fn mask_id(id: &str) -> String {
    match id.len() {
        18 => format!("{}{}{}", &id[..3], "*".repeat(11), &id[14..]),
        _ => "*".repeat(id.len()),
    }
}

/// One line of the public notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeLine {
    pub id: i64,
    /// `张*`: the public never sees more.
    pub name_masked: String,
    pub org: OrgRef,
    pub amount_fen: i64,
    pub notice_until: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantNotice {
    pub program_id: i64,
    pub program_title: String,
    pub items: Vec<NoticeLine>,
}

/// The use case: anyone reads a grant program's notice: the applications on it now.
pub fn notice(conn: &mut DbConn, program_id: i64) -> Result<GrantNotice> {
    super::terms::load(conn, program_id)?;
    let program_title = p::table.find(program_id).select(p::title).first(conn)?;
    let rows: Vec<(i64, String, i64, i64, Option<NaiveDateTime>)> = ga::table
        .filter(ga::program_id.eq(program_id))
        .filter(ga::state.eq(GrantState::OnNotice.as_str()))
        .order(ga::id)
        .limit(2000)
        .select((
            ga::id,
            ga::applicant_name,
            ga::org_id,
            ga::amount_fen,
            ga::notice_until,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.2).collect();
    let names = orgs::references(conn, &ids)?;
    let items = rows
        .into_iter()
        .map(|(id, name, org, amount_fen, until)| {
            Ok(NoticeLine {
                id,
                name_masked: mask_name(&name),
                org: names.get(org)?,
                amount_fen,
                notice_until: until.unwrap_or_default().and_utc(),
            })
        })
        .collect::<Result<_>>()?;
    Ok(GrantNotice {
        program_id,
        program_title,
        items,
    })
}
