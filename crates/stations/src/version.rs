//! The stations version: one counter row that orders every change to stations.
//!
//! Every transaction that changes a station first bumps the one-row `stations_version` counter
//! and stamps the rows it writes with the new value. The counter row's lock orders those
//! transactions, so "the counter says N" means every change up to N is committed: an instance
//! that has loaded up to N only needs the rows stamped above N.

use diesel::prelude::*;
use platform::schema::stations_version as sv;
use platform::{DbConn, Result};

/// Takes the next stations version; call first in a write transaction (see the module doc).
pub fn bump_version(conn: &mut DbConn) -> Result<i64> {
    Ok(diesel::update(sv::table.find(1i16))
        .set(sv::version.eq(sv::version + 1))
        .returning(sv::version)
        .get_result(conn)?)
}

/// The latest committed stations version.
pub fn current_version(conn: &mut DbConn) -> Result<i64> {
    Ok(sv::table.find(1i16).select(sv::version).first(conn)?)
}
