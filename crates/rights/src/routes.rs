//! HTTP in and out for rights protection; the rules live in the modules named for them. The
//! staff's routes (`/v1/admin/`) are in [`staff`].

mod handling;
mod staff;

use actix_web::{web, HttpResponse};
use identity::auth::Caller;
use identity::AuthUser;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::http::JSON_LIMIT;
use platform::pagination::{PageQuery, Paged};
use platform::{Db, Result};

use crate::cases::{self, CaseDetail, FileCase, MyCase};
use crate::claimants::{self, JoinCase};
use crate::evidence::{self, EvidenceView};
use crate::messages::{self, PostMessage};
use crate::queue::QueueRow;
use crate::timeline::CaseEvent;
use crate::Rights;
use handling::*;
use platform::files::AddFile;
use staff::*;

/// Evidence comes base64 in JSON: 5 MiB of file is about 6.7 MiB of text.
const EVIDENCE_BODY_LIMIT: usize = 8 * 1024 * 1024;

platform::api! {
    /// The rights part of the OpenAPI document.
    pub struct ApiDoc {
        components(schemas(Paged<MyCase>, Paged<QueueRow>)),
        tags((name = "rights", description = "Dispute cases: filing, evidence, co-claimants, staff decisions"))
    }

    pub fn routes {
        // The list shares the filing's resource, and so its idempotency layer.
        file_case: Kind::Creating(JSON_LIMIT),
        my_cases: Kind::Creating(JSON_LIMIT),
        // Before `/v1/me/cases/{id}`, which would answer its POST with 405.
        join_case: Kind::Creating(JSON_LIMIT),
        my_case,
        reply_to_case: Kind::Creating(JSON_LIMIT),
        add_evidence: Kind::Creating(EVIDENCE_BODY_LIMIT),
        my_evidence,
        org_cases,
        staff_case,
        case_group,
        accept_case: Kind::Creating(JSON_LIMIT),
        decline_case: Kind::Creating(JSON_LIMIT),
        write_on_case: Kind::Creating(JSON_LIMIT),
        staff_evidence,
        list_mediators: Kind::Creating(JSON_LIMIT),
        add_mediator: Kind::Creating(JSON_LIMIT),
        remove_mediator,
        assign_mediator: Kind::Creating(JSON_LIMIT),
        sign_agreement: Kind::Creating(JSON_LIMIT),
        pay_instalment: Kind::Creating(JSON_LIMIT),
        refer_case: Kind::Creating(JSON_LIMIT),
        close_case: Kind::Creating(JSON_LIMIT),
        follow_up_case: Kind::Creating(JSON_LIMIT),
        schedule_meeting: Kind::Creating(JSON_LIMIT),
        // Before `/v1/admin/orgs/{id}/case-stats`, which a `.csv` would not match anyway.
        case_stats_csv,
        case_stats,
    }
}

const RETRY: &str = "Retries with the same key get the first response";

/// File a dispute case, as a member or a worker whose application to join is pending. It goes to
/// the org that serves the caller unless `org_id` names another.
#[utoipa::path(post, path = "/v1/me/cases", tag = "rights", request_body = FileCase,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = CaseDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn file_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    body: Json<FileCase>,
) -> Result<HttpResponse> {
    let new = body.into_inner().validate()?;
    let case = db
        .write(move |conn| {
            let protector = rights.files.protector();
            let who = (caller.user.account_id, &caller.actor);
            cases::file(conn, &rights.config, protector, who, new)
        })
        .await?;
    Ok(HttpResponse::Created().json(case))
}

/// The caller's cases (filed or joined), newest first.
#[utoipa::path(get, path = "/v1/me/cases", tag = "rights", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Paged<MyCase>), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn my_cases(
    db: web::Data<Db>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.page();
    let list = db
        .run(move |conn| cases::mine(conn, user.account_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Join a colleague's open case with its invite code, as a co-claimant.
#[utoipa::path(post, path = "/v1/me/cases/join", tag = "rights", request_body = JoinCase,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = CaseDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn join_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    body: Json<JoinCase>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let case = db
        .write(move |conn| {
            let protector = rights.files.protector();
            let who = (caller.user.account_id, &caller.actor);
            claimants::join(conn, &rights.config, protector, who, body)
        })
        .await?;
    Ok(HttpResponse::Created().json(case))
}

/// One of the caller's cases: its state, deadlines, claimants, evidence and public timeline.
#[utoipa::path(get, path = "/v1/me/cases/{id}", tag = "rights", security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 404, body = Problem)))]
async fn my_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let case = db
        .run(move |conn| {
            let protector = rights.files.protector();
            cases::for_claimant(conn, &rights.config, protector, user.account_id, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(case))
}

/// Write on one of the caller's open cases (an answer to staff, news).
#[utoipa::path(post, path = "/v1/me/cases/{id}/messages", tag = "rights", request_body = PostMessage,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = CaseEvent), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn reply_to_case(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<PostMessage>,
) -> Result<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let event = db
        .write(move |conn| {
            let protector = rights.files.protector();
            messages::reply(conn, protector, user.account_id, id, body)
        })
        .await?;
    Ok(HttpResponse::Created().json(event))
}

/// Add an evidence file to one of the caller's open cases: a whole PDF, JPEG, PNG or WebP of at
/// most 5 MiB, base64; at most 20 files a case.
#[utoipa::path(post, path = "/v1/me/cases/{id}/evidence", tag = "rights", request_body = AddFile,
    params(("Idempotency-Key" = Option<String>, Header, description = RETRY)),
    security(("bearer" = [])),
    responses((status = 201, body = EvidenceView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
async fn add_evidence(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<AddFile>,
) -> Result<HttpResponse> {
    let upload = body.into_inner().validate()?;
    let who = (caller.user.account_id, caller.actor);
    let view = evidence::add(&db, &rights.files, who, id.into_inner(), upload).await?;
    Ok(HttpResponse::Created().json(view))
}

/// One evidence file of one of the caller's cases.
#[utoipa::path(get, path = "/v1/me/cases/{id}/evidence/{evidence_id}", tag = "rights",
    params(("id" = i64, Path), ("evidence_id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "The file, as its type", content(("application/pdf"), ("image/jpeg"), ("image/png"), ("image/webp"))), (status = 404, body = Problem)))]
async fn my_evidence(
    db: web::Data<Db>,
    rights: web::Data<Rights>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse> {
    let (case_id, evidence_id) = path.into_inner();
    let file =
        evidence::for_claimant(&db, &rights.files, user.account_id, case_id, evidence_id).await?;
    Ok(file.response("evidence", evidence_id))
}
