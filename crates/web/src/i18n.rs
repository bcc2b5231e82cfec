//! Language of the pages: zh-CN unless the visitor switched to English (a cookie), so a staff
//! member's choice holds on every page without a parameter on every link.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
pub use platform::error::Lang;

pub const LANG_COOKIE: &str = "gu_lang";

/// The visitor's language: the switch's cookie, else zh-CN.
pub fn of(req: &HttpRequest) -> Lang {
    match req.cookie(LANG_COOKIE).as_ref().map(Cookie::value) {
        Some("en") => Lang::En,
        _ => Lang::ZhCn,
    }
}

/// The cookie the language switch sets.
pub fn cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    Cookie::build(LANG_COOKIE, code(lang))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}

/// `zh-CN` or `en`, for `<html lang>`.
pub fn html_lang(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhCn => "zh-CN",
        Lang::En => "en",
    }
}

fn code(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhCn => "zh",
        Lang::En => "en",
    }
}

/// Text in the visitor's language. Both texts sit where they are used, so a page reads in
/// one place and no key can be missing.
pub trait Pick {
    fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str;
}

impl Pick for Lang {
    fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::ZhCn => zh,
            Lang::En => en,
        }
    }
}
