//! A TCP proxy that can be switched off and on, for outage drills: the app under test is given
//! the proxy's address instead of the real PostgreSQL or Redis, so an outage can be staged
//! without stopping the machine's shared services (other tests run against them meanwhile).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Passes bytes both ways to the real service.
    Forward,
    /// Closes every connection at once, as a stopped server does: open connections see the
    /// server hang up, new ones are accepted and closed before a byte is read.
    Refuse,
    /// Holds new connections without a byte of answer, as behind a dead network link: clients
    /// wait for their own timeouts. A held connection the client still keeps open is forwarded
    /// once the proxy forwards again, as a healed link would deliver it.
    Blackhole,
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Connections being forwarded right now.
    forwarding: Arc<AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding from a free loopback port to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        let (mode, watcher) = watch::channel(Mode::Forward);
        let forwarding = Arc::new(AtomicUsize::new(0));
        let counter = forwarding.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(
                    client,
                    upstream.clone(),
                    watcher.clone(),
                    counter.clone(),
                ));
            }
        });
        Proxy {
            addr,
            mode,
            forwarding,
            accept,
        }
    }

    /// Starts a proxy in front of the service a `postgres://` or `redis://` URL names; returns
    /// it with the same URL pointed at the proxy.
    pub async fn in_front_of(url: &str) -> (Proxy, String) {
        let mut parsed = Url::parse(url).expect("a service URL");
        let host = parsed.host_str().expect("the URL names a host").to_owned();
        let port = parsed.port().unwrap_or(match parsed.scheme() {
            "redis" => 6379,
            _ => 5432,
        });
        let proxy = Proxy::start(format!("{host}:{port}")).await;
        parsed.set_host(Some("127.0.0.1")).unwrap();
        parsed.set_port(Some(proxy.addr.port())).unwrap();
        (proxy, parsed.to_string())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches the mode. Leaving [`Mode::Forward`] cuts every forwarded connection, and this
    /// returns once they are all closed, so the next request of the test meets the outage.
    pub async fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
        if mode == Mode::Forward {
            return;
        }
        for _ in 0..500 {
            if self.forwarding.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the proxy did not close its connections within 5 s");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Relays end with their connections when they see the mode change.
        self.mode.send_replace(Mode::Refuse);
    }
}

/// Decrements the count of forwarded connections however a relay ends.
struct Forwarding(Arc<AtomicUsize>);

impl Drop for Forwarding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Carries one client connection until the mode says otherwise.
async fn relay(
    client: TcpStream,
    upstream: String,
    mut mode: watch::Receiver<Mode>,
    forwarding: Arc<AtomicUsize>,
) {
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Forward => break,
            Mode::Refuse => return,
            Mode::Blackhole => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
        }
    }
    forwarding.fetch_add(1, Ordering::SeqCst);
    let _counted = Forwarding(forwarding);
    let mut client = client;
    tokio::select! {
        _ = async {
            let mut server = TcpStream::connect(&upstream).await?;
            tokio::io::copy_bidirectional(&mut client, &mut server).await
        } => {}
        // Dropping both streams hangs up on both sides, as a stopped server would.
        _ = mode.wait_for(|m| *m != Mode::Forward) => {}
    }
}
