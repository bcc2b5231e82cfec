//! The staff's routes for handling an accepted case (mediators, the agreement and its
//! instalments, referral, closing, the follow-up) and the figures: HTTP in and out only.

use actix_web::{web, HttpRequest, HttpResponse};
use identity::auth::Caller;
use identity::{AuthUser, Identity};
use membership::reports::PeriodQuery;
use platform::error::{Lang, Problem};
use platform::extract::{Json, Query};
use platform::{Db, DbConn, Result};
use serde::Serialize;
use utoipa::ToSchema;

use super::RETRY;
use crate::agreements::{self, SignAgreement};
use crate::cases::CaseDetail;
use crate::closing::{self, Close, FollowUp, Refer};
use crate::mediators::{self, AddMediator, AssignMediator, MediatorView};
use crate::meetings::{self, ScheduleMeeting};
use crate::stats::{self, CaseFigures};
use crate::{Rights, RightsConfig};

/// Runs a staff step on a case in one write and answers the case file.
pub(super) async fn step<F>(
    db: &Db,
    rights: web::Data<Rights>,
    caller: Caller,
    f: F,
) -> Result<HttpResponse>
where
    F: FnOnce(
            &mut DbConn,
            &RightsConfig,
            &platform::crypto::DataProtector,
            (&AuthUser, &platform::audit::Actor),
        ) -> Result<CaseDetail>
        + Send
        + 'static,
{
    let case = db
        .write(move |conn| {
            let who = (&caller.user, &caller.actor);
            f(conn, &rights.config, rights.files.protector(), who)
        })
        .await?;
    Ok(HttpResponse::Ok().json(case))
}

#[derive(Serialize, ToSchema)]
pub struct MediatorList {
    pub items: Vec<MediatorView>,
}

/// The mediators who may take the org's cases: its own and those of the orgs above it, with
/// their duty days.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/mediators", tag = "rights", security(("bearer" = [])),
    responses((status = 200, body = MediatorList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn list_mediators(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let items = db
        .run(move |conn| mediators::list(conn, &identity, &user, org_id))
        .await?;
    Ok(HttpResponse::Ok().json(MediatorList { items }))
}

/// Put a staff account of the org (or of an org above it) on the org's mediator rota, or change
/// its duty days.
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/mediators", tag = "rights", request_body = AddMediator,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = MediatorView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn add_mediator(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<AddMediator>,
) -> Result<HttpResponse> {
    let (org_id, who) = (id.into_inner(), body.validate()?);
    let view = db
        .write(move |conn| {
            mediators::add(conn, &identity, (&caller.user, &caller.actor), org_id, who)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Take a mediator off the rota; cases assigned keep their mediator.
#[utoipa::path(delete, path = "/v1/admin/mediators/{id}", tag = "rights", security(("bearer" = [])),
    responses((status = 204, description = "Removed"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn remove_mediator(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    db.write(move |conn| mediators::remove(conn, (&caller.user, &caller.actor), id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Assign an accepted case to a mediator of the rota; the claimants are told.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/mediator", tag = "rights", request_body = AssignMediator,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn assign_mediator(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<AssignMediator>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, rights, caller, move |conn, config, protector, who| {
        mediators::assign(conn, config, protector, who, id, body)
    })
    .await
}

/// Record the mediation agreement of an accepted case: who pays, who is jointly liable, the
/// instalments; the claimants are told.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/agreement", tag = "rights", request_body = SignAgreement,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn sign_agreement(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<SignAgreement>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, rights, caller, move |conn, config, protector, who| {
        agreements::sign(conn, config, protector, who, id, body)
    })
    .await
}

/// Record an instalment of the agreement as paid; the last one closes the case as settled.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/instalments/{instalment_id}/paid", tag = "rights",
    params(("id" = i64, Path), ("instalment_id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn pay_instalment(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse> {
    let (id, instalment) = path.into_inner();
    step(&db, rights, caller, move |conn, config, protector, who| {
        agreements::pay(conn, config, protector, who, id, instalment)
    })
    .await
}

/// Hand an accepted case to a partner agency, with the one reply the worker gets; it closes.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/refer", tag = "rights", request_body = Refer,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn refer_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<Refer>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, rights, caller, move |conn, config, protector, who| {
        closing::refer(conn, config, protector, who, id, body)
    })
    .await
}

/// Close an accepted or agreed case with its outcome and the amount recovered.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/close", tag = "rights", request_body = Close,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn close_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<Close>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, rights, caller, move |conn, config, protector, who| {
        closing::close(conn, config, protector, who, id, body)
    })
    .await
}

/// Record the follow-up call of a closed or referred case with the worker's rating, once.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/follow-up", tag = "rights", request_body = FollowUp,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn follow_up_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<FollowUp>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, rights, caller, move |conn, config, protector, who| {
        closing::follow_up(conn, config, protector, who, id, body)
    })
    .await
}

/// Schedule a mediation meeting of an accepted case; the claimants are told by inbox and SMS.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/meetings", tag = "rights", request_body = ScheduleMeeting,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn schedule_meeting(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<ScheduleMeeting>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, rights, caller, move |conn, config, protector, who| {
        meetings::schedule(conn, config, protector, who, id, body)
    })
    .await
}

/// The figures of the cases of the org's subtree filed in a period (last calendar month by
/// default): by kind, class and state, amounts, median days, mediation and referral, ratings.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/case-stats", tag = "rights", params(PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = CaseFigures), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn case_stats(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    period: Query<PeriodQuery>,
) -> Result<HttpResponse> {
    let (org_id, period) = (id.into_inner(), period.validate()?);
    let figures = db
        .run(move |conn| stats::figures(conn, &user, org_id, period))
        .await?;
    Ok(HttpResponse::Ok().json(figures))
}

/// The same figures as a spreadsheet (UTF-8 with BOM, CRLF), for the monthly report.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/case-stats.csv", tag = "rights", params(PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", description = "The figures"), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn case_stats_csv(
    req: HttpRequest,
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    period: Query<PeriodQuery>,
) -> Result<HttpResponse> {
    let (org_id, period) = (id.into_inner(), period.validate()?);
    let figures = db
        .run(move |conn| stats::figures(conn, &user, org_id, period))
        .await?;
    let lang = Lang::from_accept_language(
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let body = platform::csv::render(stats::COLUMNS, &figures.lines(), lang);
    let name = format!("维权案件统计-{}-{}", figures.period.from, figures.period.to);
    let ascii = format!("case-stats-{}-{}", figures.period.from, figures.period.to);
    Ok(platform::csv::download(&ascii, &name, body))
}
