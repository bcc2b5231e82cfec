//! The claim's CPU floor: what every successful claim costs the server's CPU whatever the
//! database does, which is checking its access token (an Ed25519 signature) and writing its
//! answer, timed on one thread in this process. `cores / floor` is a claim rate no change to the
//! database can pass on this machine; how close the crowd comes to it says whether the
//! database or the CPU binds.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use benefits::claims::VoucherView;
use benefits::vocab::VoucherStatus;
use identity::tokens::{AccessClaims, TokenKeys, ACCESS_TOKEN_TYPE};
use platform::crypto::random_token;

use super::flash_crowd::ISSUER;

/// Microseconds of one thread per claim, in parts.
pub struct Floor {
    pub verify_us: f64,
    pub answer_us: f64,
    pub cores: usize,
}

impl Floor {
    pub fn us_per_claim(&self) -> f64 {
        self.verify_us + self.answer_us
    }

    /// Claims per second if every core did nothing else.
    pub fn rate(&self) -> f64 {
        self.cores as f64 * 1e6 / self.us_per_claim()
    }
}

/// Times the token check with the key the server loaded from `data_dir`, over `tokens` (as
/// many as 2,000 of them, three passes after a warm one), and the answer's JSON.
pub fn measure(data_dir: &Path, tokens: &[String]) -> anyhow::Result<Floor> {
    let keys = TokenKeys::load(&data_dir.join("jwt-ed25519.pem"), false)?;
    let tokens = &tokens[..tokens.len().min(2_000)];
    let verify_all = || -> anyhow::Result<()> {
        for token in tokens {
            let claims: AccessClaims = keys
                .verify(token, ACCESS_TOKEN_TYPE, ISSUER, "gigunion-app")
                .context("a crowd token that does not verify")?;
            std::hint::black_box(claims);
        }
        Ok(())
    };
    let views: Vec<VoucherView> = (0..tokens.len()).map(view).collect();
    let answer_all = || {
        for v in &views {
            std::hint::black_box(serde_json::to_vec(v).expect("a voucher serialises"));
        }
    };
    verify_all()?;
    answer_all();
    const PASSES: usize = 3;
    let per =
        |started: Instant| started.elapsed().as_secs_f64() * 1e6 / (PASSES * tokens.len()) as f64;
    let started = Instant::now();
    for _ in 0..PASSES {
        verify_all()?;
    }
    let verify_us = per(started);
    let started = Instant::now();
    for _ in 0..PASSES {
        answer_all();
    }
    let answer_us = per(started);
    Ok(Floor {
        verify_us,
        answer_us,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

/// A voucher as a claim answers it.
fn view(n: usize) -> VoucherView {
    let now = platform::clock::now_utc();
    VoucherView {
        id: 1_000_000 + n as i64,
        program_id: 1,
        program_title: "服务集市".to_owned(),
        code: random_token(9),
        status: VoucherStatus::Issued,
        issued_at: now,
        valid_until: Some(now + chrono::TimeDelta::days(30)),
        redeemed_at: None,
        qr_svg_url: format!("/v1/me/vouchers/{}/qr.svg", 1_000_000 + n),
    }
}
