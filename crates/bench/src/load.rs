//! A closed-loop HTTP/1.1 load generator: `connections` keep-alive connections, each sending
//! its next request as soon as the previous response body is in, for a fixed time. Every request
//! says `Accept-Encoding: br, gzip`, as phones do, so answers of 1 KB and more are measured
//! compressed as riders get them (smaller ones, `/healthz` among them, go out as they are).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;

/// What phones' HTTP stacks send, and so every load request.
pub(crate) const ACCEPT_ENCODING: &str = "br, gzip";

/// An HTTP/1.1 keep-alive connection for requests with bodies (the scenarios' POSTs, drills).
pub(crate) type Conn = hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>;

pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Conn> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// What one endpoint did under load.
#[derive(Debug, Clone, Default)]
pub struct LoadStats {
    pub requests: u64,
    /// Non-200 answers and transport failures.
    pub errors: u64,
    pub elapsed: Duration,
    /// Body bytes as received (compressed when the server compressed them).
    pub body_bytes: u64,
    /// CPU time the server spent meanwhile (user + system), when measured.
    pub server_cpu: Duration,
    /// CPU time this load generator spent meanwhile: on a machine it shares with the server,
    /// what reading the answers costs comes out of the server's share.
    pub client_cpu: Duration,
    /// Latency of every request, microseconds, sorted.
    latencies_us: Vec<u32>,
}

impl LoadStats {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_us(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        f64::from(self.latencies_us[rank.clamp(1, self.latencies_us.len()) - 1])
    }

    pub fn p50_ms(&self) -> f64 {
        self.percentile_us(50.0) / 1000.0
    }

    pub fn p99_ms(&self) -> f64 {
        self.percentile_us(99.0) / 1000.0
    }

    /// Server CPU per request: what the endpoint costs, whatever shares the machine.
    pub fn server_cpu_us_per_request(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }

    /// Load generator CPU per request.
    pub fn client_cpu_us_per_request(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }

    pub fn mean_body_bytes(&self) -> f64 {
        self.body_bytes as f64 / self.requests.max(1) as f64
    }

    /// Adds another round of the same endpoint.
    pub fn merge(&mut self, other: LoadStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.body_bytes += other.body_bytes;
        self.server_cpu += other.server_cpu;
        self.client_cpu += other.client_cpu;
        self.latencies_us.extend(other.latencies_us);
        self.latencies_us.sort_unstable();
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "requests": self.requests,
            "errors": self.errors,
            "seconds": self.elapsed.as_secs_f64(),
            "requests_per_second": self.rps().round(),
            "p50_ms": self.p50_ms(),
            "p99_ms": self.p99_ms(),
            "mean_body_bytes": self.mean_body_bytes().round(),
            "server_cpu_us_per_request": self.server_cpu_us_per_request().round(),
            "load_generator_cpu_us_per_request": self.client_cpu_us_per_request().round(),
        })
    }
}

#[derive(Default)]
struct Tally {
    requests: u64,
    errors: u64,
    body_bytes: u64,
    latencies_us: Vec<u32>,
}

/// Headers every request of a run carries besides `Host` and `Accept-Encoding` (a session
/// cookie).
pub type Headers = Arc<Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>>;

/// Runs the load for `duration`; connection `i` walks `paths` from offset `i`.
pub async fn run(
    addr: SocketAddr,
    paths: Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadStats> {
    run_with(addr, paths, connections, duration, Headers::default()).await
}

/// [`run`], every request with `headers`.
pub async fn run_with(
    addr: SocketAddr,
    paths: Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
    headers: Headers,
) -> anyhow::Result<LoadStats> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for i in 0..connections {
        let (paths, headers) = (paths.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            connection(addr, &paths, &headers, i * 7919, deadline).await
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        let t = task.await??;
        tally.requests += t.requests;
        tally.errors += t.errors;
        tally.body_bytes += t.body_bytes;
        tally.latencies_us.extend(t.latencies_us);
    }
    let mut stats = LoadStats {
        requests: tally.requests,
        errors: tally.errors,
        elapsed: started.elapsed(),
        body_bytes: tally.body_bytes,
        server_cpu: Duration::ZERO,
        client_cpu: Duration::ZERO,
        latencies_us: tally.latencies_us,
    };
    stats.latencies_us.sort_unstable();
    Ok(stats)
}

async fn connection(
    addr: SocketAddr,
    paths: &[String],
    headers: &[(hyper::header::HeaderName, hyper::header::HeaderValue)],
    mut next: usize,
    deadline: Instant,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    'connect: while Instant::now() < deadline {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        while Instant::now() < deadline {
            let path = &paths[next % paths.len()];
            next += 1;
            let mut request = hyper::Request::get(path.as_str())
                .header(hyper::header::HOST, "bench")
                .header(hyper::header::ACCEPT_ENCODING, ACCEPT_ENCODING);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let request = request.body(Empty::<Bytes>::new())?;
            let sent = Instant::now();
            let outcome = async {
                let response = sender.send_request(request).await?;
                let ok = response.status() == hyper::StatusCode::OK;
                let body = response.into_body().collect().await?.to_bytes();
                Ok::<_, anyhow::Error>((ok, body.len()))
            }
            .await;
            let took = sent.elapsed();
            tally.requests += 1;
            tally
                .latencies_us
                .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
            match outcome {
                Ok((true, bytes)) => tally.body_bytes += bytes as u64,
                Ok((false, _)) => tally.errors += 1,
                Err(_) => {
                    tally.errors += 1;
                    continue 'connect;
                }
            }
        }
    }
    Ok(tally)
}
