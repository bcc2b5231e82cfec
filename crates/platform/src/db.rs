//! One database layer over SQLite (embedded, the default) and PostgreSQL (production).
//!
//! The backend is picked from the URL scheme by our own r2d2 manager: diesel's
//! `MultiConnection::establish` tries each backend in turn and would hide the real error.
//! Queries are synchronous diesel code; [`Db::run`] moves them onto the blocking pool so the
//! async executor never waits on the database.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};

/// A connection to either database. Query code is written once against this type.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path, from `sqlite://path` or `sqlite:path`.
    Sqlite(PathBuf),
    /// A libpq URL, `postgres://...` or `postgresql://...`.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> std::result::Result<Self, String> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(format!("DATABASE_URL {url:?} names no SQLite file"));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(format!(
            "DATABASE_URL {:?} is not supported: use sqlite://PATH or postgres://USER@HOST/DB",
            redact(url)
        ))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, DatabaseUrl::Sqlite(_))
    }
}

/// Hides the password of a URL for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens connections for the pool and prepares each one.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

/// Sets up a new SQLite connection. busy_timeout makes writers queue instead of failing;
/// synchronous=FULL makes every commit durable across power loss; secure_delete overwrites
/// what is deleted, so an erased member's data does not linger in free pages of the file
/// (PIPL Art. 47); WAL lets readers run beside the writer.
fn prepare_sqlite(conn: &mut diesel::SqliteConnection) -> diesel::QueryResult<()> {
    conn.batch_execute(
        "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; \
         PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
    )?;
    // WAL is kept in the file once set. On a fresh file the first connections of a start-up
    // race to switch it, and SQLite answers the losers "database is locked" at once, without
    // waiting on the busy timeout: so they try again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL") {
            Err(DieselError::DatabaseError(_, info))
                if info.message().contains("locked") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            done => return done,
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = ConnectionError;

    fn connect(&self) -> std::result::Result<DbConn, ConnectionError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                stable_sqlite_plans();
                let path = path.to_str().ok_or_else(|| {
                    ConnectionError::InvalidConnectionUrl("non UTF-8 path".into())
                })?;
                let mut conn = diesel::SqliteConnection::establish(path)?;
                prepare_sqlite(&mut conn).map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = diesel::PgConnection::establish(url)?;
                conn.batch_execute("SET TIME ZONE 'UTC'")
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Postgres(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> std::result::Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        <DbConn as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

/// Turns on SQLite's query planner stability guarantee for every connection this process opens.
///
/// Without it the planner peeks at bound values (`LIMIT ?`, or `status = ?` matched against a
/// partial index) and marks the statement to be recompiled whenever that parameter is bound
/// again, which is every execution: a cached statement was re-parsed on each use, the largest
/// single cost of a gift-pack claim in profiles. With it, plans never depend on bound values,
/// so lookups that used to lean on a partial index have plain indexes of their own.
///
/// diesel does not expose the raw handle, so this uses SQLite's auto-extension hook, which runs
/// for each connection as it opens.
fn stable_sqlite_plans() {
    use libsqlite3_sys as ffi;
    use std::os::raw::{c_char, c_int};

    unsafe extern "C" fn on_open(
        db: *mut ffi::sqlite3,
        _error: *mut *mut c_char,
        _api: *const ffi::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: `db` is the connection SQLite is opening; ENABLE_QPSG takes an int and an
        // optional int pointer for the resulting setting.
        unsafe {
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            )
        }
    }

    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a function with the signature SQLite expects; it stays valid for
        // the life of the process.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(on_open)) };
        if rc != ffi::SQLITE_OK {
            tracing::warn!(rc, "cannot enable SQLite's stable query plans");
        }
    });
}

/// How long a request waits for a connection while the database answers.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// How long it waits once a wait has run out: the pool keeps reconnecting in the background,
/// so a short look is enough to notice the database is back, and meanwhile a rider hears 503 at
/// once instead of after five seconds.
const WAIT_WHILE_DOWN: Duration = Duration::from_millis(250);

/// The shared handle: a connection pool plus which backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    sqlite: bool,
    /// The last wait for a connection ran out (set) or one was had since (clear).
    down: Arc<AtomicBool>,
    /// The app's time, in force during every call of [`Db::run`].
    clock: Clock,
}

/// A connection from `pool`, waiting the full timeout only while the database is not known to
/// be away (see [`WAIT_WHILE_DOWN`]).
fn checkout(
    pool: &r2d2::Pool<Manager>,
    down: &AtomicBool,
) -> std::result::Result<r2d2::PooledConnection<Manager>, r2d2::Error> {
    let wait = if down.load(Ordering::Relaxed) {
        WAIT_WHILE_DOWN
    } else {
        CONNECTION_TIMEOUT
    };
    let got = pool.get_timeout(wait);
    down.store(got.is_err(), Ordering::Relaxed);
    got
}

impl Db {
    /// Opens a pool. SQLite files get their directory created.
    pub fn connect(url: &str) -> anyhow::Result<Db> {
        let url = DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?;
        if let DatabaseUrl::Sqlite(path) = &url {
            create_parent_dir(path)?;
        }
        let sqlite = url.is_sqlite();
        // SQLite has one writer at a time, so a large pool only adds lock waits.
        let max_size = if sqlite { 8 } else { 16 };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(1))
            .connection_timeout(CONNECTION_TIMEOUT)
            .build(Manager { url })
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        Ok(Db {
            pool,
            sqlite,
            down: Arc::default(),
            clock: Clock::default(),
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// The time of the app this database serves: every use case reads it (see
    /// [`crate::clock`]); a test moves it with [`Clock::advance`].
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Applies the embedded migrations of this backend; returns how many ran.
    pub fn migrate(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get()?;
        let source = if self.sqlite {
            SQLITE_MIGRATIONS
        } else {
            POSTGRES_MIGRATIONS
        };
        let applied = conn
            .run_pending_migrations(source)
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        Ok(applied.len())
    }

    /// A pooled connection for synchronous callers (CLI, tests). Request handlers use [`Db::run`].
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>> {
        Ok(checkout(&self.pool, &self.down)?)
    }

    /// Runs diesel code on the blocking pool with a pooled connection.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (pool, down, clock) = (self.pool.clone(), self.down.clone(), self.clock.clone());
        actix_web::web::block(move || {
            let mut conn = checkout(&pool, &down)?;
            clock.during(|| f(&mut conn))
        })
        .await?
    }

    /// Runs `f` in a write transaction ([`write_tx`]) on the blocking pool: what every
    /// handler that changes something calls.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| write_tx(conn, f)).await
    }

    /// This database's own namespace for keys kept in Redis, chosen at random when it was
    /// created: two databases (a fresh one after an old one, a restore, a test run) sharing a
    /// Redis never read each other's marks, limits or sessions.
    pub fn deployment_id(&self) -> anyhow::Result<String> {
        let mut conn = self.get().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(crate::schema::deployment::table
            .select(crate::schema::deployment::id)
            .first(&mut conn)?)
    }

    /// Answers whether the database is reachable right now.
    pub async fn ping(&self) -> Result<()> {
        self.run(|conn| {
            conn.batch_execute("SELECT 1").map_err(Error::unavailable)?;
            Ok(())
        })
        .await
    }
}

fn create_parent_dir(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Runs `f` in a transaction that takes the write lock up front.
///
/// On SQLite a plain `BEGIN` starts as a reader; upgrading to a writer after another connection
/// committed fails at once with SQLITE_BUSY instead of waiting. `BEGIN IMMEDIATE` queues on the
/// busy timeout instead. PostgreSQL uses an ordinary transaction; row locks and conditional
/// updates give the same guarantees there.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> std::result::Result<T, E>
where
    F: FnOnce(&mut DbConn) -> std::result::Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        DbConn::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?
        }
        DbConn::Postgres(inner) => AnsiTransactionManager::begin_transaction(inner)?,
    }
    type Tm = <DbConn as Connection>::TransactionManager;
    match f(conn) {
        Ok(value) => {
            Tm::commit_transaction(conn)?;
            Ok(value)
        }
        Err(user_error) => match Tm::rollback_transaction(conn) {
            Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(user_error),
            Err(rollback_error) => Err(rollback_error.into()),
        },
    }
}

/// Inserts a batch of rows (a `Vec` of `Copy` value tuples) into `$table`: one multi-row
/// statement on PostgreSQL (one round trip), a cached statement per row on SQLite (in-process,
/// nothing to save). diesel's `MultiConnection` cannot run a multi-row insert itself.
/// `returning $columns` gives each row's columns back (`QueryResult<Vec<_>>`); without it the
/// result is the `QueryResult<usize>` of rows written.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr, returning $columns:expr) => {{
        let rows = $rows;
        match $conn {
            _ if rows.is_empty() => Ok(Vec::new()),
            $crate::DbConn::Postgres(pg) => ::diesel::RunQueryDsl::get_results(
                ::diesel::insert_into($table)
                    .values(&rows)
                    .returning($columns),
                pg,
            ),
            $crate::DbConn::Sqlite(lite) => rows
                .iter()
                .map(|row| {
                    ::diesel::RunQueryDsl::get_result(
                        ::diesel::insert_into($table)
                            .values(*row)
                            .returning($columns),
                        lite,
                    )
                })
                .collect::<::diesel::QueryResult<Vec<_>>>(),
        }
    }};
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        match $conn {
            _ if rows.is_empty() => Ok(0),
            $crate::DbConn::Postgres(pg) => {
                ::diesel::RunQueryDsl::execute(::diesel::insert_into($table).values(&rows), pg)
            }
            $crate::DbConn::Sqlite(lite) => rows.iter().try_fold(0, |written, row| {
                ::diesel::RunQueryDsl::execute(::diesel::insert_into($table).values(*row), lite)
                    .map(|n| written + n)
            }),
        }
    }};
}

/// The error of a write that names the caller's account: a foreign-key failure there means the
/// account is gone while its access token still verifies, so the caller is nobody (401), not
/// a fault of ours.
pub fn caller_gone(e: DieselError) -> Error {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            Error::new(ErrorCode::Unauthenticated).with_cause(anyhow::anyhow!("{e}"))
        }
        e => e.into(),
    }
}

/// True when a diesel error is a unique-constraint violation (portable `ON CONFLICT` stand-in).
pub fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh start opens several connections at once (the pool, the stations index readers,
    /// the background tasks): none may fail with "database is locked" while another one turns
    /// the new file to WAL.
    #[test]
    fn connections_opened_together_on_a_fresh_file_all_succeed() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let manager = std::sync::Arc::new(Manager {
                url: DatabaseUrl::Sqlite(dir.path().join(format!("fresh-{round}.db"))),
            });
            let opened: Vec<_> = (0..12)
                .map(|_| {
                    let manager = manager.clone();
                    std::thread::spawn(move || {
                        r2d2::ManageConnection::connect(&*manager).map(|_| ())
                    })
                })
                .collect();
            for handle in opened {
                let result = handle.join().unwrap();
                assert!(result.is_ok(), "round {round}: {result:?}");
            }
        }
    }

    #[test]
    fn urls_pick_the_backend_or_explain_why_not() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/gigunion.db").unwrap(),
            DatabaseUrl::Sqlite("data/gigunion.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert!(DatabaseUrl::parse("postgres://u@localhost/db").is_ok());
        let err = DatabaseUrl::parse("mysql://root:hunter2@localhost/db").unwrap_err();
        assert!(err.contains("not supported"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn sqlite_connections_are_durable_and_enforce_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display())).unwrap();
        assert!(db.migrate().unwrap() > 0);
        let mut conn = db.get().unwrap();
        #[derive(QueryableByName)]
        struct Pragma {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let read = |conn: &mut DbConn, sql: &str| -> String {
            diesel::sql_query(sql).get_result::<Pragma>(conn).unwrap().v
        };
        assert_eq!(
            read(
                &mut conn,
                "SELECT journal_mode AS v FROM pragma_journal_mode"
            ),
            "wal"
        );
        assert_eq!(
            read(
                &mut conn,
                "SELECT CAST(foreign_keys AS TEXT) AS v FROM pragma_foreign_keys"
            ),
            "1"
        );
        // synchronous: 2 = FULL.
        assert_eq!(
            read(
                &mut conn,
                "SELECT CAST(synchronous AS TEXT) AS v FROM pragma_synchronous"
            ),
            "2"
        );
        assert_eq!(
            read(
                &mut conn,
                "SELECT CAST(secure_delete AS TEXT) AS v FROM pragma_secure_delete"
            ),
            "1"
        );
    }

    #[test]
    fn every_sqlite_connection_gets_stable_plans() {
        use libsqlite3_sys as ffi;
        stable_sqlite_plans();
        // A connection opened behind diesel's back gets it too: the hook is per process.
        let mut db = std::ptr::null_mut();
        let mut setting: std::os::raw::c_int = -1;
        // SAFETY: an in-memory database opened, queried and closed right here.
        unsafe {
            assert_eq!(
                ffi::sqlite3_open(c":memory:".as_ptr(), &mut db),
                ffi::SQLITE_OK
            );
            ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_ENABLE_QPSG, -1, &mut setting);
            ffi::sqlite3_close(db);
        }
        assert_eq!(setting, 1);
    }
}
