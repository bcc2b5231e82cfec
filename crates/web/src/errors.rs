//! A refusal as a page. Pages use the one error type, `platform::Error`; [`PageError`] only
//! says "answer it in HTML", and [`render`] writes that page in the visitor's language (the
//! error itself cannot know it). Not signed in, or the session ended: to the sign-in page,
//! which comes back here afterwards.

use std::fmt;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use maud::html;
use platform::{Error, ErrorCode};

use crate::i18n::{self, Lang, Pick};
use crate::layout;

/// A page's refusal.
#[derive(Debug)]
pub struct PageError(pub Error);

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError(e)
    }
}

impl From<ErrorCode> for PageError {
    fn from(code: ErrorCode) -> Self {
        PageError(Error::new(code))
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        page(&self.0, Lang::ZhCn, None)
    }
}

pub type PageResult = Result<HttpResponse, PageError>;

/// Middleware of the console: a refusal becomes a page in the visitor's language, and a
/// missing session a way to sign in.
pub async fn render(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(refusal) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<PageError>())
    else {
        return Ok(res);
    };
    let lang = i18n::of(res.request());
    let back = back_here(res.request());
    let page = page(&refusal.0, lang, Some(&back));
    Ok(res.into_response(page))
}

/// Middleware of the public pages' forms: a refusal the form itself could not answer (its
/// token missing or stale, a body too large) goes back to the page the form was on, saying
/// why, so the rider sees the form again; anything else is a page with a way home.
pub async fn render_public(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(refusal) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<PageError>())
    else {
        return Ok(res);
    };
    let lang = i18n::of(res.request());
    let error = &refusal.0;
    if error.code().status().is_server_error() {
        tracing::error!(error = ?error, "public page failed");
    }
    let page = match came_from(res.request()) {
        Some(back) if !error.code().status().is_server_error() => {
            crate::public::session::back_to(res.request(), &back, Some(&refusal_text(lang, error)))
        }
        _ => public_page(error, lang),
    };
    Ok(res.into_response(page))
}

/// The path of the page of this site a form was posted from (its `Referer`).
fn came_from(req: &HttpRequest) -> Option<String> {
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    let host = req.connection_info().host().to_owned();
    let rest = referer
        .strip_prefix("https://")
        .or_else(|| referer.strip_prefix("http://"))?;
    let path = rest.strip_prefix(host.as_str())?;
    let ours = path.starts_with("/j/") || path.starts_with("/s/");
    (ours && !path.contains("//")).then(|| path.to_owned())
}

/// A refusal on a public page: what is wrong, and the way back to the start.
pub fn public_page(error: &Error, lang: Lang) -> HttpResponse {
    let code = error.code();
    let title = if code.status().is_server_error() {
        lang.t("服务暂时不可用", "Something went wrong")
    } else {
        lang.t("无法完成", "Could not be done")
    };
    let body = html! {
        div.panel {
            h1 { (title) }
            p.refusal data-code=(code.as_str()) { (refusal_text(lang, error)) }
            p.muted { (lang.t("请返回上一页重试。", "Go back to the previous page and try again.")) }
        }
    };
    layout::bare(code.status(), lang, title, body)
}

/// The page for `error`; `back` is where signing in returns to.
fn page(error: &Error, lang: Lang, back: Option<&str>) -> HttpResponse {
    let code = error.code();
    if code == ErrorCode::Unauthenticated {
        let to = match back {
            Some(back) => format!(
                "/console/sign-in?{}",
                serde_urlencoded::to_string([("next", back)]).unwrap_or_default()
            ),
            None => "/console/sign-in".to_owned(),
        };
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .finish();
    }
    if code.status().is_server_error() {
        tracing::error!(error = ?error, "console page failed");
    }
    let title = match code.status() {
        StatusCode::NOT_FOUND => lang.t("找不到", "Not found"),
        StatusCode::FORBIDDEN => lang.t("无权操作", "Not allowed"),
        s if s.is_server_error() => lang.t("服务暂时不可用", "Something went wrong"),
        _ => lang.t("无法完成", "Could not be done"),
    };
    let body = html! {
        h1 { (title) }
        p.refusal data-code=(code.as_str()) { (code.detail(lang)) }
        @if let Some(field) = error.field() {
            p { (lang.t("有问题的字段：", "Field: ")) code { (field) } }
        }
        p { a href="/console" { (lang.t("返回首页", "Back to the console")) } }
    };
    layout::bare(code.status(), lang, title, body)
}

/// Only GET pages are worth returning to; after a form, its page.
fn back_here(req: &HttpRequest) -> String {
    if req.method() == actix_web::http::Method::GET {
        req.uri().to_string()
    } else {
        "/console".to_owned()
    }
}

/// A refusal as one line for a flash message: what is wrong, and in which field.
pub fn refusal_text(lang: Lang, e: &Error) -> String {
    match e.field() {
        Some(field) => format!("{} ({field})", e.code().detail(lang)),
        None => e.code().detail(lang).to_owned(),
    }
}
