//! Staff views of the people in their subtree: members and pending applications, filtered,
//! searched, paged, and exported (the file is [`crate::roster_csv`]). Personal data appears
//! masked only.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::phone::Phone;
use identity::{AuthUser, Identity};
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::clock::shanghai_midnight;
use platform::pagination::{Page, Paged};
use platform::schema::{
    accounts as a, members as m, memberships as ms, org_closure as c, orgs as o,
    real_name_profiles as rn,
};
use platform::{DbConn, Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::orgs::OrgRef;
use crate::staff;
use crate::vocab::{Occupation, Status};

/// Largest CSV export; beyond it, narrow the filter.
pub const EXPORT_LIMIT: i64 = 100_000;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<Status>,
    pub occupation: Option<Occupation>,
    pub platform: Option<String>,
    /// Joined on or after this date (Asia/Shanghai).
    pub joined_from: Option<NaiveDate>,
    /// Joined on or before this date (Asia/Shanghai).
    pub joined_to: Option<NaiveDate>,
    /// A name fragment, a full mobile number, or a member number.
    pub q: Option<String>,
}

/// One person in a staff list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberRow {
    /// The membership (or application) id: approve and reject take it.
    pub membership_id: i64,
    pub member_no: Option<String>,
    pub legal_name: Option<String>,
    pub phone_masked: String,
    pub id_number_masked: Option<String>,
    pub org: OrgRef,
    pub occupation: Occupation,
    pub platform: String,
    pub work_city: String,
    pub status: Status,
    pub applied_at: DateTime<Utc>,
    /// When the membership became active.
    pub joined_at: Option<DateTime<Utc>>,
}

type Tuple = (
    i64,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    i64,
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// Rows of the subtree of `org_id` matching `filter`, newest first, below `before`, at most
/// `limit`.
fn query(
    conn: &mut DbConn,
    identity: &Identity,
    org_id: i64,
    filter: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<MemberRow>> {
    let status = filter.status.unwrap_or(Status::Active);
    let mut q = ms::table
        .inner_join(c::table.on(c::descendant_id.eq(ms::org_id)))
        .inner_join(o::table.on(o::id.eq(ms::org_id)))
        .inner_join(a::table.on(a::id.eq(ms::account_id)))
        .left_join(m::table.on(m::account_id.eq(ms::account_id)))
        .left_join(rn::table.on(rn::account_id.eq(ms::account_id)))
        .filter(c::ancestor_id.eq(org_id))
        .filter(ms::status.eq(status.as_str()))
        .select((
            ms::id,
            m::member_no.nullable(),
            rn::legal_name.nullable(),
            a::phone_enc,
            rn::id_number_masked.nullable(),
            o::id,
            o::name,
            ms::occupation,
            ms::platform,
            ms::work_city,
            ms::status,
            ms::applied_at,
            ms::started_at,
        ))
        .order(ms::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(ms::id.lt(before));
    }
    if let Some(occupation) = filter.occupation {
        q = q.filter(ms::occupation.eq(occupation.as_str()));
    }
    if let Some(platform) = &filter.platform {
        q = q.filter(ms::platform.eq(platform.clone()));
    }
    // Applications have not joined yet: their dates filter on when they applied.
    let joined_is_applied = matches!(
        status,
        Status::Pending | Status::Rejected | Status::Withdrawn
    );
    if let Some(from) = filter.joined_from {
        let from = shanghai_midnight(from);
        q = if joined_is_applied {
            q.filter(ms::applied_at.ge(from))
        } else {
            q.filter(ms::started_at.ge(from))
        };
    }
    if let Some(to) = filter.joined_to {
        let until = shanghai_midnight(to + chrono::Days::new(1));
        q = if joined_is_applied {
            q.filter(ms::applied_at.lt(until))
        } else {
            q.filter(ms::started_at.lt(until))
        };
    }
    if let Some(text) = filter.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        // Phone numbers are stored encrypted: only a full number can be searched, by its hash.
        if let Some(phone) = Phone::parse(text) {
            q = q.filter(a::phone_hash.eq(identity.phone_hash(&phone)));
        } else if crate::member_no::is_valid(text) {
            q = q.filter(m::member_no.eq(text.to_owned()));
        } else {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            q = q.filter(rn::legal_name.like(format!("%{escaped}%")).escape('\\'));
        }
    }
    let rows: Vec<Tuple> = q.load(conn)?;
    rows.into_iter().map(|t| member_row(identity, t)).collect()
}

fn member_row(identity: &Identity, t: Tuple) -> Result<MemberRow> {
    let (
        membership_id,
        member_no,
        legal_name,
        phone_enc,
        id_number_masked,
        org_id,
        org_name,
        occupation,
        platform,
        work_city,
        status,
        applied_at,
        started_at,
    ) = t;
    let phone = identity.open_phone(&phone_enc, format_args!("membership {membership_id}"))?;
    let corrupt = || {
        Error::internal(anyhow::anyhow!(
            "membership {membership_id}: unknown vocabulary"
        ))
    };
    Ok(MemberRow {
        membership_id,
        member_no,
        legal_name,
        phone_masked: phone.masked(),
        id_number_masked,
        org: OrgRef {
            id: org_id,
            name: org_name,
        },
        occupation: Occupation::parse(&occupation).ok_or_else(corrupt)?,
        platform,
        work_city,
        status: Status::parse(&status).ok_or_else(corrupt)?,
        applied_at: applied_at.and_utc(),
        joined_at: started_at.map(|t| t.and_utc()),
    })
}

/// Records that staff read the people of `org_id`'s subtree: one entry per page or file, not
/// per person shown (an export may hold a hundred thousand).
fn viewed(conn: &mut DbConn, actor: &Actor, action: Action, org_id: i64) -> Result<()> {
    let entry = Entry::new(action, Record::new("org", org_id)).in_org(org_id);
    audit::record(conn, actor, entry)
}

/// The use case: staff read a page of the members (or, by `filter`, applications) of their
/// subtree.
pub fn list(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    filter: &Filter,
    page: Page,
) -> Result<Paged<MemberRow>> {
    staff::require(conn, user, org_id)?;
    let rows = query(conn, identity, org_id, filter, page.before, page.limit + 1)?;
    viewed(conn, actor, Action::MembersList, org_id)?;
    Ok(Paged::from_rows(rows, page, |r| r.membership_id))
}

/// The use case: staff read a page of the pending applications of their subtree.
pub fn applications(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    page: Page,
) -> Result<Paged<MemberRow>> {
    staff::require(conn, user, org_id)?;
    let filter = Filter {
        status: Some(Status::Pending),
        ..Filter::default()
    };
    let rows = query(conn, identity, org_id, &filter, page.before, page.limit + 1)?;
    viewed(conn, actor, Action::ApplicationsList, org_id)?;
    Ok(Paged::from_rows(rows, page, |r| r.membership_id))
}

/// Every match in an org's subtree, for a file (see [`crate::roster_csv`]).
pub struct Export {
    /// The org exported: the file is named after it.
    pub org: OrgRef,
    pub rows: Vec<MemberRow>,
}

/// The use case: staff export every match in their subtree.
pub fn export(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    filter: &Filter,
) -> Result<Export> {
    staff::require(conn, user, org_id)?;
    let org = crate::orgs::reference(conn, org_id)?;
    let rows = query(conn, identity, org_id, filter, None, EXPORT_LIMIT)?;
    viewed(conn, actor, Action::MembersExport, org_id)?;
    Ok(Export { org, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_days_start_at_16_utc_the_day_before() {
        let start = shanghai_midnight(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(start.to_string(), "2026-11-22 16:00:00");
    }
}
