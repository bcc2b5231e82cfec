//! The monthly report: members who joined, left and transferred, benefits claimed, redeemed,
//! booked and checked in, station visits, for a period and a subtree. Over two months of app
//! time, every figure of the three routes equals the count recomputed here from the raw rows;
//! another district's staff get 404; the console page and its CSV show the same numbers.

use std::collections::BTreeMap;
use std::time::Duration as Std;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use gigunion_tests::console::Console;
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, phone, spawn_app_with, Districts, TestApp};
use platform::clock::shanghai_midnight;
use platform::schema::{
    benefit_ledger as l, memberships as ms, orgs as o, programs as p, station_visits as v,
    stations as s,
};

/// Figures by row ("total", "own", "district:{id}", "occupation:{code}", "platform:{name}"),
/// then by name, all-zero rows left out.
type Figures = BTreeMap<String, BTreeMap<String, i64>>;

const MEMBER_FIGURES: [&str; 4] = ["joined", "left", "transferred_in", "transferred_out"];
const BENEFIT_FIGURES: [&str; 12] = [
    "claimed",
    "entered",
    "won",
    "redeemed",
    "vouchers_expired",
    "booked",
    "waitlisted",
    "promoted",
    "cancelled",
    "checked_in",
    "no_shows",
    "reports",
];
const VISIT_FIGURES: [&str; 2] = ["visits", "member_visits"];

/// An app whose tokens outlive the two months the test moves its clock through, and whose
/// staff sign in to the console (an SMS code each) without waiting a minute.
async fn app() -> TestApp {
    spawn_app_with(|config| {
        config.limits.otp_per_phone_minute = platform::Rate::per_minute(60);
        config.access_ttl = Std::from_secs(90 * 86_400);
    })
    .await
}

async fn ok(res: gigunion_tests::reqwest::Response) -> Value {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

async fn join(app: &TestApp, token: &str, code: &str, occupation: &str, platform: &str) {
    let body = json!({ "join_code": code, "occupation": occupation, "platform": platform, "work_city": "南京" });
    ok(app.post("/v1/memberships", &body, Some(token)).await).await;
}

async fn transfer(app: &TestApp, token: &str, code: &str) {
    let body = json!({ "join_code": code });
    ok(app
        .post("/v1/me/membership/transfer", &body, Some(token))
        .await)
    .await;
}

async fn leave(app: &TestApp, token: &str) {
    let res = app
        .request(Method::DELETE, "/v1/me/membership")
        .bearer_auth(token)
        .json(&json!({ "reason": "换工作了" }))
        .send()
        .await
        .unwrap();
    ok(res).await;
}

async fn scan(app: &TestApp, staff: &str, code: &Value) -> Value {
    ok(app
        .post(
            "/v1/admin/redemptions",
            &json!({ "code": code }),
            Some(staff),
        )
        .await)
    .await
}

async fn visit(app: &TestApp, token: &str, station: i64, door: &str) {
    let path = format!("/v1/stations/{station}/visits");
    ok(app.post(&path, &json!({ "code": door }), Some(token)).await).await;
}

/// The figures of a route's answer, in [`Figures`]' shape.
fn answered(report: &Value, names: &[&str]) -> Figures {
    let mut rows: Vec<(String, &Value)> = vec![
        ("total".into(), &report["totals"]),
        ("own".into(), &report["own"]),
    ];
    for d in report["by_district"].as_array().unwrap() {
        rows.push((format!("district:{}", d["org"]["id"]), d));
    }
    for o in report["by_occupation"].as_array().into_iter().flatten() {
        rows.push((
            format!("occupation:{}", o["occupation"].as_str().unwrap()),
            o,
        ));
    }
    for p in report["by_platform"].as_array().into_iter().flatten() {
        rows.push((format!("platform:{}", p["platform"].as_str().unwrap()), p));
    }
    let mut figures = Figures::new();
    for (key, row) in rows {
        for name in names {
            let n = row[*name]
                .as_i64()
                .unwrap_or_else(|| panic!("{key}.{name}"));
            if n != 0 {
                *figures
                    .entry(key.clone())
                    .or_default()
                    .entry(name.to_string())
                    .or_default() += n;
            }
        }
    }
    figures
}

/// Counts one under `name`: in the total, in `district` (or `own`) and in the `extra` rows.
fn tally(figures: &mut Figures, district: &str, extra: &[String], name: &str) {
    for key in ["total", district]
        .iter()
        .copied()
        .map(str::to_owned)
        .chain(extra.iter().cloned())
    {
        *figures
            .entry(key)
            .or_default()
            .entry(name.to_owned())
            .or_default() += 1;
    }
}

/// The row key of `org` in a report on `top`: its district (the child of `top` above it), or
/// `own`; None outside the subtree.
fn district_key(parents: &BTreeMap<i64, Option<i64>>, top: i64, org: i64) -> Option<String> {
    if org == top {
        return Some("own".into());
    }
    let mut at = org;
    loop {
        match parents[&at] {
            Some(parent) if parent == top => return Some(format!("district:{at}")),
            Some(parent) => at = parent,
            None => return None,
        }
    }
}

/// A membership row as the recomputation reads it.
type Period = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<String>,
);

/// The raw rows the reports count: orgs' parents, memberships, ledger rows with their
/// programs' orgs, visits with their stations' orgs.
struct Raw {
    parents: BTreeMap<i64, Option<i64>>,
    periods: Vec<Period>,
    ledger: Vec<(String, NaiveDateTime, i64)>,
    visits: Vec<(NaiveDate, bool, i64)>,
}

async fn raw(app: &TestApp) -> Raw {
    app.db
        .run(|conn| {
            let parents: Vec<(i64, Option<i64>)> =
                o::table.select((o::id, o::parent_id)).load(conn)?;
            let periods: Vec<Period> = ms::table
                .select((
                    ms::id,
                    ms::account_id,
                    ms::org_id,
                    ms::status,
                    ms::occupation,
                    ms::platform,
                    ms::started_at,
                    ms::ended_at,
                    ms::end_reason,
                ))
                .load(conn)?;
            let ledger = l::table
                .inner_join(p::table.on(p::id.eq(l::program_id)))
                .select((l::kind, l::at, p::org_id))
                .load(conn)?;
            let visits = v::table
                .inner_join(s::table.on(s::id.eq(v::station_id)))
                .select((v::local_date, v::member, s::org_id))
                .load(conn)?;
            Ok(Raw {
                parents: parents.into_iter().collect(),
                periods,
                ledger,
                visits,
            })
        })
        .await
        .unwrap()
}

/// The three reports' figures recomputed from the raw rows, for `day` and `top`'s subtree.
async fn recomputed(app: &TestApp, top: i64, day: NaiveDate) -> (Figures, Figures, Figures) {
    let raw = raw(app).await;
    let (start, end) = (
        shanghai_midnight(day),
        shanghai_midnight(day + Duration::days(1)),
    );
    let within = |t: Option<NaiveDateTime>| t.is_some_and(|t| t >= start && t < end);
    let district = |org: i64| district_key(&raw.parents, top, org);
    let mut benefits = Figures::new();
    for (kind, at, org) in &raw.ledger {
        let name = match kind.as_str() {
            "lost" => continue,
            "voucher_expired" => "vouchers_expired",
            "no_show" => "no_shows",
            "report_attached" => "reports",
            other => other,
        };
        if let Some(d) = district(*org).filter(|_| within(Some(*at))) {
            tally(&mut benefits, &d, &[], name);
        }
    }
    let mut stations = Figures::new();
    for (date, member, org) in &raw.visits {
        if let Some(d) = district(*org).filter(|_| *date == day) {
            tally(&mut stations, &d, &[], "visits");
            if *member {
                tally(&mut stations, &d, &[], "member_visits");
            }
        }
    }
    let members = members_of(&raw.periods, &district, &within);
    (members, benefits, stations)
}

/// Joined, left and transfers of the periods that `within` takes, in their `district`.
fn members_of(
    periods: &[Period],
    district: &dyn Fn(i64) -> Option<String>,
    within: &dyn Fn(Option<NaiveDateTime>) -> bool,
) -> Figures {
    let mut members = Figures::new();
    for m in periods {
        let (_, account, org, status, occupation, platform, started, ended, reason) = m;
        let Some(district) = district(*org) else {
            continue;
        };
        let extra = [
            format!("occupation:{occupation}"),
            format!("platform:{platform}"),
        ];
        if within(*started) {
            // A transfer in: the account's period before this one ended by transfer.
            let before = periods
                .iter()
                .filter(|e| e.1 == *account && e.6.is_some() && e.6 < *started)
                .max_by_key(|e| e.6);
            let moved = before.is_some_and(|e| e.8.as_deref() == Some("transferred"));
            let name = if moved { "transferred_in" } else { "joined" };
            tally(&mut members, &district, &extra, name);
        }
        if status == "ended" && within(*ended) {
            let moved = reason.as_deref() == Some("transferred");
            let name = if moved { "transferred_out" } else { "left" };
            tally(&mut members, &district, &extra, name);
        }
    }
    members
}

async fn report(app: &TestApp, token: &str, org: i64, part: &str, day: NaiveDate) -> Value {
    let path = format!("/v1/admin/orgs/{org}/report/{part}?from={day}&to={day}");
    ok(app.get(&path, Some(token)).await).await
}

/// One figure of `figures` (0 when absent).
fn figure(figures: &Figures, key: &str, name: &str) -> i64 {
    figures
        .get(key)
        .and_then(|f| f.get(name))
        .copied()
        .unwrap_or(0)
}

/// The people and places of the story, with their tokens and codes.
struct Cast {
    d: Districts,
    city_staff: String,
    /// Workers `phone(12..=17)`.
    w: Vec<String>,
    /// Two riders of Xuanwu (美团), members before the period.
    bulk: Vec<String>,
    /// Auto-approving join codes of Xuanwu, Qinhuai and the city; one of Xuanwu staff review.
    codes: [String; 4],
    station: i64,
    door: String,
}

async fn code(app: &TestApp, token: &str, org: i64, auto_approve: bool) -> String {
    let settings = json!({ "label": "入会点", "auto_approve": auto_approve });
    let code = app.join_code(token, org, settings).await;
    code["code"].as_str().unwrap().to_owned()
}

/// Before the period (the app's today): two riders and a courier join Xuanwu, a rider
/// Qinhuai; a station of Xuanwu gets a visit.
async fn before_the_period(app: &TestApp) -> Cast {
    let d = app.nanjing_districts((1, 2)).await;
    app.register(&phone(3)).await;
    app.grant_staff(&d.admin, d.city, &phone(3)).await;
    let city_staff = app.token_of(&phone(3)).await;
    let mut w = Vec::new();
    for n in 12..=17 {
        w.push(app.worker(n).await.token);
    }
    let bulk = app.bulk_members(d.xuanwu, 500, 2, "rider").await;
    let bulk = bulk.into_iter().map(|w| w.token).collect();
    let codes = [
        code(app, &d.staff_a, d.xuanwu, true).await,
        code(app, &d.staff_b, d.qinhuai, true).await,
        code(app, &city_staff, d.city, true).await,
        code(app, &d.staff_a, d.xuanwu, false).await,
    ];
    join(app, &w[0], &codes[0], "courier", "顺丰").await;
    join(app, &w[1], &codes[1], "rider", "饿了么").await;
    let body = json!({
        "name": "幸福驿站", "address": "南京市玄武区幸福路1号", "location": { "lat": 32.05, "lng": 118.80 },
        "amenities": ["drinking_water"], "hours": { "open_24h": true },
    });
    let path = format!("/v1/admin/orgs/{}/stations", d.xuanwu);
    let station = ok(app.post(&path, &body, Some(&d.staff_a)).await).await;
    let door = station["door_url"].as_str().unwrap();
    let door = door.split("?c=").nth(1).unwrap().to_owned();
    let station = station["id"].as_i64().unwrap();
    visit(app, &w[1], station, &door).await;
    Cast {
        d,
        city_staff,
        w,
        bulk,
        codes,
        station,
        door,
    }
}

/// A published program of `org` open from an hour ago (app time) for a week.
async fn program(app: &TestApp, staff: &str, org: i64, body: Value) -> i64 {
    let now = app.now();
    let mut body = body;
    body["starts_at"] = json!((now - Duration::hours(1)).to_rfc3339());
    body["ends_at"] = json!((now + Duration::days(7)).to_rfc3339());
    app.published_program(staff, org, body).await["id"]
        .as_i64()
        .unwrap()
}

/// The period's day, from 09:00: three join (Xuanwu, Qinhuai, the city itself), one applies and
/// waits, a rider moves from Xuanwu to Qinhuai, the courier leaves; two gift packs claimed in
/// Xuanwu and one handed out; two health checks booked in Qinhuai and one checked in; two
/// station visits, one by a member. Answers the gift pack.
async fn the_period(app: &TestApp, c: &Cast) -> i64 {
    let (w, d) = (&c.w, &c.d);
    join(app, &w[2], &c.codes[0], "ride_hailing_driver", "滴滴出行").await;
    join(app, &w[3], &c.codes[1], "rider", "美团").await;
    join(app, &w[4], &c.codes[2], "other", "货拉拉").await;
    join(app, &w[5], &c.codes[3], "truck_driver", "满帮").await;
    transfer(app, &c.bulk[0], &c.codes[1]).await;
    leave(app, &w[0]).await;

    let pack =
        json!({ "kind": "gift_pack", "title": "暖新礼包", "stock": 10, "voucher_valid_days": 30 });
    let pack = program(app, &d.staff_a, d.xuanwu, pack).await;
    let claim = |token: String| async move {
        let path = format!("/v1/programs/{pack}/claims");
        ok(app.post(&path, &json!({}), Some(&token)).await).await
    };
    let voucher = claim(w[2].clone()).await;
    claim(c.bulk[1].clone()).await;
    assert_eq!(
        scan(app, &d.staff_a, &voucher["code"]).await["outcome"],
        "redeemed"
    );

    let check = json!({ "kind": "health_check", "title": "体检车进秦淮" });
    let check = program(app, &d.staff_b, d.qinhuai, check).await;
    let starts = app.now() + Duration::hours(2);
    let session = json!({ "site_name": "秦淮驿站", "address": "南京市秦淮区中华路",
        "starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(2)).to_rfc3339(), "capacity": 10 });
    let path = format!("/v1/admin/programs/{check}/sessions");
    let session = ok(app.post(&path, &session, Some(&d.staff_b)).await).await["id"].clone();
    let path = format!("/v1/sessions/{session}/bookings");
    let booking = ok(app.post(&path, &json!({}), Some(&w[1])).await).await;
    ok(app.post(&path, &json!({}), Some(&w[3])).await).await;

    visit(app, &w[2], c.station, &c.door).await;
    visit(app, &w[5], c.station, &c.door).await;
    // 10:30, in the check-in window (from an hour before the session).
    app.advance_clock(Duration::minutes(90));
    let checked = scan(app, &d.staff_b, &booking["code"]).await;
    assert_eq!(checked["outcome"], "checked_in");
    pack
}

/// Four days on: the new driver leaves, the city's member moves to Xuanwu and claims a pack,
/// the driver visits the station again, no longer a member.
async fn after_the_period(app: &TestApp, c: &Cast, pack: i64) {
    app.advance_clock(Duration::days(4));
    leave(app, &c.w[2]).await;
    transfer(app, &c.w[4], &c.codes[0]).await;
    let path = format!("/v1/programs/{pack}/claims");
    ok(app.post(&path, &json!({}), Some(&c.w[4])).await).await;
    visit(app, &c.w[2], c.station, &c.door).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figures_are_the_records_counted_for_the_period_and_the_subtree() {
    let app = app().await;
    let cast = before_the_period(&app).await;
    app.advance_clock(Duration::days(35));
    app.advance_clock_to_shanghai(9, 0);
    let day = platform::clock::local(app.now()).date();
    let pack = the_period(&app, &cast).await;
    after_the_period(&app, &cast, pack).await;
    let (d, city) = (&cast.d, cast.d.city);

    let members = report(&app, &cast.city_staff, city, "members", day).await;
    let benefits = report(&app, &cast.city_staff, city, "benefits", day).await;
    let stations = report(&app, &cast.city_staff, city, "stations", day).await;
    assert_eq!(members["period"], json!({ "from": day, "to": day }));
    let (m, b, s) = recomputed(&app, city, day).await;
    assert_eq!(answered(&members, &MEMBER_FIGURES), m);
    assert_eq!(answered(&benefits, &BENEFIT_FIGURES), b);
    assert_eq!(answered(&stations, &VISIT_FIGURES), s);

    // What the story says, so that a recomputation sharing a mistake cannot pass.
    let (x, q) = (
        format!("district:{}", d.xuanwu),
        format!("district:{}", d.qinhuai),
    );
    let counted = |f: &Figures, key: &str, names: &[&str]| -> Vec<i64> {
        names.iter().map(|n| figure(f, key, n)).collect()
    };
    assert_eq!(counted(&m, "total", &MEMBER_FIGURES), [3, 1, 1, 1]);
    assert_eq!(counted(&m, &x, &MEMBER_FIGURES), [1, 1, 0, 1]);
    assert_eq!(counted(&m, &q, &MEMBER_FIGURES), [1, 0, 1, 0]);
    assert_eq!(counted(&m, "own", &MEMBER_FIGURES), [1, 0, 0, 0]);
    assert_eq!(
        counted(&m, "occupation:rider", &MEMBER_FIGURES),
        [1, 0, 1, 1]
    );
    assert_eq!(counted(&m, "platform:顺丰", &MEMBER_FIGURES), [0, 1, 0, 0]);
    assert_eq!(
        m.get("occupation:truck_driver"),
        None,
        "a pending application is no member"
    );
    let gifts = ["claimed", "redeemed", "booked", "checked_in"];
    assert_eq!(counted(&b, &x, &gifts), [2, 1, 0, 0]);
    assert_eq!(counted(&b, &q, &gifts), [0, 0, 2, 1]);
    assert_eq!(counted(&s, &x, &VISIT_FIGURES), [2, 1]);
    let names: Vec<&str> = members["by_district"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["org"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["玄武区总工会", "秦淮区总工会"], "by name");

    // A district's own report: everything is its own. The other district's staff: 404.
    let own = report(&app, &d.staff_a, d.xuanwu, "members", day).await;
    assert_eq!(own["totals"], own["own"]);
    assert_eq!(own["by_district"], json!([]));
    for part in ["members", "benefits", "stations"] {
        let path = format!(
            "/v1/admin/orgs/{}/report/{part}?from={day}&to={day}",
            d.xuanwu
        );
        assert_problem(app.get(&path, Some(&d.staff_b)).await, 404, "not_found").await;
    }
    let backwards = format!(
        "/v1/admin/orgs/{city}/report/members?from={day}&to={}",
        day - Duration::days(1)
    );
    let refused = assert_problem(
        app.get(&backwards, Some(&cast.city_staff)).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(refused["field"], "from");

    console_shows_the_same(&app, city, day, [&members, &benefits, &stations]).await;
}

/// Every figure the console shows, from the routes' answers: the page's cell and the English
/// CSV's line of each, in the page's order.
fn shown(reports: [&Value; 3], day: NaiveDate) -> Vec<(String, String)> {
    let gifts = [
        "claimed",
        "redeemed",
        "vouchers_expired",
        "booked",
        "checked_in",
        "no_shows",
    ];
    let sections = [
        ("members", &MEMBER_FIGURES[..]),
        ("benefits", &gifts[..]),
        ("stations", &VISIT_FIGURES[..]),
    ];
    let name = |v: &Value| v.as_str().unwrap().to_owned();
    let mut shown = Vec::new();
    for ((section, names), report) in sections.iter().zip(reports) {
        let (org, totals) = (&report["org"], &report["totals"]);
        let mut rows: Vec<(&str, String, String, &Value)> = vec![
            ("total", "all".into(), "All".into(), totals),
            (
                "own",
                org["id"].to_string(),
                name(&org["name"]),
                &report["own"],
            ),
        ];
        for d in report["by_district"].as_array().unwrap() {
            let (id, key) = (d["org"]["id"].to_string(), name(&d["org"]["name"]));
            rows.push(("district", id, key, d));
        }
        for o in report["by_occupation"].as_array().into_iter().flatten() {
            rows.push((
                "occupation",
                name(&o["occupation"]),
                name(&o["occupation"]),
                o,
            ));
        }
        for p in report["by_platform"].as_array().into_iter().flatten() {
            rows.push(("platform", name(&p["platform"]), name(&p["platform"]), p));
        }
        for (breakdown, code, key, row) in rows {
            for figure in *names {
                let n = row[*figure].as_i64().unwrap();
                shown.push((
                    format!("data-cell=\"{section}.{figure}.{breakdown}.{code}\">{n}<"),
                    format!("南京市总工会,{day},{day},{section},{breakdown},{key},{figure},{n}"),
                ));
            }
        }
    }
    shown
}

/// The page's cells and the CSV's lines (Chinese, then English) are the routes' figures.
async fn console_shows_the_same(app: &TestApp, city: i64, day: NaiveDate, reports: [&Value; 3]) {
    let mut staff = Console::signed_in(app, &phone(3)).await;
    let query = format!("org={city}&from={day}&to={day}");
    let page = staff.get(&format!("/console/reports?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let shown = shown(reports, day);
    for (cell, _) in &shown {
        assert!(page.body.contains(cell), "{cell} in {}", page.body);
    }

    let csv = |staff: &Console| {
        let url = format!("{}/console/reports.csv?{query}", staff.base);
        let client = staff.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let zh = csv(&staff).await;
    assert!(zh.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let zh = zh.text().await.unwrap();
    assert!(
        zh.starts_with("\u{feff}组织,起始日期,截止日期,栏目,维度,项,指标,数值\r\n"),
        "{zh}"
    );
    let total = format!("\r\n南京市总工会,{day},{day},会员,合计,全部,入会,3\r\n");
    assert!(zh.contains(&total), "{zh}");

    staff.get("/lang/en?back=/console/reports").await;
    let en = csv(&staff).await.text().await.unwrap();
    let mut got: Vec<&str> = en.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert_eq!(
        got.remove(0),
        "org,from,to,section,breakdown,key,figure,value"
    );
    assert_eq!(got.pop(), Some(""), "every line ends with CRLF");
    let lines: Vec<&str> = shown.iter().map(|(_, line)| line.as_str()).collect();
    assert_eq!(got, lines);
}
