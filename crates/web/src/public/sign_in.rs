//! Signing in on a public page by SMS code: the panel the join flow and the door page show to
//! someone not signed in, and its forms. The rules are identity's (`send_otp` with its rate
//! limits, `web_sign_in`); this is the forms around them. Each form comes back to the page it
//! was on (`next`), with a note saying what happened or why it was refused.

use actix_web::{web, HttpRequest, HttpResponse};
use identity::phone::Phone;
use identity::Identity;
use maud::{html, Markup};
use platform::{Error, ErrorCode};
use serde::Deserialize;

use crate::errors::{refusal_text, PageResult};
use crate::i18n::{self, Lang, Pick};
use crate::public::session::{
    self, back_to, FormToken, PublicForm, PHONE_COOKIE, WEB_SESSION_COOKIE,
};
use crate::session::{app_data, secure};

#[derive(Deserialize)]
pub struct CodeForm {
    phone: String,
    next: String,
}

#[derive(Deserialize)]
pub struct SignInForm {
    phone: String,
    code: String,
    next: String,
}

#[derive(Deserialize)]
pub struct SignOutForm {
    next: String,
}

/// Where a form returns: a public page of this site, never another site.
pub fn next_page(next: &str) -> &str {
    let ours = ["/j/", "/s/"].iter().any(|p| next.starts_with(p));
    if ours && !next.contains("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// The number the last code went to, if this browser asked for one.
pub fn phone_sent(req: &HttpRequest) -> Option<Phone> {
    req.cookie(PHONE_COOKIE)
        .and_then(|c| Phone::parse(c.value()))
}

/// The sign-in panel: the number and "send code", then the code. Both forms on one screen,
/// so a reload or a second code keeps the rider where they are.
pub fn panel(lang: Lang, token: &FormToken, sent_to: Option<&Phone>, next: &str) -> Markup {
    let phone = sent_to.map(|p| p.as_str().to_owned()).unwrap_or_default();
    html! {
        form.stack method="post" action="/p/code" id="send-code" {
            (token.field())
            input type="hidden" name="next" value=(next);
            label { (lang.t("手机号", "Mobile number"))
                input type="tel" name="phone" value=(phone) autocomplete="tel" inputmode="numeric"
                    maxlength="11" required; }
            button.secondary type="submit" {
                @if sent_to.is_some() { (lang.t("重新发送验证码", "Send the code again")) }
                @else { (lang.t("获取验证码", "Send me a code")) }
            }
        }
        @if let Some(to) = sent_to {
            form.stack method="post" action="/p/sign-in" id="sign-in" {
                (token.field())
                input type="hidden" name="next" value=(next);
                input type="hidden" name="phone" value=(to.as_str());
                p.muted { (lang.t("验证码已发送至 ", "Code sent to ")) (to.masked()) }
                label { (lang.t("短信验证码", "Code from the SMS"))
                    input type="text" name="code" autocomplete="one-time-code" inputmode="numeric"
                        maxlength="6" required; }
                button type="submit" { (lang.t("下一步", "Next")) }
            }
        }
    }
}

fn parse_phone(input: &str) -> Result<Phone, Error> {
    Phone::parse(input).ok_or_else(|| Error::invalid(ErrorCode::InvalidPhone, "phone"))
}

/// The note of a refusal, or the error page for a server error.
fn refused(lang: Lang, e: Error) -> Result<String, Error> {
    if e.code().status().is_server_error() {
        return Err(e);
    }
    Ok(refusal_text(lang, &e))
}

/// `POST /p/code`: sends a code, with the API's limits.
pub async fn send_code(req: HttpRequest, posted: PublicForm<CodeForm>) -> PageResult {
    let lang = i18n::of(&req);
    let form = posted.form;
    let next = next_page(&form.next).to_owned();
    let phone = match parse_phone(&form.phone) {
        Ok(phone) => phone,
        Err(e) => return Ok(back_to(&req, &next, Some(&refused(lang, e)?))),
    };
    let identity = app_data::<Identity>(&req)?;
    let address = identity.config.proxies.client_ip(&req);
    if let Err(e) = identity.send_otp(&phone, &address).await {
        return Ok(back_to(&req, &next, Some(&refused(lang, e)?)));
    }
    let mut response = back_to(&req, &next, None);
    let remembered = session::cookie(PHONE_COOKIE, phone.as_str().to_owned(), secure(&req), None);
    let _ = response.add_cookie(&remembered);
    Ok(response)
}

/// `POST /p/sign-in`: the code signs in (opening an account for a new number). Sent again
/// after a lost answer, the same form gets the same session.
pub async fn sign_in(req: HttpRequest, posted: PublicForm<SignInForm>) -> PageResult {
    let lang = i18n::of(&req);
    let form = posted.form;
    let next = next_page(&form.next).to_owned();
    let phone = match parse_phone(&form.phone) {
        Ok(phone) => phone,
        Err(e) => return Ok(back_to(&req, &next, Some(&refused(lang, e)?))),
    };
    let identity = app_data::<Identity>(&req)?.into_inner();
    let address = identity.config.proxies.client_ip(&req);
    let signed_in = identity
        .web_sign_in(&phone, form.code.trim(), &address, &posted.token)
        .await;
    let token = match signed_in {
        Ok(token) => token,
        Err(e) => return Ok(back_to(&req, &next, Some(&refused(lang, e)?))),
    };
    let mut response = HttpResponse::SeeOther();
    response.insert_header((actix_web::http::header::LOCATION, next));
    let secure = secure(&req);
    response.cookie(session::cookie(WEB_SESSION_COOKIE, token, secure, Some(30)));
    session::clear(&mut response, PHONE_COOKIE, secure);
    Ok(response.finish())
}

/// `POST /p/sign-out`: this browser's session ends.
pub async fn sign_out(req: HttpRequest, posted: PublicForm<SignOutForm>) -> PageResult {
    let next = next_page(&posted.form.next).to_owned();
    if let Some(token) = req.cookie(WEB_SESSION_COOKIE).map(|c| c.value().to_owned()) {
        let identity = app_data::<Identity>(&req)?.into_inner();
        let db = app_data::<platform::Db>(&req)?;
        db.run(move |conn| identity.end_web_session(conn, &token))
            .await?;
    }
    let mut response = HttpResponse::SeeOther();
    response.insert_header((actix_web::http::header::LOCATION, next));
    session::clear(&mut response, WEB_SESSION_COOKIE, secure(&req));
    Ok(response.finish())
}

/// A "sign out" button for a page of the flow.
pub fn sign_out_button(lang: Lang, token: &FormToken, next: &str) -> Markup {
    html! {
        form method="post" action="/p/sign-out" id="sign-out" {
            (token.field())
            input type="hidden" name="next" value=(next);
            button.link type="submit" { (lang.t("退出登录", "Sign out")) }
        }
    }
}

/// Under the `/p` scope of the public forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/code", web::post().to(send_code))
        .route("/sign-in", web::post().to(sign_in))
        .route("/sign-out", web::post().to(sign_out));
}
