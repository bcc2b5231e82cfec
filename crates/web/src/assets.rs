//! The console's stylesheet and scripts, compiled into the binary. Their URLs carry a hash of
//! the content, so browsers may keep them for a year and still never run an old copy.

use std::sync::LazyLock;

use actix_web::{web, HttpResponse};

const CSS: &str = include_str!("../assets/console.css");
const SCAN_JS: &str = include_str!("../assets/scan.js");
/// The QR decoder for browsers without `BarcodeDetector` (see assets/vendor/README.md).
const JSQR_JS: &str = include_str!("../assets/vendor/jsQR.js");

/// `/assets/console.<hash>.css`
pub static STYLESHEET: LazyLock<String> = LazyLock::new(|| url("console", "css", CSS));
/// `/assets/scan.<hash>.js`
pub static SCAN_SCRIPT: LazyLock<String> = LazyLock::new(|| url("scan", "js", SCAN_JS));
/// `/assets/jsqr.<hash>.js`
pub static QR_DECODER: LazyLock<String> = LazyLock::new(|| url("jsqr", "js", JSQR_JS));

fn url(name: &str, ext: &str, content: &str) -> String {
    let hash = &platform::crypto::sha256_hex(content.as_bytes())[..12];
    format!("/assets/{name}.{hash}.{ext}")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        STYLESHEET.as_str(),
        web::get().to(|| serve("text/css; charset=utf-8", CSS)),
    )
    .route(
        SCAN_SCRIPT.as_str(),
        web::get().to(|| serve("text/javascript; charset=utf-8", SCAN_JS)),
    )
    .route(
        QR_DECODER.as_str(),
        web::get().to(|| serve("text/javascript; charset=utf-8", JSQR_JS)),
    );
}

async fn serve(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(body)
}
