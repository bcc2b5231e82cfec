//! Delivery of one-time codes and notices. A trait, so a real SMS gateway (or app push) plugs
//! in beside the two development senders: `log` writes the message to the log, `file:PATH`
//! appends a JSON line that tests and local demos read.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::phone::Phone;

pub trait SmsSender: Send + Sync {
    fn send_code(&self, phone: &Phone, code: &str) -> anyhow::Result<()>;

    /// Sends a notice. `key` is the same on every attempt at one delivery: a gateway drops a
    /// message whose key it has seen (a resend after a crash between sending and marking).
    fn send_notice(&self, phone: &Phone, text: &str, key: &str) -> anyhow::Result<()>;
}

/// Parses `SMS_SENDER`: `log` or `file:PATH`. The log sender writes live sign-in codes into
/// the server log, where everyone who reads logs could sign in as anyone: it is refused when
/// the public URL is not on this machine, unless `allow_log_codes` says so on purpose.
pub fn from_config(
    spec: &str,
    public_url: &str,
    allow_log_codes: bool,
) -> anyhow::Result<Box<dyn SmsSender>> {
    match spec {
        "log" if !allow_log_codes && !is_local(public_url) => anyhow::bail!(
            "SMS_SENDER=log writes sign-in codes to the log, and the public URL {public_url} is \
             not local: configure a real SMS sender, or set ALLOW_LOG_SMS=true if codes in \
             the log are intended (a closed test server)"
        ),
        "log" => Ok(Box::new(LogSender)),
        _ => match spec.strip_prefix("file:") {
            Some(path) if !path.is_empty() => Ok(Box::new(FileSender::new(path.into()))),
            _ => anyhow::bail!("SMS_SENDER must be `log` or `file:PATH`, not {spec:?}"),
        },
    }
}

/// Whether a URL's host is this machine (`localhost`, `127.x.x.x`, `[::1]`).
fn is_local(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Development sender: the code appears in the server log.
pub struct LogSender;

impl SmsSender for LogSender {
    fn send_code(&self, phone: &Phone, code: &str) -> anyhow::Result<()> {
        tracing::info!(phone = %phone.masked(), %code, "SMS verification code (log sender)");
        Ok(())
    }

    fn send_notice(&self, phone: &Phone, text: &str, key: &str) -> anyhow::Result<()> {
        tracing::info!(phone = %phone.masked(), %key, %text, "SMS notice (log sender)");
        Ok(())
    }
}

/// Test and demo sender: one JSON line per message, `{"phone","code","time"}` for a code and
/// `{"phone","text","key","time"}` for a notice. Like a gateway it drops a notice whose key it
/// has written before, so the file shows what a phone would have received.
pub struct FileSender {
    path: PathBuf,
    /// The notice keys in the file, read from it at the first notice.
    keys: Mutex<Option<HashSet<String>>>,
}

impl FileSender {
    pub fn new(path: PathBuf) -> FileSender {
        FileSender {
            path,
            keys: Mutex::new(None),
        }
    }

    fn append(&self, line: &serde_json::Value) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // One write per line, so lines of concurrent senders never interleave.
        file.write_all(format!("{line}\n").as_bytes())?;
        Ok(())
    }

    fn keys_in_file(&self) -> HashSet<String> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|m| m["key"].as_str().map(str::to_owned))
            .collect()
    }
}

impl SmsSender for FileSender {
    fn send_code(&self, phone: &Phone, code: &str) -> anyhow::Result<()> {
        let _guard = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        self.append(&serde_json::json!({
            "phone": phone.as_str(),
            "code": code,
            "time": platform::clock::now_utc().to_rfc3339(),
        }))
    }

    fn send_notice(&self, phone: &Phone, text: &str, key: &str) -> anyhow::Result<()> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let keys = keys.get_or_insert_with(|| self.keys_in_file());
        if keys.contains(key) {
            return Ok(());
        }
        self.append(&serde_json::json!({
            "phone": phone.as_str(),
            "text": text,
            "key": key,
            "time": platform::clock::now_utc().to_rfc3339(),
        }))?;
        keys.insert(key.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sender_appends_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sms/out.jsonl");
        let sender = from_config(&format!("file:{}", path.display()), LOCAL, false).unwrap();
        let phone = Phone::parse("13800138000").unwrap();
        sender.send_code(&phone, "123456").unwrap();
        sender.send_code(&phone, "654321").unwrap();
        sender
            .send_notice(&phone, "您的入会申请已通过", "delivery-1")
            .unwrap();
        sender
            .send_notice(&phone, "您的入会申请已通过", "delivery-1")
            .unwrap();
        // A new sender on the same file (a restart) knows the keys already written.
        let again = from_config(&format!("file:{}", path.display()), LOCAL, false).unwrap();
        again
            .send_notice(&phone, "您的入会申请已通过", "delivery-1")
            .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "a key is written once");
        assert_eq!(lines[1]["phone"], "13800138000");
        assert_eq!(lines[1]["code"], "654321");
        assert_eq!(lines[2]["key"], "delivery-1");
        assert_eq!(lines[2]["text"], "您的入会申请已通过");
        assert!(from_config("smtp", LOCAL, false).is_err());
    }

    const LOCAL: &str = "http://127.0.0.1:8080";

    #[test]
    fn codes_in_the_log_only_for_a_local_server_or_on_purpose() {
        for local in [LOCAL, "http://localhost", "http://[::1]:8080/"] {
            assert!(from_config("log", local, false).is_ok(), "{local}");
        }
        let public = "https://union.example.cn";
        let refused = from_config("log", public, false).err().expect("refused");
        assert!(refused.to_string().contains("ALLOW_LOG_SMS"), "{refused}");
        assert!(from_config("log", public, true).is_ok());
        assert!(from_config("log", "http://127.0.0.1.example.cn", false).is_err());
    }
}
