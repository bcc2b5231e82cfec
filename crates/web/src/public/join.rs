//! The page a join poster's QR opens.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use membership::join_codes::{self, JoinCode};
use platform::Db;

use crate::i18n::{self, Pick};
use crate::layout;

/// The page a phone's ordinary camera or WeChat opens from a poster: says which union it is
/// and sends the rider to the app, which joins through `/v1/join/{code}`.
#[utoipa::path(get, path = "/j/{code}", tag = "membership",
    responses((status = 200, content_type = "text/html", description = "Landing page of a poster"),
        (status = 404, content_type = "text/html", description = "Unknown code"),
        (status = 409, content_type = "text/html", description = "Expired, used up or revoked code")))]
pub async fn poster_landing(
    req: HttpRequest,
    db: web::Data<Db>,
    code: web::Path<String>,
) -> HttpResponse {
    let lang = i18n::of(&req);
    let code = code.into_inner();
    let outcome = match JoinCode::parse(&code) {
        Ok(parsed) => db.run(move |conn| join_codes::preview(conn, &parsed)).await,
        Err(e) => Err(e),
    };
    let (status, body) = match outcome {
        Ok(preview) => (
            StatusCode::OK,
            html! {
                div.panel {
                    h1 { (preview.org.name) }
                    p { (preview.label) }
                    p { (lang.t("请打开工会 App 扫描此二维码完成入会。",
                        "Open the union app and scan this code to join.")) }
                }
            },
        ),
        Err(e) => (
            e.code().status(),
            html! {
                div.panel {
                    h1 { (lang.t("无法入会", "Cannot join with this code")) }
                    p.refusal data-code=(e.code().as_str()) { (e.code().detail(lang)) }
                }
            },
        ),
    };
    layout::bare(status, lang, lang.t("加入工会", "Join the union"), body)
}
