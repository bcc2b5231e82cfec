//! HTTP in and out for identity; the rules live in the modules named for them. The inbox's
//! routes are in [`notices`].

mod notices;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use platform::db::write_tx;
use platform::error::Problem;
use platform::extract::Json;
use platform::rights::DataRights;
use platform::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, ToSchema};

use crate::accounts::StaffScope;
use crate::auth::Caller;
use crate::otp;
use crate::password::Password;
use crate::personal_data;
use crate::phone::Phone;
use crate::profile::{parse_profile, ProfileView};
use crate::sign_in_sessions::TokenPair;
use crate::{AuthUser, Identity};
use notices::*;

platform::api! {
    /// The identity part of the OpenAPI document.
    pub struct ApiDoc {
        modifiers(&BearerAuth),
        tags((name = "identity", description = "Accounts, sign-in and the real-name profile"))
    }

    pub fn routes {
        send_otp,
        register,
        login,
        refresh,
        logout,
        change_password,
        reset_password,
        me,
        delete_account,
        export,
        put_identity,
        withdraw_identity,
        jwks,
        my_notifications,
        unread_notifications,
        read_notification,
        read_all_notifications,
        notice_settings,
        change_notice_settings,
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

fn phone(input: &str) -> Result<Phone> {
    Phone::parse(input).ok_or_else(|| Error::invalid(ErrorCode::InvalidPhone, "phone"))
}

#[derive(Deserialize, ToSchema)]
pub struct OtpRequest {
    /// Mainland China mobile number, e.g. `13800138000`.
    #[schema(schema_with = Phone::schema)]
    pub phone: String,
}

#[derive(Serialize, ToSchema)]
pub struct OtpSent {
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Seconds before another code may be requested for this phone.
    pub resend_after: u64,
}

/// Send a 6-digit verification code by SMS.
#[utoipa::path(post, path = "/v1/auth/otp", tag = "identity", request_body = OtpRequest,
    responses((status = 202, body = OtpSent), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn send_otp(
    id: web::Data<Identity>,
    req: HttpRequest,
    body: Json<OtpRequest>,
) -> Result<HttpResponse> {
    let phone = phone(&body.phone)?;
    id.send_otp(&phone, &id.config.proxies.client_ip(&req))
        .await?;
    Ok(HttpResponse::Accepted().json(OtpSent {
        expires_in: id.config.otp_ttl.as_secs(),
        resend_after: id.config.limits.otp_per_phone_minute.period.as_secs()
            / u64::from(id.config.limits.otp_per_phone_minute.limit.max(1)),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(schema_with = Phone::schema)]
    pub phone: String,
    /// The 6-digit code from `/v1/auth/otp`.
    #[schema(schema_with = otp::code_schema)]
    pub code: String,
    /// 8 to 128 characters with a Latin letter and a digit.
    #[schema(schema_with = Password::schema)]
    pub password: String,
}

/// Create an account with a verified phone. Token-issuing routes take no `Idempotency-Key`:
/// after a lost answer, sign in with the new password.
#[utoipa::path(post, path = "/v1/auth/register", tag = "identity", request_body = RegisterRequest,
    responses((status = 201, body = TokenPair), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn register(id: web::Data<Identity>, body: Json<RegisterRequest>) -> Result<HttpResponse> {
    let phone = phone(&body.phone)?;
    // Check the password before the code, so a weak password does not burn the code.
    let password = Password::parse(&body.password, "password")?;
    id.verify_otp(&phone, &body.code).await?;
    let hash = id.hasher.hash(password).await?;
    let this = id.clone().into_inner();
    let pair = id
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let account_id = this.insert_account(conn, &phone, &hash, false)?;
                this.start_session(conn, account_id, false)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(pair))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(schema_with = Phone::schema)]
    pub phone: String,
    /// The password; or leave it out and send `code`.
    pub password: Option<String>,
    /// A 6-digit code from `/v1/auth/otp`, instead of the password (a rider who forgot it).
    pub code: Option<String>,
}

/// Sign in with the password or with an SMS code (exactly one of them). Unknown phone and wrong
/// password get the same 401 `invalid_credentials`; unknown phone and wrong or expired code the
/// same 401 `invalid_code_credentials`. Too many wrong passwords slow that phone down from the
/// guesser's address; sign-in by code stays open.
#[utoipa::path(post, path = "/v1/auth/login", tag = "identity", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn login(
    id: web::Data<Identity>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let phone = phone(&body.phone)?;
    let address = id.config.proxies.client_ip(&req);
    let id = id.into_inner();
    let pair = match (body.password, body.code) {
        (Some(password), None) => id.sign_in_with_password(phone, &password, &address).await?,
        (None, Some(code)) => id.sign_in_with_code(phone, &code, &address).await?,
        (None, None) => return Err(Error::invalid(ErrorCode::MissingField, "password")),
        (Some(_), Some(_)) => return Err(Error::invalid(ErrorCode::InvalidField, "code")),
    };
    Ok(HttpResponse::Ok().json(pair))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    #[schema(schema_with = Phone::schema)]
    pub phone: String,
    /// The 6-digit code from `/v1/auth/otp`.
    #[schema(schema_with = otp::code_schema)]
    pub code: String,
    /// 8 to 128 characters with a Latin letter and a digit.
    #[schema(schema_with = Password::schema)]
    pub new_password: String,
}

/// Set a new password with an SMS code, for a rider who forgot it. Every session of the
/// account is signed out, access tokens included; sign in with the new password afterwards.
/// Unknown phone and wrong or expired code get the same 401 `invalid_code_credentials`.
#[utoipa::path(post, path = "/v1/auth/password/reset", tag = "identity", request_body = PasswordResetRequest,
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn reset_password(
    id: web::Data<Identity>,
    body: Json<PasswordResetRequest>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let phone = phone(&body.phone)?;
    // Checked before the code, so a weak password does not burn the code.
    let password = Password::parse(&body.new_password, "new_password")?;
    id.into_inner()
        .reset_password(phone, &body.code, password)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new pair. A reused old token revokes its whole family.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "identity", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem)))]
async fn refresh(id: web::Data<Identity>, body: Json<RefreshRequest>) -> Result<HttpResponse> {
    let pair = id.refresh(body.into_inner().refresh_token).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Sign out: revoke the given refresh token's session family.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "identity", request_body = RefreshRequest,
    security(("bearer" = [])), responses((status = 204), (status = 401, body = Problem)))]
async fn logout(
    id: web::Data<Identity>,
    user: AuthUser,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse> {
    let this = id.clone().into_inner();
    let token = body.into_inner().refresh_token;
    id.db
        .run(move |conn| this.logout(conn, user.account_id, &token))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChangeRequest {
    pub old_password: String,
    /// 8 to 128 characters with a Latin letter and a digit.
    #[schema(schema_with = Password::schema)]
    pub new_password: String,
}

/// Change the password. Every other session is signed out; the caller gets a fresh pair.
#[utoipa::path(post, path = "/v1/auth/password", tag = "identity", request_body = PasswordChangeRequest,
    security(("bearer" = [])),
    responses((status = 200, body = TokenPair), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn change_password(
    id: web::Data<Identity>,
    user: AuthUser,
    body: Json<PasswordChangeRequest>,
) -> Result<HttpResponse> {
    let new_password = Password::parse(&body.new_password, "new_password")?;
    // A stolen access token must not become an oracle for guessing the password.
    id.coord
        .throttle(
            &format!("password_change:{}", user.account_id),
            id.config.limits.login_per_phone,
        )
        .await?;
    let this = id.clone().into_inner();
    let account_id = user.account_id;
    let stored = id
        .db
        .run(move |conn| this.password_hash(conn, account_id))
        .await?;
    if !id.hasher.verify(&body.old_password, Some(stored)).await? {
        return Err(Error::invalid(ErrorCode::WrongPassword, "old_password"));
    }
    let hash = id.hasher.hash(new_password).await?;
    let this = id.clone().into_inner();
    let is_admin = user.is_admin();
    let pair = id
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                this.set_password_hash(conn, account_id, &hash)?;
                this.revoke_all_sessions(conn, account_id)?;
                this.start_session(conn, account_id, is_admin)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(pair))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    /// Masked, e.g. `138****8000`.
    pub phone_masked: String,
    /// `worker` always; `staff` with staff scopes; `admin` for platform operators.
    pub roles: Vec<String>,
    /// Orgs this account is staff of; staff act on each one's whole subtree.
    pub staff_scopes: Vec<StaffScope>,
    /// The real-name profile, once given.
    pub real_name: Option<ProfileView>,
    /// The profile's consent is to an older version of the personal-information policy: ask
    /// the member again (`PUT /v1/me/identity` with `consent: true`).
    pub consent_required: bool,
    pub created_at: DateTime<Utc>,
}

/// The caller's account.
#[utoipa::path(get, path = "/v1/me", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
async fn me(id: web::Data<Identity>, user: AuthUser) -> Result<HttpResponse> {
    let this = id.clone().into_inner();
    let me = id
        .db
        .run(move |conn| {
            let account = this.load_account(conn, user.account_id)?;
            let real_name = this.load_profile(conn, account.id)?;
            let consent_required = real_name.is_some()
                && !personal_data::consent_is_current(
                    conn,
                    account.id,
                    personal_data::REAL_NAME,
                    &this.config.consent_policy,
                )?;
            Ok(Me {
                id: account.id,
                phone_masked: account.phone.masked(),
                roles: this.roles(conn, account.id, account.is_admin)?,
                staff_scopes: this.staff_scopes(conn, account.id)?,
                real_name,
                consent_required,
                created_at: account.created_at.and_utc(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}

#[derive(Deserialize, ToSchema)]
pub struct IdentityRequest {
    /// Name as on the ID card.
    pub legal_name: String,
    /// 18-character resident ID number (GB 11643).
    pub id_number: String,
    /// Must be `true`: consent to the personal-information policy.
    pub consent: Option<bool>,
}

/// Give or update the real-name profile. The response shows the ID number masked.
#[utoipa::path(put, path = "/v1/me/identity", tag = "identity", request_body = IdentityRequest,
    security(("bearer" = [])),
    responses((status = 200, body = ProfileView), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn put_identity(
    id: web::Data<Identity>,
    user: AuthUser,
    body: Json<IdentityRequest>,
) -> Result<HttpResponse> {
    let (name, number) = parse_profile(&body.legal_name, &body.id_number, body.consent)?;
    let this = id.clone().into_inner();
    let view = id
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                this.save_profile(conn, user.account_id, &name, &number)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Withdraw consent to the real-name profile: the profile is deleted, and the membership that
/// needs it ends. Giving the profile again later asks for consent again.
#[utoipa::path(delete, path = "/v1/me/identity", tag = "identity", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn withdraw_identity(
    id: web::Data<Identity>,
    rights: web::Data<DataRights>,
    caller: Caller,
) -> Result<HttpResponse> {
    let Caller { user, actor } = caller;
    id.withdraw_real_name(&rights, actor, user.account_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A copy of everything held about the caller (PIPL Art. 45), one part per domain.
#[utoipa::path(get, path = "/v1/me/export", tag = "identity", security(("bearer" = [])),
    responses((status = 200, description = "JSON: `exported_at`, `account_id` and one object per domain", body = Object),
        (status = 401, body = Problem)))]
async fn export(
    id: web::Data<Identity>,
    rights: web::Data<DataRights>,
    caller: Caller,
) -> Result<HttpResponse> {
    let Caller { user, actor } = caller;
    let parts = id.export_data(&rights, actor, user.account_id).await?;
    let body = serde_json::json!({
        "exported_at": platform::clock::now_utc(),
        "account_id": user.account_id,
        "parts": parts,
    });
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"gigunion-my-data.json\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The account's password, asked again: an access token alone does not delete an account.
    pub password: String,
}

/// Delete the account (PIPL Art. 47): personal data is erased or irreversibly anonymised in
/// every domain, the union membership ends, and every token of the account stops working at
/// once. Anonymous counts (stock, attendance, visits) stay.
#[utoipa::path(delete, path = "/v1/me", tag = "identity", request_body = DeleteAccountRequest,
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn delete_account(
    id: web::Data<Identity>,
    rights: web::Data<DataRights>,
    caller: Caller,
    body: Json<DeleteAccountRequest>,
) -> Result<HttpResponse> {
    let Caller { user, actor } = caller;
    id.clone()
        .into_inner()
        .delete_account(&rights, actor, user.account_id, &body.password)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Public keys that verify access tokens (and every other token we sign).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "identity",
    responses((status = 200, description = "JWK Set", body = Object)))]
async fn jwks(id: web::Data<Identity>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(id.keys.jwks())
}
