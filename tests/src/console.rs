//! The staff console driven over plain HTTP, as a browser without JavaScript would: a cookie
//! jar, no automatic redirects (tests look at them), and forms posted with the token the last
//! page carried. The real-browser tests (`browser`) prove the same journeys in Chromium; these
//! are the quick ones for rules (CSRF, timeouts, scopes).

use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{redirect, Response, StatusCode};

use crate::{spawn_app_with, TestApp, PASSWORD};

/// An app for console tests: a staff member registers (an SMS code) and signs in to the console
/// (another) within the same second, which the one-code-a-minute limit per phone would refuse.
pub async fn console_app() -> TestApp {
    spawn_app_with(|config| config.limits.otp_per_phone_minute = platform::Rate::per_minute(60))
        .await
}

/// A console app whose clock reads 10:00 in Shanghai, outside the SMS quiet hours whenever the
/// suite runs: what notification tests need.
pub async fn daytime_app() -> TestApp {
    let app = console_app().await;
    app.advance_clock_to_shanghai(10, 0);
    app
}

/// One browser's session with the console.
pub struct Console {
    pub base: String,
    pub client: reqwest::Client,
    /// The form token of the last page fetched.
    csrf: Option<String>,
}

/// A page as fetched: status, where a redirect points, the body, and the cookies it set.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
    pub set_cookies: Vec<String>,
}

impl Console {
    /// A fresh browser (no cookies).
    pub fn new(app: &TestApp) -> Console {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .build()
            .expect("client");
        Console {
            base: app.base.clone(),
            client,
            csrf: None,
        }
    }

    /// Signs in with phone and [`PASSWORD`], typing the SMS code when one is asked for.
    pub async fn signed_in(app: &TestApp, phone: &str) -> Console {
        let mut console = Console::new(app);
        let page = console.sign_in(app, phone).await;
        assert_eq!(page.location.as_deref(), Some("/console"), "{}", page.body);
        console
    }

    /// Goes through the sign-in forms; answers the last step's page (a redirect into the
    /// console when it worked).
    pub async fn sign_in(&mut self, app: &TestApp, phone: &str) -> Page {
        self.get("/console/sign-in").await;
        let page = self
            .post(
                "/console/sign-in",
                &[
                    ("phone", phone),
                    ("password", PASSWORD),
                    ("next", "/console"),
                ],
            )
            .await;
        match page.location.as_deref() {
            Some(to) if to.starts_with("/console/verify") => {
                self.get(to).await;
                let code = app.last_code(phone).expect("an SMS code was sent");
                self.post("/console/verify", &[("code", &code), ("next", "/console")])
                    .await
            }
            _ => page,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        self.page(res).await
    }

    /// Posts a form with the token of the last page fetched.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf.clone().unwrap_or_default();
        let mut form: Vec<(&str, &str)> = vec![("_csrf", &token)];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// Posts exactly these fields (no token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .expect("request");
        self.page(res).await
    }

    /// Posts a form with a file (`multipart/form-data`), with the last page's token.
    pub async fn upload(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, Vec<u8>),
    ) -> Page {
        let token = self.csrf.clone().unwrap_or_default();
        let mut form = reqwest::multipart::Form::new().text("_csrf", token);
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        let part = reqwest::multipart::Part::bytes(file.1).file_name(file.0.to_owned());
        form = form.part("file", part);
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .multipart(form)
            .send()
            .await
            .expect("request");
        self.page(res).await
    }

    async fn page(&mut self, res: Response) -> Page {
        let status = res.status();
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let body = res.text().await.expect("body");
        if let Some(token) = form_token(&body) {
            self.csrf = Some(token);
        }
        Page {
            status,
            location,
            body,
            set_cookies,
        }
    }
}

/// The value of the first `_csrf` field of a page.
fn form_token(body: &str) -> Option<String> {
    let at = body.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    let end = body[at..].find('"')?;
    Some(body[at..at + end].to_owned())
}
