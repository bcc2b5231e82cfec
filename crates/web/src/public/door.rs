//! The page a station door's QR opens (`/s/{id}?c={door code}`), in the phone's browser of a
//! rider without our app: whether the station is open and, if not, why; today's hours; what it
//! offers; unresolved fault reports; navigation; and, once signed in by SMS code on the page,
//! check-in and a fault report.
//!
//! The two forms ([`forms`]) call the API's own use cases (`visits::check_in`,
//! `feedback::report`) and answer 303 back here with a one-time note of what they did. The rest
//! of the page is worked out from the server's state, so a reload is safe and a form sent twice
//! harmless (a second check-in within half an hour is "already counted").

mod forms;
mod view;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use platform::error::Problem;
use platform::{Db, Error, ErrorCode};
use stations::station::{self, StationView};
use stations::vocab::StationStatus;

use crate::errors;
use crate::i18n::{self, Lang, Pick};
use crate::layout;
use crate::public::session::{self, FormToken, Worker};
use crate::public::sign_in;
use crate::session::app_data;

pub use forms::routes;

/// The page a phone's camera or WeChat opens from a door QR (`/s/{id}?c=...`): the station,
/// open now or not and why, today's hours (Asia/Shanghai), amenities, unresolved fault reports,
/// Amap and Baidu navigation; check-in with the door code and a fault report for a rider signed
/// in by SMS code on the page (the forms post to `/p/door/{id}/check-in` and
/// `/p/door/{id}/report`, the same use cases as `POST /v1/stations/{id}/visits` and
/// `POST /v1/stations/{id}/feedback`).
#[utoipa::path(get, path = "/s/{id}", tag = "stations",
    params(("id" = i64, Path, description = "The station"),
        ("c" = Option<String>, Query, description = "The door code the QR carries; check-in needs it")),
    responses((status = 200, content_type = "text/html", description = "The station's door page"),
        (status = 404, description = "Unknown station: a page, or a problem for an id that is no number",
            content(("text/html"), (Problem = "application/problem+json")))))]
pub async fn door_landing(req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let lang = i18n::of(&req);
    let token = FormToken::of(&req);
    let code = door_code(&req);
    let response = match page(&req, lang, &token, id.into_inner(), code.as_deref()).await {
        Ok(response) => response,
        Err(e) => refusal(lang, &e),
    };
    session::page(&req, &token, response)
}

/// The `c` of the query, if any: read by hand, so a mangled query is a page without a code
/// rather than an error.
fn door_code(req: &HttpRequest) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "c")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The page's own path with its code: where its forms, the sign-in and the language switch
/// come back to.
fn here(id: i64, code: Option<&str>) -> String {
    match code {
        Some(code) => {
            let code: String = form_urlencoded::byte_serialize(code.as_bytes()).collect();
            format!("/s/{id}?c={code}")
        }
        None => format!("/s/{id}"),
    }
}

async fn page(
    req: &HttpRequest,
    lang: Lang,
    token: &FormToken,
    id: i64,
    code: Option<&str>,
) -> Result<HttpResponse, Error> {
    let worker = session::worker(req).await?;
    let db = app_data::<Db>(req)?;
    // The station as `GET /v1/stations/{id}` shows it, and the count of open fault reports
    // behind its `flagged` (on the row, not in the public view).
    let (station, open_faults, today) = db
        .run(move |conn| {
            let now = platform::clock::now_utc();
            let row = station::get(conn, id)?;
            let today = platform::clock::local(now).date();
            Ok((row.view(conn, now)?, row.open_faults, today))
        })
        .await?;
    let here = here(id, code);
    let note = session::take_note(req);
    let body = html! {
        div.panel.h5.door data-status=(station.status.as_str()) data-open=(station.open_now) {
            @if let Some(note) = note { (forms::note(lang, &note)) }
            (view::heading(lang, &station, today))
            (actions(lang, token, req, &station, code, worker.as_ref(), &here))
            (view::faults(lang, open_faults))
            (view::amenities(lang, &station.amenities))
            (view::navigation(lang, &station))
            @if worker.is_some() && station.status != StationStatus::Closed {
                (forms::report_form(lang, token, station.id, code))
            }
        }
        div.page-tools {
            (layout::language_switch(lang, &here))
            @if worker.is_some() { (sign_in::sign_out_button(lang, token, &here)) }
        }
    };
    Ok(layout::bare(StatusCode::OK, lang, &station.name, body))
}

/// What the rider can do here: check in (signed in, with the door's code, at a station that is
/// not closed), or sign in first; or why not.
fn actions(
    lang: Lang,
    token: &FormToken,
    req: &HttpRequest,
    station: &StationView,
    code: Option<&str>,
    worker: Option<&Worker>,
    here: &str,
) -> maud::Markup {
    let cannot = match station.status {
        StationStatus::Closed => Some(lang.t(
            "驿站已停止运营，不能签到。",
            "This station has closed for good: no check-in.",
        )),
        StationStatus::TemporarilyClosed => Some(lang.t(
            "驿站暂停开放，现在不能签到。",
            "This station is temporarily closed: no check-in for now.",
        )),
        StationStatus::Open if code.is_none() => Some(lang.t(
            "这个链接没有签到码：请扫描驿站门上的二维码签到。",
            "This link has no check-in code: scan the QR code on the station's door to check in.",
        )),
        StationStatus::Open => None,
    };
    let sign_in_first = |words: &str| {
        html! {
            div #sign-in-first {
                p { (words) }
                (sign_in::panel(lang, token, sign_in::phone_sent(req).as_ref(), here))
            }
        }
    };
    html! {
        section #check-in {
            h2 { (lang.t("到站签到", "Check in")) }
            @match (cannot, worker, code) {
                (Some(why), _, _) => p.cannot data-cannot="check-in" { (why) },
                (None, Some(_), Some(code)) => (forms::check_in_form(lang, token, station.id, code)),
                (None, _, _) => (sign_in_first(lang.t(
                    "用手机号登录后即可签到、报告问题，不用下载 App。",
                    "Sign in with your mobile number to check in or report a problem: no app needed."))),
            }
        }
        // A rider who cannot check in here may still report a problem, unless it closed for good.
        @if cannot.is_some() && worker.is_none() && station.status != StationStatus::Closed {
            section #report {
                h2 { (lang.t("报告问题", "Report a problem")) }
                (sign_in_first(lang.t("用手机号登录后可以报告问题，不用下载 App。",
                    "Sign in with your mobile number to report a problem: no app needed.")))
            }
        }
    }
}

/// An unknown station, or a failure: a page that says so.
fn refusal(lang: Lang, e: &Error) -> HttpResponse {
    let code = e.code();
    if code.status().is_server_error() {
        tracing::error!(error = ?e, "door page failed");
        return errors::public_page(e, lang);
    }
    let title = match code {
        ErrorCode::NotFound => lang.t("找不到驿站", "Station not found"),
        _ => lang.t("无法显示驿站", "Cannot show this station"),
    };
    let body = html! {
        div.panel.h5 {
            h1 { (title) }
            p.refusal data-code=(code.as_str()) { (code.detail(lang)) }
            p { (lang.t("请检查二维码是否完整，或向驿站工作人员询问。",
                "Check that the whole code was scanned, or ask the station's staff.")) }
        }
    };
    layout::bare(
        code.status(),
        lang,
        lang.t("工会驿站", "Union rest station"),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_comes_back_to_itself_with_its_code_escaped() {
        assert_eq!(here(12, Some("abcDEF_-12")), "/s/12?c=abcDEF_-12");
        assert_eq!(here(12, Some("a&b=c/d")), "/s/12?c=a%26b%3Dc%2Fd");
        assert_eq!(here(12, None), "/s/12");
        assert_eq!(sign_in::next_page(&here(12, Some("x"))), "/s/12?c=x");
    }
}
