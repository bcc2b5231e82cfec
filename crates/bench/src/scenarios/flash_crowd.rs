//! The service-fair flash crowd: ten times more members than gift packs press "claim" at once,
//! then keep pressing after the stock is gone; and a crowd books one health-check session.
//!
//! Baselines measured in the same run, on the same machine and database:
//! - the naive rate: one stock row, `UPDATE ... SET left = left - 1 WHERE left > 0`, one commit
//!   per claim, from as many threads as the server has database connections;
//! - `GET /healthz` of the same server, with the same client and connections.
//!
//! Targets: successful claims/s >= 3x naive on PostgreSQL and >= 2x on SQLite (one writer:
//! its naive design is already a single thread at full speed); sold-out answers/s >= 70% of
//! `/healthz`; bookings/s on one hot session >= 2x naive. Beside them, the claim's CPU floor
//! (`claim_floor`) says how far the CPU alone lets the claims go. After the run the database
//! must show exactly the stock in vouchers, no member with two, stock 0, and no session over
//! capacity.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use identity::tokens::{AccessClaims, TokenKeys, ACCESS_TOKEN_TYPE};
use membership::orgs::{self, NewOrg, RegionCode};
use membership::vocab::OrgKind;
use platform::db::write_tx;
use platform::schema::{
    accounts as a, bookings as b, health_sessions as hs, members as m, memberships as ms,
    programs as p, vouchers as v,
};
use platform::Db;
use serde_json::{json, Value};

use super::Backend;
use crate::Options;

/// What one crowd run produced.
pub struct CrowdReport {
    pub database: String,
    pub json: Value,
    pub lines: Vec<String>,
    pub targets: Vec<(String, bool)>,
}

pub(crate) struct Setup {
    pub(crate) gift_program: i64,
    pub(crate) session: i64,
    pub(crate) tokens: Vec<String>,
}

/// Runs the scenario on each backend (see [`super::backends`]).
pub async fn run(options: &Options) -> anyhow::Result<Vec<CrowdReport>> {
    let mut reports = Vec::new();
    for backend in super::backends() {
        reports.push(run_on(options, backend).await?);
    }
    Ok(reports)
}

async fn run_on(options: &Options, backend: Backend) -> anyhow::Result<CrowdReport> {
    let dir = tempfile::Builder::new()
        .prefix("gigunion-crowd")
        .tempdir()?;
    let log = dir.path().join("server.log");
    let outcome = crowd(options, backend, dir.path()).await;
    if outcome.is_err() {
        // Keep the server's log for the post-mortem.
        let kept = std::env::temp_dir().join("gigunion-crowd-server.log");
        let _ = std::fs::copy(&log, &kept);
        eprintln!("server log kept at {}", kept.display());
    }
    outcome
}

async fn crowd(
    options: &Options,
    backend: Backend,
    dir: &std::path::Path,
) -> anyhow::Result<CrowdReport> {
    let data_dir = dir.join("data");
    // A database of this run's own, dropped when the scenario ends (early failures included).
    let scratch = super::Scratch::create(&backend, &dir.join("crowd.db"), "crowd")?;
    let label = backend.label().to_owned();
    // Packs in stock (BENCH_STOCK, default 10,000); ten times as many members claim:
    // enough that the claims phase lasts seconds, not a warm-up.
    let stock: usize = std::env::var("BENCH_STOCK")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let crowd = stock * 10;
    println!(
        "\n== flash crowd on {label}: {crowd} members, {stock} packs, one session of {stock} seats"
    );

    let db = Db::connect(&scratch.url)?;
    db.migrate()?;
    let started = Instant::now();
    let setup = prepare(&db, &data_dir, crowd, stock)?;
    println!("prepared in {:.1} s", started.elapsed().as_secs_f64());

    let naive_before = naive_rate(&db, Duration::from_secs(3))?;
    println!("naive single-row commits: {naive_before:.0}/s");

    let mut env = scratch.env();
    env.extend([
        ("DATA_DIR", data_dir.display().to_string()),
        ("RUST_LOG", "warn".to_owned()),
        ("PUBLIC_BASE_URL", ISSUER.to_owned()),
        ("METRICS_TOKEN", METRICS_TOKEN.to_owned()),
    ]);
    let server =
        crate::server::Server::start(&options.server, &env, &dir.join("server.log")).await?;
    let addr = server.addr;
    let connections = options.connections;

    // A second of /healthz first: the crowd meets a server that has been up, with its
    // connections open, as at a real fair.
    drive(
        addr,
        connections,
        Duration::from_secs(1),
        Arc::new(vec![Req::get("/healthz")]),
        false,
    )
    .await
    .context("warming up")?;

    // The crowd: every member claims once, as fast as the connections allow.
    let claims: Vec<Req> = setup
        .tokens
        .iter()
        .map(|t| {
            Req::post(
                format!("/v1/programs/{}/claims", setup.gift_program),
                t,
                None,
            )
        })
        .collect();
    let cpu_before_crowd = server.cpu()?;
    let crowd_run = drive(
        addr,
        connections,
        Duration::from_secs(120),
        Arc::new(claims),
        true,
    )
    .await
    .context("the crowd's claims")?;
    let crowd_cpu = server.cpu()?.saturating_sub(cpu_before_crowd);
    let issued = crowd_run.count(201);
    let sold_out_during = crowd_run.count(409);
    let claims_rps = issued as f64 / crowd_run.last_success.as_secs_f64().max(1e-3);
    if crowd_run.other() > 0 {
        bail!(
            "unexpected answers during the crowd: {:?}",
            crowd_run.statuses
        );
    }

    // After the stock is gone: how fast does "sold out" come back?
    let again: Vec<Req> = setup
        .tokens
        .iter()
        .take(5_000)
        .map(|t| {
            Req::post(
                format!("/v1/programs/{}/claims", setup.gift_program),
                t,
                None,
            )
        })
        .collect();
    // Against /healthz in alternating rounds, so that whatever else the machine is doing
    // weighs on both alike.
    let (mut healthz_ok, mut healthz_time, mut healthz_cpu) = (0, Duration::ZERO, Duration::ZERO);
    let (mut sold_out_ok, mut sold_out_time, mut sold_out_cpu) =
        (0, Duration::ZERO, Duration::ZERO);
    let again = Arc::new(again);
    for _ in 0..3 {
        let cpu = server.cpu()?;
        let healthz = drive(
            addr,
            connections,
            Duration::from_secs(2),
            Arc::new(vec![Req::get("/healthz")]),
            false,
        )
        .await
        .context("GET /healthz")?;
        healthz_ok += healthz.count(200);
        healthz_time += healthz.elapsed;
        let cpu_between = server.cpu()?;
        healthz_cpu += cpu_between.saturating_sub(cpu);
        let sold_out = drive(
            addr,
            connections,
            Duration::from_secs(2),
            again.clone(),
            false,
        )
        .await?;
        if sold_out.count(409) != sold_out.total() {
            bail!("not every late claim was sold out: {:?}", sold_out.statuses);
        }
        sold_out_ok += sold_out.count(409);
        sold_out_time += sold_out.elapsed;
        sold_out_cpu += server.cpu()?.saturating_sub(cpu_between);
    }
    let healthz_rps = healthz_ok as f64 / healthz_time.as_secs_f64();
    let sold_out_rps = sold_out_ok as f64 / sold_out_time.as_secs_f64();
    // The server's own CPU per answer: what the code costs, apart from the load generator
    // sharing the machine.
    let per_answer = |cpu: Duration, n: usize| cpu.as_secs_f64() * 1e6 / n.max(1) as f64;
    let healthz_cpu_us = per_answer(healthz_cpu, healthz_ok);
    let sold_out_cpu_us = per_answer(sold_out_cpu, sold_out_ok);

    // One hot session: twice its capacity book at once.
    let bookings: Vec<Req> = setup
        .tokens
        .iter()
        .take(stock * 2)
        .map(|t| {
            Req::post(
                format!("/v1/sessions/{}/bookings", setup.session),
                t,
                Some("{}"),
            )
        })
        .collect();
    let cpu_before_bookings = server.cpu()?;
    let booking_run = drive(
        addr,
        connections,
        Duration::from_secs(120),
        Arc::new(bookings),
        true,
    )
    .await?;
    let bookings_cpu = server.cpu()?.saturating_sub(cpu_before_bookings);
    let booked = booking_run.count(201);
    let bookings_rps = booked as f64 / booking_run.last_success.as_secs_f64().max(1e-3);
    let member = setup.tokens.first().map(String::as_str);
    let weigh = |path| {
        let probe = crate::wire::Probe {
            token: member,
            ..crate::wire::Probe::get(path)
        };
        async move { crate::wire::weigh(addr, &probe).await }
    };
    let batches = batch_sizes(addr).await?;
    let (programs_wire, vouchers_wire) = (
        weigh("/v1/programs").await?,
        weigh("/v1/me/vouchers").await?,
    );
    drop(server);

    // A disk's flush rate drifts with whatever else the machine writes: the baseline is taken
    // before and after the server's run, and the higher of the two is the bar.
    let naive_after = naive_rate(&db, Duration::from_secs(3))?;
    println!("naive single-row commits after the run: {naive_after:.0}/s");
    let naive = naive_before.max(naive_after);
    let check = verify(&db, &setup)?;
    drop(db);
    // With the server stopped, so that nothing runs beside it.
    let floor = super::claim_floor::measure(&data_dir, &setup.tokens)?;
    // The crowd's run also answered its late members "sold out": their share, at the cost each
    // measured in the rounds above, is not the claims'.
    let sold_out_share = Duration::from_secs_f64(sold_out_cpu_us * 1e-6 * sold_out_during as f64);
    let claim_cpu_us = per_answer(crowd_cpu.saturating_sub(sold_out_share), issued);
    let booking_cpu_us = per_answer(bookings_cpu, booked);

    let claims_ratio = claims_rps / naive;
    let sold_out_ratio = sold_out_rps / healthz_rps;
    let booking_ratio = bookings_rps / naive;
    let lines = vec![
        format!("{:<40} {:>10}", "measure", "per second"),
        format!("{:<40} {:>10.0}", "naive single-row commits (baseline)", naive),
        format!("{:<40} {:>10.0}   server CPU {healthz_cpu_us:.0} us each", "GET /healthz (baseline)", healthz_rps),
        format!("{:<40} {:>10.0}   {issued} issued, {sold_out_during} sold out meanwhile", "successful claims", claims_rps),
        format!("{:<40} {:>10.0}   server CPU {sold_out_cpu_us:.0} us each", "sold-out answers after the crowd", sold_out_rps),
        format!("{:<40} {:>10.0}   {booked} booked of {stock} seats", "bookings on one hot session", bookings_rps),
        format!(
            "ratios: claims {claims_ratio:.2}x naive, sold-out {:.0}% of /healthz, bookings {booking_ratio:.2}x naive",
            sold_out_ratio * 100.0
        ),
        format!(
            "server CPU per claim issued {claim_cpu_us:.0} us (less the sold-out answers of the same run), per seat booked {booking_cpu_us:.0} us (the full answers to as many more included)"
        ),
        format!(
            "requests per group commit (mean): claims {:.1}, bookings {:.1}",
            batches.claims, batches.bookings
        ),
        format!(
            "claim CPU floor (token check {:.1} us + answer {:.1} us, one thread, in-process): {:.0} claims/s on {} cores; claims reached {:.2} of it",
            floor.verify_us, floor.answer_us, floor.rate(), floor.cores, claims_rps / floor.rate()
        ),
        format!(
            "after the run: {} vouchers for {stock} packs, stock left {}, members with two vouchers {}, session booked {} of {stock} ({} booking rows)",
            check.vouchers, check.stock_left, check.doubles, check.session_booked, check.booked_rows
        ),
    ];
    let wire: Vec<_> = [("programs", &programs_wire), ("vouchers", &vouchers_wire)]
        .into_iter()
        .flat_map(|(name, weight)| weight.figures(name))
        .collect();
    let mut lines = lines;
    lines.extend(
        wire.iter()
            .filter(|f| !f.text.is_empty())
            .map(|f| f.text.clone()),
    );
    let exact = check.vouchers == stock as i64
        && check.stock_left == 0
        && check.doubles == 0
        && issued == stock
        && booked == stock
        && check.session_booked == stock as i64
        && check.booked_rows == stock as i64;
    let claims_target = if label == "sqlite" { 2.0 } else { 3.0 };
    let targets = vec![
        (
            format!("claims/s >= {claims_target}x naive ({claims_ratio:.2}x)"),
            claims_ratio >= claims_target,
        ),
        (
            format!(
                "sold-out answers >= 70% of /healthz ({:.0}%)",
                sold_out_ratio * 100.0
            ),
            sold_out_ratio >= 0.7,
        ),
        (
            format!("bookings/s >= 2x naive ({booking_ratio:.2}x)"),
            booking_ratio >= 2.0,
        ),
        (
            "exact: no oversell, no double claim, no overbooking".to_owned(),
            exact,
        ),
    ];
    let json = json!({
        "database": label,
        "members": crowd,
        "stock": stock,
        "connections": connections,
        "naive_commits_per_second": naive.round(),
        "healthz_per_second": healthz_rps.round(),
        "claims_per_second": claims_rps.round(),
        "sold_out_per_second": sold_out_rps.round(),
        "bookings_per_second": bookings_rps.round(),
        "claims_vs_naive": claims_ratio,
        "sold_out_vs_healthz": sold_out_ratio,
        "healthz_server_cpu_us": healthz_cpu_us.round(),
        "sold_out_server_cpu_us": sold_out_cpu_us.round(),
        "bookings_vs_naive": booking_ratio,
        "claim_server_cpu_us": claim_cpu_us.round(),
        "claims_per_commit": batches.claims,
        "bookings_per_commit": batches.bookings,
        "booking_server_cpu_us": booking_cpu_us.round(),
        "claim_floor_us": floor.us_per_claim(),
        "claim_floor_token_check_us": floor.verify_us,
        "claim_floor_answer_us": floor.answer_us,
        "claim_floor_rate": floor.rate().round(),
        "claims_vs_floor": claims_rps / floor.rate(),
        "issued": issued,
        "vouchers_in_db": check.vouchers,
        "stock_left": check.stock_left,
        "members_with_two_vouchers": check.doubles,
        "booked": booked,
        "session_booked": check.session_booked,
        "targets": targets.iter().map(|(t, ok)| json!({ "target": t, "met": ok })).collect::<Vec<_>>(),
        "wire_bytes": wire.iter().map(|f| (f.key.clone(), json!(f.value))).collect::<serde_json::Map<_, _>>(),
    });
    Ok(CrowdReport {
        database: label,
        json,
        lines,
        targets,
    })
}

/// Members, a running gift-pack program and a health-check session, written straight into the
/// database (the crowd, not sign-up, is what is measured), plus their access tokens signed with
/// the key the server will load from the same data directory.
pub(crate) fn prepare(
    db: &Db,
    data_dir: &std::path::Path,
    crowd: usize,
    stock: usize,
) -> anyhow::Result<Setup> {
    let keys = TokenKeys::load(&data_dir.join("jwt-ed25519.pem"), true)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = Utc::now().naive_utc();
    let (gift_program, session, accounts) = write_tx(&mut conn, |conn| {
        let org = orgs::create(
            conn,
            NewOrg {
                parent_id: None,
                kind: OrgKind::City,
                name: "南京市总工会（压测）".into(),
                region_code: RegionCode::parse("320100")?,
                address: "南京市".into(),
                location: None,
            },
        )?;
        let mut accounts = Vec::with_capacity(crowd);
        for i in 0..crowd {
            let id: i64 = diesel::insert_into(a::table)
                .values((
                    a::phone_hash.eq(format!("bench-{i}")),
                    a::phone_enc.eq("-"),
                    a::password_hash.eq("-"),
                    a::is_admin.eq(i == 0),
                    a::created_at.eq(now),
                    a::password_changed_at.eq(now),
                ))
                .returning(a::id)
                .get_result(conn)?;
            diesel::insert_into(ms::table)
                .values((
                    ms::account_id.eq(id),
                    ms::org_id.eq(org.id),
                    ms::status.eq("active"),
                    ms::occupation.eq("rider"),
                    ms::platform.eq("美团"),
                    ms::work_city.eq("南京"),
                    ms::applied_at.eq(now),
                    ms::started_at.eq(now),
                ))
                .execute(conn)?;
            diesel::insert_into(m::table)
                .values((
                    m::account_id.eq(id),
                    m::member_no.eq(format!("{i:015}")),
                    m::created_at.eq(now),
                ))
                .execute(conn)?;
            accounts.push(id);
        }
        let window = (
            now - chrono::Duration::hours(1),
            now + chrono::Duration::days(1),
        );
        let program = |kind: &str, stock: Option<i32>| {
            (
                p::org_id.eq(org.id),
                p::kind.eq(kind.to_owned()),
                p::title.eq("服务集市"),
                p::description.eq(""),
                p::status.eq("published"),
                p::starts_at.eq(window.0),
                p::ends_at.eq(window.1),
                p::per_member_limit.eq(1),
                p::eligibility.eq("{}"),
                p::mode.eq("first_come"),
                p::stock_total.eq(stock),
                p::stock_left.eq(stock),
                p::created_by.eq(accounts[0]),
                p::created_at.eq(now),
            )
        };
        let gift: i64 = diesel::insert_into(p::table)
            .values(program("gift_pack", Some(stock as i32)))
            .returning(p::id)
            .get_result(conn)?;
        let health: i64 = diesel::insert_into(p::table)
            .values(program("health_check", None))
            .returning(p::id)
            .get_result(conn)?;
        let session: i64 = diesel::insert_into(hs::table)
            .values((
                hs::program_id.eq(health),
                hs::site_name.eq("体检车"),
                hs::address.eq("南京市"),
                hs::starts_at.eq(now + chrono::Duration::days(1)),
                hs::ends_at.eq(now + chrono::Duration::days(1) + chrono::Duration::hours(8)),
                hs::capacity.eq(stock as i32),
                hs::booked.eq(0),
                hs::created_at.eq(now),
            ))
            .returning(hs::id)
            .get_result(conn)?;
        Ok::<_, platform::Error>((gift, session, accounts))
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tokens = accounts
        .iter()
        .map(|&id| worker_token(&keys, id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Setup {
        gift_program,
        session,
        tokens,
    })
}

/// The bearer token the crowd's server wants on `/metrics`.
const METRICS_TOKEN: &str = "bench-metrics";

/// Mean requests per group commit of the batch writer, by use case.
struct BatchSizes {
    claims: f64,
    bookings: f64,
}

/// Reads `gigunion_batch_requests` from the server's `/metrics`.
async fn batch_sizes(addr: SocketAddr) -> anyhow::Result<BatchSizes> {
    let mut conn = crate::load::connect(addr).await?;
    let request = hyper::Request::get("/metrics")
        .header(hyper::header::HOST, "bench")
        .header(
            hyper::header::AUTHORIZATION,
            format!("Bearer {METRICS_TOKEN}"),
        )
        .body(Full::new(Bytes::new()))?;
    let body = conn
        .send_request(request)
        .await?
        .into_body()
        .collect()
        .await?;
    let text = String::from_utf8(body.to_bytes().to_vec())?;
    let value = |name: &str, use_: &str| -> f64 {
        let prefix = format!("gigunion_batch_requests_{name}{{use=\"{use_}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let mean = |use_: &str| value("sum", use_) / value("count", use_).max(1.0);
    Ok(BatchSizes {
        claims: mean("claims"),
        bookings: mean("bookings"),
    })
}

/// The issuer the bench's tokens carry; the server runs with `PUBLIC_BASE_URL` set to it.
pub const ISSUER: &str = "http://gigunion.bench";

/// A worker's access token for `account_id`, valid for an hour.
pub(crate) fn worker_token(keys: &TokenKeys, account_id: i64) -> anyhow::Result<String> {
    let iat = Utc::now().timestamp();
    keys.sign(
        ACCESS_TOKEN_TYPE,
        &AccessClaims {
            // The server's issuer is its public base URL, http://BIND; BIND is unknown until it
            // starts, so the server is started with PUBLIC_BASE_URL fixed to ISSUER.
            iss: ISSUER.to_owned(),
            aud: "gigunion-app".to_owned(),
            sub: account_id.to_string(),
            exp: iat + 3600,
            iat,
            roles: vec!["worker".to_owned()],
        },
    )
}

/// Commits per second of the naive design: one row, one conditional decrement per commit.
fn naive_rate(db: &Db, duration: Duration) -> anyhow::Result<f64> {
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS bench_naive_stock (id INTEGER PRIMARY KEY, units_left BIGINT NOT NULL); \
         DELETE FROM bench_naive_stock; INSERT INTO bench_naive_stock (id, units_left) VALUES (1, 1000000000);",
    )?;
    drop(conn);
    // PostgreSQL: as many writers as the server's pool holds connections, each committing alone.
    // SQLite has one writer at a time: a single thread is the naive design at its best there.
    let threads = if db.is_sqlite() { 1 } else { 16 };
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut workers = Vec::new();
        for _ in 0..threads {
            let done = done.clone();
            workers.push(scope.spawn(move || -> anyhow::Result<()> {
                let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
                while Instant::now() < deadline {
                    conn.batch_execute("UPDATE bench_naive_stock SET units_left = units_left - 1 WHERE id = 1 AND units_left > 0")?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }));
        }
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("naive worker panicked"))??;
        }
        Ok(())
    })?;
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

pub(crate) struct Check {
    pub(crate) vouchers: i64,
    pub(crate) stock_left: i64,
    pub(crate) doubles: i64,
    pub(crate) session_booked: i64,
    pub(crate) booked_rows: i64,
}

pub(crate) fn verify(db: &Db, setup: &Setup) -> anyhow::Result<Check> {
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let vouchers: i64 = v::table
        .filter(v::program_id.eq(setup.gift_program))
        .count()
        .get_result(&mut conn)?;
    let holders: Vec<i64> = v::table
        .filter(v::program_id.eq(setup.gift_program))
        .select(v::account_id)
        .load(&mut conn)?;
    let holders = holders
        .into_iter()
        .collect::<std::collections::HashSet<_>>()
        .len() as i64;
    let stock_left: Option<i32> = p::table
        .find(setup.gift_program)
        .select(p::stock_left)
        .first(&mut conn)?;
    let session_booked: i32 = hs::table
        .find(setup.session)
        .select(hs::booked)
        .first(&mut conn)?;
    let booked_rows: i64 = b::table
        .filter(b::session_id.eq(setup.session))
        .filter(b::status.eq("booked"))
        .count()
        .get_result(&mut conn)?;
    Ok(Check {
        vouchers,
        stock_left: i64::from(stock_left.context("gift program without stock")?),
        doubles: vouchers - holders,
        session_booked: i64::from(session_booked),
        booked_rows,
    })
}

/// One request of a run.
pub(crate) struct Req {
    method: hyper::Method,
    path: String,
    token: Option<String>,
    /// JSON body, for routes that take one.
    body: Option<&'static str>,
}

impl Req {
    fn get(path: &str) -> Req {
        Req {
            method: hyper::Method::GET,
            path: path.to_owned(),
            token: None,
            body: None,
        }
    }

    pub(crate) fn post(path: String, token: &str, body: Option<&'static str>) -> Req {
        Req {
            method: hyper::Method::POST,
            path,
            token: Some(token.to_owned()),
            body,
        }
    }
}

#[derive(Default)]
pub(crate) struct Run {
    pub(crate) statuses: std::collections::BTreeMap<u16, usize>,
    elapsed: Duration,
    /// When the last 2xx arrived, from the start of the run.
    last_success: Duration,
}

impl Run {
    pub(crate) fn count(&self, status: u16) -> usize {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.statuses.values().sum()
    }

    pub(crate) fn other(&self) -> usize {
        self.total() - self.count(201) - self.count(409)
    }
}

/// Closed-loop keep-alive connections sending `requests`. With `once`, each request is sent
/// exactly once (the crowd) and the run ends when all are answered; otherwise they are cycled
/// until `limit`.
pub(crate) async fn drive(
    addr: SocketAddr,
    connections: usize,
    limit: Duration,
    requests: Arc<Vec<Req>>,
    once: bool,
) -> anyhow::Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (requests, next) = (requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            let mut sender = crate::load::connect(addr).await?;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if once && i >= requests.len() {
                    break;
                }
                let req = &requests[i % requests.len()];
                let mut builder = hyper::Request::builder()
                    .method(req.method.clone())
                    .uri(req.path.as_str())
                    .header(hyper::header::HOST, "bench");
                if let Some(token) = &req.token {
                    builder =
                        builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
                }
                if req.body.is_some() {
                    builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
                }
                let body = req
                    .body
                    .map_or_else(Bytes::new, |b| Bytes::from_static(b.as_bytes()));
                let response = sender.send_request(builder.body(Full::new(body))?).await?;
                let status = response.status().as_u16();
                response.into_body().collect().await?;
                *run.statuses.entry(status).or_default() += 1;
                if (200..300).contains(&status) {
                    run.last_success = started.elapsed();
                }
            }
            Ok::<Run, anyhow::Error>(run)
        }));
    }
    let mut total = Run::default();
    for task in tasks {
        let run = task.await??;
        for (status, n) in run.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        total.last_success = total.last_success.max(run.last_success);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Prints a report.
pub fn print(report: &CrowdReport) {
    println!("-- flash crowd on {}", report.database);
    for line in &report.lines {
        println!("{line}");
    }
    for (name, ok) in &report.targets {
        println!("  [{}] {name}", if *ok { "met" } else { "MISSED" });
    }
}
