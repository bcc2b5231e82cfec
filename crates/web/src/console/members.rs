//! Members: the people of an org's subtree, filtered and searched like the API's list, paged,
//! downloaded as the API's CSV, and each one's page with its history, benefit ledger and what
//! the member was told.
//! Nothing here changes data: the forms are GET filters, and every read is audited by the use
//! case it calls.

use actix_web::{web, HttpRequest};
use benefits::ledger::{self, LedgerEntry};
use benefits::vocab::LedgerKind;
use chrono::NaiveDate;
use identity::notices::NotificationView;
use identity::Identity;
use maud::{html, Markup};
use membership::applications::EventView;
use membership::members::{self, Filter, MemberDetail, MemberRow};
use membership::roster_csv;
use membership::vocab::{EventKind, Occupation, Status};
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::{Db, Error, ErrorCode};
use serde::de::{Deserializer, IntoDeserializer};
use serde::Deserialize;

use crate::console::{no_org, OrgChoice};
use crate::errors::PageResult;
use crate::forms;
use crate::i18n::{Lang, Pick};
use crate::layout::{self, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/members", web::get().to(list))
        .route("/members.csv", web::get().to(download))
        .route("/members/{id}", web::get().to(member));
}

/// The filter form's fields, as the list's and the file's links carry them. A field left
/// empty in the form is no filter.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    org: Option<i64>,
    #[serde(default, deserialize_with = "blank_is_none")]
    status: Option<Status>,
    #[serde(default, deserialize_with = "blank_is_none")]
    occupation: Option<Occupation>,
    #[serde(default, deserialize_with = "blank_is_none")]
    platform: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    q: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    joined_from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "blank_is_none")]
    joined_to: Option<NaiveDate>,
    cursor: Option<Cursor>,
}

impl ListQuery {
    /// The API's filter: the same use case does the filtering.
    fn filter(&self) -> Filter {
        Filter {
            status: self.status,
            occupation: self.occupation,
            platform: self.platform.clone(),
            joined_from: self.joined_from,
            joined_to: self.joined_to,
            q: self.q.clone(),
        }
    }
}

/// An empty (or blank) field as None, anything else as `T` or refused.
fn blank_is_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<String>::deserialize(deserializer)? {
        Some(text) if !text.trim().is_empty() => {
            T::deserialize(text.trim().to_owned().into_deserializer()).map(Some)
        }
        _ => Ok(None),
    }
}

/// The query of `req`, a field that does not parse named in the refusal page.
fn query_of<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, Error> {
    forms::parse(req.query_string().as_bytes())
}

/// `org` and the filter as a query string, for the next page's and the file's links.
fn filter_params(org: i64, filter: &Filter) -> String {
    let mut pairs: Vec<(&str, String)> = vec![("org", org.to_string())];
    if let Some(status) = filter.status {
        pairs.push(("status", status.as_str().to_owned()));
    }
    if let Some(occupation) = filter.occupation {
        pairs.push(("occupation", occupation.as_str().to_owned()));
    }
    let texts = [
        ("platform", filter.platform.as_deref()),
        ("q", filter.q.as_deref()),
    ];
    pairs.extend(
        texts
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v.to_owned()))),
    );
    let days = [
        ("joined_from", filter.joined_from),
        ("joined_to", filter.joined_to),
    ];
    pairs.extend(
        days.into_iter()
            .filter_map(|(k, d)| d.map(|d| (k, d.to_string()))),
    );
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn list(req: HttpRequest, staff: Staff) -> PageResult {
    let query: ListQuery = query_of(&req)?;
    let db = app_data::<Db>(&req)?;
    let identity = app_data::<Identity>(&req)?.into_inner();
    let filter = query.filter();
    let page = PageQuery {
        limit: None,
        cursor: query.cursor,
    }
    .page();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let asked = filter.clone();
    let (choice, rows) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, query.org)?;
            let rows = match choice.current {
                Some(org) => Some(members::list(
                    conn, &identity, &user, &actor, org, &asked, page,
                )?),
                None => None,
            };
            Ok((choice, rows))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, rows) {
        (Some(org), Some(rows)) => html! {
            (choice.picker(lang, "/console/members"))
            (filter_form(lang, org, &filter))
            (member_table(lang, org, &filter, &rows))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Members,
        lang.t("会员", "Members"),
        body,
    ))
}

fn filter_form(lang: Lang, org: i64, filter: &Filter) -> Markup {
    let status = filter.status.unwrap_or(Status::Active);
    let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    html! {
        form.inline method="get" action="/console/members" id="member-filter" {
            input type="hidden" name="org" value=(org);
            label { (lang.t("状态", "Status"))
                select name="status" {
                    @for s in Status::ALL {
                        option value=(s.as_str()) selected[*s == status] { (status_label(lang, *s)) }
                    }
                }
            }
            label { (lang.t("职业", "Occupation"))
                select name="occupation" {
                    option value="" { (lang.t("全部", "Any")) }
                    @for o in Occupation::ALL {
                        option value=(o.as_str()) selected[Some(*o) == filter.occupation] {
                            (occupation_label(lang, *o))
                        }
                    }
                }
            }
            label { (lang.t("平台", "Platform"))
                input type="text" name="platform" maxlength="40" value=[filter.platform.as_deref()]; }
            label { (lang.t("搜索", "Search"))
                input type="search" name="q" maxlength="40" value=[filter.q.as_deref()]
                    placeholder=(lang.t("姓名、完整手机号或会员编号", "Name, full mobile or member no.")); }
            label { (lang.t("入会日期自", "Joined from"))
                input type="date" name="joined_from" value=(day(filter.joined_from)); }
            label { (lang.t("至", "to"))
                input type="date" name="joined_to" value=(day(filter.joined_to)); }
            button type="submit" { (lang.t("筛选", "Filter")) }
        }
    }
}

fn member_table(lang: Lang, org: i64, filter: &Filter, rows: &Paged<MemberRow>) -> Markup {
    let params = filter_params(org, filter);
    html! {
        p.actions {
            a.button.secondary href=(format!("/console/members.csv?{params}")) id="download-csv" {
                (lang.t("下载 CSV", "Download CSV"))
            }
        }
        @if rows.items.is_empty() {
            p.muted { (lang.t("没有符合条件的会员。", "No member matches.")) }
        } @else {
            div.table { table {
                thead { tr {
                    th { (lang.t("会员编号", "Member no.")) } th { (lang.t("姓名", "Name")) }
                    th { (lang.t("手机", "Phone")) } th { (lang.t("身份证号", "ID number")) }
                    th { (lang.t("组织", "Org")) } th { (lang.t("职业 / 平台", "Occupation / platform")) }
                    th { (lang.t("状态", "Status")) } th { (lang.t("入会时间", "Joined")) }
                } }
                tbody { @for row in &rows.items { (member_row(lang, row)) } }
            } }
        }
        @if let Some(next) = &rows.next_cursor {
            p.pager { a href=(format!("/console/members?{params}&cursor={next}")) rel="next" {
                (lang.t("下一页", "Next page")) } }
        }
    }
}

fn member_row(lang: Lang, row: &MemberRow) -> Markup {
    let href = format!("/console/members/{}", row.membership_id);
    let joined = row.joined_at.map(layout::when);
    html! {
        tr data-member=(row.membership_id) {
            td { a href=(href) { (row.member_no.as_deref().unwrap_or("—")) } }
            td { a href=(href) { (row.legal_name.as_deref().unwrap_or("—")) } }
            td { (row.phone_masked.as_deref().unwrap_or("—")) }
            td { (row.id_number_masked.as_deref().unwrap_or("—")) }
            td { (row.org.name) }
            td { (occupation_label(lang, row.occupation)) " · " (row.platform) }
            td { (status_label(lang, row.status)) }
            td { (joined.as_deref().unwrap_or("—")) }
        }
    }
}

/// The API's `format=csv` file of the same filter, through the same export use case and file
/// writer: the same bytes and headers. In the console's language.
async fn download(req: HttpRequest, staff: Staff) -> PageResult {
    let query: ListQuery = query_of(&req)?;
    let org = query
        .org
        .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "org"))?;
    let db = app_data::<Db>(&req)?;
    let identity = app_data::<Identity>(&req)?.into_inner();
    let filter = query.filter();
    let (user, actor) = (staff.user, staff.actor);
    let export = db
        .run(move |conn| members::export(conn, &identity, &user, &actor, org, &filter))
        .await?;
    Ok(roster_csv::response(&export, staff.lang))
}

/// `?cursor=` of the member page: where the benefit ledger's page starts; `?told=` where the
/// notifications' page does.
#[derive(Debug, Default, Deserialize)]
pub struct LedgerQuery {
    cursor: Option<Cursor>,
    told: Option<Cursor>,
}

async fn member(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let query: LedgerQuery = query_of(&req)?;
    let db = app_data::<Db>(&req)?;
    let identity = app_data::<Identity>(&req)?.into_inner();
    let id = id.into_inner();
    let page = PageQuery {
        limit: None,
        cursor: query.cursor,
    }
    .page();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let told = PageQuery {
        limit: None,
        cursor: query.told,
    }
    .page();
    let (detail, ledger, notices) = db
        .run(move |conn| {
            let detail = members::detail(conn, &identity, &user, &actor, id)?;
            let ledger = ledger::of_member(conn, &user, &actor, id, page)?;
            let notices = membership::notices::of_member(conn, &user, &actor, id, told)?;
            Ok((detail, ledger, notices))
        })
        .await?;
    let lang = staff.lang;
    let title = detail
        .legal_name
        .clone()
        .unwrap_or_else(|| lang.t("（无实名信息）", "(no real name)").to_owned());
    let back = format!("/console/members?org={}", detail.membership.org.id);
    let body = html! {
        p { a href=(back) { (lang.t("返回会员列表", "Back to the members")) } }
        (facts(lang, &detail))
        (history(lang, &detail.history))
        (benefits(lang, id, &ledger))
        (told_section(lang, id, &notices))
    };
    Ok(layout::console(&staff, Section::Members, &title, body))
}

/// The person and the membership the page was opened from, masked as in the lists.
fn facts(lang: Lang, detail: &MemberDetail) -> Markup {
    let m = &detail.membership;
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(layout::when);
    let rows: [(&str, Option<String>); 11] = [
        (lang.t("会员编号", "Member no."), m.member_no.clone()),
        (lang.t("手机", "Phone"), detail.phone_masked.clone()),
        (
            lang.t("身份证号", "ID number"),
            detail.id_number_masked.clone(),
        ),
        (lang.t("组织", "Org"), Some(m.org.name.clone())),
        (
            lang.t("状态", "Status"),
            Some(status_label(lang, m.status).to_owned()),
        ),
        (
            lang.t("职业 / 平台", "Occupation / platform"),
            Some(format!(
                "{} · {}",
                occupation_label(lang, m.occupation),
                m.platform
            )),
        ),
        (lang.t("工作城市", "Work city"), Some(m.work_city.clone())),
        (
            lang.t("申请时间", "Applied"),
            Some(layout::when(m.applied_at)),
        ),
        (lang.t("入会时间", "Joined"), when(m.started_at)),
        (lang.t("离会时间", "Ended"), when(m.ended_at)),
        (
            lang.t("原因", "Reason"),
            m.end_reason.clone().or_else(|| m.reject_reason.clone()),
        ),
    ];
    html! {
        @if detail.phone_masked.is_none() {
            p.muted { (lang.t("该账号已注销，手机号已删除。", "This account was deleted; its phone is gone.")) }
        }
        div.table { table id="member-facts" { tbody {
            @for (label, value) in &rows {
                tr { th scope="row" { (label) } td { (value.as_deref().unwrap_or("—")) } }
            }
        } } }
    }
}

fn history(lang: Lang, events: &[EventView]) -> Markup {
    html! {
        h2 { (lang.t("入会记录", "Membership history")) }
        @if events.is_empty() {
            p.muted { (lang.t("没有记录。", "Nothing yet.")) }
        } @else {
            div.table { table id="history" {
                thead { tr {
                    th { (lang.t("时间", "When")) } th { (lang.t("事件", "Event")) }
                    th { (lang.t("组织", "Org")) } th { (lang.t("备注", "Note")) }
                } }
                tbody { @for e in events {
                    tr data-event=(e.kind.as_str()) {
                        td { (layout::when(e.at)) }
                        td { (event_label(lang, e.kind)) }
                        td { (e.org.name) }
                        td { (e.note.as_deref().unwrap_or("")) }
                    }
                } }
            } }
        }
    }
}

fn benefits(lang: Lang, id: i64, ledger: &Paged<LedgerEntry>) -> Markup {
    html! {
        h2 id="benefits" { (lang.t("权益记录", "Benefits")) }
        @if ledger.items.is_empty() {
            p.muted { (lang.t("本次入会期间没有权益记录。", "No benefit during this membership.")) }
        } @else {
            div.table { table id="ledger" {
                thead { tr {
                    th { (lang.t("时间", "When")) } th { (lang.t("事件", "Event")) }
                    th { (lang.t("项目", "Program")) }
                } }
                tbody { @for e in &ledger.items {
                    tr data-ledger=(e.kind.as_str()) {
                        td { (layout::when(e.at)) }
                        td { (ledger_label(lang, e.kind)) }
                        td { (e.program_title) }
                    }
                } }
            } }
        }
        @if let Some(next) = &ledger.next_cursor {
            p.pager { a href=(format!("/console/members/{id}?cursor={next}#benefits")) rel="next" {
                (lang.t("更多权益记录", "More benefits")) } }
        }
    }
}

/// What the member was told during this membership (the inbox's titles and texts).
fn told_section(lang: Lang, id: i64, notices: &Paged<NotificationView>) -> Markup {
    html! {
        h2 id="notifications" { (lang.t("通知记录", "Notifications")) }
        @if notices.items.is_empty() {
            p.muted { (lang.t("本次入会期间没有通知。", "Nothing was sent during this membership.")) }
        } @else {
            div.table { table id="notices" {
                thead { tr {
                    th { (lang.t("时间", "When")) } th { (lang.t("标题", "Title")) }
                    th { (lang.t("内容", "Text")) } th { (lang.t("已读", "Read")) }
                } }
                tbody { @for n in &notices.items {
                    tr data-topic=(n.topic.as_str()) {
                        td { (layout::when(n.created_at)) }
                        td { (n.title) }
                        td { (n.body) }
                        td { @match n.read_at {
                            Some(at) => (layout::when(at)),
                            None => (lang.t("未读", "Unread")),
                        } }
                    }
                } }
            } }
        }
        @if let Some(next) = &notices.next_cursor {
            p.pager { a href=(format!("/console/members/{id}?told={next}#notifications")) rel="next" {
                (lang.t("更多通知", "More notifications")) } }
        }
    }
}

fn status_label(lang: Lang, status: Status) -> &'static str {
    let en = match status {
        Status::Pending => "Pending",
        Status::Active => "Active",
        Status::Rejected => "Rejected",
        Status::Withdrawn => "Withdrawn",
        Status::Ended => "Ended",
    };
    lang.t(status.label_zh(), en)
}

fn occupation_label(lang: Lang, occupation: Occupation) -> &'static str {
    let en = match occupation {
        Occupation::Rider => "Delivery rider",
        Occupation::Courier => "Courier",
        Occupation::RideHailingDriver => "Ride-hailing driver",
        Occupation::TruckDriver => "Truck driver",
        Occupation::Other => "Other",
    };
    lang.t(occupation.label_zh(), en)
}

fn event_label(lang: Lang, kind: EventKind) -> &'static str {
    match kind {
        EventKind::Applied => lang.t("提交申请", "Applied"),
        EventKind::Activated => lang.t("入会", "Joined"),
        EventKind::Rejected => lang.t("未通过", "Rejected"),
        EventKind::Withdrawn => lang.t("撤回申请", "Withdrew"),
        EventKind::TransferredOut => lang.t("转出", "Transferred out"),
        EventKind::Left => lang.t("离会", "Left"),
    }
}

fn ledger_label(lang: Lang, kind: LedgerKind) -> &'static str {
    match kind {
        LedgerKind::Claimed => lang.t("领取", "Claimed"),
        LedgerKind::Entered => lang.t("参加抽签", "Entered the draw"),
        LedgerKind::Won => lang.t("中签", "Won"),
        LedgerKind::Lost => lang.t("未中签", "Not drawn"),
        LedgerKind::Redeemed => lang.t("核销", "Redeemed"),
        LedgerKind::VoucherExpired => lang.t("券已过期", "Voucher expired"),
        LedgerKind::Booked => lang.t("预约", "Booked"),
        LedgerKind::Waitlisted => lang.t("候补", "Waitlisted"),
        LedgerKind::Promoted => lang.t("候补转正", "Off the waitlist"),
        LedgerKind::Cancelled => lang.t("取消", "Cancelled"),
        LedgerKind::CheckedIn => lang.t("签到", "Checked in"),
        LedgerKind::NoShow => lang.t("未到场", "No-show"),
        LedgerKind::ReportAttached => lang.t("报告已上传", "Report attached"),
        LedgerKind::OfferLapsed => lang.t("候补名额逾期未确认", "Offer lapsed"),
        LedgerKind::GrantApproved => lang.t("困难帮扶获批", "Grant approved"),
        LedgerKind::GrantPaid => lang.t("困难帮扶补助已发放", "Grant paid"),
    }
}
