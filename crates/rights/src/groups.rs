//! Group mediation (调解一起案、化解一批纠纷): the open cases that name one respondent (by its
//! credit code, or by its folded name) are one group across the whole union tree. Staff see the
//! group's cases of their subtree, and schedule one meeting or assign one mediator for all of
//! its accepted cases at once; each case keeps its own timeline entry, notices and audit entry.

use diesel::prelude::*;
use identity::AuthUser;
use membership::staff;
use platform::schema::cases as c;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cases::{self, CaseRow};
use crate::queue::{self, QueueRow};
use crate::vocab::CaseState;
use crate::RightsConfig;

/// The most cases one group step takes (a respondent with more is handled in parts, by
/// district).
pub const MAX_GROUP: i64 = 200;

/// The group of a case, as its staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseGroup {
    /// A person's name is masked (`张*`); a business's is not.
    pub respondent_name: String,
    /// Open cases against the respondent across the whole union, this one included.
    pub open_across_union: i64,
    /// The open ones of the caller's subtree, this one included, oldest first: what a group
    /// step may act on (those accepted).
    pub cases: Vec<QueueRow>,
}

/// The use case: staff of a case's subtree read its group.
pub fn of_case(
    conn: &mut DbConn,
    config: &RightsConfig,
    user: &AuthUser,
    case_id: i64,
) -> Result<CaseGroup> {
    let case = queue::in_scope(conn, user, case_id)?;
    let key = case.respondent_key.as_str();
    let open_across_union = cases::open_against(conn, &[key])?
        .get(key)
        .copied()
        .unwrap_or(0);
    let rows = open_in_scope(conn, user, key)?;
    Ok(CaseGroup {
        respondent_name: queue::shown_name(case.respondent_kind, &case.respondent_name),
        open_across_union,
        cases: queue::rows_of(conn, config, rows)?,
    })
}

/// The open cases against respondent `key` that `user` may act on, oldest first.
fn open_in_scope(conn: &mut DbConn, user: &AuthUser, key: &str) -> Result<Vec<CaseRow>> {
    let rows: Vec<CaseRow> = c::table
        .filter(c::respondent_key.eq(key))
        .filter(c::state.eq_any(CaseState::OPEN))
        .select(CaseRow::as_select())
        .order(c::id)
        .limit(MAX_GROUP)
        .load(conn)?;
    let orgs: Vec<i64> = rows.iter().map(|r| r.org_id).collect();
    let actable = staff::actable(conn, user, &orgs)?;
    Ok(rows
        .into_iter()
        .filter(|r| actable.contains(&r.org_id))
        .collect())
}

/// The cases a handling step acts on, each under its row lock: case `case_id` alone, or with
/// `whole_group` every accepted case of its group in the caller's subtree. The locks are taken
/// in id order, so two group steps at once never wait on each other in a cycle. `case_id`
/// itself must be accepted (or agreed); a case of the group that changed state meanwhile is
/// left out.
pub(crate) fn lock_for_step(
    conn: &mut DbConn,
    user: &AuthUser,
    case_id: i64,
    whole_group: bool,
) -> Result<Vec<CaseRow>> {
    let case = queue::in_scope(conn, user, case_id)?;
    let mut ids = vec![case_id];
    if whole_group {
        let group = open_in_scope(conn, user, &case.respondent_key)?;
        ids.extend(
            group
                .iter()
                .filter(|r| r.state.is_handled() && r.id != case_id)
                .map(|r| r.id),
        );
        ids.sort_unstable();
    }
    let mut locked = Vec::with_capacity(ids.len());
    for id in ids {
        let row = cases::lock(conn, id)?;
        if row.state.is_handled() {
            locked.push(row);
        } else if id == case_id {
            return Err(Error::new(ErrorCode::CaseNotAccepted));
        }
    }
    Ok(locked)
}

/// `，与针对同一被申请人的其他 2 起案件一并调解`: how a step on a group says so, or nothing.
pub(crate) fn together(cases: &[CaseRow]) -> String {
    match cases.len() {
        0 | 1 => String::new(),
        n => format!("，与针对同一被申请人的其他 {} 起案件一并调解", n - 1),
    }
}
