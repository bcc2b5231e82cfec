//! Nearby search over a nationwide set of stations (200,000 by default, China has about
//! 186,000), queried at random points around Nanjing and Hefei the way the app asks: default
//! radius (3 km) and limit (20), a quarter with an amenity filter, a tenth for open stations only.

use std::time::{Duration, Instant};

use membership::orgs::{self, NewOrg, RegionCode};
use membership::vocab::OrgKind;
use platform::db::write_tx;
use platform::Db;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stations::index::StationIndex;
use stations::nearby::{answer, NearbyParams};

use super::{Backend, Scratch};
use crate::report::{Figure, Outcome};
use crate::server::Server;
use crate::Options;

const QUERIES: usize = 10_000;

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

    let mut env = scratch.env();
    env.extend([
        ("DATA_DIR", dir.path().join("data").display().to_string()),
        // Request logging off for both endpoints alike: measure the work, not the log.
        ("RUST_LOG", "warn".to_owned()),
    ]);
    let server = Server::start(&options.server, &env, &dir.path().join("server.log")).await?;
    // Let startup work settle (the first index check, allocator) before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_mib = server.rss_mib()?;

    let (baseline, measured) = crate::scenarios::measure(&server, queries(), options).await?;
    let rss_after_load_mib = server.rss_mib()?;
    let ready_seconds = server.ready_after.as_secs_f64();
    let nearby = crate::wire::weigh(server.addr, &crate::wire::Probe::get(&queries()[0])).await?;
    let healthz = crate::wire::weigh(server.addr, &crate::wire::Probe::get("/healthz")).await?;
    // Stopped first, so that nothing runs beside the handler measured below.
    drop(server);
    let handler_us = answer_in_process(&database_url, &queries())?;

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
    outcome.figures = vec![Figure::new(
        "handler_us_per_answer_in_process",
        (handler_us * 10.0).round() / 10.0,
        format!(
            "the handler alone (parse, search, write the answer; no HTTP), in this process on one \
             thread: {handler_us:.1} us per answer"
        ),
    )];
    outcome.figures.extend(nearby.figures("nearby"));
    outcome.figures.extend(healthz.figures("healthz"));
    outcome.targets = vec![
        (
            format!(
                "req/s >= 80% of /healthz ({:.0}%)",
                outcome.rps_ratio() * 100.0
            ),
            outcome.rps_ratio() >= 0.8,
        ),
        (
            format!("p99 <= 1.5x /healthz ({:.2}x)", outcome.p99_ratio()),
            outcome.p99_ratio() <= 1.5,
        ),
        (
            format!("ready < 1 s ({:.3} s)", outcome.ready_seconds),
            outcome.ready_seconds < 1.0,
        ),
        (
            format!("idle RSS < 64 MiB ({:.1} MiB)", outcome.rss_idle_mib),
            outcome.rss_idle_mib < 64.0,
        ),
    ];
    Ok(outcome)
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

/// What answering `paths` costs away from HTTP: the queries answered in this process on one
/// thread, over an index loaded from the same database; microseconds per answer. It says how
/// much of the route's cost is the handler and how much the HTTP around it.
fn answer_in_process(database_url: &str, paths: &[String]) -> anyhow::Result<f64> {
    let db = Db::connect(database_url)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let index = StationIndex::load(&mut [&mut *conn]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let params: Vec<NearbyParams> = paths.iter().map(|p| params_of(p)).collect();
    let mut bytes = 0;
    let mut answer_all = || -> anyhow::Result<()> {
        for p in &params {
            bytes += answer(&index, p).map_err(|e| anyhow::anyhow!("{e}"))?.len();
        }
        Ok(())
    };
    answer_all()?; // warm the caches as the HTTP rounds did
    const PASSES: usize = 3;
    let started = Instant::now();
    for _ in 0..PASSES {
        answer_all()?;
    }
    let elapsed = started.elapsed();
    std::hint::black_box(bytes);
    Ok(elapsed.as_secs_f64() * 1e6 / (PASSES * params.len()) as f64)
}

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
