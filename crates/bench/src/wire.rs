//! What one answer weighs on the wire, the bytes a rider pays for on 4G: status line, headers
//! and body, as the server sends it to a client that asks for no compression and to a phone
//! that accepts brotli and gzip (what phones send).

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use crate::report::Figure;

/// One request to weigh.
pub struct Probe<'a> {
    pub method: hyper::Method,
    pub path: &'a str,
    pub token: Option<&'a str>,
    pub json: Option<&'a str>,
}

impl Probe<'_> {
    pub fn get(path: &str) -> Probe<'_> {
        Probe {
            method: hyper::Method::GET,
            path,
            token: None,
            json: None,
        }
    }
}

/// An answer's size both ways.
pub struct Weight {
    pub plain: usize,
    pub compressed: usize,
    /// The `Content-Encoding` the phone got (empty: none, the answer is too small to gain).
    pub encoding: String,
    /// The bodies alone, without and with compression.
    pub plain_body: usize,
    pub compressed_body: usize,
}

impl Weight {
    /// Two figures, `{name}_wire_bytes` and `{name}_wire_bytes_compressed`, and their line.
    pub fn figures(&self, name: &str) -> Vec<Figure> {
        let encoding = if self.encoding.is_empty() {
            "not compressed: a body under 1 KB".to_owned()
        } else {
            self.encoding.clone()
        };
        vec![
            Figure::new(
                format!("{name}_wire_bytes"),
                self.plain as f64,
                format!(
                    "{name}: {} bytes on the wire per answer, {} with Accept-Encoding: br, gzip ({encoding})",
                    self.plain, self.compressed
                ),
            ),
            Figure::new(
                format!("{name}_wire_bytes_compressed"),
                self.compressed as f64,
                String::new(),
            ),
        ]
    }

    /// Two figures of the bodies alone, `{name}_body_bytes` and `{name}_body_bytes_compressed`
    /// (without a line: [`Weight::figures`] prints the answer's weight).
    pub fn body_figures(&self, name: &str) -> Vec<Figure> {
        vec![
            Figure::new(
                format!("{name}_body_bytes"),
                self.plain_body as f64,
                String::new(),
            ),
            Figure::new(
                format!("{name}_body_bytes_compressed"),
                self.compressed_body as f64,
                String::new(),
            ),
        ]
    }
}

/// Sends the probe twice, without and with `Accept-Encoding`, and weighs the answers.
pub async fn weigh(addr: SocketAddr, probe: &Probe<'_>) -> anyhow::Result<Weight> {
    let (plain, plain_body, _) = once(addr, probe, None).await?;
    let (compressed, compressed_body, encoding) =
        once(addr, probe, Some(crate::load::ACCEPT_ENCODING)).await?;
    Ok(Weight {
        plain,
        compressed,
        encoding,
        plain_body,
        compressed_body,
    })
}

async fn once(
    addr: SocketAddr,
    probe: &Probe<'_>,
    accept: Option<&str>,
) -> anyhow::Result<(usize, usize, String)> {
    let mut conn = crate::load::connect(addr).await?;
    let mut request = hyper::Request::builder()
        .method(probe.method.clone())
        .uri(probe.path)
        .header(hyper::header::HOST, "bench");
    if let Some(token) = probe.token {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if probe.json.is_some() {
        request = request.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    if let Some(accept) = accept {
        request = request.header(hyper::header::ACCEPT_ENCODING, accept);
    }
    let body = Full::new(Bytes::from(probe.json.unwrap_or("").to_owned()));
    let response = conn.send_request(request.body(body)?).await?;
    if !response.status().is_success() {
        anyhow::bail!(
            "{} {} answered {}",
            probe.method,
            probe.path,
            response.status()
        );
    }
    let status_line = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status().as_str(),
        response.status().canonical_reason().unwrap_or("")
    );
    let headers: usize = response
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    let encoding = response
        .headers()
        .get(hyper::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((
        status_line.len() + headers + 2 + body.len(),
        body.len(),
        encoding,
    ))
}
