//! A health-check session's roster for its staff: who booked, waits, checked in or did not
//! come, as a page of JSON or the whole list as a CSV file for the truck. Personal data appears
//! masked only, as in the member list; reading or exporting a roster is recorded.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::{AuthUser, Identity};
use membership::members::{ListFormat, Output};
use membership::roster_csv::CsvLang;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::csv::{self, Column};
use platform::error::Lang;
use platform::pagination::{Cursor, Limit, Page, PageQuery, Paged};
use platform::schema::{accounts as a, bookings as b, members as m, real_name_profiles as rn};
use platform::{DbConn, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::health_sessions::{self, SessionView};
use crate::vocab::BookingStatus;
use identity::profile::mask_name;

/// Largest CSV export: far above a session's seats and waitlist.
pub const EXPORT_LIMIT: i64 = 100_000;

/// The query of `GET /v1/admin/sessions/{id}/bookings`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RosterQuery {
    /// `csv` for a spreadsheet of the whole roster (UTF-8 with BOM, personal data masked).
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

impl RosterQuery {
    /// A page, or (`format=csv`) the whole roster as a file in a language.
    pub fn output(&self) -> Output {
        if self.format == Some(ListFormat::Csv) {
            Output::File(self.lang.unwrap_or_default().into())
        } else {
            let page = PageQuery {
                limit: self.limit,
                cursor: self.cursor,
            };
            Output::Page(page.page())
        }
    }
}

/// One booking of a session, as its staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterRow {
    pub booking_id: i64,
    pub status: BookingStatus,
    /// The family name, the rest masked (`张*`); null without a real-name profile.
    pub name_masked: Option<String>,
    /// Null once the account has been deleted.
    pub phone_masked: Option<String>,
    pub member_no: Option<String>,
    pub booked_at: DateTime<Utc>,
    pub checked_in_at: Option<DateTime<Utc>>,
}

/// A whole roster, for a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterFile {
    /// The session exported: the file is named after it.
    pub session: SessionView,
    pub rows: Vec<RosterRow>,
}

type Listed = (
    (i64, String, NaiveDateTime, Option<NaiveDateTime>),
    (String, Option<NaiveDateTime>),
    (Option<String>, Option<String>),
);

/// Bookings of `session_id`, newest first, below `before`, at most `limit`.
fn query(
    conn: &mut DbConn,
    identity: &Identity,
    session_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<RosterRow>> {
    let rows: Vec<Listed> = b::table
        .inner_join(a::table.on(a::id.eq(b::account_id)))
        .left_join(rn::table.on(rn::account_id.eq(b::account_id)))
        .left_join(m::table.on(m::account_id.eq(b::account_id)))
        .filter(b::session_id.eq(session_id))
        .filter(b::id.lt(before.unwrap_or(i64::MAX)))
        .order(b::id.desc())
        .limit(limit)
        .select((
            (b::id, b::status, b::created_at, b::checked_in_at),
            (a::phone_enc, a::deleted_at),
            (rn::legal_name.nullable(), m::member_no.nullable()),
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|row| roster_row(identity, row))
        .collect()
}

/// The row staff see: the phone opened only to be masked.
fn roster_row(identity: &Identity, row: Listed) -> Result<RosterRow> {
    let ((id, status, created_at, checked_in_at), (phone_enc, deleted_at), (name, member_no)) = row;
    // A deleted account keeps its row with the phone blanked (see identity's erasure).
    let phone_masked = match deleted_at {
        Some(_) => None,
        None => Some(
            identity
                .open_phone(&phone_enc, format_args!("booking {id}"))?
                .masked(),
        ),
    };
    Ok(RosterRow {
        booking_id: id,
        status: BookingStatus::try_from(status).map_err(platform::Error::internal)?,
        name_masked: name.as_deref().map(mask_name),
        phone_masked,
        member_no,
        booked_at: created_at.and_utc(),
        checked_in_at: checked_in_at.map(|t| t.and_utc()),
    })
}

/// Records that staff read the people booked on a session: one entry per page or file.
fn viewed(conn: &mut DbConn, actor: &Actor, action: Action, org_id: i64, id: i64) -> Result<()> {
    let entry = Entry::new(action, Record::new("session", id)).in_org(org_id);
    audit::record(conn, actor, entry)
}

/// The use case: staff read a page of a session's bookings (a session of their subtree).
pub fn list(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    session_id: i64,
    page: Page,
) -> Result<Paged<RosterRow>> {
    let (program, _) = health_sessions::managed(conn, user, session_id)?;
    let rows = query(conn, identity, session_id, page.before, page.limit + 1)?;
    viewed(
        conn,
        actor,
        Action::BookingsList,
        program.org_id,
        session_id,
    )?;
    Ok(Paged::from_rows(rows, page, |r| r.booking_id))
}

/// The use case: staff export a session's whole roster (see [`render`] for the file).
pub fn export(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    session_id: i64,
) -> Result<RosterFile> {
    let (program, session) = health_sessions::managed(conn, user, session_id)?;
    let rows = query(conn, identity, session_id, None, EXPORT_LIMIT)?;
    viewed(
        conn,
        actor,
        Action::BookingsExport,
        program.org_id,
        session_id,
    )?;
    Ok(RosterFile { session, rows })
}

fn status_label(status: BookingStatus, lang: Lang) -> &'static str {
    match lang {
        Lang::En => status.as_str(),
        Lang::ZhCn => match status {
            BookingStatus::Booked => "已预约",
            BookingStatus::Waitlisted => "候补中",
            BookingStatus::Cancelled => "已取消",
            BookingStatus::CheckedIn => "已签到",
            BookingStatus::NoShow => "未到场",
            BookingStatus::Lapsed => "候补逾期未确认",
        },
    }
}

/// The columns, in file order. The English headers are the JSON field names scripts know.
const COLUMNS: [Column<RosterRow>; 7] = [
    Column {
        zh: "预约编号",
        en: "booking_id",
        value: |r, _| r.booking_id.to_string(),
    },
    Column {
        zh: "姓名",
        en: "name_masked",
        value: |r, _| r.name_masked.clone().unwrap_or_default(),
    },
    Column {
        zh: "手机号",
        en: "phone_masked",
        value: |r, _| r.phone_masked.clone().unwrap_or_default(),
    },
    Column {
        zh: "会员编号",
        en: "member_no",
        value: |r, _| r.member_no.clone().unwrap_or_default(),
    },
    Column {
        zh: "状态",
        en: "status",
        value: |r, lang| status_label(r.status, lang).to_owned(),
    },
    Column {
        zh: "预约时间",
        en: "booked_at",
        value: |r, lang| csv::time(r.booked_at, lang),
    },
    Column {
        zh: "签到时间",
        en: "checked_in_at",
        value: |r, lang| {
            r.checked_in_at
                .map(|t| csv::time(t, lang))
                .unwrap_or_default()
        },
    },
];

/// The file's text: Chinese headers and labels, or (`Lang::En`) field names and codes.
pub fn render(file: &RosterFile, lang: Lang) -> String {
    csv::render(&COLUMNS, &file.rows, lang)
}

/// The download, named after the session's site and day (Beijing), e.g.
/// `预约名册-玄武区户外劳动者驿站-2026-12-10.csv`.
pub fn download(file: &RosterFile, lang: Lang) -> actix_web::HttpResponse {
    let session = &file.session;
    let day = platform::clock::local(session.starts_at).date();
    let stem = match lang {
        Lang::ZhCn => "预约名册",
        Lang::En => "bookings",
    };
    csv::download(
        &format!("bookings-{}-{day}", session.id),
        &format!("{stem}-{}-{day}", session.site_name),
        render(file, lang),
    )
}
