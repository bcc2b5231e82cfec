//! `gigunion serve --demo` as a newcomer starts it, with `LOG_FORMAT=json` and its output piped
//! (as under a log collector): every line it writes is JSON, the generated passwords are in
//! the logins file only, and the demo data carries the whole journey (staff login, join by the
//! 玄武 poster, gift pack, health-check session, door check-in) and the people staff work on
//! (members, the review queue, rosters). A second start on the same data adds nothing.
//!
//! SQLite by default; with `TEST_DATABASE_URL` (a PostgreSQL server's URL) each start runs on a
//! fresh PostgreSQL database of that server, dropped at the end.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const STAFF_PHONE: &str = "13800000001";
const QINHUAI_STAFF_PHONE: &str = "13800000002";
const MEMBER_PHONE: &str = "13912345678";
const MEMBER_PASSWORD: &str = "rider2026";
/// The demo rider whose password is in the logins file.
const DEMO_RIDER_PHONE: &str = "13902500001";

/// The database of one test: a file in its directory, or with `TEST_DATABASE_URL` a fresh
/// PostgreSQL database, dropped with this.
struct Database {
    url: String,
    postgres: Option<(String, String)>,
}

impl Database {
    fn new(dir: &Path) -> Database {
        use diesel::{Connection, RunQueryDsl};
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            return Database {
                url: format!("sqlite://{}", dir.join("demo.db").display()),
                postgres: None,
            };
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("gigunion_demo_{}_{n}", std::process::id());
        let mut admin = diesel::PgConnection::establish(&admin_url).expect("TEST_DATABASE_URL");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\""))
            .execute(&mut admin)
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .unwrap();
        // The admin URL with the database's name in place of its own.
        let (server, query) = match admin_url.split_once('?') {
            Some((server, query)) => (server, format!("?{query}")),
            None => (admin_url.as_str(), String::new()),
        };
        let authority_ends = server.find("://").map_or(0, |i| i + 3);
        let base = match server[authority_ends..].find('/') {
            Some(slash) => &server[..authority_ends + slash],
            None => server,
        };
        Database {
            url: format!("{base}/{name}{query}"),
            postgres: Some((admin_url.clone(), name)),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        if let Some((admin_url, name)) = &self.postgres {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let _ = diesel::sql_query(drop).execute(&mut admin);
            }
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One run of the binary, its stdout and stderr read to the end on threads (a full pipe would
/// stall it).
struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    readers: Vec<JoinHandle<String>>,
}

fn read_all(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).expect("output is UTF-8");
        text
    })
}

impl Server {
    async fn start(dir: &Path, database: &Database) -> Server {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_gigunion"))
            .args(["serve", "--demo"])
            .current_dir(dir)
            .env_clear()
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("DATA_DIR", dir.join("data"))
            .env("DATABASE_URL", &database.url)
            .env(
                "SMS_SENDER",
                format!("file:{}", dir.join("sms.jsonl").display()),
            )
            .env("WORKERS", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let readers = vec![
            read_all(child.stdout.take().unwrap()),
            read_all(child.stderr.take().unwrap()),
        ];
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            readers,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            let ready = self.client.get(self.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "server never became ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Calls the API; the status and the JSON body (null when empty).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let res = request.send().await.expect("server answers");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, body)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, body) = self
            .call(reqwest::Method::POST, path, token, Some(body))
            .await;
        assert!((200..300).contains(&status), "POST {path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = self
            .call(reqwest::Method::GET, path, Some(token), None)
            .await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn login(&self, phone: &str, password: &str) -> String {
        let pair = self
            .post(
                "/v1/auth/login",
                None,
                json!({ "phone": phone, "password": password }),
            )
            .await;
        pair["access_token"].as_str().unwrap().to_owned()
    }

    /// Stops the server with SIGTERM; every line it wrote (stdout, then stderr).
    fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "exit status {exit}");
        let mut lines = Vec::new();
        for reader in self.readers {
            lines.extend(reader.join().unwrap().lines().map(str::to_owned));
        }
        lines
    }
}

/// Every line is a JSON object (what a collector needs) and carries no generated password.
fn assert_json_only(lines: &[String], passwords: &[String]) -> Vec<Value> {
    assert!(!lines.is_empty(), "the server wrote nothing");
    lines
        .iter()
        .map(|line| {
            for password in passwords {
                assert!(
                    !line.contains(password.as_str()),
                    "a password leaked: {line}"
                );
            }
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(event.is_object(), "not a JSON object: {line}");
            event
        })
        .collect()
}

fn message(event: &Value) -> &str {
    event["fields"]["message"].as_str().unwrap_or_default()
}

/// The logins file: owner-only, one `... phone P  password W` line per login.
fn demo_logins(path: &Path) -> Vec<(String, String)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{} is mode {mode:o}", path.display());
    }
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let word_after = |key: &str| {
                let mut words = line.split_whitespace().skip_while(|w| *w != key);
                words.nth(1).expect("a value after the key").to_owned()
            };
            (word_after("phone"), word_after("password"))
        })
        .collect()
}

/// A rider signs up by SMS code, gives the real-name profile and joins with the auto-approving
/// join code of the staff's org (the 玄武 poster's); the rider's token.
async fn join_as_rider(server: &Server, dir: &Path, staff: &str) -> String {
    server
        .post("/v1/auth/otp", None, json!({ "phone": MEMBER_PHONE }))
        .await;
    let sms = std::fs::read_to_string(dir.join("sms.jsonl")).unwrap();
    let last: Value = serde_json::from_str(sms.lines().last().unwrap()).unwrap();
    assert_eq!(last["phone"], MEMBER_PHONE);
    let body = json!({ "phone": MEMBER_PHONE, "code": last["code"], "password": MEMBER_PASSWORD });
    let pair = server.post("/v1/auth/register", None, body).await;
    let rider = pair["access_token"].as_str().unwrap().to_owned();
    let profile =
        json!({ "legal_name": "张三", "id_number": "11010519491231002X", "consent": true });
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            "/v1/me/identity",
            Some(&rider),
            Some(profile),
        )
        .await;
    assert!((200..300).contains(&status), "identity: {status} {body}");

    let org = server.get("/v1/me", staff).await["staff_scopes"][0]["org_id"].clone();
    let codes = server
        .get(&format!("/v1/admin/orgs/{org}/join-codes"), staff)
        .await;
    let code = codes["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["auto_approve"] == true)
        .expect("the 玄武 poster's code")["code"]
        .clone();
    let join = json!({ "join_code": code, "occupation": "rider", "platform": "美团", "work_city": "南京" });
    let membership = server.post("/v1/memberships", Some(&rider), join).await;
    assert_eq!(membership["status"], "active", "{membership}");
    rider
}

/// Vouchers and bookings the demo riders hold (crates/server/src/demo_riders.rs).
const DEMO_VOUCHERS: i64 = 13;
const DEMO_BOOKINGS: [usize; 2] = [10, 6];

/// The member's programs: exactly one gift pack, one health check and one legal consultation,
/// with what the demo riders left of the stock and the seats.
async fn demo_programs(server: &Server, member: &str) -> (Value, Value) {
    let list = server.get("/v1/programs", member).await;
    let items = list["items"].as_array().unwrap();
    let of_kind = |kind: &str| {
        let found: Vec<&Value> = items.iter().filter(|p| p["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "one {kind} program: {list}");
        found[0].clone()
    };
    let (gift, check) = (of_kind("gift_pack"), of_kind("health_check"));
    // The duty lawyer: two afternoons at the station and two evenings by phone.
    let lawyer = of_kind("legal_consultation");
    assert_eq!(lawyer["seats_left"], 2 * (12 + 8), "{lawyer}");
    assert_eq!(gift["title"], "暖“新”礼包");
    assert_eq!(gift["mode"], "first_come");
    assert_eq!(gift["stock_left"], 550 - DEMO_VOUCHERS, "{gift}");
    let booked: usize = DEMO_BOOKINGS.iter().sum();
    assert_eq!(check["seats_left"], 400 - booked, "{check}");
    (gift, check)
}

/// The door posters the seed wrote, as `(station id, door code)` from the events that name
/// them (`.../s/{id}?c={code}`).
fn door_posters(events: &[Value]) -> Vec<(i64, String)> {
    events
        .iter()
        .filter(|e| message(e) == "demo poster written")
        .filter_map(|e| {
            let poster = e["fields"]["poster"].as_str()?;
            let (_, door) = poster.rsplit_once("/s/")?;
            let (id, code) = door.split_once("?c=")?;
            Some((id.parse().ok()?, code.to_owned()))
        })
        .collect()
}

/// The newcomer's journey on what the seed left: claim, book, check in at each door poster.
async fn walk_the_journey(server: &Server, member: &str, events: &[Value]) {
    let (gift, check) = demo_programs(server, member).await;
    let voucher = server
        .post(
            &format!("/v1/programs/{}/claims", gift["id"]),
            Some(member),
            json!({}),
        )
        .await;
    assert!(voucher["code"].is_string(), "{voucher}");

    let sessions = server
        .get(&format!("/v1/programs/{}/sessions", check["id"]), member)
        .await;
    let first = &sessions["items"][0];
    // Both UTC RFC 3339 from the same serialiser; the program opened when the seed ran.
    let (session_starts, seeded_at) = (first["starts_at"].as_str(), check["starts_at"].as_str());
    assert!(session_starts > seeded_at, "{sessions} vs {check}");
    assert_eq!(first["capacity"], 200);
    let booking = server
        .post(
            &format!("/v1/sessions/{}/bookings", first["id"]),
            Some(member),
            json!({ "waitlist": false }),
        )
        .await;
    assert_eq!(booking["status"], "booked", "{booking}");

    let doors = door_posters(events);
    assert_eq!(doors.len(), 2, "two door posters");
    for (station, code) in doors {
        let path = format!("/v1/stations/{station}/visits");
        let visit = server
            .post(&path, Some(member), json!({ "code": code }))
            .await;
        assert_eq!(visit["counted"], true, "{visit}");
    }
}

/// What the console's lists show of the demo riders.
#[derive(Debug, PartialEq, Eq)]
struct People {
    /// 玄武's members by status (active, ended), with the test's own rider among the active.
    xuanwu: (usize, usize),
    /// 秦淮's applications waiting, then its members by status (active, rejected).
    qinhuai_queue: usize,
    qinhuai: (usize, usize),
    /// Each truck session's roster: (rows, rows booked with a real name).
    rosters: Vec<(usize, usize)>,
}

async fn items(server: &Server, path: &str, token: &str) -> Vec<Value> {
    let page = server.get(path, token).await;
    assert!(page["next_cursor"].is_null(), "one page holds them: {path}");
    page["items"].as_array().unwrap().clone()
}

/// The first org the staff of `token` work for.
async fn org_of(server: &Server, token: &str) -> Value {
    server.get("/v1/me", token).await["staff_scopes"][0]["org_id"].clone()
}

async fn members(server: &Server, org: &Value, token: &str, status: &str) -> usize {
    let path = format!("/v1/admin/orgs/{org}/members?status={status}&limit=100");
    items(server, &path, token).await.len()
}

/// Reads the lists as each district's staff do: `staff` of 玄武, `qinhuai` staff, `member` for
/// the program's sessions.
async fn people(server: &Server, staff: &str, qinhuai: &str, member: &str) -> People {
    let (xw, qh) = (org_of(server, staff).await, org_of(server, qinhuai).await);
    let path = format!("/v1/admin/orgs/{qh}/applications?limit=100");
    let queue = items(server, &path, qinhuai).await;
    for row in &queue {
        assert_eq!(row["status"], "pending", "{row}");
        let named = row["legal_name"].is_string() && row["id_number_masked"].is_string();
        assert!(named, "{row}");
    }
    let (_, check) = demo_programs(server, member).await;
    let sessions = server
        .get(&format!("/v1/programs/{}/sessions", check["id"]), member)
        .await;
    let mut rosters = Vec::new();
    for session in sessions["items"].as_array().unwrap() {
        let path = format!("/v1/admin/sessions/{}/bookings?limit=100", session["id"]);
        let rows = items(server, &path, staff).await;
        let named = rows
            .iter()
            .filter(|r| r["status"] == "booked" && r["name_masked"].is_string())
            .count();
        rosters.push((rows.len(), named));
    }
    People {
        xuanwu: (
            members(server, &xw, staff, "active").await,
            members(server, &xw, staff, "ended").await,
        ),
        qinhuai_queue: queue.len(),
        qinhuai: (
            members(server, &qh, qinhuai, "active").await,
            members(server, &qh, qinhuai, "rejected").await,
        ),
        rosters,
    }
}

/// What tells a rewrite: the modification time and the text.
fn stamp(path: &Path) -> (std::time::SystemTime, String) {
    let meta = std::fs::metadata(path).unwrap();
    (
        meta.modified().unwrap(),
        std::fs::read_to_string(path).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_demo_start_logs_json_only_and_seeds_the_journey_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::new(dir.path());
    let logins_file: PathBuf = dir.path().join("data/demo-logins.txt");

    let server = Server::start(dir.path(), &database).await;
    let logins = demo_logins(&logins_file);
    assert_eq!(
        logins.len(),
        4,
        "admin, two district staff and one demo rider"
    );
    let password = |phone: &str| logins.iter().find(|(p, _)| p == phone).unwrap().1.clone();
    let staff = server.login(STAFF_PHONE, &password(STAFF_PHONE)).await;
    let qinhuai = server
        .login(QINHUAI_STAFF_PHONE, &password(QINHUAI_STAFF_PHONE))
        .await;
    let member = join_as_rider(&server, dir.path(), &staff).await;
    let seeded = people(&server, &staff, &qinhuai, &member).await;
    let expected = People {
        // 25 demo members and the rider who just joined; two demo riders left.
        xuanwu: (26, 2),
        qinhuai_queue: 8,
        qinhuai: (3, 2),
        rosters: DEMO_BOOKINGS.iter().map(|&n| (n, n)).collect(),
    };
    assert_eq!(seeded, expected);
    // The demo rider of the logins file signs in, a member holding a voucher to scan.
    let rider = server
        .login(DEMO_RIDER_PHONE, &password(DEMO_RIDER_PHONE))
        .await;
    let vouchers = server.get("/v1/me/vouchers", &rider).await;
    assert_eq!(vouchers["items"][0]["status"], "issued", "{vouchers}");
    // Its output is read to the end once it stops: the journey below, on the second run, takes
    // the door codes from this run's poster events.
    let lines = server.stop();
    let passwords: Vec<String> = logins.iter().map(|(_, w)| w.clone()).collect();
    let events = assert_json_only(&lines, &passwords);
    let logged_file = events
        .iter()
        .find(|e| message(e).starts_with("demo logins created"))
        .expect("the logins file is logged");
    assert_eq!(
        logged_file["fields"]["file"].as_str().map(PathBuf::from),
        Some(logins_file.clone())
    );
    assert!(events.iter().any(|e| message(e) == "gigunion is serving"));
    let before = stamp(&logins_file);

    // Again on the same data: nothing new (still one program of each kind, the same people),
    // the logins file untouched, and the journey goes on from where the first run left it.
    let server = Server::start(dir.path(), &database).await;
    let member = server.login(MEMBER_PHONE, MEMBER_PASSWORD).await;
    let staff = server.login(STAFF_PHONE, &password(STAFF_PHONE)).await;
    let qinhuai = server
        .login(QINHUAI_STAFF_PHONE, &password(QINHUAI_STAFF_PHONE))
        .await;
    assert_eq!(people(&server, &staff, &qinhuai, &member).await, expected);
    walk_the_journey(&server, &member, &events).await;
    let again = assert_json_only(&server.stop(), &passwords);
    assert!(again
        .iter()
        .any(|e| message(e) == "demo data already present"));
    assert_eq!(stamp(&logins_file), before, "the logins file was rewritten");
}

/// A member's phone, name and ID number never reach the log, before their account is deleted
/// or after (PIPL Art. 47: nothing written afterwards may hold them either): the request log
/// names routes, not paths with values, and the events name accounts by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_member_leaves_no_trace_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::new(dir.path());
    let server = Server::start(dir.path(), &database).await;
    let logins = demo_logins(&dir.path().join("data/demo-logins.txt"));
    let staff_password = &logins.iter().find(|(p, _)| p == STAFF_PHONE).unwrap().1;
    let staff = server.login(STAFF_PHONE, staff_password).await;
    let member = join_as_rider(&server, dir.path(), &staff).await;
    server.get("/v1/me/card", &member).await;
    server.get("/v1/me/export", &member).await;
    let (status, body) = server
        .call(
            reqwest::Method::DELETE,
            "/v1/me",
            Some(&member),
            Some(json!({ "password": MEMBER_PASSWORD })),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // After the deletion: the old token, the old phone, and staff looking the member up.
    let (status, _) = server
        .call(reqwest::Method::GET, "/v1/me", Some(&member), None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = server
        .call(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({ "phone": MEMBER_PHONE, "password": MEMBER_PASSWORD })),
        )
        .await;
    assert_eq!(status, 401);
    let org = server.get("/v1/me", &staff).await["staff_scopes"][0]["org_id"].clone();
    let found = server
        .get(
            &format!("/v1/admin/orgs/{org}/members?q={MEMBER_PHONE}"),
            &staff,
        )
        .await;
    assert_eq!(found["items"], json!([]), "{found}");

    let lines = server.stop();
    let events = assert_json_only(&lines, &[]);
    assert!(events.iter().any(|e| message(e) == "account deleted"));
    for trace in [MEMBER_PHONE, "139****5678", "张三", "11010519491231002X"] {
        let leaked: Vec<_> = lines.iter().filter(|l| l.contains(trace)).collect();
        assert!(leaked.is_empty(), "{trace} is in the log: {leaked:?}");
    }
}
