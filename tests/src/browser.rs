//! Real-browser tests: headless Chromium driven over WebDriver (fantoccini) against a
//! [`TestApp`].
//!
//! One chromedriver per test process, started on first use. It runs in a process group of its
//! own under a small shell that waits for this process's end of a pipe to close and then kills
//! the group, so neither the driver nor a browser it started outlives the test process, however
//! that ends (a failed test, Ctrl-C, `kill -9`). Each test gets a session of its own; two at a
//! time (CI has two cores), the others queue in [`Browser::open`]. A test holds at most one
//! [`Browser`] at a time: two tests each waiting for a second session would wait forever.
//!
//! Without Chromium or chromedriver ([`CHROME`], [`CHROMEDRIVER`]) the browser tests are skipped,
//! so `make test` passes on a fresh machine; with `GIGUNION_BROWSER_TESTS=required` (CI) they
//! fail instead.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{mpsc, Once};
use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::elements::Element;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

use crate::TestApp;

pub use fantoccini;

/// Where Chromium is unless `$CHROME` says otherwise (Debian's `chromium`).
pub const CHROME: &str = "/usr/bin/chromium";
/// Where chromedriver is unless `$CHROMEDRIVER` says otherwise (Debian's `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A laptop screen, and a phone (iPhone 12 to 15) held upright, in CSS pixels.
pub const LAPTOP: (u32, u32) = (1366, 768);
pub const PHONE: (u32, u32) = (390, 844);

/// How long a wait for something on the page lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// Sessions open at once in this process.
static SESSIONS: Semaphore = Semaphore::const_new(2);
static DRIVER: OnceCell<Result<Driver, String>> = OnceCell::const_new();

struct Driver {
    port: u16,
    chrome: PathBuf,
    /// Never written: when this process ends, the pipe closes and the shell kills the group.
    _lifeline: ChildStdin,
}

/// Chromium and chromedriver, if both are installed.
fn installed() -> Result<(PathBuf, PathBuf), String> {
    let find = |var: &str, default: &str| {
        let path = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_owned()));
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!("no {} (${var})", path.display()))
        }
    };
    Ok((find("CHROME", CHROME)?, find("CHROMEDRIVER", CHROMEDRIVER)?))
}

fn required() -> bool {
    std::env::var("GIGUNION_BROWSER_TESTS").as_deref() == Ok("required")
}

/// Starts chromedriver on a port of its choosing; blocks until it says it listens.
fn start_driver(chrome: PathBuf, driver: &Path) -> Result<Driver, String> {
    // `kill 0` signals the shell's own process group: the driver and every browser it started.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" --port=0 2>&1 & cat >/dev/null; kill -KILL 0"#)
        .arg(driver)
        // Chromium takes its UI language, and so `navigator.language`, from the environment.
        .env("LANGUAGE", "zh-CN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", driver.display()))?;
    let lifeline = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");

    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            let port = line
                .split_once("started successfully on port ")
                .and_then(|(_, rest)| rest.trim_end_matches('.').parse::<u16>().ok());
            if let Some(port) = port {
                let _ = port_tx.send(Ok(port));
                break;
            }
            seen.push(line);
        }
        let _ = port_tx.send(Err(seen.join("\n")));
        // Keep reading so the driver and the browsers never block on a full pipe.
        for _ in lines {}
    });
    let port = match port_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(port)) => port,
        Ok(Err(output)) => return Err(format!("chromedriver exited:\n{output}")),
        Err(_) => return Err("chromedriver did not start within 30 s".to_owned()),
    };
    Ok(Driver {
        port,
        chrome,
        _lifeline: lifeline,
    })
}

/// One WebDriver session in headless Chromium, closed when the test ends (by [`Browser::close`]
/// or, should the test fail first, when dropped).
pub struct Browser {
    client: Client,
    base: String,
    driver: &'static Driver,
    session: String,
    /// chromedriver's own commands (DevTools), which fantoccini does not wrap.
    http: reqwest::Client,
    closed: bool,
    _permit: SemaphorePermit<'static>,
}

impl Browser {
    /// A browser on `app` with a viewport of `viewport` CSS pixels (e.g. [`LAPTOP`], [`PHONE`]).
    /// `None` when Chromium or chromedriver is not installed: the test returns early. With
    /// `GIGUNION_BROWSER_TESTS=required` that panics instead.
    pub async fn open(app: &TestApp, viewport: (u32, u32)) -> Option<Browser> {
        let (chrome, driver_path) = match installed() {
            Ok(found) => found,
            Err(missing) if required() => panic!(
                "GIGUNION_BROWSER_TESTS=required, but the browser tests cannot run: {missing}; \
                 apt-get install chromium chromium-driver"
            ),
            Err(_) => {
                static SAID: Once = Once::new();
                // Past the test harness's capture, so a plain `cargo test` shows it once.
                SAID.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "browser tests skipped: chromium-driver not installed"
                    );
                });
                return None;
            }
        };
        let driver = DRIVER
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || start_driver(chrome, &driver_path))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
            })
            .await
            .as_ref()
            .unwrap_or_else(|e| panic!("chromedriver: {e}"));
        let permit = SESSIONS
            .acquire()
            .await
            .expect("the semaphore is never closed");

        let mut capabilities = fantoccini::wd::Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": driver.chrome,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    // Scrollbars that take no room: the viewport is the width a page has.
                    "--hide-scrollbars",
                    "--window-size=1366,768",
                    "--lang=zh-CN",
                ],
                "prefs": { "intl.accept_languages": "zh-CN,zh" },
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| panic!("a Chromium session: {e}"));
        let session = client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a new session has an id");
        let browser = Browser {
            client,
            base: app.base.clone(),
            driver,
            session,
            http: reqwest::Client::new(),
            closed: false,
            _permit: permit,
        };
        browser
            .client
            .update_timeouts(TimeoutConfiguration::new(
                Some(WAIT),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("set timeouts");
        browser.set_viewport(viewport).await;
        Some(browser)
    }

    /// The fantoccini client, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `path` (e.g. `/console/login`) of the app and waits for the page to load.
    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("load {url}: {e}"));
    }

    /// The page's whole URL now.
    pub async fn current_url(&self) -> String {
        self.client.current_url().await.expect("current URL").into()
    }

    /// The path and query of the page now, e.g. `/console/cases?status=open`.
    pub async fn current_path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The document's title.
    pub async fn title(&self) -> String {
        self.client.title().await.expect("title")
    }

    /// Waits for an element matching the CSS `selector` and returns the first.
    pub async fn wait_for(&self, selector: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(selector))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "no `{selector}` on {} within {WAIT:?}: {e}",
                self.current_path().await
            ),
        }
    }

    /// How many elements match `selector` now (no waiting: for asserting something is absent
    /// once the page is known to have loaded).
    pub async fn count(&self, selector: &str) -> usize {
        self.client
            .find_all(Locator::Css(selector))
            .await
            .expect("find elements")
            .len()
    }

    /// The rendered text of the first `selector` (waited for).
    pub async fn text(&self, selector: &str) -> String {
        self.wait_for(selector)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of `{selector}`: {e}"))
    }

    /// The rendered text of every `selector` now, in document order (e.g. a table's rows).
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self
            .client
            .find_all(Locator::Css(selector))
            .await
            .expect("find elements")
        {
            texts.push(element.text().await.expect("element text"));
        }
        texts
    }

    /// Replaces the value of the field `selector` with `text`, typed as a user would.
    pub async fn fill(&self, selector: &str, text: &str) {
        let field = self.wait_for(selector).await;
        field.clear().await.expect("clear field");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into `{selector}`: {e}"));
    }

    /// Clicks the first `selector` (waited for).
    pub async fn click(&self, selector: &str) {
        self.wait_for(selector)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{selector}`: {e}"));
    }

    /// Submits the form `selector` by clicking its first submit button, as a user would.
    pub async fn submit(&self, selector: &str) {
        self.wait_for(selector).await;
        let form = self
            .client
            .form(Locator::Css(selector))
            .await
            .expect("the form");
        form.submit()
            .await
            .unwrap_or_else(|e| panic!("submit `{selector}`: {e}"));
    }

    /// Waits until the page's path and query are `path` (after a redirect or a submit).
    pub async fn wait_for_path(&self, path: &str) {
        self.until(&format!("the path {path}"), async |b| {
            (b.current_path().await == path).then_some(())
        })
        .await
    }

    /// Waits until the first `selector`'s text contains `needle` (e.g. after a partial update);
    /// returns the whole text.
    pub async fn wait_for_text(&self, selector: &str, needle: &str) -> String {
        self.until(&format!("`{needle}` in `{selector}`"), async |b| {
            let element = b.client.find(Locator::Css(selector)).await.ok()?;
            let text = element.text().await.ok()?;
            text.contains(needle).then_some(text)
        })
        .await
    }

    /// Polls `probe` until it answers `Some`, failing the test after [`WAIT`] with `what`:
    /// `browser.until("a second row", async |b| (b.count("tr").await > 1).then_some(())).await`.
    pub async fn until<T>(
        &self,
        what: &str,
        mut probe: impl AsyncFnMut(&Browser) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = probe(self).await {
                return found;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {WAIT:?} for {what}; the page is {}",
                    self.current_path().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sets the viewport to exactly `width` x `height` CSS pixels at a device pixel ratio of 1.
    /// Through DevTools rather than the window: headless Chromium keeps windows at least 500
    /// pixels wide, and a window's size includes room for browser chrome it does not draw.
    pub async fn set_viewport(&self, (width, height): (u32, u32)) {
        self.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    /// Runs one DevTools command in this session (chromedriver's `goog/cdp/execute`).
    pub async fn devtools(&self, command: &str, params: Value) -> Value {
        let url = format!(
            "http://127.0.0.1:{}/session/{}/goog/cdp/execute",
            self.driver.port, self.session
        );
        let res = self
            .http
            .post(url)
            .json(&json!({ "cmd": command, "params": params }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        let ok = res.status().is_success();
        let body: Value = res.json().await.unwrap_or_default();
        assert!(ok, "{command}: {body}");
        body["value"].clone()
    }

    /// Runs `script` in the page (`return ...` to answer), with `args` as `arguments`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Saves what the viewport shows as `target/screenshots/<name>.png`; returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Fails when the page is wider than the viewport, i.e. a user would have to scroll sideways.
    pub async fn assert_no_sideways_scroll(&self) {
        let widths = self
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await;
        let (content, viewport) = (widths[0].as_i64(), widths[1].as_i64());
        assert!(
            content <= viewport,
            "{} scrolls sideways: the page is {} px wide in a viewport of {} px",
            self.current_path().await,
            widths[0],
            widths[1]
        );
    }

    /// At the laptop size and then the phone size: asserts no sideways scroll and saves
    /// `<name>-<width>x<height>.png`. Leaves the viewport at the phone size.
    pub async fn check_each_size(&self, name: &str) {
        for (width, height) in [LAPTOP, PHONE] {
            self.set_viewport((width, height)).await;
            self.screenshot(&format!("{name}-{width}x{height}")).await;
            self.assert_no_sideways_scroll().await;
        }
    }

    /// Every cookie of the page's origin, HttpOnly ones included.
    pub async fn cookies(&self) -> Vec<Cookie<'static>> {
        self.client.get_all_cookies().await.expect("cookies")
    }

    /// The cookie `name` of the page's origin, with its attributes (`http_only()`,
    /// `same_site()`, `secure()`), if set.
    pub async fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.cookies().await.into_iter().find(|c| c.name() == name)
    }

    /// Ends the session and quits its browser.
    pub async fn close(mut self) {
        if let Err(e) = self.client.clone().close().await {
            panic!("close the browser session: {e}");
        }
        self.closed = true;
    }
}

/// A test that failed (or forgot [`Browser::close`]) still quits its browser before its place
/// goes to the next test. Blocking, plain HTTP: while unwinding, the runtime that would carry
/// fantoccini's own request may already be gone.
impl Drop for Browser {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let quit = || -> std::io::Result<()> {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.driver.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            write!(
                stream,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n",
                self.session, self.driver.port
            )?;
            stream.read_to_end(&mut Vec::new())?;
            Ok(())
        };
        let _ = quit();
    }
}

/// `target/screenshots`, next to the test binary's profile directory (`target/debug/deps/api-*`).
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary is in <target>/<profile>/deps");
    target.join("screenshots")
}
