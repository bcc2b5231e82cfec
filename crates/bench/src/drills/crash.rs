//! The crash drill: under continuous claims, bookings and joins, `kill -9` the server (once in
//! the short form, twice in the full one), restart it on the same database while the clients
//! keep retrying to connect, and let the load run to its end. Then check, on SQLite and on
//! PostgreSQL (+ Redis):
//! - every request answered 2xx is in the database (voucher, booking and membership ids taken
//!   from the answers, with the right member);
//! - stock left + vouchers == initial stock, one voucher per member, and no more vouchers
//!   committed without an answer than requests were cut off by the kill;
//! - no session booked beyond capacity, and its counter equals its booking rows;
//! - a join code's use count equals the memberships made through it, within its maximum;
//! - every voucher and booking has its ledger row (written in the same commit);
//! - only the expected answers (no 5xx);
//! - the database's own integrity check: `PRAGMA integrity_check` (and foreign keys) on SQLite
//!   after every kill and at the end; amcheck's `bt_index_check` with `heapallindexed` over
//!   every index on PostgreSQL.
//!
//! The load is paced (a fixed schedule of requests per second per stream) so that all three
//! streams are in full swing whenever the kill comes, whatever the machine's speed; a kill
//! that finds a stream barely begun (a slow start) waits for it, up to the schedule's end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use hyper::Method;
use identity::tokens::TokenKeys;
use membership::join_codes::{self, NewJoinCode};
use platform::db::write_tx;
use platform::schema::{
    accounts as a, benefit_ledger as l, bookings as bk, health_sessions as hs, join_codes as jc,
    members as m, memberships as ms, programs as p, real_name_profiles as rn, vouchers as v,
};
use platform::Db;
use serde_json::{json, Value};

use super::{connect, send, Checks, Conn, DrillOptions, ScratchPg};
use crate::scenarios::flash_crowd::{self, ISSUER};
use crate::server::Server;

/// Sizes and timing of one run.
struct Plan {
    /// Seconds the schedule lasts (the load runs longer by the downtime).
    seconds: f64,
    claims_per_second: f64,
    joins_per_second: f64,
    /// When to kill, as fractions of the schedule.
    kills: &'static [f64],
}

impl Plan {
    fn new(short: bool) -> Plan {
        if short {
            Plan {
                seconds: 4.0,
                claims_per_second: 800.0,
                joins_per_second: 250.0,
                kills: &[0.4],
            }
        } else {
            Plan {
                seconds: 10.0,
                claims_per_second: 1_000.0,
                joins_per_second: 300.0,
                kills: &[0.3, 0.65],
            }
        }
    }

    /// How long the schedule lasts.
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }

    /// Members who claim and book; also the number of requests per stream.
    fn members(&self) -> usize {
        (self.seconds * self.claims_per_second) as usize
    }

    /// Packs in stock and seats in the session: a sixth of the members go without, so both
    /// sell out before the end and the refusals are exercised too.
    fn stock(&self) -> usize {
        self.members() * 5 / 6
    }

    fn joiners(&self) -> usize {
        (self.seconds * self.joins_per_second) as usize
    }

    /// The join code's maximum uses: a tenth of the joiners are refused.
    fn max_uses(&self) -> usize {
        self.joiners() * 9 / 10
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) async fn run(options: &DrillOptions) -> anyhow::Result<()> {
    let plan = Plan::new(options.short);
    println!(
        "== drill-crash ({}): {} members claim and book ({:.0}/s each), {} join ({:.0}/s); \
         {} packs, {} seats, join code for {}; kill -9 at {:?} of {:.0} s",
        if options.short { "short" } else { "full" },
        plan.members(),
        plan.claims_per_second,
        plan.joiners(),
        plan.joins_per_second,
        plan.stock(),
        plan.stock(),
        plan.max_uses(),
        plan.kills,
        plan.seconds
    );
    let mut failures = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let dir = tempfile::Builder::new()
            .prefix("gigunion-drill-crash")
            .tempdir()?;
        let checks = drill(options, &plan, backend, dir.path()).await;
        let outcome = checks.and_then(Checks::finish);
        if let Err(e) = outcome {
            let kept = std::env::temp_dir().join(format!(
                "gigunion-drill-crash-{}",
                if backend == Backend::Sqlite {
                    "sqlite"
                } else {
                    "postgres"
                }
            ));
            let _ = std::fs::remove_dir_all(&kept);
            let _ = std::fs::create_dir_all(&kept);
            for entry in std::fs::read_dir(dir.path())?.flatten() {
                if entry.path().extension().is_some_and(|e| e == "log") {
                    let _ = std::fs::copy(entry.path(), kept.join(entry.file_name()));
                }
            }
            eprintln!("error: {e:#}\nserver logs kept in {}", kept.display());
            failures.push(format!("{e:#}"));
        }
    }
    if !failures.is_empty() {
        bail!("drill-crash failed: {}", failures.join(" | "));
    }
    Ok(())
}

async fn drill(
    options: &DrillOptions,
    plan: &Plan,
    backend: Backend,
    dir: &Path,
) -> anyhow::Result<Checks> {
    let label = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL + Redis",
    };
    println!("\n-- on {label}");
    let sqlite_file = dir.join("crash.db");
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            super::require_redis(&options.redis_url).await?;
            Some(ScratchPg::create(&options.pg_url, "crash")?)
        }
    };
    let database_url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", sqlite_file.display()),
    };
    let db = Db::connect(&database_url)?;
    db.migrate()?;
    let data_dir = dir.join("data");
    let started = Instant::now();
    let setup = flash_crowd::prepare(&db, &data_dir, plan.members(), plan.stock())?;
    let keys = TokenKeys::load(&data_dir.join("jwt-ed25519.pem"), true)?;
    let joiners = prepare_joiners(&db, &keys, plan.joiners(), plan.max_uses())?;
    let crowd = crowd_accounts(&db)?;
    println!("prepared in {:.1} s", started.elapsed().as_secs_f64());

    let mut env = vec![
        ("DATABASE_URL", database_url.clone()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("PUBLIC_BASE_URL", ISSUER.to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    if backend == Backend::Postgres {
        env.push(("REDIS_URL", options.redis_url.clone()));
    }
    let log = |n: usize| dir.join(format!("server-{n}.log"));
    let mut server = Server::start(&options.server, &env, &log(0)).await?;
    let target = Arc::new(Target {
        addr: RwLock::new(server.addr),
    });

    let streams = [
        Arc::new(Stream::new(
            "claims",
            setup
                .tokens
                .iter()
                .map(|t| Call {
                    path: format!("/v1/programs/{}/claims", setup.gift_program),
                    token: t.clone(),
                    body: None,
                })
                .collect(),
            plan.claims_per_second,
        )),
        Arc::new(Stream::new(
            "bookings",
            setup
                .tokens
                .iter()
                .map(|t| Call {
                    path: format!("/v1/sessions/{}/bookings", setup.session),
                    token: t.clone(),
                    body: Some(json!({})),
                })
                .collect(),
            plan.claims_per_second,
        )),
        Arc::new(Stream::new(
            "joins",
            joiners
                .tokens
                .iter()
                .map(|t| Call {
                    path: "/v1/memberships".to_owned(),
                    token: t.clone(),
                    body: Some(json!({
                        "join_code": joiners.code, "occupation": "rider",
                        "platform": "美团", "work_city": "南京",
                    })),
                })
                .collect(),
            plan.joins_per_second,
        )),
    ];
    let load_started = Instant::now();
    let mut workers = Vec::new();
    for stream in &streams {
        for _ in 0..16 {
            let (stream, target) = (stream.clone(), target.clone());
            workers.push(tokio::spawn(async move {
                stream.worker(&target, load_started).await
            }));
        }
    }

    let mut kills = Vec::new();
    let mut integrity = Vec::new();
    for (n, at) in plan.kills.iter().enumerate() {
        let when = load_started + Duration::from_secs_f64(plan.seconds * at);
        tokio::time::sleep_until(when.into()).await;
        let progress = progress_in_swing(&streams, load_started + plan.duration()).await;
        let at_seconds = load_started.elapsed().as_secs_f64();
        // Dropping the server sends SIGKILL (std's Child::kill), i.e. `kill -9`, then reaps it.
        drop(server);
        let killed = Instant::now();
        integrity.push(check_integrity(backend, &sqlite_file, &database_url).await);
        server = Server::start(&options.server, &env, &log(n + 1)).await?;
        *target.addr.write().unwrap_or_else(|p| p.into_inner()) = server.addr;
        let down = killed.elapsed().as_secs_f64();
        let ready = server.ready_after.as_secs_f64();
        println!(
            "kill -9 #{} at {at_seconds:.1} s ({}); down {down:.2} s, of which the restart took {ready:.2} s",
            n + 1,
            streams
                .iter()
                .zip(&progress)
                .map(|(s, (done, all))| format!("{} {done}/{all}", s.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
        kills.push(Kill {
            at_seconds,
            progress,
            down,
            ready,
        });
    }
    for worker in workers {
        worker.await??;
    }
    println!("load done in {:.1} s", load_started.elapsed().as_secs_f64());

    let found = {
        let db = db.clone();
        let streams = streams.clone();
        let ids = Ids {
            program: setup.gift_program,
            session: setup.session,
            join_code: joiners.code_id,
            crowd,
            joiners: joiners.accounts.clone(),
        };
        tokio::task::spawn_blocking(move || inspect(&db, &ids, &streams)).await??
    };
    drop(server);
    integrity.push(check_integrity(backend, &sqlite_file, &database_url).await);
    drop(db);
    drop(pg);

    let mut checks = Checks::new(format!("drill-crash on {label}"));
    report(&mut checks, plan, &streams, &kills, &found, &integrity);
    Ok(checks)
}

/// Where the server currently listens; clients reconnect here after a restart.
struct Target {
    addr: RwLock<SocketAddr>,
}

impl Target {
    async fn connect(&self) -> anyhow::Result<Conn> {
        let since = Instant::now();
        loop {
            let addr = *self.addr.read().unwrap_or_else(|p| p.into_inner());
            match connect(addr).await {
                Ok(conn) => return Ok(conn),
                Err(e) if since.elapsed() > Duration::from_secs(90) => {
                    return Err(e.context("the server did not come back within 90 s"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
}

struct Call {
    path: String,
    token: String,
    body: Option<Value>,
}

/// What came of one request.
#[derive(Clone)]
enum Outcome {
    Answered {
        status: u16,
        code: String,
        /// `id` of a 2xx answer.
        id: Option<i64>,
    },
    /// The connection broke before an answer: the kill came in between.
    Lost,
}

/// One kind of request, each sent once, on a fixed schedule.
struct Stream {
    name: &'static str,
    calls: Vec<Call>,
    per_second: f64,
    next: AtomicUsize,
    outcomes: Mutex<Vec<Option<Outcome>>>,
    done: AtomicUsize,
}

impl Stream {
    fn new(name: &'static str, calls: Vec<Call>, per_second: f64) -> Stream {
        let n = calls.len();
        Stream {
            name,
            calls,
            per_second,
            next: AtomicUsize::new(0),
            outcomes: Mutex::new(vec![None; n]),
            done: AtomicUsize::new(0),
        }
    }

    /// Requests finished so far (answered or lost).
    fn answered(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    fn outcomes(&self) -> Vec<Option<Outcome>> {
        self.outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn worker(&self, target: &Target, started: Instant) -> anyhow::Result<()> {
        let mut conn: Option<Conn> = None;
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(call) = self.calls.get(i) else {
                return Ok(());
            };
            let due = started + Duration::from_secs_f64(i as f64 / self.per_second);
            tokio::time::sleep_until(due.into()).await;
            let mut live = match conn.take() {
                Some(c) if !c.is_closed() => c,
                _ => target.connect().await?,
            };
            let answer = send(
                &mut live,
                Method::POST,
                &call.path,
                Some(&call.token),
                call.body.as_ref(),
                &[],
            )
            .await;
            let outcome = match answer {
                Ok(answer) => {
                    conn = Some(live);
                    Outcome::Answered {
                        status: answer.status,
                        // Problem codes only: 2xx bodies have codes of their own (QR codes).
                        code: if answer.status >= 400 {
                            answer.code().to_owned()
                        } else {
                            String::new()
                        },
                        id: answer.body["id"].as_i64(),
                    }
                }
                Err(_) => Outcome::Lost,
            };
            self.outcomes.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
            self.done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Kill {
    at_seconds: f64,
    /// (finished, all) per stream when the kill came.
    progress: Vec<(usize, usize)>,
    /// Seconds from the kill to serving again (the integrity check runs in between)...
    down: f64,
    /// ... and of those, from spawning the new process to its first `/readyz` 200.
    ready: f64,
}

struct Joiners {
    code: String,
    code_id: i64,
    accounts: Vec<i64>,
    tokens: Vec<String>,
}

/// Accounts with a real-name profile and no membership yet, and an auto-approving join code
/// of the crowd's org for `max_uses` of them.
fn prepare_joiners(
    db: &Db,
    keys: &TokenKeys,
    count: usize,
    max_uses: usize,
) -> anyhow::Result<Joiners> {
    let org = super::crowd_org(db)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = Utc::now().naive_utc();
    let (code, accounts) = write_tx(&mut conn, |conn| {
        let staff: i64 = a::table
            .filter(a::is_admin.eq(true))
            .select(a::id)
            .first(conn)?;
        let code = join_codes::create(
            conn,
            NewJoinCode {
                org_id: org,
                label: "驿站海报（演练）".into(),
                expires_at: None,
                max_uses: Some(max_uses as i32),
                auto_approve: true,
                created_by: staff,
            },
        )?;
        let mut accounts = Vec::with_capacity(count);
        let policy = identity::IdentityConfig::new("").consent_policy;
        for i in 0..count {
            let id: i64 = diesel::insert_into(a::table)
                .values((
                    a::phone_hash.eq(format!("drill-join-{i}")),
                    a::phone_enc.eq("-"),
                    a::password_hash.eq("-"),
                    a::is_admin.eq(false),
                    a::created_at.eq(now),
                    a::password_changed_at.eq(now),
                ))
                .returning(a::id)
                .get_result(conn)?;
            diesel::insert_into(rn::table)
                .values((
                    rn::account_id.eq(id),
                    rn::legal_name.eq("演练骑手"),
                    rn::id_number_enc.eq("-"),
                    rn::id_number_hash.eq(format!("drill-id-{i}")),
                    rn::id_number_masked.eq("320***********000X"),
                    rn::consent_at.eq(now),
                    rn::consent_policy.eq(&policy),
                    rn::updated_at.eq(now),
                ))
                .execute(conn)?;
            // Joining needs consent to the policy the server asks for.
            identity::personal_data::give_consent(
                conn,
                id,
                identity::personal_data::REAL_NAME,
                &policy,
            )?;
            accounts.push(id);
        }
        Ok::<_, platform::Error>((code, accounts))
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tokens = accounts
        .iter()
        .map(|&id| flash_crowd::worker_token(keys, id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Joiners {
        code: code.code.as_str().to_owned(),
        code_id: code.id,
        accounts,
        tokens,
    })
}

/// The crowd's account ids in the order of its tokens (created one after another).
fn crowd_accounts(db: &Db) -> anyhow::Result<Vec<i64>> {
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(a::table
        .filter(a::phone_hash.like("bench-%"))
        .select(a::id)
        .order(a::id)
        .load(&mut conn)?)
}

struct Ids {
    program: i64,
    session: i64,
    join_code: i64,
    crowd: Vec<i64>,
    joiners: Vec<i64>,
}

/// What the database holds, compared with what the clients were told.
#[derive(Default)]
struct Found {
    /// Per stream: 2xx answers, how many of those the database has (with the right member),
    /// rows in the database, requests lost to the kill.
    acked: [usize; 3],
    present: [usize; 3],
    rows: [usize; 3],
    lost: [usize; 3],
    /// Answers by `status code`, per stream.
    answers: [BTreeMap<String, usize>; 3],
    stock_left: i64,
    members_with_two_vouchers: usize,
    capacity: i64,
    booked_counter: i64,
    members_with_two_bookings: usize,
    code_uses: i64,
    code_max_uses: i64,
    active_without_number: usize,
    vouchers_without_ledger: usize,
    bookings_without_ledger: usize,
}

fn inspect(db: &Db, ids: &Ids, streams: &[Arc<Stream>; 3]) -> anyhow::Result<Found> {
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let vouchers: HashMap<i64, i64> = v::table
        .filter(v::program_id.eq(ids.program))
        .select((v::id, v::account_id))
        .load::<(i64, i64)>(&mut conn)?
        .into_iter()
        .collect();
    let bookings: HashMap<i64, i64> = bk::table
        .filter(bk::session_id.eq(ids.session))
        .filter(bk::status.eq("booked"))
        .select((bk::id, bk::account_id))
        .load::<(i64, i64)>(&mut conn)?
        .into_iter()
        .collect();
    let memberships: HashMap<i64, i64> = ms::table
        .filter(ms::join_code_id.eq(ids.join_code))
        .filter(ms::status.eq("active"))
        .select((ms::id, ms::account_id))
        .load::<(i64, i64)>(&mut conn)?
        .into_iter()
        .collect();
    let numbered: HashSet<i64> = m::table
        .filter(m::account_id.eq_any(memberships.values().copied().collect::<Vec<_>>()))
        .select(m::account_id)
        .load::<i64>(&mut conn)?
        .into_iter()
        .collect();
    let ledger = |kind: &str, conn: &mut platform::DbConn| -> anyhow::Result<HashSet<i64>> {
        Ok(l::table
            .filter(l::program_id.eq_any([ids.program, program_of_session(conn, ids.session)?]))
            .filter(l::kind.eq(kind))
            .select(l::ref_id)
            .load::<Option<i64>>(conn)?
            .into_iter()
            .flatten()
            .collect())
    };
    let claimed = ledger("claimed", &mut conn)?;
    let booked = ledger("booked", &mut conn)?;
    let stock_left: Option<i32> = p::table
        .find(ids.program)
        .select(p::stock_left)
        .first(&mut conn)?;
    let (capacity, booked_counter): (i32, i32) = hs::table
        .find(ids.session)
        .select((hs::capacity, hs::booked))
        .first(&mut conn)?;
    let (code_uses, code_max_uses): (i32, Option<i32>) = jc::table
        .find(ids.join_code)
        .select((jc::uses, jc::max_uses))
        .first(&mut conn)?;

    let mut found = Found {
        stock_left: i64::from(stock_left.context("gift program without stock")?),
        capacity: i64::from(capacity),
        booked_counter: i64::from(booked_counter),
        code_uses: i64::from(code_uses),
        code_max_uses: i64::from(code_max_uses.unwrap_or(-1)),
        rows: [vouchers.len(), bookings.len(), memberships.len()],
        members_with_two_vouchers: vouchers.len() - distinct(vouchers.values()),
        members_with_two_bookings: bookings.len() - distinct(bookings.values()),
        active_without_number: memberships
            .values()
            .filter(|a| !numbered.contains(a))
            .count(),
        vouchers_without_ledger: vouchers.keys().filter(|id| !claimed.contains(id)).count(),
        bookings_without_ledger: bookings.keys().filter(|id| !booked.contains(id)).count(),
        ..Found::default()
    };
    let tables = [&vouchers, &bookings, &memberships];
    let owners = [&ids.crowd, &ids.crowd, &ids.joiners];
    for (s, stream) in streams.iter().enumerate() {
        for (i, outcome) in stream.outcomes().into_iter().enumerate() {
            match outcome {
                Some(Outcome::Answered { status, code, id }) => {
                    *found.answers[s]
                        .entry(format!("{status} {code}").trim_end().to_owned())
                        .or_default() += 1;
                    if (200..300).contains(&status) {
                        found.acked[s] += 1;
                        let owner = owners[s].get(i).copied();
                        if id.is_some_and(|id| tables[s].get(&id).copied() == owner) {
                            found.present[s] += 1;
                        }
                    }
                }
                Some(Outcome::Lost) => found.lost[s] += 1,
                None => bail!("{} request {i} was never sent", stream.name),
            }
        }
    }
    Ok(found)
}

fn program_of_session(conn: &mut platform::DbConn, session: i64) -> anyhow::Result<i64> {
    Ok(hs::table.find(session).select(hs::program_id).first(conn)?)
}

fn distinct<'a>(values: impl Iterator<Item = &'a i64>) -> usize {
    values.collect::<HashSet<_>>().len()
}

/// The database's own check, right after a kill (server down) or at the end.
async fn check_integrity(backend: Backend, sqlite_file: &Path, database_url: &str) -> Integrity {
    let (file, url) = (sqlite_file.to_owned(), database_url.to_owned());
    let checked = tokio::task::spawn_blocking(move || match backend {
        Backend::Sqlite => sqlite_integrity(&file),
        Backend::Postgres => postgres_integrity(&url),
    })
    .await;
    match checked {
        Ok(Ok(integrity)) => integrity,
        Ok(Err(e)) => Integrity {
            ok: false,
            detail: format!("{e:#}"),
        },
        Err(e) => Integrity {
            ok: false,
            detail: e.to_string(),
        },
    }
}

struct Integrity {
    ok: bool,
    detail: String,
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn sqlite_integrity(file: &Path) -> anyhow::Result<Integrity> {
    let path = file.to_str().context("non UTF-8 path")?;
    let mut conn = diesel::SqliteConnection::establish(path)?;
    let rows: Vec<IntegrityRow> = diesel::sql_query("PRAGMA integrity_check").load(&mut conn)?;
    let verdict = rows
        .iter()
        .map(|r| r.integrity_check.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let broken_keys = diesel::sql_query("SELECT count(*) AS n FROM pragma_foreign_key_check")
        .get_result::<CountRow>(&mut conn)?
        .n;
    Ok(Integrity {
        ok: verdict == "ok" && broken_keys == 0,
        detail: format!("integrity_check {verdict}, foreign_key_check {broken_keys} rows"),
    })
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

fn postgres_integrity(url: &str) -> anyhow::Result<Integrity> {
    let mut conn = diesel::PgConnection::establish(url)?;
    conn.batch_execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        .context("amcheck (PostgreSQL contrib) is not available")?;
    let indexes: Vec<IndexRow> = diesel::sql_query(
        "SELECT c.oid::regclass::text AS name FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE am.amname = 'btree' AND n.nspname = 'public'",
    )
    .load(&mut conn)?;
    for index in &indexes {
        conn.batch_execute(&format!(
            "SELECT bt_index_check('{}'::regclass, true)",
            index.name.replace('\'', "''")
        ))
        .with_context(|| format!("amcheck on {}", index.name))?;
    }
    Ok(Integrity {
        ok: true,
        detail: format!(
            "amcheck bt_index_check(heapallindexed) on {} indexes: ok",
            indexes.len()
        ),
    })
}

/// Each stream's (answered, all) once every stream is in full swing, or at `latest`. A slow
/// start (a debug build on SQLite under the joins' writes) can leave a stream barely begun at
/// the planned moment, so the kill waits until every stream has answered a few requests and
/// none is finished.
async fn progress_in_swing(streams: &[Arc<Stream>; 3], latest: Instant) -> Vec<(usize, usize)> {
    loop {
        let progress: Vec<(usize, usize)> = streams
            .iter()
            .map(|s| (s.answered(), s.calls.len()))
            .collect();
        if progress.iter().all(in_swing) || Instant::now() >= latest {
            return progress;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A stream is in full swing with a few requests answered and some still to come.
fn in_swing(&(done, all): &(usize, usize)) -> bool {
    done >= 20 && done < all
}

fn report(
    checks: &mut Checks,
    plan: &Plan,
    streams: &[Arc<Stream>; 3],
    kills: &[Kill],
    found: &Found,
    integrity: &[Integrity],
) {
    let running = kills.iter().all(|k| k.progress.iter().all(in_swing));
    checks.check(
        "load in full swing at every kill",
        kills
            .iter()
            .enumerate()
            .map(|(n, k)| {
                format!(
                    "kill -9 #{} at {:.1} s with {}; serving again {:.2} s later (restart to ready {:.2} s)",
                    n + 1,
                    k.at_seconds,
                    streams
                        .iter()
                        .zip(&k.progress)
                        .map(|(s, (done, all))| format!("{} {done}/{all} done", s.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    k.down,
                    k.ready
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        running,
    );
    let names = ["vouchers", "bookings", "memberships"];
    checks.check(
        "every 2xx is in the database",
        (0..3)
            .map(|s| {
                format!(
                    "{} {} of {} acknowledged",
                    names[s], found.present[s], found.acked[s]
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        (0..3).all(|s| found.present[s] == found.acked[s]) && found.acked.iter().all(|&n| n > 0),
    );
    let stock = plan.stock() as i64;
    let vouchers = found.rows[0] as i64;
    let unanswered = found.rows[0].checked_sub(found.acked[0]);
    checks.check(
        "stock + vouchers == initial stock",
        format!(
            "stock left {} + {vouchers} vouchers = {} (initial {stock}); members with two {}; \
             committed without an answer {} (requests cut off by the kills: {})",
            found.stock_left,
            found.stock_left + vouchers,
            found.members_with_two_vouchers,
            unanswered.map_or("NEGATIVE".to_owned(), |n| n.to_string()),
            found.lost[0]
        ),
        found.stock_left + vouchers == stock
            && found.members_with_two_vouchers == 0
            && unanswered.is_some_and(|n| n <= found.lost[0]),
    );
    checks.check(
        "no booking beyond capacity",
        format!(
            "capacity {}, counter {}, booked rows {}, members with two {}; \
             committed without an answer {} (cut off: {})",
            found.capacity,
            found.booked_counter,
            found.rows[1],
            found.members_with_two_bookings,
            found.rows[1].saturating_sub(found.acked[1]),
            found.lost[1]
        ),
        found.booked_counter == found.rows[1] as i64
            && found.booked_counter <= found.capacity
            && found.members_with_two_bookings == 0
            && found.rows[1] >= found.acked[1]
            && found.rows[1] - found.acked[1] <= found.lost[1],
    );
    checks.check(
        "join code uses == memberships through it",
        format!(
            "uses {} of at most {}, active memberships through it {}, without a member number {}; \
             committed without an answer {} (cut off: {})",
            found.code_uses,
            found.code_max_uses,
            found.rows[2],
            found.active_without_number,
            found.rows[2].saturating_sub(found.acked[2]),
            found.lost[2]
        ),
        found.code_uses == found.rows[2] as i64
            && found.code_uses <= found.code_max_uses
            && found.active_without_number == 0
            && found.rows[2] >= found.acked[2]
            && found.rows[2] - found.acked[2] <= found.lost[2],
    );
    checks.check(
        "ledger rows for every voucher and booking",
        format!(
            "vouchers without one {}, bookings without one {}",
            found.vouchers_without_ledger, found.bookings_without_ledger
        ),
        found.vouchers_without_ledger == 0 && found.bookings_without_ledger == 0,
    );
    let expected: [&[&str]; 3] = [
        &["201", "409 sold_out"],
        &["201", "409 full"],
        &["201", "409 join_code_used_up"],
    ];
    checks.check(
        "only expected answers",
        (0..3)
            .map(|s| {
                let answers = found.answers[s]
                    .iter()
                    .map(|(k, n)| format!("{n}x {k}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                format!("{}: {answers}, {} cut off", streams[s].name, found.lost[s])
            })
            .collect::<Vec<_>>()
            .join("; "),
        (0..3).all(|s| {
            found.answers[s]
                .keys()
                .all(|k| expected[s].contains(&k.as_str()))
        }),
    );
    let labels: Vec<String> = (1..integrity.len())
        .map(|n| format!("after kill {n}"))
        .chain(["at the end".to_owned()])
        .collect();
    checks.check(
        "database integrity",
        integrity
            .iter()
            .zip(&labels)
            .map(|(i, when)| format!("{when}: {}", i.detail))
            .collect::<Vec<_>>()
            .join("; "),
        integrity.iter().all(|i| i.ok),
    );
}
