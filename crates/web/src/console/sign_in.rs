//! Signing in to the console (phone + password, then the SMS code on a new browser), signing
//! out, and the language switch. The rules are identity's (`console_password_step`,
//! `console_code_step`); this is the forms around them.
//!
//! Before there is a session, the forms are protected by a double-submit token: a random value
//! in an HttpOnly SameSite=Strict cookie that the form must repeat, which another site can
//! neither read nor set.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use identity::console_sessions::PasswordStep;
use identity::phone::Phone;
use identity::Identity;
use maud::{html, Markup};
use platform::crypto::{constant_time_eq, random_token};
use platform::{Error, ErrorCode};
use serde::Deserialize;

use crate::errors::{PageError, PageResult};
use crate::forms::{self, Empty, Submitted, CSRF_FIELD};
use crate::i18n::{self, Lang, Pick};
use crate::layout;
use crate::session::{self, app_data, secure, SESSION_COOKIE, TRUSTED_COOKIE};

/// The double-submit token of the sign-in forms.
const PRESIGN_COOKIE: &str = "gu_presign";

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    phone: String,
    password: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    next: Option<String>,
}

/// Where to go after signing in: a console page, never another site.
fn next_page(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

pub async fn password_page(req: HttpRequest, query: web::Query<NextQuery>) -> HttpResponse {
    let lang = i18n::of(&req);
    password_form(&req, lang, query.next.as_deref(), None, StatusCode::OK)
}

fn password_form(
    req: &HttpRequest,
    lang: Lang,
    next: Option<&str>,
    refusal: Option<&Error>,
    status: StatusCode,
) -> HttpResponse {
    let token = presign_token(req);
    let body = html! {
        div.panel {
            h1 { (lang.t("工会管理后台登录", "Union console sign-in")) }
            (refused(lang, refusal))
            form.stack method="post" action="/console/sign-in" id="sign-in" {
                (presign_field(&token))
                input type="hidden" name="next" value=(next_page(next));
                label { (lang.t("手机号", "Mobile number"))
                    input type="tel" name="phone" autocomplete="username" inputmode="numeric" required; }
                label { (lang.t("密码", "Password"))
                    input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { (lang.t("登录", "Sign in")) }
            }
            p.muted { (lang.t("仅限工会工作人员。新设备登录需短信验证。",
                "Union staff only. A new browser also needs a code sent by SMS.")) }
            p { (layout::language_switch(lang, "/console/sign-in")) }
        }
    };
    with_presign(
        req,
        token,
        layout::bare(status, lang, lang.t("登录", "Sign in"), body),
    )
}

pub async fn password_submit(req: HttpRequest, body: web::Bytes) -> PageResult {
    let lang = i18n::of(&req);
    let form: PasswordForm = forms::parse(&body)?;
    let next = form.next.clone();
    let again = |e: Error| password_form(&req, lang, next.as_deref(), Some(&e), e.code().status());
    if let Err(e) = check_presign(&req, &body) {
        return Ok(again(e));
    }
    let phone = match Phone::parse(&form.phone) {
        Some(phone) => phone,
        None => return Ok(again(Error::invalid(ErrorCode::InvalidPhone, "phone"))),
    };
    let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
    let address = identity.config.proxies.client_ip(&req);
    let trusted = req.cookie(TRUSTED_COOKIE).map(|c| c.value().to_owned());
    let step = identity
        .console_password_step(phone, &form.password, &address, trusted)
        .await;
    let secure = secure(&req);
    let next = next_page(form.next.as_deref());
    match step {
        Ok(PasswordStep::SignedIn { session }) => Ok(signed_in(&next, session, None, secure)),
        Ok(PasswordStep::CodeSent {
            session,
            phone_masked,
        }) => {
            let to = format!(
                "/console/verify?{}",
                serde_urlencoded::to_string([("next", next.as_str()), ("to", &phone_masked)])
                    .unwrap_or_default()
            );
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .cookie(session::cookie(SESSION_COOKIE, session, secure, None))
                .finish())
        }
        Err(e) if e.code().status().is_server_error() => Err(PageError(e)),
        Err(e) => Ok(again(e)),
    }
}

#[derive(Deserialize)]
pub struct VerifyQuery {
    next: Option<String>,
    /// The masked number the code went to.
    to: Option<String>,
}

pub async fn code_page(req: HttpRequest, query: web::Query<VerifyQuery>) -> HttpResponse {
    let lang = i18n::of(&req);
    let query = query.into_inner();
    code_form(&req, lang, &query, None, StatusCode::OK)
}

fn code_form(
    req: &HttpRequest,
    lang: Lang,
    query: &VerifyQuery,
    refusal: Option<&Error>,
    status: StatusCode,
) -> HttpResponse {
    let token = presign_token(req);
    let body = html! {
        div.panel {
            h1 { (lang.t("短信验证", "SMS verification")) }
            (refused(lang, refusal))
            p { (lang.t("这是此浏览器第一次登录。验证码已发送至 ", "This browser is new to your account. A code was sent to "))
                strong { (query.to.as_deref().unwrap_or("")) } }
            form.stack method="post" action="/console/verify" id="verify" {
                (presign_field(&token))
                input type="hidden" name="next" value=(next_page(query.next.as_deref()));
                label { (lang.t("6 位验证码", "6-digit code"))
                    input type="text" name="code" inputmode="numeric" autocomplete="one-time-code"
                        pattern="[0-9]{6}" maxlength="6" required autofocus; }
                button type="submit" { (lang.t("验证并登录", "Verify and sign in")) }
            }
            p { a href="/console/sign-in" { (lang.t("重新登录", "Start again")) } }
        }
    };
    with_presign(
        req,
        token,
        layout::bare(status, lang, lang.t("短信验证", "Verify"), body),
    )
}

pub async fn code_submit(req: HttpRequest, body: web::Bytes) -> PageResult {
    let lang = i18n::of(&req);
    let form: CodeForm = forms::parse(&body)?;
    let query = VerifyQuery {
        next: form.next.clone(),
        to: None,
    };
    let again = |e: Error| code_form(&req, lang, &query, Some(&e), e.code().status());
    if let Err(e) = check_presign(&req, &body) {
        return Ok(again(e));
    }
    let Some(pending) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Err(ErrorCode::Unauthenticated.into());
    };
    let identity = app_data::<Identity>(&req)?.into_inner();
    match identity.console_code_step(&pending, form.code.trim()).await {
        Ok(done) => Ok(signed_in(
            &next_page(form.next.as_deref()),
            done.session,
            Some(done.trusted_browser),
            secure(&req),
        )),
        Err(e) if e.code() == ErrorCode::Unauthenticated => Err(e.into()),
        Err(e) if e.code().status().is_server_error() => Err(e.into()),
        Err(e) => Ok(again(e)),
    }
}

fn signed_in(next: &str, session: String, trusted: Option<String>, secure: bool) -> HttpResponse {
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, next.to_owned()))
        .cookie(session::cookie(SESSION_COOKIE, session, secure, None));
    if let Some(trusted) = trusted {
        let age = chrono::TimeDelta::days(30);
        response.cookie(session::cookie(TRUSTED_COOKIE, trusted, secure, Some(age)));
    }
    session::clear(&mut response, PRESIGN_COOKIE, secure);
    response.finish()
}

pub async fn sign_out(req: HttpRequest, submitted: Submitted<Empty>) -> PageResult {
    let identity = app_data::<Identity>(&req)?;
    let db = app_data::<platform::Db>(&req)?;
    if let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        db.run(move |conn| identity.end_console_session(conn, &token))
            .await?;
    }
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, "/console/sign-in"));
    session::clear(&mut response, SESSION_COOKIE, submitted.staff.secure);
    Ok(response.finish())
}

#[derive(Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

/// `/lang/{zh|en}`: remembers the choice and returns to the page it was made on.
pub async fn switch_language(
    req: HttpRequest,
    to: web::Path<String>,
    query: web::Query<BackQuery>,
) -> HttpResponse {
    let lang = if to.as_str() == "en" {
        Lang::En
    } else {
        Lang::ZhCn
    };
    let back = match query.back.as_deref() {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b,
        _ => "/console",
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back.to_owned()))
        .cookie(i18n::cookie(lang, secure(&req)))
        .finish()
}

fn refused(lang: Lang, refusal: Option<&Error>) -> Markup {
    html! {
        @if let Some(e) = refusal {
            p.refusal role="alert" data-code=(e.code().as_str()) { (e.code().detail(lang)) }
        }
    }
}

/// The sign-in forms' token: the browser's cookie if it has one, so two tabs agree.
fn presign_token(req: &HttpRequest) -> String {
    req.cookie(PRESIGN_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32)
        .unwrap_or_else(|| random_token(24))
}

fn presign_field(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

fn with_presign(req: &HttpRequest, token: String, mut response: HttpResponse) -> HttpResponse {
    let cookie = session::cookie(PRESIGN_COOKIE, token, secure(req), None);
    // Only fails for a cookie that is not a valid header value, which a token never is.
    let _ = response.add_cookie(&cookie);
    response
}

fn check_presign(req: &HttpRequest, body: &[u8]) -> Result<(), Error> {
    let sent = form_urlencoded::parse(body)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let kept = req.cookie(PRESIGN_COOKIE).map(|c| c.value().to_owned());
    match kept {
        Some(kept) if !kept.is_empty() && constant_time_eq(kept.as_bytes(), sent.as_bytes()) => {
            Ok(())
        }
        _ => Err(Error::new(ErrorCode::FormExpired)),
    }
}
