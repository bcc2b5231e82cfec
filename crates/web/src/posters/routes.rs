//! The posters in the JSON API, for staff clients (bearer token), beside the bare QR images.

use actix_web::{web, HttpResponse};
use identity::AuthUser;
use membership::MembershipConfig;
use platform::error::Problem;
use platform::{Db, Result};
use stations::Stations;

use super::{door, download, join, Format};

platform::api! {
    /// The posters' part of the OpenAPI document.
    pub struct ApiDoc {}

    pub fn routes {
        join_poster_pdf,
        join_poster_png,
        door_poster_pdf,
        door_poster_png,
    }
}

async fn join_poster(
    db: web::Data<Db>,
    config: web::Data<MembershipConfig>,
    user: AuthUser,
    code: String,
    format: Format,
) -> Result<HttpResponse> {
    let base = config.base_url.clone();
    let poster = db.run(move |conn| join(conn, &user, &code, &base)).await?;
    download(poster, format).await
}

/// The join poster to print: one A4 page (300 dpi) with the union's name, the code's label,
/// three steps, the QR of `{PUBLIC_BASE_URL}/j/{code}` (about 90 mm wide) and that URL.
/// A code revoked, expired or used up gets no poster (409).
#[utoipa::path(get, path = "/v1/admin/join-codes/{code}/poster.pdf", tag = "membership", security(("bearer" = [])),
    responses((status = 200, content_type = "application/pdf", description = "A one-page A4 PDF, as an attachment"),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 429, description = "Posters are being drawn for others: retry after `Retry-After`", body = Problem)))]
async fn join_poster_pdf(
    db: web::Data<Db>,
    config: web::Data<MembershipConfig>,
    user: AuthUser,
    code: web::Path<String>,
) -> Result<HttpResponse> {
    join_poster(db, config, user, code.into_inner(), Format::Pdf).await
}

/// The join poster as a PNG of 2480 x 3508 pixels (A4 at 300 dpi); the same page as the PDF.
#[utoipa::path(get, path = "/v1/admin/join-codes/{code}/poster.png", tag = "membership", security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", description = "The A4 page as an attachment"),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 429, description = "Posters are being drawn for others: retry after `Retry-After`", body = Problem)))]
async fn join_poster_png(
    db: web::Data<Db>,
    config: web::Data<MembershipConfig>,
    user: AuthUser,
    code: web::Path<String>,
) -> Result<HttpResponse> {
    join_poster(db, config, user, code.into_inner(), Format::Png).await
}

async fn door_poster(
    db: web::Data<Db>,
    stations: web::Data<Stations>,
    user: AuthUser,
    id: i64,
    format: Format,
) -> Result<HttpResponse> {
    let base = stations.config.base_url.clone();
    let poster = db.run(move |conn| door(conn, &user, id, &base)).await?;
    download(poster, format).await
}

/// The door poster to print: one A4 page (300 dpi) with the station's name and address,
/// three steps, the door QR (`{PUBLIC_BASE_URL}/s/{id}?c={door code}`, about 90 mm wide) and
/// that URL. A station closed for good gets no poster (409).
#[utoipa::path(get, path = "/v1/admin/stations/{id}/poster.pdf", tag = "stations", security(("bearer" = [])),
    responses((status = 200, content_type = "application/pdf", description = "A one-page A4 PDF, as an attachment"),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 429, description = "Posters are being drawn for others: retry after `Retry-After`", body = Problem)))]
async fn door_poster_pdf(
    db: web::Data<Db>,
    stations: web::Data<Stations>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    door_poster(db, stations, user, id.into_inner(), Format::Pdf).await
}

/// The door poster as a PNG of 2480 x 3508 pixels (A4 at 300 dpi); the same page as the PDF.
#[utoipa::path(get, path = "/v1/admin/stations/{id}/poster.png", tag = "stations", security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", description = "The A4 page as an attachment"),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 429, description = "Posters are being drawn for others: retry after `Retry-After`", body = Problem)))]
async fn door_poster_png(
    db: web::Data<Db>,
    stations: web::Data<Stations>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    door_poster(db, stations, user, id.into_inner(), Format::Png).await
}
