//! The public pages driven over plain HTTP, as a phone's browser without our app: a cookie jar,
//! redirects followed by hand (tests look at them), and forms posted with the `_form` token the
//! last page carried. The real-browser tests prove the same journeys in Chromium.

use reqwest::header::LOCATION;
use reqwest::{redirect, StatusCode};

use crate::TestApp;

/// One phone's browser.
pub struct PhoneBrowser {
    base: String,
    client: reqwest::Client,
    /// The form token of the last page fetched.
    token: Option<String>,
    /// The last page fetched, which a browser names as the `Referer` of its forms.
    page_url: Option<String>,
    /// Requests sent, for the count from scan to member.
    pub requests: usize,
    /// Each page fetched and its size on the wire (brotli, as a phone's browser asks).
    pub weights: Vec<(String, usize)>,
}

/// A page as fetched.
pub struct PublicPage {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
    /// Size on the wire, compressed when the server compressed it.
    pub wire_bytes: usize,
}

impl PublicPage {
    /// The screen number of the join flow (`data-screen`).
    pub fn screen(&self) -> Option<u8> {
        let at = self.body.find("data-screen=\"")? + "data-screen=\"".len();
        self.body[at..at + 1].parse().ok()
    }
}

impl PhoneBrowser {
    pub fn new(app: &TestApp) -> PhoneBrowser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .build()
            .expect("client");
        PhoneBrowser {
            base: app.base.clone(),
            client,
            token: None,
            page_url: None,
            requests: 0,
            weights: Vec::new(),
        }
    }

    /// Fetches a page, following redirects as a browser does.
    pub async fn get(&mut self, path: &str) -> PublicPage {
        let page = self.fetch_page(path).await;
        self.follow(page).await
    }

    async fn fetch_page(&mut self, path: &str) -> PublicPage {
        self.page_url = Some(self.url(path));
        let page = self.fetch(self.client.get(self.url(path))).await;
        self.weights.push((path.to_owned(), page.wire_bytes));
        page
    }

    /// Posts a form with the last page's token, and follows where it sends the browser.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> PublicPage {
        let page = self.post(path, fields).await;
        self.follow(page).await
    }

    /// Posts a form with the last page's token; answers the redirect itself.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> PublicPage {
        let token = self.token.clone().unwrap_or_default();
        let mut form: Vec<(&str, &str)> = vec![("_form", &token)];
        form.extend_from_slice(fields);
        let mut request = self.client.post(self.url(path)).form(&form);
        if let Some(referer) = &self.page_url {
            request = request.header("Referer", referer.as_str());
        }
        self.fetch(request).await
    }

    async fn follow(&mut self, mut page: PublicPage) -> PublicPage {
        for _ in 0..5 {
            match (page.status, page.location.clone()) {
                (StatusCode::SEE_OTHER | StatusCode::FOUND, Some(to)) => {
                    page = self.fetch_page(&to).await;
                }
                _ => break,
            }
        }
        page
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn fetch(&mut self, request: reqwest::RequestBuilder) -> PublicPage {
        self.requests += 1;
        let res = request
            .header("Accept-Encoding", "br")
            .send()
            .await
            .expect("request");
        let status = res.status();
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let brotli = res
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v == "br");
        let wire = res.bytes().await.expect("body");
        let body = if brotli {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut brotli::Decompressor::new(&wire[..], 4096), &mut plain)
                .expect("brotli");
            String::from_utf8(plain).expect("utf-8")
        } else {
            String::from_utf8(wire.to_vec()).expect("utf-8")
        };
        if let Some(token) = form_token(&body) {
            self.token = Some(token);
        }
        PublicPage {
            status,
            location,
            wire_bytes: wire.len(),
            body,
        }
    }
}

/// The value of the first `_form` field of a page.
fn form_token(body: &str) -> Option<String> {
    let marker = "name=\"_form\" value=\"";
    let at = body.find(marker)? + marker.len();
    let end = body[at..].find('"')?;
    Some(body[at..at + end].to_owned())
}
