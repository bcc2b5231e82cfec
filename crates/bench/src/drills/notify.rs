//! The notification drill: the outbox's promise, every notice sent once, under `kill -9` and
//! with two instances on one backlog.
//!
//! Part A, on SQLite and on PostgreSQL (+ Redis): 10,000 members (50,000 in the full form) each
//! have one pending SMS, a called-off session (a topic that always goes by SMS), written through
//! `platform::outbox::send` as the use cases write them, with the deadline now so that the quiet
//! hours (the real Asia/Shanghai clock) never hold them back. A release server with the file
//! sender delivers them; once some but not all are in its file it is killed with SIGKILL (twice
//! in the full form) and restarted on the same database and file. Checked: every delivery's key
//! is in the file exactly once, to its member's phone, with no line for a key the outbox does
//! not have; every delivery row is marked sent; each kill came mid-send, with lines of the batch
//! in flight already in the file but not marked sent (the case the delivery keys are for).
//!
//! Part B, on PostgreSQL (+ Redis): two instances on one database, each with a file of its own,
//! deliver a backlog written while both run. Checked: the two files together hold every key
//! exactly once, both instances sent some and neither all, and every delivery was claimed once.
//!
//! Two settings of the server keep it a drill of seconds on any machine: a short lease
//! (`NOTICE_LEASE_SECONDS`), so the batch in flight at a kill is taken again seconds later
//! instead of a minute, and a gateway's rate limit per instance (`SMS_PER_SECOND`), so a kill
//! lands mid-send and the two instances overlap however fast the machine delivers (unpaced, one
//! server sends 10,000 in about half a second, the dispatcher's idle wait: `gigunion-bench
//! notify`).

mod backlog;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;
use diesel::prelude::*;
use platform::schema::notification_deliveries as d;
use platform::Db;

pub(crate) use backlog::{seed_members, write_backlog, SmsFile};
use backlog::{Lines, Rows};

use super::{Checks, DrillOptions, ScratchPg};
use crate::scenarios::flash_crowd::ISSUER;
use crate::server::Server;

/// Sizes and pace of one run.
struct Plan {
    notices: usize,
    /// `SMS_PER_SECOND` of every instance.
    per_second: u32,
    /// `NOTICE_LEASE_SECONDS`.
    lease_seconds: u64,
    /// When to kill, as shares of the backlog in the file.
    kills: &'static [f64],
}

impl Plan {
    fn new(short: bool) -> Plan {
        if short {
            Plan {
                notices: 10_000,
                per_second: 2_000,
                lease_seconds: 3,
                kills: &[0.3],
            }
        } else {
            Plan {
                notices: 50_000,
                per_second: 5_000,
                lease_seconds: 5,
                kills: &[0.2, 0.6],
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) async fn run(options: &DrillOptions) -> anyhow::Result<()> {
    let plan = Plan::new(options.short);
    println!(
        "== drill-notify ({}): {} pending SMS, each instance at most {}/s (SMS_PER_SECOND), \
         lease {} s (NOTICE_LEASE_SECONDS); kill -9 at {:?} of the backlog sent",
        if options.short { "short" } else { "full" },
        plan.notices,
        plan.per_second,
        plan.lease_seconds,
        plan.kills
    );
    let mut failures = Vec::new();
    for part in ["sqlite", "postgres", "two-instances"] {
        let dir = tempfile::Builder::new()
            .prefix("gigunion-drill-notify")
            .tempdir()?;
        let checks = match part {
            "sqlite" => crash_part(options, &plan, Backend::Sqlite, dir.path()).await,
            "postgres" => crash_part(options, &plan, Backend::Postgres, dir.path()).await,
            _ => share_part(options, &plan, dir.path()).await,
        };
        if let Err(e) = checks.and_then(Checks::finish) {
            let kept = keep_logs(dir.path(), part);
            eprintln!("error: {e:#}\nserver logs kept in {}", kept.display());
            failures.push(format!("{e:#}"));
        }
    }
    if !failures.is_empty() {
        bail!("drill-notify failed: {}", failures.join(" | "));
    }
    Ok(())
}

/// Copies the servers' logs out of a run's directory before it is removed.
fn keep_logs(dir: &Path, part: &str) -> PathBuf {
    let kept = std::env::temp_dir().join(format!("gigunion-drill-notify-{part}"));
    let _ = std::fs::remove_dir_all(&kept);
    let _ = std::fs::create_dir_all(&kept);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "log") {
            let _ = std::fs::copy(entry.path(), kept.join(entry.file_name()));
        }
    }
    kept
}

/// Part A: kill -9 mid-send, restart, every notice once.
async fn crash_part(
    options: &DrillOptions,
    plan: &Plan,
    backend: Backend,
    dir: &Path,
) -> anyhow::Result<Checks> {
    let label = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL + Redis",
    };
    println!("\n-- kill -9 on {label}");
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            super::require_redis(&options.redis_url).await?;
            Some(ScratchPg::create(&options.pg_url, "notify")?)
        }
    };
    let database_url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", dir.join("notify.db").display()),
    };
    let db = Db::connect(&database_url)?;
    db.migrate()?;
    let data_dir = dir.join("data");
    let prepared = Instant::now();
    let members = seed_members(&db, &data_dir, plan.notices)?;
    let backlog = write_backlog(&db, &members)?;
    println!(
        "{} members and their SMS written in {:.1} s",
        backlog.len(),
        prepared.elapsed().as_secs_f64()
    );

    let sms = dir.join("sms.jsonl");
    let redis = pg.as_ref().map(|_| options.redis_url.as_str());
    let env = server_env(plan, &database_url, &data_dir, &sms, redis);
    let log = |n: usize| dir.join(format!("server-{n}.log"));
    let started = Instant::now();
    let mut server = Server::start(&options.server, &env, &log(0)).await?;
    let mut lines = Lines::new(&sms);
    let mut kills = Vec::new();
    for (k, share) in plan.kills.iter().enumerate() {
        let mut kill = kill_mid_send(server, &db, &sms, &mut lines, plan.notices, *share).await?;
        kill.after = started.elapsed();
        println!(
            "kill -9 #{} after {:.2} s: {} in the file, {} marked sent, {} claimed and not \
             marked ({} of those in the file)",
            k + 1,
            kill.after.as_secs_f64(),
            kill.lines,
            kill.marked,
            kill.leased,
            kill.sent_unmarked
        );
        kills.push(kill);
        server = Server::start(&options.server, &env, &log(k + 1)).await?;
    }
    let restarted = started.elapsed();
    let drained = wait_drained(&db, Duration::from_secs(120)).await?;
    let end = Ending {
        drained,
        seconds: started.elapsed().as_secs_f64(),
        after_restart: (started.elapsed() - restarted).as_secs_f64(),
    };
    drop(server);
    let file = SmsFile::read(&sms)?;
    let rows = Rows::read(&db)?;
    drop(db);
    drop(pg);
    let mut checks = Checks::new(format!("drill-notify: kill -9 mid-send on {label}"));
    report_crash(&mut checks, plan, &kills, &backlog, &file, &rows, &end);
    Ok(checks)
}

/// One kill: what the file and the outbox held right after it.
struct Kill {
    /// From the first start (set by the caller).
    after: Duration,
    lines: usize,
    marked: usize,
    /// Claimed by the killed instance and not marked: its batch in flight.
    leased: usize,
    /// Of those, already in the file: sent, and to be dropped as sent when claimed again.
    sent_unmarked: usize,
}

/// Waits until `share` of the backlog is in the file, halfway through a batch, kills the
/// server with SIGKILL, and reads what it left.
async fn kill_mid_send(
    server: Server,
    db: &Db,
    sms: &Path,
    lines: &mut Lines,
    notices: usize,
    share: f64,
) -> anyhow::Result<Kill> {
    // Halfway through a batch: a kill between two batches (the claim and the mark take a few
    // ms, the pace's gap half a millisecond) would leave no line sent and not yet marked.
    let batch = identity::dispatch::BATCH as usize;
    let threshold = (notices as f64 * share) as usize / batch * batch + batch / 2;
    wait_for_lines(lines, threshold).await?;
    // Dropping the server sends SIGKILL (std's Child::kill), i.e. `kill -9`, then reaps it.
    drop(server);
    let in_file = lines.poll()?;
    let rows = Rows::read(db)?;
    let file = SmsFile::read(sms)?;
    let sent_unmarked = file
        .lines
        .iter()
        .filter(|l| rows.unsent.contains(&l.key))
        .count();
    Ok(Kill {
        after: Duration::ZERO,
        lines: in_file,
        marked: rows.sent,
        leased: rows.leased,
        sent_unmarked,
    })
}

/// How the run after the last restart ended.
struct Ending {
    drained: bool,
    /// From the first start to the last delivery marked.
    seconds: f64,
    after_restart: f64,
}

fn report_crash(
    checks: &mut Checks,
    plan: &Plan,
    kills: &[Kill],
    backlog: &HashMap<String, String>,
    file: &SmsFile,
    rows: &Rows,
    end: &Ending,
) {
    let mut before = 0;
    let mut mid_send = true;
    let mut figures = Vec::new();
    for (k, kill) in kills.iter().enumerate() {
        mid_send &= kill.lines > before && kill.lines < plan.notices && kill.sent_unmarked > 0;
        figures.push(format!(
            "kill #{} after {:.2} s with {} of {} in the file ({} by the instance killed), {} \
             marked sent, {} claimed and not marked ({} of them already sent: the restart must \
             not send them again)",
            k + 1,
            kill.after.as_secs_f64(),
            kill.lines,
            plan.notices,
            kill.lines.saturating_sub(before),
            kill.marked,
            kill.leased,
            kill.sent_unmarked
        ));
        before = kill.lines;
    }
    checks.check("the kill came mid-send", figures.join("; "), mid_send);
    Tally::of(backlog, &[file]).check(checks, "every notice in the file exactly once");
    check_rows(checks, rows, plan.notices, false);
    let segments = rates(file, &kills.iter().map(|k| k.lines).collect::<Vec<_>>());
    checks.check(
        "the backlog drained after the restart",
        format!(
            "{}; all {} delivered {:.1} s after the first start, {:.1} s after the last restart \
             (the batch in flight waits out the {} s lease)",
            segments.join("; "),
            rows.sent,
            end.seconds,
            end.after_restart,
            plan.lease_seconds
        ),
        end.drained,
    );
}

/// Part B: two instances on one PostgreSQL, one backlog, each its own file.
async fn share_part(options: &DrillOptions, plan: &Plan, dir: &Path) -> anyhow::Result<Checks> {
    println!("\n-- two instances on PostgreSQL + Redis");
    super::require_redis(&options.redis_url).await?;
    let pg = ScratchPg::create(&options.pg_url, "notify2")?;
    let db = Db::connect(&pg.url)?;
    db.migrate()?;
    let data_dir = dir.join("data");
    let members = seed_members(&db, &data_dir, plan.notices)?;
    let files = [dir.join("sms-1.jsonl"), dir.join("sms-2.jsonl")];
    let redis = Some(options.redis_url.as_str());
    let env = |sms: &Path| server_env(plan, &pg.url, &data_dir, sms, redis);
    let one = Server::start(
        &options.server,
        &env(&files[0]),
        &dir.join("instance-1.log"),
    )
    .await?;
    let two = Server::start(
        &options.server,
        &env(&files[1]),
        &dir.join("instance-2.log"),
    )
    .await?;
    // Written while both run, in one commit: both dispatchers find it within their idle wait.
    let started = Instant::now();
    let backlog = write_backlog(&db, &members)?;
    let drained = wait_drained(&db, Duration::from_secs(120)).await?;
    let seconds = started.elapsed().as_secs_f64();
    drop((one, two));
    let sent = [SmsFile::read(&files[0])?, SmsFile::read(&files[1])?];
    let rows = Rows::read(&db)?;
    drop(db);
    drop(pg);

    let mut checks = Checks::new("drill-notify: two instances, one backlog on PostgreSQL + Redis");
    let shares: Vec<String> = sent
        .iter()
        .enumerate()
        .map(|(i, file)| {
            format!(
                "instance {} sent {} ({:.1}%; {})",
                i + 1,
                file.lines.len(),
                100.0 * file.lines.len() as f64 / plan.notices as f64,
                rates(file, &[]).join("")
            )
        })
        .collect();
    checks.check(
        "both instances sent, neither all",
        format!(
            "{}; the backlog of {} drained {:.1} s after it was written{}",
            shares.join(", "),
            plan.notices,
            seconds,
            if drained { "" } else { " (NOT drained)" }
        ),
        drained
            && sent
                .iter()
                .all(|f| !f.lines.is_empty() && f.lines.len() < plan.notices),
    );
    Tally::of(&backlog, &[&sent[0], &sent[1]])
        .check(&mut checks, "every notice exactly once across both files");
    check_rows(&mut checks, &rows, plan.notices, true);
    Ok(checks)
}

/// The server's environment: the file sender, the short lease and the rate limit.
fn server_env(
    plan: &Plan,
    database_url: &str,
    data_dir: &Path,
    sms: &Path,
    redis: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DATABASE_URL", database_url.to_owned()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("PUBLIC_BASE_URL", ISSUER.to_owned()),
        ("SMS_SENDER", format!("file:{}", sms.display())),
        ("SMS_PER_SECOND", plan.per_second.to_string()),
        ("NOTICE_LEASE_SECONDS", plan.lease_seconds.to_string()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    if let Some(redis) = redis {
        env.push(("REDIS_URL", redis.to_owned()));
    }
    env
}

/// Waits until `lines` has at least `threshold` complete lines (a minute at most).
async fn wait_for_lines(lines: &mut Lines, threshold: usize) -> anyhow::Result<()> {
    let since = Instant::now();
    while lines.poll()? < threshold {
        if since.elapsed() > Duration::from_secs(60) {
            bail!(
                "only {} of {threshold} notices sent within 60 s",
                lines.count
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Waits until no delivery is left unsent (sent or given up): true, or false after `limit`.
async fn wait_drained(db: &Db, limit: Duration) -> anyhow::Result<bool> {
    let since = Instant::now();
    loop {
        let left: i64 = {
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            d::table
                .filter(d::sent_at.is_null())
                .filter(d::given_up_at.is_null())
                .count()
                .get_result(&mut *conn)?
        };
        if left == 0 {
            return Ok(true);
        }
        if since.elapsed() > limit {
            println!("{left} deliveries still unsent after {} s", limit.as_secs());
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The files' keys against the backlog's.
#[derive(Default)]
struct Tally {
    expected: usize,
    once: usize,
    missing: usize,
    /// Keys in the files more than once (in one file or across them).
    twice: usize,
    /// Keys in more than one file.
    across: usize,
    unknown: usize,
    wrong_phone: usize,
    unparsable: usize,
}

impl Tally {
    fn of(backlog: &HashMap<String, String>, files: &[&SmsFile]) -> Tally {
        let mut seen: HashMap<&str, (usize, HashSet<usize>)> = HashMap::new();
        let mut tally = Tally {
            expected: backlog.len(),
            ..Tally::default()
        };
        for (f, file) in files.iter().enumerate() {
            tally.unparsable += file.unparsable;
            for line in &file.lines {
                match backlog.get(&line.key) {
                    None => tally.unknown += 1,
                    Some(phone) => {
                        tally.wrong_phone += usize::from(*phone != line.phone);
                        let entry = seen.entry(line.key.as_str()).or_default();
                        entry.0 += 1;
                        entry.1.insert(f);
                    }
                }
            }
        }
        tally.once = seen.values().filter(|(n, _)| *n == 1).count();
        tally.twice = seen.values().filter(|(n, _)| *n > 1).count();
        tally.across = seen
            .values()
            .filter(|(_, in_files)| in_files.len() > 1)
            .count();
        tally.missing = backlog.len() - seen.len();
        tally
    }

    fn check(&self, checks: &mut Checks, name: &str) {
        checks.check(
            name,
            format!(
                "{} keys: {} once, {} missing, {} more than once ({} in both files), {} lines \
                 for unknown keys, {} to a phone not the member's; {} unparsable lines skipped",
                self.expected,
                self.once,
                self.missing,
                self.twice,
                self.across,
                self.unknown,
                self.wrong_phone,
                self.unparsable
            ),
            self.once == self.expected
                && self.missing == 0
                && self.twice == 0
                && self.unknown == 0
                && self.wrong_phone == 0,
        );
    }
}

/// Every row sent; with `claimed_once`, also each claimed once (no lease ran out).
fn check_rows(checks: &mut Checks, rows: &Rows, expected: usize, claimed_once: bool) {
    let attempts = rows
        .attempts
        .iter()
        .map(|(n, count)| format!("{count} claimed {n}x"))
        .collect::<Vec<_>>()
        .join(", ");
    checks.check(
        if claimed_once {
            "every delivery marked sent, each claimed once"
        } else {
            "every delivery marked sent"
        },
        format!(
            "{} of {} rows sent ({expected} written), {} given up; {attempts}",
            rows.sent, rows.total, rows.given_up
        ),
        rows.sent == expected
            && rows.total == expected
            && rows.given_up == 0
            && (!claimed_once || rows.attempts.keys().all(|&n| n == 1)),
    );
}

/// Delivery rates by the lines' own times, split at `cuts` (line counts at the kills): per
/// instance's life, lines and lines a second from its first line to its last.
fn rates(file: &SmsFile, cuts: &[usize]) -> Vec<String> {
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().map(|&c| c.min(file.lines.len())));
    bounds.push(file.lines.len());
    bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let part = &file.lines[w[0]..w[1]];
            let times = part
                .first()
                .and_then(|f| Some((f.time?, part.last()?.time?)));
            let seconds = times.map_or(0.0, |(first, last)| {
                (last - first).num_microseconds().unwrap_or(0) as f64 / 1e6
            });
            let who = match (cuts.is_empty(), i) {
                (true, _) => String::new(),
                (false, 0) => "first start: ".to_owned(),
                (false, i) => format!("restart {i}: "),
            };
            format!(
                "{who}{} in {seconds:.2} s = {:.0}/s",
                part.len(),
                part.len() as f64 / seconds.max(1e-3)
            )
        })
        .collect()
}
