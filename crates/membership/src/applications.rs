//! Joining, transferring, leaving, and staff decisions on applications.
//!
//! One row per application; once decided it is the membership period. A person has at most one
//! active membership and one pending application at a time (unique indexes hold that even under
//! races). Every change appends to the person's history. All functions here run inside a write
//! transaction, and take the account's row lock first so that one person's parallel requests
//! (a double tap, a retry) run one after another and find each other's result.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::clock::now;
use platform::schema::{membership_events as ev, memberships as ms, real_name_profiles as rn};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::join_codes::{self, JoinCode};
use crate::orgs::{self, OrgRef};
use crate::vocab::{EventKind, Occupation, Status};
use crate::{member_no, staff};

/// What a worker tells the union when joining.
#[derive(Debug, Clone)]
pub struct Details {
    pub occupation: Occupation,
    /// Platform or employer, e.g. 美团, 饿了么, 顺丰.
    pub platform: String,
    pub work_city: String,
}

/// What a transfer changes of the current details; each left out stays as it is.
#[derive(Debug, Clone, Default)]
pub struct DetailChanges {
    pub occupation: Option<Occupation>,
    pub platform: Option<String>,
    pub work_city: Option<String>,
}

impl DetailChanges {
    fn over(self, current: Details) -> Details {
        Details {
            occupation: self.occupation.unwrap_or(current.occupation),
            platform: self.platform.unwrap_or(current.platform),
            work_city: self.work_city.unwrap_or(current.work_city),
        }
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

struct Row {
    id: i64,
    account_id: i64,
    org_id: i64,
    join_code_id: Option<i64>,
    status: Status,
    details: Details,
}

type RowTuple = (i64, i64, i64, Option<i64>, String, String, String, String);

fn row(t: RowTuple) -> Result<Row> {
    let (id, account_id, org_id, join_code_id, status, occupation, platform, work_city) = t;
    let corrupt = || Error::internal(anyhow::anyhow!("membership {id}: unknown vocabulary"));
    Ok(Row {
        id,
        account_id,
        org_id,
        join_code_id,
        status: Status::parse(&status).ok_or_else(corrupt)?,
        details: Details {
            occupation: Occupation::parse(&occupation).ok_or_else(corrupt)?,
            platform,
            work_city,
        },
    })
}

const COLUMNS: (
    ms::id,
    ms::account_id,
    ms::org_id,
    ms::join_code_id,
    ms::status,
    ms::occupation,
    ms::platform,
    ms::work_city,
) = (
    ms::id,
    ms::account_id,
    ms::org_id,
    ms::join_code_id,
    ms::status,
    ms::occupation,
    ms::platform,
    ms::work_city,
);

fn by_id(conn: &mut DbConn, id: i64) -> Result<Row> {
    let found: Option<RowTuple> = ms::table.find(id).select(COLUMNS).first(conn).optional()?;
    found
        .map(row)
        .transpose()?
        .ok_or_else(|| Error::new(ErrorCode::NotFound))
}

fn with_status(conn: &mut DbConn, account_id: i64, status: Status) -> Result<Option<Row>> {
    let found: Option<RowTuple> = ms::table
        .filter(ms::account_id.eq(account_id))
        .filter(ms::status.eq(status.as_str()))
        .select(COLUMNS)
        .first(conn)
        .optional()?;
    found.map(row).transpose()
}

fn record(conn: &mut DbConn, m: &Row, kind: EventKind, note: Option<&str>) -> Result<()> {
    diesel::insert_into(ev::table)
        .values((
            ev::account_id.eq(m.account_id),
            ev::membership_id.eq(m.id),
            ev::org_id.eq(m.org_id),
            ev::kind.eq(kind.as_str()),
            ev::note.eq(note),
            ev::at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn view(conn: &mut DbConn, id: i64) -> Result<MembershipView> {
    type Full = (
        i64,
        i64,
        i64,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<String>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<String>,
    );
    let (
        id,
        account_id,
        org_id,
        status,
        occupation,
        platform,
        work_city,
        applied_at,
        decided_at,
        reject_reason,
        started_at,
        ended_at,
        end_reason,
    ): Full = ms::table
        .find(id)
        .select((
            ms::id,
            ms::account_id,
            ms::org_id,
            ms::status,
            ms::occupation,
            ms::platform,
            ms::work_city,
            ms::applied_at,
            ms::decided_at,
            ms::reject_reason,
            ms::started_at,
            ms::ended_at,
            ms::end_reason,
        ))
        .first(conn)?;
    let corrupt = || Error::internal(anyhow::anyhow!("membership {id}: unknown vocabulary"));
    let status = Status::parse(&status).ok_or_else(corrupt)?;
    let member_no = match status {
        Status::Active | Status::Ended => member_no::of(conn, account_id)?,
        _ => None,
    };
    Ok(MembershipView {
        id,
        status,
        org: orgs::reference(conn, org_id)?,
        occupation: Occupation::parse(&occupation).ok_or_else(corrupt)?,
        platform,
        work_city,
        member_no,
        applied_at: applied_at.and_utc(),
        decided_at: decided_at.map(|t| t.and_utc()),
        reject_reason,
        started_at: started_at.map(|t| t.and_utc()),
        ended_at: ended_at.map(|t| t.and_utc()),
        end_reason,
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

/// A member moves to another org by scanning its code: the old period ends when the new one
/// starts (at once with an auto-approving code, else on approval).
pub fn transfer(
    conn: &mut DbConn,
    account_id: i64,
    code: &JoinCode,
    changes: DetailChanges,
) -> Result<Outcome> {
    identity::accounts::lock(conn, account_id)?;
    let code = join_codes::find(conn, code)?;
    let Some(active) = with_status(conn, account_id, Status::Active)? else {
        return Err(Error::new(ErrorCode::NotAMember));
    };
    if active.join_code_id == Some(code.id) {
        return Ok(Outcome::Existing(view(conn, active.id)?));
    }
    if let Some(pending) = with_status(conn, account_id, Status::Pending)? {
        return if pending.join_code_id == Some(code.id) {
            Ok(Outcome::Existing(view(conn, pending.id)?))
        } else {
            Err(Error::new(ErrorCode::ApplicationPending))
        };
    }
    if active.org_id == code.org_id {
        return Err(Error::new(ErrorCode::AlreadyInOrg));
    }
    join_codes::take_use(conn, &code)?;
    let application = apply(conn, account_id, &code, changes.over(active.details))?;
    if code.auto_approve {
        activate(conn, &application, None)?;
    }
    Ok(Outcome::Created(view(conn, application.id)?))
}

fn apply(
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
fn activate(conn: &mut DbConn, application: &Row, decided_by: Option<i64>) -> Result<()> {
    if let Some(current) = with_status(conn, application.account_id, Status::Active)? {
        let to = orgs::reference(conn, application.org_id)?;
        diesel::update(ms::table.find(current.id))
            .set((
                ms::status.eq(Status::Ended.as_str()),
                ms::ended_at.eq(now()),
                ms::end_reason.eq("transferred"),
            ))
            .execute(conn)?;
        record(conn, &current, EventKind::TransferredOut, Some(&to.name))?;
    }
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

pub fn approve(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
) -> Result<MembershipView> {
    let application = decidable(conn, user, id)?;
    activate(conn, &application, Some(user.account_id))?;
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
    let events: Vec<(NaiveDateTime, String, i64, i64, Option<String>)> = ev::table
        .filter(ev::account_id.eq(account_id))
        .order(ev::id.desc())
        .select((ev::at, ev::kind, ev::org_id, ev::membership_id, ev::note))
        .load(conn)?;
    let history = events
        .into_iter()
        .map(|(at, kind, org_id, membership_id, note)| {
            Ok(EventView {
                at: at.and_utc(),
                kind: EventKind::parse(&kind)
                    .ok_or_else(|| Error::internal(anyhow::anyhow!("event kind {kind}")))?,
                org: orgs::reference(conn, org_id)?,
                membership_id,
                note,
            })
        })
        .collect::<Result<_>>()?;
    Ok(MyMembership {
        current,
        pending,
        history,
    })
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

pub fn active_member(conn: &mut DbConn, account_id: i64) -> Result<Option<ActiveMember>> {
    Ok(active_members(conn, &[account_id])?.remove(&account_id))
}

/// The active memberships of many accounts in two queries (the flash crowd checks a whole
/// batch of claims at once); accounts without one are absent.
pub fn active_members(
    conn: &mut DbConn,
    accounts: &[i64],
) -> Result<std::collections::HashMap<i64, ActiveMember>> {
    let rows: Vec<(i64, i64, i64, Option<NaiveDateTime>, String)> = ms::table
        .filter(ms::account_id.eq_any(accounts))
        .filter(ms::status.eq(Status::Active.as_str()))
        .select((
            ms::id,
            ms::account_id,
            ms::org_id,
            ms::started_at,
            ms::occupation,
        ))
        .load(conn)?;
    let with_rows: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let first_joined: std::collections::HashMap<i64, NaiveDateTime> =
        platform::schema::members::table
            .filter(platform::schema::members::account_id.eq_any(&with_rows))
            .select((
                platform::schema::members::account_id,
                platform::schema::members::created_at,
            ))
            .load::<(i64, NaiveDateTime)>(conn)?
            .into_iter()
            .collect();
    let corrupt = |what: &str| Error::internal(anyhow::anyhow!("active membership without {what}"));
    rows.into_iter()
        .map(
            |(membership_id, account_id, org_id, started_at, occupation)| {
                let member = ActiveMember {
                    membership_id,
                    org_id,
                    started_at: started_at.ok_or_else(|| corrupt("a start"))?,
                    occupation: Occupation::parse(&occupation)
                        .ok_or_else(|| corrupt("an occupation"))?,
                    first_joined_at: *first_joined
                        .get(&account_id)
                        .ok_or_else(|| corrupt("a member record"))?,
                };
                Ok((account_id, member))
            },
        )
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
