//! The real binary: starts with no configuration but a data directory, and on SIGTERM lets
//! in-flight requests finish before it exits.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gigunion"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("binary starts");

    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(res) = client.get(format!("{base}/healthz")).send().await {
            assert!(res.status().is_success());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It created its SQLite database and keys in the default data directory.
    assert!(dir.path().join("data/gigunion.db").exists());
    assert!(dir.path().join("data/jwt-ed25519.pem").exists());

    // Each login costs an Argon2 hash and hashes queue behind one permit per core, so 30 of
    // them are still in flight when the signal arrives.
    let logins = futures_util::future::join_all((0..30).map(|i| {
        let request = client
            .post(format!("{base}/v1/auth/login"))
            .json(&serde_json::json!({ "phone": format!("137{i:08}"), "password": "whatever1" }))
            .send();
        async move { (request.await, Instant::now()) }
    }));
    let signal = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        Instant::now()
    };
    let (results, signalled_at) = tokio::join!(logins, signal);
    let mut finished_after_signal = 0;
    for (res, at) in results {
        let res = res.expect("an in-flight request was cut off by the shutdown");
        assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
        finished_after_signal += usize::from(at > signalled_at);
    }
    // Otherwise the signal came too late to prove anything.
    assert!(
        finished_after_signal > 0,
        "no request was in flight at SIGTERM"
    );
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit}");
}
