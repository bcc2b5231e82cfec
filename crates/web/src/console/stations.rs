//! Stations: the rest stations of an org's subtree, a CSV import with each faulty row's reason
//! as a table, the door poster's QR, and the feedback board with answer and resolve.

use actix_web::{web, HttpRequest};
use maud::{html, Markup};
use platform::csv_import::{Refusal, RowError};
use platform::pagination::{Cursor, Paged};
use platform::qr;
use platform::{Coordinator, Db, Error, ErrorCode};
use serde::Deserialize;
use stations::feedback::{self, Board, BoardQuery, Body, FeedbackView, PatchFeedback};
use stations::import::{self, ImportQuery};
use stations::station::{AdminStationView, StationListQuery};
use stations::vocab::FeedbackStatus;
use stations::Stations;

use crate::console::{no_org, station, OrgChoice};
use crate::errors::PageResult;
use crate::forms::{Submitted, Upload};
use crate::i18n::{Lang, Pick};
use crate::layout::{self, csrf, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/stations", web::get().to(page))
        .route("/stations/import", web::post().to(import_file))
        .route("/stations/{id}/door.png", web::get().to(door_poster))
        .route("/feedback/{id}", web::post().to(answer));
}

#[derive(Deserialize)]
pub struct StationsQuery {
    org: Option<i64>,
    cursor: Option<Cursor>,
}

type Lists = (Paged<AdminStationView>, Paged<FeedbackView>);

async fn page(req: HttpRequest, staff: Staff, query: web::Query<StationsQuery>) -> PageResult {
    let StationsQuery { org, cursor } = query.into_inner();
    let (choice, lists) = load(&req, &staff, org, cursor).await?;
    let lang = staff.lang;
    let body = match (choice.current, lists) {
        (Some(org), Some(lists)) => html! {
            (choice.picker(lang, "/console/stations"))
            (station_table(lang, org, &lists.0))
            h2 { (lang.t("新建驿站", "New station")) }
            (station::form(&staff, &format!("/console/stations/new?org={org}"), None))
            (import_form(&staff, org))
            (board(&staff, org, &lists.1))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Stations,
        lang.t("驿站", "Stations"),
        body,
    ))
}

async fn load(
    req: &HttpRequest,
    staff: &Staff,
    org: Option<i64>,
    cursor: Option<Cursor>,
) -> Result<(OrgChoice, Option<Lists>), Error> {
    let db = app_data::<Db>(req)?;
    let base = app_data::<Stations>(req)?.config.base_url.clone();
    let user = staff.user.clone();
    db.run(move |conn| {
        let choice = OrgChoice::load(conn, &user, org)?;
        let Some(org) = choice.current else {
            return Ok((choice, None));
        };
        let query = StationListQuery {
            status: None,
            limit: None,
            cursor,
        };
        let list =
            stations::station::list(conn, &user, org, query, &base, platform::clock::now_utc())?;
        let unresolved = BoardQuery {
            status: Some(FeedbackStatus::Open),
            kind: None,
            limit: None,
            cursor: None,
        };
        let board = feedback::staff_board(conn, &user, Board::Subtree(org), unresolved)?;
        Ok((choice, Some((list, board))))
    })
    .await
}

fn station_table(lang: Lang, org: i64, list: &Paged<AdminStationView>) -> Markup {
    if list.items.is_empty() {
        return html! { p.muted { (lang.t("还没有驿站。", "No station yet.")) } };
    }
    html! {
        div.table { table #stations {
            thead { tr {
                th { (lang.t("驿站", "Station")) } th { (lang.t("地址", "Address")) }
                th { (lang.t("现在", "Now")) } th { (lang.t("待处理故障", "Open faults")) }
                th { (lang.t("门贴二维码", "Door QR")) }
            } }
            tbody {
                @for s in &list.items {
                    tr data-station=(s.station.id) {
                        td { a href=(format!("/console/stations/{}", s.station.id)) { (s.station.name) } br; small.muted { (s.station.org.name) } }
                        td { (s.station.address) }
                        td { (if s.station.open_now { lang.t("开放中", "open") } else { lang.t("未开放", "closed") }) }
                        td { (s.open_faults) }
                        td { a href=(format!("/console/stations/{}/door.png", s.station.id))
                            download=(format!("station-{}.png", s.station.id)) { (lang.t("下载", "Download")) } }
                    }
                }
            }
        } }
        @if let Some(next) = &list.next_cursor {
            p.pager { a href=(format!("/console/stations?org={org}&cursor={next}")) { (lang.t("下一页", "Next page")) } }
        }
    }
}

fn import_form(staff: &Staff, org: i64) -> Markup {
    let lang = staff.lang;
    html! {
        h2 { (lang.t("批量导入（CSV）", "Import a CSV file")) }
        p.muted { (lang.t("列：name, address, lat, lng, hours，可选 closed_dates, amenities, stars, phone, photos, status, org_id。有任何一行出错则全部不导入。",
            "Columns: name, address, lat, lng, hours; optional closed_dates, amenities, stars, phone, photos, status, org_id. Any faulty row and nothing is imported.")) }
        form.stack method="post" action=(format!("/console/stations/import?org={org}")) enctype="multipart/form-data" id="import" {
            (csrf(staff))
            label { (lang.t("文件", "File")) input type="file" name="file" accept=".csv,text/csv" required; }
            label { (lang.t("坐标系", "Coordinates"))
                select name="coord" {
                    option value="gcj02" { "GCJ-02（高德、腾讯）" }
                    option value="wgs84" { "WGS-84（GPS）" }
                    option value="bd09" { "BD-09（百度）" }
                }
            }
            button type="submit" { (lang.t("导入", "Import")) }
        }
    }
}

#[derive(Deserialize)]
pub struct OrgOnly {
    org: i64,
}

async fn import_file(req: HttpRequest, query: web::Query<OrgOnly>, upload: Upload) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let coord = app_data::<Coordinator>(&req)?;
    let stations = app_data::<Stations>(&req)?;
    let org = query.org;
    let format = ImportQuery {
        coord: upload
            .field("coord")
            .and_then(stations::vocab::CoordSystem::parse),
        encoding: None,
    }
    .validate()?;
    let Upload { staff, file, .. } = upload;
    let scope = staff.user.clone();
    db.run(move |conn| membership::staff::require(conn, &scope, org))
        .await?;
    let caller = (staff.user.clone(), staff.actor.clone());
    let stored = import::run(&db, &coord, &stations, caller, org, file, format).await?;
    let lang = staff.lang;
    let body = match stored {
        Ok(ids) => html! {
            p.flash role="status" data-imported=(ids.len()) {
                (lang.t("已导入驿站：", "Stations imported: ")) (ids.len())
            }
        },
        Err(refusal) => refused(lang, &refusal),
    };
    let body = html! {
        (body)
        p { a href=(format!("/console/stations?org={org}")) { (lang.t("返回驿站列表", "Back to the stations")) } }
    };
    Ok(layout::console(
        &staff,
        Section::Stations,
        lang.t("导入结果", "Import result"),
        body,
    ))
}

fn refused(lang: Lang, refusal: &Refusal) -> Markup {
    let line = |zh, en| html! { p.flash.bad role="alert" { (lang.t(zh, en)) } };
    match refusal {
        Refusal::Encoding => line(
            "无法读取文件的编码：请另存为 UTF-8 或 GBK 编码的 CSV。",
            "The file's encoding cannot be read: save it as CSV in UTF-8 or GBK.",
        ),
        Refusal::Empty => line(
            "文件没有表头或没有数据行。",
            "The file has no header or no data row.",
        ),
        Refusal::TooManyRows => line("行数超过上限（20000 行）。", "More than 20,000 rows."),
        Refusal::Rows { errors, count } => html! {
            p.flash.bad role="alert" data-faults=(count) {
                (lang.t("没有导入任何驿站。出错的行数：", "Nothing was imported. Faulty rows: ")) (count)
            }
            (fault_table(lang, errors))
        },
    }
}

fn fault_table(lang: Lang, errors: &[RowError]) -> Markup {
    html! {
        div.table { table #import-faults {
            thead { tr {
                th { (lang.t("行", "Row")) } th { (lang.t("文件行号", "Line")) }
                th { (lang.t("列", "Column")) } th { (lang.t("内容", "Value")) } th { (lang.t("原因", "Why")) }
            } }
            tbody {
                @for e in errors {
                    tr data-row=(e.row) {
                        td { (e.row) } td { (e.line) } td { code { (e.field) } } td { (e.value) }
                        td { (lang.t(e.message_zh, e.message_en)) }
                    }
                }
            }
        } }
    }
}

fn board(staff: &Staff, org: i64, board: &Paged<FeedbackView>) -> Markup {
    let lang = staff.lang;
    html! {
        h2 { (lang.t("待处理的留言与故障", "Open messages and faults")) }
        @if board.items.is_empty() {
            p.muted { (lang.t("没有待处理的留言。", "Nothing is waiting.")) }
        }
        @for m in &board.items {
            div.card data-feedback=(m.id) {
                strong { (m.station_name) } " · " (layout::when(m.created_at))
                p { (m.body) }
                @if let Some(reply) = &m.reply { p.muted { (lang.t("已回复：", "Replied: ")) (reply) } }
                form.stack method="post" action=(format!("/console/feedback/{}?org={org}", m.id)) {
                    (csrf(staff))
                    label { (lang.t("回复", "Reply")) textarea name="reply" maxlength="500" rows="2" {} }
                    label.check { input type="checkbox" name="resolve" value="true"; (lang.t("标记为已解决", "Mark resolved")) }
                    button type="submit" { (lang.t("提交", "Send")) }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct AnswerForm {
    reply: Option<String>,
    resolve: Option<bool>,
}

async fn answer(
    req: HttpRequest,
    id: web::Path<i64>,
    query: web::Query<OrgOnly>,
    submitted: Submitted<AnswerForm>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let coord = app_data::<Coordinator>(&req)?;
    let stations = app_data::<Stations>(&req)?;
    let Submitted { staff, form, .. } = submitted;
    let reply = match form
        .reply
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        None => Ok(None),
        Some(r) => Body::parse(r)
            .map(Some)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "reply")),
    };
    let status = form
        .resolve
        .unwrap_or(false)
        .then_some(FeedbackStatus::Resolved);
    let outcome = match reply.and_then(|reply| PatchFeedback { reply, status }.validate()) {
        Ok(answer) => {
            let caller = (staff.user.clone(), staff.actor.clone());
            feedback::answer(&db, &coord, &stations, caller, id.into_inner(), answer).await
        }
        Err(e) => Err(e),
    };
    staff.answer(
        format!("/console/stations?org={}", query.org),
        ("已提交。", "Sent."),
        outcome.map(drop),
    )
}

/// The door poster's QR for printing; the same use case as the API's image.
async fn door_poster(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let base = app_data::<Stations>(&req)?.config.base_url.clone();
    let user = staff.user;
    let id = id.into_inner();
    let url = db
        .run(move |conn| stations::station::managed_door_url(conn, &user, id, &base))
        .await?;
    Ok(qr::poster(&url, qr::Format::Png, qr::Keep::Day)?)
}
