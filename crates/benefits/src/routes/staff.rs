//! The staff's routes (`/v1/admin/`): HTTP in and out only, the rules live in the modules
//! named for them. Each use case checks the caller's scope itself: outside the caller's subtree
//! is `404 not_found`, exactly as a record that does not exist.

use actix_web::{web, HttpResponse};
use identity::auth::Caller;
use identity::{AuthUser, Identity};
use membership::members::Output;
use membership::reports::PeriodQuery;
use platform::clock::now;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::pagination::{PageQuery, Paged};
use platform::text::Text;
use platform::{Db, Result};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::drafts::{self, PatchProgram};
use crate::draws::{self, DrawView};
use crate::figures::{self, BenefitFigures};
use crate::health_sessions::{self, CancelledSession, CreateSession, PatchSession, SessionView};
use crate::ledger::{self, LedgerEntry, ProgramStats};
use crate::programs::{
    self, CreateProgram, ProgramFilter, ProgramSummary, ProgramView, StaffProgramDetail,
};
use crate::redemptions::{self, ScanResult};
use crate::reports::{self, ReportView, Summary};
use crate::rosters::{self, RosterQuery, RosterRow};
use crate::Benefits;

// ---- staff: programs ----

/// Create a program (draft) for the org's subtree.
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/programs", tag = "benefits", request_body = CreateProgram,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = ProgramView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create_program(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<CreateProgram>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let new = body.into_inner().validate(org_id, caller.user.account_id)?;
    let view = db
        .write(move |conn| programs::create(conn, &caller.user, &caller.actor, new))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Programs issued in the org's subtree (by it or by an org below it), drafts included, newest
/// first.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/programs", tag = "benefits", params(ProgramFilter, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<ProgramSummary>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn list_org_programs(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    filter: Query<ProgramFilter>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let (org_id, filter, page) = (id.into_inner(), filter.into_inner(), page.page());
    let list = db
        .run(move |conn| programs::list(conn, &user, org_id, filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One program of the caller's subtree as its staff see it, in any state, with all its
/// sessions.
#[utoipa::path(get, path = "/v1/admin/programs/{id}", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = StaffProgramDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn staff_program(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let detail = db
        .run(move |conn| programs::staff_detail(conn, &user, id))
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Edit a draft: present fields replace the stored ones (the kind cannot change), and the
/// result keeps every rule of a new program. A published or closed program is
/// `409 program_not_draft` and stays as it is.
#[utoipa::path(patch, path = "/v1/admin/programs/{id}", tag = "benefits", request_body = PatchProgram,
    security(("bearer" = [])),
    responses((status = 200, body = StaffProgramDetail), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`program_not_draft`: the program is published or closed", body = Problem),
        (status = 422, body = Problem)))]
pub(super) async fn patch_program(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<PatchProgram>,
) -> Result<HttpResponse> {
    let (id, patch) = (id.into_inner(), body.into_inner());
    let detail = db
        .write(move |conn| drafts::edit(conn, &caller.user, &caller.actor, id, patch))
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Publish a draft: members can see and use it (a fair-mode draw gets its seed now).
#[utoipa::path(post, path = "/v1/admin/programs/{id}/publish", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ProgramView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn publish(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .write(move |conn| programs::publish(conn, &caller.user, &caller.actor, id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Close a program: no more claims or bookings.
#[utoipa::path(post, path = "/v1/admin/programs/{id}/close", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ProgramView), (status = 404, body = Problem)))]
pub(super) async fn close(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .write(move |conn| programs::close(conn, &caller.user, &caller.actor, id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

// ---- staff: sessions ----

/// Add a health-check session to a program.
#[utoipa::path(post, path = "/v1/admin/programs/{id}/sessions", tag = "benefits", request_body = CreateSession,
    security(("bearer" = [])),
    responses((status = 201, body = SessionView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create_session(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<CreateSession>,
) -> Result<HttpResponse> {
    let new = body.into_inner().validate(id.into_inner())?;
    let view = db
        .write(move |conn| health_sessions::create(conn, &caller.user, &caller.actor, new))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Move or resize a session: present fields replace the stored ones. The capacity may not go
/// below the seats already booked (`409 capacity_below_booked`, even while members are
/// booking); seats added go to the waitlist first. A cancelled session is
/// `409 session_cancelled`.
#[utoipa::path(patch, path = "/v1/admin/sessions/{id}", tag = "benefits", request_body = PatchSession,
    security(("bearer" = [])),
    responses((status = 200, body = SessionView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`capacity_below_booked` or `session_cancelled`", body = Problem),
        (status = 422, body = Problem)))]
pub(super) async fn patch_session(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<PatchSession>,
) -> Result<HttpResponse> {
    let (id, patch, offers) = (id.into_inner(), body.into_inner(), benefits.config.offers);
    let view = db
        .write(move |conn| {
            health_sessions::edit(conn, (&caller.user, &caller.actor), id, patch, offers)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Cancel a session: it stays, marked cancelled, and takes no more bookings
/// (`409 session_cancelled`); its booked seats and its waitlist are cancelled with it at once.
/// Cancelling it again changes nothing. A POST, not a DELETE: the session stays readable.
#[utoipa::path(post, path = "/v1/admin/sessions/{id}/cancel", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = CancelledSession), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn cancel_session(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let cancelled = db
        .write(move |conn| health_sessions::cancel(conn, &caller.user, &caller.actor, id))
        .await?;
    Ok(HttpResponse::Ok().json(cancelled))
}

/// A session's roster, newest first: a page, or with `format=csv` every booking as CSV
/// (Chinese unless `lang=en`). Names and phones are masked; each read is recorded.
#[utoipa::path(get, path = "/v1/admin/sessions/{id}/bookings", tag = "benefits", params(RosterQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of bookings; with `format=csv` the whole roster as CSV, Chinese unless `lang=en`",
            content((Paged<RosterRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn session_bookings(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<RosterQuery>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let identity = identity.into_inner();
    let Caller { user, actor } = caller;
    Ok(match query.output() {
        Output::Page(page) => {
            let list = db
                .run(move |conn| rosters::list(conn, &identity, &user, &actor, id, page))
                .await?;
            HttpResponse::Ok().json(list)
        }
        Output::File(lang) => {
            let file = db
                .run(move |conn| rosters::export(conn, &identity, &user, &actor, id))
                .await?;
            rosters::download(&file, lang)
        }
    })
}

// ---- staff: draws, figures, scans and reports ----

/// Fair mode: run the draw once the entry window has closed.
#[utoipa::path(post, path = "/v1/admin/programs/{id}/draw", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = DrawView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn run_draw(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .write(move |conn| draws::run(conn, &caller.user, &caller.actor, id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Claimed, redeemed, remaining, seats booked, checked in, no-shows: totals and per day.
#[utoipa::path(get, path = "/v1/admin/programs/{id}/stats", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ProgramStats), (status = 404, body = Problem)))]
pub(super) async fn program_stats(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let stats = db
        .run(move |conn| ledger::program_stats(conn, &user, id))
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// What the programs of the org's subtree recorded over a period (Asia/Shanghai days, last
/// calendar month by default): claims, redemptions, expired vouchers, bookings, check-ins,
/// no-shows and the rest of the ledger's kinds, in all, for the org itself and per direct child
/// org with its subtree. Counts only.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/report/benefits", tag = "benefits", params(PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = BenefitFigures), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub(super) async fn benefits_report(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<PeriodQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let period = query.validate()?;
    let figures = db
        .run(move |conn| figures::figures(conn, &user, org_id, period))
        .await?;
    Ok(HttpResponse::Ok().json(figures))
}

#[derive(Deserialize, ToSchema)]
pub struct RedeemRequest {
    /// The code read from a voucher or booking QR.
    pub code: Text<128>,
}

/// Redeem a scanned voucher or check in a booking by its code. A second scan says when and by
/// whom it was done. Only staff may scan (403 otherwise); a code of another district is a 404
/// `not_found`, exactly as a code that does not exist.
///
/// A booking checks in only within its session's check-in window: from
/// `CHECKIN_OPENS_BEFORE_MINUTES` (default 60) before the session's `starts_at` until
/// `CHECKIN_CLOSES_AFTER_MINUTES` (default 30) after its `ends_at`. Outside it the answer is
/// `409 outside_checkin_window` and nothing is written: the booking stays booked, so it can check
/// in on the day, and after the window it counts as a no-show. A booking already checked in
/// still answers `already_checked_in` at any time. Gift-pack vouchers have no window (only
/// their validity).
#[utoipa::path(post, path = "/v1/admin/redemptions", tag = "benefits", request_body = RedeemRequest,
    security(("bearer" = [])),
    responses((status = 200, body = ScanResult), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`outside_checkin_window`: a booking scanned before its session's check-in window opens or after it closes", body = Problem)))]
pub(super) async fn redeem(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    caller: Caller,
    body: Json<RedeemRequest>,
) -> Result<HttpResponse> {
    let code = body.into_inner().code.into_inner();
    let window = benefits.config.check_in;
    let result = db
        .write(move |conn| {
            redemptions::scan(conn, &caller.user, &caller.actor, &code, &window, now())
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Deserialize, ToSchema)]
pub struct ReportRequest {
    pub summary: Summary,
    /// The full report as a PDF, base64 (at most 5 MiB).
    pub pdf_base64: Option<String>,
}

/// Attach (or replace) the report of a checked-in booking: `409 booking_not_active` before
/// check-in. A booking of another district is a 404 `not_found` in any state, exactly as one that
/// does not exist. Summary and PDF are stored encrypted; a replaced PDF is deleted.
#[utoipa::path(post, path = "/v1/admin/bookings/{id}/report", tag = "benefits", request_body = ReportRequest,
    security(("bearer" = [])),
    responses((status = 201, body = ReportView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn attach_report(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<ReportRequest>,
) -> Result<HttpResponse> {
    let booking_id = id.into_inner();
    let body = body.into_inner();
    let summary = body.summary.validate()?;
    let pdf = body
        .pdf_base64
        .as_deref()
        .map(reports::decode_pdf)
        .transpose()?;
    let view = benefits
        .reports
        .attach(&db, caller.user, caller.actor, booking_id, summary, pdf)
        .await?;
    Ok(HttpResponse::Created().json(view))
}

// ---- staff: members ----

/// The benefit ledger of the member of membership `id` (the `membership_id` of a member list's
/// row): claims, entries, redemptions, bookings and their outcomes while that membership was
/// active, newest first. Each read is recorded.
#[utoipa::path(get, path = "/v1/admin/members/{id}/benefits", tag = "benefits", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<LedgerEntry>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn member_benefits(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let (id, page) = (id.into_inner(), page.page());
    let list = db
        .run(move |conn| ledger::of_member(conn, &caller.user, &caller.actor, id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
