//! Staff broadcasts (`/v1/admin/orgs/{id}/broadcasts`): HTTP in and out only.

use actix_web::{web, HttpResponse};
use identity::auth::Caller;
use identity::AuthUser;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::pagination::{PageQuery, Paged};
use platform::{Db, Result};

use crate::broadcasts::{self, Audience, BroadcastView, NewBroadcast, Reach};

/// How many active members of the org's subtree a broadcast to `audience` would reach.
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/broadcasts/preview", tag = "benefits",
    request_body = Audience, security(("bearer" = [])),
    responses((status = 200, body = Reach), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn preview_broadcast(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<Audience>,
) -> Result<HttpResponse> {
    let (org_id, audience) = (id.into_inner(), body.into_inner());
    let reach = db
        .run(move |conn| broadcasts::preview(conn, &user, org_id, &audience))
        .await?;
    Ok(HttpResponse::Ok().json(reach))
}

/// Send a message to the inbox of every active member of the org's subtree in the audience
/// (inbox only). At most three a day per org (`429 rate_limited` with `Retry-After`).
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/broadcasts", tag = "benefits", request_body = NewBroadcast,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = BroadcastView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub(super) async fn create_broadcast(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<NewBroadcast>,
) -> Result<HttpResponse> {
    let (org_id, new) = (id.into_inner(), body.into_inner());
    let view = db
        .write(move |conn| broadcasts::send(conn, &caller.user, &caller.actor, org_id, &new))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The org's broadcasts, newest first.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/broadcasts", tag = "benefits", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<BroadcastView>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn list_broadcasts(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let (org_id, page) = (id.into_inner(), page.page());
    let list = db
        .run(move |conn| broadcasts::list(conn, &user, org_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
