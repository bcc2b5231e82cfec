//! Black-box test support: [`spawn_app`] starts the real server on a free port with a fresh
//! database and drives it over HTTP.
//!
//! SQLite by default (a temporary file per app). With `TEST_DATABASE_URL` set to a PostgreSQL
//! URL, every app gets a migrated database of its own, dropped afterwards (see [`databases`]); with
//! `TEST_REDIS_URL`, rate limits and one-time codes live in Redis under a key prefix of its own.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use gigunion_server::{AppState, Settings};
use identity::IdentityConfig;
use platform::crypto::random_token;
use platform::{Coordinator, Db};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

pub use reqwest;
pub use serde_json;

pub mod browser;
pub mod console;
pub mod databases;
pub mod phone;
pub mod proxy;

use databases::PgDatabase;

/// A running server and what the test needs to reach into it.
pub struct TestApp {
    pub base: String,
    /// The running app's state, for setting up what has no HTTP route (an admin account).
    pub state: AppState,
    pub client: reqwest::Client,
    /// The app's own database, for assertions on what is stored.
    pub db: Db,
    pub data_dir: PathBuf,
    sms_file: PathBuf,
    handle: actix_web::dev::ServerHandle,
    /// Dropped after the server is told to stop (fields drop after `Drop::drop`).
    _postgres: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

/// Which database this run tests against, for messages.
pub fn backend() -> &'static str {
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        "postgres"
    } else {
        "sqlite"
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts an app whose identity settings `tune` may adjust (e.g. a lower rate limit).
pub async fn spawn_app_with(tune: impl FnOnce(&mut IdentityConfig)) -> TestApp {
    let redis = std::env::var("TEST_REDIS_URL").ok();
    spawn(tune, redis.as_deref()).await
}

/// Starts an app configured with a Redis that does not answer.
pub async fn spawn_app_with_dead_redis() -> TestApp {
    spawn(|_| {}, Some("redis://127.0.0.1:1/")).await
}

async fn spawn(tune: impl FnOnce(&mut IdentityConfig), redis: Option<&str>) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sms_file = dir.path().join("sms.jsonl");

    let (database_url, postgres) = match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) => {
            let database = PgDatabase::migrated(&admin_url);
            (database.url(), Some(database))
        }
        Err(_) => {
            let file = dir.path().join("test.db");
            databases::sqlite_migrated(&file);
            (format!("sqlite://{}", file.display()), None)
        }
    };

    let mut settings = Settings::defaults();
    settings.database_url = database_url.clone();
    settings.data_dir = dir.path().join("data");
    settings.public_base_url = Some(base.clone());
    settings.sms_sender = format!("file:{}", sms_file.display());
    settings.metrics_token = Some(METRICS_TOKEN.to_owned());
    settings.cors_allowed_origins = CORS_ORIGIN.to_owned();
    settings.app_download_url = Some(APP_DOWNLOAD_URL.to_owned());
    settings.app_link = Some(APP_LINK.to_owned());

    let db = Db::connect(&database_url).expect("open database");
    db.migrate().expect("migrate");
    let coord = match redis {
        Some(url) => {
            Coordinator::redis(url, &format!("gigunion-test:{}:", random_token(8))).unwrap()
        }
        None => Coordinator::local(),
    };
    let mut config = IdentityConfig::new(base.clone());
    tune(&mut config);
    let state = AppState::assemble(&settings, db.clone(), coord, config).expect("app state");
    let server = gigunion_server::server(state.clone(), listener, Some(2)).expect("server starts");
    let handle = server.handle();
    tokio::spawn(server);

    TestApp {
        base,
        state,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        db,
        data_dir: settings.data_dir,
        sms_file,
        handle,
        _postgres: postgres,
        _dir: dir,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { handle.stop(false).await });
        }
    }
}

/// Ten distinct test phone numbers per seed value, all valid mainland mobiles.
pub fn phone(n: u32) -> String {
    format!("139{:08}", n)
}

pub const PASSWORD: &str = "rider2026";

/// The one web-app origin test apps allow cross-origin calls from.
pub const CORS_ORIGIN: &str = "https://console.example.cn";
/// Where the join flow sends a rider for the app, in tests.
pub const APP_DOWNLOAD_URL: &str = "https://app.example.cn/download";
/// The link that opens the app, in tests.
pub const APP_LINK: &str = "gigunion://membership";

/// The bearer token test apps require on `/metrics`.
pub const METRICS_TOKEN: &str = "metrics-token-for-tests";

impl TestApp {
    /// Moves this app's clock forward: its time alone, the apps of the tests beside it keep
    /// theirs (see `platform::clock`).
    pub fn advance_clock(&self, by: chrono::TimeDelta) {
        self.db.clock().advance(by);
    }

    /// Now, by this app's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.db.clock().during(platform::clock::now_utc)
    }

    /// Moves this app's clock forward to the next `hh:mm:00` in Asia/Shanghai.
    pub fn advance_clock_to_shanghai(&self, hour: u32, minute: u32) {
        let now = self.now();
        let local = platform::clock::local(now);
        let mut target = local
            .date()
            .and_hms_opt(hour, minute, 0)
            .expect("a time of day");
        if target <= local {
            target += chrono::TimeDelta::days(1);
        }
        self.advance_clock(target - local);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.request(Method::GET, path);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.request(Method::POST, path).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// `method path` as `token`, with `body` as JSON unless it is null: the status and the JSON
    /// answer (null when there is none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> (u16, Value) {
        let mut req = self.request(method, path).bearer_auth(token);
        if !body.is_null() {
            req = req.json(body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// As [`TestApp::call`], which must succeed (2xx): the answer.
    pub async fn call_ok(&self, method: Method, path: &str, token: &str, body: Value) -> Value {
        let (status, got) = self.call(method, path, token, &body).await;
        assert!((200..300).contains(&status), "{path}: {status} {got}");
        got
    }

    pub async fn put(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.request(Method::PUT, path).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// The last code the file SMS sender wrote for `phone`.
    pub fn last_code(&self, phone: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.sms_file).ok()?;
        text.lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["phone"] == phone && m["code"].is_string())
            .map(|m| m["code"].as_str().unwrap().to_owned())
    }

    /// The notices (not codes) the file SMS sender wrote for `phone`, oldest first.
    pub fn notices_sent(&self, phone: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.sms_file).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["phone"] == phone && m["text"].is_string())
            .collect()
    }

    /// Waits (up to 15 s) until the dispatcher has sent `phone` at least `count` notices, and
    /// a moment longer so that one too many would show; answers them.
    pub async fn wait_for_notices(&self, phone: &str, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while self.notices_sent(phone).len() < count && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Two of the dispatcher's idle waits: a duplicate would be out by then.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        self.notices_sent(phone)
    }

    /// Requests a code and returns it.
    pub async fn otp(&self, phone: &str) -> String {
        let res = self
            .post("/v1/auth/otp", &json!({ "phone": phone }), None)
            .await;
        assert_eq!(
            res.status(),
            StatusCode::ACCEPTED,
            "{}",
            res.text().await.unwrap()
        );
        self.last_code(phone).expect("the file sender wrote a code")
    }

    /// Registers `phone` with [`PASSWORD`] and returns the token pair.
    pub async fn register(&self, phone: &str) -> Value {
        let code = self.otp(phone).await;
        let res = self.try_register(phone, &code, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    /// One registration attempt, whatever its outcome.
    pub async fn try_register(&self, phone: &str, code: &str, password: &str) -> Response {
        self.post(
            "/v1/auth/register",
            &json!({ "phone": phone, "code": code, "password": password }),
            None,
        )
        .await
    }

    pub async fn login(&self, phone: &str, password: &str) -> Response {
        self.post(
            "/v1/auth/login",
            &json!({ "phone": phone, "password": password }),
            None,
        )
        .await
    }

    /// The server's signing key (PKCS#8 PEM), for forging tokens in attack tests.
    pub fn signing_key_pem(&self) -> Vec<u8> {
        std::fs::read(self.data_dir.join("jwt-ed25519.pem")).expect("key generated")
    }
}

/// A registered worker with a real-name profile.
#[derive(Clone)]
pub struct Worker {
    pub phone: String,
    pub token: String,
    pub id_number: String,
}

/// A valid resident ID number, distinct for every `n` below 1000 (GB 11643 check character).
pub fn id_number(n: u32) -> String {
    let first17 = format!("32010219900101{:03}", n % 1000);
    let check = identity::id_number::check_character(&first17);
    format!("{first17}{check}")
}

impl TestApp {
    /// An admin account (created directly, as `gigunion admin create` does); its access token.
    pub async fn admin(&self) -> String {
        let phone = identity::phone::Phone::parse("13800000000").unwrap();
        let password = identity::password::Password::parse(PASSWORD, "password").unwrap();
        self.state
            .identity
            .ensure_admin(&phone, password)
            .await
            .expect("admin created");
        self.token_of("13800000000").await
    }

    /// A fresh access token for an account with [`PASSWORD`].
    pub async fn token_of(&self, phone: &str) -> String {
        let res = self.login(phone, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        let pair: Value = res.json().await.unwrap();
        pair["access_token"].as_str().unwrap().to_owned()
    }

    /// Registers `phone(n)` and gives it the real-name profile `id_number(n)`.
    pub async fn worker(&self, n: u32) -> Worker {
        let phone = phone(n);
        let pair = self.register(&phone).await;
        let token = pair["access_token"].as_str().unwrap().to_owned();
        let id_number = id_number(n);
        let res = self
            .put(
                "/v1/me/identity",
                &json!({ "legal_name": legal_name(n), "id_number": id_number, "consent": true }),
                Some(&token),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
        Worker {
            phone,
            token,
            id_number,
        }
    }

    /// Creates an org through the API; returns its id.
    pub async fn org(
        &self,
        token: &str,
        parent: Option<i64>,
        kind: &str,
        name: &str,
        region: &str,
    ) -> i64 {
        let res = self
            .post(
                "/v1/admin/orgs",
                &json!({ "parent_id": parent, "kind": kind, "name": name, "region_code": region, "address": "南京市" }),
                Some(token),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    /// Grants staff on `org` to the account of `phone`.
    pub async fn grant_staff(&self, token: &str, org: i64, phone: &str) {
        let res = self
            .post(
                &format!("/v1/admin/orgs/{org}/staff"),
                &json!({ "phone": phone }),
                Some(token),
            )
            .await;
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    /// Creates a join code with the given settings (`label`, `auto_approve`, `max_uses`,
    /// `expires_at` as JSON); returns the code view.
    pub async fn join_code(&self, token: &str, org: i64, settings: Value) -> Value {
        let res = self
            .post(
                &format!("/v1/admin/orgs/{org}/join-codes"),
                &settings,
                Some(token),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }

    /// Joins with `code` as a rider; returns the response.
    pub async fn join(&self, token: &str, code: &str) -> Response {
        self.post(
            "/v1/memberships",
            &json!({ "join_code": code, "occupation": "rider", "platform": "美团", "work_city": "南京" }),
            Some(token),
        )
        .await
    }
}

/// The org tree the benefits and stations tests work in: a province, Nanjing under it, and two
/// of its districts, each with a member of staff.
pub struct Districts {
    pub admin: String,
    pub city: i64,
    pub xuanwu: i64,
    pub qinhuai: i64,
    /// Tokens of the staff of Xuanwu and of Qinhuai.
    pub staff_a: String,
    pub staff_b: String,
}

/// When a program is open for the tests: from an hour ago to a week ahead, RFC 3339.
pub fn open_window() -> (String, String) {
    let now = chrono::Utc::now();
    (
        (now - chrono::Duration::hours(1)).to_rfc3339(),
        (now + chrono::Duration::days(7)).to_rfc3339(),
    )
}

impl TestApp {
    /// Builds [`Districts`]; its staff are registered as `phone(staff.0)` and `phone(staff.1)`.
    pub async fn nanjing_districts(&self, staff: (u32, u32)) -> Districts {
        let admin = self.admin().await;
        let province = self
            .org(&admin, None, "federation", "江苏省总工会", "320000")
            .await;
        let city = self
            .org(&admin, Some(province), "city", "南京市总工会", "320100")
            .await;
        let xuanwu = self
            .org(&admin, Some(city), "district", "玄武区总工会", "320102")
            .await;
        let qinhuai = self
            .org(&admin, Some(city), "district", "秦淮区总工会", "320104")
            .await;
        let (a, b) = (phone(staff.0), phone(staff.1));
        self.register(&a).await;
        self.register(&b).await;
        self.grant_staff(&admin, xuanwu, &a).await;
        self.grant_staff(&admin, qinhuai, &b).await;
        Districts {
            staff_a: self.token_of(&a).await,
            staff_b: self.token_of(&b).await,
            admin,
            city,
            xuanwu,
            qinhuai,
        }
    }

    /// Creates a program of `org` as `staff` and publishes it; returns the published view.
    pub async fn published_program(
        &self,
        staff: &str,
        org: i64,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let res = self
            .post(
                &format!("/v1/admin/orgs/{org}/programs"),
                &body,
                Some(staff),
            )
            .await;
        assert_eq!(
            res.status(),
            reqwest::StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        let created: serde_json::Value = res.json().await.unwrap();
        assert_eq!(created["status"], "draft");
        let published = self
            .post(
                &format!("/v1/admin/programs/{}/publish", created["id"]),
                &serde_json::json!({}),
                Some(staff),
            )
            .await;
        assert_eq!(published.status(), reqwest::StatusCode::OK);
        published.json().await.unwrap()
    }

    /// Closes a draw's entry window now: `entry_closes_at` a second into the past in the
    /// database, then a wait past the program cache (one second). Tests open draws with a long
    /// window and close it here, so no test depends on finishing its entries within seconds.
    pub async fn close_entries(&self, program: i64) {
        use diesel::prelude::*;
        use platform::schema::programs as p;
        let closed = platform::clock::now() - chrono::Duration::seconds(1);
        self.db
            .run(move |conn| {
                diesel::update(p::table.find(program))
                    .set(p::entry_closes_at.eq(closed))
                    .execute(conn)?;
                Ok(())
            })
            .await
            .expect("close the entry window");
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }

    /// A published health check of Xuanwu with one session of `capacity` seats two days
    /// ahead; the program's and the session's ids.
    pub async fn health_check(&self, t: &Districts, capacity: i32) -> (i64, i64) {
        let (starts, ends) = open_window();
        let body = json!({ "kind": "health_check", "title": "免费体检车进驿站", "starts_at": starts,
                           "ends_at": ends });
        let program = self.published_program(&t.staff_a, t.xuanwu, body).await["id"]
            .as_i64()
            .unwrap();
        let at = chrono::Utc::now() + chrono::Duration::days(2);
        let session = json!({ "site_name": "玄武区户外劳动者驿站", "address": "南京市玄武区中山路",
            "starts_at": at.to_rfc3339(), "ends_at": (at + chrono::Duration::hours(8)).to_rfc3339(),
            "capacity": capacity });
        let path = format!("/v1/admin/programs/{program}/sessions");
        let res = self.post(&path, &session, Some(&t.staff_a)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        (program, id)
    }

    /// The same members with access tokens of the app's time, once its clock has moved past
    /// their tokens' expiry.
    pub async fn signed_in_again(&self, members: Vec<Worker>) -> Vec<Worker> {
        let mut again = Vec::new();
        for member in members {
            let token = self.token_of(&member.phone).await;
            again.push(Worker { token, ..member });
        }
        again
    }

    /// Runs the reminder sweep now, as the benefits housekeeping does every 30 seconds (which
    /// may run it as well: tests look at what members got, not at who wrote it).
    pub async fn sweep_reminders(&self) {
        let leads = benefits::reminders::Leads::default();
        self.db
            .write(move |conn| benefits::reminders::sweep(conn, leads, platform::clock::now()))
            .await
            .unwrap();
    }

    /// `(topic, SMS deliveries)` of each notification of `account`, oldest first.
    pub fn told(&self, account: i64) -> Vec<(String, i64)> {
        use diesel::prelude::*;
        use platform::schema::{notification_deliveries as d, notifications as n};
        let conn = &mut *self.db.get().unwrap();
        let notes: Vec<(i64, String)> = n::table
            .filter(n::account_id.eq(account))
            .order(n::id)
            .select((n::id, n::topic))
            .load(conn)
            .unwrap();
        notes
            .into_iter()
            .map(|(id, topic)| {
                let sms = d::table
                    .filter(d::notification_id.eq(id))
                    .count()
                    .get_result(conn)
                    .unwrap();
                (topic, sms)
            })
            .collect()
    }

    /// `count` active members of `org`, created directly rather than through sign-up so that
    /// crowd tests need no Argon2 hash or SMS code per person: accounts `phone(first..)`, real
    /// names, and a join through an auto-approving code, each with an access token.
    pub async fn bulk_members(
        &self,
        org: i64,
        first: u32,
        count: u32,
        occupation: &str,
    ) -> Vec<Worker> {
        let identity = self.state.identity.clone().into_inner();
        let password = identity::password::Password::parse(PASSWORD, "password").unwrap();
        let hash = identity.hasher.hash(password).await.unwrap();
        let occupation =
            membership::vocab::Occupation::parse(occupation).expect("known occupation");
        self.db
            .run(move |conn| {
                platform::db::write_tx(conn, |conn| {
                    let admin = identity.insert_account(
                        conn,
                        &identity::phone::Phone::parse(&phone(first + 900_000)).unwrap(),
                        &hash,
                        true,
                    )?;
                    let code = membership::join_codes::create(
                        conn,
                        membership::join_codes::NewJoinCode {
                            org_id: org,
                            label: "bulk".into(),
                            expires_at: None,
                            max_uses: None,
                            auto_approve: true,
                            created_by: admin,
                        },
                    )?;
                    let today = chrono::Utc::now().date_naive();
                    let mut workers = Vec::new();
                    for n in first..first + count {
                        let phone_text = phone(n);
                        let id = identity.insert_account(
                            conn,
                            &identity::phone::Phone::parse(&phone_text).unwrap(),
                            &hash,
                            false,
                        )?;
                        let number =
                            identity::id_number::IdNumber::parse(&id_number(n), today).unwrap();
                        let name = identity::profile::LegalName::parse(&format!(
                            "骑手{}",
                            hanzi_digits(n)
                        ))?;
                        identity.save_profile(conn, id, &name, &number)?;
                        let details = membership::applications::Details {
                            occupation,
                            platform: "美团".into(),
                            work_city: "南京".into(),
                        };
                        let policy = &identity.config.consent_policy;
                        membership::applications::join(conn, id, &code.code, details, policy)?;
                        workers.push(Worker {
                            phone: phone_text,
                            token: identity.access_token(id, vec!["worker".into()])?,
                            id_number: number.as_str().to_owned(),
                        });
                    }
                    Ok(workers)
                })
            })
            .await
            .expect("bulk members created")
    }
}

/// Chinese numerals for test names (names may not contain digits).
/// The legal name [`TestApp::worker`] gives `phone(n)`: 骑手 and `n` in Chinese digits.
pub fn legal_name(n: u32) -> String {
    format!("骑手{}", hanzi_digits(n))
}

fn hanzi_digits(n: u32) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    n.to_string()
        .chars()
        .map(|c| DIGITS[c.to_digit(10).unwrap() as usize])
        .collect()
}

/// Decodes a QR code in a greyscale PNG with a real decoder (rqrr); returns its text.
pub fn decode_qr_png(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code in the image");
    grids[0].decode().expect("the QR decodes").1
}

/// Asserts a problem+json response with `status` and `code`; returns the body.
pub async fn assert_problem(res: Response, status: u16, code: &str) -> Value {
    let got = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = res.json().await.expect("problem body is JSON");
    assert_eq!(
        (got, body["code"].as_str()),
        (status, Some(code)),
        "body: {body}"
    );
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// One database for several apps, as instances of one deployment share theirs. SQLite: a file
/// in a temporary directory; with `TEST_DATABASE_URL`: a fresh PostgreSQL database, dropped
/// when this is.
pub struct SharedDatabase {
    pub url: String,
    _postgres: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

impl SharedDatabase {
    /// The database starts empty: the instances started on it migrate it, as a deployment's do.
    pub fn new() -> SharedDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) => {
                let database = PgDatabase::empty(&admin_url);
                SharedDatabase {
                    url: database.url(),
                    _postgres: Some(database),
                    _dir: dir,
                }
            }
            Err(_) => SharedDatabase {
                url: format!("sqlite://{}", dir.path().join("shared.db").display()),
                _postgres: None,
                _dir: dir,
            },
        }
    }
}

impl Default for SharedDatabase {
    fn default() -> Self {
        SharedDatabase::new()
    }
}

/// Starts an app on an existing database and, with `redis = Some((url, key prefix))`, on a
/// Redis key prefix others may share: apps started on the same ones act as instances of one
/// deployment (each has its own port, keys and in-memory state).
pub async fn spawn_app_on(database_url: &str, redis: Option<(&str, &str)>) -> TestApp {
    spawn_on(database_url, redis, None).await
}

/// The public URL instances of one [`SharedDatabase`] deployment share.
const SHARED_ISSUER: &str = "http://gigunion.instances.test";

/// Starts an instance of the deployment on `shared`: its database, one data directory (the
/// same signing and data keys) and one public URL, so a token of one instance works on every
/// other, as behind a load balancer.
pub async fn spawn_instance(shared: &SharedDatabase, redis: Option<(&str, &str)>) -> TestApp {
    spawn_on(&shared.url, redis, Some(shared._dir.path().join("data"))).await
}

async fn spawn_on(
    database_url: &str,
    redis: Option<(&str, &str)>,
    deployment_dir: Option<PathBuf>,
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sms_file = dir.path().join("sms.jsonl");
    let mut settings = Settings::defaults();
    settings.database_url = database_url.to_owned();
    let issuer = match &deployment_dir {
        Some(_) => SHARED_ISSUER.to_owned(),
        None => base.clone(),
    };
    settings.data_dir = deployment_dir.unwrap_or_else(|| dir.path().join("data"));
    settings.public_base_url = Some(issuer.clone());
    settings.sms_sender = format!("file:{}", sms_file.display());
    settings.metrics_token = Some(METRICS_TOKEN.to_owned());
    let db = Db::connect(database_url).expect("open database");
    db.migrate().expect("migrate");
    let coord = match redis {
        Some((url, prefix)) => Coordinator::redis(url, prefix).unwrap(),
        None => Coordinator::local(),
    };
    let state = AppState::assemble(&settings, db.clone(), coord, IdentityConfig::new(issuer))
        .expect("app state");
    let server = gigunion_server::server(state.clone(), listener, Some(2)).expect("server starts");
    let handle = server.handle();
    tokio::spawn(server);
    TestApp {
        base,
        state,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        db,
        data_dir: settings.data_dir,
        sms_file,
        handle,
        _postgres: None,
        _dir: dir,
    }
}
