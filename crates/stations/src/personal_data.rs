//! What stations hold about a member, for the member's rights (PIPL Art. 45, 47): the copy of
//! it and its erasure, registered with [`platform::rights::DataRights`] at startup.
//!
//! Visits are the per-day, per-hour and unique-visitor counts stations are judged by; they hold
//! a station, a time and whether the visitor was a member, nothing else, so erasure keeps them
//! (their account is a tombstone). Messages keep their kind and status, which the open-fault
//! flags and the board's counts are made of, and lose their text.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::rights::{AfterCommit, PersonalData};
use platform::schema::{
    station_feedback as f, station_visit_windows as w, station_visits as v, stations as s,
};
use platform::{DbConn, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::feedback;

/// Stations' part of the member's data.
#[derive(Debug, Clone, Copy, Default)]
pub struct StationsData;

impl StationsData {
    pub fn new() -> StationsData {
        StationsData
    }
}

/// A counted check-in as its visitor reads it.
#[derive(Debug, Serialize)]
struct VisitView {
    id: i64,
    station_id: i64,
    station_name: String,
    at: DateTime<Utc>,
    /// Whether the visitor had an active union membership then.
    member: bool,
}

/// A stored visit with its station's name, in the order of the select in [`visits`].
#[derive(Queryable)]
struct Visit {
    id: i64,
    station_id: i64,
    station_name: String,
    at: NaiveDateTime,
    member: bool,
}

fn visits(conn: &mut DbConn, account_id: i64) -> Result<Vec<VisitView>> {
    let rows: Vec<Visit> = v::table
        .inner_join(s::table.on(s::id.eq(v::station_id)))
        .filter(v::account_id.eq(account_id))
        .order(v::id.desc())
        .select((v::id, v::station_id, s::name, v::at, v::member))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|visit| VisitView {
            id: visit.id,
            station_id: visit.station_id,
            station_name: visit.station_name,
            at: visit.at.and_utc(),
            member: visit.member,
        })
        .collect())
}

impl PersonalData for StationsData {
    fn domain(&self) -> &'static str {
        "stations"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "station_visits",
            "station_visit_windows",
            "station_feedback",
        ]
    }

    /// Visits and messages. The check-in windows are not listed: each holds only the time of
    /// the latest counted visit at its station, which the visits already show.
    fn export(&self, conn: &mut DbConn, account_id: i64) -> Result<Value> {
        let ids: Vec<i64> = f::table
            .filter(f::account_id.eq(account_id))
            .order(f::id.desc())
            .select(f::id)
            .load(conn)?;
        // The board's own view: text, status and staff's public answer, no staff identity.
        let messages = ids
            .into_iter()
            .map(|id| feedback::get(conn, id))
            .collect::<Result<Vec<_>>>()?;
        Ok(json!({
            "visits": visits(conn, account_id)?,
            "feedback": messages,
        }))
    }

    fn erase(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<AfterCommit>> {
        // Only the de-duplication of scans reads them, and a tombstone never scans again.
        diesel::delete(w::table.filter(w::account_id.eq(account_id))).execute(conn)?;
        // Staff's reply goes too: it answers, and may quote, the member's words. Who replied
        // and when stay: they are staff's record, not the member's.
        diesel::update(f::table.filter(f::account_id.eq(account_id)))
            .set((f::body.eq(""), f::reply.eq(None::<String>)))
            .execute(conn)?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use platform::testing::{account, ScratchDb};

    use super::*;
    use crate::visits;
    use crate::vocab::{FeedbackKind, FeedbackStatus};

    /// Station 1, "玄武驿站", door code `door-1`.
    fn station(conn: &mut DbConn) {
        conn.batch_execute(
            "INSERT INTO orgs (id, kind, name, region_code, address, created_at) \
             VALUES (1, 'district', '玄武区总工会', '320102', '南京', '2026-11-01 00:00:00');
             INSERT INTO stations (id, org_id, name, address, lat, lng, amenities, hours, \
               closed_dates, photos, status, door_code, open_faults, created_at, updated_at, \
               version) VALUES (1, 1, '玄武驿站', '中山路1号', 32.05, 118.8, '', '24h', '', \
               '[]', 'open', 'door-1', 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00', 0);",
        )
        .unwrap();
    }

    /// A visit now, a visit two hours ago, a fault report and a suggestion that staff answered.
    fn visitor(conn: &mut DbConn, n: i64) -> i64 {
        let id = account(conn, n);
        let now = platform::clock::now_utc();
        for at in [now - chrono::Duration::hours(2), now] {
            assert!(visits::check_in(conn, 1, id, "door-1", at).unwrap().counted);
        }
        feedback::post(conn, 1, id, FeedbackKind::Fault, &format!("饮水机坏了-{n}")).unwrap();
        let asked = feedback::post(
            conn,
            1,
            id,
            FeedbackKind::Suggestion,
            &format!("加插座-{n}"),
        )
        .unwrap();
        // Staff's answer, as the board stores it (a suggestion moves no fault flag).
        diesel::update(f::table.find(asked.view.id))
            .set((
                f::reply.eq(format!("已安排-{n}")),
                f::replied_by.eq(id),
                f::replied_at.eq(platform::clock::now()),
                f::status.eq(FeedbackStatus::Resolved.as_str()),
            ))
            .execute(conn)
            .unwrap();
        id
    }

    /// Every count stations are judged by: visits by day and hour, unique visitors, the open
    /// faults flag, messages by kind and status.
    fn counts(conn: &mut DbConn) -> Value {
        let today = platform::clock::today();
        let from = today - chrono::Days::new(2);
        let stats = visits::stats(conn, 1, from, today).unwrap();
        let faults: i32 = s::table.find(1).select(s::open_faults).first(conn).unwrap();
        let board: Vec<(String, String, i64)> = f::table
            .group_by((f::kind, f::status))
            .select((f::kind, f::status, diesel::dsl::count_star()))
            .order((f::kind, f::status))
            .load(conn)
            .unwrap();
        json!([stats, faults, board])
    }

    #[test]
    fn export_lists_my_visits_and_messages_only() {
        let scratch = ScratchDb::new();
        let conn = &mut *scratch.db.get().unwrap();
        station(conn);
        let mine = visitor(conn, 1);
        visitor(conn, 2);

        let out = StationsData.export(conn, mine).unwrap();
        assert_eq!(out["visits"].as_array().unwrap().len(), 2);
        assert_eq!(out["visits"][0]["station_name"], "玄武驿站");
        assert!(out["visits"][0]["at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(out["feedback"][0]["reply"], "已安排-1");
        assert_eq!(out["feedback"][1]["body"], "饮水机坏了-1");
        let text = out.to_string();
        for theirs in ["-2\"", "replied_by", "account_id"] {
            assert!(!text.contains(theirs), "{theirs} in {text}");
        }
    }

    #[test]
    fn erasure_blanks_messages_and_keeps_every_count() {
        let scratch = ScratchDb::new();
        let conn = &mut *scratch.db.get().unwrap();
        station(conn);
        let mine = visitor(conn, 1);
        visitor(conn, 2);
        let before = counts(conn);

        assert!(StationsData.erase(conn, mine).unwrap().is_empty());

        assert_eq!(counts(conn), before);
        let windows: i64 = w::table
            .filter(w::account_id.eq(mine))
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(windows, 0);
        let texts: Vec<(String, Option<String>)> = f::table
            .filter(f::account_id.eq(mine))
            .select((f::body, f::reply))
            .load(conn)
            .unwrap();
        assert_eq!(texts, vec![(String::new(), None), (String::new(), None)]);
        let theirs: i64 = f::table
            .filter(f::body.eq("饮水机坏了-2"))
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(theirs, 1);
    }
}
