//! The staff's routes (`/v1/admin/`): HTTP in and out only. Each use case checks the caller's
//! scope itself: outside the caller's subtree a case is `404 not_found`.

use actix_web::{web, HttpResponse};
use identity::auth::Caller;
use identity::AuthUser;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::pagination::{PageQuery, Paged};
use platform::{Db, Result};

use super::handling::step;
use super::RETRY;
use crate::cases::CaseDetail;
use crate::decisions::{self, Accept, Decline};
use crate::evidence;
use crate::groups::{self, CaseGroup};
use crate::messages::{self, StaffMessage};
use crate::queue::{self, QueueFilter, QueueRow};
use crate::timeline::CaseEvent;
use crate::Rights;

/// The cases of the org's subtree, newest first: the queue.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/cases", tag = "rights", params(QueueFilter, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<QueueRow>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn org_cases(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    user: AuthUser,
    id: web::Path<i64>,
    filter: Query<QueueFilter>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let (org_id, filter, page) = (id.into_inner(), filter.into_inner(), page.page());
    let list = db
        .run(move |conn| queue::list(conn, &rights.config, &user, org_id, &filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One case file, with every timeline entry (staff notes included); recorded in the audit log.
#[utoipa::path(get, path = "/v1/admin/cases/{id}", tag = "rights", security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn staff_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let case = db
        .run(move |conn| {
            let who = (&caller.user, &caller.actor);
            queue::staff_detail(conn, &rights.config, rights.files.protector(), who, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(case))
}

/// The case's group: the open cases against the same respondent across the union, and those
/// of the caller's subtree that a mediator assignment or a meeting `with_group` acts on.
#[utoipa::path(get, path = "/v1/admin/cases/{id}/group", tag = "rights", security(("bearer" = [])),
    responses((status = 200, body = CaseGroup), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn case_group(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let group = db
        .run(move |conn| groups::of_case(conn, &rights.config, &user, id))
        .await?;
    Ok(HttpResponse::Ok().json(group))
}

/// Accept (受理) a filed case into a handling class; the claimants are told.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/accept", tag = "rights", request_body = Accept,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn accept_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<Accept>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, rights, caller, move |conn, config, protector, who| {
        decisions::accept(conn, config, protector, who, id, body)
    })
    .await
}

/// Decline a filed case with a reason and where to turn instead; it closes, the claimants are
/// told.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/decline", tag = "rights", request_body = Decline,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn decline_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<Decline>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    step(&db, rights, caller, move |conn, config, protector, who| {
        decisions::decline(conn, config, protector, who, id, body)
    })
    .await
}

/// Write to the claimants of an open case (they are told), or a note for staff only.
#[utoipa::path(post, path = "/v1/admin/cases/{id}/messages", tag = "rights", request_body = StaffMessage,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = CaseEvent), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn write_on_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<StaffMessage>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let event = db
        .write(move |conn| {
            let who = (&caller.user, &caller.actor);
            messages::write(conn, rights.files.protector(), who, id, body)
        })
        .await?;
    Ok(HttpResponse::Created().json(event))
}

/// One evidence file of a case of the caller's subtree; recorded in the audit log.
#[utoipa::path(get, path = "/v1/admin/cases/{id}/evidence/{evidence_id}", tag = "rights",
    params(("id" = i64, Path), ("evidence_id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "The file, as its type", content(("application/pdf"), ("image/jpeg"), ("image/png"), ("image/webp"))), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn staff_evidence(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse> {
    let (case_id, evidence_id) = path.into_inner();
    let who = (caller.user, caller.actor);
    let file = evidence::for_staff(&db, &rights.files, who, case_id, evidence_id).await?;
    Ok(file.response("evidence", evidence_id))
}
