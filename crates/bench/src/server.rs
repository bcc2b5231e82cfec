//! Starting the real server and reading its figures: time to ready, resident memory.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `gigunion serve`, stopped when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// From spawning the process to the first `200` of `/readyz`.
    pub ready_after: Duration,
}

impl Server {
    /// Spawns the binary with `env` on a free port; returns once `/readyz` answers 200.
    pub async fn start(
        binary: &Path,
        env: &[(&str, String)],
        log: &Path,
    ) -> anyhow::Result<Server> {
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::fs::File::create(log)?;
        let started = Instant::now();
        let child = Command::new(binary)
            .arg("serve")
            .env("BIND", addr.to_string())
            // A closed server on this machine under a made-up public URL: codes in its log are
            // intended (scenarios and drills that read codes set a file sender instead).
            .env("ALLOW_LOG_SMS", "true")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = Server {
            child,
            addr,
            ready_after: Duration::ZERO,
        };
        loop {
            if ready(addr).await {
                server.ready_after = started.elapsed();
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("the server exited with {status} before it was ready");
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the server was not ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// CPU time the server has used so far (user + system).
    pub fn cpu(&self) -> anyhow::Result<Duration> {
        process_cpu(self.child.id())
    }

    /// Resident memory (VmRSS) in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc/PID/status")?;
        Ok(kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time process `pid` has used so far (user + system), from /proc.
pub fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): state is the first, utime
    // and stime the 12th and 13th; in clock ticks of 1/100 s on Linux.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .context("short /proc/PID/stat")?
            .parse()
            .context("bad /proc/PID/stat")
    };
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// One `GET /readyz` on a fresh connection: true on 200.
async fn ready(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<bool, std::io::Error>(&head[9..12] == b"200")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Ok(true))
    )
}
