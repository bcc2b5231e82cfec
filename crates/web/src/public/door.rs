//! The page a station door's QR opens.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use platform::error::Problem;
use platform::Db;
use stations::station;

use crate::i18n::{self, Pick};
use crate::layout;

/// The page a phone's camera or WeChat opens from a door QR (`/s/{id}?c=...`): which station it
/// is, and a pointer to the app, which checks in with the code.
#[utoipa::path(get, path = "/s/{id}", tag = "stations",
    responses((status = 200, content_type = "text/html", description = "Landing page of a door QR"),
        (status = 404, description = "Unknown station: a page, or a problem for an id that is no number",
            content(("text/html"), (Problem = "application/problem+json")))))]
pub async fn door_landing(req: HttpRequest, db: web::Data<Db>, id: web::Path<i64>) -> HttpResponse {
    let lang = i18n::of(&req);
    let id = id.into_inner();
    let found = db.run(move |conn| station::get(conn, id)).await;
    let (status, body) = match found {
        Ok(row) => (
            StatusCode::OK,
            html! {
                div.panel {
                    h1 { (row.name) }
                    p { (row.address) }
                    p { (lang.t("请打开工会 App 扫描此二维码签到。",
                        "Open the union app and scan this code to check in.")) }
                }
            },
        ),
        Err(e) => (
            e.code().status(),
            html! {
                div.panel {
                    h1 { (lang.t("找不到驿站", "Station not found")) }
                    p.refusal data-code=(e.code().as_str()) { (e.code().detail(lang)) }
                }
            },
        ),
    };
    layout::bare(status, lang, lang.t("工会驿站", "Union rest station"), body)
}
