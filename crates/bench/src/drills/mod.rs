//! Drills: correctness under pressure rather than speed. Each starts release servers itself,
//! drives them over HTTP, then checks the database, prints what it checked with figures, and
//! fails (non-zero exit) when any check does not hold.
//!
//! ```text
//! gigunion-bench drill-scale [--short] [--server PATH]   two instances, PostgreSQL + Redis
//! gigunion-bench drill-crash [--short] [--server PATH]   kill -9 under load, SQLite and PostgreSQL
//! gigunion-bench drill-notify [--short] [--server PATH]  kill -9 mid-send, two instances sending
//! ```
//! `DRILL_PG_URL` names the PostgreSQL server to create scratch databases on (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), `DRILL_REDIS_URL` the Redis (default
//! `redis://127.0.0.1:6379/`).

mod crash;
pub(crate) mod notify;
mod scale;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use platform::{Coordinator, Db};
use rand::Rng;
use serde_json::Value;

pub const NAMES: &[&str] = &["drill-scale", "drill-crash", "drill-notify"];

/// What every drill needs to know.
pub(crate) struct DrillOptions {
    /// The CI form: smaller crowds, one crash instead of two.
    pub(crate) short: bool,
    pub(crate) server: PathBuf,
    /// PostgreSQL to create scratch databases on.
    pub(crate) pg_url: String,
    pub(crate) redis_url: String,
}

/// `gigunion-bench drill-...`: runs one drill; an error when a check failed.
pub fn main(name: &str, args: &[String]) -> anyhow::Result<()> {
    let mut options = DrillOptions {
        short: false,
        server: std::env::current_exe()?.with_file_name("gigunion"),
        pg_url: std::env::var("DRILL_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
        redis_url: std::env::var("DRILL_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned()),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--short" => options.short = true,
            "--server" => {
                options.server = PathBuf::from(args.next().context("--server needs a value")?)
            }
            other => bail!("unknown option {other} for {name}; known: --short, --server PATH"),
        }
    }
    if !options.server.exists() {
        bail!(
            "no server binary at {} (build it first: cargo build --release --bin gigunion)",
            options.server.display()
        );
    }
    // Two threads: one drives the load while the other runs checks between kills.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match name {
        "drill-scale" => runtime.block_on(scale::run(&options)),
        "drill-crash" => runtime.block_on(crash::run(&options)),
        "drill-notify" => runtime.block_on(notify::run(&options)),
        other => bail!("unknown drill {other}; known: {}", NAMES.join(", ")),
    }
}

/// The checks of one drill: each with its figures and whether it held.
pub(crate) struct Checks {
    title: String,
    rows: Vec<(String, String, bool)>,
}

impl Checks {
    pub(crate) fn new(title: impl Into<String>) -> Checks {
        Checks {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn check(&mut self, name: &str, figures: String, holds: bool) {
        self.rows.push((name.to_owned(), figures, holds));
    }

    /// Prints the table; an error naming the checks that failed.
    pub(crate) fn finish(self) -> anyhow::Result<()> {
        println!("\n== {}", self.title);
        for (name, figures, holds) in &self.rows {
            println!("  [{}] {name}", if *holds { "ok" } else { "FAILED" });
            println!("       {figures}");
        }
        let failed: Vec<&str> = self
            .rows
            .iter()
            .filter(|r| !r.2)
            .map(|r| r.0.as_str())
            .collect();
        if failed.is_empty() {
            println!("all {} checks held", self.rows.len());
            Ok(())
        } else {
            bail!(
                "{}: {} of {} checks failed: {}",
                self.title,
                failed.len(),
                self.rows.len(),
                failed.join("; ")
            )
        }
    }
}

/// A PostgreSQL database of its own, dropped (with its connections) when this goes.
pub(crate) struct ScratchPg {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

impl ScratchPg {
    pub(crate) fn create(admin_url: &str, purpose: &str) -> anyhow::Result<ScratchPg> {
        let name = format!(
            "gigunion_drill_{purpose}_{}_{}",
            std::process::id(),
            rand::thread_rng().gen_range(0..1_000_000)
        );
        let mut admin = diesel::PgConnection::establish(admin_url).with_context(|| {
            format!("PostgreSQL at {admin_url} (DRILL_PG_URL / BENCH_PG_URL) is not reachable")
        })?;
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        let url = match admin_url.split_once('?') {
            Some((base, query)) => format!("{}/{name}?{query}", parent_of(base)?),
            None => format!("{}/{name}", parent_of(admin_url)?),
        };
        Ok(ScratchPg {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }
}

/// `postgres://user@host:port` of a URL naming a database.
fn parent_of(url: &str) -> anyhow::Result<&str> {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    Ok(match url[scheme_end..].find('/') {
        Some(slash) => &url[..scheme_end + slash],
        None => url,
    })
}

impl Drop for ScratchPg {
    fn drop(&mut self) {
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Fails early, with the setting to fix, when the Redis the servers will use does not answer.
/// (Each scratch database has its own key namespace in it, so runs never see each other's
/// marks or limits.)
pub(crate) async fn require_redis(url: &str) -> anyhow::Result<()> {
    Coordinator::redis(url, "gigunion:drill-ping:")?
        .ping()
        .await
        .map_err(|e| anyhow::anyhow!("Redis at {url} (DRILL_REDIS_URL) does not answer: {e}"))
}

/// The first org of the database (the one the crowd belongs to).
pub(crate) fn crowd_org(db: &Db) -> anyhow::Result<i64> {
    use platform::schema::orgs as o;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(o::table.select(o::id).order(o::id).first(&mut conn)?)
}

pub(crate) use crate::load::{connect, Conn};

/// What an answer said.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Answer {
    /// The problem code of an error answer, or "".
    pub(crate) fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// `status code` for messages, e.g. `409 sold_out`.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.status, self.code())
            .trim_end()
            .to_owned()
    }
}

/// One request on `conn`. Headers beyond auth and content type in `headers`.
pub(crate) async fn send(
    conn: &mut Conn,
    method: hyper::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> anyhow::Result<Answer> {
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "drill");
    if let Some(token) = token {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    let exchange = async {
        let response = conn.send_request(request.body(Full::new(body))?).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, anyhow::Error>(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    };
    tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .context("no answer within 60 s")?
}

/// One request on a connection of its own.
pub(crate) async fn call(
    addr: SocketAddr,
    method: hyper::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> anyhow::Result<Answer> {
    let mut conn = connect(addr).await?;
    send(&mut conn, method, path, token, body, headers).await
}
