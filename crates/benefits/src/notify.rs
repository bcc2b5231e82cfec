//! What benefits tells members about their bookings (through `platform::outbox`, in the
//! transaction of the change): the texts, and who gets them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use platform::audit::Record;
use platform::clock::shanghai_label;
use platform::outbox::{self, Notice, Topic};
use platform::schema::{health_sessions as hs, programs as p};
use platform::{DbConn, Result};

/// A session as its notices name it.
pub(crate) struct Session {
    program: String,
    site: String,
    starts_at: NaiveDateTime,
}

impl Session {
    pub(crate) fn new(program: &str, site: &str, starts_at: NaiveDateTime) -> Session {
        Session {
            program: program.to_owned(),
            site: site.to_owned(),
            starts_at,
        }
    }

    pub(crate) fn load(conn: &mut DbConn, session_id: i64) -> Result<Session> {
        let (program, site, starts_at) = hs::table
            .inner_join(p::table.on(p::id.eq(hs::program_id)))
            .filter(hs::id.eq(session_id))
            .select((p::title, hs::site_name, hs::starts_at))
            .first(conn)?;
        Ok(Session {
            program,
            site,
            starts_at,
        })
    }

    fn where_and_when(&self) -> String {
        format!(
            "{}：{}，{}",
            self.program,
            self.site,
            shanghai_label(self.starts_at)
        )
    }

    /// `bookings` are `(account, booking)` pairs.
    fn send(
        &self,
        conn: &mut DbConn,
        topic: Topic,
        bookings: &[(i64, i64)],
        (title, tail): (&str, &str),
    ) -> Result<()> {
        let body = format!("{}。{tail}", self.where_and_when());
        let notices: Vec<Notice> = bookings
            .iter()
            .map(|&(account_id, booking)| Notice {
                account_id,
                topic,
                subject: Record::new("booking", booking),
                title: title.to_owned(),
                body: body.clone(),
                deadline: Some(self.starts_at),
            })
            .collect();
        outbox::send(conn, &notices)?;
        Ok(())
    }

    /// Bookings just made: on a seat, or on the waitlist.
    pub(crate) fn booked(
        &self,
        conn: &mut DbConn,
        seated: &[(i64, i64)],
        waiting: &[(i64, i64)],
    ) -> Result<()> {
        self.send(
            conn,
            Topic::BookingMade,
            seated,
            ("预约成功", "请按时到场，出示预约二维码签到。"),
        )?;
        self.send(
            conn,
            Topic::BookingMade,
            waiting,
            ("已加入候补", "有名额空出时将按顺序为您递补，并短信通知您。"),
        )
    }

    /// Waiting members who got a seat.
    pub(crate) fn promoted(&self, conn: &mut DbConn, bookings: &[(i64, i64)]) -> Result<()> {
        self.send(
            conn,
            Topic::SeatPromoted,
            bookings,
            (
                "候补成功",
                "已为您递补名额，如不能到场请在开始前2小时取消。",
            ),
        )
    }

    /// A reminder (`SessionReminder` or `SessionStarting`) of booked seats.
    pub(crate) fn remind(
        &self,
        conn: &mut DbConn,
        topic: Topic,
        bookings: &[(i64, i64)],
    ) -> Result<()> {
        let text = match topic {
            Topic::SessionStarting => ("体检即将开始", "请带好身份证件，按时到场签到。"),
            _ => (
                "体检提醒",
                "请按时到场，出示预约二维码签到；如不能到场，请在开始前2小时取消。",
            ),
        };
        self.send(conn, topic, bookings, text)
    }

    /// Members whose seat or place in line went with a session staff called off.
    pub(crate) fn cancelled(&self, conn: &mut DbConn, bookings: &[(i64, i64)]) -> Result<()> {
        self.send(
            conn,
            Topic::SessionCancelled,
            bookings,
            ("体检场次已取消", "该场次已由工会取消，您的预约随之取消。"),
        )
    }
}

/// Bookings no longer held (`(account, booking)` pairs): the SMS of their reminders not yet
/// sent are dropped (one held back by the quiet hours, say).
pub(crate) fn withdraw_reminders(conn: &mut DbConn, bookings: &[(i64, i64)]) -> Result<()> {
    let subjects: Vec<Record> = bookings
        .iter()
        .map(|&(_, id)| Record::new("booking", id))
        .collect();
    let reminders = [Topic::SessionReminder, Topic::SessionStarting];
    outbox::withdraw(conn, &reminders, &subjects)?;
    Ok(())
}
