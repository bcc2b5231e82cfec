//! HTTP in and out for benefits; the rules live in the modules named for them. The staff's
//! routes (`/v1/admin/`) are in [`staff`].

mod broadcasts;
mod staff;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use identity::AuthUser;
use platform::clock::now;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::http::JSON_LIMIT;
use platform::pagination::{PageQuery, Paged};
use platform::{Db, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::bookings::{self, BookingView};
use crate::claims::{self, Claimed, EntryView, VoucherView};
use crate::draws::{self, DrawView};
use crate::health_sessions::{self, SessionView};
use crate::ledger::{self, LedgerEntry};
use crate::programs::{self, ProgramDetail, ProgramSummary, ProgramView};
use crate::reports::{self, ReportView};
use crate::rosters::RosterRow;
use crate::waitlist;
use crate::Benefits;
use broadcasts::*;
use staff::*;

platform::api! {
    /// The benefits part of the OpenAPI document.
    pub struct ApiDoc {
        components(schemas(Paged<VoucherView>, Paged<BookingView>, Paged<LedgerEntry>, Paged<ReportView>,
            Paged<ProgramSummary>, Paged<RosterRow>, Paged<crate::broadcasts::BroadcastView>)),
        tags((name = "benefits", description = "Programs, gift packs, health checks and the ledger"))
    }

    /// The routes a service-fair crowd hammers. The server registers them ahead of everything
    /// else: actix tries resources in order, one pattern match each, so these answer after two.
    pub fn crowd_routes {
        claim: Kind::Creating(JSON_LIMIT),
        book: Kind::Creating(JSON_LIMIT),
    }

    pub fn routes {
        // One resource per path: the list shares the create's idempotency layer (which lets
        // every method but POST through untouched).
        create_program: Kind::Creating(JSON_LIMIT),
        list_org_programs: Kind::Creating(JSON_LIMIT),
        create_broadcast: Kind::Creating(JSON_LIMIT),
        list_broadcasts: Kind::Creating(JSON_LIMIT),
        preview_broadcast,
        staff_program,
        patch_program,
        publish,
        close,
        create_session,
        patch_session,
        cancel_session,
        session_bookings,
        run_draw,
        program_stats,
        benefits_report,
        redeem,
        attach_report: Kind::LargeJson(8 * 1024 * 1024),
        member_benefits,
        list_programs,
        get_program,
        list_sessions,
        get_draw,
        cancel_booking,
        confirm_booking,
        my_vouchers,
        my_voucher,
        my_voucher_qr,
        my_bookings,
        my_booking,
        my_booking_qr,
        my_benefits,
        my_reports,
        my_report,
        my_report_pdf,
    }
}

// ---- members ----

#[derive(Serialize, ToSchema)]
pub struct ProgramList {
    pub items: Vec<ProgramView>,
}

/// Programs the caller may use now, with stock or seats left. Empty for non-members.
#[utoipa::path(get, path = "/v1/programs", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ProgramList), (status = 401, body = Problem)))]
async fn list_programs(db: web::Data<Db>, user: AuthUser) -> Result<HttpResponse> {
    let items = db
        .run(move |conn| programs::for_member(conn, user.account_id))
        .await?;
    Ok(HttpResponse::Ok().json(ProgramList { items }))
}

/// A published program, and whether the caller may use it.
#[utoipa::path(get, path = "/v1/programs/{id}", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ProgramDetail), (status = 404, body = Problem)))]
async fn get_program(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let detail = db
        .run(move |conn| programs::detail(conn, user.account_id, id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

/// A health-check program's sessions that have not ended, with seats left.
#[utoipa::path(get, path = "/v1/programs/{id}/sessions", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 404, body = Problem)))]
async fn list_sessions(
    db: web::Data<Db>,
    _user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let items = db
        .run(move |conn| {
            programs::published(conn, id)?;
            health_sessions::upcoming(conn, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SessionList { items }))
}

/// Claim a gift pack: a voucher (201), or in fair mode an entry to the draw (201; 200 when
/// already entered). `sold_out` and `already_claimed` are 409s.
#[utoipa::path(post, path = "/v1/programs/{id}/claims", tag = "benefits",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = VoucherView), (status = 200, description = "Fair mode: already entered", body = EntryView),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn claim(
    req: HttpRequest,
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let caller = || Ok(identity::auth::authenticate(&req)?.account_id);
    Ok(
        match claims::claim(&db, &benefits, id.into_inner(), caller).await? {
            Claimed::Voucher(voucher) => HttpResponse::Created().json(voucher),
            Claimed::Entry {
                entry,
                created: true,
            } => HttpResponse::Created().json(entry),
            Claimed::Entry { entry, .. } => HttpResponse::Ok().json(entry),
        },
    )
}

/// Fair mode: the published seed, the entries and the winners: enough to re-run the draw.
#[utoipa::path(get, path = "/v1/programs/{id}/draw", tag = "benefits",
    responses((status = 200, body = DrawView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn get_draw(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .run(move |conn| {
            let program = programs::published(conn, id)?;
            draws::view(conn, &program)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct BookRequest {
    /// When the session is full, join its waitlist instead of getting `409 full`.
    #[serde(default)]
    pub waitlist: bool,
}

/// Book a seat: a booking with a check-in code and QR; when full, `409 full` or, with
/// `waitlist: true`, a waitlisted booking.
#[utoipa::path(post, path = "/v1/sessions/{id}/bookings", tag = "benefits", request_body = BookRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = BookingView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn book(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Option<Json<BookRequest>>,
) -> Result<HttpResponse> {
    let waitlist = body.is_some_and(|b| b.waitlist);
    let view = bookings::book(&db, &benefits, id.into_inner(), user.account_id, waitlist).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Cancel before the cut-off (2 hours before the start); the seat goes to the waitlist first.
/// Cancelling a seat offered from the waitlist releases it to the next in line.
#[utoipa::path(delete, path = "/v1/bookings/{id}", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = BookingView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_booking(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let (id, offers) = (id.into_inner(), benefits.config.offers);
    let view = db
        .write(move |conn| bookings::cancel(conn, user.account_id, id, offers, now()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Confirm a seat offered from the waitlist (a booking with `offer_expires_at`) before that
/// time; it is then yours like any booked seat. Confirming again answers the booking as it is.
/// Past the deadline, `409 offer_lapsed`: the seat goes to the next in line.
#[utoipa::path(post, path = "/v1/bookings/{id}/confirm", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = BookingView), (status = 404, body = Problem),
        (status = 409, description = "`offer_lapsed` or `booking_not_active`", body = Problem)))]
async fn confirm_booking(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .write(move |conn| waitlist::confirm(conn, user.account_id, id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The caller's vouchers, newest first.
#[utoipa::path(get, path = "/v1/me/vouchers", tag = "benefits", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Paged<VoucherView>)))]
async fn my_vouchers(
    db: web::Data<Db>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.page();
    let list = db
        .run(move |conn| claims::mine(conn, user.account_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One of the caller's vouchers.
#[utoipa::path(get, path = "/v1/me/vouchers/{id}", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = VoucherView), (status = 404, body = Problem)))]
async fn my_voucher(db: web::Data<Db>, user: AuthUser, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let voucher = db
        .run(move |conn| claims::voucher(conn, user.account_id, id))
        .await?;
    Ok(HttpResponse::Ok().json(voucher))
}

/// The caller's bookings, newest first.
#[utoipa::path(get, path = "/v1/me/bookings", tag = "benefits", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Paged<BookingView>)))]
async fn my_bookings(
    db: web::Data<Db>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.page();
    let list = db
        .run(move |conn| bookings::mine(conn, user.account_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One of the caller's bookings.
#[utoipa::path(get, path = "/v1/me/bookings/{id}", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = BookingView), (status = 404, body = Problem)))]
async fn my_booking(db: web::Data<Db>, user: AuthUser, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let booking = db
        .run(move |conn| bookings::booking(conn, user.account_id, id))
        .await?;
    Ok(HttpResponse::Ok().json(booking))
}

/// The caller's benefit ledger: every claim, entry, redemption, booking, cancellation, check-in
/// and report, newest first.
#[utoipa::path(get, path = "/v1/me/benefits", tag = "benefits", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Paged<LedgerEntry>)))]
async fn my_benefits(
    db: web::Data<Db>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.page();
    let list = db
        .run(move |conn| ledger::mine(conn, user.account_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The caller's health-check reports.
#[utoipa::path(get, path = "/v1/me/reports", tag = "benefits", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Paged<ReportView>)))]
async fn my_reports(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.page();
    let protector = benefits.reports.protector().clone();
    let list = db
        .run(move |conn| reports::mine(conn, &protector, user.account_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One of the caller's reports.
#[utoipa::path(get, path = "/v1/me/reports/{id}", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ReportView), (status = 404, body = Problem)))]
async fn my_report(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let protector = benefits.reports.protector().clone();
    let report = db
        .run(move |conn| reports::mine_one(conn, &protector, user.account_id, id))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The PDF of one of the caller's reports.
#[utoipa::path(get, path = "/v1/me/reports/{id}/pdf", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, content_type = "application/pdf", description = "The report"), (status = 404, body = Problem)))]
async fn my_report_pdf(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let bytes = benefits.reports.my_pdf(&db, user.account_id, id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

fn qr_image(code: &str) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400, immutable"))
        .body(platform::qr::svg(code, 320)?))
}

/// The QR of one of the caller's vouchers (its redemption code), SVG.
#[utoipa::path(get, path = "/v1/me/vouchers/{id}/qr.svg", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", description = "QR code"), (status = 404, body = Problem)))]
async fn my_voucher_qr(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let voucher = db
        .run(move |conn| claims::voucher(conn, user.account_id, id))
        .await?;
    qr_image(&voucher.code)
}

/// The QR of one of the caller's bookings (its check-in code), SVG.
#[utoipa::path(get, path = "/v1/me/bookings/{id}/qr.svg", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", description = "QR code"), (status = 404, body = Problem)))]
async fn my_booking_qr(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let booking = db
        .run(move |conn| bookings::booking(conn, user.account_id, id))
        .await?;
    qr_image(&booking.code)
}
