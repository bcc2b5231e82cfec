//! The scenarios. A scenario prepares its data, starts the server, and measures its endpoint
//! against `/healthz` with [`measure_each`]. Add one by writing a module and listing it here.

mod claim_floor;
mod console;
pub mod flash_crowd;
mod login_storm;
pub mod notify;
mod stations;

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;

use crate::load::{self, LoadStats};
use crate::report::Outcome;
use crate::server::{process_cpu, Server};
use crate::Options;

pub const NAMES: &[&str] = &["stations", FLASH_CROWD, "login-storm", "console", NOTIFY];

/// Gift-pack claims and bookings under a crowd ten times the stock.
pub const FLASH_CROWD: &str = "flash-crowd";

/// Notices delivered per second by one server's dispatcher.
pub const NOTIFY: &str = "notify";

/// Where a scenario's server keeps its data.
pub enum Backend {
    Sqlite,
    Postgres {
        /// A server to create a scratch database on.
        admin_url: String,
        redis: Option<String>,
    },
}

impl Backend {
    pub fn label(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { redis: Some(_), .. } => "postgres + redis",
            Backend::Postgres { redis: None, .. } => "postgres",
        }
    }
}

/// SQLite always; PostgreSQL (+ Redis with `BENCH_REDIS_URL`) when `BENCH_PG_URL` names a
/// server (`make bench` sets both when the local ones answer).
pub fn backends() -> Vec<Backend> {
    let setting = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut all = vec![Backend::Sqlite];
    if let Some(admin_url) = setting("BENCH_PG_URL") {
        all.push(Backend::Postgres {
            admin_url,
            redis: setting("BENCH_REDIS_URL"),
        });
    }
    all
}

/// A database of one run: a SQLite file (`sqlite_file`), or a PostgreSQL database of its own,
/// dropped with this.
pub struct Scratch {
    pub url: String,
    pub redis: Option<String>,
    _pg: Option<crate::drills::ScratchPg>,
}

impl Scratch {
    pub fn create(
        backend: &Backend,
        sqlite_file: &std::path::Path,
        purpose: &str,
    ) -> anyhow::Result<Scratch> {
        Ok(match backend {
            Backend::Sqlite => Scratch {
                url: format!("sqlite://{}", sqlite_file.display()),
                redis: None,
                _pg: None,
            },
            Backend::Postgres { admin_url, redis } => {
                let pg = crate::drills::ScratchPg::create(admin_url, purpose)?;
                Scratch {
                    url: pg.url.clone(),
                    redis: redis.clone(),
                    _pg: Some(pg),
                }
            }
        })
    }

    /// The server's environment for this database.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("DATABASE_URL", self.url.clone())];
        if let Some(redis) = &self.redis {
            env.push(("REDIS_URL", redis.clone()));
        }
        env
    }
}

pub async fn run(name: &str, options: &Options, backend: &Backend) -> anyhow::Result<Outcome> {
    match name {
        "stations" => stations::run(options, backend).await,
        "login-storm" => login_storm::run(options, backend).await,
        "console" => console::run(options, backend).await,
        other => bail!("unknown scenario {other}; known: {}", NAMES.join(", ")),
    }
}

/// One round, with the CPU time the server and this load generator spent over it.
async fn metered(
    server: &Server,
    paths: Arc<Vec<String>>,
    options: &Options,
) -> anyhow::Result<LoadStats> {
    let me = std::process::id();
    let (server_before, client_before) = (server.cpu()?, process_cpu(me)?);
    let mut stats = load::run(server.addr, paths, options.connections, options.round).await?;
    stats.server_cpu = server.cpu()?.saturating_sub(server_before);
    stats.client_cpu = process_cpu(me)?.saturating_sub(client_before);
    Ok(stats)
}

/// Measures endpoints against each other (`/healthz` among them as the baseline): warms each
/// up, then measures them in turns, one round of each per turn, each turn starting one endpoint further (so that none always runs
/// right after the same other one); returns their figures in the order given. Fails when any
/// had errors.
pub async fn measure_each(
    server: &Server,
    endpoints: Vec<Vec<String>>,
    options: &Options,
) -> anyhow::Result<Vec<LoadStats>> {
    let endpoints: Vec<Arc<Vec<String>>> = endpoints.into_iter().map(Arc::new).collect();
    let warm = Duration::from_secs(1);
    for paths in &endpoints {
        load::run(server.addr, paths.clone(), options.connections, warm).await?;
    }
    let mut all = vec![LoadStats::default(); endpoints.len()];
    for turn in 0..options.rounds {
        for i in (0..endpoints.len()).map(|k| (turn + k) % endpoints.len()) {
            all[i].merge(metered(server, endpoints[i].clone(), options).await?);
        }
    }
    let errors: Vec<u64> = all.iter().map(|s| s.errors).collect();
    if errors.iter().any(|&e| e > 0) {
        bail!("errors under load, per endpoint in the order given: {errors:?}");
    }
    Ok(all)
}
