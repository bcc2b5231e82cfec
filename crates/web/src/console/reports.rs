//! Reports: the figures a union sends up the tree, for any period and subtree (last calendar
//! month by default): members who joined, left and transferred, benefits claimed, redeemed,
//! booked and checked in, station visits; per district, and for members per occupation and
//! platform too. One page with charts, and the same figures as one CSV (a row per figure),
//! both built from one list of tables, so they cannot differ. Counts only: nothing here names
//! a person, so reading it is not recorded.

use actix_web::{web, HttpRequest};
use benefits::figures::BenefitFigures;
use benefits::ledger::Counts;
use chrono::NaiveDate;
use identity::AuthUser;
use maud::{html, Markup};
use membership::reports::{MemberCounts, MembershipFigures, Period, PeriodQuery};
use platform::csv::{self, Column};
use platform::{Db, DbConn, Result};
use serde::Deserialize;
use stations::visits::{StationFigures, VisitCounts};

use crate::charts;
use crate::console::{indent, no_org, OrgChoice};
use crate::errors::PageResult;
use crate::forms::{self, optional};
use crate::i18n::{Lang, Pick};
use crate::labels;
use crate::layout::{self, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::get().to(page))
        .route("/reports.csv", web::get().to(download));
}

/// `?org=&from=&to=`: an empty or missing day means the default period.
#[derive(Debug, Default, Deserialize)]
struct ReportQuery {
    org: Option<i64>,
    from: Option<String>,
    to: Option<String>,
}

impl ReportQuery {
    fn of(req: &HttpRequest) -> Result<(Option<i64>, Period)> {
        let query: ReportQuery = forms::parse(req.query_string().as_bytes())?;
        let period = PeriodQuery {
            from: optional::<NaiveDate>(&query.from, "from")?,
            to: optional::<NaiveDate>(&query.to, "to")?,
        }
        .validate()?;
        Ok((query.org, period))
    }
}

/// The three domains' figures of one org and period, each from its own use case.
struct Report {
    members: MembershipFigures,
    benefits: BenefitFigures,
    stations: StationFigures,
}

impl Report {
    fn load(conn: &mut DbConn, user: &AuthUser, org: i64, period: Period) -> Result<Report> {
        Ok(Report {
            members: membership::reports::figures(conn, user, org, period)?,
            benefits: benefits::figures::figures(conn, user, org, period)?,
            stations: stations::visits::figures(conn, user, org, period)?,
        })
    }
}

/// One figure of a section: its code (the CSV's English and the page's cells), its words.
struct Figure<T> {
    code: &'static str,
    zh: &'static str,
    en: &'static str,
    value: fn(&T) -> i64,
}

const MEMBER_FIGURES: [Figure<MemberCounts>; 4] = [
    Figure {
        code: "joined",
        zh: "入会",
        en: "Joined",
        value: |c| c.joined,
    },
    Figure {
        code: "left",
        zh: "离会",
        en: "Left",
        value: |c| c.left,
    },
    Figure {
        code: "transferred_in",
        zh: "转入",
        en: "Transferred in",
        value: |c| c.transferred_in,
    },
    Figure {
        code: "transferred_out",
        zh: "转出",
        en: "Transferred out",
        value: |c| c.transferred_out,
    },
];

const BENEFIT_FIGURES: [Figure<Counts>; 6] = [
    Figure {
        code: "claimed",
        zh: "领取",
        en: "Claimed",
        value: |c| c.claimed,
    },
    Figure {
        code: "redeemed",
        zh: "核销",
        en: "Redeemed",
        value: |c| c.redeemed,
    },
    Figure {
        code: "vouchers_expired",
        zh: "券过期",
        en: "Vouchers expired",
        value: |c| c.vouchers_expired,
    },
    Figure {
        code: "booked",
        zh: "体检预约",
        en: "Booked",
        value: |c| c.booked,
    },
    Figure {
        code: "checked_in",
        zh: "体检签到",
        en: "Checked in",
        value: |c| c.checked_in,
    },
    Figure {
        code: "no_shows",
        zh: "未到",
        en: "No-shows",
        value: |c| c.no_shows,
    },
];

const VISIT_FIGURES: [Figure<VisitCounts>; 2] = [
    Figure {
        code: "visits",
        zh: "到访",
        en: "Visits",
        value: |c| c.visits,
    },
    Figure {
        code: "member_visits",
        zh: "会员到访",
        en: "Member visits",
        value: |c| c.member_visits,
    },
];

/// What a row of a table stands for.
#[derive(Debug, Clone, Copy)]
enum Breakdown {
    Total,
    /// The org itself, outside every district.
    Own,
    District,
    Occupation,
    Platform,
}

impl Breakdown {
    fn code(self) -> &'static str {
        match self {
            Breakdown::Total => "total",
            Breakdown::Own => "own",
            Breakdown::District => "district",
            Breakdown::Occupation => "occupation",
            Breakdown::Platform => "platform",
        }
    }

    fn label(self, lang: Lang) -> &'static str {
        match self {
            Breakdown::Total => lang.t("合计", "Total"),
            Breakdown::Own => lang.t("本级", "Own"),
            Breakdown::District => lang.t("下级组织", "District"),
            Breakdown::Occupation => lang.t("职业", "Occupation"),
            Breakdown::Platform => lang.t("平台", "Platform"),
        }
    }
}

/// One row: what it counts (shown, and as a stable code for the page's cells) and its values.
struct Row {
    breakdown: Breakdown,
    key: String,
    code: String,
    values: Vec<i64>,
}

/// A section's table: its columns are its figures.
struct Table {
    section: &'static str,
    title: &'static str,
    columns: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
}

fn table<'a, T: 'a>(
    lang: Lang,
    (section, title): (&'static str, &'static str),
    figures: &[Figure<T>],
    rows: impl IntoIterator<Item = (Breakdown, String, String, &'a T)>,
) -> Table {
    Table {
        section,
        title,
        columns: figures
            .iter()
            .map(|f| (f.code, lang.t(f.zh, f.en)))
            .collect(),
        rows: rows
            .into_iter()
            .map(|(breakdown, key, code, counts)| Row {
                breakdown,
                key,
                code,
                values: figures.iter().map(|f| (f.value)(counts)).collect(),
            })
            .collect(),
    }
}

/// The rows every section has: the total, the org itself, each district.
fn org_rows<'a, T>(
    lang: Lang,
    org: &membership::orgs::OrgRef,
    totals: &'a T,
    own: &'a T,
    districts: impl IntoIterator<Item = (&'a membership::orgs::OrgRef, &'a T)>,
) -> Vec<(Breakdown, String, String, &'a T)> {
    let mut rows = vec![
        (
            Breakdown::Total,
            lang.t("全部", "All").to_owned(),
            "all".to_owned(),
            totals,
        ),
        (Breakdown::Own, org.name.clone(), org.id.to_string(), own),
    ];
    rows.extend(districts.into_iter().map(|(d, counts)| {
        (
            Breakdown::District,
            d.name.clone(),
            d.id.to_string(),
            counts,
        )
    }));
    rows
}

fn tables(lang: Lang, report: &Report) -> Vec<Table> {
    let m = &report.members;
    let mut member_rows = org_rows(
        lang,
        &m.org,
        &m.totals,
        &m.own,
        m.by_district.iter().map(|d| (&d.org, &d.counts)),
    );
    member_rows.extend(m.by_occupation.iter().map(|o| {
        let label = labels::occupation(lang, o.occupation).to_owned();
        let code = o.occupation.as_str().to_owned();
        (Breakdown::Occupation, label, code, &o.counts)
    }));
    member_rows.extend(m.by_platform.iter().map(|p| {
        let (key, code) = (p.platform.clone(), p.platform.clone());
        (Breakdown::Platform, key, code, &p.counts)
    }));
    let b = &report.benefits;
    let s = &report.stations;
    vec![
        table(
            lang,
            ("members", lang.t("会员", "Members")),
            &MEMBER_FIGURES,
            member_rows,
        ),
        table(
            lang,
            ("benefits", lang.t("权益", "Benefits")),
            &BENEFIT_FIGURES,
            org_rows(
                lang,
                &b.org,
                &b.totals,
                &b.own,
                b.by_district.iter().map(|d| (&d.org, &d.counts)),
            ),
        ),
        table(
            lang,
            ("stations", lang.t("驿站", "Stations")),
            &VISIT_FIGURES,
            org_rows(
                lang,
                &s.org,
                &s.totals,
                &s.own,
                s.by_district.iter().map(|d| (&d.org, &d.counts)),
            ),
        ),
    ]
}

fn params(org: i64, period: Period) -> String {
    let pairs = [
        ("org", org.to_string()),
        ("from", period.from.to_string()),
        ("to", period.to.to_string()),
    ];
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The period asked for, the org picker, and the report of the org it settles on (None for
/// staff without any org).
async fn fetch(req: &HttpRequest, staff: &Staff) -> Result<(Period, OrgChoice, Option<Report>)> {
    let (asked, period) = ReportQuery::of(req)?;
    let db = app_data::<Db>(req)?;
    let user = staff.user.clone();
    let (choice, report) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, asked)?;
            let report = match choice.current {
                Some(org) => Some(Report::load(conn, &user, org, period)?),
                None => None,
            };
            Ok((choice, report))
        })
        .await?;
    Ok((period, choice, report))
}

async fn page(req: HttpRequest, staff: Staff) -> PageResult {
    let (period, choice, report) = fetch(&req, &staff).await?;
    let lang = staff.lang;
    let body = match (choice.current, report) {
        (Some(org), Some(report)) => html! {
            (period_form(lang, &choice, period))
            p.actions {
                a.button.secondary href=(format!("/console/reports.csv?{}", params(org, period))) id="download-csv" {
                    (lang.t("下载 CSV", "Download CSV"))
                }
            }
            p.muted { (lang.t(
                "按北京时间自然日统计；下级组织含其全部下属组织。只有人数，不含个人信息。",
                "Days in Beijing time; each district includes every org below it. Counts only, no personal data.",
            )) }
            @for t in tables(lang, &report) { (section(lang, &t)) }
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Reports,
        lang.t("报表", "Reports"),
        body,
    ))
}

fn period_form(lang: Lang, choice: &OrgChoice, period: Period) -> Markup {
    html! {
        form.inline method="get" action="/console/reports" id="report-period" {
            label { (lang.t("组织", "Org"))
                select name="org" {
                    @for node in &choice.orgs {
                        option value=(node.id) selected[Some(node.id) == choice.current] {
                            (indent(node.depth)) (node.name)
                        }
                    }
                }
            }
            label { (lang.t("自", "From")) input type="date" name="from" required value=(period.from.to_string()); }
            label { (lang.t("至", "To")) input type="date" name="to" required value=(period.to.to_string()); }
            button type="submit" { (lang.t("查看", "Show")) }
        }
    }
}

/// A section: its chart (the first two figures per district) and its table.
fn section(lang: Lang, t: &Table) -> Markup {
    let bars: Vec<(String, i64, i64)> = t
        .rows
        .iter()
        .filter(|r| matches!(r.breakdown, Breakdown::District))
        .map(|r| (r.key.clone(), r.values[0], r.values[1]))
        .collect();
    let chart_title = format!("{} · {}", t.title, lang.t("各下级组织", "per district"));
    html! {
        h2 id=(t.section) { (t.title) }
        (charts::bar_pairs(&chart_title, (t.columns[0].1, t.columns[1].1), &bars))
        div.table { table data-section=(t.section) {
            thead { tr {
                th { (lang.t("维度", "Breakdown")) } th { (lang.t("项", "Key")) }
                @for (_, label) in &t.columns { th { (label) } }
            } }
            tbody { @for r in &t.rows {
                tr data-breakdown=(r.breakdown.code()) {
                    td { (r.breakdown.label(lang)) } td { (r.key) }
                    @for ((figure, _), value) in t.columns.iter().zip(&r.values) {
                        td data-cell=(format!("{}.{figure}.{}.{}", t.section, r.breakdown.code(), r.code)) { (value) }
                    }
                }
            } }
        } }
    }
}

/// A line of the file: one figure.
struct Line {
    org: String,
    from: String,
    to: String,
    section: String,
    breakdown: String,
    key: String,
    figure: String,
    value: i64,
}

/// The file's columns; in English the codes, as the JSON routes name them.
const COLUMNS: [Column<Line>; 8] = [
    Column {
        zh: "组织",
        en: "org",
        value: |l, _| l.org.clone(),
    },
    Column {
        zh: "起始日期",
        en: "from",
        value: |l, _| l.from.clone(),
    },
    Column {
        zh: "截止日期",
        en: "to",
        value: |l, _| l.to.clone(),
    },
    Column {
        zh: "栏目",
        en: "section",
        value: |l, _| l.section.clone(),
    },
    Column {
        zh: "维度",
        en: "breakdown",
        value: |l, _| l.breakdown.clone(),
    },
    Column {
        zh: "项",
        en: "key",
        value: |l, _| l.key.clone(),
    },
    Column {
        zh: "指标",
        en: "figure",
        value: |l, _| l.figure.clone(),
    },
    Column {
        zh: "数值",
        en: "value",
        value: |l, _| l.value.to_string(),
    },
];

/// Every figure of the tables, a line each.
fn lines(lang: Lang, org: &str, period: Period, tables: &[Table]) -> Vec<Line> {
    let en = matches!(lang, Lang::En);
    let mut lines = Vec::new();
    for t in tables {
        for r in &t.rows {
            for ((code, label), value) in t.columns.iter().zip(&r.values) {
                lines.push(Line {
                    org: org.to_owned(),
                    from: period.from.to_string(),
                    to: period.to.to_string(),
                    section: if en { t.section } else { t.title }.to_owned(),
                    breakdown: if en {
                        r.breakdown.code()
                    } else {
                        r.breakdown.label(lang)
                    }
                    .to_owned(),
                    key: r.key.clone(),
                    figure: if en { code } else { label }.to_string(),
                    value: *value,
                });
            }
        }
    }
    lines
}

/// The page's figures as one CSV, in the console's language.
async fn download(req: HttpRequest, staff: Staff) -> PageResult {
    let (period, choice, report) = fetch(&req, &staff).await?;
    let lang = staff.lang;
    let (Some(org), Some(report)) = (choice.current, report) else {
        return Ok(layout::console(
            &staff,
            Section::Reports,
            lang.t("报表", "Reports"),
            no_org(lang),
        ));
    };
    let name = report.members.org.name.clone();
    let body = csv::render(
        &COLUMNS,
        &lines(lang, &name, period, &tables(lang, &report)),
        lang,
    );
    let days = format!("{}-{}", period.from, period.to);
    Ok(csv::download(
        &format!("report-{org}-{days}"),
        &format!("{}-{name}-{days}", lang.t("报表", "report")),
        body,
    ))
}
