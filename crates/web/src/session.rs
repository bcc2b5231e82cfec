//! Who is using the console: the [`Staff`] extractor reads the session cookie, and every page
//! that takes it runs only for a signed-in staff member. The cookies it and sign-in set live
//! here, with the flags a session cookie needs (HttpOnly, SameSite, Secure on https).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::future::LocalBoxFuture;
use identity::{AuthUser, Identity};
use platform::audit::Actor;
use platform::crypto::constant_time_eq;
use platform::{Db, Error, ErrorCode};

use crate::errors::{refusal_text, PageError, PageResult};
use crate::i18n::{self, Lang, Pick};

/// The session: a random token, only its hash stored.
pub const SESSION_COOKIE: &str = "gu_console";
/// This browser passed the second factor for an account.
pub const TRUSTED_COOKIE: &str = "gu_trusted";
/// A one-time message for the next page (what the last form did).
pub const FLASH_COOKIE: &str = "gu_flash";

/// A signed-in staff member, as the use cases want them: the account and roles, and the
/// actor the audit log records.
pub struct Staff {
    pub user: AuthUser,
    pub actor: Actor,
    /// The token every form must send back (see [`crate::forms`]).
    pub csrf: String,
    pub lang: Lang,
    /// What the previous form did, shown once.
    pub flash: Option<String>,
    /// Whether the console is served over https (cookies then get `Secure`).
    pub secure: bool,
    /// This page's path and query, for links back to it (the language switch).
    pub here: String,
}

impl Staff {
    /// Refuses a form whose token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), Error> {
        if constant_time_eq(presented.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(Error::new(ErrorCode::FormExpired))
        }
    }

    /// `303` to `to`, which shows `message` once: how every console form answers.
    pub fn back_to(&self, to: impl Into<String>, message: &str) -> HttpResponse {
        let mut response = HttpResponse::SeeOther();
        response.insert_header((header::LOCATION, to.into()));
        flash(&mut response, message, self.secure);
        response.finish()
    }

    /// Back to `to`, saying what a step did: `done` when it did, the refusal in words when it
    /// was refused. A server error stays an error page.
    pub fn answer(
        &self,
        to: impl Into<String>,
        done: (&str, &str),
        outcome: Result<(), Error>,
    ) -> PageResult {
        let message = match outcome {
            Ok(()) => self.lang.t(done.0, done.1).to_owned(),
            Err(e) if e.code().status().is_server_error() => return Err(e.into()),
            Err(e) => refusal_text(self.lang, &e),
        };
        Ok(self.back_to(to, &message))
    }
}

impl FromRequest for Staff {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Staff, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { staff_of(&req).await.map_err(PageError::from) })
    }
}

async fn staff_of(req: &HttpRequest) -> Result<Staff, Error> {
    let token = req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(ErrorCode::Unauthenticated)?;
    let identity = app_data::<Identity>(req)?;
    let db = app_data::<Db>(req)?;
    let lookup = identity.clone();
    let session = db
        .run(move |conn| lookup.console_session(conn, &token))
        .await?
        .ok_or(ErrorCode::Unauthenticated)?;
    let address = identity.config.proxies.client_ip(req);
    Ok(Staff {
        actor: Actor::account(session.user.account_id, address),
        user: session.user,
        csrf: session.csrf_token,
        lang: i18n::of(req),
        flash: req.cookie(FLASH_COOKIE).map(|c| unescape(c.value())),
        secure: secure(req),
        here: req.uri().to_string(),
    })
}

/// Shared state of the app, or a 500 naming what is missing (a wiring mistake).
pub fn app_data<T: ?Sized + 'static>(req: &HttpRequest) -> Result<web::Data<T>, Error> {
    req.app_data::<web::Data<T>>()
        .cloned()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("app data missing")))
}

/// Whether the public URL is https: only then may cookies demand it.
pub fn secure(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<Identity>>()
        .is_some_and(|i| i.config.issuer.starts_with("https://"))
}

/// A console cookie: HttpOnly, SameSite=Strict, for `/console` only, `Secure` on https.
/// `max_age` None makes it last as long as the browser (the server ends the session anyway).
pub fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<chrono::TimeDelta>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path("/console")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    if let Some(age) = max_age {
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(
            age.num_seconds(),
        ));
    }
    cookie
}

/// Sets the message the next page shows once (cookie values are ASCII: it goes
/// percent-encoded).
pub fn flash(response: &mut HttpResponseBuilder, message: &str, secure: bool) {
    let value = form_urlencoded::byte_serialize(message.as_bytes()).collect();
    response.cookie(cookie(FLASH_COOKIE, value, secure, None));
}

fn unescape(value: &str) -> String {
    form_urlencoded::parse(format!("m={value}").as_bytes())
        .map(|(_, m)| m.into_owned())
        .next()
        .unwrap_or_default()
}

/// Removes a console cookie.
pub fn clear(response: &mut HttpResponseBuilder, name: &'static str, secure: bool) {
    let mut gone = cookie(name, String::new(), secure, None);
    gone.make_removal();
    response.cookie(gone);
}
