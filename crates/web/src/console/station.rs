//! One station: create one, its page with the visits by day and by hour, edit it (coordinates
//! in the system staff read them in, hours in the spreadsheet syntax, amenities), close it;
//! download its door poster (PDF or PNG, see [`crate::posters`]).

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use platform::{Coordinator, Db, Error, ErrorCode};
use serde::Deserialize;
use stations::coords::Point;
use stations::hours::{Hours, HoursDoc};
use stations::station::{self, AdminStationView, CreateStation, PatchStation};
use stations::visits::{self, Stats, StatsQuery};
use stations::vocab::{Amenity, CoordSystem, StationStatus};
use stations::Stations;

use crate::charts;
use crate::errors::{refusal_text, PageResult};
use crate::forms::{optional, Empty, Submitted};
use crate::i18n::{Lang, Pick};
use crate::layout::{self, csrf, Section};
use crate::posters::{self, Format};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/stations/new", web::post().to(create))
        .route("/stations/{id}", web::get().to(page))
        .route("/stations/{id}/edit", web::post().to(edit))
        .route("/stations/{id}/close", web::post().to(close))
        .route("/stations/{id}/poster.pdf", web::get().to(poster_pdf))
        .route("/stations/{id}/poster.png", web::get().to(poster_png));
}

/// The form's fields: empty for a new station in `org`, a station's for editing.
pub fn form(staff: &Staff, action: &str, station: Option<&AdminStationView>) -> Markup {
    let lang = staff.lang;
    let s = station.map(|v| &v.station);
    let (hours, closed) = s
        .and_then(|s| Hours::from_doc(&s.hours, "hours").ok())
        .map(|h| h.to_storage())
        .unwrap_or_default();
    let hours = if hours == "closed" {
        String::new()
    } else {
        hours
    };
    html! {
        form.stack method="post" action=(action) id=(if s.is_some() { "edit-station" } else { "new-station" }) {
            (csrf(staff))
            label { (lang.t("名称", "Name")) input type="text" name="name" maxlength="100" required value=[s.map(|s| s.name.as_str())]; }
            label { (lang.t("地址", "Address")) input type="text" name="address" maxlength="200" required value=[s.map(|s| s.address.as_str())]; }
            div.inline {
                label { (lang.t("纬度", "Latitude")) input type="text" name="lat" inputmode="decimal" required value=[s.map(|s| s.location.lat)]; }
                label { (lang.t("经度", "Longitude")) input type="text" name="lng" inputmode="decimal" required value=[s.map(|s| s.location.lng)]; }
                label { (lang.t("坐标系", "System")) select name="coord" {
                    option value="gcj02" { "GCJ-02（高德、腾讯）" }
                    option value="wgs84" { "WGS-84（GPS）" }
                    option value="bd09" { "BD-09（百度）" }
                } }
            }
            label { (lang.t("开放时间（如 24h，或 mon-fri 08:00-20:00; sat,sun 09:00-17:00）", "Hours (24h, or mon-fri 08:00-20:00; sat,sun 09:00-17:00)"))
                input type="text" name="hours" required value=(hours); }
            label { (lang.t("闭站日期（如 2027-02-06..2027-02-12，可不填）", "Closed dates (e.g. 2027-02-06..2027-02-12, optional)"))
                input type="text" name="closed_dates" value=(closed); }
            fieldset {
                legend { (lang.t("设施", "Amenities")) }
                @for a in Amenity::ALL {
                    label.check { input type="checkbox" name="amenity" value=(a.as_str()) checked[s.is_some_and(|s| s.amenities.contains(a))];
                        (lang.t(a.label_zh(), a.as_str())) }
                }
            }
            label { (lang.t("联系电话（可不填）", "Phone (optional)")) input type="tel" name="phone" value=[s.and_then(|s| s.phone.as_deref())]; }
            label { (lang.t("状态", "State")) select name="status" {
                @for st in [StationStatus::Open, StationStatus::TemporarilyClosed] {
                    option value=(st.as_str()) selected[s.is_some_and(|s| s.status == st)] { (status(lang, st)) }
                }
            } }
            label.check { input type="checkbox" name="verified" value="true"; (lang.t("我刚在现场核实过", "I checked it on site just now")) }
            button type="submit" { (if s.is_some() { lang.t("保存", "Save") } else { lang.t("新建驿站", "Create the station") }) }
        }
    }
}

pub fn status(lang: Lang, status: StationStatus) -> &'static str {
    match status {
        StationStatus::Open => lang.t("开放", "Open"),
        StationStatus::TemporarilyClosed => lang.t("暂停开放", "Temporarily closed"),
        StationStatus::Closed => lang.t("已撤站", "Closed for good"),
    }
}

#[derive(Deserialize)]
pub struct StationFields {
    name: String,
    address: String,
    lat: Option<String>,
    lng: Option<String>,
    coord: Option<String>,
    hours: String,
    closed_dates: Option<String>,
    phone: Option<String>,
    status: Option<String>,
    verified: Option<bool>,
}

/// What both forms read the same way: the fields as the API's types.
struct Parsed {
    name: stations::fields::StationName,
    address: stations::fields::StationAddress,
    location: Point,
    coord: Option<CoordSystem>,
    amenities: Vec<String>,
    hours: HoursDoc,
    phone: Option<String>,
    status: Option<StationStatus>,
}

fn parse(submitted: &Submitted<StationFields>) -> Result<Parsed, Error> {
    let f = &submitted.form;
    let invalid = |field| Error::invalid(ErrorCode::InvalidField, field);
    let missing = |field| Error::invalid(ErrorCode::MissingField, field);
    let closed = f.closed_dates.as_deref().unwrap_or("");
    let hours = Hours::parse_compact(&f.hours, closed).ok_or_else(|| invalid("hours"))?;
    Ok(Parsed {
        name: platform::text::Text::parse(&f.name).ok_or_else(|| invalid("name"))?,
        address: platform::text::Text::parse(&f.address).ok_or_else(|| invalid("address"))?,
        location: Point {
            lat: optional(&f.lat, "lat")?.ok_or_else(|| missing("lat"))?,
            lng: optional(&f.lng, "lng")?.ok_or_else(|| missing("lng"))?,
        },
        coord: optional(&f.coord, "coord")?,
        amenities: submitted.all("amenity").map(str::to_owned).collect(),
        hours: hours.to_doc(),
        phone: f.phone.clone().filter(|p| !p.trim().is_empty()),
        status: optional(&f.status, "status")?,
    })
}

fn to(path: String, staff: &Staff, message: &str) -> HttpResponse {
    staff.back_to(path, message)
}

#[derive(Deserialize)]
pub struct OrgOnly {
    org: i64,
}

async fn create(
    req: HttpRequest,
    query: web::Query<OrgOnly>,
    submitted: Submitted<StationFields>,
) -> PageResult {
    let (db, coord, stations) = parts(&req)?;
    let org = query.org;
    let (user, actor) = (submitted.staff.user.clone(), submitted.staff.actor.clone());
    let verified = submitted.form.verified.unwrap_or(false);
    let new = parse(&submitted).and_then(|p| {
        CreateStation {
            name: p.name,
            address: p.address,
            location: p.location,
            coord: p.coord,
            amenities: p.amenities,
            hours: p.hours,
            stars: None,
            phone: p.phone,
            photos: Vec::new(),
            status: p.status.map(|s| s.as_str().to_owned()),
            verified,
        }
        .validate()
    });
    let base = stations.config.base_url.clone();
    let outcome = match new {
        Ok(new) => {
            stations
                .write(&db, &coord, move |conn| {
                    station::create(
                        conn,
                        &user,
                        &actor,
                        org,
                        &new,
                        &base,
                        platform::clock::now_utc(),
                    )
                })
                .await
        }
        Err(e) => Err(e),
    };
    let staff = &submitted.staff;
    Ok(match outcome {
        Ok(view) => to(
            format!("/console/stations/{}", view.station.id),
            staff,
            staff.lang.t("驿站已新建。", "Station created."),
        ),
        Err(e) => to(
            format!("/console/stations?org={org}"),
            staff,
            &refusal_text(staff.lang, &e),
        ),
    })
}

async fn edit(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<StationFields>,
) -> PageResult {
    let (db, coord, stations) = parts(&req)?;
    let id = id.into_inner();
    let (user, actor) = (submitted.staff.user.clone(), submitted.staff.actor.clone());
    let verified = submitted.form.verified.unwrap_or(false);
    let patch = parse(&submitted).and_then(|p| {
        PatchStation {
            name: Some(p.name),
            address: Some(p.address),
            location: Some(p.location),
            coord: p.coord,
            amenities: Some(p.amenities),
            hours: Some(p.hours),
            stars: None,
            phone: Some(p.phone),
            photos: None,
            status: p.status,
            verified,
        }
        .validate()
    });
    let base = stations.config.base_url.clone();
    let outcome = match patch {
        Ok(patch) => stations
            .write(&db, &coord, move |conn| {
                station::edit(
                    conn,
                    &user,
                    &actor,
                    id,
                    &patch,
                    &base,
                    platform::clock::now_utc(),
                )
            })
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    let staff = &submitted.staff;
    let message = match outcome {
        Ok(()) => staff.lang.t("已保存。", "Saved.").to_owned(),
        Err(e) => refusal_text(staff.lang, &e),
    };
    Ok(to(format!("/console/stations/{id}"), staff, &message))
}

async fn close(req: HttpRequest, id: web::Path<i64>, submitted: Submitted<Empty>) -> PageResult {
    let (db, coord, stations) = parts(&req)?;
    let id = id.into_inner();
    let staff = submitted.staff;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let base = stations.config.base_url.clone();
    stations
        .write(&db, &coord, move |conn| {
            station::close(conn, &user, &actor, id, &base, platform::clock::now_utc())
        })
        .await?;
    Ok(to(
        format!("/console/stations/{id}"),
        &staff,
        staff.lang.t("已撤站。", "Closed for good."),
    ))
}

type Parts = (web::Data<Db>, web::Data<Coordinator>, web::Data<Stations>);

fn parts(req: &HttpRequest) -> Result<Parts, Error> {
    Ok((
        app_data::<Db>(req)?,
        app_data::<Coordinator>(req)?,
        app_data::<Stations>(req)?,
    ))
}

async fn page(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let (db, _, stations) = parts(&req)?;
    let id = id.into_inner();
    let base = stations.config.base_url.clone();
    let user = staff.user.clone();
    let range = StatsQuery {
        from: None,
        to: None,
    }
    .validate()?;
    let (view, stats) = db
        .run(move |conn| {
            let view = station::show_managed(conn, &user, id, &base, platform::clock::now_utc())?;
            let stats = visits::staff_stats(conn, &user, id, range)?;
            Ok((view, stats))
        })
        .await?;
    let lang = staff.lang;
    let s = &view.station;
    let body = html! {
        p.muted { (s.org.name) " · " (s.address) " · " span data-status=(s.status.as_str()) { (status(lang, s.status)) } " · "
            (if s.open_now { lang.t("现在开放", "open now") } else { lang.t("现在未开放", "closed now") }) }
        p.actions {
            a.button.secondary href=(format!("/console/stations?org={}", s.org.id)) { (lang.t("返回驿站列表", "Back to the stations")) }
            @if s.status != StationStatus::Closed {
                a.button href=(format!("/console/stations/{id}/poster.pdf")) data-poster="pdf" { (lang.t("下载海报（PDF）", "Door poster (PDF)")) }
                a.button.secondary href=(format!("/console/stations/{id}/poster.png")) data-poster="png" { (lang.t("下载海报（PNG）", "Door poster (PNG)")) }
            }
            a.button.secondary href=(format!("/console/stations/{id}/door.png")) download=(format!("station-{id}.png")) { (lang.t("下载门贴二维码", "Door QR")) }
        }
        (visit_charts(lang, &stats))
        @if s.status != StationStatus::Closed {
            h2 { (lang.t("修改", "Edit")) }
            (form(&staff, &format!("/console/stations/{id}/edit"), Some(&view)))
            h2 { (lang.t("撤站", "Close for good")) }
            form method="post" action=(format!("/console/stations/{id}/close")) id="close-station" {
                (csrf(&staff)) button.secondary type="submit" { (lang.t("撤站（不可恢复）", "Close for good (cannot be undone)")) }
            }
        }
    };
    Ok(layout::console(&staff, Section::Stations, &s.name, body))
}

async fn poster_pdf(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    poster(req, staff, id.into_inner(), Format::Pdf).await
}

async fn poster_png(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    poster(req, staff, id.into_inner(), Format::Png).await
}

/// The A4 door poster to print; the same use case as the API's.
async fn poster(req: HttpRequest, staff: Staff, id: i64, format: Format) -> PageResult {
    let (db, _, stations) = parts(&req)?;
    let base = stations.config.base_url.clone();
    let user = staff.user;
    let poster = db
        .run(move |conn| posters::door(conn, &user, id, &base))
        .await?;
    Ok(posters::download(poster, format).await?)
}

fn visit_charts(lang: Lang, stats: &Stats) -> Markup {
    let days: Vec<(String, i64, i64)> = stats
        .by_day
        .iter()
        .map(|d| {
            (
                d.date.format("%m-%d").to_string(),
                d.visits,
                d.member_visits,
            )
        })
        .collect();
    let hours: Vec<(String, i64)> = stats
        .by_hour
        .iter()
        .map(|h| (format!("{:02}", h.hour), h.visits))
        .collect();
    let names = (
        lang.t("到访", "visits"),
        lang.t("会员到访", "member visits"),
    );
    html! {
        h2 { (lang.t("近 30 天到访", "Visits, last 30 days")) }
        div.cards {
            div.card { span.figure data-figure="visits" { (stats.visits) } " " (lang.t("次到访", "visits")) }
            div.card { span.figure data-figure="unique" { (stats.unique_visitors) } " " (lang.t("位不同访客", "different visitors")) }
        }
        (charts::bar_pairs(lang.t("每日到访", "Visits per day"), names, &days))
        (charts::bars(lang.t("按小时到访", "Visits by hour"), names.0, &hours))
    }
}
