//! The scenarios. A scenario prepares its data, starts the server, and measures its endpoint
//! against `/healthz` with [`measure`]. Add one by writing a module and listing it here.

pub mod flash_crowd;
mod login_storm;
mod stations;

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;

use crate::load::{self, LoadStats};
use crate::report::Outcome;
use crate::server::Server;
use crate::Options;

pub const NAMES: &[&str] = &["stations", FLASH_CROWD, "login-storm"];

/// Gift-pack claims and bookings under a crowd ten times the stock.
pub const FLASH_CROWD: &str = "flash-crowd";

pub async fn run(name: &str, options: &Options) -> anyhow::Result<Outcome> {
    match name {
        "stations" => stations::run(options).await,
        "login-storm" => login_storm::run(options).await,
        other => bail!("unknown scenario {other}; known: {}", NAMES.join(", ")),
    }
}

/// One round, with the server's CPU time over it.
async fn metered(
    server: &Server,
    paths: Arc<Vec<String>>,
    options: &Options,
) -> anyhow::Result<LoadStats> {
    let before = server.cpu()?;
    let mut stats = load::run(server.addr, paths, options.connections, options.round).await?;
    stats.server_cpu = server.cpu()?.saturating_sub(before);
    Ok(stats)
}

/// Warms up, then measures the baseline and `paths` in alternating rounds; returns (baseline,
/// measured). Fails when either had errors: a fast wrong answer is no result.
pub async fn measure(
    server: &Server,
    paths: Vec<String>,
    options: &Options,
) -> anyhow::Result<(LoadStats, LoadStats)> {
    let baseline_paths = Arc::new(vec!["/healthz".to_owned()]);
    let paths = Arc::new(paths);
    let warm = Duration::from_secs(1);
    load::run(
        server.addr,
        baseline_paths.clone(),
        options.connections,
        warm,
    )
    .await?;
    load::run(server.addr, paths.clone(), options.connections, warm).await?;
    let mut baseline = LoadStats::default();
    let mut measured = LoadStats::default();
    for _ in 0..options.rounds {
        baseline.merge(metered(server, baseline_paths.clone(), options).await?);
        measured.merge(metered(server, paths.clone(), options).await?);
    }
    if baseline.errors > 0 || measured.errors > 0 {
        bail!(
            "errors under load: baseline {}, measured {}",
            baseline.errors,
            measured.errors
        );
    }
    Ok((baseline, measured))
}
