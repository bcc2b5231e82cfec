//! Who is using a public page: a worker signed in by SMS code on the page ([`Worker`], from
//! identity's web sessions), or nobody yet. And the one guard of every public form, a
//! double-submit token ([`PublicForm`]): a random value in an HttpOnly cookie that the form
//! repeats, which another site can neither read nor set.
//!
//! Cookies here are first-party, for the whole site (`/j/...`, `/s/...` and `/p/...` share
//! them), `SameSite=Lax` so the page a QR opens in WeChat's browser has them, and HttpOnly.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::future::LocalBoxFuture;
use identity::{AuthUser, Identity};
use maud::{html, Markup};
use platform::audit::Actor;
use platform::crypto::{constant_time_eq, random_token};
use platform::{Db, Error, ErrorCode};
use serde::de::DeserializeOwned;

use crate::errors::PageError;
use crate::forms;
use crate::session::{app_data, secure};

/// The web session's token.
pub const WEB_SESSION_COOKIE: &str = "gu_web";
/// The double-submit token of the public forms.
pub const FORM_COOKIE: &str = "gu_form";
/// The number a code was just sent to, so the code form can follow on another page view.
pub const PHONE_COOKIE: &str = "gu_phone";
/// A one-time message for the next page (what the last form did, or why it was refused).
pub const NOTE_COOKIE: &str = "gu_note";
/// The hidden field that repeats [`FORM_COOKIE`].
pub const FORM_FIELD: &str = "_form";

/// A worker signed in on the public pages, as the use cases want them.
pub struct Worker {
    pub user: AuthUser,
    pub actor: Actor,
}

/// The signed-in worker of `req`, if any.
pub async fn worker(req: &HttpRequest) -> Result<Option<Worker>, Error> {
    let Some(token) = req.cookie(WEB_SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let identity = app_data::<Identity>(req)?;
    let db = app_data::<Db>(req)?;
    let lookup = identity.clone();
    let session = db.run(move |conn| lookup.web_session(conn, &token)).await?;
    let address = identity.config.proxies.client_ip(req);
    Ok(session.map(|s| Worker {
        actor: Actor::account(s.user.account_id, address),
        user: s.user,
    }))
}

/// A public cookie: the whole site, HttpOnly, SameSite=Lax, `Secure` on https.
pub fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    days: Option<i64>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    if let Some(days) = days {
        cookie.set_max_age(actix_web::cookie::time::Duration::days(days));
    }
    cookie
}

/// Removes a public cookie.
pub fn clear(response: &mut HttpResponseBuilder, name: &'static str, secure: bool) {
    let mut gone = cookie(name, String::new(), secure, None);
    gone.make_removal();
    response.cookie(gone);
}

/// The form token of this browser: its cookie's, or a new one that the page must set
/// ([`FormToken::keep`]).
pub struct FormToken {
    pub value: String,
    fresh: bool,
}

impl FormToken {
    pub fn of(req: &HttpRequest) -> FormToken {
        match req.cookie(FORM_COOKIE) {
            Some(c) if c.value().len() >= 16 => FormToken {
                value: c.value().to_owned(),
                fresh: false,
            },
            _ => FormToken {
                value: random_token(24),
                fresh: true,
            },
        }
    }

    /// The hidden field every public form carries.
    pub fn field(&self) -> Markup {
        html! { input type="hidden" name=(FORM_FIELD) value=(self.value); }
    }

    /// Sets the cookie on a page whose forms carry a new token.
    pub fn keep(&self, response: &mut HttpResponse, secure: bool) {
        if self.fresh {
            let _ = response.add_cookie(&cookie(FORM_COOKIE, self.value.clone(), secure, Some(1)));
        }
    }
}

/// `303` to `to`, which shows `note` once: how every public form answers.
pub fn back_to(req: &HttpRequest, to: &str, note: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, to.to_owned()));
    if let Some(note) = note {
        let value = form_urlencoded::byte_serialize(note.as_bytes()).collect();
        response.cookie(cookie(NOTE_COOKIE, value, secure(req), None));
    }
    response.finish()
}

/// The note the last form left for this page, and the cookie removal to send with the page.
pub fn take_note(req: &HttpRequest) -> Option<String> {
    req.cookie(NOTE_COOKIE).map(|c| {
        form_urlencoded::parse(format!("m={}", c.value()).as_bytes())
            .map(|(_, m)| m.into_owned())
            .next()
            .unwrap_or_default()
    })
}

/// A page of the public flow: no caching (it shows who is signed in), the form token's cookie
/// set when new, and the note shown once removed.
pub fn page(req: &HttpRequest, token: &FormToken, mut response: HttpResponse) -> HttpResponse {
    let secure = secure(req);
    token.keep(&mut response, secure);
    if req.cookie(NOTE_COOKIE).is_some() {
        let mut gone = cookie(NOTE_COOKIE, String::new(), secure, None);
        gone.make_removal();
        let _ = response.add_cookie(&gone);
    }
    response
}

/// A posted public form, its double-submit token checked before anything is read, and the
/// signed-in worker if there is one. A missing or wrong token is `form_expired` (the page
/// is shown again with a fresh form).
pub struct PublicForm<T> {
    pub form: T,
    pub worker: Option<Worker>,
    /// The token the form carried: the key of its retries.
    pub token: String,
}

/// Largest public form: a few short fields.
const PUBLIC_FORM_LIMIT: usize = 16 * 1024;

impl<T: DeserializeOwned + 'static> FromRequest for PublicForm<T> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|_| Error::new(ErrorCode::PayloadTooLarge))?;
            if body.len() > PUBLIC_FORM_LIMIT {
                return Err(Error::new(ErrorCode::PayloadTooLarge).into());
            }
            let presented = form_urlencoded::parse(&body)
                .find(|(k, _)| k == FORM_FIELD)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let expected = req.cookie(FORM_COOKIE).map(|c| c.value().to_owned());
            match expected {
                Some(e)
                    if !e.is_empty() && constant_time_eq(e.as_bytes(), presented.as_bytes()) => {}
                _ => return Err(Error::new(ErrorCode::FormExpired).into()),
            }
            let form = forms::parse(&body)?;
            let worker = worker(&req).await?;
            Ok(PublicForm {
                form,
                worker,
                token: presented,
            })
        })
    }
}
