//! HTTP in and out for hardship grants; the rules live in the modules named for them.

mod evidence;

use actix_web::{web, HttpResponse};
use identity::auth::Caller;
use identity::{AuthUser, Identity};
use membership::roster_csv::CsvLang;
use platform::audit::Actor;
use platform::crypto::DataProtector;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::http::JSON_LIMIT;
use platform::pagination::{PageQuery, Paged};
use platform::{Db, DbConn, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::apply::{self, ApplyForGrant, Payout};
use super::batches::{self, BatchFilter, GrantBatchRow, GrantBatchView};
use super::order_counts;
use super::payments::{self, CreateBatch, PaymentResults};
use super::review::{self, GrantQueueFilter, GrantQueueRow, RejectGrant, StepNote, Verify};
use super::stats::{self, GrantStats, GrantStatsQuery};
use super::terms::{self, CreateGrantProgram, GrantProgramView, GrantTermsView};
use super::views::{self, GrantApplicationView, GrantNotice};
use evidence::*;

platform::api! {
    /// The grants part of the OpenAPI document.
    pub struct ApiDoc {
        components(schemas(Paged<GrantQueueRow>, Paged<GrantBatchRow>)),
        tags((name = "grants", description = "Hardship grants: terms, applications, review, the notice, approval within the budget, payment in batches, figures"))
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
        correct_grant_payout: Kind::Creating(JSON_LIMIT),
        create_grant_batch: Kind::Creating(JSON_LIMIT),
        org_grant_batches,
        grant_batch,
        grant_batch_finance_file,
        grant_batch_results: Kind::Creating(payments::RESULTS_LIMIT),
        grant_stats,
        import_order_counts: Kind::Creating(order_counts::MAX_BYTES),
        add_grant_document: Kind::Creating(DOCUMENT_BODY_LIMIT),
        my_grant_document,
        staff_grant_document,
    }
}

const RETRY: &str = "Retries with the same key get the first response";

/// A 5 MiB file in base64 with its JSON around it.
const DOCUMENT_BODY_LIMIT: usize = 8 * 1024 * 1024;

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

/// Correct the bank card of one of the caller's grants whose payment failed: it is approved
/// again and goes into the next batch.
#[utoipa::path(put, path = "/v1/me/grant-applications/{id}/payout", tag = "grants", request_body = Payout,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = GrantApplicationView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn correct_grant_payout(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<Payout>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let view = db
        .write(move |conn| {
            payments::correct_payout(conn, &protector, (&caller.user, &caller.actor), id, body)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Put every approved application of the org's subtree (up to 2,000) into a new payment batch
/// (`409 nothing_to_pay` when there are none).
#[utoipa::path(post, path = "/v1/admin/programs/{id}/grant-batches", tag = "grants", request_body = CreateBatch,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = GrantBatchView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_grant_batch(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<CreateBatch>,
) -> Result<HttpResponse> {
    let (program_id, body) = (id.into_inner(), body.into_inner());
    let view = db
        .write(move |conn| {
            let who = (&caller.user, &caller.actor);
            payments::create(conn, &protector, who, program_id, body)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The payment batches made by the org and the orgs below it, newest first.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/grant-batches", tag = "grants", params(BatchFilter, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<GrantBatchRow>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn org_grant_batches(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    filter: Query<BatchFilter>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let (org_id, filter, page) = (id.into_inner(), filter.into_inner(), page.page());
    let list = db
        .run(move |conn| batches::list(conn, &user, org_id, &filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A payment batch with every payment, cards masked.
#[utoipa::path(get, path = "/v1/admin/grant-batches/{id}", tag = "grants", security(("bearer" = [])),
    responses((status = 200, body = GrantBatchView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn grant_batch(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db.run(move |conn| batches::view(conn, &user, id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The query of the finance file.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FinanceFileQuery {
    /// Headers: `zh` (default) or `en`.
    #[param(inline)]
    pub lang: Option<CsvLang>,
}

/// The finance office's file of a batch: the payments still to make, with the full card
/// numbers (the only place they appear), as CSV; each download is in the audit log.
#[utoipa::path(get, path = "/v1/admin/grant-batches/{id}/finance.csv", tag = "grants", params(FinanceFileQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The batch as CSV (UTF-8 with BOM)", content_type = "text/csv", body = String),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn grant_batch_finance_file(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<FinanceFileQuery>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let lang = query.lang.unwrap_or_default().into();
    let file = db
        .write(move |conn| {
            batches::export(conn, &protector, (&caller.user, &caller.actor), id, lang)
        })
        .await?;
    Ok(batches::finance_download(id, file))
}

/// Record what the finance office reported for a batch: the applications paid, and those
/// that failed with the bank's reason; all or nothing.
#[utoipa::path(post, path = "/v1/admin/grant-batches/{id}/results", tag = "grants", request_body = PaymentResults,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = GrantBatchView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn grant_batch_results(
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<PaymentResults>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let view = db
        .write(move |conn| {
            payments::settle(conn, &protector, (&caller.user, &caller.actor), id, body)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A grant program's figures over the org's subtree: applications, approvals, amounts paid
/// per org, days from application to payment.
#[utoipa::path(get, path = "/v1/admin/programs/{id}/grant-stats", tag = "grants", params(GrantStatsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = GrantStats), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn grant_stats(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<GrantStatsQuery>,
) -> Result<HttpResponse> {
    let (program_id, org_id) = (id.into_inner(), query.org_id);
    let figures = db
        .run(move |conn| stats::figures(conn, &user, program_id, org_id))
        .await?;
    Ok(HttpResponse::Ok().json(figures))
}
