//! Joining, leaving, and staff decisions on applications (moving between orgs is
//! [`crate::transfers`], on the same rows and rules).
//!
//! One row per application; once decided it is the membership period. A person has at most one
//! active membership and one pending application at a time (unique indexes hold that even under
//! races). Every change appends to the person's history. All functions here run inside a write
//! transaction, and take the account's row lock first so that one person's parallel requests
//! (a double tap, a retry) run one after another and find each other's result.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::clock::now;
use platform::outbox::{self, Notice, Topic};
use platform::schema::{
    members as m, membership_events as ev, memberships as ms, orgs as o, real_name_profiles as rn,
};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::join_codes::{self, JoinCode};
use crate::orgs::{self, OrgRef};
use crate::vocab::{EventKind, Occupation, Status};
use crate::{member_no, staff, transfers};

/// What a worker tells the union when joining (the same three columns of every period).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ms)]
pub struct Details {
    #[diesel(deserialize_as = String)]
    pub occupation: Occupation,
    /// Platform or employer, e.g. 美团, 饿了么, 顺丰.
    pub platform: String,
    pub work_city: String,
}

// The body of `POST /v1/memberships`; not a doc comment, which would become
// the schema description in the spec.
#[derive(Deserialize, ToSchema)]
pub struct JoinRequest {
    pub join_code: String,
    pub occupation: Occupation,
    /// Platform or employer, e.g. 美团.
    pub platform: Text<40>,
    pub work_city: Text<40>,
}

impl JoinRequest {
    /// The code to join through and what the worker tells the union; a code not shaped like
    /// one is `join_code_unknown`, as an unknown code is.
    pub fn validate(self) -> Result<(JoinCode, Details)> {
        let code = JoinCode::parse(&self.join_code)?;
        let details = Details {
            occupation: self.occupation,
            platform: self.platform.into_inner(),
            work_city: self.work_city.into_inner(),
        };
        Ok((code, details))
    }
}

/// An application or membership period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MembershipView {
    pub id: i64,
    pub status: Status,
    pub org: OrgRef,
    pub occupation: Occupation,
    pub platform: String,
    pub work_city: String,
    /// Set once active (kept for life).
    pub member_no: Option<String>,
    pub applied_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Why the union rejected the application.
    pub reject_reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
}

/// A history entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub org: OrgRef,
    pub membership_id: i64,
    pub note: Option<String>,
}

/// The worker's membership page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyMembership {
    /// The active membership, if any.
    pub current: Option<MembershipView>,
    /// An application waiting for review (a first join or a transfer), if any.
    pub pending: Option<MembershipView>,
    /// Everything that happened, newest first.
    pub history: Vec<EventView>,
}

/// A join or transfer: newly created, or the one an earlier identical request created.
pub enum Outcome {
    Created(MembershipView),
    Existing(MembershipView),
}

/// What the rules of joining and deciding read of a period.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ms)]
pub(crate) struct Row {
    pub(crate) id: i64,
    pub(crate) account_id: i64,
    pub(crate) org_id: i64,
    /// The code applied through: the same code again is a retry, not a second application.
    pub(crate) join_code_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub(crate) status: Status,
    #[diesel(embed)]
    pub(crate) details: Details,
}

/// A period as the member's pages show it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ms)]
struct Period {
    id: i64,
    account_id: i64,
    org_id: i64,
    #[diesel(deserialize_as = String)]
    status: Status,
    #[diesel(embed)]
    details: Details,
    applied_at: NaiveDateTime,
    decided_at: Option<NaiveDateTime>,
    reject_reason: Option<String>,
    started_at: Option<NaiveDateTime>,
    ended_at: Option<NaiveDateTime>,
    end_reason: Option<String>,
}

/// A history entry as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ev)]
struct Event {
    at: NaiveDateTime,
    #[diesel(deserialize_as = String)]
    kind: EventKind,
    org_id: i64,
    membership_id: i64,
    note: Option<String>,
}

fn by_id(conn: &mut DbConn, id: i64) -> Result<Row> {
    ms::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::new(ErrorCode::NotFound))
}

/// The account's period in `status`; the unique indexes allow one active and one pending.
pub(crate) fn with_status(
    conn: &mut DbConn,
    account_id: i64,
    status: Status,
) -> Result<Option<Row>> {
    Ok(ms::table
        .filter(ms::account_id.eq(account_id))
        .filter(ms::status.eq(status.as_str()))
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

/// Appends to the person's history.
pub(crate) fn record(
    conn: &mut DbConn,
    period: &Row,
    kind: EventKind,
    note: Option<&str>,
) -> Result<()> {
    diesel::insert_into(ev::table)
        .values((
            ev::account_id.eq(period.account_id),
            ev::membership_id.eq(period.id),
            ev::org_id.eq(period.org_id),
            ev::kind.eq(kind.as_str()),
            ev::note.eq(note),
            ev::at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn view(conn: &mut DbConn, id: i64) -> Result<MembershipView> {
    let period = ms::table.find(id).select(Period::as_select()).first(conn)?;
    // Only a member has a number; a past member keeps showing the one they had.
    let member_no = match period.status {
        Status::Active | Status::Ended => member_no::of(conn, period.account_id)?,
        _ => None,
    };
    Ok(MembershipView {
        id: period.id,
        status: period.status,
        org: orgs::reference(conn, period.org_id)?,
        occupation: period.details.occupation,
        platform: period.details.platform,
        work_city: period.details.work_city,
        member_no,
        applied_at: period.applied_at.and_utc(),
        decided_at: period.decided_at.map(|t| t.and_utc()),
        reject_reason: period.reject_reason,
        started_at: period.started_at.map(|t| t.and_utc()),
        ended_at: period.ended_at.map(|t| t.and_utc()),
        end_reason: period.end_reason,
    })
}

fn has_real_name(conn: &mut DbConn, account_id: i64) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(rn::table.find(account_id))).get_result(conn)?)
}

/// A first join through a scanned code. The real-name profile it rests on needs consent to
/// the current personal-information policy (`consent_policy`): after a new policy text, the
/// member agrees again (`PUT /v1/me/identity`) before joining.
pub fn join(
    conn: &mut DbConn,
    account_id: i64,
    code: &JoinCode,
    details: Details,
    consent_policy: &str,
) -> Result<Outcome> {
    identity::accounts::lock(conn, account_id)?;
    let code = join_codes::find(conn, code)?;
    let pending = with_status(conn, account_id, Status::Pending)?;
    let active = with_status(conn, account_id, Status::Active)?;
    // The same request again (double tap, retry after a lost response): the same application.
    if let Some(same) = [&pending, &active]
        .into_iter()
        .flatten()
        .find(|m| m.join_code_id == Some(code.id))
    {
        return Ok(Outcome::Existing(view(conn, same.id)?));
    }
    if active.is_some() {
        return Err(Error::new(ErrorCode::AlreadyMember));
    }
    if pending.is_some() {
        return Err(Error::new(ErrorCode::ApplicationPending));
    }
    if !has_real_name(conn, account_id)? {
        return Err(Error::new(ErrorCode::RealNameRequired));
    }
    let real_name = identity::personal_data::REAL_NAME;
    if !identity::personal_data::consent_is_current(conn, account_id, real_name, consent_policy)? {
        return Err(Error::invalid(ErrorCode::ConsentRequired, "consent"));
    }
    join_codes::take_use(conn, &code)?;
    let application = apply(conn, account_id, &code, details)?;
    if code.auto_approve {
        activate(conn, &application, None)?;
    }
    Ok(Outcome::Created(view(conn, application.id)?))
}

/// A new pending application through `code`, with its history entry.
pub(crate) fn apply(
    conn: &mut DbConn,
    account_id: i64,
    code: &join_codes::Stored,
    details: Details,
) -> Result<Row> {
    let id: i64 = diesel::insert_into(ms::table)
        .values((
            ms::account_id.eq(account_id),
            ms::org_id.eq(code.org_id),
            ms::join_code_id.eq(code.id),
            ms::status.eq(Status::Pending.as_str()),
            ms::occupation.eq(details.occupation.as_str()),
            ms::platform.eq(&details.platform),
            ms::work_city.eq(&details.work_city),
            ms::applied_at.eq(now()),
        ))
        .returning(ms::id)
        .get_result(conn)?;
    let application = Row {
        id,
        account_id,
        org_id: code.org_id,
        join_code_id: Some(code.id),
        status: Status::Pending,
        details,
    };
    record(conn, &application, EventKind::Applied, Some(&code.label))?;
    Ok(application)
}

/// Pending -> active: ends any current membership first (a transfer), gives the member number.
pub(crate) fn activate(
    conn: &mut DbConn,
    application: &Row,
    decided_by: Option<i64>,
) -> Result<()> {
    transfers::end_previous(conn, application)?;
    let at = now();
    let activated = diesel::update(ms::table.find(application.id))
        .filter(ms::status.eq(Status::Pending.as_str()))
        .set((
            ms::status.eq(Status::Active.as_str()),
            ms::decided_at.eq(at),
            ms::decided_by.eq(decided_by),
            ms::started_at.eq(at),
        ))
        .execute(conn)?;
    if activated == 0 {
        return Err(Error::new(ErrorCode::ApplicationNotPending));
    }
    member_no::ensure(conn, application.account_id, application.org_id)?;
    record(conn, application, EventKind::Activated, None)
}

/// A pending application the caller may decide, or 404 / 409.
fn decidable(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<Row> {
    // Non-staff are refused before any look-up, so ids tell them nothing.
    staff::require_any(conn, user)?;
    let application = by_id(conn, id)?;
    staff::require(conn, user, application.org_id)?;
    identity::accounts::lock(conn, application.account_id)?;
    // Re-read under the lock: the applicant may have withdrawn meanwhile.
    let application = by_id(conn, id)?;
    if application.status != Status::Pending {
        return Err(Error::new(ErrorCode::ApplicationNotPending));
    }
    Ok(application)
}

fn decision(action: Action, application: &Row) -> Entry {
    Entry::new(action, Record::new("membership", application.id))
        .in_org(application.org_id)
        .about(application.account_id)
}

/// The applicant hears of a staff decision (platform::outbox, by SMS too): an automatic
/// approval needs no message, the rider is looking at the answer.
fn tell_decision(conn: &mut DbConn, application: &Row, approved: bool) -> Result<()> {
    let org: String = o::table
        .find(application.org_id)
        .select(o::name)
        .first(conn)?;
    let (topic, title, body) = if approved {
        let body = format!("欢迎加入{org}！您的电子会员卡已可使用。");
        (Topic::JoinApproved, "入会申请已通过", body)
    } else {
        let body = format!("{org}未通过您的入会申请，原因请在应用的入会申请中查看。");
        (Topic::JoinRejected, "入会申请未通过", body)
    };
    let notice = Notice {
        account_id: application.account_id,
        topic,
        subject: Record::new("membership", application.id),
        title: title.to_owned(),
        body,
        deadline: None,
    };
    outbox::send(conn, &[notice])?;
    Ok(())
}

pub fn approve(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
) -> Result<MembershipView> {
    let application = decidable(conn, user, id)?;
    activate(conn, &application, Some(user.account_id))?;
    tell_decision(conn, &application, true)?;
    audit::record(
        conn,
        actor,
        decision(Action::MembershipApprove, &application),
    )?;
    view(conn, id)
}

pub fn reject(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<MembershipView> {
    let application = decidable(conn, user, id)?;
    diesel::update(ms::table.find(id))
        .set((
            ms::status.eq(Status::Rejected.as_str()),
            ms::decided_at.eq(now()),
            ms::decided_by.eq(user.account_id),
            ms::reject_reason.eq(reason),
        ))
        .execute(conn)?;
    record(conn, &application, EventKind::Rejected, Some(reason))?;
    tell_decision(conn, &application, false)?;
    // The reason is free text the applicant reads: it stays in their history, not in the log.
    audit::record(
        conn,
        actor,
        decision(Action::MembershipReject, &application),
    )?;
    view(conn, id)
}

/// Leaving ends the active membership and withdraws any pending application (a transfer in
/// review must not make someone who left a member again).
pub fn leave(conn: &mut DbConn, account_id: i64, reason: &str) -> Result<MyMembership> {
    identity::accounts::lock(conn, account_id)?;
    let active = with_status(conn, account_id, Status::Active)?;
    let pending = with_status(conn, account_id, Status::Pending)?;
    if active.is_none() && pending.is_none() {
        return Err(Error::new(ErrorCode::NotAMember));
    }
    if let Some(active) = active {
        diesel::update(ms::table.find(active.id))
            .set((
                ms::status.eq(Status::Ended.as_str()),
                ms::ended_at.eq(now()),
                ms::end_reason.eq(reason),
            ))
            .execute(conn)?;
        record(conn, &active, EventKind::Left, Some(reason))?;
    }
    if let Some(pending) = pending {
        diesel::update(ms::table.find(pending.id))
            .set((
                ms::status.eq(Status::Withdrawn.as_str()),
                ms::decided_at.eq(now()),
                ms::end_reason.eq(reason),
            ))
            .execute(conn)?;
        record(conn, &pending, EventKind::Withdrawn, Some(reason))?;
    }
    mine(conn, account_id)
}

pub fn mine(conn: &mut DbConn, account_id: i64) -> Result<MyMembership> {
    let current = with_status(conn, account_id, Status::Active)?
        .map(|m| view(conn, m.id))
        .transpose()?;
    let pending = with_status(conn, account_id, Status::Pending)?
        .map(|m| view(conn, m.id))
        .transpose()?;
    Ok(MyMembership {
        current,
        pending,
        history: history(conn, account_id)?,
    })
}

/// Everything that happened to the account's memberships, newest first, with the orgs' names
/// in the same query.
pub(crate) fn history(conn: &mut DbConn, account_id: i64) -> Result<Vec<EventView>> {
    let events: Vec<(Event, String)> = ev::table
        .inner_join(o::table.on(o::id.eq(ev::org_id)))
        .filter(ev::account_id.eq(account_id))
        .order(ev::id.desc())
        .select((Event::as_select(), o::name))
        .load(conn)?;
    Ok(events
        .into_iter()
        .map(|(event, org_name)| EventView {
            at: event.at.and_utc(),
            kind: event.kind,
            org: OrgRef {
                id: event.org_id,
                name: org_name,
            },
            membership_id: event.membership_id,
            note: event.note,
        })
        .collect())
}

/// What benefits need to know of a member.
#[derive(Debug, Clone)]
pub struct ActiveMember {
    pub membership_id: i64,
    pub org_id: i64,
    pub started_at: NaiveDateTime,
    pub occupation: Occupation,
    /// When the person first became a member anywhere (new-member benefits count from here).
    pub first_joined_at: NaiveDateTime,
}

/// An active period as benefits read it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ms)]
struct ActiveRow {
    id: i64,
    account_id: i64,
    org_id: i64,
    /// Set on activation; the type allows none because applications share the table.
    started_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = String)]
    occupation: Occupation,
}

pub fn active_member(conn: &mut DbConn, account_id: i64) -> Result<Option<ActiveMember>> {
    Ok(active_members(conn, &[account_id])?.remove(&account_id))
}

/// The active memberships of many accounts in two queries (the flash crowd checks a whole
/// batch of claims at once); accounts without one are absent.
pub fn active_members(conn: &mut DbConn, accounts: &[i64]) -> Result<HashMap<i64, ActiveMember>> {
    let rows: Vec<ActiveRow> = ms::table
        .filter(ms::account_id.eq_any(accounts))
        .filter(ms::status.eq(Status::Active.as_str()))
        .select(ActiveRow::as_select())
        .load(conn)?;
    let with_rows: Vec<i64> = rows.iter().map(|r| r.account_id).collect();
    let first_joined: HashMap<i64, NaiveDateTime> = m::table
        .filter(m::account_id.eq_any(&with_rows))
        .select((m::account_id, m::created_at))
        .load::<(i64, NaiveDateTime)>(conn)?
        .into_iter()
        .collect();
    let corrupt = |what: &str| Error::internal(anyhow::anyhow!("active membership without {what}"));
    rows.into_iter()
        .map(|row| {
            let member = ActiveMember {
                membership_id: row.id,
                org_id: row.org_id,
                started_at: row.started_at.ok_or_else(|| corrupt("a start"))?,
                occupation: row.occupation,
                first_joined_at: *first_joined
                    .get(&row.account_id)
                    .ok_or_else(|| corrupt("a member record"))?,
            };
            Ok((row.account_id, member))
        })
        .collect()
}

/// The active membership of an account: (membership id, org id, started at).
pub fn active(conn: &mut DbConn, account_id: i64) -> Result<Option<(i64, i64, NaiveDateTime)>> {
    Ok(ms::table
        .filter(ms::account_id.eq(account_id))
        .filter(ms::status.eq(Status::Active.as_str()))
        .select((ms::id, ms::org_id, ms::started_at.assume_not_null()))
        .first(conn)
        .optional()?)
}

/// The membership that serves a worker: their active one, or else their pending application
/// (the union helps applicants too).
pub struct Serving {
    pub org_id: i64,
    pub active: bool,
    pub occupation: Occupation,
    pub platform: String,
}

/// The membership that serves `account_id`, if any (see [`Serving`]).
pub fn serving(conn: &mut DbConn, account_id: i64) -> Result<Option<Serving>> {
    let rows: Vec<(i64, String, String, String)> = ms::table
        .filter(ms::account_id.eq(account_id))
        .filter(ms::status.eq_any([Status::Active.as_str(), Status::Pending.as_str()]))
        .select((ms::org_id, ms::status, ms::occupation, ms::platform))
        .load(conn)?;
    let active = rows.iter().find(|r| r.1 == Status::Active.as_str());
    let Some((org_id, status, occupation, platform)) = active.or(rows.first()) else {
        return Ok(None);
    };
    Ok(Some(Serving {
        org_id: *org_id,
        active: status == Status::Active.as_str(),
        occupation: Occupation::parse(occupation)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("occupation {occupation}")))?,
        platform: platform.clone(),
    }))
}

/// The org that serves a worker (see [`serving`]). None for anyone else.
pub fn serving_org(conn: &mut DbConn, account_id: i64) -> Result<Option<i64>> {
    Ok(serving(conn, account_id)?.map(|s| s.org_id))
}
