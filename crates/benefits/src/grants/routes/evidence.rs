//! HTTP in and out for what an applicant hands in besides the form: documents, and the
//! platforms' order counts staff import.

use actix_web::{web, HttpRequest, HttpResponse};
use identity::auth::Caller;
use identity::AuthUser;
use platform::crypto::DataProtector;
use platform::csv_import::{self, ImportProblem};
use platform::error::{Lang, Problem};
use platform::extract::{Json, Query};
use platform::files::AddFile;
use platform::{Db, Result};

use super::RETRY;
use crate::grants::documents::{self, GrantDocumentView, GrantFiles};
use crate::grants::order_counts::{self, OrderCountsImported, OrderCountsQuery};

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
pub(super) async fn import_order_counts(
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
pub(super) async fn add_grant_document(
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
pub(super) async fn my_grant_document(
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
pub(super) async fn staff_grant_document(
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
