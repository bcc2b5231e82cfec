//! A login storm: thousands of riders sign in with their passwords at once (a shift starts, the
//! app was updated and dropped every session). Each login verifies an Argon2id hash, tens of
//! milliseconds of one core, and the server lets only as many run at once as it has cores: the
//! ceiling is cores / (time of one verification). Two questions, measured apart, since one
//! machine's cores cannot serve both at full speed at once: how close do logins alone get to
//! that ceiling, and how much of `/healthz` does the rest of the server keep answering while
//! the storm runs?
//!
//! Baselines measured in the same run:
//! - one Argon2id verification with the server's parameters (the identity crate's own hasher),
//!   timed in this process on this machine before the server starts;
//! - `GET /healthz` of the same server without the storm, in rounds alternating with the storm.
//!
//! Accounts are written straight into the database with the identity crate's hashing and the
//! data key the server will load from the same data directory; a few distinct hashes are
//! shared among them (a verification costs the same whatever the salt, and hashing thousands
//! would take a minute of setup). Each account signs in once, from its own address (the server
//! runs with `TRUST_PROXY` and the bench sends `X-Forwarded-For`, as a reverse proxy in front of
//! it would): per phone at most 10 logins per 15 minutes and per address 300 a minute are the
//! server's fixed limits, and one client address would meet the second within seconds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use diesel::prelude::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use identity::password::{Password, PasswordHasher};
use platform::crypto::{load_data_key, DataProtector};
use platform::db::write_tx;
use platform::schema::accounts as a;
use platform::Db;
use serde_json::json;

use super::{Backend, Scratch};
use crate::load::{self, LoadStats};
use crate::report::{Figure, Outcome};
use crate::server::Server;
use crate::Options;

/// Accounts created; each signs in at most once.
const ACCOUNTS: usize = 6_000;
/// Distinct password hashes among them.
const HASHES: usize = 8;
/// Verifications timed for the single-hash baseline.
const TIMED_VERIFICATIONS: usize = 20;
/// Concurrent login connections of the storm.
const STORM_CONNECTIONS: usize = 64;
/// Storm before `/healthz` is measured in it, so that the queue of logins has formed.
const RAMP: Duration = Duration::from_secs(1);

pub async fn run(options: &Options, backend: &Backend) -> anyhow::Result<Outcome> {
    let dir = tempfile::Builder::new()
        .prefix("gigunion-logins")
        .tempdir()?;
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir)?;
    let scratch = Scratch::create(backend, &dir.path().join("logins.db"), "logins")?;
    let database_url = scratch.url.clone();

    let setup = Instant::now();
    let hasher = PasswordHasher::new();
    let passwords: Vec<String> = (0..HASHES).map(|i| format!("rider{i}shift2026")).collect();
    let mut hashes = Vec::with_capacity(HASHES);
    for password in &passwords {
        let parsed = Password::parse(password, "password").map_err(|e| anyhow::anyhow!("{e}"))?;
        hashes.push(
            hasher
                .hash(parsed)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    let phones = create_accounts(&database_url, &data_dir, &hashes)?;
    let setup_seconds = setup.elapsed().as_secs_f64();
    println!(
        "{} accounts ({HASHES} distinct Argon2id hashes) in {setup_seconds:.1} s",
        phones.len()
    );

    // The ceiling, measured before the server runs: one verification at a time.
    let mut timed = Vec::with_capacity(TIMED_VERIFICATIONS);
    for i in 0..TIMED_VERIFICATIONS {
        let started = Instant::now();
        let ok = hasher
            .verify(&passwords[i % HASHES], Some(hashes[i % HASHES].clone()))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        timed.push(started.elapsed());
        if !ok {
            bail!("a password does not verify against its own hash");
        }
    }
    timed.sort_unstable();
    let verify = timed[timed.len() / 2];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ceiling = cores as f64 / verify.as_secs_f64();
    println!(
        "one Argon2id verification: {:.1} ms (median of {TIMED_VERIFICATIONS}); {cores} cores: at most {ceiling:.0} logins/s",
        verify.as_secs_f64() * 1e3
    );

    let mut env = scratch.env();
    env.extend([
        ("DATA_DIR", data_dir.display().to_string()),
        ("RUST_LOG", "warn".to_owned()),
        ("TRUST_PROXY", "true".to_owned()),
    ]);
    let server = Server::start(&options.server, &env, &dir.path().join("server.log")).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_mib = server.rss_mib()?;

    let baseline_paths = Arc::new(vec!["/healthz".to_owned()]);
    load::run(
        server.addr,
        baseline_paths.clone(),
        options.connections,
        Duration::from_secs(1),
    )
    .await?;
    let phones = Arc::new(phones);
    let next = Arc::new(AtomicUsize::new(0));
    let mut alone = LoadStats::default();
    let mut during = LoadStats::default();
    let mut storm = Storm::default();
    let mut storm_alone = Storm::default();
    for _ in 0..options.rounds {
        // Logins with nothing else on the machine: against the ceiling.
        storm_alone.merge(
            logins(
                server.addr,
                phones.clone(),
                passwords.clone(),
                next.clone(),
                options.round,
            )
            .await?,
        );
        alone.merge(
            load::run(
                server.addr,
                baseline_paths.clone(),
                options.connections,
                options.round,
            )
            .await?,
        );
        let logins = logins(
            server.addr,
            phones.clone(),
            passwords.clone(),
            next.clone(),
            RAMP + options.round,
        );
        let healthz = async {
            tokio::time::sleep(RAMP).await;
            load::run(
                server.addr,
                baseline_paths.clone(),
                options.connections,
                options.round,
            )
            .await
        };
        let (logins, healthz) = tokio::join!(logins, healthz);
        storm.merge(logins?);
        during.merge(healthz?);
    }
    let rss_after_load_mib = server.rss_mib()?;
    let ready_seconds = server.ready_after.as_secs_f64();
    // One more sign-in, by the last account (the storm stops before it), weighed.
    let last = phones.len() - 1;
    let login_body =
        serde_json::json!({ "phone": phones[last], "password": passwords[last % HASHES] })
            .to_string();
    let login_wire = crate::wire::weigh(
        server.addr,
        &crate::wire::Probe {
            method: hyper::Method::POST,
            json: Some(&login_body),
            ..crate::wire::Probe::get("/v1/auth/login")
        },
    )
    .await?;
    drop(server);

    if next.load(Ordering::Relaxed) >= phones.len() {
        bail!("the storm ran out of accounts: raise ACCOUNTS");
    }
    if storm.failed > 0 || storm_alone.failed > 0 || alone.errors > 0 || during.errors > 0 {
        bail!(
            "errors under load: logins {:?} and alone {:?} ({} and {} transport failures), /healthz alone {}, during the storm {}",
            storm.statuses,
            storm_alone.statuses,
            storm.failed,
            storm_alone.failed,
            alone.errors,
            during.errors
        );
    }
    let logins_per_second = storm.ok as f64 / storm.elapsed.as_secs_f64();
    let of_ceiling = logins_per_second / ceiling;
    let alone_per_second = storm_alone.ok as f64 / storm_alone.elapsed.as_secs_f64();
    let alone_of_ceiling = alone_per_second / ceiling;
    let healthz_kept = during.rps() / alone.rps();
    storm_alone.latencies_ms.sort_unstable_by(f64::total_cmp);
    let alone_p99 = percentile(&storm_alone.latencies_ms, 99.0);
    storm.latencies_ms.sort_unstable_by(f64::total_cmp);
    let login_p50 = percentile(&storm.latencies_ms, 50.0);
    let login_p99 = percentile(&storm.latencies_ms, 99.0);

    Ok(Outcome {
        scenario: "login_storm",
        database: backend.label(),
        endpoint: "GET /healthz in the storm".into(),
        dataset: format!("{} accounts", phones.len()),
        setup_seconds,
        ready_seconds,
        rss_idle_mib,
        rss_after_load_mib,
        connections: options.connections,
        baseline: alone,
        measured: during,
        targets: vec![
            (
                format!("logins alone {alone_of_ceiling:.2} of the Argon2 ceiling >= 0.85"),
                alone_of_ceiling >= 0.85,
            ),
            (
                format!("/healthz in the storm {healthz_kept:.2} of /healthz alone >= 0.5"),
                healthz_kept >= 0.5,
            ),
        ],
        figures: vec![
            Figure::new(
                "logins_alone_per_second",
                alone_per_second.round(),
                format!(
                    "logins alone: {} in {:.1} s = {alone_per_second:.0}/s, {:.0}% of the Argon2 ceiling; latency p99 {alone_p99:.0} ms",
                    storm_alone.ok,
                    storm_alone.elapsed.as_secs_f64(),
                    alone_of_ceiling * 100.0
                ),
            ),
            Figure::new("logins_alone_vs_ceiling", alone_of_ceiling, String::new()),
            Figure::new("healthz_in_storm_vs_alone", healthz_kept, String::new()),
            Figure::new(
                "logins_per_second",
                logins_per_second.round(),
                format!(
                    "logins beside the /healthz load: {} in {:.1} s = {logins_per_second:.0}/s, {:.0}% of the Argon2 ceiling; latency p50 {login_p50:.0} ms, p99 {login_p99:.0} ms ({STORM_CONNECTIONS} connections)",
                    storm.ok,
                    storm.elapsed.as_secs_f64(),
                    of_ceiling * 100.0
                ),
            ),
            Figure::new(
                "argon2_verify_ms",
                (verify.as_secs_f64() * 1e4).round() / 10.0,
                format!(
                    "Argon2 ceiling: {cores} cores / {:.1} ms per verification = {ceiling:.0} logins/s",
                    verify.as_secs_f64() * 1e3
                ),
            ),
            Figure::new("argon2_ceiling_per_second", ceiling.round(), String::new()),
            Figure::new("logins_vs_ceiling", of_ceiling, String::new()),
            Figure::new("login_p50_ms", login_p50.round(), String::new()),
            Figure::new("login_p99_ms", login_p99.round(), String::new()),
            Figure::new("logins", storm.ok as f64, String::new()),
            Figure::new("cores", cores as f64, String::new()),
        ]
        .into_iter()
        .chain(login_wire.figures("login"))
        .collect(),
    })
}

/// Accounts with phones `13900000000`, `13900000001`, ... and the given password hashes in
/// turn, written the way the identity crate writes them (keyed phone hash, sealed phone) with
/// the data key the server will read from `data_dir`. Returns the phones.
fn create_accounts(
    database_url: &str,
    data_dir: &std::path::Path,
    hashes: &[String],
) -> anyhow::Result<Vec<String>> {
    let db = Db::connect(database_url)?;
    db.migrate()?;
    let key = load_data_key(None, &data_dir.join("data.key"))?;
    let protector = DataProtector::new(&key);
    let phones: Vec<String> = (0..ACCOUNTS).map(|i| format!("139{i:08}")).collect();
    let now = Utc::now().naive_utc();
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_tx(&mut conn, |conn| {
        for (i, phone) in phones.iter().enumerate() {
            diesel::insert_into(a::table)
                .values((
                    a::phone_hash.eq(protector.lookup_hash("phone", phone)),
                    a::phone_enc.eq(protector.seal("phone", phone.as_bytes())),
                    a::password_hash.eq(&hashes[i % hashes.len()]),
                    a::is_admin.eq(false),
                    a::created_at.eq(now),
                    a::password_changed_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(phones)
}

/// What the storm's logins did.
#[derive(Default)]
struct Storm {
    /// `200`s.
    ok: usize,
    /// Answers by status.
    statuses: std::collections::BTreeMap<u16, usize>,
    /// Requests that got no answer.
    failed: usize,
    /// Time the storm ran.
    elapsed: Duration,
    latencies_ms: Vec<f64>,
}

impl Storm {
    fn merge(&mut self, other: Storm) {
        self.ok += other.ok;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.failed += other.failed;
        self.elapsed += other.elapsed;
        self.latencies_ms.extend(other.latencies_ms);
    }
}

/// `STORM_CONNECTIONS` keep-alive connections signing in the next unused account each, as fast
/// as answers come, for `duration`; each login from the account's own address.
async fn logins(
    addr: SocketAddr,
    phones: Arc<Vec<String>>,
    passwords: Vec<String>,
    next: Arc<AtomicUsize>,
    duration: Duration,
) -> anyhow::Result<Storm> {
    let started = Instant::now();
    let deadline = started + duration;
    let passwords = Arc::new(passwords);
    let mut tasks = Vec::new();
    for _ in 0..STORM_CONNECTIONS {
        let (phones, passwords, next) = (phones.clone(), passwords.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut storm = Storm::default();
            let mut sender = crate::load::connect(addr).await?;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(phone) = phones.get(i) else {
                    break;
                };
                let body = json!({ "phone": phone, "password": passwords[i % passwords.len()] });
                let request = hyper::Request::post("/v1/auth/login")
                    .header(hyper::header::HOST, "bench")
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .header(
                        "x-forwarded-for",
                        format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
                    )
                    .body(Full::new(Bytes::from(body.to_string())))?;
                let sent = Instant::now();
                let answer = async {
                    let response = sender.send_request(request).await?;
                    let status = response.status().as_u16();
                    response.into_body().collect().await?;
                    Ok::<_, anyhow::Error>(status)
                }
                .await;
                match answer {
                    Ok(status) => {
                        storm.latencies_ms.push(sent.elapsed().as_secs_f64() * 1e3);
                        *storm.statuses.entry(status).or_default() += 1;
                        if status == 200 {
                            storm.ok += 1;
                        }
                    }
                    Err(_) => {
                        storm.failed += 1;
                        break;
                    }
                }
            }
            Ok::<_, anyhow::Error>(storm)
        }));
    }
    let mut total = Storm::default();
    for task in tasks {
        total.merge(task.await.context("a login connection panicked")??);
    }
    total.elapsed = started.elapsed();
    if total.ok != total.statuses.values().sum::<usize>() {
        total.failed += total.statuses.values().sum::<usize>() - total.ok;
    }
    Ok(total)
}

/// The `p`th percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
