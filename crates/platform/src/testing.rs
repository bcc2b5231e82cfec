//! Support for the domain crates' unit tests (feature `testing`, enabled by their
//! dev-dependencies only): a migrated SQLite database of a test's own, and the account rows
//! every domain's rows refer to.

use diesel::prelude::*;

use crate::schema::accounts as a;
use crate::{Db, DbConn};

/// A migrated SQLite file of its own, removed when the test ends.
pub struct ScratchDb {
    _dir: tempfile::TempDir,
    pub db: Db,
}

impl ScratchDb {
    pub fn new() -> ScratchDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .expect("open scratch database");
        db.migrate().expect("migrate scratch database");
        ScratchDb { _dir: dir, db }
    }
}

impl Default for ScratchDb {
    fn default() -> Self {
        ScratchDb::new()
    }
}

/// An account row `n` with no phone or password: enough for rows that refer to an account.
pub fn account(conn: &mut DbConn, n: i64) -> i64 {
    let at = crate::clock::now();
    diesel::insert_into(a::table)
        .values((
            a::phone_hash.eq(format!("hash-{n}")),
            a::phone_enc.eq(""),
            a::password_hash.eq("!"),
            a::is_admin.eq(false),
            a::created_at.eq(at),
            a::password_changed_at.eq(at),
        ))
        .returning(a::id)
        .get_result(conn)
        .expect("insert a scratch account")
}
