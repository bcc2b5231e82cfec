//! The multi-instance drill: two `gigunion serve` processes on different ports share one
//! PostgreSQL database and one Redis, with the load spread across both. Checked:
//! (a) gift-pack claims never oversell across instances, and no member gets two packs even when
//!     pressing on both at once;
//! (b) rate limits hold across instances: the OTP minute limit, and login attempts for one phone
//!     split over both are refused at the same count as on one instance;
//! (c) a station created on instance 1 is found by nearby search on instance 2 within 2 s;
//! (d) a refresh token rotated on instance 1, presented again on instance 2 after the grace
//!     window, is refused as reused and revokes its family (the successor dies too).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use diesel::prelude::*;
use hyper::Method;
use identity::{IdentityConfig, Limits};
use platform::schema::refresh_tokens as rt;
use platform::Db;
use rand::Rng;
use serde_json::{json, Value};

use super::{call, Answer, Checks, DrillOptions, ScratchPg};
use crate::scenarios::flash_crowd::{self, Req, ISSUER};
use crate::server::Server;

const WORKER_PHONE: &str = "13900000001";
const REFERENCE_PHONE: &str = "13900000002";
const ADMIN_PHONE: &str = "13800000000";
const PASSWORD: &str = "rider2026";

pub(crate) async fn run(options: &DrillOptions) -> anyhow::Result<()> {
    let (stock, claimers) = if options.short {
        (500, 1_500)
    } else {
        (2_000, 20_000)
    };
    println!(
        "== drill-scale: two instances on one PostgreSQL + Redis ({})",
        if options.short { "short" } else { "full" }
    );
    let dir = tempfile::Builder::new()
        .prefix("gigunion-drill-scale")
        .tempdir()?;
    let outcome = drill(options, dir.path(), stock, claimers).await;
    let logs = ["instance-1.log", "instance-2.log"].map(|l| dir.path().join(l));
    if outcome.is_err() && logs.iter().any(|l| l.exists()) {
        let kept = std::env::temp_dir().join("gigunion-drill-scale-logs");
        let _ = std::fs::create_dir_all(&kept);
        for log in &logs {
            if let Some(name) = log.file_name() {
                let _ = std::fs::copy(log, kept.join(name));
            }
        }
        eprintln!("server logs kept in {}", kept.display());
    }
    outcome
}

async fn drill(
    options: &DrillOptions,
    dir: &std::path::Path,
    stock: usize,
    claimers: usize,
) -> anyhow::Result<()> {
    super::require_redis(&options.redis_url).await?;
    let pg = ScratchPg::create(&options.pg_url, "scale")?;
    let db = Db::connect(&pg.url)?;
    db.migrate()?;
    let data_dir = dir.join("data");
    let started = Instant::now();
    let setup = flash_crowd::prepare(&db, &data_dir, claimers, stock)?;
    let org = super::crowd_org(&db)?;
    let admin_password = identity::password::Password::generate().as_str().to_owned();
    admin_create(options, &pg.url, &data_dir, &admin_password)?;
    println!(
        "prepared {claimers} members and {stock} packs in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Same database, Redis, keys (one DATA_DIR) and public URL, as a deployment would have.
    let sms = dir.join("sms.jsonl");
    let env = [
        ("DATABASE_URL", pg.url.clone()),
        ("REDIS_URL", options.redis_url.clone()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("PUBLIC_BASE_URL", ISSUER.to_owned()),
        ("SMS_SENDER", format!("file:{}", sms.display())),
        // Behind the proxy every client has its own address. Limits left in Redis by earlier
        // runs cannot apply: keys are prefixed with the scratch database's deployment id.
        ("TRUST_PROXY", "true".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let one = Server::start(&options.server, &env, &dir.join("instance-1.log")).await?;
    let two = Server::start(&options.server, &env, &dir.join("instance-2.log")).await?;
    let (a, b) = (one.addr, two.addr);
    println!("instance 1 on {a}, instance 2 on {b}");
    let mut rng = rand::thread_rng();
    let ip = format!(
        "10.{}.{}.{}",
        rng.gen_range(0..256),
        rng.gen_range(0..256),
        rng.gen_range(1..255)
    );
    let client = Client { ip };
    let mut checks = Checks::new("drill-scale: two instances, one PostgreSQL + Redis");

    // (d), first half: sign up across instances, rotate on 1, retry at once on 2.
    let otp = client
        .post(a, "/v1/auth/otp", json!({ "phone": WORKER_PHONE }))
        .await?;
    expect(&otp, 202, "OTP on instance 1")?;
    let again = client
        .post(b, "/v1/auth/otp", json!({ "phone": WORKER_PHONE }))
        .await?;
    let code = last_code(&sms, WORKER_PHONE)?;
    let registered = client
        .post(
            b,
            "/v1/auth/register",
            json!({ "phone": WORKER_PHONE, "code": code, "password": PASSWORD }),
        )
        .await?;
    expect(
        &registered,
        201,
        "register on instance 2 with the code sent by 1",
    )?;
    let first_refresh = field(&registered, "refresh_token")?;
    let rotated = client
        .post(
            a,
            "/v1/auth/refresh",
            json!({ "refresh_token": first_refresh }),
        )
        .await?;
    expect(&rotated, 200, "refresh on instance 1")?;
    let rotated_at = Instant::now();
    let successor = field(&rotated, "refresh_token")?;
    let retried = client
        .post(
            b,
            "/v1/auth/refresh",
            json!({ "refresh_token": first_refresh }),
        )
        .await?;

    // (a) The crowd, half on each instance; a tenth of the members press on both at once.
    let path = format!("/v1/programs/{}/claims", setup.gift_program);
    let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
    for (i, token) in setup.tokens.iter().enumerate() {
        let (own, other) = if i % 2 == 0 {
            (&mut to_a, &mut to_b)
        } else {
            (&mut to_b, &mut to_a)
        };
        own.push(Req::post(path.clone(), token, None));
        if i < claimers / 10 {
            other.push(Req::post(path.clone(), token, None));
        }
    }
    let claims_sent = to_a.len() + to_b.len();
    let crowd_started = Instant::now();
    let limit = Duration::from_secs(120);
    let (on_a, on_b) = tokio::join!(
        flash_crowd::drive(a, 32, limit, Arc::new(to_a), true),
        flash_crowd::drive(b, 32, limit, Arc::new(to_b), true),
    );
    let (on_a, on_b) = (on_a.context("claims on 1")?, on_b.context("claims on 2")?);
    let crowd_seconds = crowd_started.elapsed().as_secs_f64();
    let db_check = {
        let db = db.clone();
        let setup_program = setup.gift_program;
        let setup_session = setup.session;
        tokio::task::spawn_blocking(move || {
            flash_crowd::verify(
                &db,
                &flash_crowd::Setup {
                    gift_program: setup_program,
                    session: setup_session,
                    tokens: Vec::new(),
                },
            )
        })
        .await??
    };
    let issued = on_a.count(201) + on_b.count(201);
    let others = on_a.other() + on_b.other();
    checks.check(
        "(a) claims never oversell across instances",
        format!(
            "{claims_sent} claims from {claimers} members ({} on both instances at once) in {crowd_seconds:.1} s; \
             201: {issued} (instance 1 {}, instance 2 {}), 409: {}, other: {others}; \
             in the database {} vouchers for {stock} packs, stock left {}, members with two {}",
            claimers / 10,
            on_a.count(201),
            on_b.count(201),
            on_a.count(409) + on_b.count(409),
            db_check.vouchers,
            db_check.stock_left,
            db_check.doubles,
        ),
        issued == stock
            && others == 0
            && on_a.count(201) > 0
            && on_b.count(201) > 0
            && db_check.vouchers == stock as i64
            && db_check.stock_left == 0
            && db_check.doubles == 0,
    );

    // (b) Rate limits: the OTP minute, then login attempts for one phone.
    checks.check(
        "(b) OTP limit holds across instances",
        format!(
            "1 code per phone per minute: instance 1 answered {}, instance 2 right after {}; \
             the code sent by 1 registered on 2: {}",
            otp.status,
            again.describe(),
            registered.status
        ),
        otp.status == 202 && again.status == 429 && registered.status == 201,
    );
    let limit = Limits::default().login_per_phone.limit as usize;
    let alone = client
        .first_refusal(&[a], REFERENCE_PHONE, limit * 3)
        .await?;
    let split = client
        .first_refusal(&[a, b], WORKER_PHONE, limit * 3)
        .await?;
    // The right password on the other instance, right after the refusal: still refused.
    // Attempt n went to instance (n - 1) % 2: odd ones to 1.
    let other = if split.is_some_and(|n| n % 2 == 1) {
        b
    } else {
        a
    };
    let right = client
        .post(
            other,
            "/v1/auth/login",
            json!({ "phone": WORKER_PHONE, "password": PASSWORD }),
        )
        .await?;
    let show = |n: Option<usize>| n.map_or("never".to_owned(), |n| format!("attempt {n}"));
    checks.check(
        "(b) login limit holds across instances",
        format!(
            "limit {limit} per phone per 15 min; first 429 on one instance: {}, alternating \
             instances: {}; the right password next, on the other instance: {}",
            show(alone),
            show(split),
            right.describe()
        ),
        alone == Some(limit + 1) && split == alone && right.status == 429,
    );

    // (c) A station created on 1, searched for on 2.
    let (found_after, station) = station_freshness(&client, a, b, org, &admin_password).await?;
    checks.check(
        "(c) station created on 1 found on 2 within 2 s",
        match found_after {
            Some(t) => format!(
                "station {station} found by GET /v1/stations/nearby on instance 2 {:.0} ms after the 201 on instance 1",
                t.as_secs_f64() * 1000.0
            ),
            None => format!("station {station} not found on instance 2 within 10 s"),
        },
        found_after.is_some_and(|t| t < Duration::from_secs(2)),
    );

    // (d), second half: once the grace window has passed, the old token again, on 2.
    let grace = IdentityConfig::new(ISSUER).refresh_grace;
    let wait = (grace + Duration::from_secs(1)).saturating_sub(rotated_at.elapsed());
    println!(
        "waiting {:.1} s for the {} s refresh grace window to pass",
        wait.as_secs_f64(),
        grace.as_secs()
    );
    tokio::time::sleep(wait).await;
    let reused = client
        .post(
            b,
            "/v1/auth/refresh",
            json!({ "refresh_token": first_refresh }),
        )
        .await?;
    let successor_on_a = client
        .post(a, "/v1/auth/refresh", json!({ "refresh_token": successor }))
        .await?;
    let successor_on_b = client
        .post(b, "/v1/auth/refresh", json!({ "refresh_token": successor }))
        .await?;
    let live_tokens = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || live_refresh_tokens(&db)).await??
    };
    let same_pair =
        retried.status == 200 && retried.body["refresh_token"].as_str() == Some(successor.as_str());
    checks.check(
        "(d) refresh token rotated on 1 refused as reused on 2",
        format!(
            "retry on 2 within the grace window: {} ({}); after {:.1} s on 2: {}; its successor then on 1: {}, on 2: {}; \
             live refresh tokens of the worker: {live_tokens}",
            retried.status,
            if same_pair { "the same new pair" } else { "NOT the same pair" },
            rotated_at.elapsed().as_secs_f64(),
            reused.describe(),
            successor_on_a.describe(),
            successor_on_b.describe(),
        ),
        same_pair
            && reused.status == 401
            && reused.code() == "refresh_token_reused"
            && successor_on_a.status == 401
            && successor_on_b.status == 401
            && live_tokens == 0,
    );

    drop((one, two));
    drop(db);
    drop(pg);
    checks.finish()
}

/// `gigunion admin create`, as an operator would run it.
fn admin_create(
    options: &DrillOptions,
    database_url: &str,
    data_dir: &std::path::Path,
    password: &str,
) -> anyhow::Result<()> {
    let out = std::process::Command::new(&options.server)
        .args(["admin", "create", "--phone", ADMIN_PHONE])
        .env("DATABASE_URL", database_url)
        .env("DATA_DIR", data_dir)
        .env("ADMIN_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .output()?;
    if !out.status.success() {
        bail!(
            "gigunion admin create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Creates a station through instance `one` and polls instance `two` until it finds it.
async fn station_freshness(
    client: &Client,
    one: SocketAddr,
    two: SocketAddr,
    org: i64,
    admin_password: &str,
) -> anyhow::Result<(Option<Duration>, i64)> {
    let login = client
        .post(
            one,
            "/v1/auth/login",
            json!({ "phone": ADMIN_PHONE, "password": admin_password }),
        )
        .await?;
    expect(&login, 200, "admin login on instance 1")?;
    let token = field(&login, "access_token")?;
    let (lat, lng) = {
        let mut rng = rand::thread_rng();
        (
            32.0 + rng.gen_range(0.0..0.1),
            118.7 + rng.gen_range(0.0..0.1),
        )
    };
    let search = format!("/v1/stations/nearby?lat={lat}&lng={lng}&radius_m=100");
    let created = call(
        one,
        Method::POST,
        &format!("/v1/admin/orgs/{org}/stations"),
        Some(&token),
        Some(&json!({
            "name": "演练驿站",
            "address": "南京市玄武区演练路1号",
            "location": { "lat": lat, "lng": lng },
            "amenities": ["drinking_water", "phone_charging"],
            "hours": { "open_24h": true },
        })),
        &[],
    )
    .await?;
    let at = Instant::now();
    expect(&created, 201, "station created on instance 1")?;
    let id = created.body["id"]
        .as_i64()
        .context("station without an id")?;
    while at.elapsed() < Duration::from_secs(10) {
        let found = call(two, Method::GET, &search, None, None, &[]).await?;
        expect(&found, 200, "nearby search on instance 2")?;
        let hit = found.body["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|s| s["id"].as_i64() == Some(id)));
        if hit {
            return Ok((Some(at.elapsed()), id));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok((None, id))
}

/// Refresh tokens of the worker's account that are neither revoked nor rotated.
fn live_refresh_tokens(db: &Db) -> anyhow::Result<i64> {
    use platform::schema::accounts as acc;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    // The worker is the only account that signed up over HTTP (not the crowd, not the admin).
    let worker: i64 = acc::table
        .filter(acc::phone_enc.ne("-"))
        .filter(acc::is_admin.eq(false))
        .select(acc::id)
        .first(&mut conn)?;
    Ok(rt::table
        .filter(rt::account_id.eq(worker))
        .filter(rt::revoked_at.is_null())
        .filter(rt::rotated_at.is_null())
        .count()
        .get_result(&mut conn)?)
}

/// Anonymous calls from one client address (sent as `X-Forwarded-For`).
struct Client {
    ip: String,
}

impl Client {
    async fn post(&self, addr: SocketAddr, path: &str, body: Value) -> anyhow::Result<Answer> {
        call(
            addr,
            Method::POST,
            path,
            None,
            Some(&body),
            &[("x-forwarded-for", self.ip.as_str())],
        )
        .await
    }

    /// Wrong-password logins for `phone`, round-robin over `instances`, until the first 429:
    /// its attempt number (1-based), or `None` within `at_most` attempts.
    async fn first_refusal(
        &self,
        instances: &[SocketAddr],
        phone: &str,
        at_most: usize,
    ) -> anyhow::Result<Option<usize>> {
        for attempt in 1..=at_most {
            let addr = instances[(attempt - 1) % instances.len()];
            let answer = self
                .post(
                    addr,
                    "/v1/auth/login",
                    json!({ "phone": phone, "password": "not-the-password" }),
                )
                .await?;
            match answer.status {
                429 => return Ok(Some(attempt)),
                401 => {}
                _ => bail!("login attempt {attempt}: {}", answer.describe()),
            }
        }
        Ok(None)
    }
}

fn expect(answer: &Answer, status: u16, what: &str) -> anyhow::Result<()> {
    if answer.status != status {
        bail!(
            "{what}: expected {status}, got {} {}",
            answer.status,
            answer.body
        );
    }
    Ok(())
}

fn field(answer: &Answer, name: &str) -> anyhow::Result<String> {
    answer.body[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {name} in {}", answer.body))
}

/// The last code the file SMS sender wrote for `phone`.
fn last_code(sms: &std::path::Path, phone: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(sms)
        .with_context(|| format!("no SMS file at {}", sms.display()))?;
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["phone"] == phone && m["code"].is_string())
        .and_then(|m| m["code"].as_str().map(str::to_owned))
        .context("no code was sent")
}
