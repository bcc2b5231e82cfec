//! HTTP in and out for membership; the rules live in the modules named for them.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use identity::auth::Caller;
use identity::notices::NotificationView;
use identity::{AuthUser, Identity};
use platform::audit::AuditEntry;
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::http::JSON_LIMIT;
use platform::pagination::{PageQuery, Paged};
use platform::qr;
use platform::text::Text;
use platform::{Db, Result};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::applications::{self, JoinRequest, MembershipView, MyMembership, Outcome};
use crate::audit::{self, AuditQuery};
use crate::card::{self, Card, Verification};
use crate::join_codes::{self, CreateJoinCode, JoinCode, JoinCodeView, JoinPreview};
use crate::members::{self, MemberDetail, MemberRow, MembersQuery, Roster};
use crate::notices;
use crate::orgs::{self, CreateOrg, OrgNode, OrgView};
use crate::reports::{self, MembershipFigures, PeriodQuery};
use crate::staff::{self, GrantStaff, StaffGrant, StaffList};
use crate::transfers::{self, TransferRequest};
use crate::{roster_csv, MembershipConfig};

platform::api! {
    /// The membership part of the OpenAPI document.
    pub struct ApiDoc {
        components(schemas(Paged<MemberRow>, Paged<JoinCodeView>, Paged<AuditEntry>, Paged<OrgNode>,
            Paged<NotificationView>)),
        tags((name = "membership", description = "Union orgs, join codes, members and the e-card"))
    }

    pub fn routes {
        list_orgs,
        create_org,
        get_org,
        list_staff,
        grant_staff,
        revoke_staff,
        create_join_code,
        list_join_codes,
        join_code_svg,
        join_code_png,
        revoke_join_code,
        preview_join,
        join: Kind::Creating(JSON_LIMIT),
        my_membership,
        leave,
        transfer,
        my_card,
        list_applications,
        approve,
        reject,
        list_members,
        member_detail,
        member_notifications,
        verify_card,
        audit_log,
        members_report,
    }
}

// ---- orgs and staff ----

/// Create a union org under `parent_id`.
#[utoipa::path(post, path = "/v1/admin/orgs", tag = "membership", request_body = CreateOrg,
    security(("bearer" = [])),
    responses((status = 201, body = OrgView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_org(
    db: web::Data<Db>,
    caller: Caller,
    body: Json<CreateOrg>,
) -> Result<HttpResponse> {
    let new = body.into_inner().validate()?;
    let view = db
        .write(move |conn| orgs::found(conn, &caller.user, &caller.actor, new))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Public summary of an org.
#[utoipa::path(get, path = "/v1/orgs/{id}", tag = "membership",
    responses((status = 200, body = OrgView), (status = 404, body = Problem)))]
async fn get_org(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db.run(move |conn| orgs::view(conn, id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Make an account staff of this org (and so of its whole subtree).
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/staff", tag = "membership", request_body = GrantStaff,
    security(("bearer" = [])),
    responses((status = 201, body = StaffGrant), (status = 200, description = "Already staff", body = StaffGrant),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn grant_staff(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<GrantStaff>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let phone = body.validate()?;
    let identity = identity.into_inner();
    let (grant, created) = db
        .write(move |conn| {
            let Caller { user, actor } = &caller;
            staff::appoint(conn, &identity, user, actor, org_id, &phone)
        })
        .await?;
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(grant))
}

/// The orgs the caller may act on, in tree order (each before its children, siblings by name),
/// with their depth below the caller's top orgs and member counts: staff get the subtrees of
/// their grants, admins every org.
#[utoipa::path(get, path = "/v1/admin/orgs", tag = "membership", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Paged<OrgNode>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_orgs(
    db: web::Data<Db>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.page();
    let list = db.run(move |conn| orgs::tree(conn, &user, page)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The staff granted on this org, oldest grant first (staff of the orgs above act on it too).
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/staff", tag = "membership", security(("bearer" = [])),
    responses((status = 200, body = StaffList), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn list_staff(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let (org_id, identity) = (id.into_inner(), identity.into_inner());
    let list = db
        .run(move |conn| staff::list(conn, &identity, &user, org_id))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Withdraw an account's staff grant on this org: its access through it ends at once.
#[utoipa::path(delete, path = "/v1/admin/orgs/{id}/staff/{account_id}", tag = "membership", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The org"), ("account_id" = i64, Path, description = "The member of staff")),
    responses((status = 204, description = "Revoked"), (status = 403, body = Problem),
        (status = 404, description = "No such grant on this org, or the org is outside the caller's subtree", body = Problem)))]
async fn revoke_staff(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse> {
    let ((org_id, account_id), identity) = (path.into_inner(), identity.into_inner());
    db.write(move |conn| {
        let Caller { user, actor } = &caller;
        staff::revoke(conn, &identity, user, actor, org_id, account_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- join codes ----

/// Create a join code for a poster.
#[utoipa::path(post, path = "/v1/admin/orgs/{id}/join-codes", tag = "membership", request_body = CreateJoinCode,
    security(("bearer" = [])),
    responses((status = 201, body = JoinCodeView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_join_code(
    db: web::Data<Db>,
    config: web::Data<MembershipConfig>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<CreateJoinCode>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let new = body.into_inner().validate(org_id, caller.user.account_id)?;
    let view = db
        .write(move |conn| {
            join_codes::issue(conn, &caller.user, &caller.actor, new, &config.base_url)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The org's join codes, newest first.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/join-codes", tag = "membership", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<JoinCodeView>), (status = 404, body = Problem)))]
async fn list_join_codes(
    db: web::Data<Db>,
    config: web::Data<MembershipConfig>,
    user: AuthUser,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let page = page.page();
    let list = db
        .run(move |conn| join_codes::list(conn, &user, org_id, page, &config.base_url))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

async fn poster(
    db: &Db,
    config: &MembershipConfig,
    user: AuthUser,
    code: String,
) -> Result<String> {
    let base = config.base_url.clone();
    db.run(move |conn| join_codes::poster_url(conn, &user, &code, &base))
        .await
}

/// The poster QR as SVG (encodes `{PUBLIC_BASE_URL}/j/{code}`).
#[utoipa::path(get, path = "/v1/admin/join-codes/{code}/qr.svg", tag = "membership", security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", description = "QR code"), (status = 404, body = Problem)))]
async fn join_code_svg(
    db: web::Data<Db>,
    config: web::Data<MembershipConfig>,
    user: AuthUser,
    code: web::Path<String>,
) -> Result<HttpResponse> {
    let url = poster(&db, &config, user, code.into_inner()).await?;
    qr::poster(&url, qr::Format::Svg, qr::Keep::Immutable)
}

/// The poster QR as PNG, at least 1024 px.
#[utoipa::path(get, path = "/v1/admin/join-codes/{code}/qr.png", tag = "membership", security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", description = "QR code"), (status = 404, body = Problem)))]
async fn join_code_png(
    db: web::Data<Db>,
    config: web::Data<MembershipConfig>,
    user: AuthUser,
    code: web::Path<String>,
) -> Result<HttpResponse> {
    let url = poster(&db, &config, user, code.into_inner()).await?;
    qr::poster(&url, qr::Format::Png, qr::Keep::Immutable)
}

/// Withdraw a code: scanning it then says so.
#[utoipa::path(post, path = "/v1/admin/join-codes/{code}/revoke", tag = "membership", security(("bearer" = [])),
    responses((status = 200, body = JoinCodeView), (status = 404, body = Problem)))]
async fn revoke_join_code(
    db: web::Data<Db>,
    config: web::Data<MembershipConfig>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse> {
    let code = code.into_inner();
    let view = db
        .write(move |conn| {
            let Caller { user, actor } = &caller;
            join_codes::revoke(conn, user, actor, &code, &config.base_url)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// What scanning a poster shows: the org the rider is about to join, or why the code cannot be
/// used (`join_code_unknown`, `join_code_expired`, `join_code_used_up`, `join_code_revoked`).
#[utoipa::path(get, path = "/v1/join/{code}", tag = "membership",
    responses((status = 200, body = JoinPreview), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn preview_join(db: web::Data<Db>, code: web::Path<String>) -> Result<HttpResponse> {
    let code = JoinCode::parse(&code)?;
    let preview = db.run(move |conn| join_codes::preview(conn, &code)).await?;
    Ok(HttpResponse::Ok().json(preview))
}

// ---- worker side ----

fn outcome_response(outcome: Outcome) -> HttpResponse {
    match outcome {
        Outcome::Created(view) => HttpResponse::Created().json(view),
        Outcome::Existing(view) => HttpResponse::Ok().json(view),
    }
}

/// Join the union of a scanned code. Pending or active depending on the code; the same request
/// again returns the same application (200).
#[utoipa::path(post, path = "/v1/memberships", tag = "membership", request_body = JoinRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first response")),
    security(("bearer" = [])),
    responses((status = 201, body = MembershipView), (status = 200, description = "The existing application", body = MembershipView),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn join(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    user: AuthUser,
    body: Json<JoinRequest>,
) -> Result<HttpResponse> {
    let (code, details) = body.into_inner().validate()?;
    let policy = identity.config.consent_policy.clone();
    let outcome = db
        .write(move |conn| applications::join(conn, user.account_id, &code, details, &policy))
        .await?;
    Ok(outcome_response(outcome))
}

/// The caller's membership, pending application and history.
#[utoipa::path(get, path = "/v1/me/membership", tag = "membership", security(("bearer" = [])),
    responses((status = 200, body = MyMembership), (status = 401, body = Problem)))]
async fn my_membership(db: web::Data<Db>, user: AuthUser) -> Result<HttpResponse> {
    let mine = db
        .run(move |conn| applications::mine(conn, user.account_id))
        .await?;
    Ok(HttpResponse::Ok().json(mine))
}

/// Move to the union of another code; the current period ends when the new one starts.
#[utoipa::path(post, path = "/v1/me/membership/transfer", tag = "membership", request_body = TransferRequest,
    security(("bearer" = [])),
    responses((status = 201, body = MembershipView), (status = 200, description = "The existing transfer", body = MembershipView),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn transfer(
    db: web::Data<Db>,
    user: AuthUser,
    body: Json<TransferRequest>,
) -> Result<HttpResponse> {
    let (code, changes) = body.into_inner().validate()?;
    let outcome = db
        .write(move |conn| transfers::transfer(conn, user.account_id, &code, changes))
        .await?;
    Ok(outcome_response(outcome))
}

#[derive(Deserialize, ToSchema)]
pub struct LeaveRequest {
    pub reason: Text<200>,
}

/// Leave the union (or withdraw a pending application), with a reason.
#[utoipa::path(delete, path = "/v1/me/membership", tag = "membership", request_body = LeaveRequest,
    security(("bearer" = [])),
    responses((status = 200, body = MyMembership), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn leave(
    db: web::Data<Db>,
    user: AuthUser,
    body: Json<LeaveRequest>,
) -> Result<HttpResponse> {
    let reason = body.into_inner().reason.into_inner();
    let mine = db
        .write(move |conn| applications::leave(conn, user.account_id, &reason))
        .await?;
    Ok(HttpResponse::Ok().json(mine))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardQuery {
    /// `svg`: include the QR as an SVG (`qr_svg`) for a client that cannot draw QR codes.
    #[param(inline)]
    pub qr: Option<CardQr>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardQr {
    Svg,
}

/// The e-member card with a QR token valid for 60 seconds. The app draws the QR from `token`
/// (under 1 KB a fetch); `?qr=svg` adds the drawn SVG.
#[utoipa::path(get, path = "/v1/me/card", tag = "membership", params(CardQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Card), (status = 404, body = Problem)))]
async fn my_card(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    config: web::Data<MembershipConfig>,
    user: AuthUser,
    query: Query<CardQuery>,
) -> Result<HttpResponse> {
    let identity = identity.into_inner();
    let with_svg = matches!(query.qr, Some(CardQr::Svg));
    let card = db
        .run(move |conn| card::issue(conn, &identity, &config, user.account_id, with_svg))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(card))
}

// ---- staff side ----

/// Pending applications in the org's subtree, newest first.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/applications", tag = "membership", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<MemberRow>), (status = 404, body = Problem)))]
async fn list_applications(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    caller: Caller,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let page = page.page();
    let identity = identity.into_inner();
    let list = db
        .run(move |conn| {
            let Caller { user, actor } = &caller;
            members::applications(conn, &identity, user, actor, org_id, page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Approve a pending application: the member is active at once (a transfer ends the old period).
#[utoipa::path(post, path = "/v1/admin/memberships/{id}/approve", tag = "membership", security(("bearer" = [])),
    responses((status = 200, body = MembershipView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn approve(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let view = db
        .write(move |conn| applications::approve(conn, &caller.user, &caller.actor, id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
pub struct RejectRequest {
    /// Shown to the applicant.
    pub reason: Text<200>,
}

/// Reject a pending application with a reason the worker sees.
#[utoipa::path(post, path = "/v1/admin/memberships/{id}/reject", tag = "membership", request_body = RejectRequest,
    security(("bearer" = [])),
    responses((status = 200, body = MembershipView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn reject(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<RejectRequest>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let reason = body.into_inner().reason.into_inner();
    let view = db
        .write(move |conn| applications::reject(conn, &caller.user, &caller.actor, id, &reason))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Members of the org's subtree: filter, search, page, or export as CSV.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/members", tag = "membership", params(MembersQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of members; with `format=csv` the whole list as CSV, Chinese unless `lang=en`",
            content((Paged<MemberRow> = "application/json"), (String = "text/csv"))),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_members(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<MembersQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let (filter, output) = query.into_inner().into_parts();
    let identity = identity.into_inner();
    let roster = db
        .run(move |conn| {
            let Caller { user, actor } = &caller;
            members::roster(conn, &identity, user, actor, org_id, &filter, output)
        })
        .await?;
    Ok(match roster {
        Roster::Page(list) => HttpResponse::Ok().json(list),
        Roster::File(export, lang) => roster_csv::response(&export, lang),
    })
}

/// A member's page: masked personal data, the membership the id names (org, status, number,
/// dates) and the history within the caller's subtree. `id` is a row's `membership_id` in the
/// member and application lists. Recorded in the audit log.
#[utoipa::path(get, path = "/v1/admin/members/{id}", tag = "membership", security(("bearer" = [])),
    params(("id" = i64, Path, description = "A `membership_id` of the staff lists")),
    responses((status = 200, body = MemberDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn member_detail(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let (id, identity) = (id.into_inner(), identity.into_inner());
    let detail = db
        .run(move |conn| {
            let Caller { user, actor } = &caller;
            members::detail(conn, &identity, user, actor, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// What the member was told during the membership `id` names (its application until its
/// end), newest first. Recorded in the audit log.
#[utoipa::path(get, path = "/v1/admin/members/{id}/notifications", tag = "membership",
    params(("id" = i64, Path, description = "A `membership_id` of the staff lists"), PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<NotificationView>), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn member_notifications(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let (id, page) = (id.into_inner(), page.page());
    let list = db
        .run(move |conn| notices::of_member(conn, &caller.user, &caller.actor, id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// The token read from the member's card QR.
    pub token: String,
}

/// Check a scanned e-card: a valid member of which org, or expired / invalid / no longer a member.
#[utoipa::path(post, path = "/v1/admin/cards/verify", tag = "membership", request_body = VerifyRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Verification), (status = 403, body = Problem)))]
async fn verify_card(
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    caller: Caller,
    body: Json<VerifyRequest>,
) -> Result<HttpResponse> {
    let identity = identity.into_inner();
    let token = body.into_inner().token;
    let result = db
        .run(move |conn| {
            let Caller { user, actor } = &caller;
            card::verify(conn, &identity, user, actor, &token)
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

/// The audit log, newest first: who approved, exported, created or changed what, when and
/// from which address. Staff see the entries of the org's subtree; admins see every entry,
/// whichever org the path names (entries that belong to no org included).
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/audit", tag = "membership", params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<AuditEntry>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn audit_log(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<AuditQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let (filter, page) = query.into_inner().validate()?;
    let list = db
        .run(move |conn| audit::list(conn, &user, org_id, &filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Members who joined, left, transferred in and out over a period (Asia/Shanghai days, last
/// calendar month by default) in the org's subtree: in all, in the org itself, per direct child
/// org with its subtree, per occupation and per platform. Counts only.
#[utoipa::path(get, path = "/v1/admin/orgs/{id}/report/members", tag = "membership", params(PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = MembershipFigures), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn members_report(
    db: web::Data<Db>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<PeriodQuery>,
) -> Result<HttpResponse> {
    let org_id = id.into_inner();
    let period = query.validate()?;
    let figures = db
        .run(move |conn| reports::figures(conn, &user, org_id, period))
        .await?;
    Ok(HttpResponse::Ok().json(figures))
}
