//! The member's inbox and SMS settings (`/v1/me/notifications`).

use actix_web::{web, HttpResponse};
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::pagination::PageQuery;
use platform::{Db, Result};

use crate::notices::{self, Inbox, NoticeSettings, NotificationView, SettingsChange, Unread};
use crate::AuthUser;

/// The caller's notifications, newest first, with the unread count.
#[utoipa::path(get, path = "/v1/me/notifications", tag = "identity", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Inbox), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn my_notifications(
    db: web::Data<Db>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.page();
    let inbox = db
        .run(move |conn| notices::inbox(conn, user.account_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(inbox))
}

/// How many of the caller's notifications are unread: the app's badge, polled cheaply.
#[utoipa::path(get, path = "/v1/me/notifications/unread", tag = "identity",
    security(("bearer" = [])),
    responses((status = 200, body = Unread), (status = 401, body = Problem)))]
pub(super) async fn unread_notifications(
    db: web::Data<Db>,
    user: AuthUser,
) -> Result<HttpResponse> {
    let unread = db
        .run(move |conn| notices::unread(conn, user.account_id))
        .await?;
    Ok(HttpResponse::Ok().json(unread))
}

/// Marks one notification read; reading it again changes nothing.
#[utoipa::path(post, path = "/v1/me/notifications/{id}/read", tag = "identity",
    security(("bearer" = [])),
    responses((status = 200, body = NotificationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn read_notification(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .write(move |conn| notices::mark_read(conn, user.account_id, id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Marks every notification of the caller read.
#[utoipa::path(post, path = "/v1/me/notifications/read-all", tag = "identity",
    security(("bearer" = [])),
    responses((status = 200, body = Unread), (status = 401, body = Problem)))]
pub(super) async fn read_all_notifications(
    db: web::Data<Db>,
    user: AuthUser,
) -> Result<HttpResponse> {
    let unread = db
        .write(move |conn| notices::mark_all_read(conn, user.account_id))
        .await?;
    Ok(HttpResponse::Ok().json(unread))
}

/// Which topics come by SMS besides the inbox; some always do.
#[utoipa::path(get, path = "/v1/me/notification-settings", tag = "identity",
    security(("bearer" = [])),
    responses((status = 200, body = NoticeSettings), (status = 401, body = Problem)))]
pub(super) async fn notice_settings(db: web::Data<Db>, user: AuthUser) -> Result<HttpResponse> {
    let settings = db
        .run(move |conn| notices::settings(conn, user.account_id))
        .await?;
    Ok(HttpResponse::Ok().json(settings))
}

/// Replaces the topics the caller does not want by SMS. A topic that always comes by SMS is
/// `422` naming `sms_off`.
#[utoipa::path(put, path = "/v1/me/notification-settings", tag = "identity",
    request_body = SettingsChange, security(("bearer" = [])),
    responses((status = 200, body = NoticeSettings), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn change_notice_settings(
    db: web::Data<Db>,
    user: AuthUser,
    body: Json<SettingsChange>,
) -> Result<HttpResponse> {
    let change = body.into_inner();
    let settings = db
        .write(move |conn| notices::change_settings(conn, user.account_id, &change))
        .await?;
    Ok(HttpResponse::Ok().json(settings))
}
