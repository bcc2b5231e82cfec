//! HTTP in and out for membership; the rules live in the modules named for them.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use identity::phone::Phone;
use identity::{AuthUser, Identity};
use platform::audit::{ActionPrefix, AuditEntry};
use platform::error::Problem;
use platform::extract::{Json, Query};
use platform::html;
use platform::http::{resource, JSON_LIMIT};
use platform::idempotency::creating;
use platform::pagination::{Cursor, Limit, PageQuery, Paged};
use platform::text::Text;
use platform::{Db, Error, ErrorCode, Result};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::applications::{self, DetailChanges, Details, MembershipView, MyMembership, Outcome};
use crate::card::{self, Card, Verification};
use crate::join_codes::{self, JoinCode, JoinCodeView, JoinPreview, NewJoinCode};
use crate::members::{self, Filter, MemberRow};
use crate::orgs::{self, Location, NewOrg, OrgView, RegionCode};
use crate::roster_csv;
use crate::staff::{self, StaffGrant};
use crate::vocab::{Occupation, OrgKind, Status};
use crate::{audit, MembershipConfig};
use identity::auth::Caller;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/admin/orgs").route(web::post().to(create_org)))
        .service(resource("/v1/orgs/{id}").route(web::get().to(get_org)))
        .service(resource("/v1/admin/orgs/{id}/staff").route(web::post().to(grant_staff)))
        .service(
            resource("/v1/admin/orgs/{id}/join-codes")
                .route(web::post().to(create_join_code))
                .route(web::get().to(list_join_codes)),
        )
        .service(resource("/v1/admin/join-codes/{code}/qr.svg").route(web::get().to(join_code_svg)))
        .service(resource("/v1/admin/join-codes/{code}/qr.png").route(web::get().to(join_code_png)))
        .service(
            resource("/v1/admin/join-codes/{code}/revoke").route(web::post().to(revoke_join_code)),
        )
        .service(resource("/v1/join/{code}").route(web::get().to(preview_join)))
        .service(resource("/j/{code}").route(web::get().to(poster_landing)))
        .service(creating("/v1/memberships", JSON_LIMIT).route(web::post().to(join)))
        .service(
            resource("/v1/me/membership")
                .route(web::get().to(my_membership))
                .route(web::delete().to(leave)),
        )
        .service(resource("/v1/me/membership/transfer").route(web::post().to(transfer)))
        .service(resource("/v1/me/card").route(web::get().to(my_card)))
        .service(
            resource("/v1/admin/orgs/{id}/applications").route(web::get().to(list_applications)),
        )
        .service(resource("/v1/admin/memberships/{id}/approve").route(web::post().to(approve)))
        .service(resource("/v1/admin/memberships/{id}/reject").route(web::post().to(reject)))
        .service(resource("/v1/admin/orgs/{id}/members").route(web::get().to(list_members)))
        .service(resource("/v1/admin/cards/verify").route(web::post().to(verify_card)))
        .service(resource("/v1/admin/orgs/{id}/audit").route(web::get().to(audit_log)));
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_org, get_org, grant_staff, create_join_code, list_join_codes, join_code_svg,
        join_code_png, revoke_join_code, preview_join, poster_landing, join, my_membership, leave, transfer,
        my_card, list_applications, approve, reject, list_members, verify_card, audit_log
    ),
    components(schemas(Paged<MemberRow>, Paged<JoinCodeView>, Paged<AuditEntry>)),
    tags((name = "membership", description = "Union orgs, join codes, members and the e-card"))
)]
pub struct ApiDoc;

platform::vocabulary! {
    /// What a list answers in: a page of JSON, or every match as a spreadsheet.
    ListFormat {
        Json = "json",
        Csv = "csv",
    }
}

// ---- orgs and staff ----

#[derive(Deserialize, ToSchema)]
pub struct CreateOrg {
    /// The parent org; omitted only for a top-level federation (admins only).
    pub parent_id: Option<i64>,
    pub kind: OrgKind,
    pub name: Text<100>,
    /// 6-digit administrative division code, e.g. 320102.
    #[schema(pattern = "^[1-8][0-9]{5}$")]
    pub region_code: String,
    pub address: Text<200>,
    pub location: Option<Location>,
}

/// Create a union org under `parent_id`.
#[utoipa::path(post, path = "/v1/admin/orgs", tag = "membership", request_body = CreateOrg,
    security(("bearer" = [])),
    responses((status = 201, body = OrgView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_org(
    db: web::Data<Db>,
    caller: Caller,
    body: Json<CreateOrg>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let new = NewOrg {
        parent_id: body.parent_id,
        kind: body.kind,
        name: body.name.into_inner(),
        region_code: RegionCode::parse(&body.region_code)?,
        address: body.address.into_inner(),
        location: body.location.map(Location::validate).transpose()?,
    };
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

#[derive(Deserialize, ToSchema)]
pub struct GrantStaff {
    /// The phone number of an existing account.
    #[schema(schema_with = Phone::schema)]
    pub phone: String,
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
    let phone = Phone::parse(&body.phone)
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidPhone, "phone"))?;
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

// ---- join codes ----

#[derive(Deserialize, ToSchema)]
pub struct CreateJoinCode {
    /// What the poster is for, e.g. "2026 summer service fair".
    pub label: Text<60>,
    /// RFC 3339, in the future; the code stops working then.
    pub expires_at: Option<DateTime<Utc>>,
    /// How many joins the code allows.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_uses: Option<i32>,
    /// Joins are active at once instead of waiting for review (default false).
    #[serde(default)]
    pub auto_approve: bool,
}

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
    let body = body.into_inner();
    let label = body.label.into_inner();
    if body
        .expires_at
        .is_some_and(|at| at <= platform::clock::now_utc())
    {
        return Err(Error::invalid(ErrorCode::InvalidField, "expires_at"));
    }
    if body.max_uses.is_some_and(|n| !(1..=1_000_000).contains(&n)) {
        return Err(Error::invalid(ErrorCode::InvalidField, "max_uses"));
    }
    let new = NewJoinCode {
        org_id,
        label,
        expires_at: body.expires_at,
        max_uses: body.max_uses,
        auto_approve: body.auto_approve,
        created_by: caller.user.account_id,
    };
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
        .run(move |conn| {
            staff::require(conn, &user, org_id)?;
            let rows = join_codes::list_for_org(conn, org_id, page)?;
            let views = rows
                .iter()
                .map(|r| r.view(conn, &config.base_url))
                .collect::<Result<Vec<_>>>()?;
            Ok(Paged::from_rows(views, page, |v| v.id))
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Print size of poster images.
const POSTER_PX: u32 = 1024;

async fn poster(
    db: &Db,
    config: &MembershipConfig,
    user: AuthUser,
    code: String,
) -> Result<String> {
    let base = config.base_url.clone();
    db.run(move |conn| {
        Ok(join_codes::managed(conn, &user, &code)?
            .code
            .poster_url(&base))
    })
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
    Ok(image(
        "image/svg+xml",
        platform::qr::svg(&url, POSTER_PX)?.into_bytes(),
    ))
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
    Ok(image("image/png", platform::qr::png(&url, POSTER_PX)?))
}

fn image(content_type: &str, bytes: Vec<u8>) -> HttpResponse {
    // A code's image never changes; private because the route needs staff credentials.
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400, immutable"))
        .body(bytes)
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

/// The page a phone's ordinary camera or WeChat opens from a poster: says which union it is
/// and sends the rider to the app, which joins through `/v1/join/{code}`.
#[utoipa::path(get, path = "/j/{code}", tag = "membership",
    responses((status = 200, content_type = "text/html", description = "Landing page of a poster"),
        (status = 404, content_type = "text/html", description = "Unknown code"),
        (status = 409, content_type = "text/html", description = "Expired, used up or revoked code")))]
async fn poster_landing(db: web::Data<Db>, code: web::Path<String>) -> HttpResponse {
    let code = code.into_inner();
    let outcome = match JoinCode::parse(&code) {
        Ok(parsed) => db.run(move |conn| join_codes::preview(conn, &parsed)).await,
        Err(e) => Err(e),
    };
    let (status, body) = match outcome {
        Ok(p) => (
            actix_web::http::StatusCode::OK,
            format!(
                "<h1>{}</h1><p>{}</p><p>请打开工会 App 扫描此二维码完成入会。<br>Open the union app and scan this code to join.</p>",
                html::escape(&p.org.name),
                html::escape(&p.label)
            ),
        ),
        Err(e) => (
            e.code().status(),
            format!("<h1>无法入会</h1><p>{}</p>", html::escape(e.code().detail(platform::error::Lang::ZhCn))),
        ),
    };
    html::page(status, "加入工会", &body)
}

// ---- worker side ----

#[derive(Deserialize, ToSchema)]
pub struct JoinRequest {
    pub join_code: String,
    pub occupation: Occupation,
    /// Platform or employer, e.g. 美团.
    pub platform: Text<40>,
    pub work_city: Text<40>,
}

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
    let body = body.into_inner();
    let code = JoinCode::parse(&body.join_code)?;
    let details = Details {
        occupation: body.occupation,
        platform: body.platform.into_inner(),
        work_city: body.work_city.into_inner(),
    };
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

#[derive(Deserialize, ToSchema)]
pub struct TransferRequest {
    pub join_code: String,
    /// Each of these three defaults to the current membership's.
    pub occupation: Option<Occupation>,
    pub platform: Option<Text<40>>,
    pub work_city: Option<Text<40>>,
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
    let body = body.into_inner();
    let code = JoinCode::parse(&body.join_code)?;
    let changes = DetailChanges {
        occupation: body.occupation,
        platform: body.platform.map(Text::into_inner),
        work_city: body.work_city.map(Text::into_inner),
    };
    let outcome = db
        .write(move |conn| applications::transfer(conn, user.account_id, &code, changes))
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// active (default), pending, ended, rejected or withdrawn.
    #[param(inline)]
    pub status: Option<Status>,
    #[param(inline)]
    pub occupation: Option<Occupation>,
    pub platform: Option<String>,
    /// YYYY-MM-DD, Asia/Shanghai.
    pub joined_from: Option<NaiveDate>,
    pub joined_to: Option<NaiveDate>,
    /// A name fragment, a full mobile number, or a member number.
    pub q: Option<String>,
    /// `csv` for a spreadsheet of every match (UTF-8 with BOM, personal data masked).
    #[param(inline)]
    pub format: Option<ListFormat>,
    /// The CSV's headers and labels: `zh` (default) or `en` (field names and codes).
    #[param(inline)]
    pub lang: Option<roster_csv::CsvLang>,
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
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
    let query = query.into_inner();
    let filter = Filter {
        status: query.status,
        occupation: query.occupation,
        platform: query.platform,
        joined_from: query.joined_from,
        joined_to: query.joined_to,
        q: query.q,
    };
    let csv = query.format == Some(ListFormat::Csv);
    let lang = query.lang.unwrap_or_default().into();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page();
    let identity = identity.into_inner();
    if csv {
        let export = db
            .run(move |conn| {
                let Caller { user, actor } = &caller;
                members::export(conn, &identity, user, actor, org_id, &filter)
            })
            .await?;
        return Ok(roster_csv::response(&export, lang));
    }
    let list = db
        .run(move |conn| {
            let Caller { user, actor } = &caller;
            members::list(conn, &identity, user, actor, org_id, &filter, page)
        })
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only actions starting with this, e.g. `membership.` or `members.export`.
    #[param(schema_with = ActionPrefix::schema)]
    pub action: Option<String>,
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
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
    let query = query.into_inner();
    let action = query
        .action
        .as_deref()
        .map(|a| ActionPrefix::parse(a, "action"))
        .transpose()?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page();
    let list = db
        .run(move |conn| audit::list(conn, &user, org_id, action.as_ref(), page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
