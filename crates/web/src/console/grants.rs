//! Hardship grants (困难帮扶): the queue of an org's subtree, one application's file with its
//! timeline, and the staff's steps on it (first review, verification, the public notice, an
//! objection, approval or rejection). Each page calls the use case the JSON route calls. The
//! program pages (a new grant program, the notice, the figures) are in [`super::grant_program`],
//! the payment batches in [`super::grant_batches`].

use actix_web::{web, HttpRequest};
use benefits::grants::documents::{self, GrantFiles};
use benefits::grants::review::{
    self, GrantQueueFilter, GrantQueueRow, RejectGrant, StepNote, Verify,
};
use benefits::grants::timeline::GrantEvent;
use benefits::grants::vocab::{
    GrantEventKind, GrantState, HardshipCause, HouseholdRelation, OrdersSource, VerifyMethod,
};
use benefits::grants::GrantApplicationView;
use identity::AuthUser;
use maud::{html, Markup};
use platform::audit::Actor;
use platform::crypto::DataProtector;
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::text::Prose;
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::Deserialize;

use crate::console::grant_program::{
    program_links, programs_of, state_label, title_of, GrantProgram,
};
use crate::console::{no_org, OrgChoice};
use crate::errors::PageResult;
use crate::forms::{optional, Empty, Submitted};
use crate::i18n::{Lang, Pick};
use crate::layout::{self, csrf, yuan, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/grants", web::get().to(queue_page))
        .route("/grants/{id}", web::get().to(application_page))
        .route("/grants/{id}/review", web::post().to(review_step))
        .route("/grants/{id}/verify", web::post().to(verify_step))
        .route("/grants/{id}/notice", web::post().to(notice_step))
        .route("/grants/{id}/objections", web::post().to(objection_step))
        .route("/grants/{id}/approve", web::post().to(approve_step))
        .route("/grants/{id}/reject", web::post().to(reject_step))
        .route(
            "/grants/{id}/documents/{document_id}",
            web::get().to(document),
        );
}

fn cause_label(lang: Lang, cause: HardshipCause) -> &'static str {
    match cause {
        HardshipCause::NoIncome => lang.t("失去收入", "No income"),
        HardshipCause::Illness => lang.t("患病", "Illness"),
        HardshipCause::Disaster => lang.t("遭遇灾害", "Disaster"),
        HardshipCause::Other => lang.t("其他", "Other"),
    }
}

fn relation_label(lang: Lang, relation: HouseholdRelation) -> &'static str {
    match relation {
        HouseholdRelation::Applicant => lang.t("申请人", "Applicant"),
        HouseholdRelation::Spouse => lang.t("配偶", "Spouse"),
        HouseholdRelation::Child => lang.t("子女", "Child"),
        HouseholdRelation::Parent => lang.t("父母", "Parent"),
        HouseholdRelation::Other => lang.t("其他", "Other"),
    }
}

fn event_label(lang: Lang, event: &GrantEvent) -> &str {
    let en = match event.kind {
        GrantEventKind::Applied => "Applied",
        GrantEventKind::Reviewed => "First review passed",
        GrantEventKind::Verified => "Verified",
        GrantEventKind::Noticed => "Put on the public notice",
        GrantEventKind::Objection => "Objection during the notice",
        GrantEventKind::Approved => "Approved",
        GrantEventKind::Rejected => "Rejected",
        GrantEventKind::DocumentAdded => "Document added",
        GrantEventKind::Batched => "In a payment batch",
        GrantEventKind::Paid => "Paid",
        GrantEventKind::PaymentFailed => "Payment failed",
        GrantEventKind::PayoutCorrected => "Card corrected",
    };
    lang.t(&event.label, en)
}

fn source_label(lang: Lang, source: OrdersSource) -> &'static str {
    match source {
        OrdersSource::Declared => lang.t("本人申报", "declared"),
        OrdersSource::Imported => lang.t("平台数据导入", "imported from the platform"),
    }
}

fn method_label(lang: Lang, method: VerifyMethod) -> &'static str {
    let en = match method {
        VerifyMethod::Phone => "By phone",
        VerifyMethod::HomeVisit => "Home visit",
        VerifyMethod::Documents => "The documents",
    };
    lang.t(method.label_zh(), en)
}

#[derive(Deserialize)]
pub struct QueueQuery {
    org: Option<i64>,
    program: Option<String>,
    state: Option<String>,
    cursor: Option<Cursor>,
}

/// What the queue page shows of the org it settles on.
struct Queue {
    programs: Vec<GrantProgram>,
    list: Paged<GrantQueueRow>,
    orgs: membership::orgs::References,
}

async fn queue_page(req: HttpRequest, staff: Staff, query: web::Query<QueueQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let QueueQuery {
        org,
        program,
        state,
        cursor,
    } = query.into_inner();
    let filter = GrantQueueFilter {
        program_id: optional(&program, "program")?,
        state: optional(&state, "state")?,
    };
    let page = PageQuery {
        limit: None,
        cursor,
    }
    .page();
    let user = staff.user.clone();
    let (choice, filter, found) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, org)?;
            let Some(org_id) = choice.current else {
                return Ok((choice, filter, None));
            };
            let list = review::queue(conn, &user, org_id, &filter, page)?;
            let programs = programs_of(conn, &user, org_id, filter.program_id)?;
            let ids: Vec<i64> = list.items.iter().map(|r| r.org_id).collect();
            let orgs = membership::orgs::references(conn, &ids)?;
            let queue = Queue {
                programs,
                list,
                orgs,
            };
            Ok((choice, filter, Some(queue)))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, found) {
        (Some(org_id), Some(queue)) => html! {
            div.inline {
                (choice.picker(lang, "/console/grants"))
                (queue_filter(lang, org_id, &queue.programs, &filter))
            }
            (program_links(lang, org_id, &queue.programs))
            h2 { (lang.t("申请", "Applications")) }
            (queue_table(lang, org_id, &filter, &queue))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Grants,
        lang.t("困难帮扶", "Hardship grants"),
        body,
    ))
}

fn queue_filter(
    lang: Lang,
    org_id: i64,
    programs: &[GrantProgram],
    filter: &GrantQueueFilter,
) -> Markup {
    html! {
        form.inline method="get" action="/console/grants" id="grant-filter" {
            input type="hidden" name="org" value=(org_id);
            label { (lang.t("帮扶项目", "Grant program"))
                select name="program" {
                    option value="" selected[filter.program_id.is_none()] { (lang.t("全部", "All")) }
                    @for p in programs {
                        option value=(p.id) selected[filter.program_id == Some(p.id)] { (p.title) }
                    }
                }
            }
            label { (lang.t("状态", "State"))
                select name="state" {
                    option value="" selected[filter.state.is_none()] { (lang.t("全部", "All")) }
                    @for s in GrantState::ALL {
                        option value=(s.as_str()) selected[filter.state == Some(*s)] { (state_label(lang, *s)) }
                    }
                }
            }
            button.secondary type="submit" { (lang.t("筛选", "Filter")) }
        }
    }
}

fn queue_table(lang: Lang, org_id: i64, filter: &GrantQueueFilter, queue: &Queue) -> Markup {
    let org_name = |id: i64| {
        queue
            .orgs
            .get(id)
            .map_or_else(|_| format!("#{id}"), |o| o.name)
    };
    html! {
        @if queue.list.items.is_empty() {
            p.muted { (lang.t("没有申请。", "No application.")) }
        } @else {
            div.table { table #grants {
                thead { tr {
                    th { (lang.t("编号", "No.")) } th { (lang.t("申请人", "Applicant")) }
                    th { (lang.t("帮扶项目", "Program")) } th { (lang.t("组织", "Org")) }
                    th { (lang.t("金额", "Amount")) } th { (lang.t("状态", "State")) }
                    th { (lang.t("公示截止", "Notice ends")) } th { (lang.t("申请时间", "Applied")) }
                } }
                tbody { @for row in &queue.list.items {
                    tr data-grant=(row.id) {
                        td { a href=(format!("/console/grants/{}", row.id)) { "#" (row.id) } }
                        td { (row.applicant_name) }
                        td { (title_of(&queue.programs, row.program_id)) }
                        td { (org_name(row.org_id)) }
                        td { (yuan(row.amount_fen)) }
                        td data-state=(row.state.as_str()) { (state_label(lang, row.state)) }
                        td { @if let Some(until) = row.notice_until { (layout::when(until)) } @else { "—" } }
                        td { (layout::when(row.applied_at)) }
                    }
                } }
            } }
        }
        @if let Some(next) = &queue.list.next_cursor {
            @let program = filter.program_id.map(|p| format!("&program={p}")).unwrap_or_default();
            @let state = filter.state.map(|s| format!("&state={}", s.as_str())).unwrap_or_default();
            p.pager { a href=(format!("/console/grants?org={org_id}{program}{state}&cursor={next}")) { (lang.t("下一页", "Next page")) } }
        }
    }
}

async fn application_page(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let protector = app_data::<DataProtector>(&req)?;
    let id = id.into_inner();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let view = db
        .write(move |conn| review::staff_view(conn, &protector, (&user, &actor), id))
        .await?;
    let lang = staff.lang;
    let title = format!(
        "{} #{} · {}",
        lang.t("帮扶申请", "Grant application"),
        view.id,
        view.applicant_name
    );
    let body = html! {
        p.muted { a href=(format!("/console/programs/{}", view.program_id)) { (view.program_title) } " · " (view.org.name) }
        (summary(lang, &view))
        (facts(lang, &view))
        (documents(lang, &view))
        h2 { (lang.t("进展", "Timeline")) }
        (timeline(lang, &view.events))
        (steps(&staff, &view))
    };
    Ok(layout::console(&staff, Section::Grants, &title, body))
}

fn summary(lang: Lang, view: &GrantApplicationView) -> Markup {
    html! {
        div.cards {
            div.card { div.muted { (lang.t("状态", "State")) } div.figure data-state=(view.state.as_str()) { (state_label(lang, view.state)) } }
            div.card { div.muted { (lang.t("帮扶金额", "Amount")) } div.figure { (yuan(view.amount_fen)) } }
            @if let Some(until) = view.notice_until {
                div.card { div.muted { (lang.t("公示截止", "Notice ends")) } div.figure data-notice-until { (layout::when(until)) } }
            }
        }
    }
}

fn facts(lang: Lang, view: &GrantApplicationView) -> Markup {
    html! {
        dl.facts {
            dt { (lang.t("申请人", "Applicant")) } dd { (view.applicant_name) }
            dt { (lang.t("所属工会", "Org")) } dd { (view.org.name) }
            dt { (lang.t("困难原因", "Cause")) } dd { (cause_label(lang, view.cause)) }
            dt { (lang.t("家庭月收入", "Monthly household income")) } dd { (yuan(view.income_fen)) }
            dt { (lang.t("月接单量", "Orders a month")) }
            dd { @for (i, m) in view.orders.iter().enumerate() {
                @if i > 0 { "；" } (m.month.format("%Y-%m")) " " (m.orders) (lang.t(" 单", " orders"))
            } " · " (source_label(lang, view.orders_source)) }
            dt { (lang.t("收款银行", "Bank")) } dd { (view.bank_name) }
            dt { (lang.t("银行卡号", "Card")) } dd data-card { (view.card_masked) }
            dt { (lang.t("申请时间", "Applied")) } dd { (layout::when(view.applied_at)) }
            @if let Some(at) = view.decided_at { dt { (lang.t("决定时间", "Decided")) } dd { (layout::when(at)) } }
        }
        h2 { (lang.t("困难情况说明", "Declaration")) }
        p.prose { (view.declaration) }
        h2 { (lang.t("家庭成员", "Household")) }
        div.table { table #household {
            thead { tr { th { (lang.t("关系", "Relation")) } th { (lang.t("姓名", "Name")) } th { (lang.t("身份证号", "ID number")) } } }
            tbody { @for m in &view.household {
                tr { td { (relation_label(lang, m.relation)) } td { (m.name_masked) } td { (m.id_number_masked) } }
            } }
        } }
    }
}

fn documents(lang: Lang, view: &GrantApplicationView) -> Markup {
    html! {
        h2 { (lang.t("证明材料", "Documents")) }
        @if view.documents.is_empty() {
            p.muted { (lang.t("申请人未上传材料。", "No document handed in.")) }
        } @else {
            ul.files { @for d in &view.documents {
                li { a href=(format!("/console/grants/{}/documents/{}", view.id, d.id)) { (d.name) }
                    " " span.muted { (d.media_type) " · " (d.size_bytes / 1024 + 1) " KB · " (layout::when(d.created_at)) } }
            } }
        }
    }
}

/// One document of the application, as the JSON route sends it; recorded in the audit log.
async fn document(req: HttpRequest, staff: Staff, path: web::Path<(i64, i64)>) -> PageResult {
    let (db, files) = (app_data::<Db>(&req)?, app_data::<GrantFiles>(&req)?);
    let (id, document_id) = path.into_inner();
    let who = (staff.user.clone(), staff.actor.clone());
    let file = documents::for_staff(&db, &files, who, (id, document_id)).await?;
    Ok(file.response("grant-document", document_id))
}

fn timeline(lang: Lang, events: &[GrantEvent]) -> Markup {
    html! {
        ol.timeline { @for e in events {
            li data-event=(e.kind.as_str()) {
                span.muted { (layout::when(e.at)) } " "
                strong { (event_label(lang, e)) }
                @if let Some(note) = &e.note { p.prose { (note) } }
            }
        } }
    }
}

/// The forms of the steps the application's state allows.
fn steps(staff: &Staff, view: &GrantApplicationView) -> Markup {
    let (lang, id, state) = (staff.lang, view.id, view.state);
    let action = |step: &str| format!("/console/grants/{id}/{step}");
    let pending = GrantState::PENDING.contains(&state.as_str());
    html! {
        @if state == GrantState::Submitted {
            h2 { (lang.t("初审", "First review")) }
            form.stack method="post" action=(action("review")) id="review" {
                (csrf(staff))
                label { (lang.t("初审意见（可不填）", "Note (optional)")) textarea name="note" maxlength="1000" rows="2" {} }
                button type="submit" { (lang.t("初审通过", "Pass the first review")) }
            }
        }
        @if state == GrantState::Reviewed {
            h2 { (lang.t("核实", "Verify")) }
            form.stack method="post" action=(action("verify")) id="verify" {
                (csrf(staff))
                label { (lang.t("核实方式", "How")) select name="method" {
                    @for m in VerifyMethod::ALL { option value=(m.as_str()) { (method_label(lang, *m)) } }
                } }
                label { (lang.t("核实情况", "What you found")) textarea name="note" maxlength="1000" rows="3" required {} }
                button type="submit" { (lang.t("核实", "Verified")) }
            }
        }
        @if state == GrantState::Verified {
            h2 { (lang.t("公示", "Public notice")) }
            form method="post" action=(action("notice")) id="notice" {
                (csrf(staff))
                button type="submit" { (lang.t("进入公示", "Put on the notice")) }
            }
        }
        @if state == GrantState::OnNotice { (notice_steps(staff, view)) }
        @if pending {
            h2 { (lang.t("不予批准", "Reject")) }
            form.stack method="post" action=(action("reject")) id="reject" {
                (csrf(staff))
                label { (lang.t("原因（告知申请人）", "Reason (told to the applicant)")) textarea name="reason" maxlength="1000" rows="3" required {} }
                button.secondary type="submit" { (lang.t("不予批准", "Reject")) }
            }
        }
    }
}

/// On the notice: record an objection, or approve once it is over.
fn notice_steps(staff: &Staff, view: &GrantApplicationView) -> Markup {
    let (lang, id) = (staff.lang, view.id);
    html! {
        h2 { (lang.t("公示异议", "Objection")) }
        form.stack method="post" action=(format!("/console/grants/{id}/objections")) id="objection" {
            (csrf(staff))
            label { (lang.t("异议内容及核查情况", "The objection and what was found")) textarea name="note" maxlength="1000" rows="3" required {} }
            button.secondary type="submit" { (lang.t("记录异议", "Record the objection")) }
        }
        h2 { (lang.t("审批", "Approve")) }
        @if let Some(until) = view.notice_until {
            p.muted { (lang.t("公示期满后方可审批，截止：", "Approval once the notice ends: ")) (layout::when(until)) }
        }
        form method="post" action=(format!("/console/grants/{id}/approve")) id="approve" {
            (csrf(staff))
            button type="submit" { (lang.t("审批通过", "Approve")) }
        }
    }
}

type Step = Box<
    dyn FnOnce(&mut DbConn, &DataProtector, (&AuthUser, &Actor)) -> Result<GrantApplicationView>
        + Send,
>;

/// Runs one step in one write and returns to the application with what happened, in words.
async fn run(
    req: &HttpRequest,
    staff: &Staff,
    id: i64,
    done: (&str, &str),
    step: Result<Step>,
) -> PageResult {
    let (db, protector) = (app_data::<Db>(req)?, app_data::<DataProtector>(req)?);
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = match step {
        Ok(step) => db
            .write(move |conn| step(conn, &protector, (&user, &actor)))
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    staff.answer(format!("/console/grants/{id}"), done, outcome)
}

fn invalid(field: &'static str) -> Error {
    Error::invalid(ErrorCode::InvalidField, field)
}

fn note(text: &Option<String>, field: &'static str) -> Result<Option<Prose<1000>>> {
    optional::<String>(text, field)?
        .map(|t| Prose::parse(&t).ok_or_else(|| invalid(field)))
        .transpose()
}

#[derive(Deserialize)]
pub struct NoteForm {
    note: Option<String>,
}

async fn review_step(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<NoteForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let step = note(&form.note, "note").map(|note| -> Step {
        Box::new(move |conn, p, who| review::review(conn, p, who, id, StepNote { note }))
    });
    let done = (
        "初审通过，已告知申请人。",
        "Reviewed; the applicant is told.",
    );
    run(&req, &staff, id, done, step).await
}

#[derive(Deserialize)]
pub struct VerifyForm {
    method: String,
    note: Option<String>,
}

async fn verify_step(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<VerifyForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = (|| {
        Ok(Verify {
            method: VerifyMethod::parse(&form.method).ok_or_else(|| invalid("method"))?,
            note: note(&form.note, "note")?
                .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "note"))?,
        })
    })();
    let step = body.map(|body| -> Step {
        Box::new(move |conn, p, who| review::verify(conn, p, who, id, body))
    });
    let done = ("已记录核实情况。", "Verification recorded.");
    run(&req, &staff, id, done, step).await
}

async fn notice_step(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<Empty>,
) -> PageResult {
    let (id, staff) = (id.into_inner(), submitted.staff);
    let step: Step = Box::new(move |conn, p, who| review::put_on_notice(conn, p, who, id));
    let done = ("已进入公示。", "On the public notice.");
    run(&req, &staff, id, done, Ok(step)).await
}

async fn objection_step(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<NoteForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let step = note(&form.note, "note").map(|note| -> Step {
        Box::new(move |conn, p, who| review::object(conn, p, who, id, StepNote { note }))
    });
    let done = ("已记录异议。", "Objection recorded.");
    run(&req, &staff, id, done, step).await
}

async fn approve_step(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<Empty>,
) -> PageResult {
    let (id, staff) = (id.into_inner(), submitted.staff);
    let step: Step = Box::new(move |conn, p, who| review::approve(conn, p, who, id));
    let done = (
        "审批通过，已告知申请人。",
        "Approved; the applicant is told.",
    );
    run(&req, &staff, id, done, Ok(step)).await
}

#[derive(Deserialize)]
pub struct RejectForm {
    reason: Option<String>,
}

async fn reject_step(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<RejectForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = note(&form.reason, "reason").and_then(|reason| {
        let reason = reason.ok_or_else(|| Error::invalid(ErrorCode::MissingField, "reason"))?;
        Ok(RejectGrant { reason })
    });
    let step = body.map(|body| -> Step {
        Box::new(move |conn, p, who| review::reject(conn, p, who, id, body))
    });
    let done = (
        "已决定不予批准，已告知申请人。",
        "Rejected; the applicant is told.",
    );
    run(&req, &staff, id, done, step).await
}
