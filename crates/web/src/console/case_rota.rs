//! The mediators' rota of an org (add a staff account with its duty days, take one off) and
//! the figures of its subtree's cases for a period, with the same figures as the CSV of the
//! monthly report.

use actix_web::{web, HttpRequest};
use chrono::NaiveDate;
use identity::phone::Phone;
use identity::Identity;
use maud::{html, Markup};
use membership::reports::PeriodQuery;
use platform::{Db, Error, ErrorCode};
use rights::mediators::{self, MediatorView, Weekdays};
use rights::stats::{self, CaseFigures};
use serde::Deserialize;

use crate::console::{no_org, OrgChoice, OrgQuery};
use crate::errors::PageResult;
use crate::forms::{self, optional, Submitted};
use crate::i18n::{Lang, Pick};
use crate::layout::{self, csrf, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/cases/rota", web::get().to(rota_page))
        .route("/cases/rota", web::post().to(add))
        .route("/cases/rota/{id}/remove", web::post().to(remove))
        .route("/cases/stats", web::get().to(stats_page))
        .route("/cases/stats.csv", web::get().to(stats_csv));
}

const WEEKDAYS: [(&str, &str); 7] = [
    ("一", "Mon"),
    ("二", "Tue"),
    ("三", "Wed"),
    ("四", "Thu"),
    ("五", "Fri"),
    ("六", "Sat"),
    ("日", "Sun"),
];

fn days_label(lang: Lang, days: &[u8]) -> String {
    let names: Vec<&str> = days
        .iter()
        .map(|d| {
            let (zh, en) = WEEKDAYS[usize::from(d - 1)];
            lang.t(zh, en)
        })
        .collect();
    match lang {
        Lang::ZhCn => format!("周{}", names.join("、")),
        Lang::En => names.join(", "),
    }
}

async fn rota_page(req: HttpRequest, staff: Staff, query: web::Query<OrgQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let identity = app_data::<Identity>(&req)?;
    let user = staff.user.clone();
    let asked = query.org;
    let (choice, rota) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, asked)?;
            let rota = match choice.current {
                Some(org) => Some(mediators::list(conn, &identity, &user, org)?),
                None => None,
            };
            Ok((choice, rota))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, rota) {
        (Some(org), Some(rota)) => html! {
            (choice.picker(lang, "/console/cases/rota"))
            (rota_table(&staff, org, &rota))
            (add_form(&staff, org))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Cases,
        lang.t("调解员名册", "Mediators"),
        body,
    ))
}

fn rota_table(staff: &Staff, org: i64, rota: &[MediatorView]) -> Markup {
    let lang = staff.lang;
    html! {
        @if rota.is_empty() {
            p.muted { (lang.t("还没有调解员。", "No mediator yet.")) }
        } @else {
            div.table { table {
                thead { tr {
                    th { (lang.t("手机", "Phone")) } th { (lang.t("组织", "Org")) }
                    th { (lang.t("值班", "Duty")) } th { (lang.t("在办案件", "Open cases")) } th {}
                } }
                tbody { @for m in rota {
                    tr data-mediator=(m.id) {
                        td { (m.phone_masked.as_deref().unwrap_or("—")) }
                        td { (m.org.name) }
                        td { (days_label(lang, &m.duty_days)) @if m.on_duty_today { " · " strong { (lang.t("今日值班", "on duty today")) } } }
                        td { (m.open_cases) }
                        td { @if m.org.id == org {
                            form method="post" action=(format!("/console/cases/rota/{}/remove?org={org}", m.id)) {
                                (csrf(staff)) button.secondary type="submit" { (lang.t("移出名册", "Remove")) }
                            }
                        } }
                    }
                } }
            } }
        }
    }
}

fn add_form(staff: &Staff, org: i64) -> Markup {
    let lang = staff.lang;
    html! {
        h2 { (lang.t("添加调解员", "Add a mediator")) }
        form.stack method="post" action=(format!("/console/cases/rota?org={org}")) id="add-mediator" {
            (csrf(staff))
            label { (lang.t("工作人员手机号", "Staff phone")) input type="tel" name="phone" required; }
            fieldset { legend { (lang.t("值班日", "Duty days")) }
                @for (n, (zh, en)) in WEEKDAYS.iter().enumerate() {
                    label.check { input type="checkbox" name="day" value=(n + 1) checked[n < 5]; (lang.t(zh, en)) }
                }
            }
            button type="submit" { (lang.t("添加", "Add")) }
        }
    }
}

#[derive(Deserialize)]
pub struct AddForm {
    phone: String,
}

async fn add(
    req: HttpRequest,
    query: web::Query<OrgQuery>,
    submitted: Submitted<AddForm>,
) -> PageResult {
    let (db, identity) = (app_data::<Db>(&req)?, app_data::<Identity>(&req)?);
    let org = query
        .org
        .ok_or_else(|| Error::invalid(ErrorCode::MissingField, "org"))?;
    let days: Vec<u8> = submitted
        .all("day")
        .filter_map(|d| d.parse().ok())
        .collect();
    let Submitted { staff, form, .. } = submitted;
    let parsed = Phone::parse(&form.phone)
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidPhone, "phone"))
        .and_then(|phone| {
            let days = Weekdays::parse(&days)
                .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "duty_days"))?;
            Ok((phone, days))
        });
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = match parsed {
        Ok(who) => db
            .write(move |conn| mediators::add(conn, &identity, (&user, &actor), org, who))
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    back(
        &staff,
        org,
        outcome,
        ("已加入调解员名册。", "Added to the rota."),
    )
}

async fn remove(
    req: HttpRequest,
    id: web::Path<i64>,
    query: web::Query<OrgQuery>,
    submitted: Submitted<forms::Empty>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let (id, staff) = (id.into_inner(), submitted.staff);
    let org = query.org.unwrap_or_default();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = db
        .write(move |conn| mediators::remove(conn, (&user, &actor), id))
        .await;
    back(
        &staff,
        org,
        outcome,
        ("已移出名册。", "Removed from the rota."),
    )
}

fn back(staff: &Staff, org: i64, outcome: Result<(), Error>, done: (&str, &str)) -> PageResult {
    staff.answer(format!("/console/cases/rota?org={org}"), done, outcome)
}

/// `?org=&from=&to=`: an empty or missing day means last calendar month.
#[derive(Deserialize)]
struct StatsQuery {
    org: Option<i64>,
    from: Option<String>,
    to: Option<String>,
}

async fn load(req: &HttpRequest, staff: &Staff) -> Result<(OrgChoice, Option<CaseFigures>), Error> {
    let db = app_data::<Db>(req)?;
    let query: StatsQuery = forms::parse(req.query_string().as_bytes())?;
    let period = PeriodQuery {
        from: optional::<NaiveDate>(&query.from, "from")?,
        to: optional::<NaiveDate>(&query.to, "to")?,
    }
    .validate()?;
    let user = staff.user.clone();
    db.run(move |conn| {
        let choice = OrgChoice::load(conn, &user, query.org)?;
        let figures = match choice.current {
            Some(org) => Some(stats::figures(conn, &user, org, period)?),
            None => None,
        };
        Ok((choice, figures))
    })
    .await
}

async fn stats_page(req: HttpRequest, staff: Staff) -> PageResult {
    let (choice, figures) = load(&req, &staff).await?;
    let lang = staff.lang;
    let body = match figures {
        Some(f) => html! {
            (choice.picker(lang, "/console/cases/stats"))
            form.inline method="get" action="/console/cases/stats" id="period" {
                input type="hidden" name="org" value=(f.org.id);
                label { (lang.t("从", "From")) input type="date" name="from" value=(f.period.from.to_string()); }
                label { (lang.t("到", "To")) input type="date" name="to" value=(f.period.to.to_string()); }
                button.secondary type="submit" { (lang.t("查看", "Show")) }
                a.button href=(format!("/console/cases/stats.csv?org={}&from={}&to={}", f.org.id, f.period.from, f.period.to)) { (lang.t("下载 CSV", "Download CSV")) }
            }
            div.table { table {
                thead { tr { th { (lang.t("指标", "Figure")) } th { (lang.t("数值", "Value")) } } }
                tbody { @for line in f.lines() { tr { td { (line.figure()) } td { (line.value()) } } } }
            } }
        },
        None => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Cases,
        lang.t("维权统计", "Case figures"),
        body,
    ))
}

async fn stats_csv(req: HttpRequest, staff: Staff) -> PageResult {
    let (_, figures) = load(&req, &staff).await?;
    let f = figures.ok_or_else(|| Error::new(ErrorCode::NotFound))?;
    let body = platform::csv::render(stats::COLUMNS, &f.lines(), staff.lang);
    let name = format!("维权案件统计-{}-{}", f.period.from, f.period.to);
    let ascii = format!("case-stats-{}-{}", f.period.from, f.period.to);
    Ok(platform::csv::download(&ascii, &name, body))
}
