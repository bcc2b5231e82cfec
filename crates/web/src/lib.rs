//! All of gigunion's HTML: the staff console under `/console`, and the public pages a phone's
//! camera opens from a poster (`/j/{code}`) or a station door (`/s/{id}`).
//!
//! Pages are rendered on the server with maud (templates are Rust, checked when compiled) and
//! posted as plain HTML forms, so they work on a cheap phone's browser with a flaky network.
//! Every page calls the same use-case functions as the JSON routes, with the same caller
//! (`AuthUser` and `Actor`), so scope checks and audit entries cannot differ from the API's.
//! CSS and the little JavaScript there is (the scan page's camera) are compiled into the binary,
//! and so is the font the print posters ([`posters`]) are drawn with.

pub mod assets;
pub mod charts;
pub mod console;
pub mod errors;
pub mod forms;
pub mod i18n;
pub mod labels;
pub mod layout;
pub mod posters;
pub mod public;
pub mod session;

use actix_web::web;

/// The web crate's part of the OpenAPI document: the public pages and the posters.
pub struct ApiDoc;

impl utoipa::OpenApi for ApiDoc {
    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = public::ApiDoc::openapi();
        doc.merge(posters::ApiDoc::openapi());
        doc
    }
}

/// Registers the public pages and the posters (documented in the OpenAPI document) and the
/// console.
pub fn routes(cfg: &mut web::ServiceConfig) {
    public::routes(cfg);
    posters::routes::routes(cfg);
    cfg.configure(assets::routes).configure(console::routes);
}
