//! HTTP in and out for stations; the rules live in the modules named for them.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use identity::auth::Caller;
use identity::AuthUser;
use membership::reports::PeriodQuery;
use membership::staff;
use platform::clock::now_utc;
use platform::csv_import::{self, ImportProblem};
use platform::error::{Lang, Problem};
use platform::extract::{Json, Query};
use platform::http::JSON_LIMIT;
use platform::pagination::Paged;
use platform::qr;
use platform::{Coordinator, Db, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::feedback::{self, Board, BoardQuery, FeedbackRequest, FeedbackView, PatchFeedback};
use crate::import::{self, ImportQuery};
use crate::nearby::{self, Nearby, NearbyParams};
use crate::station::{
    self, AdminStationView, CreateStation, PatchStation, StationListQuery, StationView,
};
use crate::visits::{self, CheckIn, CheckInRequest, StationFigures, Stats, StatsQuery};
use crate::vocab::{Amenity, StationStatus};
use crate::Stations;

platform::api! {
    /// The stations part of the OpenAPI document.
    pub struct ApiDoc {
        components(schemas(Paged<AdminStationView>, Paged<FeedbackView>, Amenity, StationStatus)),
        tags((name = "stations", description = "Rest stations, nearby search, check-ins and the message board"))
    }

    pub fn routes {
        // Before `/v1/stations/{id}`, whose pattern would take it.
        nearby,
        get_station,
        check_in: Kind::Creating(JSON_LIMIT),
        post_feedback: Kind::Creating(JSON_LIMIT),
        create_station: Kind::Creating(JSON_LIMIT),
        // Shares its path with create_station, so its resource honours the key too.
        list_stations: Kind::Creating(JSON_LIMIT),
        import_csv: Kind::Creating(import::MAX_BYTES),
        org_feedback,
        admin_station,
        patch_station,
        close_station,
        door_qr_svg,
        door_qr_png,
        station_stats,
        stations_report,
        station_feedback,
        patch_feedback,
    }
}

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
        .run(move |conn| station::show(conn, id, now_utc()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

// ---- staff: stations ----

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
    let new = body.into_inner().validate()?;
    let base = stations.config.base_url.clone();
    let view = stations
        .write(&db, &coord, move |conn| {
            let Caller { user, actor } = &caller;
            station::create(conn, user, actor, org_id, &new, &base, now_utc())
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
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
    let base = stations.config.base_url.clone();
    let list = db
        .run(move |conn| station::list(conn, &user, org_id, query, &base, now_utc()))
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
        .run(move |conn| station::show_managed(conn, &user, id, &base, now_utc()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
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
    let patch = body.into_inner().validate()?;
    let base = stations.config.base_url.clone();
    let view = stations
        .write(&db, &coord, move |conn| {
            let Caller { user, actor } = &caller;
            station::edit(conn, user, actor, id, &patch, &base, now_utc())
        })
        .await?;
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
    let view = stations
        .write(&db, &coord, move |conn| {
            let Caller { user, actor } = &caller;
            station::close(conn, user, actor, id, &base, now_utc())
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

// ---- staff: CSV import ----

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub imported: usize,
    /// Ids of the new stations, in file order.
    pub ids: Vec<i64>,
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
    let format = Query::<ImportQuery>::from_query(req.query_string())?.validate()?;
    if !csv_import::is_csv(&req) {
        return Err(Error::new(ErrorCode::UnsupportedMediaType));
    }
    // Scope first, so that a stranger learns nothing from how the file is judged.
    let scope_user = caller.user.clone();
    db.run(move |conn| staff::require(conn, &scope_user, org_id))
        .await?;
    let body = csv_import::read_body(payload, import::MAX_BYTES).await?;
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let caller = (caller.user, caller.actor);
    let stored = import::run(&db, &coord, &stations, caller, org_id, body, format).await?;
    match stored {
        Ok(ids) => Ok(HttpResponse::Created().json(Imported {
            imported: ids.len(),
            ids,
        })),
        Err(refusal) => csv_import::refused(refusal, lang, format.declared),
    }
}

// ---- staff: door QR ----

async fn door_url(db: &Db, stations: &Stations, user: AuthUser, id: i64) -> Result<String> {
    let base = stations.config.base_url.clone();
    db.run(move |conn| station::managed_door_url(conn, &user, id, &base))
        .await
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
    qr::poster(&url, qr::Format::Svg, qr::Keep::Day)
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
    qr::poster(&url, qr::Format::Png, qr::Keep::Day)
}

// ---- visits ----

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

/// Visits to the stations of the org's subtree over a period (Asia/Shanghai days, last calendar
/// month by default): in all and by members, for the org itself and per direct child org with
/// its subtree. Counts only.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/report/stations", tag = "stations", params(PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = StationFigures), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn stations_report(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<PeriodQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let period = query.validate()?;
    let figures = db
        .run(move |conn| visits::figures(conn, &user, org_id, period))
        .await?;
    Ok(HttpResponse::Ok().json(figures))
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
    let range = query.validate()?;
    let stats = db
        .run(move |conn| visits::staff_stats(conn, &user, id, range))
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

// ---- feedback ----

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
    let view = feedback::report(
        &db,
        &coord,
        &stations,
        user.account_id,
        station_id,
        kind,
        text,
    )
    .await?;
    Ok(HttpResponse::Created().json(view))
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
    let board = Board::Station(id.into_inner());
    let query = query.into_inner();
    let list = db
        .run(move |conn| feedback::staff_board(conn, &user, board, query))
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
    let board = Board::Subtree(id.into_inner());
    let query = query.into_inner();
    let list = db
        .run(move |conn| feedback::staff_board(conn, &user, board, query))
        .await?;
    Ok(HttpResponse::Ok().json(list))
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
    let answer = body.into_inner().validate()?;
    let caller = (caller.user, caller.actor);
    let view = feedback::answer(&db, &coord, &stations, caller, id, answer).await?;
    Ok(HttpResponse::Ok().json(view))
}
