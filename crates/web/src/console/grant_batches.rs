//! Paying hardship grants (发放): the payment batches of an org's subtree, a new batch of every
//! approved application, one batch with its payments (cards masked), the finance office's CSV
//! (the full card numbers; each download audited), and the results staff record from it, paid
//! or failed with the bank's reason. Each page calls the use case the JSON route calls.

use actix_web::{web, HttpRequest};
use benefits::grants::batches::{self, BatchFilter, GrantBatchRow, GrantBatchView, PaymentLine};
use benefits::grants::payments::{self, CreateBatch, FailedPayment, PaymentResults};
use benefits::grants::vocab::PaymentOutcome;
use maud::{html, Markup};
use platform::crypto::DataProtector;
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::text::Text;
use platform::{Db, Error, ErrorCode, Result};
use serde::Deserialize;

use crate::console::grant_program::{program_picker, programs_of, GrantProgram};
use crate::console::{no_org, OrgChoice};
use crate::errors::{refusal_text, PageResult};
use crate::forms::{optional, Submitted};
use crate::i18n::{Lang, Pick};
use crate::layout::{self, csrf, yuan, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/grants/batches", web::get().to(list))
        .route("/grants/batches", web::post().to(create))
        .route("/grants/batches/{id}", web::get().to(batch_page))
        .route(
            "/grants/batches/{id}/finance.csv",
            web::get().to(finance_file),
        )
        .route("/grants/batches/{id}/results", web::post().to(results));
}

#[derive(Deserialize)]
pub struct ListQuery {
    org: Option<i64>,
    program: Option<String>,
    cursor: Option<Cursor>,
}

async fn list(req: HttpRequest, staff: Staff, query: web::Query<ListQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let ListQuery {
        org,
        program,
        cursor,
    } = query.into_inner();
    let filter = BatchFilter {
        program_id: optional(&program, "program")?,
    };
    let page = PageQuery {
        limit: None,
        cursor,
    }
    .page();
    let user = staff.user.clone();
    let (choice, program, found) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, org)?;
            let Some(org_id) = choice.current else {
                return Ok((choice, filter.program_id, None));
            };
            let batches = batches::list(conn, &user, org_id, &filter, page)?;
            let programs = programs_of(conn, &user, org_id, filter.program_id)?;
            Ok((choice, filter.program_id, Some((programs, batches))))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, found) {
        (Some(org), Some((programs, batches))) => html! {
            div.inline {
                (choice.picker(lang, "/console/grants/batches"))
                (program_picker(lang, ("/console/grants/batches", org), &programs, program, true))
            }
            (new_batch(&staff, org, &programs, program))
            h2 { (lang.t("发放批次", "Batches")) }
            (batches_table(lang, (org, program), &batches))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Grants,
        lang.t("发放批次", "Payment batches"),
        body,
    ))
}

/// The form putting the org's approved applications of a program into a new batch.
fn new_batch(staff: &Staff, org: i64, programs: &[GrantProgram], current: Option<i64>) -> Markup {
    let lang = staff.lang;
    html! {
        h2 { (lang.t("生成发放批次", "New batch")) }
        @if programs.is_empty() {
            p.muted { (lang.t("还没有帮扶项目。", "No grant program yet.")) }
        } @else {
            form.inline method="post" action="/console/grants/batches" id="new-batch" {
                (csrf(staff))
                input type="hidden" name="org" value=(org);
                label { (lang.t("帮扶项目", "Grant program")) select name="program" {
                    @for p in programs { option value=(p.id) selected[current == Some(p.id)] { (p.title) } }
                } }
                button type="submit" { (lang.t("将已批准的申请生成批次", "Batch the approved applications")) }
            }
            p.muted { (lang.t(
                "本组织及下级组织所有已批准、待发放的申请进入同一批次（每批最多 2000 笔）。",
                "Every approved application of this org and those below it goes into the batch (up to 2,000).",
            )) }
        }
    }
}

fn batches_table(
    lang: Lang,
    (org, program): (i64, Option<i64>),
    batches: &Paged<GrantBatchRow>,
) -> Markup {
    html! {
        @if batches.items.is_empty() {
            p.muted { (lang.t("还没有发放批次。", "No batch yet.")) }
        } @else {
            div.table { table #batches {
                thead { tr {
                    th { (lang.t("批次", "Batch")) } th { (lang.t("帮扶项目", "Program")) }
                    th { (lang.t("笔数", "Payments")) } th { (lang.t("总金额", "Total")) }
                    th { (lang.t("待发放", "Pending")) } th { (lang.t("已发放", "Paid")) } th { (lang.t("失败", "Failed")) }
                    th { (lang.t("生成时间", "Created")) } th { (lang.t("已导出", "Exported")) }
                } }
                tbody { @for b in &batches.items {
                    tr data-batch=(b.id) {
                        td { a href=(format!("/console/grants/batches/{}", b.id)) { "#" (b.id) } }
                        td { (b.program_title) } td { (b.payments) } td { (yuan(b.total_fen)) }
                        td { (b.pending) } td { (b.paid) } td { (b.failed) }
                        td { (layout::when(b.created_at)) }
                        td { @if let Some(at) = b.exported_at { (layout::when(at)) } @else { "—" } }
                    }
                } }
            } }
        }
        @if let Some(next) = &batches.next_cursor {
            @let program = program.map(|p| format!("&program={p}")).unwrap_or_default();
            p.pager { a href=(format!("/console/grants/batches?org={org}{program}&cursor={next}")) { (lang.t("下一页", "Next page")) } }
        }
    }
}

#[derive(Deserialize)]
pub struct NewBatchForm {
    org: Option<i64>,
    program: Option<String>,
}

async fn create(req: HttpRequest, submitted: Submitted<NewBatchForm>) -> PageResult {
    let (db, protector) = (app_data::<Db>(&req)?, app_data::<DataProtector>(&req)?);
    let Submitted { staff, form, .. } = submitted;
    let org = form
        .org
        .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "org"))?;
    let program = optional::<i64>(&form.program, "program")?;
    let back = match program {
        Some(p) => format!("/console/grants/batches?org={org}&program={p}"),
        None => format!("/console/grants/batches?org={org}"),
    };
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = match program {
        Some(program) => {
            db.write(move |conn| {
                let body = CreateBatch { org_id: org };
                payments::create(conn, &protector, (&user, &actor), program, body)
            })
            .await
        }
        None => Err(Error::invalid(ErrorCode::MissingField, "program")),
    };
    let lang = staff.lang;
    match outcome {
        Ok(view) => {
            let made = format!(
                "{}{}{}",
                lang.t("已生成发放批次，共 ", "Batch created: "),
                view.batch.payments,
                lang.t(" 笔。", " payments."),
            );
            Ok(staff.back_to(format!("/console/grants/batches/{}", view.batch.id), &made))
        }
        Err(e) if e.code().status().is_server_error() => Err(e.into()),
        Err(e) => Ok(staff.back_to(back, &refusal_text(lang, &e))),
    }
}

fn outcome_label(lang: Lang, outcome: PaymentOutcome) -> &'static str {
    match outcome {
        PaymentOutcome::Pending => lang.t("待发放", "Pending"),
        PaymentOutcome::Paid => lang.t("已发放", "Paid"),
        PaymentOutcome::Failed => lang.t("发放失败", "Failed"),
    }
}

async fn batch_page(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let (id, user) = (id.into_inner(), staff.user.clone());
    let view = db.run(move |conn| batches::view(conn, &user, id)).await?;
    let lang = staff.lang;
    let title = format!("{} #{}", lang.t("发放批次", "Payment batch"), id);
    let body = html! {
        (batch_summary(lang, &view))
        (payments_table(&staff, &view))
    };
    Ok(layout::console(&staff, Section::Grants, &title, body))
}

fn batch_summary(lang: Lang, view: &GrantBatchView) -> Markup {
    let b = &view.batch;
    html! {
        p.muted { (b.program_title) " · " (lang.t("生成于 ", "created ")) (layout::when(b.created_at))
            @if let Some(at) = b.exported_at { " · " (lang.t("首次导出于 ", "first exported ")) (layout::when(at)) } }
        div.cards #figures {
            div.card { div.muted { (lang.t("笔数", "Payments")) } div.figure data-figure="payments" { (b.payments) } }
            div.card { div.muted { (lang.t("总金额", "Total")) } div.figure data-figure="total_fen" { (yuan(b.total_fen)) } }
            div.card { div.muted { (lang.t("待发放", "Pending")) } div.figure data-figure="pending" { (b.pending) } }
            div.card { div.muted { (lang.t("已发放", "Paid")) } div.figure data-figure="paid" { (b.paid) " · " (yuan(b.paid_fen)) } }
            div.card { div.muted { (lang.t("发放失败", "Failed")) } div.figure data-figure="failed" { (b.failed) } }
        }
        p.actions {
            a.button href=(format!("/console/grants/batches/{}/finance.csv", b.id)) id="finance-csv" {
                (lang.t("下载财务发放文件（CSV）", "Download the finance file (CSV)"))
            }
        }
        p.muted { (lang.t(
            "财务文件含完整银行卡号，仅列待发放的款项；每次下载都记入操作日志。",
            "The finance file has the full card numbers of the payments still pending; every download is in the audit log.",
        )) }
    }
}

fn payments_table(staff: &Staff, view: &GrantBatchView) -> Markup {
    let (lang, id) = (staff.lang, view.batch.id);
    let action = format!("/console/grants/batches/{id}/results");
    let pending: Vec<&PaymentLine> = view
        .items
        .iter()
        .filter(|l| l.outcome == PaymentOutcome::Pending)
        .collect();
    html! {
        h2 { (lang.t("款项", "Payments")) }
        div.table { table #payments {
            thead { tr {
                th { (lang.t("申请", "Application")) } th { (lang.t("户名", "Name")) } th { (lang.t("组织", "Org")) }
                th { (lang.t("银行", "Bank")) } th { (lang.t("银行卡号", "Card")) } th { (lang.t("金额", "Amount")) }
                th { (lang.t("结果", "Outcome")) } th { (lang.t("原因", "Reason")) } th { (lang.t("登记", "Record")) }
            } }
            tbody { @for line in &view.items {
                tr data-payment=(line.application_id) data-outcome=(line.outcome.as_str()) {
                    td { a href=(format!("/console/grants/{}", line.application_id)) { "#" (line.application_id) } }
                    td { (line.applicant_name) } td { (line.org.name) } td { (line.bank_name) }
                    td data-card { (line.card_masked) } td { (yuan(line.amount_fen)) }
                    td { (outcome_label(lang, line.outcome)) }
                    td { (line.reason.as_deref().unwrap_or("—")) }
                    td.actions { @if line.outcome == PaymentOutcome::Pending { (settle_forms(staff, &action, line)) }
                        @else if let Some(at) = line.settled_at { (layout::when(at)) } }
                }
            } }
        } }
        @if !pending.is_empty() {
            form method="post" action=(action) id="all-paid" {
                (csrf(staff))
                @for line in &pending { input type="hidden" name="paid" value=(line.application_id); }
                button type="submit" { (lang.t("其余全部标记为已发放", "Mark all the rest paid")) }
            }
        }
    }
}

/// One pending payment's buttons: paid, or failed with the bank's reason.
fn settle_forms(staff: &Staff, action: &str, line: &PaymentLine) -> Markup {
    let lang = staff.lang;
    html! {
        form.inline method="post" action=(action) {
            (csrf(staff))
            input type="hidden" name="paid" value=(line.application_id);
            button type="submit" data-paid=(line.application_id) { (lang.t("已发放", "Paid")) }
        }
        form.inline method="post" action=(action) {
            (csrf(staff))
            input type="hidden" name="failed" value=(line.application_id);
            input type="text" name="reason" maxlength="200" required placeholder=(lang.t("失败原因，如户名与卡号不符", "The bank's reason"));
            button.secondary type="submit" data-failed=(line.application_id) { (lang.t("发放失败", "Failed")) }
        }
    }
}

/// The form's single fields; `paid` repeats and is read from the pairs.
#[derive(Deserialize)]
pub struct ResultsForm {
    failed: Option<String>,
    reason: Option<String>,
}

fn payment_results(submitted: &Submitted<ResultsForm>) -> Result<PaymentResults> {
    let invalid = |field| Error::invalid(ErrorCode::InvalidField, field);
    let paid = submitted
        .all("paid")
        .map(|id| id.trim().parse().map_err(|_| invalid("paid")))
        .collect::<Result<_>>()?;
    let form = &submitted.form;
    let failed = match optional::<i64>(&form.failed, "failed")? {
        Some(application_id) => {
            let reason = optional::<String>(&form.reason, "reason")?
                .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "reason"))?;
            let reason = Text::parse(&reason).ok_or_else(|| invalid("reason"))?;
            vec![FailedPayment {
                application_id,
                reason,
            }]
        }
        None => Vec::new(),
    };
    Ok(PaymentResults { paid, failed })
}

async fn results(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<ResultsForm>,
) -> PageResult {
    let (db, protector) = (app_data::<Db>(&req)?, app_data::<DataProtector>(&req)?);
    let id = id.into_inner();
    let (user, actor) = (submitted.staff.user.clone(), submitted.staff.actor.clone());
    let outcome = match payment_results(&submitted) {
        Ok(body) => db
            .write(move |conn| payments::settle(conn, &protector, (&user, &actor), id, body))
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    let done = (
        "已登记发放结果，已告知申请人。",
        "Results recorded; the applicants are told.",
    );
    submitted
        .staff
        .answer(format!("/console/grants/batches/{id}"), done, outcome)
}

async fn finance_file(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let (db, protector) = (app_data::<Db>(&req)?, app_data::<DataProtector>(&req)?);
    let id = id.into_inner();
    let (user, actor, lang) = (staff.user.clone(), staff.actor.clone(), staff.lang);
    let file = db
        .write(move |conn| batches::export(conn, &protector, (&user, &actor), id, lang))
        .await?;
    Ok(batches::finance_download(id, file))
}
