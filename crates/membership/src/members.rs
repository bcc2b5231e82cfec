//! Staff views of the people in their subtree: members and pending applications, filtered,
//! searched, paged, and exported (the file is [`crate::roster_csv`]). Personal data appears
//! masked only.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::phone::Phone;
use identity::{AuthUser, Identity};
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::clock::shanghai_midnight;
use platform::error::Lang;
use platform::pagination::{Cursor, Limit, Page, PageQuery, Paged};
use platform::schema::{
    accounts as a, members as m, memberships as ms, org_closure as c, orgs as o,
    real_name_profiles as rn,
};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::applications::{self, EventView, MembershipView};
use crate::orgs::OrgRef;
use crate::roster_csv::CsvLang;
use crate::vocab::{Occupation, Status};
use crate::{member_no, staff};

/// Largest CSV export; beyond it, narrow the filter.
pub const EXPORT_LIMIT: i64 = 100_000;

/// Rows read per statement once their ids are known (SQLite binds at most 32,766 values).
const ROWS_PER_STATEMENT: usize = 1_000;

/// Accounts a name fragment may match for the list to name them; a more common fragment is
/// matched in a subquery instead.
const NAME_MATCHES_LISTED: i64 = 1_000;

platform::vocabulary! {
    /// What a list answers in: a page of JSON, or every match as a spreadsheet.
    ListFormat {
        Json = "json",
        Csv = "csv",
    }
}

/// The query of `GET /v1/admin/orgs/{id}/members`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// active (default), pending, ended, rejected or withdrawn.
    #[param(inline)]
    pub status: Option<Status>,
    #[param(inline)]
    pub occupation: Option<Occupation>,
    pub platform: Option<String>,
    /// YYYY-MM-DD, Asia/Shanghai.
    pub joined_from: Option<NaiveDate>,
    pub joined_to: Option<NaiveDate>,
    /// A name fragment, a full mobile number, or a member number.
    pub q: Option<String>,
    /// `csv` for a spreadsheet of every match (UTF-8 with BOM, personal data masked).
    #[param(inline)]
    pub format: Option<ListFormat>,
    /// The CSV's headers and labels: `zh` (default) or `en` (field names and codes).
    #[param(inline)]
    pub lang: Option<CsvLang>,
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
}

impl MembersQuery {
    /// Who to list, and how to answer: a page, or (`format=csv`) every match as a file.
    pub fn into_parts(self) -> (Filter, Output) {
        let filter = Filter {
            status: self.status,
            occupation: self.occupation,
            platform: self.platform,
            joined_from: self.joined_from,
            joined_to: self.joined_to,
            q: self.q,
        };
        let output = if self.format == Some(ListFormat::Csv) {
            Output::File(self.lang.unwrap_or_default().into())
        } else {
            let page = PageQuery {
                limit: self.limit,
                cursor: self.cursor,
            };
            Output::Page(page.page())
        };
        (filter, output)
    }
}

/// How a staff list answers.
#[derive(Debug, Clone, Copy)]
pub enum Output {
    Page(Page),
    /// Every match, for a file in this language (see [`crate::roster_csv`]).
    File(Lang),
}

/// What [`roster`] answers, by [`Output`].
pub enum Roster {
    Page(Paged<MemberRow>),
    File(Export, Lang),
}

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
    /// Null once the account has been deleted.
    pub phone_masked: Option<String>,
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

/// A row as read: the columns of [`query`]'s join, in its select order.
#[derive(Queryable)]
struct Listed {
    membership_id: i64,
    member_no: Option<String>,
    legal_name: Option<String>,
    phone_enc: String,
    deleted_at: Option<NaiveDateTime>,
    id_number_masked: Option<String>,
    org_id: i64,
    org_name: String,
    #[diesel(deserialize_as = String)]
    occupation: Occupation,
    platform: String,
    work_city: String,
    #[diesel(deserialize_as = String)]
    status: Status,
    applied_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
}

/// What a staff search text means.
#[derive(Debug, PartialEq, Eq)]
enum Search {
    /// A full mobile number, as its hash: numbers are stored encrypted, so only a whole one
    /// can be looked up.
    PhoneHash(String),
    MemberNo(String),
    /// A `LIKE` pattern (escaped with `\`) for a fragment of the legal name.
    Name(String),
}

impl Search {
    fn of(identity: &Identity, q: Option<&str>) -> Option<Search> {
        let text = q.map(str::trim).filter(|t| !t.is_empty())?;
        Some(if let Some(phone) = Phone::parse(text) {
            Search::PhoneHash(identity.phone_hash(&phone))
        } else if member_no::is_valid(text) {
            Search::MemberNo(text.to_owned())
        } else {
            Search::Name(name_pattern(text))
        })
    }
}

/// Matches names holding `fragment`, its `%` and `_` taken literally.
fn name_pattern(fragment: &str) -> String {
    let escaped = fragment
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The filter's days as instants `[from, until)`: whole days in Asia/Shanghai.
fn joined_window(filter: &Filter) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
    let from = filter.joined_from.map(shanghai_midnight);
    let until = filter
        .joined_to
        .map(|to| shanghai_midnight(to + chrono::Days::new(1)));
    (from, until)
}

/// Rows of the subtree of `org_id` matching `filter`, newest first, below `before`, at most
/// `limit`.
///
/// In two steps: the page's membership ids first, from the memberships alone (the subtree as
/// a subquery, a search as the accounts it matches), then the joins for those rows only. In
/// one joined statement SQLite (which has no planner statistics here) joined the account,
/// member number and real-name profile of every membership in the subtree before sorting them
/// for the newest page: 17-28 ms for 10,000 members, against 0.02 ms for the ids along the
/// (org, status, id) index this way. A search picks the matching accounts on their own table
/// first (a name fragment scans the profiles, 1.3 ms for 11,000) and then their memberships by
/// account, instead of probing the profile of every member of the subtree (14-24 ms).
fn query(
    conn: &mut DbConn,
    identity: &Identity,
    org_id: i64,
    filter: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<MemberRow>> {
    let status = filter.status.unwrap_or(Status::Active);
    let subtree = c::table
        .filter(c::ancestor_id.eq(org_id))
        .select(c::descendant_id);
    let mut page = ms::table
        .filter(ms::org_id.eq_any(subtree))
        .filter(ms::status.eq(status.as_str()))
        .select(ms::id)
        .order(ms::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        page = page.filter(ms::id.lt(before));
    }
    if let Some(occupation) = filter.occupation {
        page = page.filter(ms::occupation.eq(occupation.as_str()));
    }
    if let Some(platform) = &filter.platform {
        page = page.filter(ms::platform.eq(platform.clone()));
    }
    // Applications have not joined yet: their dates filter on when they applied.
    let by_applied = matches!(
        status,
        Status::Pending | Status::Rejected | Status::Withdrawn
    );
    let (from, until) = joined_window(filter);
    if let Some(from) = from {
        page = if by_applied {
            page.filter(ms::applied_at.ge(from))
        } else {
            page.filter(ms::started_at.ge(from))
        };
    }
    if let Some(until) = until {
        page = if by_applied {
            page.filter(ms::applied_at.lt(until))
        } else {
            page.filter(ms::started_at.lt(until))
        };
    }
    page = match Search::of(identity, filter.q.as_deref()) {
        Some(Search::PhoneHash(hash)) => page
            .filter(ms::account_id.eq_any(a::table.filter(a::phone_hash.eq(hash)).select(a::id))),
        Some(Search::MemberNo(number)) => page.filter(
            ms::account_id.eq_any(
                m::table
                    .filter(m::member_no.eq(number))
                    .select(m::account_id),
            ),
        ),
        Some(Search::Name(pattern)) => {
            let matching = rn::table
                .filter(rn::legal_name.like(pattern).escape('\\'))
                .select(rn::account_id);
            let listed: Vec<i64> = matching.clone().limit(NAME_MATCHES_LISTED + 1).load(conn)?;
            if listed.len() as i64 <= NAME_MATCHES_LISTED {
                // The accounts themselves, not the subquery: PostgreSQL plans a prepared
                // statement once for any pattern after a few runs, and that plan walks the
                // subtree's memberships newest first probing each profile (50-70 ms for
                // 10,000 members when the name is rare).
                page.filter(ms::account_id.eq_any(listed))
            } else {
                // A fragment this common: walking the subtree newest first meets a page soon.
                page.filter(ms::account_id.eq_any(matching))
            }
        }
        None => page,
    };
    let ids: Vec<i64> = page.load(conn)?;
    rows_of(conn, identity, &ids)
}

/// The rows of these memberships, in the order given (newest first). A page is one statement;
/// an export's ids go in slices (bound parameters are limited).
fn rows_of(conn: &mut DbConn, identity: &Identity, ids: &[i64]) -> Result<Vec<MemberRow>> {
    let mut rows = Vec::with_capacity(ids.len());
    for slice in ids.chunks(ROWS_PER_STATEMENT) {
        let listed: Vec<Listed> = ms::table
            .inner_join(o::table.on(o::id.eq(ms::org_id)))
            .inner_join(a::table.on(a::id.eq(ms::account_id)))
            .left_join(m::table.on(m::account_id.eq(ms::account_id)))
            .left_join(rn::table.on(rn::account_id.eq(ms::account_id)))
            .filter(ms::id.eq_any(slice))
            .select((
                ms::id,
                m::member_no.nullable(),
                rn::legal_name.nullable(),
                a::phone_enc,
                a::deleted_at,
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
            .load(conn)?;
        rows.extend(listed);
    }
    rows.into_iter().map(|r| member_row(identity, r)).collect()
}

/// The row staff see: the phone opened only to be masked.
fn member_row(identity: &Identity, row: Listed) -> Result<MemberRow> {
    let id = row.membership_id;
    let phone_masked = masked_phone(identity, &row.phone_enc, row.deleted_at, id)?;
    Ok(MemberRow {
        membership_id: row.membership_id,
        member_no: row.member_no,
        legal_name: row.legal_name,
        phone_masked,
        id_number_masked: row.id_number_masked,
        org: OrgRef {
            id: row.org_id,
            name: row.org_name,
        },
        occupation: row.occupation,
        platform: row.platform,
        work_city: row.work_city,
        status: row.status,
        applied_at: row.applied_at.and_utc(),
        joined_at: row.started_at.map(|t| t.and_utc()),
    })
}

/// The account's phone, masked; None once the account is deleted, which keeps its row with
/// the phone blanked (see identity's erasure). `membership_id` names the row in the error.
fn masked_phone(
    identity: &Identity,
    phone_enc: &str,
    deleted_at: Option<NaiveDateTime>,
    membership_id: i64,
) -> Result<Option<String>> {
    if deleted_at.is_some() {
        return Ok(None);
    }
    let phone = identity.open_phone(phone_enc, format_args!("membership {membership_id}"))?;
    Ok(Some(phone.masked()))
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

/// The use case behind the member list: a page, or every match for a file.
pub fn roster(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    filter: &Filter,
    output: Output,
) -> Result<Roster> {
    match output {
        Output::Page(page) => {
            list(conn, identity, user, actor, org_id, filter, page).map(Roster::Page)
        }
        Output::File(lang) => {
            let export = export(conn, identity, user, actor, org_id, filter)?;
            Ok(Roster::File(export, lang))
        }
    }
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

/// Whose page a membership id opens, once the caller may see it.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    pub membership_id: i64,
    pub account_id: i64,
    /// The membership's org: the caller's subtree holds it.
    pub org_id: i64,
}

/// The person of membership `id` (the `membership_id` of a staff list's row), when `user` may
/// act on its org: 403 for no staff at all (before any look-up, so ids tell them nothing), 404
/// for no such membership and for one outside the caller's subtree alike.
pub fn subject(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<Subject> {
    staff::require_any(conn, user)?;
    let (account_id, org_id) = ms::table
        .find(id)
        .select((ms::account_id, ms::org_id))
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::new(ErrorCode::NotFound))?;
    staff::require(conn, user, org_id)?;
    Ok(Subject {
        membership_id: id,
        account_id,
        org_id,
    })
}

/// A member's page for staff, opened from a row of a staff list. Personal data as the lists
/// show it: the name, the phone and ID number masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberDetail {
    pub legal_name: Option<String>,
    /// Null once the account has been deleted.
    pub phone_masked: Option<String>,
    pub id_number_masked: Option<String>,
    /// The membership (or application) the page was opened from: its org, status, member
    /// number and dates.
    pub membership: MembershipView,
    /// Applications, decisions, transfers and departures, newest first: those in orgs the
    /// caller may act on (a transfer shows where it led in its note).
    pub history: Vec<EventView>,
}

/// The use case: staff open the page of the member of membership `id` (see [`subject`] for
/// who may). Reading it is a view of personal data, so it is recorded.
pub fn detail(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
) -> Result<MemberDetail> {
    let who = subject(conn, user, id)?;
    let (phone_enc, deleted_at, legal_name, id_number_masked): PersonRow = a::table
        .find(who.account_id)
        .left_join(rn::table.on(rn::account_id.eq(a::id)))
        .select((
            a::phone_enc,
            a::deleted_at,
            rn::legal_name.nullable(),
            rn::id_number_masked.nullable(),
        ))
        .first(conn)?;
    let phone_masked = masked_phone(identity, &phone_enc, deleted_at, id)?;
    let mut history = applications::history(conn, who.account_id)?;
    let orgs: Vec<i64> = history.iter().map(|e| e.org.id).collect();
    let visible = staff::actable(conn, user, &orgs)?;
    history.retain(|e| visible.contains(&e.org.id));
    let entry = Entry::new(Action::MemberView, Record::new("membership", id))
        .in_org(who.org_id)
        .about(who.account_id);
    audit::record(conn, actor, entry)?;
    Ok(MemberDetail {
        legal_name,
        phone_masked,
        id_number_masked,
        membership: applications::view(conn, id)?,
        history,
    })
}

/// What a member's page reads of the account and the real-name profile.
type PersonRow = (
    String,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_days_start_at_16_utc_the_day_before() {
        let start = shanghai_midnight(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(start.to_string(), "2026-11-22 16:00:00");
    }

    #[test]
    fn the_window_runs_from_the_first_midnight_to_the_one_after_the_last_day() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let filter = Filter {
            joined_from: Some(day(23)),
            joined_to: Some(day(24)),
            ..Filter::default()
        };
        let (from, until) = joined_window(&filter);
        assert_eq!(from.unwrap().to_string(), "2026-11-22 16:00:00");
        assert_eq!(until.unwrap().to_string(), "2026-11-24 16:00:00");
        assert_eq!(joined_window(&Filter::default()), (None, None));
    }

    #[test]
    fn name_fragments_match_their_wildcards_literally() {
        assert_eq!(name_pattern("张"), "%张%");
        assert_eq!(name_pattern(r"5%_\"), r"%5\%\_\\%");
    }

    #[test]
    fn only_csv_answers_with_a_file() {
        let query = |format, lang| MembersQuery {
            status: Some(Status::Pending),
            occupation: None,
            platform: None,
            joined_from: None,
            joined_to: None,
            q: Some("张".to_owned()),
            format,
            lang,
            limit: None,
            cursor: None,
        };
        let (filter, output) = query(Some(ListFormat::Csv), None).into_parts();
        assert_eq!(filter.status, Some(Status::Pending));
        assert_eq!(filter.q.as_deref(), Some("张"));
        assert!(matches!(output, Output::File(Lang::ZhCn)));
        let (_, output) = query(Some(ListFormat::Csv), Some(CsvLang::En)).into_parts();
        assert!(matches!(output, Output::File(Lang::En)));
        for format in [None, Some(ListFormat::Json)] {
            let (_, output) = query(format, Some(CsvLang::En)).into_parts();
            assert!(matches!(output, Output::Page(Page { before: None, .. })));
        }
    }
}
