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

use membership::roster_csv::CsvLang;
use serde::Deserialize;
use utoipa::IntoParams;

use actix_web::HttpRequest;
use platform::csv_import::{self, ImportProblem};
use platform::error::Lang;

use platform::files::AddFile;

use super::apply::{self, ApplyForGrant, Payout};
use super::documents::{self, GrantDocumentView, GrantFiles};
use super::order_counts::{self, OrderCountsImported, OrderCountsQuery};
use super::payments::{
    self, BatchFilter, CreateBatch, GrantBatchRow, GrantBatchView, PaymentResults,
};
use super::review::{self, GrantQueueFilter, GrantQueueRow, RejectGrant, StepNote, Verify};
use super::stats::{self, GrantStats, GrantStatsQuery};
use super::terms::{self, CreateGrantProgram, GrantProgramView, GrantTermsView};
use super::views::{self, GrantApplicationView, GrantNotice};

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
        grant_batch_results: Kind::Creating(JSON_LIMIT),
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
        .run(move |conn| payments::list(conn, &user, org_id, &filter, page))
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
    let view = db.run(move |conn| payments::view(conn, &user, id)).await?;
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
            payments::export(conn, &protector, (&caller.user, &caller.actor), id, lang)
        })
        .await?;
    Ok(payments::finance_download(id, file))
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

/// Import the monthly order counts a platform or federation provided (`text/csv`, UTF-8 or
/// GBK/GB18030; columns 身份证号/`id_number`, 月份/`month` as `2026-10`, 单量/`orders`; up to
/// 50,000 rows, 4 MiB), so the program's orders rule is checked from them instead of the
/// worker's declaration. Only keyed hashes of the ID numbers are stored. All rows or, when any
/// is invalid, none: the 422 lists each faulty row and column with why.
#[utoipa::path(post, path = "/v1/admin/programs/{id}/order-counts", tag = "grants", params(OrderCountsQuery,
        ("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    request_body(content = String, content_type = "text/csv"),
    security(("bearer" = [])),
    responses((status = 201, body = OrderCountsImported),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = ImportProblem, content_type = "application/problem+json",
            description = "Invalid rows (`csv_invalid`, nothing written), or an unreadable file, a bad `source` or `encoding` (`invalid_field`)")))]
async fn import_order_counts(
    req: HttpRequest,
    db: web::Data<Db>,
    protector: web::Data<DataProtector>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<OrderCountsQuery>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (program_id, query) = (id.into_inner(), query.into_inner());
    let declared = query.charset()?;
    if !csv_import::is_csv(&req) {
        return Err(platform::Error::new(
            platform::ErrorCode::UnsupportedMediaType,
        ));
    }
    // Scope first, so that a stranger learns nothing from how the file is judged.
    let user = caller.user.clone();
    db.run(move |conn| order_counts::require_importer(conn, &user, program_id))
        .await?;
    let body = csv_import::read_body(payload, order_counts::MAX_BYTES).await?;
    let lang = Lang::from_accept_language(
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let today = platform::clock::today();
    let hashing = protector.clone();
    let parsed = web::block(move || {
        order_counts::parse(&body, declared, today, order_counts::hasher(&hashing))
    })
    .await
    .map_err(platform::Error::internal)?;
    let rows = match parsed {
        Ok(rows) => rows,
        Err(refusal) => return csv_import::refused(refusal, lang, declared),
    };
    let imported = db
        .write(move |conn| {
            let who = (&caller.user, &caller.actor);
            order_counts::store(conn, who, program_id, &query.source, rows)
        })
        .await?;
    Ok(HttpResponse::Created().json(imported))
}

/// Add a document to one of the caller's undecided grant applications (what the terms ask
/// for: screenshots of the orders, a diagnosis): a whole PDF, JPEG, PNG or WebP of at most
/// 5 MiB, base64; at most 10 an application.
#[utoipa::path(post, path = "/v1/me/grant-applications/{id}/documents", tag = "grants", request_body = AddFile,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = GrantDocumentView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
async fn add_grant_document(
    db: web::Data<Db>,
    files: web::Data<GrantFiles>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<AddFile>,
) -> Result<HttpResponse> {
    let upload = body.into_inner().validate()?;
    let who = (caller.user.account_id, caller.actor);
    let view = documents::add(&db, &files, who, id.into_inner(), upload).await?;
    Ok(HttpResponse::Created().json(view))
}

/// One document of one of the caller's grant applications.
#[utoipa::path(get, path = "/v1/me/grant-applications/{id}/documents/{document_id}", tag = "grants",
    params(("id" = i64, Path), ("document_id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "The file, as its type", content(("application/pdf"), ("image/jpeg"), ("image/png"), ("image/webp"))), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn my_grant_document(
    db: web::Data<Db>,
    files: web::Data<GrantFiles>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse> {
    let (id, document_id) = path.into_inner();
    let file = documents::for_applicant(&db, &files, user.account_id, (id, document_id)).await?;
    Ok(file.response("grant-document", document_id))
}

/// One document of an application of the caller's subtree; recorded in the audit log.
#[utoipa::path(get, path = "/v1/admin/grant-applications/{id}/documents/{document_id}", tag = "grants",
    params(("id" = i64, Path), ("document_id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "The file, as its type", content(("application/pdf"), ("image/jpeg"), ("image/png"), ("image/webp"))), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn staff_grant_document(
    db: web::Data<Db>,
    files: web::Data<GrantFiles>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse> {
    let (id, document_id) = path.into_inner();
    let who = (caller.user, caller.actor);
    let file = documents::for_staff(&db, &files, who, (id, document_id)).await?;
    Ok(file.response("grant-document", document_id))
}
