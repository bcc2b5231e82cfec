//! What staff see of a member's notifications: those of the membership they opened, from its
//! application until it ended, so a union does not read what another told the person.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use identity::notices::{self, NotificationView};
use identity::AuthUser;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::pagination::{Page, Paged};
use platform::schema::memberships as ms;
use platform::{DbConn, Result};

/// The use case: a page of the notifications of membership `id`'s member during it, newest
/// first. The same scope as the member's page (404 outside the subtree); recorded.
pub fn of_member(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    page: Page,
) -> Result<Paged<NotificationView>> {
    let who = crate::members::subject(conn, user, id)?;
    let window: (NaiveDateTime, Option<NaiveDateTime>) = ms::table
        .find(id)
        .select((ms::applied_at, ms::ended_at))
        .first(conn)?;
    let list = notices::during(conn, who.account_id, window, page)?;
    let entry = Entry::new(Action::NotificationsView, Record::new("membership", id))
        .in_org(who.org_id)
        .about(who.account_id);
    audit::record(conn, actor, entry)?;
    Ok(list)
}
