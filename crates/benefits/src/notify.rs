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
        self.send_by(conn, topic, bookings, (title, tail), self.starts_at)
    }

    /// As [`Session::send`], for news that stops being useful at `deadline` rather than at the
    /// session's start.
    fn send_by(
        &self,
        conn: &mut DbConn,
        topic: Topic,
        bookings: &[(i64, i64)],
        (title, tail): (&str, &str),
        deadline: NaiveDateTime,
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
                deadline: Some(deadline),
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

    /// Waiting members who got a seat: outright, or as an offer to confirm by `offer`.
    pub(crate) fn promoted(
        &self,
        conn: &mut DbConn,
        bookings: &[(i64, i64)],
        offer: Option<NaiveDateTime>,
    ) -> Result<()> {
        let Some(deadline) = offer else {
            return self.send(
                conn,
                Topic::SeatPromoted,
                bookings,
                (
                    "候补成功",
                    "已为您递补名额，如不能到场请在开始前2小时取消。",
                ),
            );
        };
        let tail = format!(
            "已为您保留名额，请在{}前打开App确认，逾期名额将顺延给下一位候补；不能到场请直接取消。",
            shanghai_label(deadline)
        );
        self.send_by(
            conn,
            Topic::SeatPromoted,
            bookings,
            ("候补名额待确认", &tail),
            deadline,
        )
    }

    /// Offers not confirmed in time: the seat has passed on.
    pub(crate) fn lapsed(&self, conn: &mut DbConn, bookings: &[(i64, i64)]) -> Result<()> {
        self.send(
            conn,
            Topic::OfferLapsed,
            bookings,
            (
                "候补名额已顺延",
                "您未在截止时间前确认，名额已顺延给下一位候补。如仍需要，可重新预约其他场次。",
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
            Topic::SessionStarting => (
                "预约即将开始",
                "请带好身份证件，按时到场签到；电话咨询请保持手机畅通。",
            ),
            _ => (
                "预约提醒",
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
            ("预约场次已取消", "该场次已由工会取消，您的预约随之取消。"),
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

/// An issued voucher near the end of its validity.
pub(crate) struct Voucher {
    pub id: i64,
    pub account_id: i64,
    pub program: String,
    pub valid_until: NaiveDateTime,
}

/// Members whose voucher expires soon: collect the pack before it goes back to stock.
pub(crate) fn expiring(conn: &mut DbConn, vouchers: &[Voucher]) -> Result<()> {
    let notices: Vec<Notice> = vouchers
        .iter()
        .map(|voucher| Notice {
            account_id: voucher.account_id,
            topic: Topic::VoucherExpiring,
            subject: Record::new("voucher", voucher.id),
            title: "礼包券即将过期".to_owned(),
            body: format!(
                "{}：您的礼包券将于{}过期，请尽快到发放点出示券码领取，逾期礼包将退回库存。",
                voucher.program,
                shanghai_label(voucher.valid_until)
            ),
            deadline: Some(voucher.valid_until),
        })
        .collect();
    outbox::send(conn, &notices)?;
    Ok(())
}

/// The members of `program`'s union it is open to, told it is published (inbox only).
/// `members` are the active members of the org's subtree the program does not refuse.
pub(crate) fn published(
    conn: &mut DbConn,
    program: (i64, &str),
    (starts_at, ends_at): (NaiveDateTime, NaiveDateTime),
    members: &[i64],
) -> Result<()> {
    let (id, title) = program;
    let body = format!(
        "{title}：{}至{}，打开App查看详情并领取或预约。",
        shanghai_label(starts_at),
        shanghai_label(ends_at)
    );
    for accounts in members.chunks(1000) {
        let notices: Vec<Notice> = accounts
            .iter()
            .map(|&account_id| Notice {
                account_id,
                topic: Topic::ProgramPublished,
                subject: Record::new("program", id),
                title: "工会新福利".to_owned(),
                body: body.clone(),
                deadline: None,
            })
            .collect();
        outbox::send(conn, &notices)?;
    }
    Ok(())
}
