//! `gigunion-bench`: performance scenarios against a release build of the real server.
//!
//! Each scenario starts `gigunion serve` itself (the release binary next to this one, or
//! `--server PATH`) on a free port with a temporary data directory and database, measures how
//! long it takes to answer `/readyz` and its resident memory, then drives a closed-loop load
//! (keep-alive connections, each sending its next request when the previous answer is in)
//! against the trivial `/healthz` endpoint and against the scenario's endpoint, in alternating
//! rounds of the same run. Figures are reported as ratios to `/healthz`, because absolute
//! numbers say more about the machine than about the code. Timing never decides a test:
//! this is a measurement, run with `make bench`, not part of CI.
//!
//! ```text
//! gigunion-bench [SCENARIO...] [--seconds S] [--rounds N] [--connections N] [--stations N]
//!                [--server PATH] [--database FILE]
//! ```
//! Scenarios: `stations` (nearby search over 200,000 stations), `flash-crowd`, `login-storm`,
//! `console` (the staff console's pages with 10,000 members in one district), `notify` (notices
//! a server's dispatcher delivers per second through the file sender, against that sender
//! alone). Results are printed and merged into `bench/results.json` under the scenario's name.
//!
//! `gigunion-bench drill-scale|drill-crash|drill-notify [--short]` runs a drill instead (see
//! [`drills`]).

mod drills;
mod load;
mod report;
mod scenarios;
mod server;
mod wire;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

/// Settings shared by the scenarios.
#[derive(Debug, Clone)]
pub struct Options {
    /// Length of one measured round per endpoint.
    pub round: Duration,
    /// Rounds per endpoint, alternating with the baseline.
    pub rounds: usize,
    pub connections: usize,
    /// Whether `--connections` was given: a scenario with a default of its own (the console's
    /// few staff) keeps it otherwise.
    pub connections_given: bool,
    /// Size of the data set a scenario loads (stations for `stations`).
    pub dataset: usize,
    pub server: PathBuf,
    /// Reuse this database file across runs (prefilled when missing) instead of a fresh one.
    pub database: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    // As the server does: the login storm's single-check baseline must hash as the server
    // hashes (on fresh pages), or the second backend's baseline, on reused ones, reads faster.
    platform::memory::return_big_blocks_to_the_system();
    let all: Vec<String> = std::env::args().skip(1).collect();
    if let Some(drill) = all.first().filter(|a| drills::NAMES.contains(&a.as_str())) {
        return drills::main(drill, &all[1..]);
    }
    let mut args = std::env::args().skip(1);
    let mut names = Vec::new();
    let mut options = Options {
        round: Duration::from_secs(5),
        rounds: 2,
        connections: 64,
        connections_given: false,
        dataset: 200_000,
        server: std::env::current_exe()?.with_file_name("gigunion"),
        database: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => options.round = Duration::from_secs_f64(value("--seconds")?.parse()?),
            "--rounds" => options.rounds = value("--rounds")?.parse()?,
            "--connections" => {
                options.connections = value("--connections")?.parse()?;
                options.connections_given = true;
            }
            "--stations" => options.dataset = value("--stations")?.parse()?,
            "--server" => options.server = PathBuf::from(value("--server")?),
            "--database" => options.database = Some(PathBuf::from(value("--database")?)),
            "-h" | "--help" => {
                println!(
                    "gigunion-bench [SCENARIO...] [--seconds S] [--rounds N] [--connections N] [--stations N] [--server PATH] [--database FILE]\n\
                     scenarios: {}",
                    scenarios::NAMES.join(", ")
                );
                return Ok(());
            }
            name if !name.starts_with('-') => names.push(name.to_owned()),
            other => bail!("unknown option {other}"),
        }
    }
    if names.is_empty() {
        names = scenarios::NAMES.iter().map(|n| n.to_string()).collect();
    }
    if !options.server.exists() {
        bail!(
            "no server binary at {} (build it first: cargo build --release --bin gigunion)",
            options.server.display()
        );
    }
    // The load generator gets one thread: on a small machine it shares the cores with the
    // server, and both endpoints are measured under the same arrangement.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    for name in names {
        // The flash crowd reports per database, with its own baselines and figures.
        if name == scenarios::FLASH_CROWD {
            for crowd in runtime.block_on(scenarios::flash_crowd::run(&options))? {
                scenarios::flash_crowd::print(&crowd);
                report::save_json(&format!("flash_crowd ({})", crowd.database), crowd.json)?;
            }
            continue;
        }
        // So does the notify scenario: its figure is deliveries, not requests.
        if name == scenarios::NOTIFY {
            for run in runtime.block_on(scenarios::notify::run(&options))? {
                scenarios::notify::print(&run);
                report::save_json(&format!("notify ({})", run.database), run.json)?;
            }
            continue;
        }
        for backend in scenarios::backends() {
            let result = runtime.block_on(scenarios::run(&name, &options, &backend))?;
            report::print(&result);
            report::save(&result)?;
        }
    }
    Ok(())
}
