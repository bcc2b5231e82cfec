//! What every domain crate shares: the error type, the database, the coordination layer,
//! protection of personal data, HTTP plumbing and idempotent POSTs.

pub mod api;
pub mod audit;
pub mod client_addr;
pub mod clock;
pub mod compression;
pub mod coord;
pub mod crypto;
pub mod csv;
pub mod csv_import;
pub mod csv_text;
pub mod db;
pub mod error;
pub mod extract;
pub mod files;
pub mod http;
pub mod idempotency;
pub mod memory;
pub mod money;
pub mod outbox;
pub mod pagination;
pub mod qr;
pub mod rights;
pub mod schema;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod vocab;

pub use coord::{Coordinator, Rate};
pub use db::{Db, DbConn};
pub use error::{Error, ErrorCode, Result};
