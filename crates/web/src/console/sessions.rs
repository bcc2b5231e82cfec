//! Health-check sessions of a program: add one, edit one (capacity never below the seats
//! booked), cancel one with its bookings; a session's roster with check-in state, as a page
//! and as a CSV.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use benefits::health_sessions::{self, CreateSession, PatchSession, SessionView};
use benefits::programs::StaffProgramDetail;
use benefits::rosters::{self, RosterRow};
use benefits::Benefits;
use identity::Identity;
use maud::{html, Markup};
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::text::Text;
use platform::{Db, Error, ErrorCode};
use serde::Deserialize;

use crate::errors::{refusal_text, PageResult};
use crate::forms::{optional, required_time, time_value, Empty, Submitted};
use crate::i18n::{Lang, Pick};
use crate::labels;
use crate::layout::{self, csrf, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/programs/{id}/sessions", web::post().to(add))
        .route("/sessions/{id}", web::get().to(roster))
        .route("/sessions/{id}/roster.csv", web::get().to(roster_csv))
        .route("/sessions/{id}/edit", web::post().to(edit))
        .route("/sessions/{id}/cancel", web::post().to(cancel));
}

/// The sessions part of the page of a program booked by sessions (health checks, legal
/// consultations).
pub fn section(staff: &Staff, program: &StaffProgramDetail) -> Markup {
    let lang = staff.lang;
    let id = program.program.id;
    html! {
        h2 { (lang.t("场次", "Sessions")) }
        div.table { table #sessions {
            thead { tr {
                th { (lang.t("地点", "Site")) } th { (lang.t("时间", "When")) }
                th { (lang.t("剩余 / 名额", "Left / seats")) } th { (lang.t("操作", "Actions")) }
            } }
            tbody {
                @for s in &program.sessions {
                    tr data-session=(s.id) data-cancelled=(s.cancelled_at.is_some()) {
                        td { a href=(format!("/console/sessions/{}", s.id)) { (s.site_name) } br; small.muted { (s.address) } }
                        td { (layout::when(s.starts_at)) " – " (layout::when(s.ends_at)) }
                        td { (s.seats_left) " / " (s.capacity) }
                        td { @if s.cancelled_at.is_some() { (lang.t("已取消", "Cancelled")) } @else {
                            form method="post" action=(format!("/console/sessions/{}/cancel", s.id)) {
                                (csrf(staff)) button.secondary type="submit" { (lang.t("取消场次", "Cancel")) } }
                        } }
                    }
                }
            }
        } }
        h2 { (lang.t("新增场次", "Add a session")) }
        (session_form(staff, &format!("/console/programs/{id}/sessions"), None))
    }
}

fn session_form(staff: &Staff, action: &str, session: Option<&SessionView>) -> Markup {
    let lang = staff.lang;
    html! {
        form.stack method="post" action=(action) id=(if session.is_some() { "edit-session" } else { "new-session" }) {
            (csrf(staff))
            label { (lang.t("地点名称", "Site")) input type="text" name="site_name" maxlength="100" required value=[session.map(|s| s.site_name.as_str())]; }
            label { (lang.t("地址", "Address")) input type="text" name="address" maxlength="200" required value=[session.map(|s| s.address.as_str())]; }
            label { (lang.t("开始", "Starts")) input type="datetime-local" name="starts_at" required value=[session.map(|s| time_value(s.starts_at))]; }
            label { (lang.t("结束", "Ends")) input type="datetime-local" name="ends_at" required value=[session.map(|s| time_value(s.ends_at))]; }
            label { (lang.t("名额", "Seats")) input type="number" name="capacity" min="1" max="10000" required value=(session.map_or(200, |s| s.capacity)); }
            button type="submit" { (if session.is_some() { lang.t("保存", "Save") } else { lang.t("新增", "Add") }) }
        }
    }
}

#[derive(Deserialize)]
pub struct SessionFields {
    site_name: String,
    address: String,
    starts_at: Option<String>,
    ends_at: Option<String>,
    capacity: Option<String>,
}

impl SessionFields {
    fn text<const N: usize>(value: &str, field: &'static str) -> Result<Text<N>, Error> {
        Text::parse(value).ok_or_else(|| Error::invalid(ErrorCode::InvalidField, field))
    }

    fn capacity(&self) -> Result<i32, Error> {
        optional(&self.capacity, "capacity")?
            .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "capacity"))
    }

    fn new_session(&self) -> Result<CreateSession, Error> {
        Ok(CreateSession {
            site_name: Self::text(&self.site_name, "site_name")?,
            address: Self::text(&self.address, "address")?,
            location: None,
            starts_at: required_time(&self.starts_at, "starts_at")?,
            ends_at: required_time(&self.ends_at, "ends_at")?,
            capacity: self.capacity()?,
        })
    }

    /// Every field replaces the stored one; the location is kept.
    fn patch(&self) -> Result<PatchSession, Error> {
        Ok(PatchSession {
            site_name: Some(Self::text(&self.site_name, "site_name")?),
            address: Some(Self::text(&self.address, "address")?),
            location: None,
            starts_at: Some(required_time(&self.starts_at, "starts_at")?),
            ends_at: Some(required_time(&self.ends_at, "ends_at")?),
            capacity: Some(self.capacity()?),
        })
    }
}

fn to(path: String, staff: &Staff, message: &str) -> HttpResponse {
    staff.back_to(path, message)
}

async fn add(
    req: HttpRequest,
    program: web::Path<i64>,
    submitted: Submitted<SessionFields>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let program = program.into_inner();
    let Submitted { staff, form, .. } = submitted;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = match form.new_session().and_then(|s| s.validate(program)) {
        Ok(new) => db
            .write(move |conn| health_sessions::create(conn, &user, &actor, new))
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    let message = match outcome {
        Ok(()) => staff.lang.t("场次已新增。", "Session added.").to_owned(),
        Err(e) => refusal_text(staff.lang, &e),
    };
    Ok(to(format!("/console/programs/{program}"), &staff, &message))
}

async fn edit(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<SessionFields>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let offers = app_data::<Benefits>(&req)?.config.offers;
    let id = id.into_inner();
    let Submitted { staff, form, .. } = submitted;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = match form.patch() {
        Ok(patch) => db
            .write(move |conn| health_sessions::edit(conn, (&user, &actor), id, patch, offers))
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    let message = match outcome {
        Ok(()) => staff.lang.t("已保存。", "Saved.").to_owned(),
        Err(e) => refusal_text(staff.lang, &e),
    };
    Ok(to(format!("/console/sessions/{id}"), &staff, &message))
}

async fn cancel(req: HttpRequest, id: web::Path<i64>, submitted: Submitted<Empty>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let id = id.into_inner();
    let staff = submitted.staff;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let cancelled = db
        .write(move |conn| health_sessions::cancel(conn, &user, &actor, id))
        .await?;
    let message = match staff.lang {
        Lang::ZhCn => format!(
            "场次已取消，{} 个预约随之取消。",
            cancelled.bookings_cancelled
        ),
        Lang::En => format!(
            "Session cancelled, with its {} bookings.",
            cancelled.bookings_cancelled
        ),
    };
    Ok(to(
        format!("/console/programs/{}", cancelled.session.program_id),
        &staff,
        &message,
    ))
}

#[derive(Deserialize)]
pub struct RosterQuery {
    cursor: Option<Cursor>,
}

async fn roster(
    req: HttpRequest,
    staff: Staff,
    id: web::Path<i64>,
    query: web::Query<RosterQuery>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
    let id = id.into_inner();
    let page = PageQuery {
        limit: None,
        cursor: query.into_inner().cursor,
    }
    .page();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let (session, rows) = db
        .run(move |conn| {
            let (_, session) = health_sessions::managed(conn, &user, id)?;
            let rows = rosters::list(conn, &identity, &user, &actor, id, page)?;
            Ok((session, rows))
        })
        .await?;
    let lang = staff.lang;
    let body = html! {
        p.muted { (layout::when(session.starts_at)) " – " (layout::when(session.ends_at)) " · " (session.address) }
        p.actions {
            a.button.secondary href=(format!("/console/programs/{}", session.program_id)) { (lang.t("返回活动", "Back to the program")) }
            a.button href=(format!("/console/sessions/{id}/roster.csv")) download { (lang.t("下载名册 CSV", "Download the roster (CSV)")) }
        }
        (roster_table(lang, id, &rows))
        @if session.cancelled_at.is_none() {
            h2 { (lang.t("修改场次", "Edit the session")) }
            (session_form(&staff, &format!("/console/sessions/{id}/edit"), Some(&session)))
        }
    };
    Ok(layout::console(
        &staff,
        Section::Programs,
        &session.site_name,
        body,
    ))
}

fn roster_table(lang: Lang, id: i64, rows: &Paged<RosterRow>) -> Markup {
    html! {
        div.table { table #roster {
            thead { tr {
                th { (lang.t("姓名", "Name")) } th { (lang.t("手机", "Phone")) } th { (lang.t("会员号", "Member no.")) }
                th { (lang.t("预约时间", "Booked")) } th { (lang.t("状态", "State")) } th { (lang.t("签到时间", "Checked in")) }
            } }
            tbody {
                @for r in &rows.items {
                    tr data-booking=(r.booking_id) data-status=(r.status.as_str()) {
                        td { (r.name_masked.as_deref().unwrap_or("—")) }
                        td { (r.phone_masked.as_deref().unwrap_or("—")) }
                        td { (r.member_no.as_deref().unwrap_or("—")) }
                        td { (layout::when(r.booked_at)) }
                        td { (labels::booking_status(lang, r.status)) }
                        td { (r.checked_in_at.map(layout::when).unwrap_or_default()) }
                    }
                }
            }
        } }
        @if rows.items.is_empty() { p.muted { (lang.t("还没有预约。", "No booking yet.")) } }
        @if let Some(next) = &rows.next_cursor {
            p.pager { a href=(format!("/console/sessions/{id}?cursor={next}")) { (lang.t("下一页", "Next page")) } }
        }
    }
}

/// The roster file: the same use case and the same file as the API's `format=csv`.
async fn roster_csv(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
    let id = id.into_inner();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let file = db
        .run(move |conn| rosters::export(conn, &identity, &user, &actor, id))
        .await?;
    Ok(rosters::download(&file, staff.lang))
}
