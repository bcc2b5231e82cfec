//! Dispute cases (维权): the queue of an org's subtree, one case file with its timeline and
//! evidence, and the staff's steps on it (accept into a class, decline with a referral, write
//! to the claimants or leave a note). Each page calls the use case the JSON route calls.

use actix_web::{web, HttpRequest};
use maud::{html, Markup};
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::text::{Prose, Text};
use platform::{Db, Error, ErrorCode};
use rights::cases::CaseDetail;
use rights::decisions::{self, Accept, Decline};
use rights::groups::{self, CaseGroup};
use rights::messages::{self, StaffMessage};
use rights::queue::{self, QueueFilter, QueueRow};
use rights::timeline::CaseEvent;
use rights::vocab::{CaseClass, CaseState};
use rights::{evidence, Rights};
use serde::Deserialize;

use crate::console::case_steps::{self, Step};
use crate::console::{no_org, OrgChoice};
use crate::errors::PageResult;
use crate::forms::{optional, Submitted};
use crate::i18n::{Lang, Pick};
use crate::labels;
use crate::layout::{self, csrf, yuan, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/cases", web::get().to(queue_page))
        .route("/cases/{id}", web::get().to(case_page))
        .route("/cases/{id}/accept", web::post().to(accept))
        .route("/cases/{id}/decline", web::post().to(decline))
        .route("/cases/{id}/messages", web::post().to(write))
        .route(
            "/cases/{id}/evidence/{evidence_id}",
            web::get().to(download),
        );
}

#[derive(Deserialize)]
pub struct QueueQuery {
    org: Option<i64>,
    state: Option<String>,
    cursor: Option<Cursor>,
}

async fn queue_page(req: HttpRequest, staff: Staff, query: web::Query<QueueQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let rights = app_data::<Rights>(&req)?;
    let QueueQuery { org, state, cursor } = query.into_inner();
    let state = optional::<String>(&state, "state")?
        .map(|s| {
            CaseState::parse(&s).ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "state"))
        })
        .transpose()?;
    let page = PageQuery {
        limit: None,
        cursor,
    }
    .page();
    let user = staff.user.clone();
    let (choice, list) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, org)?;
            let filter = QueueFilter { state, kind: None };
            let list = match choice.current {
                Some(org_id) => Some(queue::list(
                    conn,
                    &rights.config,
                    &user,
                    org_id,
                    &filter,
                    page,
                )?),
                None => None,
            };
            Ok((choice, list))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, list) {
        (Some(org_id), Some(list)) => html! {
            div.inline {
                (choice.picker(lang, "/console/cases"))
                (state_filter(lang, org_id, state))
                a.button.secondary href=(format!("/console/cases/rota?org={org_id}")) { (lang.t("调解员名册", "Mediators")) }
                a.button.secondary href=(format!("/console/cases/stats?org={org_id}")) { (lang.t("维权统计", "Figures")) }
            }
            (queue_table(lang, org_id, state, &list))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Cases,
        lang.t("维权案件", "Cases"),
        body,
    ))
}

fn state_filter(lang: Lang, org_id: i64, current: Option<CaseState>) -> Markup {
    html! {
        form.inline method="get" action="/console/cases" id="state-filter" {
            input type="hidden" name="org" value=(org_id);
            label { (lang.t("状态", "State"))
                select name="state" {
                    option value="" selected[current.is_none()] { (lang.t("全部", "All")) }
                    @for s in CaseState::ALL {
                        option value=(s.as_str()) selected[current == Some(*s)] { (labels::case_state(lang, *s)) }
                    }
                }
            }
            button.secondary type="submit" { (lang.t("筛选", "Filter")) }
        }
    }
}

fn queue_table(
    lang: Lang,
    org_id: i64,
    state: Option<CaseState>,
    list: &Paged<QueueRow>,
) -> Markup {
    html! {
        @if list.items.is_empty() {
            p.muted { (lang.t("没有案件。", "No case.")) }
        } @else {
            (cases_table(lang, &list.items))
        }
        @if let Some(next) = &list.next_cursor {
            @let state = state.map(|s| format!("&state={}", s.as_str())).unwrap_or_default();
            p.pager { a href=(format!("/console/cases?org={org_id}{state}&cursor={next}")) { (lang.t("下一页", "Next page")) } }
        }
    }
}

fn cases_table(lang: Lang, rows: &[QueueRow]) -> Markup {
    html! {
            div.table { table {
                thead { tr {
                    th { (lang.t("编号", "No.")) } th { (lang.t("类型", "Kind")) }
                    th { (lang.t("被申请人", "Respondent")) } th { (lang.t("申请人", "Claimants")) }
                    th { (lang.t("请求金额", "Claimed")) } th { (lang.t("状态", "State")) }
                    th { (lang.t("受理期限", "Accept by")) } th { (lang.t("同一被申请人", "Same respondent")) }
                    th { (lang.t("组织", "Org")) } th { (lang.t("申请时间", "Filed")) }
                } }
                tbody { @for row in rows {
                    tr data-case=(row.id) {
                        td { a href=(format!("/console/cases/{}", row.id)) { "#" (row.id) } }
                        td { (labels::case_kind(lang, row.kind)) }
                        td { (row.respondent_name) }
                        td { (row.claimants) }
                        td { (yuan(row.total_claimed_fen)) }
                        td { (labels::case_state(lang, row.state)) }
                        td {
                            @if let Some(day) = row.accept_by { (day.to_string()) }
                            @if row.accept_overdue { " " strong.overdue { (lang.t("已超期", "overdue")) } }
                        }
                        td { @if row.open_cases_against_respondent > 1 {
                            strong { (row.open_cases_against_respondent) } " " (lang.t("件在办", "open"))
                        } @else { "—" } }
                        td { (row.org.name) }
                        td { (layout::when(row.filed_at)) }
                    }
                } }
            } }
    }
}

/// The open cases against the same respondent that these staff may act on (调解一起案、化解
/// 一批纠纷): the mediator and meeting forms can take all the accepted ones at once.
fn group(lang: Lang, group: &CaseGroup) -> Markup {
    html! {
        h2 { (lang.t("同一被申请人的案件", "Cases against the same respondent")) }
        p.muted { (group.respondent_name) " · " (lang.t("全系统在办 ", "open across the union: ")) (group.open_across_union)
            " · " (lang.t("本辖区 ", "in your scope: ")) (group.cases.len()) }
        div #group { (cases_table(lang, &group.cases)) }
    }
}

async fn case_page(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let rights = app_data::<Rights>(&req)?;
    let id = id.into_inner();
    let identity = app_data::<identity::Identity>(&req)?;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let (case, rota, linked) = db
        .run(move |conn| {
            let who = (&user, &actor);
            let case =
                queue::staff_detail(conn, &rights.config, rights.files.protector(), who, id)?;
            let rota = case_steps::rota_of(conn, &identity, &user, &case)?;
            let linked = match case.open_cases_against_respondent > 1 {
                true => Some(groups::of_case(conn, &rights.config, &user, id)?),
                false => None,
            };
            Ok((case, rota, linked))
        })
        .await?;
    let others = linked.as_ref().map_or(0, |g| {
        let accepted = |r: &&QueueRow| r.state.is_handled() && r.id != id;
        g.cases.iter().filter(accepted).count()
    });
    let lang = staff.lang;
    let title = format!(
        "{} #{} · {}",
        lang.t("案件", "Case"),
        case.id,
        labels::case_kind(lang, case.kind)
    );
    let body = html! {
        (summary(lang, &case))
        (parties(lang, &case))
        (files(lang, &case))
        (meetings(lang, &case))
        (agreement(lang, &case))
        h2 { (lang.t("进展", "Timeline")) }
        (timeline(lang, &case.timeline))
        (steps(&staff, &case))
        @if let Some(linked) = &linked { (group(lang, linked)) }
        (case_steps::forms(&staff, &case, &rota, others))
    };
    Ok(layout::console(&staff, Section::Cases, &title, body))
}

fn meetings(lang: Lang, case: &CaseDetail) -> Markup {
    html! {
        @if !case.meetings.is_empty() {
            h2 { (lang.t("调解会议", "Meetings")) }
            ul.files { @for m in &case.meetings {
                li data-meeting=(m.id) { (layout::when(m.starts_at)) " · " (labels::venue(lang, m.venue)) " · " (m.place)
                    @if m.respondent_invited { " · " (lang.t("已通知被申请人", "respondent invited")) } }
            } }
        }
    }
}

fn agreement(lang: Lang, case: &CaseDetail) -> Markup {
    html! {
        @if let Some(a) = &case.agreement {
            h2 { (lang.t("调解协议", "Agreement")) }
            dl.facts {
                dt { (lang.t("付款方", "Payer")) } dd { (a.payer) }
                @if let Some(joint) = &a.jointly_liable { dt { (lang.t("连带责任方", "Jointly liable")) } dd { (joint) } }
                dt { (lang.t("协议金额", "Total")) } dd { (yuan(a.total_fen)) " · " (lang.t("已到账", "paid")) " " (yuan(a.paid_fen)) }
            }
            div.table { table {
                thead { tr { th { (lang.t("期数", "No.")) } th { (lang.t("到期日", "Due")) } th { (lang.t("金额", "Amount")) } th { (lang.t("状态", "State")) } } }
                tbody { @for i in &a.instalments {
                    tr data-instalment=(i.id) {
                        td { (i.number) } td { (i.due_on.to_string()) } td { (yuan(i.amount_fen)) }
                        td { @if let Some(at) = i.paid_at { (lang.t("已到账 ", "paid ")) (layout::when(at)) }
                             @else if i.missed { strong.overdue { (lang.t("逾期未付", "missed")) } }
                             @else { (lang.t("待付", "due")) } }
                    }
                } }
            } }
        }
    }
}

fn summary(lang: Lang, case: &CaseDetail) -> Markup {
    let d = &case.deadlines;
    html! {
        div.cards {
            div.card { div.muted { (lang.t("状态", "State")) } div.figure data-state=(case.state.as_str()) { (labels::case_state(lang, case.state)) } }
            div.card { div.muted { (lang.t("分类", "Class")) } div.figure { (case.class.map_or("—", |c| labels::case_class(lang, c))) } }
            div.card { div.muted { (lang.t("请求金额合计", "Claimed in all")) } div.figure { (yuan(case.total_claimed_fen)) } }
            div.card { div.muted { (lang.t("同一被申请人的在办案件", "Open cases, same respondent")) } div.figure { (case.open_cases_against_respondent) } }
            @if let Some(outcome) = case.outcome {
                div.card { div.muted { (labels::outcome(lang, outcome)) } div.figure { (yuan(case.recovered_fen.unwrap_or(0))) } }
            }
        }
        dl.facts {
            dt { (lang.t("受理组织", "Handled by")) } dd { (case.org.name) }
            @if let Some(m) = &case.mediator { dt { (lang.t("调解员", "Mediator")) } dd { (m.name_masked.as_deref().unwrap_or("—")) } }
            @if let Some(rating) = case.rating { dt { (lang.t("回访满意度", "Follow-up rating")) } dd { (rating) " / 5" } }
            dt { (lang.t("申请时间", "Filed")) } dd { (layout::when(case.filed_at)) }
            @if let Some(day) = d.accept_by {
                dt { (lang.t("受理期限", "Accept by")) }
                dd { (day.to_string()) @if d.accept_overdue { " " strong.overdue { (lang.t("已超期", "overdue")) } } }
            }
            dt { (lang.t("调解期限", "Mediation ends")) } dd { (d.mediation_ends.to_string()) }
            dt { (lang.t("仲裁时效", "Arbitration limit")) }
            dd { (d.limitation_ends.to_string()) @if d.limitation_warning { " " strong.overdue { (lang.t("即将届满", "running out")) } } }
        }
    }
}

fn parties(lang: Lang, case: &CaseDetail) -> Markup {
    let r = &case.respondent;
    html! {
        h2 { (lang.t("被申请人", "Respondent")) }
        dl.facts {
            dt { (lang.t("名称", "Name")) } dd { (r.name) " · " (labels::respondent_kind(lang, r.kind)) }
            dt { (lang.t("统一社会信用代码", "Credit code")) } dd { (r.credit_code.as_deref().unwrap_or("—")) }
            dt { (lang.t("地址", "Address")) } dd { (r.address.as_deref().unwrap_or("—")) }
            dt { (lang.t("联系方式", "Contact")) } dd { (r.contact.as_deref().unwrap_or("—")) }
            dt { (lang.t("期间", "Period")) }
            dd { (case.period_from.map(|d| d.to_string()).unwrap_or_default()) " — " (case.period_to.map(|d| d.to_string()).unwrap_or_default()) }
        }
        h2 { (lang.t("事实与理由", "Facts")) }
        p.prose { (case.facts.as_deref().unwrap_or(lang.t("（申请人已注销，内容已删除）", "(erased with the filer's account)"))) }
        h2 { (lang.t("申请人", "Claimants")) }
        div.table { table {
            thead { tr { th { (lang.t("姓名", "Name")) } th { (lang.t("请求金额", "Claimed")) } th { (lang.t("加入时间", "Joined")) } } }
            tbody { @for c in &case.claimants {
                tr { td { (c.name_masked.as_deref().unwrap_or("—")) } td { (yuan(c.amount_claimed_fen)) } td { (layout::when(c.joined_at)) } }
            } }
        } }
    }
}

fn files(lang: Lang, case: &CaseDetail) -> Markup {
    html! {
        h2 { (lang.t("证据材料", "Evidence")) }
        @if case.evidence.is_empty() {
            p.muted { (lang.t("暂无证据材料。", "No file yet.")) }
        } @else {
            ul.files { @for f in &case.evidence {
                li { a href=(format!("/console/cases/{}/evidence/{}", case.id, f.id)) { (f.name) }
                    " " span.muted { (f.media_type) " · " (f.size_bytes / 1024 + 1) " KB · " (layout::when(f.created_at)) } }
            } }
        }
    }
}

fn timeline(lang: Lang, events: &[CaseEvent]) -> Markup {
    html! {
        ol.timeline { @for e in events {
            li data-event=(e.kind.as_str()) {
                span.muted { (layout::when(e.at)) } " "
                strong { (e.label) }
                @if !e.public { " " span.muted { (lang.t("（仅工作人员可见）", "(staff only)")) } }
                @if let Some(body) = &e.body { p.prose { (body) } }
            }
        } }
    }
}

fn steps(staff: &Staff, case: &CaseDetail) -> Markup {
    let (lang, id) = (staff.lang, case.id);
    html! {
        @if case.state == CaseState::Filed {
            h2 { (lang.t("受理", "Accept")) }
            form.stack method="post" action=(format!("/console/cases/{id}/accept")) id="accept" {
                (csrf(staff))
                label { (lang.t("分类", "Class")) select name="class" {
                    @for c in CaseClass::ALL { option value=(c.as_str()) { (labels::case_class(lang, *c)) } }
                } }
                label { (lang.t("告知申请人（可不填）", "Tell the claimants (optional)")) textarea name="message" maxlength="2000" rows="3" {} }
                button type="submit" { (lang.t("受理", "Accept")) }
            }
            h2 { (lang.t("不予受理", "Decline")) }
            form.stack method="post" action=(format!("/console/cases/{id}/decline")) id="decline" {
                (csrf(staff))
                label { (lang.t("原因", "Reason")) textarea name="reason" maxlength="1000" rows="3" required {} }
                label { (lang.t("建议的求助途径（可不填）", "Where to turn instead (optional)")) input type="text" name="referral" maxlength="200"; }
                button.secondary type="submit" { (lang.t("不予受理", "Decline")) }
            }
        }
        @if case.state.is_open() {
            h2 { (lang.t("留言", "Write")) }
            form.stack method="post" action=(format!("/console/cases/{id}/messages")) id="message" {
                (csrf(staff))
                label { (lang.t("内容", "Message")) textarea name="body" maxlength="2000" rows="3" required {} }
                label.check { input type="checkbox" name="internal" value="true"; (lang.t("内部备注（申请人不可见）", "Note for staff only")) }
                button type="submit" { (lang.t("发送", "Send")) }
            }
        }
    }
}

fn prose<const MAX: usize>(text: &str, field: &'static str) -> Result<Prose<MAX>, Error> {
    Prose::parse(text).ok_or_else(|| Error::invalid(ErrorCode::InvalidField, field))
}

#[derive(Deserialize)]
pub struct AcceptForm {
    class: String,
    message: Option<String>,
}

async fn accept(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<AcceptForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = (|| {
        let class = CaseClass::parse(&form.class)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "class"))?;
        let message = optional::<String>(&form.message, "message")?
            .map(|m| prose(&m, "message"))
            .transpose()?;
        Ok(Accept { class, message })
    })();
    let step = body.map(|body| -> Step {
        Box::new(move |conn, config, protector, who| {
            decisions::accept(conn, config, protector, who, id, body)
        })
    });
    let done = (
        "已受理，已通知申请人。",
        "Accepted; the claimants are told.",
    );
    case_steps::run(&req, &staff, id, done, step).await
}

#[derive(Deserialize)]
pub struct DeclineForm {
    reason: String,
    referral: Option<String>,
}

async fn decline(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<DeclineForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = (|| {
        let reason = prose(&form.reason, "reason")?;
        let referral = optional::<String>(&form.referral, "referral")?
            .map(|r| {
                Text::<200>::parse(&r)
                    .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "referral"))
            })
            .transpose()?;
        Ok(Decline { reason, referral })
    })();
    let step = body.map(|body| -> Step {
        Box::new(move |conn, config, protector, who| {
            decisions::decline(conn, config, protector, who, id, body)
        })
    });
    let done = (
        "已设为不予受理，已通知申请人。",
        "Declined; the claimants are told.",
    );
    case_steps::run(&req, &staff, id, done, step).await
}

#[derive(Deserialize)]
pub struct MessageForm {
    body: String,
    internal: Option<String>,
}

async fn write(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<MessageForm>,
) -> PageResult {
    let (db, rights) = (app_data::<Db>(&req)?, app_data::<Rights>(&req)?);
    let Submitted { staff, form, .. } = submitted;
    let id = id.into_inner();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = async {
        let body = StaffMessage {
            body: prose(&form.body, "body")?,
            internal: form.internal.is_some(),
        };
        db.write(move |conn| {
            messages::write(conn, rights.files.protector(), (&user, &actor), id, body)
        })
        .await
        .map(drop)
    }
    .await;
    staff.answer(
        format!("/console/cases/{id}"),
        ("已发送。", "Sent."),
        outcome,
    )
}

async fn download(req: HttpRequest, staff: Staff, path: web::Path<(i64, i64)>) -> PageResult {
    let (db, rights) = (app_data::<Db>(&req)?, app_data::<Rights>(&req)?);
    let (case_id, evidence_id) = path.into_inner();
    let who = (staff.user.clone(), staff.actor.clone());
    let file = evidence::for_staff(&db, &rights.files, who, case_id, evidence_id).await?;
    Ok(file.response("evidence", evidence_id))
}
