//! Staff broadcasts: a message to the members of an org's subtree (a service fair, a new
//! program), narrowed by occupation, platform or a program they took part in. Staff see how
//! many it reaches before sending; an org sends at most [`PER_DAY`] a day; each is in the
//! audit log and in every recipient's inbox (by the outbox, inbox only: an SMS to thousands is
//! a bill staff do not run up from a form).
//!
//! It lives with benefits because a program is one of its filters.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::staff;
use membership::vocab::{Occupation, Status};
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::outbox::{self, Notice, Topic};
use platform::pagination::{Page, Paged};
use platform::schema::{
    bookings as b, broadcasts as bc, memberships as ms, org_closure as c, orgs as o, vouchers as v,
};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::programs;

/// Broadcasts an org may send in 24 hours: a union's members should read every one.
pub const PER_DAY: i64 = 3;

/// Who a broadcast goes to: the active members of the org's subtree, narrowed by each filter
/// given.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    pub occupation: Option<Occupation>,
    /// As members gave it when they joined (美团, 饿了么 ...).
    pub platform: Option<Text<50>>,
    /// Members who claimed or booked this program of the subtree.
    // Bounded where JSON numbers stay exact integers (a `1.0e16` is no id).
    #[schema(minimum = 1, maximum = 999_999_999_999_999_i64)]
    pub program_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBroadcast {
    pub title: Text<40>,
    pub body: Text<500>,
    #[serde(default)]
    pub audience: Audience,
}

/// How many a broadcast would reach.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reach {
    pub recipients: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastView {
    pub id: i64,
    pub org_id: i64,
    pub title: String,
    pub body: String,
    pub audience: Audience,
    /// Members it reached.
    pub recipients: i64,
    pub sent_by: i64,
    pub created_at: DateTime<Utc>,
}

type Row = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    NaiveDateTime,
);

const COLUMNS: (
    bc::id,
    bc::org_id,
    bc::title,
    bc::body,
    bc::occupation,
    bc::platform,
    bc::program_id,
    bc::recipients,
    bc::sent_by,
    bc::created_at,
) = (
    bc::id,
    bc::org_id,
    bc::title,
    bc::body,
    bc::occupation,
    bc::platform,
    bc::program_id,
    bc::recipients,
    bc::sent_by,
    bc::created_at,
);

fn view(row: Row) -> BroadcastView {
    let (id, org_id, title, body, occupation, platform, program_id, recipients, sent_by, at) = row;
    BroadcastView {
        id,
        org_id,
        title,
        body,
        audience: Audience {
            occupation: occupation.as_deref().and_then(Occupation::parse),
            platform: platform.as_deref().and_then(Text::parse),
            program_id,
        },
        recipients,
        sent_by,
        created_at: at.and_utc(),
    }
}

/// The accounts `audience` of `org_id` names, in id order. A program outside the subtree is
/// 404, as the program itself would be.
pub(crate) fn recipients(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    audience: &Audience,
) -> Result<Vec<i64>> {
    staff::require(conn, user, org_id)?;
    let subtree = c::table
        .filter(c::ancestor_id.eq(org_id))
        .select(c::descendant_id);
    let mut query = ms::table
        .filter(ms::org_id.eq_any(subtree))
        .filter(ms::status.eq(Status::Active.as_str()))
        .select(ms::account_id)
        .order(ms::account_id)
        .into_boxed();
    if let Some(occupation) = audience.occupation {
        query = query.filter(ms::occupation.eq(occupation.as_str()));
    }
    if let Some(platform) = &audience.platform {
        query = query.filter(ms::platform.eq(platform.to_string()));
    }
    if let Some(program_id) = audience.program_id {
        let program = programs::managed(conn, user, program_id)?;
        let in_subtree: i64 = c::table
            .filter(c::ancestor_id.eq(org_id))
            .filter(c::descendant_id.eq(program.org_id))
            .count()
            .get_result(conn)?;
        if in_subtree == 0 {
            return Err(Error::new(ErrorCode::NotFound));
        }
        let claimed = v::table
            .filter(v::program_id.eq(program_id))
            .select(v::account_id);
        let booked = b::table
            .filter(b::program_id.eq(program_id))
            .select(b::account_id);
        query = query.filter(
            ms::account_id
                .eq_any(claimed)
                .or(ms::account_id.eq_any(booked)),
        );
    }
    Ok(query.load(conn)?)
}

/// The use case: how many `audience` reaches, before sending.
pub fn preview(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    audience: &Audience,
) -> Result<Reach> {
    let recipients = recipients(conn, user, org_id, audience)?.len() as i64;
    Ok(Reach { recipients })
}

/// The use case: staff send a broadcast to the audience as it is now. `rate_limited` after
/// [`PER_DAY`] in 24 hours from the org; the org's row lock makes parallel sends count each
/// other.
pub fn send(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    new: &NewBroadcast,
) -> Result<BroadcastView> {
    let to = recipients(conn, user, org_id, &new.audience)?;
    diesel::update(o::table.find(org_id))
        .set(o::id.eq(o::id))
        .execute(conn)?;
    let now = platform::clock::now();
    let day = TimeDelta::hours(24);
    let sent_today: Vec<NaiveDateTime> = bc::table
        .filter(bc::org_id.eq(org_id))
        .filter(bc::created_at.gt(now - day))
        .order(bc::created_at)
        .select(bc::created_at)
        .load(conn)?;
    if sent_today.len() as i64 >= PER_DAY {
        let wait = (sent_today[0] + day - now).to_std().unwrap_or_default();
        return Err(Error::rate_limited(wait));
    }
    let audience = &new.audience;
    let id: i64 = diesel::insert_into(bc::table)
        .values((
            bc::org_id.eq(org_id),
            bc::title.eq(&*new.title),
            bc::body.eq(&*new.body),
            bc::occupation.eq(audience.occupation.map(Occupation::as_str)),
            bc::platform.eq(audience.platform.as_deref()),
            bc::program_id.eq(audience.program_id),
            bc::recipients.eq(to.len() as i64),
            bc::sent_by.eq(user.account_id),
            bc::created_at.eq(now),
        ))
        .returning(bc::id)
        .get_result(conn)?;
    for accounts in to.chunks(1000) {
        let notices: Vec<Notice> = accounts
            .iter()
            .map(|&account_id| Notice {
                account_id,
                topic: Topic::Broadcast,
                subject: Record::new("broadcast", id),
                title: new.title.to_string(),
                body: new.body.to_string(),
                deadline: None,
            })
            .collect();
        outbox::send(conn, &notices)?;
    }
    let entry = Entry::new(Action::BroadcastSend, Record::new("broadcast", id)).in_org(org_id);
    audit::record(conn, actor, entry)?;
    Ok(view(bc::table.find(id).select(COLUMNS).first(conn)?))
}

/// The use case: the broadcasts of an org, newest first.
pub fn list(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    page: Page,
) -> Result<Paged<BroadcastView>> {
    staff::require(conn, user, org_id)?;
    let mut query = bc::table
        .filter(bc::org_id.eq(org_id))
        .order(bc::id.desc())
        .limit(page.limit + 1)
        .select(COLUMNS)
        .into_boxed();
    if let Some(before) = page.before {
        query = query.filter(bc::id.lt(before));
    }
    let rows: Vec<Row> = query.load(conn)?;
    let views = rows.into_iter().map(view).collect();
    Ok(Paged::from_rows(views, page, |v: &BroadcastView| v.id))
}
