//! The databases test apps run on.
//!
//! Every app gets a database of its own, already migrated: on PostgreSQL a clone of one
//! migrated template (`CREATE DATABASE .. TEMPLATE`, one per set of migrations, kept between
//! runs), on SQLite a copy of one migrated file made once per test process. Migrating every app
//! from nothing cost more than the tests themselves in the small ones.
//!
//! PostgreSQL databases are named after the test process (`gigunion_test_<pid>_<random>`), so
//! the first app of a run drops those whose process is gone: a run killed halfway leaves its
//! databases behind, and nothing else would ever remove them (the pattern crates.io's test
//! suite uses). That check reads this machine's process table, so it runs only when the server
//! is on this machine.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use platform::crypto::random_token;
use platform::Db;
use sha2::{Digest, Sha256};

/// A PostgreSQL database of a test, dropped with it.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// A new database with the current schema, cloned from the template.
    pub fn migrated(admin_url: &str) -> PgDatabase {
        let template = template(admin_url);
        PgDatabase::create(admin_url, "test", &format!("TEMPLATE \"{template}\""))
    }

    /// A new empty database, for tests where the apps migrate it themselves.
    pub fn empty(admin_url: &str) -> PgDatabase {
        template(admin_url); // the sweep runs once per process, before any database is made
        PgDatabase::create(admin_url, "shared", "")
    }

    fn create(admin_url: &str, purpose: &str, options: &str) -> PgDatabase {
        let random = random_token(6).to_lowercase().replace(['-', '_'], "x");
        let name = format!("gigunion_{purpose}_{}_{random}", std::process::id());
        let mut admin = admin(admin_url);
        // A clone fails while anyone is connected to the template, and a backend whose client
        // has just hung up can still count for a moment.
        retry_while_busy(|| admin.batch_execute(&format!("CREATE DATABASE \"{name}\" {options}")))
            .expect("create test database");
        PgDatabase {
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = drop_database(&mut admin, &self.name);
        }
    }
}

/// Puts a migrated SQLite database at `path`: a copy of one file migrated once per process.
pub fn sqlite_migrated(path: &Path) {
    static TEMPLATE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, template) = TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("template.db");
        migrate(&format!("sqlite://{}", file.display()));
        (dir, file)
    });
    std::fs::copy(template, path).expect("copy the migrated SQLite template");
}

/// Applies the migrations through a pool that is closed on return, so that nothing stays
/// connected (SQLite folds its WAL back into the file on the last close).
fn migrate(url: &str) {
    let db = Db::connect(url).expect("open the template database");
    db.migrate().expect("migrate the template database");
}

/// The name of the migrated template, created on first use by whichever run needs it first.
fn template(admin_url: &str) -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let name = format!("gigunion_tpl_{}", migrations_digest());
        let mut admin = admin(admin_url);
        if on_this_machine(admin_url) {
            sweep(&mut admin, &name);
        }
        // Runs of the suite in other processes may want the same template at the same moment:
        // one builds it under a lock, under another name, and renames it when it is complete.
        admin
            .batch_execute("SELECT pg_advisory_lock(2026120101)")
            .expect("template lock");
        if !database_exists(&mut admin, &name) {
            let building = format!("{name}_building");
            drop_database(&mut admin, &building).expect("drop a half-built template");
            admin
                .batch_execute(&format!("CREATE DATABASE \"{building}\""))
                .expect("create the template");
            migrate(&with_database(admin_url, &building));
            retry_while_busy(|| {
                admin.batch_execute(&format!(
                    "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                ))
            })
            .expect("rename the template");
        }
        admin
            .batch_execute("SELECT pg_advisory_unlock(2026120101)")
            .expect("template unlock");
        name
    })
}

/// Drops the test databases of processes that are gone, and templates of other migrations.
fn sweep(admin: &mut diesel::PgConnection, template: &str) {
    #[derive(QueryableByName)]
    struct Named {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let names: Vec<Named> = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'gigunion\\_test\\_%' \
         OR datname LIKE 'gigunion\\_shared\\_%' OR datname LIKE 'gigunion\\_tpl\\_%'",
    )
    .load(admin)
    .expect("list test databases");
    for Named { datname } in names {
        let stale = match datname.strip_prefix("gigunion_tpl_") {
            Some(_) => datname != template && !datname.ends_with("_building"),
            None => !owner_alive(&datname),
        };
        if stale {
            let _ = drop_database(admin, &datname);
        }
    }
}

/// Whether the process named in `gigunion_<purpose>_<pid>_<random>` still runs.
fn owner_alive(name: &str) -> bool {
    name.split('_')
        .nth(2)
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

fn on_this_machine(url: &str) -> bool {
    [
        "@127.0.0.1",
        "@localhost",
        "@[::1]",
        "://127.0.0.1",
        "://localhost",
    ]
    .iter()
    .any(|host| url.contains(host))
}

/// The digest of the PostgreSQL migrations, so a changed migration gets a new template.
fn migrations_digest() -> String {
    fn walk(dir: &Path, hasher: &mut Sha256) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read the migrations")
            .map(|e| e.expect("migration entry").path())
            .collect();
        entries.sort();
        for path in entries {
            hasher.update(path.file_name().unwrap().as_encoded_bytes());
            if path.is_dir() {
                walk(&path, hasher);
            } else {
                hasher.update(std::fs::read(&path).expect("read a migration"));
            }
        }
    }
    let mut hasher = Sha256::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres"),
        &mut hasher,
    );
    hex::encode(&hasher.finalize()[..6])
}

fn admin(admin_url: &str) -> diesel::PgConnection {
    diesel::PgConnection::establish(admin_url).expect("TEST_DATABASE_URL reachable")
}

fn database_exists(admin: &mut diesel::PgConnection, name: &str) -> bool {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    diesel::select(
        sql::<Bool>("EXISTS (SELECT 1 FROM pg_database WHERE datname = ")
            .bind::<Text, _>(name)
            .sql(")"),
    )
    .get_result(admin)
    .expect("look the template up")
}

fn drop_database(admin: &mut diesel::PgConnection, name: &str) -> QueryResult<()> {
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
}

fn retry_while_busy(mut f: impl FnMut() -> QueryResult<()>) -> QueryResult<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match f() {
            Err(e)
                if e.to_string().contains("being accessed by other users")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            done => return done,
        }
    }
}

/// The same server URL with another database name.
pub fn with_database(url: &str, name: &str) -> String {
    let (without_query, query) = match url.split_once('?') {
        Some((u, q)) => (u, Some(q)),
        None => (url, None),
    };
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    let base = match without_query[scheme_end..].find('/') {
        Some(slash) => &without_query[..scheme_end + slash],
        None => without_query,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
