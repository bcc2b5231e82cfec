//! HTTP in and out for stations; the rules live in the modules named for them.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Days, NaiveDate};
use futures_util::StreamExt;
use identity::auth::Caller;
use identity::AuthUser;
use membership::staff;
use platform::clock::now_utc;
use platform::error::{Lang, Problem, PROBLEM_JSON};
use platform::extract::{Json, Query};
use platform::html;
use platform::http::{resource, JSON_LIMIT};
use platform::idempotency::creating;
use platform::pagination::{Cursor, Limit, PageQuery, Paged};
use platform::text::Text;
use platform::{Coordinator, Db, Error, ErrorCode, Rate, Result};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::coords::{LatLng, Point};
use crate::csv_text::{self, Charset};
use crate::feedback::{self, Board, BoardFilter, FeedbackView};
use crate::hours::{Hours, HoursDoc};
use crate::import::{self, Refusal, RowError};
use crate::nearby::{self, Nearby, NearbyParams};
use crate::stations::{
    self as station, AdminStationView, ContactPhone, Stars, StationAddress, StationInput,
    StationName, StationPatch, StationView,
};
use crate::visits::{self, CheckIn, Stats, MAX_STATS_DAYS};
use crate::vocab::{Amenity, CoordSystem, FeedbackKind, FeedbackStatus, StationStatus};
use crate::Stations;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/stations/nearby").route(web::get().to(nearby)))
        .service(resource("/v1/stations/{id}").route(web::get().to(get_station)))
        .service(creating("/v1/stations/{id}/visits", JSON_LIMIT).route(web::post().to(check_in)))
        .service(
            creating("/v1/stations/{id}/feedback", JSON_LIMIT).route(web::post().to(post_feedback)),
        )
        .service(resource("/s/{id}").route(web::get().to(door_landing)))
        .service(
            creating("/v1/admin/orgs/{id}/stations", JSON_LIMIT)
                .route(web::post().to(create_station))
                .route(web::get().to(list_stations)),
        )
        .service(
            creating("/v1/admin/orgs/{id}/stations/import", import::MAX_BYTES)
                .route(web::post().to(import_csv)),
        )
        .service(resource("/v1/admin/orgs/{id}/feedback").route(web::get().to(org_feedback)))
        .service(
            resource("/v1/admin/stations/{id}")
                .route(web::get().to(admin_station))
                .route(web::patch().to(patch_station))
                .route(web::delete().to(close_station)),
        )
        .service(resource("/v1/admin/stations/{id}/qr.svg").route(web::get().to(door_qr_svg)))
        .service(resource("/v1/admin/stations/{id}/qr.png").route(web::get().to(door_qr_png)))
        .service(resource("/v1/admin/stations/{id}/stats").route(web::get().to(station_stats)))
        .service(
            resource("/v1/admin/stations/{id}/feedback").route(web::get().to(station_feedback)),
        )
        .service(resource("/v1/admin/feedback/{id}").route(web::patch().to(patch_feedback)));
}

#[derive(OpenApi)]
#[openapi(
    paths(
        nearby, get_station, check_in, post_feedback, door_landing, create_station, list_stations,
        import_csv, org_feedback, admin_station, patch_station, close_station, door_qr_svg,
        door_qr_png, station_stats, station_feedback, patch_feedback
    ),
    components(schemas(Paged<AdminStationView>, Paged<FeedbackView>, Amenity, StationStatus)),
    tags((name = "stations", description = "Rest stations, nearby search, check-ins and the message board"))
)]
pub struct ApiDoc;

// ---- nearby search ----

/// Nearest stations first, with distance, open now (Asia/Shanghai), and navigation links.
/// Served from memory; an amenity filter keeps stations having all listed amenities.
#[utoipa::path(get, path = "/v1/stations/nearby", tag = "stations", params(NearbyParams),
    responses((status = 200, body = Nearby), (status = 422, body = Problem)))]
async fn nearby(
    stations: web::Data<Stations>,
    params: Query<NearbyParams>,
) -> Result<HttpResponse> {
    let body = nearby::answer(&stations.index, &params)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

// ---- public station pages ----

/// A station's details: amenities, hours, stars, contact, when last verified.
#[utoipa::path(get, path = "/v1/stations/{id}", tag = "stations",
    responses((status = 200, body = StationView), (status = 404, body = Problem)))]
async fn get_station(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .run(move |conn| station::get(conn, id)?.view(conn, now_utc()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The page a phone's camera or WeChat opens from a door QR (`/s/{id}?c=...`): which station it
/// is, and a pointer to the app, which checks in with the code.
#[utoipa::path(get, path = "/s/{id}", tag = "stations",
    responses((status = 200, content_type = "text/html", description = "Landing page of a door QR"),
        (status = 404, description = "Unknown station: a page, or a problem for an id that is no number",
            content(("text/html"), (Problem = "application/problem+json")))))]
async fn door_landing(db: web::Data<Db>, id: web::Path<i64>) -> HttpResponse {
    let id = id.into_inner();
    let found = db.run(move |conn| station::get(conn, id)).await;
    let (status, body) = match found {
        Ok(row) => (
            actix_web::http::StatusCode::OK,
            format!(
                "<h1>{}</h1><p>{}</p><p>请打开工会 App 扫描此二维码签到。<br>Open the union app and scan this code to check in.</p>",
                html::escape(&row.name),
                html::escape(&row.address)
            ),
        ),
        Err(e) => (
            e.code().status(),
            format!("<h1>找不到驿站</h1><p>{}</p>", html::escape(e.code().detail(Lang::ZhCn))),
        ),
    };
    html::page(status, "工会驿站", &body)
}

// ---- staff: stations ----

#[derive(Deserialize, ToSchema)]
pub struct CreateStation {
    pub name: StationName,
    pub address: StationAddress,
    pub location: Point,
    /// System of `location`: `gcj02` (default), `wgs84` or `bd09`; stored as GCJ-02.
    pub coord: Option<CoordSystem>,
    /// Amenity codes.
    #[serde(default)]
    #[schema(value_type = Vec<Amenity>)]
    pub amenities: Vec<String>,
    pub hours: HoursDoc,
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub stars: Option<i64>,
    #[schema(schema_with = ContactPhone::schema)]
    pub phone: Option<String>,
    /// Photo URLs, at most nine.
    #[serde(default)]
    #[schema(schema_with = station::photos_schema)]
    pub photos: Vec<String>,
    /// `open` (default) or `temporarily_closed`.
    #[schema(schema_with = opening_status)]
    pub status: Option<String>,
    /// `true`: staff checked the station on site just now (sets `last_verified_at`, which
    /// otherwise stays null).
    #[serde(default)]
    pub verified: bool,
}

fn location(point: Point, coord: Option<CoordSystem>) -> Result<LatLng> {
    let at = LatLng::parse(point.lat, point.lng)
        .map_err(|_| Error::invalid(ErrorCode::InvalidField, "location"))?;
    Ok(coord.unwrap_or_default().to_gcj02(at))
}

/// The statuses a new station may have: any but `closed` (null: `open`).
fn opening_status() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let open = StationStatus::ALL
        .iter()
        .filter(|s| **s != StationStatus::Closed);
    let values = open.map(|s| serde_json::json!(s.as_str()));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values.chain([serde_json::Value::Null])))
        .build()
}

fn status(input: &str) -> Result<StationStatus> {
    StationStatus::parse(input).ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "status"))
}

impl CreateStation {
    fn input(self) -> Result<StationInput> {
        Ok(StationInput {
            name: self.name.into_inner(),
            address: self.address.into_inner(),
            location: location(self.location, self.coord)?,
            amenities: station::amenities(&self.amenities, "amenities")?,
            hours: Hours::from_doc(&self.hours, "hours")?,
            stars: self.stars.map(Stars::parse).transpose()?,
            phone: self.phone.as_deref().map(ContactPhone::parse).transpose()?,
            photos: station::photos(&self.photos)?,
            status: match self.status.as_deref() {
                None => StationStatus::Open,
                Some(s) => status(s).and_then(|s| match s {
                    StationStatus::Closed => Err(Error::invalid(ErrorCode::InvalidField, "status")),
                    open => Ok(open),
                })?,
            },
        })
    }
}

/// Read a stations-changing write back into this instance's index and tell the others.
async fn changed(stations: &Stations, db: &Db, coord: &Coordinator) {
    stations.changed(db, coord).await;
}

/// Create a station run by this org (or one below it).
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/stations", tag = "stations", request_body = CreateStation,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = AdminStationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_station(
    db: web::Data<Db>,
    coord: web::Data<Coordinator>,
    stations: web::Data<Stations>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<CreateStation>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let body = body.into_inner();
    let verified = body.verified;
    let input = body.input()?;
    let base = stations.config.base_url.clone();
    let view = db
        .write(move |conn| {
            let row = station::create(conn, &caller.user, &caller.actor, org_id, &input, verified)?;
            row.admin_view(conn, &base, now_utc())
        })
        .await?;
    changed(&stations, &db, &coord).await;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StationListQuery {
    /// `open`, `temporarily_closed` or `closed`; all when omitted.
    #[param(inline)]
    pub status: Option<StationStatus>,
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
}

/// The stations of the org's subtree, newest first.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/stations", tag = "stations", params(StationListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<AdminStationView>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_stations(
    db: web::Data<Db>,
    stations: web::Data<Stations>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<StationListQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let query = query.into_inner();
    let filter = query.status;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page();
    let base = stations.config.base_url.clone();
    let list = db
        .run(move |conn| {
            staff::require(conn, &user, org_id)?;
            let now = now_utc();
            let views = station::list_subtree(conn, org_id, filter, page)?
                .iter()
                .map(|row| row.admin_view(conn, &base, now))
                .collect::<Result<Vec<_>>>()?;
            Ok(Paged::from_rows(views, page, |v| v.station.id))
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A station as its staff see it, with its door QR links.
#[utoipa::path(get, path = "/v1/admin/stations/{id}", tag = "stations", security(("bearer" = [])),
    responses((status = 200, body = AdminStationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn admin_station(
    db: web::Data<Db>,
    stations: web::Data<Stations>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let base = stations.config.base_url.clone();
    let view = db
        .run(move |conn| station::managed(conn, &user, id)?.admin_view(conn, &base, now_utc()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Present fields replace stored ones; `null` clears `stars` or `phone`.
fn nullable<'de, D, T>(deserializer: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize, ToSchema, Default)]
pub struct PatchStation {
    pub name: Option<StationName>,
    pub address: Option<StationAddress>,
    pub location: Option<Point>,
    /// System of `location`: `gcj02` (default), `wgs84` or `bd09`.
    pub coord: Option<CoordSystem>,
    #[schema(value_type = Option<Vec<Amenity>>)]
    pub amenities: Option<Vec<String>>,
    pub hours: Option<HoursDoc>,
    /// 1 to 5, or null to clear.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 5)]
    pub stars: Option<Option<i64>>,
    /// null to clear.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = ContactPhone::schema)]
    pub phone: Option<Option<String>>,
    #[schema(schema_with = station::photos_or_null_schema)]
    pub photos: Option<Vec<String>>,
    /// `open`, `temporarily_closed` or `closed`.
    pub status: Option<StationStatus>,
    /// `true`: staff checked the station on site just now (sets `last_verified_at`).
    #[serde(default)]
    pub verified: bool,
}

impl PatchStation {
    fn patch(self) -> Result<StationPatch> {
        Ok(StationPatch {
            name: self.name.map(Text::into_inner),
            address: self.address.map(Text::into_inner),
            location: self.location.map(|p| location(p, self.coord)).transpose()?,
            amenities: self
                .amenities
                .as_deref()
                .map(|a| station::amenities(a, "amenities"))
                .transpose()?,
            hours: self
                .hours
                .as_ref()
                .map(|h| Hours::from_doc(h, "hours"))
                .transpose()?,
            stars: self
                .stars
                .map(|s| s.map(Stars::parse).transpose())
                .transpose()?,
            phone: self
                .phone
                .map(|p| p.as_deref().map(ContactPhone::parse).transpose())
                .transpose()?,
            photos: self.photos.as_deref().map(station::photos).transpose()?,
            status: self.status,
            verified: self.verified,
        })
    }
}

/// Edit a station; `verified: true` records an on-site check.
#[utoipa::path(patch, path = "/v1/admin/stations/{id}", tag = "stations", request_body = PatchStation,
    security(("bearer" = [])),
    responses((status = 200, body = AdminStationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn patch_station(
    db: web::Data<Db>,
    coord: web::Data<Coordinator>,
    stations: web::Data<Stations>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<PatchStation>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let patch = body.into_inner().patch()?;
    let base = stations.config.base_url.clone();
    let view = db
        .write(move |conn| {
            station::edit(conn, &caller.user, &caller.actor, id, &patch)?.admin_view(
                conn,
                &base,
                now_utc(),
            )
        })
        .await?;
    changed(&stations, &db, &coord).await;
    Ok(HttpResponse::Ok().json(view))
}

/// Close a station for good: it leaves search and stays for its history (status `closed`).
#[utoipa::path(delete, path = "/v1/admin/stations/{id}", tag = "stations", security(("bearer" = [])),
    responses((status = 200, body = AdminStationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn close_station(
    db: web::Data<Db>,
    coord: web::Data<Coordinator>,
    stations: web::Data<Stations>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let base = stations.config.base_url.clone();
    let view = db
        .write(move |conn| {
            station::close(conn, &caller.user, &caller.actor, id)?.admin_view(
                conn,
                &base,
                now_utc(),
            )
        })
        .await?;
    changed(&stations, &db, &coord).await;
    Ok(HttpResponse::Ok().json(view))
}

// ---- staff: CSV import ----

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// System of the file's `lat`/`lng`: `gcj02` (default), `wgs84` or `bd09`.
    #[param(inline)]
    pub coord: Option<CoordSystem>,
    /// The file's encoding: `utf-8`, `gb18030` or `gbk` (the same decoder). Without it, a file
    /// with a UTF-8 BOM or that is valid UTF-8 is read as UTF-8, anything else as GB18030. A
    /// UTF-8 BOM wins over this parameter; the `charset` of `Content-Type` is not used (clients
    /// send `utf-8` whatever the file holds).
    #[param(schema_with = Charset::schema)]
    pub encoding: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub imported: usize,
    /// Ids of the new stations, in file order.
    pub ids: Vec<i64>,
}

/// The 422 of a refused file: a problem document plus, with `csv_invalid`, the faulty rows.
/// Other 422s of this route (`invalid_field`: an unreadable file, a bad `coord` or
/// `Idempotency-Key`) are plain problem documents, so the row fields are not required.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// Faults in the whole file (at most 1000 are listed); with `csv_invalid`.
    #[schema(required = false)]
    pub error_count: usize,
    /// The faulty rows; with `csv_invalid`.
    #[schema(required = false)]
    pub errors: Vec<RowError>,
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Error::new(ErrorCode::MalformedRequest).with_cause(anyhow::anyhow!("{e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(Error::new(ErrorCode::PayloadTooLarge));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Import stations from a CSV file (`text/csv`, UTF-8 with or without BOM, or GBK/GB18030 as
/// Excel on Chinese Windows saves it, see `encoding`; header row; up to 20000 rows, 8 MiB).
/// Columns: `name`, `address`, `lat`, `lng`, `hours` (`24h` or
/// `mon-fri 08:00-20:00; sat,sun 09:00-17:00`), and optionally `closed_dates`
/// (`2027-02-06..2027-02-08`), `amenities` (codes or Chinese labels split by `;`), `stars`,
/// `phone`, `photos`, `status`, `org_id` (an org of this subtree). All rows are written in one
/// transaction, or, when any row is invalid, none: the 422 lists each faulty row and field with
/// why, in `message_zh` and `message_en`. Imported stations have no `last_verified_at`.
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/stations/import", tag = "stations", params(ImportQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    request_body(content = String, content_type = "text/csv"),
    security(("bearer" = [])),
    responses((status = 201, body = Imported),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem),
        (status = 422, body = ImportProblem, content_type = "application/problem+json",
            description = "Invalid rows (`csv_invalid`, nothing written), or an unreadable file, a bad `coord` or `encoding` (`invalid_field`)")))]
async fn import_csv(
    req: HttpRequest,
    db: web::Data<Db>,
    coord: web::Data<Coordinator>,
    stations: web::Data<Stations>,
    caller: Caller,
    id: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let query = Query::<ImportQuery>::from_query(req.query_string())?;
    let system = query.coord.unwrap_or_default();
    let declared = query
        .encoding
        .as_deref()
        .map(|name| {
            Charset::parse(name).ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "encoding"))
        })
        .transpose()?;
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/csv"));
    if !is_csv {
        return Err(Error::new(ErrorCode::UnsupportedMediaType));
    }
    // Scope first, so that a stranger learns nothing from how the file is judged.
    let scope_user = caller.user.clone();
    db.run(move |conn| staff::require(conn, &scope_user, org_id))
        .await?;
    let body = read_body(payload, import::MAX_BYTES).await?;
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let parsed = web::block(move || import::parse(&body, system, declared)).await?;
    let rows = match parsed {
        Ok(rows) => rows,
        Err(refusal) => return refused(refusal, lang, declared),
    };
    let stored = db
        .write(move |conn| import::store(conn, &caller.user, &caller.actor, org_id, &rows))
        .await?;
    match stored {
        Ok(ids) => {
            changed(&stations, &db, &coord).await;
            Ok(HttpResponse::Created().json(Imported {
                imported: ids.len(),
                ids,
            }))
        }
        Err(refusal) => refused(refusal, lang, declared),
    }
}

fn refused(refusal: Refusal, lang: Lang, declared: Option<Charset>) -> Result<HttpResponse> {
    match refusal {
        Refusal::Encoding => {
            // The generic "invalid value" would leave staff guessing what to do with the file.
            let mut problem = Error::invalid(ErrorCode::InvalidField, "encoding").problem(lang);
            problem.detail = csv_text::malformed(declared, lang);
            Ok(HttpResponse::UnprocessableEntity()
                .content_type(PROBLEM_JSON)
                .json(problem))
        }
        Refusal::Empty => Err(Error::invalid(ErrorCode::InvalidField, "body")),
        Refusal::TooManyRows => Err(Error::new(ErrorCode::PayloadTooLarge)),
        Refusal::Rows { errors, count } => {
            let problem = Error::new(ErrorCode::CsvInvalid).problem(lang);
            Ok(HttpResponse::UnprocessableEntity()
                .content_type(PROBLEM_JSON)
                .json(ImportProblem {
                    problem,
                    error_count: count,
                    errors,
                }))
        }
    }
}

// ---- staff: door QR ----

/// Print size of door QR images.
const DOOR_QR_PX: u32 = 1024;

async fn door_url(db: &Db, stations: &Stations, user: AuthUser, id: i64) -> Result<String> {
    let base = stations.config.base_url.clone();
    db.run(move |conn| Ok(station::managed(conn, &user, id)?.door_url(&base)))
        .await
}

fn image(content_type: &str, bytes: Vec<u8>) -> HttpResponse {
    // Private: the image carries the door code and the route needs staff credentials.
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400"))
        .body(bytes)
}

/// The door QR as SVG. It encodes `{PUBLIC_BASE_URL}/s/{id}?c={door code}`: the app reads the
/// station id and the code from it and checks in with `POST /v1/stations/{id}/visits`.
#[utoipa::path(get, path = "/v1/admin/stations/{id}/qr.svg", tag = "stations", security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", description = "QR code"), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn door_qr_svg(
    db: web::Data<Db>,
    stations: web::Data<Stations>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let url = door_url(&db, &stations, user, id.into_inner()).await?;
    Ok(image(
        "image/svg+xml",
        platform::qr::svg(&url, DOOR_QR_PX)?.into_bytes(),
    ))
}

/// The door QR as PNG, at least 1024 px (same content as the SVG).
#[utoipa::path(get, path = "/v1/admin/stations/{id}/qr.png", tag = "stations", security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", description = "QR code"), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn door_qr_png(
    db: web::Data<Db>,
    stations: web::Data<Stations>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let url = door_url(&db, &stations, user, id.into_inner()).await?;
    Ok(image("image/png", platform::qr::png(&url, DOOR_QR_PX)?))
}

// ---- visits ----

#[derive(Deserialize, ToSchema)]
pub struct CheckInRequest {
    /// The `c` parameter of the scanned door QR.
    pub code: Text<64>,
}

/// Check in at a station by its scanned door QR. Any signed-in worker may (stations serve
/// members and non-members alike; the visit records which). One visit per account and station
/// per 30 minutes counts: 201 when this one counted, 200 with `counted: false` otherwise.
#[utoipa::path(post, path = "/v1/stations/{id}/visits", tag = "stations", request_body = CheckInRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = CheckIn), (status = 200, description = "Already counted within 30 minutes", body = CheckIn),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn check_in(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<CheckInRequest>,
) -> Result<HttpResponse> {
    let station_id = id.into_inner();
    let code = body.into_inner().code;
    let visit = db
        .write(move |conn| {
            visits::check_in(
                conn,
                station_id,
                user.account_id,
                &code,
                platform::clock::now().and_utc(),
            )
        })
        .await?;
    Ok(if visit.counted {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(visit))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day, YYYY-MM-DD (Asia/Shanghai); default 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// Last day, inclusive; default today. At most 366 days in all.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
}

fn date(value: Option<&str>, field: &'static str) -> Result<Option<NaiveDate>> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map_err(|_| Error::invalid(ErrorCode::InvalidField, field))
        })
        .transpose()
}

/// Visits by day and by hour of day (Asia/Shanghai): total, by members, distinct visitors.
#[utoipa::path(get, path = "/v1/admin/stations/{id}/stats", tag = "stations", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Stats), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn station_stats(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<StatsQuery>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let to = date(query.to.as_deref(), "to")?.unwrap_or_else(platform::clock::today);
    let from = match date(query.from.as_deref(), "from")? {
        Some(from) => from,
        None => to.checked_sub_days(Days::new(29)).unwrap_or(to),
    };
    if from > to || (to - from).num_days() >= MAX_STATS_DAYS {
        return Err(Error::invalid(ErrorCode::InvalidField, "from"));
    }
    let stats = db
        .run(move |conn| {
            station::managed(conn, &user, id)?;
            visits::stats(conn, id, from, to)
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

// ---- feedback ----

#[derive(Deserialize, ToSchema)]
pub struct FeedbackRequest {
    /// `suggestion` or `fault` (a fault flags the station in search until resolved).
    pub kind: FeedbackKind,
    /// Up to 500 characters, e.g. "微波炉坏了".
    pub body: feedback::Body,
}

/// Messages one account may post per hour.
const FEEDBACK_RATE: Rate = Rate::per(10, Duration::from_secs(3600));

/// Post a suggestion or a fault report on a station's board.
#[utoipa::path(post, path = "/v1/stations/{id}/feedback", tag = "stations", request_body = FeedbackRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = FeedbackView), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn post_feedback(
    db: web::Data<Db>,
    coord: web::Data<Coordinator>,
    stations: web::Data<Stations>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<FeedbackRequest>,
) -> Result<HttpResponse> {
    let station_id = id.into_inner();
    let FeedbackRequest { kind, body: text } = body.into_inner();
    coord
        .throttle(
            &format!("station-feedback:{}", user.account_id),
            FEEDBACK_RATE,
        )
        .await?;
    let view = db
        .write(move |conn| feedback::post(conn, station_id, user.account_id, kind, &text))
        .await?;
    if kind == FeedbackKind::Fault {
        changed(&stations, &db, &coord).await;
    }
    Ok(HttpResponse::Created().json(view))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// `open` or `resolved`; both when omitted.
    #[param(inline)]
    pub status: Option<FeedbackStatus>,
    /// `suggestion` or `fault`; both when omitted.
    #[param(inline)]
    pub kind: Option<FeedbackKind>,
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
}

impl BoardQuery {
    fn parts(self) -> (BoardFilter, platform::pagination::Page) {
        let filter = BoardFilter {
            status: self.status,
            kind: self.kind,
        };
        let page = PageQuery {
            limit: self.limit,
            cursor: self.cursor,
        }
        .page();
        (filter, page)
    }
}

/// A station's board, newest first.
#[utoipa::path(get, path = "/v1/admin/stations/{id}/feedback", tag = "stations", params(BoardQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<FeedbackView>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn station_feedback(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<BoardQuery>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let (filter, page) = query.into_inner().parts();
    let list = db
        .run(move |conn| {
            station::managed(conn, &user, id)?;
            let rows = feedback::list(conn, Board::Station(id), filter, page)?;
            Ok(Paged::from_rows(rows, page, |f| f.id))
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The board of every station in the org's subtree, newest first (e.g. `?kind=fault&status=open`:
/// what needs fixing).
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/feedback", tag = "stations", params(BoardQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<FeedbackView>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn org_feedback(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<BoardQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let (filter, page) = query.into_inner().parts();
    let list = db
        .run(move |conn| {
            staff::require(conn, &user, org_id)?;
            let rows = feedback::list(conn, Board::Subtree(org_id), filter, page)?;
            Ok(Paged::from_rows(rows, page, |f| f.id))
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Deserialize, ToSchema)]
pub struct PatchFeedback {
    /// Staff's answer, shown on the board (replaces an earlier one).
    pub reply: Option<feedback::Body>,
    /// `resolved`, or `open` to reopen.
    pub status: Option<FeedbackStatus>,
}

/// Answer and/or resolve a message. Resolving a fault report lifts the station's flag once no
/// other fault report is open.
#[utoipa::path(patch, path = "/v1/admin/feedback/{id}", tag = "stations", request_body = PatchFeedback,
    security(("bearer" = [])),
    responses((status = 200, body = FeedbackView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn patch_feedback(
    db: web::Data<Db>,
    coord: web::Data<Coordinator>,
    stations: web::Data<Stations>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<PatchFeedback>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let body = body.into_inner();
    let PatchFeedback { reply, status } = body;
    if reply.is_none() && status.is_none() {
        return Err(Error::invalid(ErrorCode::InvalidField, "reply"));
    }
    let (view, flag_changed) = db
        .write(move |conn| {
            let Caller { user, actor } = &caller;
            feedback::update(conn, user, actor, id, reply.as_deref(), status)
        })
        .await?;
    if flag_changed {
        changed(&stations, &db, &coord).await;
    }
    Ok(HttpResponse::Ok().json(view))
}
