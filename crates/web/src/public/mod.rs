//! The public pages a phone's camera or WeChat opens from a printed QR code: a join poster
//! (`/j/{code}`) and a station door (`/s/{id}`). They are documented in the OpenAPI document
//! with the routes the app calls, since posters already printed point at them for good.

pub mod door;
pub mod join;

use door::{__path_door_landing, door_landing};
use join::{__path_poster_landing, poster_landing};

platform::api! {
    /// The public pages' part of the OpenAPI document.
    pub struct ApiDoc {}

    pub fn routes {
        poster_landing,
        door_landing,
    }
}
