//! Staff scopes: staff are granted on an org and act on its whole subtree, nothing outside it.
//! Admins act everywhere.

use std::collections::HashSet;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::accounts::{StaffScope, ROLE_STAFF};
use identity::phone::Phone;
use identity::{AuthUser, Identity};
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::db::is_unique_violation;
use platform::schema::{accounts as a, org_closure as c, orgs as o, staff_grants as g};
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::orgs::{self, OrgRef};

/// The orgs an account is staff of (the hook identity calls for `/v1/me` and token roles).
pub fn scopes(conn: &mut DbConn, account_id: i64) -> Result<Vec<StaffScope>> {
    let rows: Vec<(i64, String)> = g::table
        .inner_join(o::table)
        .filter(g::account_id.eq(account_id))
        .select((o::id, o::name))
        .order(o::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(org_id, org_name)| StaffScope { org_id, org_name })
        .collect())
}

// The body of `POST /v1/admin/orgs/{id}/staff`; not a doc comment, which would become
// the schema description in the spec.
#[derive(Deserialize, ToSchema)]
pub struct GrantStaff {
    /// The phone number of an existing account.
    #[schema(schema_with = Phone::schema)]
    pub phone: String,
}

impl GrantStaff {
    /// The number to appoint, or `invalid_phone`.
    pub fn validate(&self) -> Result<Phone> {
        Phone::parse(&self.phone).ok_or_else(|| Error::invalid(ErrorCode::InvalidPhone, "phone"))
    }
}

/// A staff grant as the granting staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffGrant {
    pub org: OrgRef,
    pub account_id: i64,
    pub phone_masked: String,
}

/// The use case: staff of `org_id` make the account of `phone` staff there too (and so of the
/// whole subtree). False when it already was.
pub fn appoint(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    phone: &Phone,
) -> Result<(StaffGrant, bool)> {
    require(conn, user, org_id)?;
    let account = identity
        .credentials(conn, phone)?
        .ok_or_else(|| Error::new(ErrorCode::AccountNotFound))?;
    let created = grant(conn, org_id, account.account_id, user.account_id)?;
    let entry = Entry::new(
        Action::StaffGrant,
        Record::new("account", account.account_id),
    )
    .in_org(org_id)
    .about(account.account_id);
    audit::record(conn, actor, entry)?;
    let view = StaffGrant {
        org: orgs::reference(conn, org_id)?,
        account_id: account.account_id,
        phone_masked: phone.masked(),
    };
    Ok((view, created))
}

/// Grants staff on `org_id`; false when the grant already existed.
pub fn grant(conn: &mut DbConn, org_id: i64, account_id: i64, granted_by: i64) -> Result<bool> {
    // A savepoint, so that on PostgreSQL a duplicate does not abort the caller's transaction.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(g::table)
            .values((
                g::account_id.eq(account_id),
                g::org_id.eq(org_id),
                g::granted_by.eq(granted_by),
                g::created_at.eq(platform::clock::now()),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A member of staff of one org, as the console lists them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffMember {
    pub account_id: i64,
    pub phone_masked: String,
    /// The account that made the grant.
    pub granted_by: i64,
    /// Its number, masked; null once that account has been deleted.
    pub granted_by_phone_masked: Option<String>,
    pub granted_at: DateTime<Utc>,
}

/// The staff granted on one org (those granted on the orgs above it act on it too, and are
/// listed there).
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffList {
    pub org: OrgRef,
    /// Oldest grant first.
    pub items: Vec<StaffMember>,
}

/// A grant as read, in the select order of [`grants_on`].
#[derive(Queryable)]
struct GrantRow {
    account_id: i64,
    phone_enc: String,
    granted_by: i64,
    granter_phone_enc: String,
    granter_deleted_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

/// The grants on `org_id` (of `only` that account, when given), oldest first, in one query.
fn grants_on(
    conn: &mut DbConn,
    identity: &Identity,
    org_id: i64,
    only: Option<i64>,
) -> Result<Vec<StaffMember>> {
    let granter = diesel::alias!(platform::schema::accounts as granter);
    let mut q = g::table
        .inner_join(a::table.on(a::id.eq(g::account_id)))
        .inner_join(granter.on(granter.field(a::id).eq(g::granted_by)))
        .filter(g::org_id.eq(org_id))
        .select((
            g::account_id,
            a::phone_enc,
            g::granted_by,
            granter.field(a::phone_enc),
            granter.field(a::deleted_at),
            g::created_at,
        ))
        .order(g::id)
        .into_boxed();
    if let Some(account_id) = only {
        q = q.filter(g::account_id.eq(account_id));
    }
    let rows: Vec<GrantRow> = q.load(conn)?;
    rows.into_iter()
        .map(|row| staff_member(identity, row))
        .collect()
}

/// The grant as staff see it: the phones opened only to be masked.
fn staff_member(identity: &Identity, row: GrantRow) -> Result<StaffMember> {
    let (id, by) = (row.account_id, row.granted_by);
    let phone = identity.open_phone(&row.phone_enc, format_args!("account {id}"))?;
    // A deleted account keeps its row with the phone blanked (see identity's erasure).
    let granter_phone = match row.granter_deleted_at {
        Some(_) => None,
        None => {
            let sealed = &row.granter_phone_enc;
            Some(
                identity
                    .open_phone(sealed, format_args!("account {by}"))?
                    .masked(),
            )
        }
    };
    Ok(StaffMember {
        account_id: id,
        phone_masked: phone.masked(),
        granted_by: by,
        granted_by_phone_masked: granter_phone,
        granted_at: row.created_at.and_utc(),
    })
}

/// The use case: staff of `org_id` (or of an org above it) read who is granted on it.
pub fn list(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    org_id: i64,
) -> Result<StaffList> {
    require(conn, user, org_id)?;
    Ok(StaffList {
        org: orgs::reference(conn, org_id)?,
        items: grants_on(conn, identity, org_id, None)?,
    })
}

/// The use case: staff of `org_id` withdraw the grant of `account_id` on it; `not_found` when
/// there is none. The scope checks read the grants, so the access ends with this transaction.
/// Answers the grant as it was.
pub fn revoke(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    account_id: i64,
) -> Result<StaffMember> {
    require(conn, user, org_id)?;
    let not_found = || Error::new(ErrorCode::NotFound);
    let grant = grants_on(conn, identity, org_id, Some(account_id))?
        .pop()
        .ok_or_else(not_found)?;
    let grant_row = g::table
        .filter(g::org_id.eq(org_id))
        .filter(g::account_id.eq(account_id));
    // A revocation running beside this one may have deleted the row since it was read.
    if diesel::delete(grant_row).execute(conn)? == 0 {
        return Err(not_found());
    }
    let entry = Entry::new(Action::StaffRevoke, Record::new("account", account_id))
        .in_org(org_id)
        .about(account_id);
    audit::record(conn, actor, entry)?;
    Ok(grant)
}

/// The orgs `account_id` is granted on.
pub(crate) fn granted_orgs(conn: &mut DbConn, account_id: i64) -> Result<Vec<i64>> {
    Ok(g::table
        .filter(g::account_id.eq(account_id))
        .select(g::org_id)
        .load(conn)?)
}

/// Which of `orgs` `user` may act on, in one query.
pub fn actable(conn: &mut DbConn, user: &AuthUser, orgs: &[i64]) -> Result<HashSet<i64>> {
    if user.is_admin() {
        return Ok(orgs.iter().copied().collect());
    }
    Ok(g::table
        .inner_join(c::table.on(c::ancestor_id.eq(g::org_id)))
        .filter(g::account_id.eq(user.account_id))
        .filter(c::descendant_id.eq_any(orgs))
        .select(c::descendant_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect())
}

/// Whether `user` may act on `org_id`.
pub fn can_act_on(conn: &mut DbConn, user: &AuthUser, org_id: i64) -> Result<bool> {
    if user.is_admin() {
        return orgs::exists(conn, org_id);
    }
    Ok(diesel::select(diesel::dsl::exists(
        g::table
            .inner_join(c::table.on(c::ancestor_id.eq(g::org_id)))
            .filter(g::account_id.eq(user.account_id))
            .filter(c::descendant_id.eq(org_id)),
    ))
    .get_result(conn)?)
}

/// Refuses unless `user` may act on `org_id`. An account with no staff role at all gets 403;
/// staff asking about an org outside their subtree get 404, exactly as for an org that does not
/// exist, so scopes do not leak what lies beyond them.
pub fn require(conn: &mut DbConn, user: &AuthUser, org_id: i64) -> Result<()> {
    if can_act_on(conn, user, org_id)? {
        return Ok(());
    }
    if !user.is_admin() && !is_staff(conn, user.account_id)? {
        return Err(Error::new(ErrorCode::Forbidden));
    }
    Err(Error::new(ErrorCode::NotFound))
}

/// Staff or admin at all (for routes not tied to one org, such as card verification).
pub fn require_any(conn: &mut DbConn, user: &AuthUser) -> Result<()> {
    if user.is_admin() || is_staff(conn, user.account_id)? {
        Ok(())
    } else {
        Err(Error::new(ErrorCode::Forbidden))
    }
}

/// Staff routes (`/v1/admin/...`) turn away a caller who is not staff before anything else is
/// read: a rider posting a bad body to one hears 403, not what was wrong with the body. The
/// token's roles settle it for staff and admins; a token without them (a grant made since it
/// was issued) is checked against the grants. Each route still checks its own org scope.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> std::result::Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.path().starts_with("/v1/admin/") {
        let verdict = match identity::auth::authenticate(req.request()) {
            Err(e) => Err(e),
            Ok(user) if user.is_admin() || user.roles.iter().any(|r| r == ROLE_STAFF) => Ok(()),
            Ok(user) => match req.app_data::<web::Data<Db>>() {
                Some(db) => db.run(move |conn| require_any(conn, &user)).await,
                None => Ok(()),
            },
        };
        if let Err(e) = verdict {
            return Ok(req.error_response(e));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn is_staff(conn: &mut DbConn, account_id: i64) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        g::table.filter(g::account_id.eq(account_id)),
    ))
    .get_result(conn)?)
}
