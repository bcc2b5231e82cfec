//! HTTP in and out for hardship grants; the rules live in the modules named for them.

use actix_web::{web, HttpResponse};
use identity::auth::Caller;
use identity::{AuthUser, Identity};
use platform::audit::Actor;
use platform::crypto::DataProtector;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::http::JSON_LIMIT;
use platform::pagination::{PageQuery, Paged};
use platform::{Db, DbConn, Result};
use serde::Serialize;
use utoipa::ToSchema;

use super::apply::{self, ApplyForGrant};
use super::review::{self, GrantQueueFilter, GrantQueueRow, RejectGrant, StepNote, Verify};
use super::terms::{self, CreateGrantProgram, GrantProgramView, GrantTermsView};
use super::views::{self, GrantApplicationView, GrantNotice};

platform::api! {
    /// The grants part of the OpenAPI document.
    pub struct ApiDoc {
        components(schemas(Paged<GrantQueueRow>)),
        tags((name = "grants", description = "Hardship grants: terms, applications, review, the notice, approval within the budget"))
    }

    pub fn routes {
        create_grant_program: Kind::Creating(JSON_LIMIT),
        grant_terms,
        grant_notice,
        apply_for_grant: Kind::Creating(JSON_LIMIT),
        my_grant_applications,
        my_grant_application,
        org_grant_applications,
        staff_grant_application,
        review_grant: Kind::Creating(JSON_LIMIT),
        verify_grant: Kind::Creating(JSON_LIMIT),
        notice_grant: Kind::Creating(JSON_LIMIT),
        object_to_grant: Kind::Creating(JSON_LIMIT),
        approve_grant: Kind::Creating(JSON_LIMIT),
        reject_grant: Kind::Creating(JSON_LIMIT),
    }
}

const RETRY: &str = "Retries with the same key get the first response";

/// Create a grant program (a draft) of the org with its terms: the amount per household, the
/// budget and its shares, the notice days, the documents asked for and the rules. Publish it
/// like any program.
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/grant-programs", tag = "grants", request_body = CreateGrantProgram,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = GrantProgramView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_grant_program(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<CreateGrantProgram>,
) -> Result<HttpResponse> {
    let (org_id, body) = (id.into_inner(), body.into_inner());
    let created = db
        .write(move |conn| terms::create(conn, (&caller.user, &caller.actor), org_id, body))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// A grant program's terms, with what is left of the budget and of each share.
#[utoipa::path(get, path = "/v1/programs/{id}/grant-terms", tag = "grants", security(("bearer" = [])),
    responses((status = 200, body = GrantTermsView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn grant_terms(
    db: web::Data<Db>,
    _user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let terms = db.run(move |conn| terms::view(conn, id)).await?;
    Ok(HttpResponse::Ok().json(terms))
}

/// The public notice (公示) of a grant program: the applications on it now, names masked.
#[utoipa::path(get, path = "/v1/programs/{id}/grant-notice", tag = "grants",
    responses((status = 200, body = GrantNotice), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn grant_notice(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let notice = db.run(move |conn| views::notice(conn, id)).await?;
    Ok(HttpResponse::Ok().json(notice))
}

/// Apply for a grant, as a member or a worker whose application to join is pending: the
/// household, the cause, the declared income and orders, the declaration, the bank card, with
/// consent.
#[utoipa::path(post, path = "/v1/programs/{id}/grant-applications", tag = "grants", request_body = ApplyForGrant,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = GrantApplicationView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn apply_for_grant(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<ApplyForGrant>,
) -> Result<HttpResponse> {
    let (program_id, body) = (id.into_inner(), body.into_inner());
    let view = db
        .write(move |conn| {
            let with = (&**protector, identity.config.consent_policy.as_str());
            apply::apply(conn, with, (&caller.user, &caller.actor), program_id, body)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Serialize, ToSchema)]
pub struct GrantApplicationList {
    pub items: Vec<GrantApplicationView>,
}

/// The caller's grant applications, newest first.
#[utoipa::path(get, path = "/v1/me/grant-applications", tag = "grants", security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationList), (status = 401, body = Problem)))]
async fn my_grant_applications(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    user: AuthUser,
) -> Result<HttpResponse> {
    let items = db
        .run(move |conn| views::mine(conn, &protector, user.account_id))
        .await?;
    Ok(HttpResponse::Ok().json(GrantApplicationList { items }))
}

/// One of the caller's grant applications, with every step.
#[utoipa::path(get, path = "/v1/me/grant-applications/{id}", tag = "grants", security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn my_grant_application(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .run(move |conn| views::for_applicant(conn, &protector, user.account_id, id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The grant applications of the org's subtree, newest first.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/grant-applications", tag = "grants", params(GrantQueueFilter, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<GrantQueueRow>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn org_grant_applications(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    filter: Query<GrantQueueFilter>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let (org_id, filter, page) = (id.into_inner(), filter.into_inner(), page.page());
    let list = db
        .run(move |conn| review::queue(conn, &user, org_id, &filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One application's file, with every note; recorded in the audit log.
#[utoipa::path(get, path = "/v1/admin/grant-applications/{id}", tag = "grants", security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn staff_grant_application(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .write(move |conn| review::staff_view(conn, &protector, (&caller.user, &caller.actor), id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Runs a staff step on an application in one write and answers its file.
async fn step<F>(
    db: &Db,
    protector: web::Data<DataProtector>,
    caller: Caller,
    f: F,
) -> Result<HttpResponse>
where
    F: FnOnce(&mut DbConn, &DataProtector, (&AuthUser, &Actor)) -> Result<GrantApplicationView>
        + Send
        + 'static,
{
    let view = db
        .write(move |conn| f(conn, &protector, (&caller.user, &caller.actor)))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The first review (初审) passes.
#[utoipa::path(post, path = "/v1/admin/grant-applications/{id}/review", tag = "grants", request_body = StepNote,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn review_grant(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<StepNote>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, protector, caller, move |conn, p, who| {
        review::review(conn, p, who, id, body)
    })
    .await
}

/// How staff checked the application (by phone, a home visit, the documents) and what they
/// found.
#[utoipa::path(post, path = "/v1/admin/grant-applications/{id}/verify", tag = "grants", request_body = Verify,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn verify_grant(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<Verify>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, protector, caller, move |conn, p, who| {
        review::verify(conn, p, who, id, body)
    })
    .await
}

/// Put a verified application on the public notice for the terms' days.
#[utoipa::path(post, path = "/v1/admin/grant-applications/{id}/notice", tag = "grants",
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn notice_grant(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    step(&db, protector, caller, move |conn, p, who| {
        review::put_on_notice(conn, p, who, id)
    })
    .await
}

/// Record an objection raised while the application is on the notice.
#[utoipa::path(post, path = "/v1/admin/grant-applications/{id}/objections", tag = "grants", request_body = StepNote,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn object_to_grant(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<StepNote>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, protector, caller, move |conn, p, who| {
        review::object(conn, p, who, id, body)
    })
    .await
}

/// Approve an application whose notice is over, within the budget and the district's share
/// (`409 budget_exhausted` otherwise).
#[utoipa::path(post, path = "/v1/admin/grant-applications/{id}/approve", tag = "grants",
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn approve_grant(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    step(&db, protector, caller, move |conn, p, who| {
        review::approve(conn, p, who, id)
    })
    .await
}

/// Reject a pending application with the reason the applicant is told.
#[utoipa::path(post, path = "/v1/admin/grant-applications/{id}/reject", tag = "grants", request_body = RejectGrant,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn reject_grant(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<RejectGrant>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, protector, caller, move |conn, p, who| {
        review::reject(conn, p, who, id, body)
    })
    .await
}
