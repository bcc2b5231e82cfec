//! The member's inbox and SMS settings: what `platform::outbox` wrote for them, read and
//! marked here, and part of their data (export and erasure).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::outbox::{SmsRule, Topic};
use platform::pagination::{Page, Paged};
use platform::rights::{AfterCommit, PersonalData};
use platform::schema::{
    notification_deliveries as d, notification_opt_outs as o, notifications as n,
};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

/// One notification as the member reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub topic: Topic,
    /// The record it is about, e.g. `booking:12`: where the app opens it.
    pub subject: String,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Null while unread.
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Queryable)]
struct Row {
    id: i64,
    #[diesel(deserialize_as = String)]
    topic: Topic,
    subject: String,
    title: String,
    body: String,
    created_at: NaiveDateTime,
    read_at: Option<NaiveDateTime>,
}

impl From<Row> for NotificationView {
    fn from(r: Row) -> NotificationView {
        NotificationView {
            id: r.id,
            topic: r.topic,
            subject: r.subject,
            title: r.title,
            body: r.body,
            created_at: r.created_at.and_utc(),
            read_at: r.read_at.map(|t| t.and_utc()),
        }
    }
}

const COLUMNS: (
    n::id,
    n::topic,
    n::subject,
    n::title,
    n::body,
    n::created_at,
    n::read_at,
) = (
    n::id,
    n::topic,
    n::subject,
    n::title,
    n::body,
    n::created_at,
    n::read_at,
);

/// A page of the inbox, newest first, with the unread count (the app's badge).
#[derive(Debug, Serialize, ToSchema)]
pub struct Inbox {
    pub items: Vec<NotificationView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    pub unread: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unread {
    pub unread: i64,
}

/// The use case: a page of `account_id`'s inbox.
pub fn inbox(conn: &mut DbConn, account_id: i64, page: Page) -> Result<Inbox> {
    let paged = page_of(conn, account_id, None, page)?;
    Ok(Inbox {
        items: paged.items,
        next_cursor: paged.next_cursor,
        unread: unread(conn, account_id)?.unread,
    })
}

/// A page of `account_id`'s notifications written from `from` until `until` (when given),
/// newest first: what staff of a membership see of it (the use case is membership's).
pub fn during(
    conn: &mut DbConn,
    account_id: i64,
    window: (NaiveDateTime, Option<NaiveDateTime>),
    page: Page,
) -> Result<Paged<NotificationView>> {
    page_of(conn, account_id, Some(window), page)
}

fn page_of(
    conn: &mut DbConn,
    account_id: i64,
    window: Option<(NaiveDateTime, Option<NaiveDateTime>)>,
    page: Page,
) -> Result<Paged<NotificationView>> {
    let mut query = n::table
        .filter(n::account_id.eq(account_id))
        .order(n::id.desc())
        .limit(page.limit + 1)
        .select(COLUMNS)
        .into_boxed();
    if let Some((from, until)) = window {
        query = query.filter(n::created_at.ge(from));
        if let Some(until) = until {
            query = query.filter(n::created_at.le(until));
        }
    }
    if let Some(before) = page.before {
        query = query.filter(n::id.lt(before));
    }
    let rows: Vec<Row> = query.load(conn)?;
    let views = rows.into_iter().map(NotificationView::from).collect();
    Ok(Paged::from_rows(views, page, |v: &NotificationView| v.id))
}

pub fn unread(conn: &mut DbConn, account_id: i64) -> Result<Unread> {
    let unread = n::table
        .filter(n::account_id.eq(account_id))
        .filter(n::read_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(Unread { unread })
}

/// The use case: the member opened one notification. Reading it again changes nothing;
/// another member's is 404.
pub fn mark_read(conn: &mut DbConn, account_id: i64, id: i64) -> Result<NotificationView> {
    let mine = n::table
        .filter(n::id.eq(id))
        .filter(n::account_id.eq(account_id));
    diesel::update(mine.filter(n::read_at.is_null()))
        .set(n::read_at.eq(platform::clock::now()))
        .execute(conn)?;
    let row: Row = mine.select(COLUMNS).first(conn)?;
    Ok(row.into())
}

/// The use case: everything in the inbox read at once.
pub fn mark_all_read(conn: &mut DbConn, account_id: i64) -> Result<Unread> {
    diesel::update(
        n::table
            .filter(n::account_id.eq(account_id))
            .filter(n::read_at.is_null()),
    )
    .set(n::read_at.eq(platform::clock::now()))
    .execute(conn)?;
    Ok(Unread { unread: 0 })
}

/// Whether one topic comes by SMS.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsSetting {
    pub topic: Topic,
    pub enabled: bool,
    /// What a rider must not miss always comes by SMS: it cannot be turned off.
    pub required: bool,
}

/// Which topics come by SMS as well as in the inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeSettings {
    pub sms: Vec<SmsSetting>,
}

/// A change of the settings: the whole list of topics not wanted by SMS.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// Topics to stop by SMS (the inbox keeps them); every other topic that may come by SMS
    /// does. Only the topics a member may turn off are taken.
    #[schema(schema_with = optional_topics)]
    pub sms_off: Vec<Topic>,
}

/// The rule of `sms_off` as a schema: the topics whose SMS a member may turn off.
fn optional_topics() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let optional = Topic::ALL
        .iter()
        .filter(|t| t.sms() == SmsRule::UnlessOptedOut)
        .map(|t| t.as_str());
    let topic = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(optional));
    // No bound on the length: a topic named twice is the same setting.
    ArrayBuilder::new().items(topic).build()
}

/// The use case: the member's SMS settings.
pub fn settings(conn: &mut DbConn, account_id: i64) -> Result<NoticeSettings> {
    let off: HashSet<String> = o::table
        .filter(o::account_id.eq(account_id))
        .select(o::topic)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let sms = Topic::ALL
        .iter()
        .filter(|t| t.sms() != SmsRule::Never)
        .map(|&topic| SmsSetting {
            topic,
            enabled: topic.sms() == SmsRule::Always || !off.contains(topic.as_str()),
            required: topic.sms() == SmsRule::Always,
        })
        .collect();
    Ok(NoticeSettings { sms })
}

/// The use case: the member replaces their SMS opt-outs.
pub fn change_settings(
    conn: &mut DbConn,
    account_id: i64,
    change: &SettingsChange,
) -> Result<NoticeSettings> {
    if change
        .sms_off
        .iter()
        .any(|t| t.sms() != SmsRule::UnlessOptedOut)
    {
        return Err(Error::invalid(ErrorCode::InvalidField, "sms_off"));
    }
    crate::accounts::lock(conn, account_id)?;
    diesel::delete(o::table.filter(o::account_id.eq(account_id))).execute(conn)?;
    let mut topics: Vec<&str> = change.sms_off.iter().map(|t| t.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    for topic in topics {
        diesel::insert_into(o::table)
            .values((o::account_id.eq(account_id), o::topic.eq(topic)))
            .execute(conn)?;
    }
    settings(conn, account_id)
}

/// The notifications part of the member's data.
pub struct NoticesData;

impl PersonalData for NoticesData {
    fn domain(&self) -> &'static str {
        "notifications"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "notifications",
            "notification_deliveries",
            "notification_opt_outs",
        ]
    }

    fn export(&self, conn: &mut DbConn, account_id: i64) -> Result<Value> {
        let rows: Vec<Row> = n::table
            .filter(n::account_id.eq(account_id))
            .order(n::id.asc())
            .select(COLUMNS)
            .load(conn)?;
        let sent: Vec<(i64, String, Option<NaiveDateTime>)> = d::table
            .inner_join(n::table)
            .filter(n::account_id.eq(account_id))
            .order(d::id.asc())
            .select((d::notification_id, d::channel, d::sent_at))
            .load(conn)?;
        let sent: Vec<Value> = sent
            .into_iter()
            .map(|(notification, channel, at)| {
                json!({ "notification_id": notification, "channel": channel,
                        "sent_at": at.map(|t| t.and_utc()) })
            })
            .collect();
        let inbox: Vec<NotificationView> = rows.into_iter().map(Into::into).collect();
        Ok(json!({
            "inbox": inbox,
            "deliveries": sent,
            "settings": settings(conn, account_id)?,
        }))
    }

    fn erase(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<AfterCommit>> {
        let theirs = n::table.filter(n::account_id.eq(account_id)).select(n::id);
        diesel::delete(d::table.filter(d::notification_id.eq_any(theirs))).execute(conn)?;
        diesel::delete(n::table.filter(n::account_id.eq(account_id))).execute(conn)?;
        diesel::delete(o::table.filter(o::account_id.eq(account_id))).execute(conn)?;
        Ok(Vec::new())
    }
}
