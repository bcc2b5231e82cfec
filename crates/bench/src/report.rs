//! Printing results and keeping them in `bench/results.json`, one entry per scenario.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::load::LoadStats;

/// What a scenario measured.
pub struct Outcome {
    pub scenario: &'static str,
    /// The backend's label (`sqlite`, `postgres + redis`).
    pub database: &'static str,
    pub endpoint: String,
    pub dataset: String,
    pub setup_seconds: f64,
    pub ready_seconds: f64,
    pub rss_idle_mib: f64,
    pub rss_after_load_mib: f64,
    pub connections: usize,
    pub baseline: LoadStats,
    pub measured: LoadStats,
    /// Scenario-specific targets as (name, holds).
    pub targets: Vec<(String, bool)>,
    /// Scenario-specific figures.
    pub figures: Vec<Figure>,
}

/// A figure of one scenario: kept in the JSON under `figures`, printed as its text (if any).
pub struct Figure {
    pub key: String,
    pub value: f64,
    pub text: String,
}

impl Figure {
    pub fn new(key: impl Into<String>, value: f64, text: String) -> Figure {
        Figure {
            key: key.into(),
            value,
            text,
        }
    }
}

impl Outcome {
    pub fn rps_ratio(&self) -> f64 {
        self.measured.rps() / self.baseline.rps()
    }

    pub fn p99_ratio(&self) -> f64 {
        self.measured.p99_ms() / self.baseline.p99_ms()
    }

    fn to_json(&self) -> Value {
        json!({
            "endpoint": self.endpoint,
            "dataset": self.dataset,
            "database": self.database,
            "machine": machine(),
            "connections": self.connections,
            "setup_seconds": self.setup_seconds,
            "ready_seconds": self.ready_seconds,
            "rss_idle_mib": self.rss_idle_mib,
            "rss_after_load_mib": self.rss_after_load_mib,
            "baseline": self.baseline.to_json(),
            "measured": self.measured.to_json(),
            "rps_ratio": self.rps_ratio(),
            "p99_ratio": self.p99_ratio(),
            "targets": self.targets.iter().map(|(name, ok)| json!({"target": name, "met": ok})).collect::<Vec<_>>(),
            "figures": self.figures.iter().map(|f| (f.key.clone(), json!(f.value))).collect::<serde_json::Map<_, _>>(),
        })
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    format!("{cpus} CPUs, {model}")
}

pub fn print(o: &Outcome) {
    println!();
    println!(
        "== {} on {} ({}; {})",
        o.scenario,
        o.database,
        o.dataset,
        machine()
    );
    println!(
        "setup {:.1} s, ready in {:.3} s, RSS idle {:.1} MiB, after load {:.1} MiB",
        o.setup_seconds, o.ready_seconds, o.rss_idle_mib, o.rss_after_load_mib
    );
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "endpoint", "req/s", "p50 ms", "p99 ms", "bytes", "errors"
    );
    for (name, s) in [
        ("GET /healthz (baseline)", &o.baseline),
        (o.endpoint.as_str(), &o.measured),
    ] {
        println!(
            "{:<28} {:>10.0} {:>9.3} {:>9.3} {:>9.0} {:>7}",
            name,
            s.rps(),
            s.p50_ms(),
            s.p99_ms(),
            s.mean_body_bytes(),
            s.errors
        );
    }
    if o.measured.server_cpu.is_zero() && o.baseline.server_cpu.is_zero() {
        println!(
            "ratios: req/s {:.2}, p99 {:.2}",
            o.rps_ratio(),
            o.p99_ratio()
        );
    } else {
        println!(
            "ratios: req/s {:.2}, p99 {:.2}; CPU per request: server {:.0} us vs {:.0} us, \
             load generator {:.0} us vs {:.0} us",
            o.rps_ratio(),
            o.p99_ratio(),
            o.measured.server_cpu_us_per_request(),
            o.baseline.server_cpu_us_per_request(),
            o.measured.client_cpu_us_per_request(),
            o.baseline.client_cpu_us_per_request()
        );
    }
    for figure in o.figures.iter().filter(|f| !f.text.is_empty()) {
        println!("{}", figure.text);
    }
    for (name, ok) in &o.targets {
        println!("  [{}] {name}", if *ok { "met" } else { "MISSED" });
    }
}

fn results_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/results.json")
}

/// Merges this outcome into `bench/results.json` under the scenario's name.
/// (SQLite under the bare name, as before; other backends as `name (backend)`.)
pub fn save(o: &Outcome) -> anyhow::Result<()> {
    let key = match o.database {
        "sqlite" => o.scenario.to_owned(),
        other => format!("{} ({other})", o.scenario),
    };
    save_json(&key, o.to_json())
}

/// Merges `value` into `bench/results.json` under `key`.
pub fn save_json(key: &str, value: Value) -> anyhow::Result<()> {
    let path = results_file();
    let mut all: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    all[key] = value;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&all)? + "\n")?;
    println!("written to {}", path.canonicalize()?.display());
    Ok(())
}
