//! Mediators: staff of an org who mediate the cases of its subtree (Rizhao keeps 160 on a duty
//! rota), each with the weekdays they are on duty, and the mediator a case is assigned to.

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;
use identity::phone::Phone;
use identity::{AuthUser, Identity};
use membership::orgs::{self, OrgRef};
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::outbox::Topic;
use platform::schema::{accounts as a, case_mediators as cm, mediators as m, org_closure as oc};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cases::{CaseDetail, CaseRow};
use crate::deadlines::local_day;
use crate::groups;
use crate::notify;
use crate::queue;
use crate::timeline;
use crate::vocab::CaseEventKind;
use crate::RightsConfig;

/// Weekdays as a set: bit 0 Monday ... bit 6 Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(u8);

impl Weekdays {
    /// ISO weekday numbers, 1 (Monday) to 7 (Sunday), at least one.
    pub fn parse(days: &[u8]) -> Option<Weekdays> {
        if days.is_empty() || days.iter().any(|d| !(1..=7).contains(d)) {
            return None;
        }
        Some(Weekdays(days.iter().fold(0, |bits, d| bits | 1 << (d - 1))))
    }

    pub fn days(self) -> Vec<u8> {
        (1..=7).filter(|d| self.0 & (1 << (d - 1)) != 0).collect()
    }

    pub fn contains(self, day: chrono::Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }
}

/// The body of `POST /v1/admin/orgs/{id}/mediators`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMediator {
    /// The phone of a staff account of this org or an org above it.
    #[schema(schema_with = Phone::schema)]
    pub phone: String,
    /// Duty weekdays, 1 (Monday) to 7 (Sunday).
    #[schema(schema_with = duty_days_schema)]
    pub duty_days: Vec<u8>,
}

/// The rule of [`Weekdays::parse`] as a schema: 1 to 7 weekday numbers.
fn duty_days_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let day = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(7));
    ArrayBuilder::new()
        .items(day)
        .min_items(Some(1))
        .max_items(Some(7))
        .build()
}

impl AddMediator {
    pub fn validate(&self) -> Result<(Phone, Weekdays)> {
        let phone = Phone::parse(&self.phone)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidPhone, "phone"))?;
        let days = Weekdays::parse(&self.duty_days)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "duty_days"))?;
        Ok((phone, days))
    }
}

/// A mediator on an org's rota.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediatorView {
    pub id: i64,
    pub account_id: i64,
    pub phone_masked: Option<String>,
    pub org: OrgRef,
    /// ISO weekdays on duty, 1 (Monday) to 7 (Sunday).
    pub duty_days: Vec<u8>,
    pub on_duty_today: bool,
    /// Open cases assigned to this mediator.
    pub open_cases: i64,
}

type Row = (i64, i64, i64, i32, Option<NaiveDateTime>, String);

fn views(conn: &mut DbConn, identity: &Identity, rows: Vec<Row>) -> Result<Vec<MediatorView>> {
    let today = local_day(platform::clock::now()).weekday();
    let org_ids: Vec<i64> = rows.iter().map(|r| r.2).collect();
    let names = orgs::references(conn, &org_ids)?;
    rows.into_iter()
        .map(|(id, account_id, org_id, days, deleted_at, phone_enc)| {
            let days = Weekdays(days as u8);
            let phone_masked = match deleted_at {
                Some(_) => None,
                None => Some(
                    identity
                        .open_phone(&phone_enc, format_args!("mediator {id}"))?
                        .masked(),
                ),
            };
            Ok(MediatorView {
                id,
                account_id,
                phone_masked,
                org: names.get(org_id)?,
                duty_days: days.days(),
                on_duty_today: days.contains(today),
                open_cases: open_cases_of(conn, account_id)?,
            })
        })
        .collect()
}

fn open_cases_of(conn: &mut DbConn, account_id: i64) -> Result<i64> {
    use platform::schema::cases as c;
    Ok(cm::table
        .inner_join(c::table.on(c::id.eq(cm::case_id)))
        .filter(cm::mediator_account_id.eq(account_id))
        .filter(c::closed_at.is_null())
        .count()
        .get_result(conn)?)
}

fn select_rows(conn: &mut DbConn, orgs: &[i64]) -> Result<Vec<Row>> {
    Ok(m::table
        .inner_join(a::table.on(a::id.eq(m::account_id)))
        .filter(m::org_id.eq_any(orgs))
        .select((
            m::id,
            m::account_id,
            m::org_id,
            m::duty_days,
            a::deleted_at,
            a::phone_enc,
        ))
        .order(m::id)
        .load(conn)?)
}

/// The orgs whose mediators may take a case of `org_id`: it and every org above it.
fn chain(conn: &mut DbConn, org_id: i64) -> Result<Vec<i64>> {
    Ok(oc::table
        .filter(oc::descendant_id.eq(org_id))
        .select(oc::ancestor_id)
        .load(conn)?)
}

/// The use case: the rota of `org_id`: its mediators and those of the orgs above it.
pub fn list(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    org_id: i64,
) -> Result<Vec<MediatorView>> {
    staff::require(conn, user, org_id)?;
    let orgs = chain(conn, org_id)?;
    let rows = select_rows(conn, &orgs)?;
    views(conn, identity, rows)
}

/// The use case: staff of `org_id` put a staff account on its rota (or change its duty days).
/// The account must be staff of the org or an org above it (`mediator_not_staff`).
pub fn add(
    conn: &mut DbConn,
    identity: &Identity,
    (user, actor): (&AuthUser, &Actor),
    org_id: i64,
    (phone, days): (Phone, Weekdays),
) -> Result<MediatorView> {
    staff::require(conn, user, org_id)?;
    let account = identity
        .credentials(conn, &phone)?
        .ok_or_else(|| Error::invalid(ErrorCode::AccountNotFound, "phone"))?;
    let as_staff = AuthUser {
        account_id: account.account_id,
        roles: Vec::new(),
    };
    if !staff::can_act_on(conn, &as_staff, org_id)? {
        return Err(Error::invalid(ErrorCode::MediatorNotStaff, "phone"));
    }
    let existing: Option<i64> = m::table
        .filter(m::org_id.eq(org_id))
        .filter(m::account_id.eq(account.account_id))
        .select(m::id)
        .first(conn)
        .optional()?;
    let id = match existing {
        Some(id) => {
            diesel::update(m::table.find(id))
                .set(m::duty_days.eq(i32::from(days.0)))
                .execute(conn)?;
            id
        }
        None => diesel::insert_into(m::table)
            .values((
                m::org_id.eq(org_id),
                m::account_id.eq(account.account_id),
                m::duty_days.eq(i32::from(days.0)),
                m::created_at.eq(platform::clock::now()),
            ))
            .returning(m::id)
            .get_result(conn)?,
    };
    let entry = Entry::new(Action::MediatorAdd, Record::new("mediator", id)).in_org(org_id);
    audit::record(conn, actor, entry)?;
    let rows = select_rows(conn, &[org_id])?;
    views(
        conn,
        identity,
        rows.into_iter().filter(|r| r.0 == id).collect(),
    )?
    .pop()
    .ok_or_else(|| Error::internal(anyhow::anyhow!("mediator {id} not written")))
}

/// The use case: staff take a mediator off their org's rota. Cases assigned keep their mediator.
pub fn remove(
    conn: &mut DbConn,
    (user, actor): (&AuthUser, &Actor),
    mediator_id: i64,
) -> Result<()> {
    let org_id: i64 = m::table.find(mediator_id).select(m::org_id).first(conn)?;
    staff::require(conn, user, org_id)?;
    diesel::delete(m::table.find(mediator_id)).execute(conn)?;
    let entry =
        Entry::new(Action::MediatorRemove, Record::new("mediator", mediator_id)).in_org(org_id);
    audit::record(conn, actor, entry)
}

/// The body of `POST /v1/admin/cases/{id}/mediator`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignMediator {
    /// The account of a mediator on the rota of the case's org or an org above it.
    #[schema(minimum = 1)]
    pub account_id: i64,
    /// The same mediator for every accepted case against the same respondent that the caller
    /// may act on (group mediation).
    #[serde(default)]
    pub with_group: bool,
}

/// The mediator of a case as it shows them: the legal name masked (`王*`), when they gave one.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseMediator {
    pub account_id: i64,
    pub name_masked: Option<String>,
}

pub(crate) fn of_case(conn: &mut DbConn, case_id: i64) -> Result<Option<CaseMediator>> {
    use platform::schema::real_name_profiles as rn;
    let row: Option<(Option<i64>, Option<String>)> = cm::table
        .left_join(rn::table.on(cm::mediator_account_id.eq(rn::account_id.nullable())))
        .filter(cm::case_id.eq(case_id))
        .select((cm::mediator_account_id, rn::legal_name.nullable()))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(account, name)| {
        account.map(|account_id| CaseMediator {
            account_id,
            name_masked: name.as_deref().map(identity::profile::mask_name),
        })
    }))
}

/// The use case: staff of the case's subtree assign an accepted case to a mediator of the
/// The use case: staff assign a mediator of the rota to an accepted case, or with `with_group`
/// to every accepted case of its group they may act on (the mediator must be on the rota of
/// each case's org or above, or nothing is assigned); the claimants of each are told.
pub fn assign(
    conn: &mut DbConn,
    config: &RightsConfig,
    protector: &DataProtector,
    (user, actor): (&AuthUser, &Actor),
    case_id: i64,
    body: AssignMediator,
) -> Result<CaseDetail> {
    let cases = groups::lock_for_step(conn, user, case_id, body.with_group)?;
    for case in &cases {
        let orgs = chain(conn, case.org_id)?;
        let on_rota: i64 = m::table
            .filter(m::org_id.eq_any(&orgs))
            .filter(m::account_id.eq(body.account_id))
            .count()
            .get_result(conn)?;
        if on_rota == 0 {
            return Err(Error::invalid(ErrorCode::InvalidField, "account_id"));
        }
    }
    for case in &cases {
        appoint(conn, protector, user, case, body.account_id)?;
        queue::audited(conn, actor, Action::CaseAssign, case)?;
    }
    queue::file_now(conn, (config, protector), case_id)
}

/// Makes `mediator` the mediator of one locked case, with its timeline entry and notices.
fn appoint(
    conn: &mut DbConn,
    protector: &DataProtector,
    user: &AuthUser,
    case: &CaseRow,
    mediator: i64,
) -> Result<()> {
    let now = platform::clock::now();
    let updated = diesel::update(cm::table.find(case.id))
        .set((
            cm::mediator_account_id.eq(mediator),
            cm::assigned_at.eq(now),
            cm::assigned_by.eq(user.account_id),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(cm::table)
            .values((
                cm::case_id.eq(case.id),
                cm::mediator_account_id.eq(mediator),
                cm::assigned_at.eq(now),
                cm::assigned_by.eq(user.account_id),
            ))
            .execute(conn)?;
    }
    let kind = CaseEventKind::MediatorAssigned;
    let event = timeline::append(conn, protector, case.id, Some(user.account_id), kind, None)?;
    let text = format!(
        "{}已指派调解员，调解员将尽快与您联系。",
        notify::named(case)
    );
    notify::tell(
        conn,
        case,
        event,
        Topic::CaseMessage,
        ("维权案件已指派调解员", text),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_round_trip_and_refuse_what_is_no_weekday() {
        let days = Weekdays::parse(&[1, 3, 5, 3]).unwrap();
        assert_eq!(days.days(), [1, 3, 5]);
        assert!(days.contains(chrono::Weekday::Wed));
        assert!(!days.contains(chrono::Weekday::Sun));
        assert!(Weekdays::parse(&[]).is_none());
        assert!(Weekdays::parse(&[0]).is_none());
        assert!(Weekdays::parse(&[8]).is_none());
    }
}
