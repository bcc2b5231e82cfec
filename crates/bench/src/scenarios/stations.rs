//! Nearby search over a nationwide set of stations (200,000 by default, China has about
//! 186,000), queried at random points around Nanjing and Hefei the way the app asks: default
//! radius (3 km) and limit (20), a quarter with an amenity filter, a tenth for open stations only.

use std::time::{Duration, Instant};

use anyhow::bail;
use membership::orgs::{self, NewOrg, RegionCode};
use membership::vocab::OrgKind;
use platform::db::write_tx;
use platform::Db;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stations::index::StationIndex;
use stations::nearby::{answer, answer_serde, NearbyParams};

use super::{Backend, Scratch};
use crate::load::LoadStats;
use crate::report::{Figure, Outcome};
use crate::server::Server;
use crate::wire::{weigh, Probe, Weight};
use crate::Options;

const QUERIES: usize = 10_000;

/// The route of the fixed answer (crates/server/src/bench_fixed.rs).
const FIXED: &str = "/bench/fixed";

pub async fn run(options: &Options, backend: &Backend) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let file = match (&options.database, backend) {
        (Some(file), Backend::Sqlite) => file.clone(),
        _ => dir.path().join("bench.db"),
    };
    let scratch = Scratch::create(backend, &file, "stations")?;
    let database_url = scratch.url.clone();
    let setup = Instant::now();
    if matches!(backend, Backend::Sqlite) && file.exists() {
        println!(
            "reusing {} (its stations, whatever --stations says)",
            file.display()
        );
    } else {
        prefill(&database_url, options.dataset)?;
        println!(
            "prefilled {} stations in {:.1} s",
            options.dataset,
            setup.elapsed().as_secs_f64()
        );
    }
    let setup_seconds = setup.elapsed().as_secs_f64();

    // The fixed answer is a nearby answer of this database, written before the server starts
    // (it serves the file it is started with): the index is loaded here once, for that and
    // for the in-process timings after the server has stopped.
    let paths = queries();
    let index = load_index(&database_url)?;
    let params: Vec<NearbyParams> = paths.iter().map(|p| params_of(p)).collect();
    let (typical, fixed) = typical_answer(&index, &params)?;
    let typical_path = paths[typical].clone();
    let fixed_file = dir.path().join("fixed.json");
    std::fs::write(&fixed_file, &fixed)?;

    let mut env = scratch.env();
    env.extend([
        ("DATA_DIR", dir.path().join("data").display().to_string()),
        // Request logging off for every endpoint alike: measure the work, not the log.
        ("RUST_LOG", "warn".to_owned()),
        ("BENCH_FIXED_ANSWER", fixed_file.display().to_string()),
    ]);
    let server = Server::start(&options.server, &env, &dir.path().join("server.log")).await?;
    // Let startup work settle (the first index check, allocator) before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_mib = server.rss_mib()?;

    let endpoints = vec![vec!["/healthz".to_owned()], vec![FIXED.to_owned()], paths];
    let stats = crate::scenarios::measure_each(&server, endpoints, options).await?;
    let [baseline, fixed_stats, measured]: [LoadStats; 3] = stats
        .try_into()
        .map_err(|_| anyhow::anyhow!("three endpoints measured"))?;
    let rss_after_load_mib = server.rss_mib()?;
    let ready_seconds = server.ready_after.as_secs_f64();
    let weights = Weights {
        nearby: weigh(server.addr, &Probe::get(&typical_path)).await?,
        fixed: weigh(server.addr, &Probe::get(FIXED)).await?,
        healthz: weigh(server.addr, &Probe::get("/healthz")).await?,
    };
    if weights.fixed.plain_body != fixed.len() {
        bail!("{FIXED} answered other bytes than the file's");
    }
    // Stopped first, so that nothing runs beside the writers timed below.
    drop(server);
    let costs = writer_costs(&index, &params)?;

    let mut outcome = Outcome {
        scenario: "stations",
        database: backend.label(),
        endpoint: "GET /v1/stations/nearby".into(),
        dataset: format!("{} stations", options.dataset),
        setup_seconds,
        ready_seconds,
        rss_idle_mib,
        rss_after_load_mib,
        connections: options.connections,
        baseline,
        measured,
        targets: Vec::new(),
        figures: Vec::new(),
    };
    outcome.figures = figures(&outcome, &fixed_stats, &weights, &costs, &fixed);
    outcome.targets = targets(&outcome, &fixed_stats);
    Ok(outcome)
}

/// What the answers weigh on the wire: nearby (the query of the fixed answer), the fixed
/// answer, `/healthz`.
struct Weights {
    nearby: Weight,
    fixed: Weight,
    healthz: Weight,
}

fn targets(o: &Outcome, fixed: &LoadStats) -> Vec<(String, bool)> {
    let same_bytes = o.measured.rps() / fixed.rps();
    vec![
        (
            format!("req/s >= 0.9 of the same bytes answered fixed ({same_bytes:.2})"),
            same_bytes >= 0.9,
        ),
        (
            format!("p99 <= 1.5x /healthz ({:.2}x)", o.p99_ratio()),
            o.p99_ratio() <= 1.5,
        ),
        (
            format!("ready < 1 s ({:.3} s)", o.ready_seconds),
            o.ready_seconds < 1.0,
        ),
        (
            format!("idle RSS < 64 MiB ({:.1} MiB)", o.rss_idle_mib),
            o.rss_idle_mib < 64.0,
        ),
    ]
}

fn figures(
    o: &Outcome,
    fixed: &LoadStats,
    weights: &Weights,
    costs: &WriterCosts,
    fixed_body: &[u8],
) -> Vec<Figure> {
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    let (rps, p99) = (
        o.measured.rps() / fixed.rps(),
        o.measured.p99_ms() / fixed.p99_ms(),
    );
    let cpu = o.measured.server_cpu_us_per_request() / fixed.server_cpu_us_per_request();
    let mut all = fixed_figures(fixed);
    all.extend([
        Figure::new(
            "rps_ratio_to_fixed",
            round2(rps),
            format!(
                "nearby against the fixed answer: req/s {rps:.2}, p99 {p99:.2}, server CPU per \
                 request {cpu:.2}; against /healthz (the former target, 0.80): req/s {:.2}",
                o.rps_ratio()
            ),
        ),
        Figure::new("p99_ratio_to_fixed", round2(p99), String::new()),
        Figure::new("server_cpu_ratio_to_fixed", round2(cpu), String::new()),
    ]);
    all.extend(weights.nearby.figures("nearby"));
    all.extend(weights.nearby.body_figures("nearby"));
    all.extend(weights.fixed.figures("fixed"));
    all.extend(weights.fixed.body_figures("fixed"));
    all.extend(weights.healthz.figures("healthz"));
    let brotli_here = brotli_as_server(fixed_body).len();
    all.push(Figure::new(
        "fixed_body_bytes_brotli_in_process",
        brotli_here as f64,
        format!(
            "the fixed answer compressed here as the server does: {brotli_here} bytes (the server \
             sent {})",
            weights.fixed.compressed_body
        ),
    ));
    all.extend(costs.figures(|v| (v * 10.0).round() / 10.0));
    all
}

/// The fixed answer's figures under load, printed as one more row of the table.
fn fixed_figures(fixed: &LoadStats) -> Vec<Figure> {
    let row = format!(
        "{:<28} {:>10.0} {:>9.3} {:>9.3} {:>9.0}   (the same bytes as a nearby answer, served \
         fixed; server {:.0} us, load generator {:.0} us CPU per request)",
        format!("GET {FIXED}"),
        fixed.rps(),
        fixed.p50_ms(),
        fixed.p99_ms(),
        fixed.mean_body_bytes(),
        fixed.server_cpu_us_per_request(),
        fixed.client_cpu_us_per_request()
    );
    let mut all = vec![Figure::new(
        "fixed_requests_per_second",
        fixed.rps().round(),
        row,
    )];
    for (key, value) in [
        ("fixed_p50_ms", fixed.p50_ms()),
        ("fixed_p99_ms", fixed.p99_ms()),
        ("fixed_mean_body_bytes", fixed.mean_body_bytes().round()),
        (
            "fixed_server_cpu_us_per_request",
            fixed.server_cpu_us_per_request().round(),
        ),
        (
            "fixed_load_generator_cpu_us_per_request",
            fixed.client_cpu_us_per_request().round(),
        ),
    ] {
        all.push(Figure::new(key, value, String::new()));
    }
    all
}

/// The stations index of the database, loaded as the server loads it (on one connection
/// where the server uses two: only the index matters here, not how fast it loads).
fn load_index(database_url: &str) -> anyhow::Result<StationIndex> {
    let db = Db::connect(database_url)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    StationIndex::load(&mut [&mut *conn]).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A typical answer to serve fixed: the query whose answer is nearest the mean size of all
/// the queries' answers (rather than the first, which may be small or large), and its bytes.
fn typical_answer(
    index: &StationIndex,
    params: &[NearbyParams],
) -> anyhow::Result<(usize, Vec<u8>)> {
    let answer_of = |p| answer(index, p).map_err(|e| anyhow::anyhow!("{e}"));
    let mut sizes = Vec::with_capacity(params.len());
    for p in params {
        sizes.push(answer_of(p)?.len());
    }
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64;
    let typical = (0..sizes.len())
        .min_by(|&a, &b| {
            let off = |i: usize| (sizes[i] as f64 - mean).abs();
            off(a).total_cmp(&off(b))
        })
        .ok_or_else(|| anyhow::anyhow!("no queries"))?;
    Ok((typical, answer_of(&params[typical])?))
}

/// A migrated database with `n` synthetic stations, written through the crates.
fn prefill(database_url: &str, n: usize) -> anyhow::Result<()> {
    let db = Db::connect(database_url)?;
    db.migrate()?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let org = write_tx(&mut conn, |conn| {
        orgs::create(
            conn,
            NewOrg {
                parent_id: None,
                kind: OrgKind::Federation,
                name: "中华全国总工会（基准测试）".into(),
                region_code: RegionCode::parse("110000")?,
                address: "北京市".into(),
                location: None,
            },
        )
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    stations::seed::synthetic(&mut conn, org.id, n, 7).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !db.is_sqlite() {
        // What autovacuum does shortly after a bulk write. Without it the server's first read
        // of the fresh rows also sets their hint bits, a one-off write that a server starting
        // on a settled database does not pay, and startup time is what is measured.
        diesel::connection::SimpleConnection::batch_execute(&mut *conn, "VACUUM ANALYZE stations")?;
    }
    Ok(())
}

/// A body compressed as the server compresses it for `Content-Encoding: br`.
fn brotli_as_server(body: &[u8]) -> Vec<u8> {
    platform::compression::encode(platform::compression::ContentEncoding::Brotli, body)
        .expect("brotli encodes")
}

/// What writing an answer costs away from HTTP, in this process on one thread over an index
/// of the same database, microseconds per answer: the hand-written writer and serde on the
/// same borrowed view, each alone (parse, search, write) and followed by brotli as the server
/// compresses for phones. It says how much of the route is the handler, and whether the
/// hand-written writer is worth its code once answers are compressed.
struct WriterCosts {
    hand: f64,
    serde: f64,
    hand_brotli: f64,
    serde_brotli: f64,
}

impl WriterCosts {
    /// What the hand-written writer saves of serde's per-answer cost under brotli: the
    /// difference of the two alone (both compress the same bytes, and brotli's own variation
    /// from pass to pass is larger than the difference).
    fn saving_under_brotli(&self) -> f64 {
        (self.serde - self.hand) / self.serde_brotli
    }

    fn figures(&self, round: impl Fn(f64) -> f64) -> Vec<Figure> {
        let mut all = vec![Figure::new(
            "handler_us_per_answer_in_process",
            round(self.hand),
            format!(
                "in this process on one thread, per answer (parse, search, write): hand-written \
                 {:.1} us, serde {:.1} us; followed by brotli as the server compresses: {:.1} \
                 and {:.1} us; the hand-written writer saves {:.1}% of that",
                self.hand,
                self.serde,
                self.hand_brotli,
                self.serde_brotli,
                self.saving_under_brotli() * 100.0
            ),
        )];
        for (key, value) in [
            ("serde_us_per_answer_in_process", self.serde),
            ("handler_brotli_us_per_answer_in_process", self.hand_brotli),
            ("serde_brotli_us_per_answer_in_process", self.serde_brotli),
            (
                "hand_written_saving_under_brotli_percent",
                self.saving_under_brotli() * 100.0,
            ),
        ] {
            all.push(Figure::new(key, round(value), String::new()));
        }
        all
    }
}

/// A writer of nearby answers: [`answer`] or [`answer_serde`].
type Writer = fn(&StationIndex, &NearbyParams) -> platform::Result<Vec<u8>>;

/// Times the four ways to answer over `params` (each writer, alone and compressed),
/// interleaved pass by pass so that whatever else the machine runs weighs on all alike; the
/// fastest of [`PASSES`] passes of each counts.
fn writer_costs(index: &StationIndex, params: &[NearbyParams]) -> anyhow::Result<WriterCosts> {
    same_bytes(index, params)?;
    let ways: [(Writer, bool); 4] = [
        (answer, false),
        (answer_serde, false),
        (answer, true),
        (answer_serde, true),
    ];
    let pass = |(write, compress): (Writer, bool)| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut bytes = 0;
        for p in params {
            let body = write(index, p).map_err(|e| anyhow::anyhow!("{e}"))?;
            bytes += if compress {
                brotli_as_server(&body).len()
            } else {
                body.len()
            };
        }
        std::hint::black_box(bytes);
        Ok(started.elapsed())
    };
    for way in ways {
        pass(way)?; // warm the caches as the HTTP rounds did
    }
    let mut best = [Duration::MAX; 4];
    for _ in 0..PASSES {
        for (way, best) in ways.into_iter().zip(&mut best) {
            *best = (*best).min(pass(way)?);
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / params.len().max(1) as f64;
    Ok(WriterCosts {
        hand: us(best[0]),
        serde: us(best[1]),
        hand_brotli: us(best[2]),
        serde_brotli: us(best[3]),
    })
}

/// Fails unless both writers write the same bytes for every query: a faster writer of
/// another answer is no candidate. Queries without `at` are answered for the current second,
/// which may turn between the two answers: a difference counts only when it is there twice in
/// a row.
fn same_bytes(index: &StationIndex, params: &[NearbyParams]) -> anyhow::Result<()> {
    let same = |p: &NearbyParams| -> anyhow::Result<bool> {
        let hand = answer(index, p).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(hand == answer_serde(index, p).map_err(|e| anyhow::anyhow!("{e}"))?)
    };
    for (i, p) in params.iter().enumerate() {
        if !same(p)? && !same(p)? {
            bail!("query {i}: serde wrote other bytes than the hand-written writer");
        }
    }
    Ok(())
}

/// Timed passes per way to answer (after one to warm up).
const PASSES: usize = 5;

/// The parameters of one of [`queries`]' paths (plain values: nothing is percent-encoded).
fn params_of(path: &str) -> NearbyParams {
    let mut params = NearbyParams::default();
    let query = path.split_once('?').map_or("", |(_, q)| q);
    for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        let value = Some(value.to_owned());
        match name {
            "lat" => params.lat = value,
            "lng" => params.lng = value,
            "amenities" => params.amenities = value,
            "open_now" => params.open_now = value,
            "at" => params.at = value,
            other => unreachable!("queries() writes no {other}"),
        }
    }
    params
}

/// Random nearby queries around Nanjing and Hefei.
fn queries() -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(42);
    let cities = [(32.0603, 118.7969), (31.8206, 117.2272)];
    (0..QUERIES)
        .map(|i| {
            let (lat, lng) = cities[i % cities.len()];
            let lat = lat + rng.gen_range(-0.12..0.12);
            let lng = lng + rng.gen_range(-0.15..0.15);
            let mut q = format!("/v1/stations/nearby?lat={lat:.6}&lng={lng:.6}");
            if rng.gen_bool(0.25) {
                q.push_str("&amenities=drinking_water,phone_charging");
            }
            if rng.gen_bool(0.1) {
                // At a fixed moment (12:30 in Shanghai), so the answers, and with them the
                // figures, do not depend on the hour the bench runs.
                q.push_str("&open_now=true&at=2026-12-01T04:30:00Z");
            }
            q
        })
        .collect()
}
