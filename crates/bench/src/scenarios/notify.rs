//! Notices delivered per second: how fast one server's dispatcher drains a backlog of pending
//! SMS through the file sender (the in-process sender of tests and demos).
//!
//! `BENCH_NOTICES` members (20,000 by default) each get one pending SMS written through the
//! outbox (as the drill writes them: `drills::notify`), then a release server starts with
//! `SMS_SENDER=file:` and no rate limit, and the figure is the notices over the time from the
//! first line in the file to the last delivery marked sent (`sent_at` in the database).
//!
//! Baseline, measured in the same run on the same disk: the file sender alone, in this process
//! on one thread, writing the same lines (same phones, texts and keys) to a fresh file, before
//! and after the server's run (the higher counts: a disk's speed drifts). The dispatcher sends
//! on one thread too, so the ratio says what claiming, opening the phones and marking cost on
//! top of the sending itself. The server's CPU per notice is reported beside it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use identity::phone::Phone;
use identity::sms::{FileSender, SmsSender};
use platform::schema::notification_deliveries as d;
use platform::Db;
use serde_json::{json, Value};

use super::{Backend, Scratch};
use crate::drills::notify::{seed_members, write_backlog, SmsFile};
use crate::scenarios::flash_crowd::ISSUER;
use crate::server::Server;
use crate::Options;

/// What one run measured, on one database.
pub struct NotifyReport {
    pub database: String,
    pub json: Value,
    pub lines: Vec<String>,
}

/// Runs the scenario on each backend (see [`super::backends`]).
pub async fn run(options: &Options) -> anyhow::Result<Vec<NotifyReport>> {
    let mut reports = Vec::new();
    for backend in super::backends() {
        let dir = tempfile::Builder::new()
            .prefix("gigunion-notify")
            .tempdir()?;
        let outcome = measure(options, &backend, dir.path()).await;
        if outcome.is_err() {
            let kept = std::env::temp_dir().join("gigunion-notify-server.log");
            let _ = std::fs::copy(dir.path().join("server.log"), &kept);
            eprintln!("server log kept at {}", kept.display());
        }
        reports.push(outcome?);
    }
    Ok(reports)
}

/// What one run measured.
struct Measured {
    count: usize,
    setup_seconds: f64,
    /// The file sender alone, before and after the server's run.
    sender: [f64; 2],
    /// From the first line in the file to the last delivery marked sent.
    seconds: f64,
    delivered: usize,
    unparsable: usize,
    /// Server CPU over its whole life, and over what came after its first `/readyz` 200.
    cpu: Duration,
    cpu_after_ready: Duration,
    ready_seconds: f64,
    rss_mib: f64,
}

async fn measure(options: &Options, backend: &Backend, dir: &Path) -> anyhow::Result<NotifyReport> {
    let count: usize = std::env::var("BENCH_NOTICES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let label = backend.label().to_owned();
    println!("\n== notify on {label}: {count} pending SMS, one server, file sender");
    let scratch = Scratch::create(backend, &dir.join("notify.db"), "notify")?;
    let db = Db::connect(&scratch.url)?;
    db.migrate()?;
    let data_dir = dir.join("data");
    let setup = Instant::now();
    let members = seed_members(&db, &data_dir, count)?;
    let mut same_lines: Vec<(String, String)> = write_backlog(&db, &members)?.into_iter().collect();
    same_lines.sort();
    let setup_seconds = setup.elapsed().as_secs_f64();
    println!(
        "{} pending SMS written in {setup_seconds:.1} s",
        same_lines.len()
    );
    let sender_before = sender_rate(&dir.join("baseline-1.jsonl"), &same_lines)?;

    let sms = dir.join("sms.jsonl");
    let mut env = scratch.env();
    env.extend([
        ("DATA_DIR", data_dir.display().to_string()),
        ("PUBLIC_BASE_URL", ISSUER.to_owned()),
        ("SMS_SENDER", format!("file:{}", sms.display())),
        ("RUST_LOG", "warn".to_owned()),
    ]);
    let server = Server::start(&options.server, &env, &dir.join("server.log")).await?;
    let cpu_at_ready = server.cpu()?;
    drained(&db, Duration::from_secs(300)).await?;
    let cpu = server.cpu()?;
    let rss_mib = server.rss_mib()?;
    let ready_seconds = server.ready_after.as_secs_f64();
    drop(server);

    let file = SmsFile::read(&sms)?;
    if file.lines.len() != count {
        bail!(
            "{} lines in the SMS file for {count} notices",
            file.lines.len()
        );
    }
    let first = file
        .lines
        .iter()
        .filter_map(|l| l.time)
        .min()
        .context("no line in the SMS file")?;
    let seconds = (last_sent_at(&db)? - first).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let sender_after = sender_rate(&dir.join("baseline-2.jsonl"), &same_lines)?;
    let measured = Measured {
        count,
        setup_seconds,
        sender: [sender_before, sender_after],
        seconds,
        delivered: file.lines.len(),
        unparsable: file.unparsable,
        cpu,
        cpu_after_ready: cpu.saturating_sub(cpu_at_ready),
        ready_seconds,
        rss_mib,
    };
    Ok(report(label, &measured))
}

fn report(label: String, m: &Measured) -> NotifyReport {
    let [before, after] = m.sender;
    // The higher of the two: a disk's speed drifts with whatever else the machine writes.
    let sender = before.max(after);
    let rate = m.delivered as f64 / m.seconds.max(1e-3);
    let ratio = rate / sender;
    let per_notice = |cpu: Duration| cpu.as_secs_f64() * 1e6 / m.count as f64;
    let (cpu_us, cpu_after_ready_us) = (per_notice(m.cpu), per_notice(m.cpu_after_ready));
    let lines = vec![
        format!(
            "file sender alone, in-process, one thread (baseline): {before:.0} / {after:.0} lines/s before / after"
        ),
        format!(
            "dispatcher: {} notices in {:.2} s (first line to last marked sent) = {rate:.0}/s = {ratio:.2} of the sender alone",
            m.delivered, m.seconds
        ),
        format!(
            "server CPU per notice {cpu_us:.0} us over its whole life ({cpu_after_ready_us:.0} us after ready at {:.2} s); RSS {:.1} MiB after; {} unparsable lines",
            m.ready_seconds, m.rss_mib, m.unparsable
        ),
    ];
    let json = json!({
        "database": label,
        "notices": m.count,
        "setup_seconds": m.setup_seconds,
        "delivered_per_second": rate.round(),
        "seconds": m.seconds,
        "sender_alone_per_second": sender.round(),
        "sender_alone_before": before.round(),
        "sender_alone_after": after.round(),
        "delivered_vs_sender_alone": ratio,
        "server_cpu_us_per_notice": cpu_us.round(),
        "server_cpu_us_per_notice_after_ready": cpu_after_ready_us.round(),
        "ready_seconds": m.ready_seconds,
        "rss_after_mib": m.rss_mib,
    });
    NotifyReport {
        database: label,
        json,
        lines,
    }
}

/// Lines a second the file sender writes alone: the same keys, phones and texts to `path`.
fn sender_rate(path: &Path, lines: &[(String, String)]) -> anyhow::Result<f64> {
    let sender = FileSender::new(path.to_owned());
    let phones: Vec<Phone> = lines
        .iter()
        .map(|(_, p)| Phone::parse(p).context("a seeded phone that does not parse"))
        .collect::<anyhow::Result<_>>()?;
    let text = "体检取消：您预约的体检车（演练）已取消，名额已释放。";
    let started = Instant::now();
    for ((key, _), phone) in lines.iter().zip(&phones) {
        sender.send_notice(phone, text, key)?;
    }
    Ok(lines.len() as f64 / started.elapsed().as_secs_f64())
}

/// Waits until every delivery is marked sent.
async fn drained(db: &Db, limit: Duration) -> anyhow::Result<()> {
    let since = Instant::now();
    loop {
        let left: i64 = {
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            d::table
                .filter(d::sent_at.is_null())
                .count()
                .get_result(&mut *conn)?
        };
        if left == 0 {
            return Ok(());
        }
        if since.elapsed() > limit {
            bail!("{left} deliveries still unsent after {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When the last delivery was marked sent.
fn last_sent_at(db: &Db) -> anyhow::Result<DateTime<Utc>> {
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let last: Option<chrono::NaiveDateTime> = d::table
        .select(diesel::dsl::max(d::sent_at))
        .first(&mut *conn)?;
    Ok(last.context("nothing was sent")?.and_utc())
}

/// Prints a report.
pub fn print(report: &NotifyReport) {
    println!("-- notify on {}", report.database);
    for line in &report.lines {
        println!("{line}");
    }
}
