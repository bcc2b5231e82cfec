//! HTTP in and out for benefits; the rules live in the modules named for them.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::{DateTime, Utc};
use identity::auth::Caller;
use identity::AuthUser;
use membership::applications::{self, ActiveMember};
use membership::orgs::Location;
use platform::clock::now;
use platform::db::write_tx;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::http::{resource, JSON_LIMIT};
use platform::idempotency::creating;
use platform::pagination::{PageQuery, Paged};
use platform::text::Text;
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::batcher::{BookOutcome, ClaimOutcome};
use crate::bookings::{self, BookingView};
use crate::claims::{self, EntryView, VoucherView};
use crate::draws::{self, DrawView};
use crate::eligibility::Rules;
use crate::ledger::{self, Counts, DayCounts, LedgerEntry};
use crate::programs::{self, NewProgram, ProgramView};
use crate::redemptions::{self, ScanResult};
use crate::reports::{self, ReportView, Summary};
use crate::sessions::{self, NewSession, SessionView};
use crate::vocab::{Mode, ProgramKind, ProgramStatus};
use crate::Benefits;

/// The routes a service-fair crowd hammers. The server registers them ahead of everything else:
/// actix tries resources in order, one pattern match each, so these answer after two.
pub fn crowd_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(creating("/v1/programs/{id}/claims", JSON_LIMIT).route(web::post().to(claim)))
        .service(creating("/v1/sessions/{id}/bookings", JSON_LIMIT).route(web::post().to(book)));
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        creating("/v1/admin/orgs/{id}/programs", JSON_LIMIT).route(web::post().to(create_program)),
    )
    .service(resource("/v1/admin/programs/{id}/publish").route(web::post().to(publish)))
    .service(resource("/v1/admin/programs/{id}/close").route(web::post().to(close)))
    .service(resource("/v1/admin/programs/{id}/sessions").route(web::post().to(create_session)))
    .service(resource("/v1/admin/programs/{id}/draw").route(web::post().to(run_draw)))
    .service(resource("/v1/admin/programs/{id}/stats").route(web::get().to(program_stats)))
    .service(resource("/v1/admin/redemptions").route(web::post().to(redeem)))
    .service(
        resource("/v1/admin/bookings/{id}/report")
            .app_data(platform::http::json_config(8 * 1024 * 1024))
            .route(web::post().to(attach_report)),
    )
    .service(resource("/v1/programs").route(web::get().to(list_programs)))
    .service(resource("/v1/programs/{id}").route(web::get().to(get_program)))
    .service(resource("/v1/programs/{id}/sessions").route(web::get().to(list_sessions)))
    .service(resource("/v1/programs/{id}/draw").route(web::get().to(get_draw)))
    .service(resource("/v1/bookings/{id}").route(web::delete().to(cancel_booking)))
    .service(resource("/v1/me/vouchers").route(web::get().to(my_vouchers)))
    .service(resource("/v1/me/vouchers/{id}").route(web::get().to(my_voucher)))
    .service(resource("/v1/me/vouchers/{id}/qr.svg").route(web::get().to(my_voucher_qr)))
    .service(resource("/v1/me/bookings").route(web::get().to(my_bookings)))
    .service(resource("/v1/me/bookings/{id}").route(web::get().to(my_booking)))
    .service(resource("/v1/me/bookings/{id}/qr.svg").route(web::get().to(my_booking_qr)))
    .service(resource("/v1/me/benefits").route(web::get().to(my_benefits)))
    .service(resource("/v1/me/reports").route(web::get().to(my_reports)))
    .service(resource("/v1/me/reports/{id}").route(web::get().to(my_report)))
    .service(resource("/v1/me/reports/{id}/pdf").route(web::get().to(my_report_pdf)));
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_program, publish, close, create_session, run_draw, program_stats, redeem, attach_report,
        list_programs, get_program, list_sessions, claim, get_draw, book, cancel_booking,
        my_vouchers, my_voucher, my_voucher_qr, my_bookings, my_booking, my_booking_qr, my_benefits, my_reports, my_report,
        my_report_pdf
    ),
    components(schemas(Paged<VoucherView>, Paged<BookingView>, Paged<LedgerEntry>, Paged<ReportView>)),
    tags((name = "benefits", description = "Programs, gift packs, health checks and the ledger"))
)]
pub struct ApiDoc;

async fn write<T, F>(db: &Db, f: F) -> Result<T>
where
    F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    db.run(move |conn| write_tx(conn, f)).await
}

fn member(conn: &mut DbConn, account_id: i64) -> Result<ActiveMember> {
    applications::active_member(conn, account_id)?.ok_or_else(|| Error::new(ErrorCode::NotAMember))
}

// ---- staff: programs ----

#[derive(Deserialize, ToSchema)]
pub struct CreateProgram {
    pub kind: ProgramKind,
    pub title: Text<100>,
    /// Up to 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Claims or bookings per member (default 1).
    #[schema(minimum = 1, maximum = 10)]
    pub per_member_limit: Option<i32>,
    #[serde(default)]
    pub eligibility: Rules,
    /// Gift packs: how many (required for them; health checks have none).
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub stock: Option<i32>,
    /// Gift packs: first_come (default) or draw.
    pub mode: Option<Mode>,
    /// Fair mode: when entries close and the draw may run.
    pub entry_closes_at: Option<DateTime<Utc>>,
    /// Vouchers not redeemed within this many days expire and go back to stock.
    #[schema(minimum = 1, maximum = 365)]
    pub voucher_valid_days: Option<i32>,
}

fn new_program(org_id: i64, by: i64, body: CreateProgram) -> Result<NewProgram> {
    let bad = |field| Error::invalid(ErrorCode::InvalidField, field);
    let kind = body.kind;
    if body.starts_at >= body.ends_at {
        return Err(bad("ends_at"));
    }
    let per_member_limit = body.per_member_limit.unwrap_or(1);
    if !(1..=10).contains(&per_member_limit) {
        return Err(bad("per_member_limit"));
    }
    if body.description.chars().count() > 2000 {
        return Err(bad("description"));
    }
    let description = body.description.trim().to_owned();
    let mode = body.mode.unwrap_or(Mode::FirstCome);
    match kind {
        ProgramKind::GiftPack => {
            if !body.stock.is_some_and(|s| (1..=10_000_000).contains(&s)) {
                return Err(bad("stock"));
            }
        }
        ProgramKind::HealthCheck => {
            if body.stock.is_some() {
                return Err(bad("stock"));
            }
            if mode != Mode::FirstCome {
                return Err(bad("mode"));
            }
        }
    }
    let entry_closes_at = match mode {
        Mode::Draw => {
            let closes = body.entry_closes_at.ok_or_else(|| bad("entry_closes_at"))?;
            if closes <= body.starts_at || closes > body.ends_at {
                return Err(bad("entry_closes_at"));
            }
            Some(closes.naive_utc())
        }
        Mode::FirstCome if body.entry_closes_at.is_some() => return Err(bad("entry_closes_at")),
        Mode::FirstCome => None,
    };
    if body
        .voucher_valid_days
        .is_some_and(|d| !(1..=365).contains(&d))
    {
        return Err(bad("voucher_valid_days"));
    }
    Ok(NewProgram {
        org_id,
        kind,
        title: body.title.into_inner(),
        description,
        starts_at: body.starts_at.naive_utc(),
        ends_at: body.ends_at.naive_utc(),
        per_member_limit,
        rules: body.eligibility.validate()?,
        mode,
        stock: body.stock,
        voucher_valid_days: body.voucher_valid_days,
        entry_closes_at,
        created_by: by,
    })
}

/// Create a program (draft) for the org's subtree.
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/programs", tag = "benefits", request_body = CreateProgram,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = ProgramView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_program(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<CreateProgram>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let new = new_program(org_id, caller.user.account_id, body.into_inner())?;
    let view = write(&db, move |conn| {
        programs::create(conn, &caller.user, &caller.actor, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Publish a draft: members can see and use it (a fair-mode draw gets its seed now).
#[utoipa::path(post, path = "/v1/admin/programs/{id}/publish", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ProgramView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn publish(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = write(&db, move |conn| {
        programs::publish(conn, &caller.user, &caller.actor, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Close a program: no more claims or bookings.
#[utoipa::path(post, path = "/v1/admin/programs/{id}/close", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ProgramView), (status = 404, body = Problem)))]
async fn close(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = write(&db, move |conn| {
        programs::close(conn, &caller.user, &caller.actor, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateSession {
    pub site_name: Text<100>,
    pub address: Text<200>,
    pub location: Option<Location>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Exams the truck can do in the session (about 200 a day).
    #[schema(minimum = 1, maximum = 10_000)]
    pub capacity: i32,
}

/// Add a health-check session to a program.
#[utoipa::path(post, path = "/v1/admin/programs/{id}/sessions", tag = "benefits", request_body = CreateSession,
    security(("bearer" = [])),
    responses((status = 201, body = SessionView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_session(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<CreateSession>,
) -> Result<HttpResponse> {
    let program_id = id.into_inner();
    let body = body.into_inner();
    let bad = |field| Error::invalid(ErrorCode::InvalidField, field);
    if body.starts_at >= body.ends_at {
        return Err(bad("ends_at"));
    }
    if !(1..=10_000).contains(&body.capacity) {
        return Err(bad("capacity"));
    }
    let new = NewSession {
        program_id,
        site_name: body.site_name.into_inner(),
        address: body.address.into_inner(),
        location: body.location.map(Location::validate).transpose()?,
        starts_at: body.starts_at.naive_utc(),
        ends_at: body.ends_at.naive_utc(),
        capacity: body.capacity,
    };
    let view = write(&db, move |conn| {
        sessions::create(conn, &caller.user, &caller.actor, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Fair mode: run the draw once the entry window has closed.
#[utoipa::path(post, path = "/v1/admin/programs/{id}/draw", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = DrawView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn run_draw(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = write(&db, move |conn| {
        draws::run(conn, &caller.user, &caller.actor, id, now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Serialize, ToSchema)]
pub struct ProgramStats {
    pub program_id: i64,
    pub totals: Counts,
    /// Gift packs left.
    pub remaining: Option<i32>,
    /// Health checks: seats over all sessions, and how many are taken.
    pub seats_total: Option<i64>,
    pub seats_booked: Option<i64>,
    /// Per calendar day (Asia/Shanghai).
    pub by_day: Vec<DayCounts>,
}

/// Claimed, redeemed, remaining, seats booked, checked in, no-shows: totals and per day.
#[utoipa::path(get, path = "/v1/admin/programs/{id}/stats", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = ProgramStats), (status = 404, body = Problem)))]
async fn program_stats(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let stats = db
        .run(move |conn| {
            use diesel::prelude::*;
            use platform::schema::health_sessions as hs;
            let program = programs::managed(conn, &user, id)?;
            let (totals, by_day) = ledger::program_counts(conn, id)?;
            let (seats_total, seats_booked) = match program.kind {
                ProgramKind::HealthCheck => {
                    let seats: Vec<(i32, i32)> = hs::table
                        .filter(hs::program_id.eq(id))
                        .select((hs::capacity, hs::booked))
                        .load(conn)?;
                    (
                        Some(seats.iter().map(|(c, _)| i64::from(*c)).sum()),
                        Some(seats.iter().map(|(_, b)| i64::from(*b)).sum()),
                    )
                }
                ProgramKind::GiftPack => (None, None),
            };
            Ok(ProgramStats {
                program_id: id,
                totals,
                remaining: program.stock_left,
                seats_total,
                seats_booked,
                by_day,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
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
async fn redeem(
    db: web::Data<Db>,
    benefits: web::Data<Benefits>,
    caller: Caller,
    body: Json<RedeemRequest>,
) -> Result<HttpResponse> {
    let code = body.into_inner().code.into_inner();
    let window = benefits.config.check_in;
    let result = write(&db, move |conn| {
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
async fn attach_report(
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
        .map(|b64| {
            let bytes: Vec<u8> = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| Error::invalid(ErrorCode::InvalidField, "pdf_base64"))?;
            reports::check_pdf(&bytes)?;
            Ok::<_, Error>(bytes)
        })
        .transpose()?;
    let view = benefits
        .reports
        .attach(&db, caller.user, caller.actor, booking_id, summary, pdf)
        .await?;
    Ok(HttpResponse::Created().json(view))
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
        .run(move |conn| {
            let Some(member) = applications::active_member(conn, user.account_id)? else {
                return Ok(Vec::new());
            };
            let programs = programs::eligible_for(conn, &member)?;
            programs
                .iter()
                .map(|p| programs::view(conn, p))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProgramList { items }))
}

#[derive(Serialize, ToSchema)]
pub struct ProgramDetail {
    #[serde(flatten)]
    pub program: ProgramView,
    /// Whether the caller may use it now.
    pub eligible: bool,
    /// If not, the problem code that says why (e.g. `not_eligible_new_members_only`).
    pub ineligible_reason: Option<String>,
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
        .run(move |conn| {
            let program = programs::get(conn, id)?;
            if program.status == ProgramStatus::Draft {
                return Err(Error::new(ErrorCode::NotFound));
            }
            let verdict = member(conn, user.account_id).and_then(|m| {
                program.require_open(now())?;
                claims::check_eligible(conn, &program, &m, now())
            });
            Ok(ProgramDetail {
                program: programs::view(conn, &program)?,
                eligible: verdict.is_ok(),
                ineligible_reason: verdict.err().map(|e| e.code().as_str().to_owned()),
            })
        })
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
            let program = programs::get(conn, id)?;
            if program.status == ProgramStatus::Draft {
                return Err(Error::new(ErrorCode::NotFound));
            }
            sessions::upcoming(conn, id)
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
    let program_id = id.into_inner();
    // The crowd's fast path: once sold out, no database work and not even the signature check
    // (stock left is public anyway). Everything else needs a signed-in member.
    if benefits.sold_out.is_sold_out(program_id).await? {
        return Err(Error::new(ErrorCode::SoldOut));
    }
    let account_id = identity::auth::authenticate(&req)?.account_id;
    // No database round trip before the batch: the program comes from a one-second cache and
    // membership and eligibility are checked for the whole batch at once.
    let program = benefits.programs.get(&db, program_id).await?;
    if program.status == ProgramStatus::Draft {
        return Err(Error::new(ErrorCode::NotFound));
    }
    program.require_kind(ProgramKind::GiftPack)?;
    program.require_open(now())?;
    if program.mode == Mode::Draw {
        let (entry, created) = write(&db, move |conn| {
            let member = member(conn, account_id)?;
            claims::check_eligible(conn, &program, &member, now())?;
            claims::enter(conn, &program, account_id, now())
        })
        .await?;
        return Ok(if created {
            HttpResponse::Created()
        } else {
            HttpResponse::Ok()
        }
        .json(entry));
    }
    let valid_until = program.voucher_valid_until(now());
    match benefits
        .batcher
        .claim(program.clone(), account_id, valid_until)
        .await?
    {
        ClaimOutcome::Issued {
            voucher,
            sold_out_now,
        } => {
            if sold_out_now {
                benefits.sold_out.mark(program_id).await;
            }
            let view = VoucherView::issued(&program, voucher, valid_until);
            Ok(HttpResponse::Created().json(view))
        }
        ClaimOutcome::SoldOut => {
            benefits.sold_out.mark(program_id).await;
            Err(Error::new(ErrorCode::SoldOut))
        }
        ClaimOutcome::AlreadyClaimed => Err(Error::new(ErrorCode::AlreadyClaimed)),
        ClaimOutcome::Refused(code) => Err(Error::new(code)),
    }
}

/// Fair mode: the published seed, the entries and the winners: enough to re-run the draw.
#[utoipa::path(get, path = "/v1/programs/{id}/draw", tag = "benefits",
    responses((status = 200, body = DrawView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn get_draw(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .run(move |conn| {
            let program = programs::get(conn, id)?;
            if program.status == ProgramStatus::Draft {
                return Err(Error::new(ErrorCode::NotFound));
            }
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
    let session_id = id.into_inner();
    let waitlist = body.map(|b| b.waitlist).unwrap_or(false);
    let account_id = user.account_id;
    // As for claims: cached session and program, eligibility checked in the batch.
    let session = benefits.sessions.get(&db, session_id).await?;
    let program = benefits.programs.get(&db, session.program_id).await?;
    if program.status == ProgramStatus::Draft {
        return Err(Error::new(ErrorCode::NotFound));
    }
    program.require_open(now())?;
    if session.starts_at <= now() {
        return Err(Error::new(ErrorCode::ProgramNotOpen));
    }
    let view = match benefits
        .batcher
        .book(session_id, program.clone(), account_id, waitlist)
        .await?
    {
        BookOutcome::Booked(booking) => {
            BookingView::booked(&session, program.title.clone(), booking)
        }
        // The queue position needs a count; waitlisting is the rare path.
        BookOutcome::Waitlisted(booking) => {
            db.run(move |conn| bookings::booking(conn, account_id, booking.id))
                .await?
        }
        BookOutcome::Full => return Err(Error::new(ErrorCode::Full)),
        BookOutcome::AlreadyBooked => return Err(Error::new(ErrorCode::AlreadyBooked)),
        BookOutcome::Refused(code) => return Err(Error::new(code)),
    };
    Ok(HttpResponse::Created().json(view))
}

/// Cancel before the cut-off (2 hours before the start); the seat goes to the waitlist first.
#[utoipa::path(delete, path = "/v1/bookings/{id}", tag = "benefits", security(("bearer" = [])),
    responses((status = 200, body = BookingView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_booking(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = write(&db, move |conn| {
        bookings::cancel(conn, user.account_id, id, now())
    })
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
