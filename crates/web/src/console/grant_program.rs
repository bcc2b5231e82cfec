//! The grant programs of the Hardship grants section: the list its pages link to, a new one's
//! form (amounts typed in yuan, a share per child org), its public notice and its figures.
//! Each page calls the use case the JSON route calls; the program is then published on its
//! programs page like any other.

use actix_web::{web, HttpRequest};
use benefits::eligibility::Rules;
use benefits::grants::stats::{self, GrantFigures, GrantStats};
use benefits::grants::terms::{self, CreateGrantProgram, GrantRules, OrdersBelow, ShareInput};
use benefits::grants::views::{self, GrantNotice};
use benefits::grants::vocab::{GrantState, HardshipCause};
use benefits::programs;
use benefits::vocab::ProgramKind;
use identity::AuthUser;
use maud::{html, Markup};
use membership::orgs::OrgNode;
use platform::money::Fen;
use platform::text::Text;
use platform::{Db, DbConn, Error, ErrorCode, Result};
use serde::Deserialize;

use crate::console::{no_org, OrgChoice};
use crate::errors::{refusal_text, PageResult};
use crate::forms::{optional, required_time, Submitted};
use crate::i18n::{Lang, Pick};
use crate::labels;
use crate::layout::{self, csrf, yuan, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/grants/new", web::get().to(new_page))
        .route("/grants/new", web::post().to(create))
        .route("/grants/notice", web::get().to(notice_page))
        .route("/grants/stats", web::get().to(stats_page));
}

/// A grant program the section's pages link to.
pub use benefits::grants::terms::GrantProgramRef as GrantProgram;

/// The grant programs of the pages about `org_id` (issued by it, above or below it), and
/// `asked` when it is another, newest first.
pub(super) fn programs_of(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    asked: Option<i64>,
) -> Result<Vec<GrantProgram>> {
    let mut found = terms::concerning(conn, user, org_id)?;
    if let Some(id) = asked.filter(|id| found.iter().all(|p| p.id != *id)) {
        let program = programs::get(conn, id)?;
        if program.kind == ProgramKind::HardshipGrant {
            found.push(GrantProgram {
                id,
                title: program.title,
                status: program.status,
            });
        }
    }
    found.sort_by_key(|p| std::cmp::Reverse(p.id));
    Ok(found)
}

/// The title of program `id` among `programs`, else its number.
pub(super) fn title_of(programs: &[GrantProgram], id: i64) -> String {
    programs
        .iter()
        .find(|p| p.id == id)
        .map_or_else(|| format!("#{id}"), |p| p.title.clone())
}

/// A select of `programs` that reloads `action` for `org` (and "all" when `any`).
pub(super) fn program_picker(
    lang: Lang,
    (action, org): (&str, i64),
    programs: &[GrantProgram],
    current: Option<i64>,
    any: bool,
) -> Markup {
    html! {
        form.inline method="get" action=(action) id="program-picker" {
            input type="hidden" name="org" value=(org);
            label { (lang.t("帮扶项目", "Grant program"))
                select name="program" {
                    @if any { option value="" selected[current.is_none()] { (lang.t("全部", "All")) } }
                    @for p in programs {
                        option value=(p.id) selected[current == Some(p.id)] { (p.title) }
                    }
                }
            }
            button.secondary type="submit" { (lang.t("查看", "Show")) }
        }
    }
}

pub(super) fn state_label(lang: Lang, state: GrantState) -> &'static str {
    let en = match state {
        GrantState::Submitted => "Submitted, to review",
        GrantState::Reviewed => "Reviewed, to verify",
        GrantState::Verified => "Verified, to notice",
        GrantState::OnNotice => "On the public notice",
        GrantState::Approved => "Approved, to pay",
        GrantState::Rejected => "Rejected",
        GrantState::Paying => "Being paid",
        GrantState::Paid => "Paid",
        GrantState::PaymentFailed => "Payment failed",
    };
    lang.t(state.label_zh(), en)
}

/// The org's grant programs, each with its pages, and the way to a new one.
pub(super) fn program_links(lang: Lang, org_id: i64, programs: &[GrantProgram]) -> Markup {
    let to = |page: &str, id: i64| format!("/console/grants/{page}?org={org_id}&program={id}");
    html! {
        h2 { (lang.t("帮扶项目", "Grant programs")) }
        @if programs.is_empty() {
            p.muted { (lang.t("还没有帮扶项目。", "No grant program yet.")) }
        } @else {
            div.table { table #grant-programs {
                thead { tr {
                    th { (lang.t("项目", "Program")) } th { (lang.t("状态", "State")) } th { (lang.t("查看", "Pages")) }
                } }
                tbody { @for p in programs {
                    tr data-program=(p.id) {
                        td { a href=(format!("/console/programs/{}", p.id)) { (p.title) } }
                        td data-status=(p.status.as_str()) { (labels::program_status(lang, p.status)) }
                        td.actions {
                            a href=(format!("/console/grants?org={org_id}&program={}", p.id)) { (lang.t("申请", "Applications")) } " · "
                            a href=(to("notice", p.id)) { (lang.t("公示名单", "Notice")) } " · "
                            a href=(to("batches", p.id)) { (lang.t("发放批次", "Batches")) } " · "
                            a href=(to("stats", p.id)) { (lang.t("统计", "Figures")) }
                        }
                    }
                } }
            } }
        }
        p.actions {
            a.button href=(format!("/console/grants/new?org={org_id}")) id="new-grant-program" { (lang.t("新建帮扶项目", "New grant program")) }
            a.button.secondary href=(format!("/console/grants/notice?org={org_id}")) { (lang.t("公示名单", "Notice")) }
            a.button.secondary href=(format!("/console/grants/batches?org={org_id}")) { (lang.t("发放批次", "Payment batches")) }
            a.button.secondary href=(format!("/console/grants/stats?org={org_id}")) { (lang.t("帮扶统计", "Figures")) }
        }
    }
}

/// `?org=&program=`: the org a page is about, and the grant program (the newest when absent).
#[derive(Deserialize)]
pub struct ProgramQuery {
    org: Option<i64>,
    program: Option<String>,
}

/// The org picker, the org's grant programs, and the one the page is about.
pub(super) struct ProgramChoice {
    pub orgs: OrgChoice,
    pub programs: Vec<GrantProgram>,
    pub current: Option<i64>,
}

impl ProgramChoice {
    /// Loads the choice and, for the program it settles on, what `then` reads.
    pub(super) async fn load<T: Send + 'static>(
        req: &HttpRequest,
        staff: &Staff,
        (org, program): (Option<i64>, Option<i64>),
        then: impl FnOnce(&mut DbConn, &AuthUser, (i64, i64)) -> Result<T> + Send + 'static,
    ) -> Result<(ProgramChoice, Option<T>)> {
        let db = app_data::<Db>(req)?;
        let user = staff.user.clone();
        db.run(move |conn| {
            let orgs = OrgChoice::load(conn, &user, org)?;
            let Some(org_id) = orgs.current else {
                let none = ProgramChoice {
                    orgs,
                    programs: Vec::new(),
                    current: None,
                };
                return Ok((none, None));
            };
            let programs = programs_of(conn, &user, org_id, program)?;
            let current = program.or_else(|| programs.first().map(|p| p.id));
            let found = match current {
                Some(program_id) => Some(then(conn, &user, (org_id, program_id))?),
                None => None,
            };
            let choice = ProgramChoice {
                orgs,
                programs,
                current,
            };
            Ok((choice, found))
        })
        .await
    }

    /// The org and program pickers of `action`.
    pub(super) fn pickers(&self, lang: Lang, action: &str) -> Markup {
        let org = self.orgs.current.unwrap_or_default();
        html! {
            div.inline {
                (self.orgs.picker(lang, action))
                (program_picker(lang, (action, org), &self.programs, self.current, false))
            }
        }
    }
}

fn program_query(query: web::Query<ProgramQuery>) -> Result<(Option<i64>, Option<i64>)> {
    let ProgramQuery { org, program } = query.into_inner();
    Ok((org, optional(&program, "program")?))
}

/// What a page about a program says when the org has none.
fn no_program(lang: Lang, org: Option<i64>) -> Markup {
    html! {
        p.muted { (lang.t("还没有帮扶项目。", "No grant program yet.")) }
        @if let Some(org) = org {
            p { a.button href=(format!("/console/grants/new?org={org}")) { (lang.t("新建帮扶项目", "New grant program")) } }
        }
    }
}

async fn notice_page(
    req: HttpRequest,
    staff: Staff,
    query: web::Query<ProgramQuery>,
) -> PageResult {
    let asked = program_query(query)?;
    let (choice, notice) = ProgramChoice::load(&req, &staff, asked, |conn, _, (_, program)| {
        views::notice(conn, program)
    })
    .await?;
    let lang = staff.lang;
    let title = lang.t("公示名单", "Public notice");
    let body = match (choice.orgs.current, notice) {
        (None, _) => no_org(lang),
        (org, None) => no_program(lang, org),
        (Some(_), Some(notice)) => html! {
            (choice.pickers(lang, "/console/grants/notice"))
            (notice_table(lang, &notice))
        },
    };
    Ok(layout::console(&staff, Section::Grants, title, body))
}

fn notice_table(lang: Lang, notice: &GrantNotice) -> Markup {
    let public = format!("/v1/programs/{}/grant-notice", notice.program_id);
    html! {
        h2 { (notice.program_title) }
        p.muted { (lang.t("公示期间姓名隐去，只显示姓氏。公众可查询：", "Names are masked on the notice. The public reads it at: ")) code { (public) } }
        @if notice.items.is_empty() {
            p.muted { (lang.t("目前没有公示中的申请。", "Nothing is on the notice now.")) }
        } @else {
            div.table { table #notice {
                thead { tr {
                    th { (lang.t("编号", "No.")) } th { (lang.t("姓名", "Name")) } th { (lang.t("组织", "Org")) }
                    th { (lang.t("金额", "Amount")) } th { (lang.t("公示截止", "Notice ends")) }
                } }
                tbody { @for line in &notice.items {
                    tr data-grant=(line.id) {
                        td { a href=(format!("/console/grants/{}", line.id)) { "#" (line.id) } }
                        td { (line.name_masked) } td { (line.org.name) } td { (yuan(line.amount_fen)) }
                        td { (layout::when(line.notice_until)) }
                    }
                } }
            } }
        }
    }
}

async fn stats_page(req: HttpRequest, staff: Staff, query: web::Query<ProgramQuery>) -> PageResult {
    let asked = program_query(query)?;
    let (choice, figures) =
        ProgramChoice::load(&req, &staff, asked, |conn, user, (org, program)| {
            stats::figures(conn, user, program, org)
        })
        .await?;
    let lang = staff.lang;
    let title = lang.t("帮扶统计", "Grant figures");
    let body = match (choice.orgs.current, figures) {
        (None, _) => no_org(lang),
        (org, None) => no_program(lang, org),
        (Some(_), Some(figures)) => html! {
            (choice.pickers(lang, "/console/grants/stats"))
            (stats_body(lang, &choice, &figures))
        },
    };
    Ok(layout::console(&staff, Section::Grants, title, body))
}

fn days(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |d| format!("{d:.1}"))
}

fn stats_body(lang: Lang, choice: &ProgramChoice, s: &GrantStats) -> Markup {
    let t = &s.totals;
    html! {
        h2 { (title_of(&choice.programs, s.program_id)) }
        div.cards #figures {
            div.card { div.muted { (lang.t("预算", "Budget")) } div.figure data-figure="budget_fen" { (yuan(s.budget_fen)) } }
            div.card { div.muted { (lang.t("预算余额", "Budget left")) } div.figure data-figure="budget_left_fen" { (yuan(s.budget_left_fen)) } }
            div.card { div.muted { (lang.t("已批准金额", "Approved")) } div.figure data-figure="approved_fen" { (yuan(t.approved_fen)) } }
            div.card { div.muted { (lang.t("已发放金额", "Paid")) } div.figure data-figure="paid_fen" { (yuan(t.paid_fen)) } }
        }
        p.muted { (lang.t("天数为从申请到发放，仅计已发放的申请。", "Days from the application to the payment, of those paid.")) }
        div.table { table #grant-stats {
            thead { tr {
                th { (lang.t("组织", "Org")) } th { (lang.t("申请", "Applications")) } th { (lang.t("待决定", "Pending")) }
                th { (lang.t("已批准", "Approved")) } th { (lang.t("未批准", "Rejected")) } th { (lang.t("已发放", "Paid")) }
                th { (lang.t("批准金额", "Approved amount")) } th { (lang.t("发放金额", "Paid amount")) }
                th { (lang.t("平均天数", "Mean days")) } th { (lang.t("最长天数", "Most days")) }
            } }
            tbody {
                (figures_row(lang.t("合计", "Total"), "total", t))
                @for row in &s.by_org { (figures_row(&row.org.name, &row.org.id.to_string(), &row.figures)) }
            }
        } }
    }
}

fn figures_row(name: &str, key: &str, f: &GrantFigures) -> Markup {
    html! {
        tr data-org=(key) {
            td { (name) } td { (f.applications) } td { (f.pending) } td { (f.approved) } td { (f.rejected) }
            td { (f.paid) } td { (yuan(f.approved_fen)) } td data-cell="paid_fen" { (yuan(f.paid_fen)) }
            td { (days(f.days_to_payment_avg)) } td { (days(f.days_to_payment_max)) }
        }
    }
}

#[derive(Deserialize)]
pub struct NewQuery {
    org: Option<i64>,
}

async fn new_page(req: HttpRequest, staff: Staff, query: web::Query<NewQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let (org, user) = (query.into_inner().org, staff.user.clone());
    let choice = db
        .run(move |conn| OrgChoice::load(conn, &user, org))
        .await?;
    let lang = staff.lang;
    let body = match choice.current {
        Some(org) => {
            let children: Vec<&OrgNode> = choice
                .orgs
                .iter()
                .filter(|n| n.parent_id == Some(org))
                .collect();
            html! {
                (choice.picker(lang, "/console/grants/new"))
                (program_form(&staff, org, &children))
            }
        }
        None => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Grants,
        lang.t("新建帮扶项目", "New grant program"),
        body,
    ))
}

fn program_form(staff: &Staff, org: i64, children: &[&OrgNode]) -> Markup {
    let lang = staff.lang;
    html! {
        form.stack method="post" action="/console/grants/new" id="new-grant-program" {
            (csrf(staff))
            input type="hidden" name="org" value=(org);
            label { (lang.t("标题", "Title")) input type="text" name="title" maxlength="100" required; }
            label { (lang.t("说明", "Description")) textarea name="description" maxlength="2000" rows="3" {} }
            label { (lang.t("申请开始", "Applications open")) input type="datetime-local" name="starts_at" required; }
            label { (lang.t("申请截止", "Applications close")) input type="datetime-local" name="ends_at" required; }
            label { (lang.t("每户金额（元）", "Amount per household (yuan)")) input type="text" name="amount" inputmode="decimal" required; }
            label { (lang.t("预算总额（元）", "Budget (yuan)")) input type="text" name="budget" inputmode="decimal" required; }
            fieldset {
                legend { (lang.t("下级组织额度（元，不填即不分配）", "Shares of the child orgs (yuan; empty: none)")) }
                @if children.is_empty() { p.muted { (lang.t("没有下级组织。", "No child org.")) } }
                @for child in children {
                    label { (child.name)
                        input type="hidden" name="share_org" value=(child.id);
                        input type="text" name="share" inputmode="decimal";
                    }
                }
            }
            label { (lang.t("公示天数", "Days on the notice")) input type="number" name="notice_days" min="1" max="30" value="7"; }
            label { (lang.t("需提交的材料（每行一项）", "Documents asked for (a line each)")) textarea name="documents" rows="3" {} }
            (rules_fields(lang))
            button type="submit" { (lang.t("创建草稿", "Create the draft")) }
        }
    }
}

fn rules_fields(lang: Lang) -> Markup {
    let causes = [
        (HardshipCause::NoIncome, lang.t("失去收入", "No income")),
        (HardshipCause::Illness, lang.t("患病", "Illness")),
        (HardshipCause::Disaster, lang.t("遭遇灾害", "Disaster")),
        (HardshipCause::Other, lang.t("其他", "Other")),
    ];
    html! {
        fieldset {
            legend { (lang.t("帮扶条件", "Who may apply")) }
            label.check { input type="checkbox" name="applicants_too" value="true" checked; (lang.t("入会申请待审核的劳动者也可申请", "Workers whose application to join is pending may apply too")) }
            label { (lang.t("平台（逗号分隔，不填即不限）", "Platforms (comma-separated; empty: any)")) input type="text" name="platforms" maxlength="500"; }
            label { (lang.t("月接单量低于", "Monthly orders below")) input type="number" name="orders_below" min="1" max="100000"; }
            label { (lang.t("连续月数", "For consecutive months")) input type="number" name="orders_months" min="1" max="12"; }
            label { (lang.t("家庭月收入低于（元）", "Monthly household income below (yuan)")) input type="text" name="income_below" inputmode="decimal"; }
            p.muted { (lang.t("困难原因（不选即不限）", "Causes (none ticked: any)")) }
            @for (cause, label) in causes {
                label.check { input type="checkbox" name="cause" value=(cause.as_str()); (label) }
            }
        }
    }
}

/// The form's single fields; shares and causes repeat and are read from the pairs.
#[derive(Deserialize)]
pub struct GrantProgramFields {
    org: Option<i64>,
    title: String,
    description: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    amount: String,
    budget: String,
    notice_days: Option<String>,
    documents: Option<String>,
    applicants_too: Option<String>,
    platforms: Option<String>,
    orders_below: Option<String>,
    orders_months: Option<String>,
    income_below: Option<String>,
}

fn invalid(field: &'static str) -> Error {
    Error::invalid(ErrorCode::InvalidField, field)
}

fn money(text: &str, field: &'static str) -> Result<Fen> {
    Fen::parse_yuan(text).ok_or_else(|| invalid(field))
}

/// The non-empty pieces of `text` split at any of `at`, each at most `MAX` characters.
fn pieces<const MAX: usize>(
    text: &Option<String>,
    at: &[char],
    field: &'static str,
) -> Result<Vec<Text<MAX>>> {
    text.as_deref()
        .unwrap_or_default()
        .split(|c| at.contains(&c))
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(|piece| Text::parse(piece).ok_or_else(|| invalid(field)))
        .collect()
}

/// One share per child org with an amount typed.
fn shares(submitted: &Submitted<GrantProgramFields>) -> Result<Vec<ShareInput>> {
    submitted
        .all("share_org")
        .zip(submitted.all("share"))
        .filter(|(_, amount)| !amount.trim().is_empty())
        .map(|(org, amount)| {
            Ok(ShareInput {
                org_id: org.trim().parse().map_err(|_| invalid("shares"))?,
                share_fen: money(amount, "shares")?,
            })
        })
        .collect()
}

fn grant_rules(submitted: &Submitted<GrantProgramFields>) -> Result<GrantRules> {
    let f = &submitted.form;
    let orders = optional::<u32>(&f.orders_below, "orders_below")?;
    let months = optional::<u32>(&f.orders_months, "orders_months")?;
    let orders_below = match (orders, months) {
        (Some(orders), Some(months)) => Some(OrdersBelow { orders, months }),
        (None, None) => None,
        (Some(_), None) => return Err(Error::invalid(ErrorCode::MissingField, "orders_months")),
        (None, Some(_)) => return Err(Error::invalid(ErrorCode::MissingField, "orders_below")),
    };
    let causes = submitted
        .all("cause")
        .map(|c| HardshipCause::parse(c).ok_or_else(|| invalid("cause")))
        .collect::<Result<_>>()?;
    Ok(GrantRules {
        applicants_too: f.applicants_too.is_some(),
        platforms: pieces(&f.platforms, &[',', '，', '、'], "platforms")?,
        orders_below,
        income_below_fen: optional::<String>(&f.income_below, "income_below")?
            .map(|t| money(&t, "income_below"))
            .transpose()?,
        causes,
    })
}

fn body_of(submitted: &Submitted<GrantProgramFields>) -> Result<CreateGrantProgram> {
    let f = &submitted.form;
    Ok(CreateGrantProgram {
        title: Text::parse(&f.title).ok_or_else(|| invalid("title"))?,
        description: f.description.clone().unwrap_or_default(),
        starts_at: required_time(&f.starts_at, "starts_at")?,
        ends_at: required_time(&f.ends_at, "ends_at")?,
        amount_fen: money(&f.amount, "amount")?,
        budget_fen: money(&f.budget, "budget")?,
        shares: shares(submitted)?,
        notice_days: optional(&f.notice_days, "notice_days")?,
        documents: pieces(&f.documents, &['\n'], "documents")?,
        eligibility: Rules::default(),
        grant_rules: grant_rules(submitted)?,
    })
}

async fn create(req: HttpRequest, submitted: Submitted<GrantProgramFields>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let org = submitted
        .form
        .org
        .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "org"))?;
    let (user, actor) = (submitted.staff.user.clone(), submitted.staff.actor.clone());
    let outcome = match body_of(&submitted) {
        Ok(body) => {
            db.write(move |conn| terms::create(conn, (&user, &actor), org, body))
                .await
        }
        Err(e) => Err(e),
    };
    let staff = &submitted.staff;
    let lang = staff.lang;
    Ok(match outcome {
        Ok(created) => staff.back_to(
            format!("/console/programs/{}", created.program.id),
            lang.t(
                "帮扶项目草稿已创建，核对后请发布。",
                "Grant program created as a draft: check it, then publish.",
            ),
        ),
        Err(e) => staff.back_to(
            format!("/console/grants/new?org={org}"),
            &refusal_text(lang, &e),
        ),
    })
}
