//! The outbox: what the service tells a member (STYLE.md, "Transactional outbox").
//!
//! A use case that changes something a member must hear about calls [`send`] inside its own
//! transaction: the notification (the member's inbox) and one delivery row per further channel
//! are written with the change, so they exist exactly when the change does. A dispatcher
//! ([`claim`], then [`delivered`] or [`failed`]) hands the deliveries to the SMS sender later;
//! a crash between the two loses nothing. A delivery is claimed with a lease, by one dispatcher
//! at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite), and carries
//! one key per notification and channel, which the sender passes on so the gateway drops a
//! resend after a crash between sending and marking.
//!
//! Texts name the program, the site, the org and times, never personal data: a rejection says
//! that it happened, the reason stays on the application.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDateTime, NaiveTime, TimeDelta};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};

use crate::audit::Record;
use crate::clock::shanghai;
use crate::schema::{notification_deliveries as d, notification_opt_outs as o, notifications as n};
use crate::{DbConn, Result};

crate::vocabulary! {
    /// What a notification is about.
    Topic {
        /// A staff member approved the join (or transfer) application.
        JoinApproved = "join_approved",
        /// A staff member rejected it.
        JoinRejected = "join_rejected",
        /// A booking was made, on a seat or on the waitlist.
        BookingMade = "booking_made",
        /// A seat freed up and went to the member waiting first (outright, or as an offer to
        /// confirm by a deadline).
        SeatPromoted = "seat_promoted",
        /// The member did not confirm an offered seat in time; it passed on.
        OfferLapsed = "offer_lapsed",
        /// Staff called off a session the member had booked or was waiting for.
        SessionCancelled = "session_cancelled",
        /// Staff answered the member's report at a station.
        FeedbackAnswered = "feedback_answered",
        /// The first reminder of a booked session (a day before, by default).
        SessionReminder = "session_reminder",
        /// The last reminder, shortly before it starts (two hours, by default).
        SessionStarting = "session_starting",
        /// Staff wrote to the members of their union.
        Broadcast = "broadcast",
        /// An issued voucher's validity ends soon (a day before, by default).
        VoucherExpiring = "voucher_expiring",
        /// A program of the member's union was published that is open to them.
        ProgramPublished = "program_published",
        /// Staff accepted the member's dispute case (受理), with what happens next.
        CaseAccepted = "case_accepted",
        /// Staff declined it, with the reason and where to turn instead.
        CaseDeclined = "case_declined",
        /// Staff wrote to the claimants of a case (a question, news of a step).
        CaseMessage = "case_message",
        /// The parties of a case agreed in mediation: the amount and the instalments.
        CaseAgreed = "case_agreed",
        /// A case was closed (with what was recovered) or handed to a partner agency.
        CaseClosed = "case_closed",
        /// Staff scheduled a mediation meeting of the member's case.
        CaseMeeting = "case_meeting",
        /// The 15-day mediation period of an accepted case passed without an agreement: the
        /// member may apply for arbitration.
        CaseMediationOver = "case_mediation_over",
        /// The one-year limitation for arbitration of the member's case ends within 60 days.
        CaseLimitation = "case_limitation",
        /// Staff took a step on the member's grant application (reviewed, verified, on the
        /// notice, an objection).
        GrantStep = "grant_step",
        /// The member's grant application was approved (with the amount) or rejected.
        GrantDecided = "grant_decided",
        /// The member's grant was paid to their card, or its payment failed (with what to
        /// correct).
        GrantPaid = "grant_paid",
    }
}

crate::vocabulary! {
    /// A way to reach a member besides the inbox, which every notification goes to.
    Channel {
        Sms = "sms",
    }
}

/// Whether a topic goes out by SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsRule {
    /// Always: what a rider must not miss (a seat, a cancelled session, a join decision).
    Always,
    /// Unless the member turned it off.
    UnlessOptedOut,
    /// Inbox only.
    Never,
}

impl Topic {
    pub fn sms(self) -> SmsRule {
        match self {
            Topic::JoinApproved
            | Topic::JoinRejected
            | Topic::SeatPromoted
            | Topic::SessionCancelled
            | Topic::CaseAccepted
            | Topic::CaseDeclined
            | Topic::CaseAgreed
            | Topic::CaseClosed
            | Topic::CaseMeeting
            | Topic::CaseMediationOver
            | Topic::CaseLimitation
            | Topic::GrantDecided
            | Topic::GrantPaid => SmsRule::Always,
            Topic::FeedbackAnswered
            | Topic::SessionReminder
            | Topic::SessionStarting
            | Topic::OfferLapsed
            | Topic::VoucherExpiring
            | Topic::CaseMessage
            | Topic::GrantStep => SmsRule::UnlessOptedOut,
            Topic::BookingMade | Topic::Broadcast | Topic::ProgramPublished => SmsRule::Never,
        }
    }
}

/// One thing to tell one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub account_id: i64,
    pub topic: Topic,
    /// The record it is about: with the topic, what makes it once per member
    /// (a second `send` of the same topic and record for the member writes nothing).
    pub subject: Record,
    pub title: String,
    pub body: String,
    /// When the news stops being useful (a session's start): a message due sooner than the
    /// quiet hours end goes out at once instead of waiting for the morning.
    pub deadline: Option<NaiveDateTime>,
}

/// Quiet hours, Asia/Shanghai: no SMS from 22:00 to 08:00.
const QUIET_FROM: u32 = 22;
const QUIET_UNTIL: u32 = 8;

/// When an SMS written at `now` goes out: at once, or at 08:00 when `now` falls in the quiet
/// hours, unless the `deadline` comes before then.
pub fn due_at(now: NaiveDateTime, deadline: Option<NaiveDateTime>) -> NaiveDateTime {
    let offset = TimeDelta::seconds(i64::from(shanghai().local_minus_utc()));
    let local = now + offset;
    let hour = chrono::Timelike::hour(&local);
    if (QUIET_UNTIL..QUIET_FROM).contains(&hour) {
        return now;
    }
    let morning_day = if hour >= QUIET_FROM {
        local.date().succ_opt().unwrap_or(local.date())
    } else {
        local.date()
    };
    let morning =
        morning_day.and_time(NaiveTime::MIN) + TimeDelta::hours(QUIET_UNTIL.into()) - offset;
    match deadline {
        Some(deadline) if deadline <= morning => now,
        _ => morning,
    }
}

/// What makes a notification once per member: account, topic, subject.
type Once = (i64, String, String);

fn once(notice: &Notice, subject: &str) -> Once {
    (
        notice.account_id,
        notice.topic.as_str().to_owned(),
        subject.to_owned(),
    )
}

/// Writes `notices` for their members, in the caller's transaction: each into the inbox, and
/// by SMS where its topic says so and the member has not turned it off. A notice whose member
/// already has one of the same topic and record is left out. A few statements however many
/// notices there are (a booking batch sends hundreds). Answers how many were written.
pub fn send(conn: &mut DbConn, notices: &[Notice]) -> Result<usize> {
    if notices.is_empty() {
        return Ok(0);
    }
    let now = crate::clock::now();
    let subjects: Vec<String> = notices.iter().map(|n| n.subject.to_string()).collect();
    let fresh = fresh(conn, notices, &subjects)?;
    let rows: Vec<_> = fresh
        .iter()
        .map(|(notice, subject)| {
            (
                n::account_id.eq(notice.account_id),
                n::topic.eq(notice.topic.as_str()),
                n::subject.eq(subject.as_str()),
                n::title.eq(notice.title.as_str()),
                n::body.eq(notice.body.as_str()),
                n::created_at.eq(now),
            )
        })
        .collect();
    let written: Vec<(i64, i64, String, String)> = crate::insert_rows!(
        conn,
        n::table,
        rows,
        returning(n::id, n::account_id, n::topic, n::subject)
    )?;
    let id_of: HashMap<Once, i64> = written
        .into_iter()
        .map(|(id, account, topic, subject)| ((account, topic, subject), id))
        .collect();
    by_sms(conn, &fresh, &id_of, now)?;
    Ok(id_of.len())
}

/// The notices of `notices` (with their subjects' text) no member has yet, each once.
fn fresh<'a>(
    conn: &mut DbConn,
    notices: &'a [Notice],
    subjects: &'a [String],
) -> Result<Vec<(&'a Notice, &'a String)>> {
    let accounts: Vec<i64> = notices.iter().map(|n| n.account_id).collect();
    let mut seen: HashSet<Once> = n::table
        .filter(n::account_id.eq_any(&accounts))
        .filter(n::subject.eq_any(subjects))
        .select((n::account_id, n::topic, n::subject))
        .load::<Once>(conn)?
        .into_iter()
        .collect();
    Ok(notices
        .iter()
        .zip(subjects)
        .filter(|(notice, subject)| seen.insert(once(notice, subject)))
        .collect())
}

/// The SMS deliveries of the notices just written: those whose topic goes by SMS, unless the
/// member turned it off where that is allowed.
fn by_sms(
    conn: &mut DbConn,
    written: &[(&Notice, &String)],
    id_of: &HashMap<Once, i64>,
    now: NaiveDateTime,
) -> Result<()> {
    let accounts: Vec<i64> = written.iter().map(|(n, _)| n.account_id).collect();
    let opted_out: HashSet<(i64, String)> = o::table
        .filter(o::account_id.eq_any(&accounts))
        .select((o::account_id, o::topic))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let deliveries: Vec<_> = written
        .iter()
        .filter(|(notice, _)| match notice.topic.sms() {
            SmsRule::Always => true,
            SmsRule::UnlessOptedOut => {
                !opted_out.contains(&(notice.account_id, notice.topic.as_str().to_owned()))
            }
            SmsRule::Never => false,
        })
        .map(|(notice, subject)| {
            (
                d::notification_id.eq(id_of[&once(notice, subject)]),
                d::channel.eq(Channel::Sms.as_str()),
                d::due_at.eq(due_at(now, notice.deadline)),
                d::attempts.eq(0),
            )
        })
        .collect();
    crate::insert_rows!(conn, d::table, deliveries)?;
    Ok(())
}

/// Drops the deliveries not yet sent of the notifications of `topics` about `subjects` (a
/// reminder of a booking just cancelled); the inbox keeps what it showed.
pub fn withdraw(conn: &mut DbConn, topics: &[Topic], subjects: &[Record]) -> Result<usize> {
    let topics: Vec<&str> = topics.iter().map(|t| t.as_str()).collect();
    let subjects: Vec<String> = subjects.iter().map(Record::to_string).collect();
    let mut withdrawn = 0;
    for chunk in subjects.chunks(1000) {
        let theirs = n::table
            .filter(n::topic.eq_any(&topics))
            .filter(n::subject.eq_any(chunk))
            .select(n::id);
        withdrawn += diesel::delete(
            d::table
                .filter(d::notification_id.eq_any(theirs))
                .filter(d::sent_at.is_null()),
        )
        .execute(conn)?;
    }
    Ok(withdrawn)
}

/// A delivery a dispatcher holds until its lease ends.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub account_id: i64,
    pub channel: Channel,
    pub title: String,
    pub body: String,
    /// This claim included.
    pub attempts: i32,
}

impl Claimed {
    /// The key the gateway sees, the same on every attempt: one per notification and channel.
    pub fn key(&self) -> String {
        format!("delivery-{}", self.id)
    }
}

/// The deliveries due at `$1` and held by no one, oldest first, `$2` of them: the one rule of
/// what a dispatcher may take.
const DUE: &str = "SELECT id FROM notification_deliveries \
    WHERE sent_at IS NULL AND given_up_at IS NULL AND due_at <= $1 \
    AND (leased_until IS NULL OR leased_until <= $1) ORDER BY due_at, id LIMIT $2";

/// `sql` in the parameter syntax of `conn`'s database: SQLite numbers its parameters `?1`, and
/// a `$1` there is a name, bound in order of appearance.
fn numbered(conn: &DbConn, sql: String) -> String {
    match conn {
        DbConn::Postgres(_) => sql,
        DbConn::Sqlite(_) => sql.replace('$', "?"),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Whether some delivery is due and free: a read, so an idle dispatcher takes no write lock.
pub fn any_due(conn: &mut DbConn) -> Result<bool> {
    let sql = format!("SELECT COUNT(*) AS n FROM ({DUE}) AS due");
    let due: Count = diesel::sql_query(numbered(conn, sql))
        .bind::<Timestamp, _>(crate::clock::now())
        .bind::<BigInt, _>(1_i64)
        .get_result(conn)?;
    Ok(due.n > 0)
}

/// Takes up to `limit` deliveries that are due and held by no one, for `lease`. Run it in a
/// transaction of its own, so the lease holds once it answers. Two dispatchers never get the
/// same delivery: on PostgreSQL each skips the rows another is claiming, on SQLite the write
/// lock orders them.
pub fn claim(conn: &mut DbConn, limit: i64, lease: TimeDelta) -> Result<Vec<Claimed>> {
    let now = crate::clock::now();
    // The outer conditions are checked again on each row once it is locked, so a row another
    // claim leased meanwhile is passed over, not taken twice.
    const TAKE: &str = "UPDATE notification_deliveries SET leased_until = $3, \
        attempts = attempts + 1 WHERE id IN ({due}) AND sent_at IS NULL \
        AND (leased_until IS NULL OR leased_until <= $1) \
        RETURNING id, notification_id, channel, attempts";
    let due = match conn {
        DbConn::Postgres(_) => format!("{DUE} FOR UPDATE SKIP LOCKED"),
        DbConn::Sqlite(_) => DUE.to_owned(),
    };
    let sql = numbered(conn, TAKE.replace("{due}", &due));
    let taken: Vec<Taken> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .bind::<Timestamp, _>(now + lease)
        .load(conn)?;
    let ids: Vec<i64> = taken.iter().map(|t| t.notification_id).collect();
    let texts: HashMap<i64, (i64, String, String)> = n::table
        .filter(n::id.eq_any(&ids))
        .select((n::id, n::account_id, n::title, n::body))
        .load::<(i64, i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, account, title, body)| (id, (account, title, body)))
        .collect();
    let mut claimed = Vec::with_capacity(taken.len());
    for t in taken {
        // A delivery's notification is there: the foreign key holds it.
        let (account_id, title, body) = texts.get(&t.notification_id).ok_or_else(|| {
            crate::Error::internal(anyhow::anyhow!("delivery {} has no notification", t.id))
        })?;
        claimed.push(Claimed {
            id: t.id,
            account_id: *account_id,
            channel: Channel::try_from(t.channel).map_err(crate::Error::internal)?,
            title: title.clone(),
            body: body.clone(),
            attempts: t.attempts,
        });
    }
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    notification_id: i64,
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

/// Marks deliveries sent.
pub fn delivered(conn: &mut DbConn, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(1000) {
        diesel::update(d::table.filter(d::id.eq_any(chunk)))
            .set((
                d::sent_at.eq(crate::clock::now()),
                d::leased_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Attempts before a delivery is given up: with the waits below, about a day.
pub const MAX_ATTEMPTS: i32 = 10;

/// A delivery the sender refused: tried again later (a minute, then doubling, at most two
/// hours apart), or given up after [`MAX_ATTEMPTS`]. The inbox still has it.
pub fn failed(conn: &mut DbConn, delivery: &Claimed) -> Result<()> {
    let now = crate::clock::now();
    let row = d::table.find(delivery.id);
    if delivery.attempts >= MAX_ATTEMPTS {
        diesel::update(row)
            .set((
                d::given_up_at.eq(now),
                d::leased_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
    } else {
        let wait =
            TimeDelta::minutes(1 << (delivery.attempts - 1).clamp(0, 7)).min(TimeDelta::hours(2));
        diesel::update(row)
            .set((
                d::due_at.eq(now + wait),
                d::leased_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// A time in Shanghai, as stored (UTC).
    fn shanghai_at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, day)
            .unwrap()
            .and_hms_opt(hour, minute, 0)
            .unwrap()
            - TimeDelta::hours(8)
    }

    #[test]
    fn quiet_hours_hold_messages_until_eight_unless_they_would_come_too_late() {
        let day = shanghai_at(10, 14, 0);
        assert_eq!(due_at(day, None), day, "daytime goes at once");
        assert_eq!(due_at(shanghai_at(10, 7, 59), None), shanghai_at(10, 8, 0));
        assert_eq!(due_at(shanghai_at(10, 8, 0), None), shanghai_at(10, 8, 0));
        assert_eq!(
            due_at(shanghai_at(10, 21, 59), None),
            shanghai_at(10, 21, 59)
        );
        let late = shanghai_at(10, 22, 30);
        assert_eq!(
            due_at(late, None),
            shanghai_at(11, 8, 0),
            "the next morning"
        );
        let early = shanghai_at(11, 6, 0);
        assert_eq!(
            due_at(early, None),
            shanghai_at(11, 8, 0),
            "the same morning"
        );
        // A session at 07:30: waiting for 08:00 would be too late.
        assert_eq!(due_at(early, Some(shanghai_at(11, 7, 30))), early);
        assert_eq!(
            due_at(early, Some(shanghai_at(11, 9, 0))),
            shanghai_at(11, 8, 0)
        );
    }
}
