//! Programs: the gift packs and health checks of an org's subtree, drafts included; a draft
//! created and edited, then published or closed; the fair draw run and its result shown; the
//! figures as a chart. Sessions and rosters are in [`super::sessions`].

use actix_web::{web, HttpRequest, HttpResponse};
use benefits::drafts::{self, PatchProgram};
use benefits::draws;
use benefits::eligibility::Rules;
use benefits::ledger::{self, ProgramStats};
use benefits::programs::{self, CreateProgram, ProgramFilter, ProgramSummary, StaffProgramDetail};
use benefits::vocab::{Mode, ProgramKind, ProgramStatus};
use maud::{html, Markup};
use membership::vocab::Occupation;
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::text::Text;
use platform::{Db, Error, ErrorCode};
use serde::Deserialize;

use crate::console::{no_org, sessions, OrgChoice};
use crate::errors::{refusal_text, PageResult};
use crate::forms::{optional, required_time, shanghai_time, time_value, Empty, Submitted};
use crate::i18n::{Lang, Pick};
use crate::layout::{self, csrf, Section};
use crate::session::{app_data, Staff};
use crate::{charts, labels};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/programs", web::get().to(list))
        .route("/programs", web::post().to(create))
        .route("/programs/{id}", web::get().to(detail))
        .route("/programs/{id}/edit", web::post().to(edit))
        .route("/programs/{id}/{step}", web::post().to(step));
}

#[derive(Deserialize)]
pub struct ListQuery {
    org: Option<i64>,
    status: Option<String>,
    cursor: Option<Cursor>,
}

async fn list(req: HttpRequest, staff: Staff, query: web::Query<ListQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let ListQuery {
        org,
        status,
        cursor,
    } = query.into_inner();
    let filter = ProgramFilter {
        status: optional(&status, "status")?,
    };
    let page = PageQuery {
        limit: None,
        cursor,
    }
    .page();
    let user = staff.user.clone();
    let (choice, found) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, org)?;
            let found = match choice.current {
                Some(org) => Some(programs::list(conn, &user, org, filter, page)?),
                None => None,
            };
            Ok((choice, found))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, found) {
        (Some(org), Some(found)) => html! {
            (choice.picker(lang, "/console/programs"))
            (table(lang, org, &found))
            h2 { (lang.t("新建活动（草稿）", "New program (a draft)")) }
            (program_form(&staff, &format!("/console/programs?org={org}"), None, Some(org)))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Programs,
        lang.t("活动", "Programs"),
        body,
    ))
}

fn table(lang: Lang, org: i64, found: &Paged<ProgramSummary>) -> Markup {
    if found.items.is_empty() {
        return html! { p.muted { (lang.t("还没有活动。", "No program yet.")) } };
    }
    html! {
        div.table { table #programs {
            thead { tr {
                th { (lang.t("活动", "Program")) } th { (lang.t("类型", "Kind")) } th { (lang.t("状态", "State")) }
                th { (lang.t("时间", "Window")) } th { (lang.t("剩余 / 总数", "Left / total")) } th { (lang.t("场次", "Sessions")) }
            } }
            tbody {
                @for p in &found.items {
                    tr data-program=(p.id) {
                        td { a href=(format!("/console/programs/{}", p.id)) { (p.title) } br; small.muted { (p.org.name) } }
                        td { (labels::program_kind(lang, p.kind)) }
                        td data-status=(p.status.as_str()) { (labels::program_status(lang, p.status)) }
                        td { (layout::when(p.starts_at)) " – " (layout::when(p.ends_at)) }
                        td { @if let (Some(left), Some(total)) = (p.stock_left, p.stock_total) { (left) " / " (total) } }
                        td { (p.session_count) }
                    }
                }
            }
        } }
        @if let Some(next) = &found.next_cursor {
            p.pager { a href=(format!("/console/programs?org={org}&cursor={next}")) { (lang.t("下一页", "Next page")) } }
        }
    }
}

/// The fields of a program: empty for a new one (with `org`), a draft's for editing.
fn program_form(
    staff: &Staff,
    action: &str,
    draft: Option<&StaffProgramDetail>,
    org: Option<i64>,
) -> Markup {
    let lang = staff.lang;
    let p = draft.map(|d| &d.program);
    let rules = p.map(|p| p.eligibility.clone()).unwrap_or_default();
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(time_value);
    html! {
        form.stack method="post" action=(action) id=(if draft.is_some() { "edit-program" } else { "new-program" }) {
            (csrf(staff))
            @if let Some(org) = org { input type="hidden" name="org" value=(org); }
            @if draft.is_none() {
                label { (lang.t("类型", "Kind"))
                    select name="kind" {
                        option value="gift_pack" { (labels::program_kind(lang, ProgramKind::GiftPack)) }
                        option value="health_check" { (labels::program_kind(lang, ProgramKind::HealthCheck)) }
                        option value="legal_consultation" { (labels::program_kind(lang, ProgramKind::LegalConsultation)) }
                    }
                }
            }
            label { (lang.t("标题", "Title")) input type="text" name="title" maxlength="100" required value=[p.map(|p| p.title.as_str())]; }
            label { (lang.t("说明", "Description")) textarea name="description" maxlength="2000" rows="3" { (p.map(|p| p.description.as_str()).unwrap_or("")) } }
            label { (lang.t("开始", "Starts")) input type="datetime-local" name="starts_at" required value=[time(p.map(|p| p.starts_at))]; }
            label { (lang.t("结束", "Ends")) input type="datetime-local" name="ends_at" required value=[time(p.map(|p| p.ends_at))]; }
            label { (lang.t("每人限领 / 限约次数", "Per member")) input type="number" name="per_member_limit" min="1" max="10" value=(p.map_or(1, |p| p.per_member_limit)); }
            fieldset {
                legend { (lang.t("礼包（体检、法律咨询不填）", "Gift packs (not for sessions)")) }
                label { (lang.t("数量", "Stock")) input type="number" name="stock" min="1" max="10000000" value=[p.and_then(|p| p.stock_total)]; }
                label { (lang.t("发放方式", "How")) select name="mode" {
                    @for m in [Mode::FirstCome, Mode::Draw] {
                        option value=(m.as_str()) selected[p.is_some_and(|p| p.mode == m)] { (labels::mode(lang, m)) }
                    }
                } }
                label { (lang.t("抽签报名截止（公平抽签）", "Entries close (fair draw)")) input type="datetime-local" name="entry_closes_at" value=[time(p.and_then(|p| p.entry_closes_at))]; }
                label { (lang.t("券有效天数", "Voucher valid days")) input type="number" name="voucher_valid_days" min="1" max="365" value=[p.and_then(|p| p.voucher_valid_days)]; }
            }
            (rules_fields(lang, &rules))
            button type="submit" { (if draft.is_some() { lang.t("保存草稿", "Save the draft") } else { lang.t("创建草稿", "Create the draft") }) }
        }
    }
}

fn rules_fields(lang: Lang, rules: &Rules) -> Markup {
    let occupations = [
        (Occupation::Rider, lang.t("外卖骑手", "Delivery riders")),
        (Occupation::Courier, lang.t("快递员", "Couriers")),
        (
            Occupation::RideHailingDriver,
            lang.t("网约车司机", "Ride-hailing drivers"),
        ),
        (Occupation::TruckDriver, lang.t("货车司机", "Truck drivers")),
        (Occupation::Other, lang.t("其他", "Other")),
    ];
    html! {
        fieldset {
            legend { (lang.t("谁可以参加（不选即所有会员）", "Who may take part (none ticked: every member)")) }
            @for (o, label) in occupations {
                label.check { input type="checkbox" name="occupation" value=(o.as_str()) checked[rules.occupations.contains(&o)]; (label) }
            }
            label { (lang.t("入会不超过（天）", "Joined within (days)")) input type="number" name="joined_within_days" min="1" max="3650" value=[rules.joined_within_days]; }
            label { (lang.t("在此日期前入会", "Joined before")) input type="date" name="joined_before" value=[rules.joined_before.map(|d| d.to_string())]; }
        }
    }
}

#[derive(Deserialize)]
pub struct ProgramFields {
    org: Option<i64>,
    kind: Option<String>,
    title: String,
    description: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    per_member_limit: Option<String>,
    stock: Option<String>,
    mode: Option<String>,
    entry_closes_at: Option<String>,
    voucher_valid_days: Option<String>,
    joined_within_days: Option<String>,
    joined_before: Option<String>,
}

/// The rules the form ticks: occupations are repeated fields.
fn rules_of(submitted: &Submitted<ProgramFields>) -> Result<Rules, Error> {
    let form = &submitted.form;
    let occupations = submitted
        .all("occupation")
        .map(|o| {
            Occupation::parse(o)
                .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "occupation"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Rules {
        occupations,
        joined_within_days: optional(&form.joined_within_days, "joined_within_days")?,
        joined_before: optional(&form.joined_before, "joined_before")?,
    })
}

fn title(form: &ProgramFields) -> Result<Text<100>, Error> {
    Text::parse(&form.title).ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "title"))
}

fn new_program(submitted: &Submitted<ProgramFields>) -> Result<CreateProgram, Error> {
    let form = &submitted.form;
    Ok(CreateProgram {
        kind: optional(&form.kind, "kind")?
            .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "kind"))?,
        title: title(form)?,
        description: form.description.clone().unwrap_or_default(),
        starts_at: required_time(&form.starts_at, "starts_at")?,
        ends_at: required_time(&form.ends_at, "ends_at")?,
        per_member_limit: optional(&form.per_member_limit, "per_member_limit")?,
        eligibility: rules_of(submitted)?,
        stock: optional(&form.stock, "stock")?,
        mode: optional(&form.mode, "mode")?,
        entry_closes_at: shanghai_time(&form.entry_closes_at, "entry_closes_at")?,
        voucher_valid_days: optional(&form.voucher_valid_days, "voucher_valid_days")?,
    })
}

/// The whole form as a patch: every field replaces the stored one.
fn patch(submitted: &Submitted<ProgramFields>) -> Result<PatchProgram, Error> {
    let form = &submitted.form;
    Ok(PatchProgram {
        title: Some(title(form)?),
        description: form.description.clone(),
        starts_at: Some(required_time(&form.starts_at, "starts_at")?),
        ends_at: Some(required_time(&form.ends_at, "ends_at")?),
        per_member_limit: optional(&form.per_member_limit, "per_member_limit")?,
        eligibility: Some(rules_of(submitted)?),
        stock: optional(&form.stock, "stock")?,
        mode: optional(&form.mode, "mode")?,
        entry_closes_at: Some(shanghai_time(&form.entry_closes_at, "entry_closes_at")?),
        voucher_valid_days: Some(optional(&form.voucher_valid_days, "voucher_valid_days")?),
    })
}

fn to(path: String, staff: &Staff, message: &str) -> HttpResponse {
    staff.back_to(path, message)
}

async fn create(req: HttpRequest, submitted: Submitted<ProgramFields>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let org = submitted
        .form
        .org
        .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "org"))?;
    let (user, actor) = (submitted.staff.user.clone(), submitted.staff.actor.clone());
    let outcome = match new_program(&submitted).and_then(|b| b.validate(org, user.account_id)) {
        Ok(new) => {
            db.write(move |conn| programs::create(conn, &user, &actor, new))
                .await
        }
        Err(e) => Err(e),
    };
    let staff = &submitted.staff;
    Ok(match outcome {
        Ok(view) => to(
            format!("/console/programs/{}", view.id),
            staff,
            staff.lang.t("草稿已创建。", "Draft created."),
        ),
        Err(e) => to(
            format!("/console/programs?org={org}"),
            staff,
            &refusal_text(staff.lang, &e),
        ),
    })
}

async fn edit(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<ProgramFields>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let id = id.into_inner();
    let (user, actor) = (submitted.staff.user.clone(), submitted.staff.actor.clone());
    let outcome = match patch(&submitted) {
        Ok(patch) => db
            .write(move |conn| drafts::edit(conn, &user, &actor, id, patch))
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    let staff = &submitted.staff;
    let message = match outcome {
        Ok(()) => staff.lang.t("已保存。", "Saved.").to_owned(),
        Err(e) => refusal_text(staff.lang, &e),
    };
    Ok(to(format!("/console/programs/{id}"), staff, &message))
}

/// Publish, close or run the draw: one button each.
async fn step(
    req: HttpRequest,
    path: web::Path<(i64, String)>,
    submitted: Submitted<Empty>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let (id, step) = path.into_inner();
    let staff = submitted.staff;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let lang = staff.lang;
    let outcome = match step.as_str() {
        "publish" => db
            .write(move |conn| programs::publish(conn, &user, &actor, id))
            .await
            .map(|_| lang.t("已发布。", "Published.")),
        "close" => db
            .write(move |conn| programs::close(conn, &user, &actor, id))
            .await
            .map(|_| lang.t("已结束。", "Closed.")),
        "draw" => db
            .write(move |conn| draws::run(conn, &user, &actor, id, platform::clock::now()))
            .await
            .map(|_| lang.t("已抽签，结果如下。", "Drawn: the result is below.")),
        _ => Err(Error::new(ErrorCode::NotFound)),
    };
    let message = match outcome {
        Ok(done) => done.to_owned(),
        Err(e) if e.code() == ErrorCode::NotFound => return Err(e.into()),
        Err(e) => refusal_text(lang, &e),
    };
    Ok(to(format!("/console/programs/{id}"), &staff, &message))
}

async fn detail(req: HttpRequest, staff: Staff, id: web::Path<i64>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let id = id.into_inner();
    let user = staff.user.clone();
    let (program, stats, draw) = db
        .run(move |conn| {
            let program = programs::staff_detail(conn, &user, id)?;
            let stats = ledger::program_stats(conn, &user, id)?;
            let stored = programs::get(conn, id)?;
            let draw = match program.program.mode {
                Mode::Draw => Some(draws::view(conn, &stored)?),
                Mode::FirstCome => None,
            };
            Ok((program, stats, draw))
        })
        .await?;
    let lang = staff.lang;
    let p = &program.program;
    let body = html! {
        p.muted { (labels::program_kind(lang, p.kind)) " · " (p.org.name) " · "
            span data-status=(p.status.as_str()) { (labels::program_status(lang, p.status)) } }
        (actions(&staff, &program))
        (figures(lang, &stats))
        @if let Some(draw) = &draw {
            h2 { (lang.t("抽签", "The draw")) }
            p { (lang.t("种子：", "Seed: ")) code { (draw.seed.as_deref().unwrap_or("—")) } }
            p data-drawn=(draw.drawn_at.is_some()) { (lang.t("报名人数：", "Entries: ")) (draw.entries.len()) " · "
                (lang.t("中签人数：", "Winners: ")) (draw.winners.as_ref().map_or(0, Vec::len)) }
        }
        @if p.kind.has_sessions() { (sessions::section(&staff, &program)) }
        @if p.status == ProgramStatus::Draft {
            h2 { (lang.t("编辑草稿", "Edit the draft")) }
            (program_form(&staff, &format!("/console/programs/{}/edit", p.id), Some(&program), None))
        }
    };
    Ok(layout::console(&staff, Section::Programs, &p.title, body))
}

fn actions(staff: &Staff, program: &StaffProgramDetail) -> Markup {
    let lang = staff.lang;
    let p = &program.program;
    let button = |step: &str, label: &str| {
        html! {
            form method="post" action=(format!("/console/programs/{}/{step}", p.id)) {
                (csrf(staff)) button type="submit" data-step=(step) { (label) }
            }
        }
    };
    html! {
        div.actions {
            @if p.status == ProgramStatus::Draft { (button("publish", lang.t("发布", "Publish"))) }
            @if p.status == ProgramStatus::Published { (button("close", lang.t("结束活动", "Close"))) }
            @if p.mode == Mode::Draw && p.drawn_at.is_none() && p.status != ProgramStatus::Draft {
                (button("draw", lang.t("运行公平抽签", "Run the fair draw")))
            }
        }
    }
}

fn figures(lang: Lang, stats: &ProgramStats) -> Markup {
    let t = &stats.totals;
    html! {
        h2 { (lang.t("数据", "Figures")) }
        div.cards #figures {
            div.card { span.figure data-figure="claimed" { (t.claimed) } " " (lang.t("已领取", "claimed")) }
            div.card { span.figure data-figure="redeemed" { (t.redeemed) } " " (lang.t("已核销", "redeemed")) }
            @if let Some(left) = stats.remaining { div.card { span.figure data-figure="remaining" { (left) } " " (lang.t("剩余", "left")) } }
            @if let (Some(total), Some(booked)) = (stats.seats_total, stats.seats_booked) {
                div.card { span.figure data-figure="booked" { (booked) " / " (total) } " " (lang.t("已预约座位", "seats booked")) }
                div.card { span.figure data-figure="checked_in" { (t.checked_in) } " " (lang.t("已签到", "checked in")) }
                div.card { span.figure data-figure="no_shows" { (t.no_shows) } " " (lang.t("未到", "no-shows")) }
            }
        }
        (charts::by_day(lang, &stats.by_day))
    }
}
