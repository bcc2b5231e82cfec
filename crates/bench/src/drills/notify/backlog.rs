//! The notification drill's material and instruments, shared with the `notify` bench
//! scenario: members with sealed phones, a backlog of pending SMS written through the outbox,
//! and readers of what came of it (the file sender's lines, the outbox's delivery rows).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use platform::audit::Record;
use platform::crypto::{load_data_key, DataProtector};
use platform::db::write_tx;
use platform::outbox::{self, Notice, Topic};
use platform::schema::{accounts as a, notification_deliveries as d, notifications as n};
use platform::Db;
use serde_json::Value;

/// Accounts with phones sealed by the data key the server will load from `data_dir` (created
/// here when missing), so that its dispatcher can open them: (account id, phone).
pub(crate) fn seed_members(
    db: &Db,
    data_dir: &Path,
    count: usize,
) -> anyhow::Result<Vec<(i64, String)>> {
    let protector = DataProtector::new(&load_data_key(None, &data_dir.join("data.key"))?);
    let phones: Vec<String> = (0..count).map(|i| format!("139{i:08}")).collect();
    let hashes: Vec<String> = phones
        .iter()
        .map(|p| protector.lookup_hash("phone", p))
        .collect();
    let sealed: Vec<String> = phones
        .iter()
        .map(|p| protector.seal("phone", p.as_bytes()))
        .collect();
    let now = platform::clock::now();
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let ids = write_tx(&mut conn, |conn| {
        let mut ids: Vec<i64> = Vec::with_capacity(count);
        for chunk in (0..count).collect::<Vec<_>>().chunks(1_000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    (
                        a::phone_hash.eq(hashes[i].as_str()),
                        a::phone_enc.eq(sealed[i].as_str()),
                        a::password_hash.eq("-"),
                        a::is_admin.eq(false),
                        a::created_at.eq(now),
                        a::password_changed_at.eq(now),
                    )
                })
                .collect();
            let written: Vec<i64> = platform::insert_rows!(conn, a::table, rows, returning a::id)?;
            ids.extend(written);
        }
        Ok::<_, platform::Error>(ids)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(ids.into_iter().zip(phones).collect())
}

/// One pending SMS for each member, through the outbox in one transaction, due at once: the
/// key each delivery carries (`delivery-<id>`) with the phone it must reach.
pub(crate) fn write_backlog(
    db: &Db,
    members: &[(i64, String)],
) -> anyhow::Result<HashMap<String, String>> {
    let now = platform::clock::now();
    let notices: Vec<Notice> = members
        .iter()
        .map(|(account, _)| Notice {
            account_id: *account,
            topic: Topic::SessionCancelled,
            subject: Record::new("drill_session", *account),
            title: "体检取消".to_owned(),
            body: "您预约的体检车（演练）已取消，名额已释放。".to_owned(),
            // Past the deadline nothing waits for 08:00: the drill runs at any hour.
            deadline: Some(now),
        })
        .collect();
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_tx(&mut conn, |conn| {
        notices
            .chunks(1_000)
            .try_for_each(|chunk| outbox::send(conn, chunk).map(drop))
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let phone_of: HashMap<i64, &String> = members.iter().map(|(id, p)| (*id, p)).collect();
    let keys: Vec<(i64, i64)> = d::table
        .inner_join(n::table)
        .select((d::id, n::account_id))
        .load(&mut *conn)?;
    Ok(keys
        .into_iter()
        .filter_map(|(id, account)| {
            let phone = phone_of.get(&account)?;
            Some((format!("delivery-{id}"), (*phone).clone()))
        })
        .collect())
}

/// Counts the complete lines of a file that only grows, reading only what was appended.
pub(crate) struct Lines {
    path: PathBuf,
    read: u64,
    pub(crate) count: usize,
}

impl Lines {
    pub(crate) fn new(path: &Path) -> Lines {
        Lines {
            path: path.to_owned(),
            read: 0,
            count: 0,
        }
    }

    /// The complete lines now (a line still being written counts once its newline is there).
    pub(crate) fn poll(&mut self) -> anyhow::Result<usize> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        file.seek(SeekFrom::Start(self.read))?;
        let mut fresh = Vec::new();
        file.read_to_end(&mut fresh)?;
        if let Some(last) = fresh.iter().rposition(|&b| b == b'\n') {
            self.count += fresh[..=last].iter().filter(|&&b| b == b'\n').count();
            self.read += last as u64 + 1;
        }
        Ok(self.count)
    }
}

/// A notice line of the file sender.
pub(crate) struct SmsLine {
    pub(crate) key: String,
    pub(crate) phone: String,
    pub(crate) time: Option<DateTime<Utc>>,
}

/// What a file sender's file holds, in the order written. A line cut off by a kill, or anything
/// else that is not a notice, is skipped and counted.
#[derive(Default)]
pub(crate) struct SmsFile {
    pub(crate) lines: Vec<SmsLine>,
    pub(crate) unparsable: usize,
}

impl SmsFile {
    pub(crate) fn read(path: &Path) -> anyhow::Result<SmsFile> {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut file = SmsFile::default();
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            let parsed = serde_json::from_str::<Value>(line).ok();
            let field = |name: &str| {
                parsed
                    .as_ref()
                    .and_then(|v| v[name].as_str().map(str::to_owned))
            };
            match (field("key"), field("phone")) {
                (Some(key), Some(phone)) => file.lines.push(SmsLine {
                    key,
                    phone,
                    time: field("time")
                        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| t.with_timezone(&Utc)),
                }),
                _ => file.unparsable += 1,
            }
        }
        Ok(file)
    }
}

/// The outbox's delivery rows.
#[derive(Default)]
pub(crate) struct Rows {
    pub(crate) total: usize,
    pub(crate) sent: usize,
    pub(crate) given_up: usize,
    /// Unsent and claimed (a lease still running).
    pub(crate) leased: usize,
    /// Keys of the rows not marked sent.
    pub(crate) unsent: HashSet<String>,
    /// Rows by how many times they were claimed.
    pub(crate) attempts: BTreeMap<i32, usize>,
}

type DeliveryRow = (
    i64,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    i32,
);

impl Rows {
    pub(crate) fn read(db: &Db) -> anyhow::Result<Rows> {
        let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
        let all: Vec<DeliveryRow> = d::table
            .select((
                d::id,
                d::sent_at,
                d::given_up_at,
                d::leased_until,
                d::attempts,
            ))
            .load(&mut *conn)?;
        let now = platform::clock::now();
        let mut rows = Rows {
            total: all.len(),
            ..Rows::default()
        };
        for (id, sent_at, given_up_at, leased_until, attempts) in all {
            *rows.attempts.entry(attempts).or_default() += 1;
            rows.given_up += usize::from(given_up_at.is_some());
            if sent_at.is_some() {
                rows.sent += 1;
            } else {
                rows.leased += usize::from(leased_until.is_some_and(|l| l > now));
                rows.unsent.insert(format!("delivery-{id}"));
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_off_by_a_kill_is_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sms.jsonl");
        let line = |key: &str| {
            format!(
                "{{\"phone\":\"13900000001\",\"text\":\"t\",\"key\":\"{key}\",\
                 \"time\":\"2026-12-02T08:00:00.000001+00:00\"}}\n"
            )
        };
        let mut lines = Lines::new(&path);
        assert_eq!(lines.poll().unwrap(), 0, "no file yet");
        let torn = "{\"phone\":\"13900000001\",\"te";
        std::fs::write(
            &path,
            format!("{}{}{torn}", line("delivery-1"), line("delivery-2")),
        )
        .unwrap();
        assert_eq!(lines.poll().unwrap(), 2, "the cut-off line is no line yet");
        let file = SmsFile::read(&path).unwrap();
        let keys: Vec<&str> = file.lines.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys, ["delivery-1", "delivery-2"]);
        assert_eq!(file.unparsable, 1);
        assert!(file.lines[0].time.is_some());
        // A line appended after it: the two run together into one line nothing can read.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&line("delivery-3"));
        std::fs::write(&path, text).unwrap();
        assert_eq!(lines.poll().unwrap(), 3);
        let file = SmsFile::read(&path).unwrap();
        assert_eq!((file.lines.len(), file.unparsable), (2, 1));
    }
}
