//! Protection of personal data at rest and the small random/hash helpers around it.
//!
//! One 32-byte data key (from config, or generated once into the data directory) yields two
//! independent subkeys: one encrypts (AES-256-GCM), one computes keyed hashes (HMAC-SHA256) so
//! encrypted values can still be looked up and kept unique without storing them in clear.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Encrypts and hashes personal data with keys derived from one master key.
#[derive(Clone)]
pub struct DataProtector {
    cipher: Aes256Gcm,
    mac_key: [u8; 32],
}

impl DataProtector {
    pub fn new(master: &[u8; 32]) -> DataProtector {
        let enc_key = hmac(master, b"gigunion/data-encryption/v1");
        DataProtector {
            cipher: Aes256Gcm::new(&enc_key.into()),
            mac_key: hmac(master, b"gigunion/lookup-hash/v1"),
        }
    }

    /// AES-256-GCM with a random 96-bit nonce; the output is base64(nonce || ciphertext+tag).
    /// `context` is bound as associated data so a value cannot be moved to another column.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                aes_gcm::aead::Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption cannot fail for in-memory input");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        STANDARD.encode(out)
    }

    pub fn open(&self, context: &str, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let raw = STANDARD.decode(sealed)?;
        anyhow::ensure!(raw.len() > 12, "sealed value too short");
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().expect("split at 12");
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                aes_gcm::aead::Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealed value failed authentication ({context})"))
    }

    /// A keyed hash (hex) for lookups and unique constraints on protected values.
    pub fn lookup_hash(&self, context: &str, value: &str) -> String {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.mac_key).expect("any key length works");
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length works");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// `bytes` random bytes, base64url without padding: for tokens and codes sent to clients.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Plain SHA-256 in hex: enough for high-entropy secrets such as refresh tokens.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Compares secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads a secret file, or creates it with `generate` (mode 0600) when it does not exist yet.
/// Creation uses `create_new`, so two processes starting together agree on one secret.
pub fn load_or_create_secret(
    path: &Path,
    generate: impl FnOnce() -> Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    if let Ok(existing) = std::fs::read(path) {
        return Ok(existing);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let secret = generate();
            file.write_all(&secret)?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new secret");
            Ok(secret)
        }
        // Another process won the race: use its secret.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(std::fs::read(path)?),
        Err(e) => Err(anyhow::anyhow!("cannot create {}: {e}", path.display())),
    }
}

/// The master data key: from base64 config, else a file in the data directory.
pub fn load_data_key(configured: Option<&str>, file: &Path) -> anyhow::Result<[u8; 32]> {
    let raw = match configured {
        Some(b64) => STANDARD
            .decode(b64.trim())
            .map_err(|_| anyhow::anyhow!("DATA_KEY must be base64"))?,
        None => {
            let text = load_or_create_secret(file, || {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                STANDARD.encode(key).into_bytes()
            })?;
            STANDARD
                .decode(String::from_utf8_lossy(&text).trim())
                .map_err(|_| anyhow::anyhow!("{} is not a base64 key", file.display()))?
        }
    };
    raw.try_into()
        .map_err(|_| anyhow::anyhow!("the data key must be exactly 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_round_trip_and_are_bound_to_their_context() {
        let p = DataProtector::new(&[7u8; 32]);
        let sealed = p.seal("id_number", b"11010519491231002X");
        assert!(!sealed.contains("11010519491231002X"));
        assert_ne!(
            sealed,
            p.seal("id_number", b"11010519491231002X"),
            "fresh nonce"
        );
        assert_eq!(p.open("id_number", &sealed).unwrap(), b"11010519491231002X");
        assert!(p.open("phone", &sealed).is_err());
        assert!(DataProtector::new(&[8u8; 32])
            .open("id_number", &sealed)
            .is_err());
    }

    #[test]
    fn lookup_hashes_are_stable_keyed_and_context_separated() {
        let p = DataProtector::new(&[1u8; 32]);
        assert_eq!(
            p.lookup_hash("phone", "13800138000"),
            p.lookup_hash("phone", "13800138000")
        );
        assert_ne!(
            p.lookup_hash("phone", "13800138000"),
            p.lookup_hash("id", "13800138000")
        );
        assert_ne!(
            p.lookup_hash("phone", "13800138000"),
            DataProtector::new(&[2u8; 32]).lookup_hash("phone", "13800138000")
        );
    }

    #[test]
    fn a_generated_key_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/data.key");
        let first = load_data_key(None, &file).unwrap();
        assert_eq!(first, load_data_key(None, &file).unwrap());
        assert!(load_data_key(Some("dG9vIHNob3J0"), &file).is_err());
    }
}
