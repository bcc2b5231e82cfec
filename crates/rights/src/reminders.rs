//! What the deadlines tell claimants on their own, once each: that the 15-day mediation period
//! has passed without an agreement, so they may apply for labour arbitration; and, 60 days
//! before the one-year limitation runs out, that they must act. A sweep (the rights
//! housekeeping, every minute) finds the cases due and marks them in the same transaction as
//! their notices, so a second sweep, or a second instance, sends nothing again.

use std::time::Duration;

use chrono::{Days, Months, NaiveDateTime};
use diesel::prelude::*;
use platform::audit::Record;
use platform::clock::shanghai_midnight;
use platform::db::write_tx;
use platform::outbox::Topic;
use platform::schema::cases as c;
use platform::{Db, DbConn, Result};

use crate::cases;
use crate::deadlines::{local_day, LIMITATION_WARNING_DAYS, MEDIATION_DAYS};
use crate::notify;
use crate::vocab::CaseState;

/// Cases one sweep handles per kind of notice; the next sweep takes the rest.
const BATCH: i64 = 200;

/// Accepted cases (no agreement) filed more than 15 days before today, not told yet.
fn mediation_over(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize> {
    let today = local_day(now);
    let filed_before = shanghai_midnight(today - Days::new(MEDIATION_DAYS));
    let ids: Vec<i64> = c::table
        .filter(c::state.eq(CaseState::Accepted.as_str()))
        .filter(c::mediation_notice_sent.eq(false))
        .filter(c::filed_at.lt(filed_before))
        .select(c::id)
        .order(c::id)
        .limit(BATCH)
        .load(conn)?;
    for &id in &ids {
        let case = cases::lock(conn, id)?;
        let text = format!(
            "{}自工会收到申请之日起已满15日，尚未达成调解协议。您可以依法向劳动人事争议仲裁委员会申请仲裁，工会可协助您准备材料。",
            notify::named(&case)
        );
        notify::tell_about(
            conn,
            id,
            (Topic::CaseMediationOver, Record::new("case", id)),
            None,
            ("调解期限已满", text),
        )?;
        diesel::update(c::table.find(id))
            .set(c::mediation_notice_sent.eq(true))
            .execute(conn)?;
    }
    Ok(ids.len())
}

/// Waiting or accepted cases whose limitation ends within 60 days, not warned yet. The
/// limitation runs a year from the end of the claim's period, or from the filing.
fn limitation_near(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize> {
    let today = local_day(now);
    let ends_by = today + Days::new(LIMITATION_WARNING_DAYS);
    let from_before = shanghai_midnight(ends_by - Months::new(12) + Days::new(1));
    let ids: Vec<i64> = c::table
        .filter(c::state.eq_any([CaseState::Filed.as_str(), CaseState::Accepted.as_str()]))
        .filter(c::limitation_notice_sent.eq(false))
        .filter(
            c::period_to
                .lt(from_before)
                .or(c::period_to.is_null().and(c::filed_at.lt(from_before))),
        )
        .select(c::id)
        .order(c::id)
        .limit(BATCH)
        .load(conn)?;
    for &id in &ids {
        let case = cases::lock(conn, id)?;
        let ends = case.dates().deadlines(0, now).limitation_ends;
        let text = format!(
            "{}的劳动仲裁时效将于 {ends} 届满。请尽快申请劳动仲裁，以免超过时效；需要帮助请联系工会。",
            notify::named(&case)
        );
        notify::tell_about(
            conn,
            id,
            (Topic::CaseLimitation, Record::new("case", id)),
            None,
            ("仲裁时效即将届满", text),
        )?;
        diesel::update(c::table.find(id))
            .set(c::limitation_notice_sent.eq(true))
            .execute(conn)?;
    }
    Ok(ids.len())
}

/// One sweep: the notices due at `now`, each kind in its own transaction.
pub fn sweep(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize> {
    let over = write_tx(conn, |conn| mediation_over(conn, now))?;
    let near = write_tx(conn, |conn| limitation_near(conn, now))?;
    Ok(over + near)
}

/// The rights housekeeping: a sweep a minute, for as long as the process runs.
pub fn start(db: Db) {
    tokio::spawn(async move {
        // The first a minute after start: nothing is due at start that cannot wait a minute.
        let every = Duration::from_secs(60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            let swept = db.run(|conn| sweep(conn, platform::clock::now())).await;
            match swept {
                Ok(0) => {}
                Ok(told) => tracing::info!(told, "case deadline notices written"),
                Err(e) => tracing::warn!(error = ?e, "rights housekeeping failed"),
            }
        }
    });
}
