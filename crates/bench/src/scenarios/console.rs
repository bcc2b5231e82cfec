//! The staff console with a large subtree: a city union with four districts, 10,000 active
//! members in one district's subtree (`BENCH_CONSOLE_MEMBERS` changes it) and a few hundred in
//! each other district, a few hundred pending applications, join codes, programs with sessions,
//! vouchers and bookings, stations with open feedback, and the audit entries the approvals
//! left. A staff member of the city signs in through the real forms (password, then the SMS
//! code from the file sender) and the session cookie drives the load: each page against
//! `/healthz` of the same server in alternating rounds, on few connections (a console has a
//! few staff, not a crowd).
//!
//! The issue's target: every page answers in at most 50 ms of server time with 10,000 members
//! in the subtree. The server times itself (`platform::http::observe`, the outermost layer:
//! routing, the handler, its queries and the compression, not the socket write) into the
//! `http_request_duration_seconds` histogram on `/metrics`; the bench reads it before and after
//! each round, so each page gets the server time of exactly its own requests (mean from the
//! sum, p99 estimated within the histogram's buckets, which have a bound at 50 ms). Client
//! latency on loopback is reported beside it, under the load and for one connection alone.
//!
//! `BENCH_CONSOLE_KEEP=FILE` copies the prefilled SQLite database there, to look into.
//!
//! Rows are written straight into the database (the pages, not sign-up, are measured): the
//! members' phones and ID numbers sealed and hashed with the data key the server will load
//! from the same data directory, so that lists can open and mask them; one Argon2 hash, for the
//! staff member who signs in.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use identity::password::{Password, PasswordHasher};
use membership::join_codes::{self, NewJoinCode};
use membership::orgs::{self, NewOrg, RegionCode};
use membership::vocab::OrgKind;
use platform::crypto::{load_data_key, DataProtector};
use platform::db::write_tx;
use platform::schema::{
    accounts as a, audit_log as al, benefit_ledger as l, bookings as b, health_sessions as hs,
    member_no_counters as n, members as m, membership_events as ev, memberships as ms,
    programs as p, real_name_profiles as rn, staff_grants as g, station_feedback as f,
    stations as s, vouchers as v,
};
use platform::{Db, DbConn};

use super::{Backend, Scratch};
use crate::load::{self, Headers, LoadStats};
use crate::report::{Figure, Outcome};
use crate::server::{process_cpu, Server};
use crate::Options;

/// Active members in the big district's subtree (`BENCH_CONSOLE_MEMBERS`).
const MEMBERS: usize = 10_000;
/// Active members in each of the other districts.
const OTHER_MEMBERS: usize = 300;
/// Pending applications in the big district's subtree, and in each other district.
const PENDING: usize = 300;
const OTHER_PENDING: usize = 20;
/// Connections of the load unless `--connections` says otherwise: a few staff at once.
const CONNECTIONS: usize = 4;
/// The issue's bound on a page's server time.
const TARGET_MS: f64 = 50.0;
/// Exact names searched for (full names of active members of the big district).
const SEARCHES: usize = 10;
/// Rows per multi-row insert on PostgreSQL (its 65,535 parameters, at up to 9 columns).
const CHUNK: usize = 2_000;

const STAFF_PHONE: &str = "13800000000";
const STAFF_PASSWORD: &str = "console2026staff";
const METRICS_TOKEN: &str = "bench-metrics";

/// One console page under load: `paths` are walked in turn (the searches).
struct Page {
    key: &'static str,
    label: String,
    paths: Vec<String>,
    /// What the page's HTML must hold when it shows data (a row of its table).
    marker: &'static str,
}

pub async fn run(options: &Options, backend: &Backend) -> anyhow::Result<Outcome> {
    let dir = tempfile::Builder::new()
        .prefix("gigunion-console")
        .tempdir()?;
    let log = dir.path().join("server.log");
    let outcome = measure(options, backend, dir.path()).await;
    if outcome.is_err() {
        let kept = std::env::temp_dir().join("gigunion-console-server.log");
        let _ = std::fs::copy(&log, &kept);
        eprintln!("server log kept at {}", kept.display());
    }
    outcome
}

async fn measure(options: &Options, backend: &Backend, dir: &Path) -> anyhow::Result<Outcome> {
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let sms_file = dir.join("sms.jsonl");
    let scratch = Scratch::create(backend, &dir.join("console.db"), "console")?;
    let members: usize = std::env::var("BENCH_CONSOLE_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MEMBERS);
    println!(
        "\n== console on {}: {members} members in one district's subtree",
        backend.label()
    );

    let setup = Instant::now();
    let password =
        Password::parse(STAFF_PASSWORD, "password").map_err(|e| anyhow::anyhow!("{e}"))?;
    let staff_hash = PasswordHasher::new()
        .hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = Db::connect(&scratch.url)?;
    db.migrate()?;
    let key = load_data_key(None, &data_dir.join("data.key"))?;
    let protector = DataProtector::new(&key);
    let world = prefill(&db, &protector, &staff_hash, members)?;
    if let Some(copy) = std::env::var_os("BENCH_CONSOLE_KEEP").filter(|_| db.is_sqlite()) {
        // A copy of the prefilled database to look into (EXPLAIN QUERY PLAN), not measured.
        let copy = Path::new(&copy).display().to_string().replace('\'', "''");
        let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
        conn.batch_execute(&format!("VACUUM INTO '{copy}'"))?;
        println!("prefilled database copied to {copy}");
    }
    drop(db);
    let setup_seconds = setup.elapsed().as_secs_f64();
    println!(
        "prefilled in {setup_seconds:.1} s: {} accounts, {} orgs, {} programs, {} stations",
        world.accounts, world.orgs, world.programs, world.stations
    );

    let mut env = scratch.env();
    env.extend([
        ("DATA_DIR", data_dir.display().to_string()),
        ("RUST_LOG", "warn".to_owned()),
        ("SMS_SENDER", format!("file:{}", sms_file.display())),
        ("METRICS_TOKEN", METRICS_TOKEN.to_owned()),
    ]);
    let server = Server::start(&options.server, &env, &dir.join("server.log")).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_mib = server.rss_mib()?;
    let addr = server.addr;

    let session = sign_in(addr, &sms_file).await.context("signing in")?;
    let cookie = format!("gu_console={session}");
    let headers: Headers = Arc::new(vec![(
        hyper::header::COOKIE,
        HeaderValue::from_str(&cookie)?,
    )]);
    let pages = pages(&world);
    let mut plain_bytes = Vec::new();
    for page in &pages {
        plain_bytes.push(check(addr, page, &cookie).await?);
    }

    let connections = if options.connections_given {
        options.connections
    } else {
        CONNECTIONS
    };
    let mut endpoints = vec![vec!["/healthz".to_owned()]];
    endpoints.extend(pages.iter().map(|p| p.paths.clone()));
    let measured = measure_each(&server, endpoints, connections, options, headers.clone()).await?;
    // One staff member alone: one connection, each page in turn.
    let mut alone = Vec::new();
    for page in &pages {
        let paths = Arc::new(page.paths.clone());
        alone.push(load::run_with(addr, paths, 1, options.round, headers.clone()).await?);
    }
    let rss_after_load_mib = server.rss_mib()?;
    let ready_seconds = server.ready_after.as_secs_f64();
    drop(server);
    if alone.iter().any(|s| s.errors > 0) {
        bail!("errors with one connection alone");
    }

    let (baseline, baseline_time) = measured[0].clone();
    let rows: Vec<Row> = pages
        .iter()
        .zip(&measured[1..])
        .zip(alone)
        .zip(plain_bytes)
        .map(|(((page, (stats, time)), alone), plain)| Row {
            key: page.key,
            label: page.label.clone(),
            stats: stats.clone(),
            time: time.clone(),
            alone,
            plain_bytes: plain,
        })
        .collect();
    let slowest = rows
        .iter()
        .max_by(|x, y| x.stats.p99_ms().total_cmp(&y.stats.p99_ms()))
        .context("no page measured")?;
    let figures = figures(&rows, &baseline, &baseline_time, connections);
    let targets = rows
        .iter()
        .map(|r| {
            let p99 = r.time.percentile_ms(0.99);
            (
                format!(
                    "{}: server p99 <= {TARGET_MS:.0} ms ({p99:.1} ms; {:.1}% within {TARGET_MS:.0} ms; client p99 {:.1} ms with {connections} connections, {:.1} ms alone)",
                    r.label,
                    r.time.share_within(TARGET_MS / 1e3) * 100.0,
                    r.stats.p99_ms(),
                    r.alone.p99_ms(),
                ),
                r.time.share_within(TARGET_MS / 1e3) >= 0.99,
            )
        })
        .collect();
    Ok(Outcome {
        scenario: "console",
        database: backend.label(),
        endpoint: format!("{} (slowest p99)", slowest.label),
        dataset: format!(
            "{members} active members in one district, {} accounts, {} orgs",
            world.accounts, world.orgs
        ),
        setup_seconds,
        ready_seconds,
        rss_idle_mib,
        rss_after_load_mib,
        connections,
        baseline,
        measured: slowest.stats.clone(),
        targets,
        figures,
    })
}

/// A page's figures.
struct Row {
    key: &'static str,
    label: String,
    stats: LoadStats,
    time: ServerTime,
    alone: LoadStats,
    plain_bytes: usize,
}

fn figures(
    rows: &[Row],
    baseline: &LoadStats,
    baseline_time: &ServerTime,
    connections: usize,
) -> Vec<Figure> {
    let r2 = |v: f64| (v * 100.0).round() / 100.0;
    let r3 = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut table = format!(
        "client latency with {connections} connections; server time from its own histogram (mean; p99 estimated within buckets); \
         searched: {SEARCHES} full names in turn\n\
         {:<44} {:>7} {:>8} {:>8} {:>7} {:>8} {:>8} {:>7} {:>7} {:>13} {:>8} {:>8}\n",
        "page", "req/s", "p50 ms", "p99 ms", "p99 x", "srv mean", "srv p99", "mean x", "<=50ms", "alone p50/p99", "CPU us", "bytes"
    );
    let line = |label: &str, s: &LoadStats, t: &ServerTime, alone: Option<&LoadStats>| {
        format!(
            "{:<44} {:>7.0} {:>8.2} {:>8.2} {:>7.2} {:>8.3} {:>8.2} {:>7.0} {:>6.1}% {:>13} {:>8.0} {:>8.0}\n",
            label,
            s.rps(),
            s.p50_ms(),
            s.p99_ms(),
            s.p99_ms() / baseline.p99_ms(),
            t.mean_ms(),
            t.percentile_ms(0.99),
            t.mean_ms() / baseline_time.mean_ms(),
            t.share_within(TARGET_MS / 1e3) * 100.0,
            alone.map_or(String::new(), |a| format!("{:.2}/{:.2}", a.p50_ms(), a.p99_ms())),
            s.server_cpu_us_per_request(),
            s.mean_body_bytes(),
        )
    };
    table.push_str(&line(
        "GET /healthz (baseline)",
        baseline,
        baseline_time,
        None,
    ));
    for r in rows {
        table.push_str(&line(&r.label, &r.stats, &r.time, Some(&r.alone)));
    }
    let mut all = vec![
        Figure::new(
            "connections",
            connections as f64,
            table.trim_end().to_owned(),
        ),
        Figure::new("healthz_p50_ms", r3(baseline.p50_ms()), String::new()),
        Figure::new("healthz_p99_ms", r3(baseline.p99_ms()), String::new()),
        Figure::new(
            "healthz_server_mean_ms",
            r3(baseline_time.mean_ms()),
            String::new(),
        ),
    ];
    for r in rows {
        let k = r.key;
        let s = &r.stats;
        let t = &r.time;
        let fig = |name: &str, value: f64| Figure::new(format!("{k}_{name}"), value, String::new());
        all.extend([
            fig("requests_per_second", s.rps().round()),
            fig("rps_ratio", r2(s.rps() / baseline.rps())),
            fig("p50_ms", r3(s.p50_ms())),
            fig("p99_ms", r3(s.p99_ms())),
            fig("p50_ratio", r2(s.p50_ms() / baseline.p50_ms())),
            fig("p99_ratio", r2(s.p99_ms() / baseline.p99_ms())),
            fig("server_mean_ms", r3(t.mean_ms())),
            fig("server_p99_ms", r2(t.percentile_ms(0.99))),
            fig(
                "server_mean_ratio",
                r2(t.mean_ms() / baseline_time.mean_ms()),
            ),
            fig("server_within_50ms", r3(t.share_within(TARGET_MS / 1e3))),
            fig("alone_p50_ms", r3(r.alone.p50_ms())),
            fig("alone_p99_ms", r3(r.alone.p99_ms())),
            fig(
                "server_cpu_us_per_request",
                s.server_cpu_us_per_request().round(),
            ),
            fig("body_bytes_compressed", s.mean_body_bytes().round()),
            fig("body_bytes", r.plain_bytes as f64),
        ]);
    }
    all
}

/// The pages measured, for the city's staff member.
fn pages(world: &World) -> Vec<Page> {
    let (city, district) = (world.city, world.district);
    let page = |key, path: String, marker| Page {
        key,
        label: format!("GET {path}"),
        paths: vec![path],
        marker,
    };
    let searches: Vec<String> = world
        .searched
        .iter()
        .map(|name| format!("/console/members?org={district}&q={}", encode(name)))
        .collect();
    vec![
        page("home", "/console".to_owned(), "data-org="),
        page("orgs", "/console/orgs".to_owned(), "org-tree"),
        page(
            "applications",
            format!("/console/applications?org={district}"),
            "data-application=",
        ),
        page(
            "members",
            format!("/console/members?org={district}"),
            "data-member=",
        ),
        Page {
            key: "members_search",
            label: format!("GET /console/members?org={district}&q=<name>"),
            paths: searches,
            marker: "data-member=",
        },
        page(
            "audit",
            format!("/console/audit?org={city}"),
            "data-action=",
        ),
        page(
            "programs",
            format!("/console/programs?org={city}"),
            "data-program=",
        ),
        page(
            "stations",
            format!("/console/stations?org={city}"),
            "data-station=",
        ),
    ]
}

/// Every path of the page answers 200 with rows; returns the first one's plain size.
async fn check(addr: SocketAddr, page: &Page, cookie: &str) -> anyhow::Result<usize> {
    let mut first = None;
    for path in &page.paths {
        let answer = send(addr, hyper::Method::GET, path, cookie, None).await?;
        if answer.status != 200 || !answer.body.contains(page.marker) {
            bail!(
                "{path} answered {} without {:?}: {}",
                answer.status,
                page.marker,
                answer.body.chars().take(400).collect::<String>()
            );
        }
        first.get_or_insert(answer.body.len());
    }
    first.context("a page without paths")
}

/// Measures the endpoints in turns as [`super::measure_each`] does, and the server time of each
/// round from the server's histogram.
async fn measure_each(
    server: &Server,
    endpoints: Vec<Vec<String>>,
    connections: usize,
    options: &Options,
    headers: Headers,
) -> anyhow::Result<Vec<(LoadStats, ServerTime)>> {
    let endpoints: Vec<Arc<Vec<String>>> = endpoints.into_iter().map(Arc::new).collect();
    for paths in &endpoints {
        load::run_with(
            server.addr,
            paths.clone(),
            connections,
            Duration::from_secs(1),
            headers.clone(),
        )
        .await?;
    }
    let me = std::process::id();
    let mut all = vec![(LoadStats::default(), ServerTime::default()); endpoints.len()];
    for turn in 0..options.rounds {
        for i in (0..endpoints.len()).map(|k| (turn + k) % endpoints.len()) {
            let before = ServerTime::scrape(server.addr).await?;
            let (server_cpu, client_cpu) = (server.cpu()?, process_cpu(me)?);
            let mut stats = load::run_with(
                server.addr,
                endpoints[i].clone(),
                connections,
                options.round,
                headers.clone(),
            )
            .await?;
            stats.server_cpu = server.cpu()?.saturating_sub(server_cpu);
            stats.client_cpu = process_cpu(me)?.saturating_sub(client_cpu);
            let after = ServerTime::scrape(server.addr).await?;
            all[i].0.merge(stats);
            all[i].1.add(&after.minus(&before));
        }
    }
    let errors: Vec<u64> = all.iter().map(|(s, _)| s.errors).collect();
    if errors.iter().any(|&e| e > 0) {
        bail!("errors under load, per endpoint (/healthz first): {errors:?}");
    }
    Ok(all)
}

/// The server's own timing of the requests between two readings of `/metrics`: every route's
/// `http_request_duration_seconds` added up, `/metrics` itself left out.
#[derive(Debug, Clone, Default)]
struct ServerTime {
    /// Bucket bounds in seconds and the requests at or below each (cumulative).
    bounds: Vec<f64>,
    cumulative: Vec<f64>,
    sum: f64,
    count: f64,
}

impl ServerTime {
    async fn scrape(addr: SocketAddr) -> anyhow::Result<ServerTime> {
        let mut conn = load::connect(addr).await?;
        let request = hyper::Request::get("/metrics")
            .header(hyper::header::HOST, "bench")
            .header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {METRICS_TOKEN}"),
            )
            .body(Full::new(Bytes::new()))?;
        let response = conn.send_request(request).await?;
        if response.status() != 200 {
            bail!("/metrics answered {}", response.status());
        }
        let body = response.into_body().collect().await?.to_bytes();
        Ok(ServerTime::parse(std::str::from_utf8(&body)?))
    }

    fn parse(text: &str) -> ServerTime {
        const NAME: &str = "http_request_duration_seconds";
        let mut buckets: BTreeMap<u64, f64> = BTreeMap::new();
        let mut total = ServerTime::default();
        for line in text.lines().filter(|l| l.starts_with(NAME)) {
            let (Some(open), Some(close)) = (line.find('{'), line.rfind('}')) else {
                continue;
            };
            let labels = labels(&line[open + 1..close]);
            if labels.get("route").map(String::as_str) == Some("/metrics") {
                continue;
            }
            let Ok(value) = line[close + 1..].trim().parse::<f64>() else {
                continue;
            };
            match &line[NAME.len()..open] {
                "_bucket" => {
                    let le = match labels.get("le").map(String::as_str) {
                        Some("+Inf") => f64::INFINITY,
                        Some(le) => le.parse().unwrap_or(f64::INFINITY),
                        None => continue,
                    };
                    *buckets.entry(le.to_bits()).or_default() += value;
                }
                "_sum" => total.sum += value,
                "_count" => total.count += value,
                _ => {}
            }
        }
        // Positive floats order as their bits do.
        for (bits, count) in buckets {
            total.bounds.push(f64::from_bits(bits));
            total.cumulative.push(count);
        }
        total
    }

    fn minus(&self, before: &ServerTime) -> ServerTime {
        let earlier = |i: usize| before.cumulative.get(i).copied().unwrap_or(0.0);
        ServerTime {
            bounds: self.bounds.clone(),
            cumulative: (0..self.cumulative.len())
                .map(|i| self.cumulative[i] - earlier(i))
                .collect(),
            sum: self.sum - before.sum,
            count: self.count - before.count,
        }
    }

    fn add(&mut self, other: &ServerTime) {
        if self.bounds.is_empty() {
            *self = other.clone();
            return;
        }
        for (mine, theirs) in self.cumulative.iter_mut().zip(&other.cumulative) {
            *mine += theirs;
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    fn mean_ms(&self) -> f64 {
        self.sum / self.count.max(1.0) * 1e3
    }

    /// Share of the requests done within `seconds` (a bucket bound).
    fn share_within(&self, seconds: f64) -> f64 {
        let at = self.bounds.iter().position(|&b| (b - seconds).abs() < 1e-9);
        at.map_or(0.0, |i| self.cumulative[i] / self.count.max(1.0))
    }

    /// The `q` quantile, interpolated linearly within its bucket (the bound below the first
    /// bucket is 0); the lower bound when it falls in the last, unbounded one.
    fn percentile_ms(&self, q: f64) -> f64 {
        let rank = q * self.count;
        let mut below = (0.0, 0.0);
        for (&bound, &count) in self.bounds.iter().zip(&self.cumulative) {
            if count >= rank && count > 0.0 {
                if bound.is_infinite() {
                    return below.0 * 1e3;
                }
                let share = (rank - below.1) / (count - below.1).max(1e-9);
                return (below.0 + (bound - below.0) * share.clamp(0.0, 1.0)) * 1e3;
            }
            below = (bound, count);
        }
        below.0 * 1e3
    }
}

/// `k="v",k2="v2"` of a metric line (route patterns hold braces, never quotes).
fn labels(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim_start_matches(',').trim().to_owned();
        let after = &rest[eq + 2..];
        let Some(end) = after.find('"') else {
            break;
        };
        out.insert(key, after[..end].to_owned());
        rest = &after[end + 1..];
    }
    out
}

/// An answer to one request of the sign-in.
struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

/// One request on a fresh connection, with `cookie` and an optional form body.
async fn send(
    addr: SocketAddr,
    method: hyper::Method,
    path: &str,
    cookie: &str,
    form: Option<String>,
) -> anyhow::Result<Answer> {
    let mut conn = load::connect(addr).await?;
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "bench");
    if !cookie.is_empty() {
        request = request.header(hyper::header::COOKIE, cookie);
    }
    if form.is_some() {
        request = request.header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    }
    let body = Full::new(Bytes::from(form.unwrap_or_default()));
    let response = conn.send_request(request.body(body)?).await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The browser's cookies, as `Set-Cookie` left them.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, answer: &Answer) {
        for value in answer.headers.get_all(hyper::header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.0.remove(name.trim());
                } else {
                    self.0.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
    }

    fn header(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join("; ")
    }
}

/// Signs the city's staff member in as a browser would: the sign-in page for its token and
/// cookie, the password, the SMS code from the file sender, the code; answers the session
/// cookie's value once the home page opens with it.
async fn sign_in(addr: SocketAddr, sms_file: &Path) -> anyhow::Result<String> {
    let mut jar = Jar::default();
    let form_page = send(addr, hyper::Method::GET, "/console/sign-in", "", None).await?;
    if form_page.status != 200 {
        bail!("GET /console/sign-in answered {}", form_page.status);
    }
    jar.take(&form_page);
    let csrf = hidden_csrf(&form_page.body).context("no _csrf field on the sign-in page")?;
    let form = format!(
        "_csrf={}&phone={STAFF_PHONE}&password={}&next={}",
        encode(&csrf),
        encode(STAFF_PASSWORD),
        encode("/console")
    );
    let password = send(
        addr,
        hyper::Method::POST,
        "/console/sign-in",
        &jar.header(),
        Some(form),
    )
    .await?;
    let location = |a: &Answer| {
        a.headers
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if password.status != 303 || !location(&password).starts_with("/console/verify") {
        bail!(
            "the password step answered {} to {:?}: {}",
            password.status,
            location(&password),
            password.body.chars().take(400).collect::<String>()
        );
    }
    jar.take(&password);
    let code = sms_code(sms_file).await?;
    let form = format!(
        "_csrf={}&code={code}&next={}",
        encode(&csrf),
        encode("/console")
    );
    let verified = send(
        addr,
        hyper::Method::POST,
        "/console/verify",
        &jar.header(),
        Some(form),
    )
    .await?;
    if verified.status != 303 || location(&verified) != "/console" {
        bail!(
            "the code step answered {} to {:?}",
            verified.status,
            location(&verified)
        );
    }
    jar.take(&verified);
    let session = jar
        .0
        .get("gu_console")
        .cloned()
        .context("no session cookie after the code")?;
    let cookie = format!("gu_console={session}");
    let home = send(addr, hyper::Method::GET, "/console", &cookie, None).await?;
    if home.status != 200 || !home.body.contains("data-org=") {
        bail!("the home page answered {} to the session", home.status);
    }
    println!("signed in as the city's staff member (password, then the SMS code)");
    Ok(session)
}

/// The value of the form's `_csrf` field.
fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\"")?;
    let rest = &html[at..];
    let value = rest.find("value=\"")? + "value=\"".len();
    let end = rest[value..].find('"')?;
    Some(rest[value..value + end].to_owned())
}

/// The last code the file sender wrote for the staff member's phone.
async fn sms_code(file: &Path) -> anyhow::Result<String> {
    for _ in 0..100 {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let code = text.lines().rev().find_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            let phone = value["phone"].as_str()?;
            phone
                .ends_with(STAFF_PHONE)
                .then(|| value["code"].as_str().map(str::to_owned))?
        });
        if let Some(code) = code {
            return Ok(code);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("no SMS code in {}", file.display())
}

/// Percent-encoding for a query or form value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What the prefill made, for the pages' paths.
struct World {
    city: i64,
    district: i64,
    /// Full names of active members of the big district, to search for.
    searched: Vec<String>,
    accounts: usize,
    orgs: usize,
    programs: usize,
    stations: usize,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀",
    "霞", "平", "刚", "桂", "英", "华", "建", "国", "志", "文", "斌", "海", "鹏", "辉",
];
const PLATFORMS: &[&str] = &["美团", "饿了么", "顺丰", "滴滴", "货拉拉", "京东"];
const OCCUPATIONS: &[&str] = &[
    "rider",
    "courier",
    "ride_hailing_driver",
    "truck_driver",
    "rider",
];

/// A deterministic name for person `i`: 20 surnames x 30 x 30 given names, so most are unique.
fn name_of(i: usize) -> String {
    let given = GIVEN.len();
    format!(
        "{}{}{}",
        SURNAMES[i % SURNAMES.len()],
        GIVEN[(i / SURNAMES.len()) % given],
        GIVEN[(i / SURNAMES.len() / given + i) % given]
    )
}

/// A plausible 18-digit ID number for person `i` (unique per `i`, checksum as the standard's).
fn id_number_of(region: &str, i: usize) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")
        + chrono::Days::new((i / 1000 % 12_000) as u64);
    let body = format!("{region}{}{:03}", birth.format("%Y%m%d"), i % 1000);
    let check = identity::id_number::check_character(&body);
    format!("{body}{check}")
}

/// One person to write: where, and whether a member or an applicant.
struct Person {
    org: i64,
    region: &'static str,
    active: bool,
}

fn prefill(
    db: &Db,
    protector: &DataProtector,
    staff_hash: &str,
    members: usize,
) -> anyhow::Result<World> {
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = Utc::now().naive_utc();
    let orgs = write_tx(&mut conn, make_orgs).map_err(|e| anyhow::anyhow!("{e}"))?;
    let big: Vec<i64> = orgs.big.clone();
    let mut people = Vec::new();
    for i in 0..members {
        people.push(Person {
            org: big[i % big.len()],
            region: "320102",
            active: true,
        });
    }
    for (district, region) in &orgs.others {
        for _ in 0..OTHER_MEMBERS {
            people.push(Person {
                org: *district,
                region,
                active: true,
            });
        }
    }
    for i in 0..PENDING {
        people.push(Person {
            org: big[i % big.len()],
            region: "320102",
            active: false,
        });
    }
    for (district, region) in &orgs.others {
        for _ in 0..OTHER_PENDING {
            people.push(Person {
                org: *district,
                region,
                active: false,
            });
        }
    }
    // Searched for: names of members of the big district spread over its ids, old and new.
    let searched: Vec<String> = (0..SEARCHES)
        .map(|k| name_of(k * members / SEARCHES + 7))
        .collect();

    let world = write_tx(&mut conn, |conn| {
        let staff = insert_staff(conn, protector, staff_hash, &orgs, now)?;
        let accounts = insert_people(conn, protector, &people, staff, now)?;
        let programs = insert_programs(conn, &orgs, &accounts, staff, now)?;
        for (k, org) in orgs
            .big
            .iter()
            .chain(orgs.others.iter().map(|(d, _)| d))
            .enumerate()
        {
            join_codes::create(
                conn,
                NewJoinCode {
                    org_id: *org,
                    label: format!("服务站海报 {k}"),
                    expires_at: None,
                    max_uses: Some(1_000),
                    auto_approve: false,
                    created_by: staff,
                },
            )?;
        }
        Ok::<_, platform::Error>((accounts, programs))
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (accounts, programs) = world;

    // Stations: written by the stations crate (one transaction each).
    let mut stations = 0;
    for (org, count, seed) in [(orgs.district, 100, 11), (orgs.city, 10, 12)]
        .into_iter()
        .chain(orgs.others.iter().map(|(d, _)| (*d, 20, 13)))
    {
        stations += stations::seed::synthetic(&mut conn, org, count, seed as u64)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    write_tx(&mut conn, |conn| {
        let ids: Vec<i64> = s::table.select(s::id).order(s::id).load(conn)?;
        let rows: Vec<_> = (0..60)
            .map(|k| {
                (
                    f::station_id.eq(ids[k * 7 % ids.len()]),
                    f::account_id.eq(accounts[k]),
                    f::kind.eq(if k % 3 == 0 { "fault" } else { "suggestion" }),
                    f::body.eq("微波炉坏了，热水也不够"),
                    f::status.eq("open"),
                    f::created_at.eq(now - TimeDelta::hours(k as i64)),
                )
            })
            .collect();
        platform::insert_rows!(conn, f::table, rows)?;
        conn.batch_execute(
            "UPDATE stations SET open_faults = (SELECT COUNT(*) FROM station_feedback fb \
             WHERE fb.station_id = stations.id AND fb.kind = 'fault' AND fb.status = 'open')",
        )?;
        Ok::<_, diesel::result::Error>(())
    })?;
    if !db.is_sqlite() {
        // What autovacuum does shortly after a bulk write: statistics for the planner.
        conn.batch_execute("VACUUM ANALYZE")?;
    }
    Ok(World {
        city: orgs.city,
        district: orgs.district,
        searched,
        accounts: people.len() + 5,
        orgs: orgs.count,
        programs,
        stations,
    })
}

/// The tree: a city, four districts; the big district with four streets of two orgs each.
struct Orgs {
    city: i64,
    district: i64,
    /// The big district's subtree, itself first.
    big: Vec<i64>,
    /// The other districts and their region codes.
    others: Vec<(i64, &'static str)>,
    count: usize,
}

fn make_orgs(conn: &mut DbConn) -> platform::Result<Orgs> {
    let mut org = |parent: Option<i64>, kind, name: String, region: &str| {
        orgs::create(
            conn,
            NewOrg {
                parent_id: parent,
                kind,
                address: format!("南京市{name}"),
                name,
                region_code: RegionCode::parse(region)?,
                location: None,
            },
        )
        .map(|o| o.id)
    };
    let city = org(None, OrgKind::City, "南京市总工会".into(), "320100")?;
    let district = org(
        Some(city),
        OrgKind::District,
        "玄武区总工会".into(),
        "320102",
    )?;
    let mut big = vec![district];
    for street in ["新街口街道", "梅园新村街道", "玄武门街道", "孝陵卫街道"] {
        let street_id = org(
            Some(district),
            OrgKind::Street,
            format!("{street}工会"),
            "320102",
        )?;
        big.push(street_id);
        big.push(org(
            Some(street_id),
            OrgKind::Community,
            format!("{street}骑手之家社区工会"),
            "320102",
        )?);
        big.push(org(
            Some(street_id),
            OrgKind::Enterprise,
            format!("{street}配送站联合工会"),
            "320102",
        )?);
    }
    let mut others = Vec::new();
    let mut count = 1 + big.len();
    for (name, region) in [
        ("秦淮区总工会", "320104"),
        ("建邺区总工会", "320105"),
        ("鼓楼区总工会", "320106"),
    ] {
        let id = org(Some(city), OrgKind::District, name.into(), region)?;
        for street in ["第一街道工会", "第二街道工会"] {
            org(Some(id), OrgKind::Street, format!("{name}{street}"), region)?;
            count += 1;
        }
        others.push((id, region));
        count += 1;
    }
    Ok(Orgs {
        city,
        district,
        big,
        others,
        count,
    })
}

/// The staff member who signs in (staff of the city), an admin who granted them, and three
/// more staff; answers the signing-in account.
fn insert_staff(
    conn: &mut DbConn,
    protector: &DataProtector,
    staff_hash: &str,
    orgs: &Orgs,
    now: NaiveDateTime,
) -> platform::Result<i64> {
    let mut ids = Vec::new();
    for k in 0..5 {
        let phone = format!("1380000000{k}");
        let id: i64 = diesel::insert_into(a::table)
            .values((
                a::phone_hash.eq(protector.lookup_hash("phone", &phone)),
                a::phone_enc.eq(protector.seal("phone", phone.as_bytes())),
                a::password_hash.eq(if k == 0 { staff_hash } else { "-" }),
                a::is_admin.eq(k == 1),
                a::created_at.eq(now),
                a::password_changed_at.eq(now),
            ))
            .returning(a::id)
            .get_result(conn)?;
        ids.push(id);
    }
    let (staff, admin) = (ids[0], ids[1]);
    let grants = [
        (staff, orgs.city),
        (ids[2], orgs.city),
        (ids[3], orgs.district),
        (ids[4], orgs.big[1]),
    ];
    for (account, org) in grants {
        diesel::insert_into(g::table)
            .values((
                g::account_id.eq(account),
                g::org_id.eq(org),
                g::granted_by.eq(admin),
                g::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(staff)
}

/// Accounts, real-name profiles, memberships (active or pending), member numbers, history and
/// the approvals' audit entries, in multi-row statements. Answers the members' account ids in
/// the order of `people` (active ones first).
fn insert_people(
    conn: &mut DbConn,
    protector: &DataProtector,
    people: &[Person],
    staff: i64,
    now: NaiveDateTime,
) -> platform::Result<Vec<i64>> {
    let total = people.len();
    // A person a minute, the newest applying now.
    let applied: Vec<NaiveDateTime> = (0..total)
        .map(|i| now - TimeDelta::minutes((total - i) as i64 + 60))
        .collect();
    let phones: Vec<String> = (0..total).map(|i| format!("139{i:08}")).collect();
    let phone_hashes: Vec<String> = phones
        .iter()
        .map(|p| protector.lookup_hash("phone", p))
        .collect();
    let sealed: Vec<String> = phones
        .iter()
        .map(|p| protector.seal("phone", p.as_bytes()))
        .collect();
    let mut account_of: HashMap<String, i64> = HashMap::with_capacity(total);
    for chunk in chunks(total) {
        let rows: Vec<_> = chunk
            .clone()
            .map(|i| {
                (
                    a::phone_hash.eq(phone_hashes[i].as_str()),
                    a::phone_enc.eq(sealed[i].as_str()),
                    a::password_hash.eq("-"),
                    a::is_admin.eq(false),
                    a::created_at.eq(applied[i]),
                    a::password_changed_at.eq(applied[i]),
                )
            })
            .collect();
        let ids: Vec<(i64, String)> =
            platform::insert_rows!(conn, a::table, rows, returning(a::id, a::phone_hash))?;
        account_of.extend(ids.into_iter().map(|(id, hash)| (hash, id)));
    }
    let accounts: Vec<i64> = phone_hashes.iter().map(|h| account_of[h]).collect();

    let names: Vec<String> = (0..total).map(name_of).collect();
    let id_numbers: Vec<String> = (0..total)
        .map(|i| id_number_of(people[i].region, i))
        .collect();
    let id_sealed: Vec<String> = id_numbers
        .iter()
        .map(|n| protector.seal("id_number", n.as_bytes()))
        .collect();
    let id_hashes: Vec<String> = id_numbers
        .iter()
        .map(|n| protector.lookup_hash("id_number", n))
        .collect();
    let id_masked: Vec<String> = id_numbers
        .iter()
        .map(|n| format!("{}{}{}", &n[..3], "*".repeat(11), &n[14..]))
        .collect();
    for chunk in chunks(total) {
        let rows: Vec<_> = chunk
            .clone()
            .map(|i| {
                (
                    rn::account_id.eq(accounts[i]),
                    rn::legal_name.eq(names[i].as_str()),
                    rn::id_number_enc.eq(id_sealed[i].as_str()),
                    rn::id_number_hash.eq(id_hashes[i].as_str()),
                    rn::id_number_masked.eq(id_masked[i].as_str()),
                    rn::consent_at.eq(applied[i]),
                    rn::consent_policy.eq("bench"),
                    rn::updated_at.eq(applied[i]),
                )
            })
            .collect();
        platform::insert_rows!(conn, rn::table, rows)?;
    }

    let started: Vec<Option<NaiveDateTime>> = (0..total)
        .map(|i| {
            people[i]
                .active
                .then(|| applied[i] + TimeDelta::minutes(30))
        })
        .collect();
    let mut membership_of: HashMap<i64, i64> = HashMap::with_capacity(total);
    for chunk in chunks(total) {
        let rows: Vec<_> = chunk
            .clone()
            .map(|i| {
                let person = &people[i];
                (
                    ms::account_id.eq(accounts[i]),
                    ms::org_id.eq(person.org),
                    ms::status.eq(if person.active { "active" } else { "pending" }),
                    ms::occupation.eq(OCCUPATIONS[i % OCCUPATIONS.len()]),
                    ms::platform.eq(PLATFORMS[i % PLATFORMS.len()]),
                    ms::work_city.eq("南京"),
                    ms::applied_at.eq(applied[i]),
                    ms::decided_at.eq(started[i]),
                    ms::decided_by.eq(person.active.then_some(staff)),
                    ms::started_at.eq(started[i]),
                )
            })
            .collect();
        let ids: Vec<(i64, i64)> =
            platform::insert_rows!(conn, ms::table, rows, returning(ms::id, ms::account_id))?;
        membership_of.extend(ids.into_iter().map(|(id, account)| (account, id)));
    }
    let memberships: Vec<i64> = accounts.iter().map(|a| membership_of[a]).collect();

    // Member numbers, per region in order; the counters left where the next activation goes on.
    let mut sequence: BTreeMap<&str, i64> = BTreeMap::new();
    let numbers: Vec<Option<String>> = people
        .iter()
        .map(|person| {
            person.active.then(|| {
                let next = sequence.entry(person.region).or_default();
                *next += 1;
                membership::member_no::format(person.region, *next)
            })
        })
        .collect();
    let active: Vec<usize> = (0..total).filter(|&i| people[i].active).collect();
    for chunk in active.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|&i| {
                (
                    m::account_id.eq(accounts[i]),
                    m::member_no.eq(numbers[i].as_deref().unwrap_or_default()),
                    m::created_at.eq(started[i].unwrap_or(now)),
                )
            })
            .collect();
        platform::insert_rows!(conn, m::table, rows)?;
    }
    for (region, last) in &sequence {
        diesel::insert_into(n::table)
            .values((n::region_code.eq(*region), n::last_value.eq(*last)))
            .execute(conn)?;
    }

    // History: every application, and the activation of the members.
    let mut events: Vec<(usize, &str, NaiveDateTime)> =
        (0..total).map(|i| (i, "applied", applied[i])).collect();
    events.extend(
        active
            .iter()
            .map(|&i| (i, "activated", started[i].unwrap_or(now))),
    );
    events.sort_by_key(|&(_, _, at)| at);
    for chunk in events.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|&(i, kind, at)| {
                (
                    ev::account_id.eq(accounts[i]),
                    ev::membership_id.eq(memberships[i]),
                    ev::org_id.eq(people[i].org),
                    ev::kind.eq(kind),
                    ev::at.eq(at),
                )
            })
            .collect();
        platform::insert_rows!(conn, ev::table, rows)?;
    }
    // The approvals' audit entries, by the staff member, in the members' orgs.
    let records: Vec<String> = memberships
        .iter()
        .map(|id| format!("membership:{id}"))
        .collect();
    for chunk in active.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|&i| {
                (
                    al::at.eq(started[i].unwrap_or(now)),
                    al::actor_account_id.eq(Some(staff)),
                    al::actor_address.eq("10.0.0.8"),
                    al::action.eq("membership.approve"),
                    al::org_id.eq(Some(people[i].org)),
                    al::subject_account_id.eq(Some(accounts[i])),
                    al::record.eq(records[i].as_str()),
                )
            })
            .collect();
        platform::insert_rows!(conn, al::table, rows)?;
    }
    Ok(active.iter().map(|&i| accounts[i]).collect())
}

/// Index ranges of [`CHUNK`] rows.
fn chunks(total: usize) -> Vec<std::ops::Range<usize>> {
    (0..total)
        .step_by(CHUNK)
        .map(|start| start..(start + CHUNK).min(total))
        .collect()
}

/// Programs of the city's subtree: gift packs (published with vouchers claimed, drafts,
/// closed) and health checks with three sessions each and their bookings; the ledger rows of
/// both. Answers how many programs.
fn insert_programs(
    conn: &mut DbConn,
    orgs: &Orgs,
    members: &[i64],
    staff: i64,
    now: NaiveDateTime,
) -> platform::Result<usize> {
    let hosts: Vec<i64> = [orgs.city, orgs.district]
        .into_iter()
        .chain(orgs.big[1..].iter().copied())
        .chain(orgs.others.iter().map(|(d, _)| *d))
        .collect();
    let programs = 24;
    let mut next_member = 0;
    for k in 0..programs {
        let health = k % 3 == 2;
        let status = match k % 6 {
            4 => "draft",
            5 => "closed",
            _ => "published",
        };
        let stock = (!health).then_some(500);
        let claimed = if health || status == "draft" { 0 } else { 150 };
        let starts = now - TimeDelta::days(10) + TimeDelta::days(k as i64);
        let id: i64 = diesel::insert_into(p::table)
            .values((
                p::org_id.eq(hosts[k % hosts.len()]),
                p::kind.eq(if health { "health_check" } else { "gift_pack" }),
                p::title.eq(format!(
                    "{}（第 {k} 期）",
                    if health {
                        "免费体检"
                    } else {
                        "夏季清凉礼包"
                    }
                )),
                p::description.eq("为新就业形态劳动者提供的服务"),
                p::status.eq(status),
                p::starts_at.eq(starts),
                p::ends_at.eq(starts + TimeDelta::days(30)),
                p::per_member_limit.eq(1),
                p::eligibility.eq("{}"),
                p::mode.eq("first_come"),
                p::stock_total.eq(stock),
                p::stock_left.eq(stock.map(|s| s - claimed as i32)),
                p::created_by.eq(staff),
                p::created_at.eq(starts - TimeDelta::days(3)),
                p::published_at.eq((status != "draft").then_some(starts - TimeDelta::days(1))),
                p::closed_at.eq((status == "closed").then_some(now)),
            ))
            .returning(p::id)
            .get_result(conn)?;
        if !health {
            let holders: Vec<i64> = (0..claimed)
                .map(|j| members[(next_member + j) % members.len()])
                .collect();
            next_member += claimed;
            let codes: Vec<String> = (0..claimed).map(|j| format!("BV{id}X{j:06}")).collect();
            let rows: Vec<_> = holders
                .iter()
                .zip(&codes)
                .map(|(account, code)| {
                    (
                        v::program_id.eq(id),
                        v::account_id.eq(*account),
                        v::claim_no.eq(1),
                        v::code.eq(code.as_str()),
                        v::status.eq("issued"),
                        v::issued_at.eq(starts),
                        v::valid_until.eq(Some(starts + TimeDelta::days(60))),
                    )
                })
                .collect();
            let issued: Vec<(i64, i64)> =
                platform::insert_rows!(conn, v::table, rows, returning(v::account_id, v::id))?;
            ledger(conn, id, "claimed", &issued, starts)?;
            continue;
        }
        for session in 0..3 {
            let at = starts + TimeDelta::days(2 + session);
            let booked = if status == "draft" { 0 } else { 40 };
            let session_id: i64 = diesel::insert_into(hs::table)
                .values((
                    hs::program_id.eq(id),
                    hs::site_name.eq(format!("体检车 {session} 号")),
                    hs::address.eq("南京市玄武区中山路 1 号"),
                    hs::starts_at.eq(at),
                    hs::ends_at.eq(at + TimeDelta::hours(8)),
                    hs::capacity.eq(60),
                    hs::booked.eq(booked as i32),
                    hs::created_at.eq(starts),
                ))
                .returning(hs::id)
                .get_result(conn)?;
            let holders: Vec<i64> = (0..booked)
                .map(|j| members[(next_member + j) % members.len()])
                .collect();
            next_member += booked;
            let codes: Vec<String> = (0..booked)
                .map(|j| format!("BB{session_id}X{j:06}"))
                .collect();
            let rows: Vec<_> = holders
                .iter()
                .zip(&codes)
                .map(|(account, code)| {
                    (
                        b::session_id.eq(session_id),
                        b::program_id.eq(id),
                        b::account_id.eq(*account),
                        b::status.eq("booked"),
                        b::code.eq(code.as_str()),
                        b::created_at.eq(starts),
                    )
                })
                .collect();
            let made: Vec<(i64, i64)> =
                platform::insert_rows!(conn, b::table, rows, returning(b::account_id, b::id))?;
            ledger(conn, id, "booked", &made, starts)?;
        }
    }
    Ok(programs)
}

/// Ledger rows of `(account, ref)` pairs.
fn ledger(
    conn: &mut DbConn,
    program: i64,
    kind: &str,
    pairs: &[(i64, i64)],
    at: NaiveDateTime,
) -> platform::Result<()> {
    let rows: Vec<_> = pairs
        .iter()
        .map(|(account, reference)| {
            (
                l::account_id.eq(*account),
                l::program_id.eq(program),
                l::kind.eq(kind),
                l::ref_id.eq(Some(*reference)),
                l::at.eq(at),
            )
        })
        .collect();
    platform::insert_rows!(conn, l::table, rows)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_interpolate_within_buckets() {
        let text = "\
http_request_duration_seconds_bucket{method=\"GET\",route=\"/console\",le=\"0.01\"} 50
http_request_duration_seconds_bucket{method=\"GET\",route=\"/console\",le=\"0.05\"} 100
http_request_duration_seconds_bucket{method=\"GET\",route=\"/console\",le=\"+Inf\"} 100
http_request_duration_seconds_sum{method=\"GET\",route=\"/console\"} 1.5
http_request_duration_seconds_count{method=\"GET\",route=\"/console\"} 100
http_request_duration_seconds_bucket{method=\"GET\",route=\"/metrics\",le=\"0.01\"} 7
http_request_duration_seconds_count{method=\"GET\",route=\"/metrics\"} 7
";
        let t = ServerTime::parse(text);
        assert_eq!(t.count, 100.0);
        assert!((t.mean_ms() - 15.0).abs() < 1e-9);
        assert!((t.percentile_ms(0.5) - 10.0).abs() < 1e-9);
        assert!((t.percentile_ms(0.99) - 49.2).abs() < 1e-6);
        assert_eq!(t.share_within(0.05), 1.0);
        let none = t.minus(&t);
        assert_eq!(none.count, 0.0);
    }

    #[test]
    fn numbers_are_well_formed() {
        assert!(membership::member_no::is_valid(
            &membership::member_no::format("320102", 42)
        ));
        let id = id_number_of("320102", 12_345);
        assert_eq!(id.len(), 18);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert!(identity::id_number::IdNumber::parse(&id, today).is_some());
        assert_eq!(encode("王 a/"), "%E7%8E%8B%20a%2F");
        assert_eq!(
            hidden_csrf(r#"<input type="hidden" name="_csrf" value="abc">"#).as_deref(),
            Some("abc")
        );
    }
}
