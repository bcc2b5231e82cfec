//! The public pages a phone's camera or WeChat opens from a printed QR code: a join poster
//! (`/j/{code}`, the whole join flow for a rider without the app) and a station door
//! (`/s/{id}`). The two pages are documented in the OpenAPI document with the routes the app
//! calls, since posters already printed point at them for good; their forms post to `/p/...`.

pub mod door;
pub mod join;
pub mod session;
pub mod sign_in;

use actix_web::middleware::from_fn;
use actix_web::web;
use door::{__path_door_landing, door_landing};
use join::{__path_poster_landing, poster_landing};

use crate::errors;

platform::api! {
    /// The public pages' part of the OpenAPI document.
    pub struct ApiDoc {}

    pub fn documented_routes {
        poster_landing,
        door_landing,
    }
}

/// The public pages and the forms they post.
pub fn routes(cfg: &mut web::ServiceConfig) {
    documented_routes(cfg);
    cfg.service(
        web::scope("/p")
            .wrap(from_fn(errors::render_public))
            .configure(sign_in::routes)
            .configure(door::routes)
            .route("/join/real-name", web::post().to(join::give_real_name))
            .route("/join", web::post().to(join::join)),
    );
}
