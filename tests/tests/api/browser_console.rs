//! The staff console in a real browser, as staff meet it: signing in with the SMS code and out
//! again, approving applications one by one and ticked together, revoking a colleague's grant,
//! redeeming a typed voucher code, creating and publishing a health check and reading its
//! roster, importing a station file with a faulty row and then a good one, finding a member and
//! opening their page, finding each of those in the audit log, seeing nothing of another
//! district, switching to English, and every page, with data on it, at a laptop's and a phone's
//! size without sideways scrolling (screenshots in `target/screenshots/console-*.png`).
//!
//! The rules themselves (CSRF, scopes, timeouts) are proved over plain HTTP in `console`; these
//! prove the pages work in Chromium: the forms, the `form=` buttons, the cookies, the layout.

use gigunion_tests::browser::fantoccini::{key::Key, Locator};
use gigunion_tests::browser::{Browser, LAPTOP};
use gigunion_tests::console::{console_app, Console};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{open_window, phone, TestApp, PASSWORD};

/// Signs in from `/console` as a new browser does: the password, then the SMS code.
async fn sign_in(browser: &Browser, app: &TestApp, phone: &str) {
    browser.goto("/console").await;
    password_step(browser, phone).await;
    code_step(browser, app, phone).await;
}

async fn password_step(browser: &Browser, phone: &str) {
    browser.fill("#sign-in input[name=phone]", phone).await;
    browser
        .fill("#sign-in input[name=password]", PASSWORD)
        .await;
    browser.submit("#sign-in").await;
    browser.wait_for("#verify").await;
}

async fn code_step(browser: &Browser, app: &TestApp, phone: &str) {
    let code = app.last_code(phone).expect("a sign-in code was sent");
    browser.fill("#verify input[name=code]", &code).await;
    browser.submit("#verify").await;
    browser.wait_for_path("/console").await;
}

/// Pending applications to `org` of riders `ns` (through one code that needs review); their
/// membership ids.
async fn applicants(app: &TestApp, staff: &str, org: i64, ns: &[u32]) -> Vec<i64> {
    let code = app
        .join_code(staff, org, json!({ "label": "审核入会" }))
        .await;
    let mut ids = Vec::new();
    for &n in ns {
        let rider = app.worker(n).await;
        let res = app.join(&rider.token, code["code"].as_str().unwrap()).await;
        let view: Value = res.json().await.unwrap();
        assert_eq!(view["status"], "pending", "{view}");
        ids.push(view["id"].as_i64().unwrap());
    }
    ids
}

/// Filters `org`'s audit log by `prefix` in the filter form, as staff do; the texts of the rows
/// shown, each checked to be of that prefix.
async fn audit_rows(browser: &Browser, org: i64, prefix: &str) -> Vec<String> {
    browser.goto(&format!("/console/audit?org={org}")).await;
    browser
        .fill("#audit-filter input[name=action]", prefix)
        .await;
    browser.submit("#audit-filter").await;
    let filtered = format!("action={prefix}");
    browser
        .until(&format!("the log filtered by {prefix}"), async |b| {
            let path = b.current_path().await;
            (path.starts_with("/console/audit?") && path.contains(&filtered)).then_some(())
        })
        .await;
    let matching = format!("tr[data-action^=\"{prefix}\"]");
    assert_eq!(
        browser.count("tr[data-action]").await,
        browser.count(&matching).await,
        "the filter shows only {prefix}*"
    );
    browser.texts(&matching).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_asks_for_the_sms_code_and_signing_out_ends_the_session() {
    let app = console_app().await;
    app.nanjing_districts((1, 2)).await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };

    browser.goto("/console").await;
    browser
        .wait_for_path("/console/sign-in?next=%2Fconsole")
        .await;
    password_step(&browser, &phone(1)).await;
    let asks = browser.text("main").await;
    assert!(asks.contains("验证码已发送至 139****0001"), "{asks}");
    code_step(&browser, &app, &phone(1)).await;
    assert_eq!(browser.text(".card strong").await, "玄武区总工会");

    let session = browser
        .cookie("gu_console")
        .await
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true), "{session}");
    assert!(
        session.same_site().is_some_and(|s| s.is_strict()),
        "{session}"
    );

    browser.click("#sign-out button").await;
    browser.wait_for_path("/console/sign-in").await;
    assert!(browser.cookie("gu_console").await.is_none(), "cleared");
    browser.goto("/console").await;
    browser
        .wait_for_path("/console/sign-in?next=%2Fconsole")
        .await;

    // This browser passed the second factor: the password alone lets it back in.
    browser.fill("#sign-in input[name=phone]", &phone(1)).await;
    browser
        .fill("#sign-in input[name=password]", PASSWORD)
        .await;
    browser.submit("#sign-in").await;
    browser.wait_for_path("/console").await;
    assert_eq!(browser.text(".card strong").await, "玄武区总工会");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_are_approved_by_their_row_button_and_ticked_together() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let ids = applicants(&app, &d.staff_a, d.xuanwu, &[10, 11, 12, 13]).await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(1)).await;
    let queue = format!("/console/applications?org={}", d.xuanwu);
    let row = |id: i64| format!("tr[data-application=\"{id}\"]");

    // The row's button belongs to a form outside the table (`form=`).
    browser.goto(&queue).await;
    assert_eq!(browser.count("tr[data-application]").await, 4);
    browser
        .click(&format!("{} button[form=approve-{}]", row(ids[0]), ids[0]))
        .await;
    assert_eq!(browser.text("p.flash").await, "已通过。");
    assert_eq!(browser.current_path().await, queue);
    assert_eq!(browser.count(&row(ids[0])).await, 0, "approved, gone");
    assert_eq!(browser.count("tr[data-application]").await, 3);

    // Two ticked, then the bulk button under the table.
    for id in &ids[1..3] {
        browser
            .click(&format!("{} input[type=checkbox]", row(*id)))
            .await;
    }
    browser.click("#bulk > p.actions button").await;
    // The flash replaces the last one: wait for the new page's.
    browser.wait_for_text("p.flash", "已通过 2 份申请").await;
    assert_eq!(browser.count(&row(ids[1])).await, 0);
    assert_eq!(browser.count(&row(ids[2])).await, 0);
    assert_eq!(browser.count(&row(ids[3])).await, 1, "not ticked, waits");

    // All three approvals are in the audit log.
    let rows = audit_rows(&browser, d.xuanwu, "membership.approve").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for id in &ids[..3] {
        let record = format!("membership:{id}");
        assert!(
            rows.iter().any(|r| r.contains(&record)),
            "{record}: {rows:?}"
        );
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_colleagues_grant_ends_their_session() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    app.register(&phone(3)).await;
    app.grant_staff(&d.admin, d.xuanwu, &phone(3)).await;
    let token = app.token_of(&phone(3)).await;
    let me: Value = app.get("/v1/me", Some(&token)).await.json().await.unwrap();
    let colleague_id = me["id"].as_i64().unwrap();
    // The colleague's own browser, signed in before the revocation.
    let mut colleague = Console::signed_in(&app, &phone(3)).await;
    assert_eq!(colleague.get("/console/orgs").await.status, 200);

    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(1)).await;
    let orgs = format!("/console/orgs?org={}", d.xuanwu);
    browser.goto(&orgs).await;
    let their_row = format!("#staff tr[data-account=\"{colleague_id}\"]");
    assert!(browser.text(&their_row).await.contains("139****0003"));
    browser.click(&format!("{their_row} button")).await;
    assert_eq!(browser.text("p.flash").await, "已撤销授权。");
    assert_eq!(browser.current_path().await, orgs);
    assert_eq!(browser.count(&their_row).await, 0);
    assert!(
        browser.text("#staff").await.contains("139****0001"),
        "mine stays"
    );

    let rows = audit_rows(&browser, d.xuanwu, "staff.revoke").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains(&format!("account:{colleague_id}")),
        "{rows:?}"
    );
    browser.close().await;

    // The colleague's next page is the sign-in page, and the API refuses them too.
    let next = colleague.get("/console/orgs").await;
    assert_eq!(next.status, 303);
    assert_eq!(
        next.location.as_deref(),
        Some("/console/sign-in?next=%2Fconsole%2Forgs")
    );
    let api = app
        .get(
            &format!("/v1/admin/orgs/{}/applications", d.xuanwu),
            Some(&token),
        )
        .await;
    assert_eq!(api.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_voucher_code_is_redeemed_once() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let (starts, ends) = open_window();
    let pack = app
        .published_program(
            &d.staff_a,
            d.xuanwu,
            json!({ "kind": "gift_pack", "title": "暖新礼包", "starts_at": starts,
                    "ends_at": ends, "stock": 1 }),
        )
        .await;
    let member = app.bulk_members(d.xuanwu, 20, 1, "rider").await;
    let claimed = app
        .post(
            &format!("/v1/programs/{}/claims", pack["id"]),
            &json!({}),
            Some(&member[0].token),
        )
        .await;
    assert_eq!(claimed.status(), 201);
    let voucher: Value = claimed.json().await.unwrap();
    let code = voucher["code"].as_str().unwrap();

    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(1)).await;
    browser.goto("/console/scan").await;
    browser.fill("#scan input[name=code]", code).await;
    browser.submit("#scan").await;
    let verdict = browser.text("[data-verdict=redeemed]").await;
    assert!(verdict.contains("核销成功"), "{verdict}");
    assert!(verdict.contains("暖新礼包"), "{verdict}");
    let field = browser.wait_for("#scan input[name=code]").await;
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(""));

    // The same voucher again, ended with Enter as a handheld scanner types it.
    let again = format!("{code}{}", char::from(Key::Enter));
    browser.fill("#scan input[name=code]", &again).await;
    let verdict = browser.text("[data-verdict=already_redeemed]").await;
    assert!(verdict.contains("已核销过"), "{verdict}");
    assert_eq!(browser.count("[data-verdict=redeemed]").await, 0);

    let rows = audit_rows(&browser, d.xuanwu, "voucher.redeem").await;
    assert_eq!(rows.len(), 1, "redeemed once: {rows:?}");
    assert!(
        rows[0].contains(&format!("voucher:{}", voucher["id"])),
        "{rows:?}"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_of_another_district_see_nothing_of_xuanwu() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    applicants(&app, &d.staff_a, d.xuanwu, &[10]).await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(2)).await;

    let home = browser.text("main").await;
    assert!(home.contains("秦淮区总工会"), "{home}");
    assert!(!home.contains("玄武区总工会"), "{home}");
    assert_eq!(browser.count(".card").await, 1);

    for page in ["applications", "orgs", "audit"] {
        browser
            .goto(&format!("/console/{page}?org={}", d.xuanwu))
            .await;
        browser.wait_for("p.refusal[data-code=not_found]").await;
        assert_eq!(browser.text("h1").await, "找不到", "{page}");
        let body = browser.text("body").await;
        assert!(!body.contains("玄武区总工会"), "{page}: {body}");
    }
    browser.check_each_size("console-not-found").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_switch_turns_the_console_english_and_it_stays() {
    let app = console_app().await;
    app.nanjing_districts((1, 2)).await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(1)).await;
    assert_eq!(
        browser.text("a[data-nav=\"/console/applications\"]").await,
        "入会审核"
    );

    browser.click("a[data-lang=en]").await;
    browser.wait_for("html[lang=en]").await;
    assert_eq!(browser.current_path().await, "/console", "the same page");
    assert_eq!(
        browser.text("a[data-nav=\"/console/applications\"]").await,
        "Applications"
    );
    assert_eq!(browser.text("main h2").await, "My orgs");

    browser.click("a[data-nav=\"/console/join-codes\"]").await;
    browser.wait_for_path("/console/join-codes").await;
    assert_eq!(browser.count("html[lang=en]").await, 1);
    assert_eq!(browser.text("main h1").await, "Join codes");
    assert_eq!(browser.text("a[data-lang]").await, "中文", "the way back");
    browser.check_each_size("console-join-codes-en").await;
    browser.close().await;
}

/// What [`with_data`] made, for the pages that show one thing.
struct Shown {
    draft: i64,
    program: i64,
    session: i64,
    member: i64,
}

/// Through the API, for Xuanwu: a draft gift pack, a published health check with a session two
/// riders booked, two stations and three members.
async fn with_data(app: &TestApp, d: &gigunion_tests::Districts) -> Shown {
    let (starts, ends) = open_window();
    let draft = app
        .post(
            &format!("/v1/admin/orgs/{}/programs", d.xuanwu),
            &json!({ "kind": "gift_pack", "title": "暖新礼包 · 冬季", "starts_at": starts,
                     "ends_at": ends, "stock": 100 }),
            Some(&d.staff_a),
        )
        .await;
    assert_eq!(draft.status(), 201);
    let draft = draft.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let program = app
        .published_program(
            &d.staff_a,
            d.xuanwu,
            json!({ "kind": "health_check", "title": "流动体检车进驿站", "starts_at": starts,
                    "ends_at": ends }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let at = chrono::Utc::now() + chrono::Duration::days(2);
    let session = app
        .post(
            &format!("/v1/admin/programs/{program}/sessions"),
            &json!({ "site_name": "玄武区户外劳动者驿站", "address": "南京市玄武区中山路1号",
                     "starts_at": at.to_rfc3339(),
                     "ends_at": (at + chrono::Duration::hours(8)).to_rfc3339(),
                     "capacity": 200 }),
            Some(&d.staff_a),
        )
        .await;
    assert_eq!(session.status(), 201);
    let session = session.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let riders = app.bulk_members(d.xuanwu, 600, 3, "rider").await;
    for rider in &riders[..2] {
        let booked = app
            .post(
                &format!("/v1/sessions/{session}/bookings"),
                &json!({}),
                Some(&rider.token),
            )
            .await;
        assert_eq!(booked.status(), 201);
    }
    let member: Value = app
        .get("/v1/me/membership", Some(&riders[0].token))
        .await
        .json()
        .await
        .unwrap();
    let imported = app
        .request(
            gigunion_tests::reqwest::Method::POST,
            &format!("/v1/admin/orgs/{}/stations/import", d.xuanwu),
        )
        .bearer_auth(&d.staff_a)
        .header("content-type", "text/csv; charset=utf-8")
        .body(
            "name,address,lat,lng,hours\n\
             玄武门驿站,南京市玄武区玄武门街道玄武巷1号（近地铁1号线玄武门站2号口）,32.07,118.79,24h\n\
             鼓楼驿站,玄武区北京东路3号,32.06,118.80,\"mon-fri 08:00-20:00; sat,sun 09:00-17:00\"\n",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 201, "{}", imported.text().await.unwrap());
    Shown {
        draft,
        program,
        session,
        member: member["current"]["id"].as_i64().unwrap(),
    }
}

/// A wage case filed by a member of `org`, with its facts over several lines.
async fn a_case(app: &TestApp, org: i64) -> i64 {
    let rider = app.bulk_members(org, 5950, 1, "rider").await.remove(0);
    let body = serde_json::json!({
        "kind": "wage_arrears",
        "respondent": { "kind": "contractor", "name": "南京某某配送服务有限公司",
            "credit_code": "91350100M000100Y43", "contact": "13912345678" },
        "amount_claimed_fen": 230_000,
        "facts": "九月、十月的配送费未结清。\n站长说公司资金紧张，一直拖欠。",
        "consent": true
    });
    let res = app.post("/v1/me/cases", &body, Some(&rider.token)).await;
    res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// The city's hardship grant and a Xuanwu rider's application to it: (program, application).
async fn a_grant(app: &TestApp, d: &gigunion_tests::Districts) -> (i64, i64) {
    let program = super::grants::grant_for(app, d, 2).await;
    let rider = app.bulk_members(d.xuanwu, 5960, 1, "rider").await.remove(0);
    let body = super::grants::application(app, serde_json::json!([]), [20, 8]);
    let (status, view) = super::grants::apply(app, program, &rider, &body).await;
    assert_eq!(status, 201, "{view}");
    (program, view["id"].as_i64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_fits_a_laptop_and_a_phone() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    app.register(&phone(3)).await;
    app.grant_staff(&d.staff_a, d.xuanwu, &phone(3)).await;
    // Something on every page: a waiting application, a join code, audit entries, programs
    // (a draft, a health check with a booked session), stations and members.
    applicants(&app, &d.staff_a, d.xuanwu, &[10, 11]).await;
    let shown = with_data(&app, &d).await;
    let case = a_case(&app, d.xuanwu).await;
    let (grant_program, grant) = a_grant(&app, &d).await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };

    browser.goto("/console").await;
    browser.wait_for("#sign-in").await;
    browser.check_each_size("console-sign-in").await;
    password_step(&browser, &phone(1)).await;
    browser.check_each_size("console-verify").await;
    code_step(&browser, &app, &phone(1)).await;

    // The pages with something on them, then any other section the navigation links to.
    let x = d.xuanwu;
    let pages = [
        ("home", "/console".to_owned(), ".card"),
        ("orgs", format!("/console/orgs?org={x}"), "#staff"),
        (
            "applications",
            format!("/console/applications?org={x}"),
            "#bulk",
        ),
        (
            "join-codes",
            format!("/console/join-codes?org={x}"),
            "tr[data-code]",
        ),
        ("scan", "/console/scan".to_owned(), "#scan"),
        (
            "audit",
            format!("/console/audit?org={x}"),
            "tr[data-action]",
        ),
        (
            "programs",
            format!("/console/programs?org={x}"),
            "#programs tr[data-program]",
        ),
        (
            "program-draft",
            format!("/console/programs/{}", shown.draft),
            "#edit-program",
        ),
        (
            "program",
            format!("/console/programs/{}", shown.program),
            "#sessions tr[data-session]",
        ),
        (
            "session-roster",
            format!("/console/sessions/{}", shown.session),
            "#roster tr[data-booking]",
        ),
        (
            "stations",
            format!("/console/stations?org={x}"),
            "#stations tr[data-station]",
        ),
        (
            "members",
            format!("/console/members?org={x}"),
            "tr[data-member]",
        ),
        (
            "member",
            format!("/console/members/{}", shown.member),
            "#history tr[data-event]",
        ),
        ("case", format!("/console/cases/{case}"), "#accept"),
        (
            "case-rota",
            format!("/console/cases/rota?org={x}"),
            "#add-mediator",
        ),
        (
            "case-stats",
            format!("/console/cases/stats?org={x}"),
            "#period",
        ),
        (
            "grants",
            format!("/console/grants?org={x}"),
            "tr[data-grant]",
        ),
        ("grant", format!("/console/grants/{grant}"), "#review"),
        (
            "grant-notice",
            format!("/console/grants/notice?org={x}&program={grant_program}"),
            "#program-picker",
        ),
        (
            "grant-batches",
            format!("/console/grants/batches?org={x}&program={grant_program}"),
            "#new-batch",
        ),
        (
            "grant-stats",
            format!("/console/grants/stats?org={x}&program={grant_program}"),
            "#grant-stats",
        ),
        (
            "grant-new",
            format!("/console/grants/new?org={}", d.city),
            "#new-grant-program",
        ),
    ];
    for (name, path, shows) in &pages {
        browser.goto(path).await;
        browser.wait_for(shows).await;
        browser.check_each_size(&format!("console-{name}")).await;
    }
    let mut sections = Vec::new();
    for link in browser
        .client()
        .find_all(Locator::Css("nav.sections a[data-nav]"))
        .await
        .unwrap()
    {
        sections.push(link.attr("data-nav").await.unwrap().unwrap());
    }
    // The navigation links to each section above (a program, a roster, a member are not ones).
    let listed = [
        "orgs",
        "applications",
        "join-codes",
        "scan",
        "audit",
        "programs",
        "stations",
        "members",
    ];
    for name in listed {
        let section = format!("/console/{name}");
        assert!(sections.contains(&section), "{name}: {sections:?}");
    }
    for section in sections {
        let name = section
            .trim_start_matches("/console")
            .trim_start_matches('/');
        if name.is_empty() || pages.iter().any(|(n, _, _)| *n == name) {
            continue;
        }
        browser.goto(&format!("{section}?org={x}")).await;
        // A console page, not the error page (which has no navigation).
        browser.wait_for("nav.sections").await;
        browser.check_each_size(&format!("console-{name}")).await;
    }
    // The scan page with a verdict filling the screen.
    browser.set_viewport(LAPTOP).await;
    browser.goto("/console/scan").await;
    browser
        .fill("#scan input[name=code]", "Zq3xMadeUpCode9")
        .await;
    browser.submit("#scan").await;
    browser.wait_for("[data-verdict=refused]").await;
    browser.check_each_size("console-scan-verdict").await;
    browser.close().await;
}

/// A `datetime-local` value `hours` from now, in Asia/Shanghai.
fn local(hours: i64) -> String {
    platform::clock::local(chrono::Utc::now() + chrono::Duration::hours(hours))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Sets the `datetime-local` field `selector` to `value` (`2026-05-01T09:30`) by script, with
/// the `input` and `change` events typing would fire. WebDriver typing does not work: Chromium
/// splits the field into segments in the order of its own locale (here `mm/dd/yyyy, hh:mm AM`
/// despite `--lang=zh-CN`, the year taking up to six digits), and the ISO text typed, with or
/// without separators, Tab or arrow keys between the parts, leaves it empty or with a wrong year.
async fn set_datetime(browser: &Browser, selector: &str, value: &str) {
    browser.wait_for(selector).await;
    let set = browser
        .execute(
            "const field = document.querySelector(arguments[0]);
             field.value = arguments[1];
             field.dispatchEvent(new Event('input', { bubbles: true }));
             field.dispatchEvent(new Event('change', { bubbles: true }));
             return field.value;",
            vec![json!(selector), json!(value)],
        )
        .await;
    assert_eq!(set, json!(value), "{selector}");
}

/// The id in a console path such as `/console/programs/12`.
fn last_id(path: &str) -> i64 {
    path.rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {path}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_is_created_published_and_booked_and_its_roster_downloads() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let riders = app.bulk_members(d.xuanwu, 600, 2, "courier").await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(1)).await;

    // The draft, from the list page's form.
    browser
        .goto(&format!("/console/programs?org={}", d.xuanwu))
        .await;
    browser
        .wait_for("#new-program select[name=kind]")
        .await
        .select_by_value("health_check")
        .await
        .expect("choose the kind");
    browser
        .fill("#new-program input[name=title]", "流动体检车进驿站")
        .await;
    set_datetime(&browser, "#new-program input[name=starts_at]", &local(-1)).await;
    set_datetime(&browser, "#new-program input[name=ends_at]", &local(24 * 7)).await;
    browser.submit("#new-program").await;
    browser
        .until("the new program's page", async |b| {
            let path = b.current_path().await;
            (path.starts_with("/console/programs/")).then_some(())
        })
        .await;
    let program = last_id(&browser.current_path().await);
    assert_eq!(browser.text("p.flash").await, "草稿已创建。");
    assert_eq!(browser.text("h1").await, "流动体检车进驿站");
    assert_eq!(browser.text("main [data-status=draft]").await, "草稿");
    assert_eq!(browser.count("#edit-program").await, 1, "a draft is edited");

    // A session, from the program page's form.
    browser
        .fill("#new-session input[name=site_name]", "玄武区户外劳动者驿站")
        .await;
    browser
        .fill("#new-session input[name=address]", "南京市玄武区中山路1号")
        .await;
    set_datetime(&browser, "#new-session input[name=starts_at]", &local(48)).await;
    set_datetime(&browser, "#new-session input[name=ends_at]", &local(56)).await;
    browser
        .fill("#new-session input[name=capacity]", "30")
        .await;
    browser.submit("#new-session").await;
    browser.wait_for_text("p.flash", "场次已新增").await;
    assert_eq!(browser.count("#sessions tr[data-session]").await, 1);
    assert!(
        browser
            .text("#sessions tr[data-session]")
            .await
            .contains("30 / 30"),
        "all seats left"
    );

    browser.click("button[data-step=publish]").await;
    browser.wait_for_text("p.flash", "已发布").await;
    assert_eq!(browser.text("main [data-status=published]").await, "进行中");
    assert_eq!(browser.count("button[data-step=publish]").await, 0);
    assert_eq!(
        browser.count("#edit-program").await,
        0,
        "no editing once published"
    );

    // Two riders book through the API; the roster opens from the sessions table.
    let session = browser
        .wait_for("#sessions tr[data-session]")
        .await
        .attr("data-session")
        .await
        .unwrap()
        .expect("a session id");
    for rider in &riders {
        let res = app
            .post(
                &format!("/v1/sessions/{session}/bookings"),
                &json!({}),
                Some(&rider.token),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    browser.click("#sessions tr[data-session] a").await;
    browser
        .wait_for_path(&format!("/console/sessions/{session}"))
        .await;
    assert_eq!(browser.text("h1").await, "玄武区户外劳动者驿站");
    assert_eq!(
        browser
            .count("#roster tr[data-booking][data-status=booked]")
            .await,
        2
    );
    assert_eq!(browser.count("#roster tr[data-booking]").await, 2);

    // The CSV link answers the file to this browser's session.
    let link = browser.wait_for("a[download][href$=\"roster.csv\"]").await;
    let href = link.prop("href").await.unwrap().expect("an href");
    assert!(
        href.ends_with(&format!("/console/sessions/{session}/roster.csv")),
        "{href}"
    );
    let cookie = browser
        .cookie("gu_console")
        .await
        .expect("a session cookie");
    let csv = app
        .client
        .get(&href)
        .header("cookie", format!("gu_console={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let kind = csv.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/csv"), "{kind}");
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "a header and two riders: {csv}");

    // Each step is in the audit log: the draft and its publication, and the session.
    let rows = audit_rows(&browser, d.xuanwu, "program.").await;
    for action in ["program.create", "program.publish"] {
        let found: Vec<_> = rows.iter().filter(|r| r.contains(action)).collect();
        assert_eq!(found.len(), 1, "{action}: {rows:?}");
        assert!(found[0].contains(&format!("program:{program}")), "{rows:?}");
    }
    assert_eq!(rows.len(), 2, "{rows:?}");
    let rows = audit_rows(&browser, d.xuanwu, "session.create").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains(&format!("session:{session}")), "{rows:?}");
    browser.close().await;
}

/// Chooses the file at `path` in the file field `selector`, as picking it in the dialog would:
/// chromedriver takes a local path typed into a file input.
async fn choose_file(browser: &Browser, selector: &str, path: &std::path::Path) {
    browser
        .wait_for(selector)
        .await
        .send_keys(path.to_str().expect("a UTF-8 path"))
        .await
        .unwrap_or_else(|e| panic!("choose {} in `{selector}`: {e}", path.display()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_file_with_one_bad_row_imports_nothing_and_names_the_row() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let files = tempfile::tempdir().unwrap();
    let (bad, good) = (
        files.path().join("坏.csv"),
        files.path().join("stations.csv"),
    );
    std::fs::write(
        &bad,
        "name,address,lat,lng,hours\n\
         玄武门驿站,玄武区玄武门1号,32.07,118.79,24h\n\
         坏坐标驿站,玄武区某路2号,132.0,118.79,24h\n\
         鼓楼驿站,玄武区北京东路3号,32.06,118.80,mon-sun 08:00-20:00\n",
    )
    .unwrap();
    std::fs::write(
        &good,
        "name,address,lat,lng,hours\n\
         玄武门驿站,玄武区玄武门1号,32.07,118.79,24h\n\
         鼓楼驿站,玄武区北京东路3号,32.06,118.80,mon-sun 08:00-20:00\n",
    )
    .unwrap();
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(1)).await;
    let stations = format!("/console/stations?org={}", d.xuanwu);

    browser.goto(&stations).await;
    choose_file(&browser, "#import input[type=file][name=file]", &bad).await;
    browser.submit("#import").await;
    let faults = browser.text("[data-faults]").await;
    assert!(faults.contains("没有导入任何驿站"), "{faults}");
    assert_eq!(browser.count("[data-faults=\"1\"]").await, 1, "{faults}");
    assert_eq!(browser.count("#import-faults tr[data-row]").await, 1);
    let cells = browser.texts("#import-faults tr[data-row=\"2\"] td").await;
    assert_eq!(
        cells,
        ["2", "3", "lat", "132.0", "纬度必须在 -90 到 90 之间"],
        "row 2, on line 3 of the file"
    );
    assert_eq!(browser.count("[data-imported]").await, 0);
    browser
        .check_each_size("console-station-import-faults")
        .await;
    browser.set_viewport(LAPTOP).await;

    // Nothing of the file is stored: neither the good rows nor the bad one.
    browser.click(&format!("main a[href=\"{stations}\"]")).await;
    browser.wait_for_path(&stations).await;
    browser.wait_for("#import").await;
    assert_eq!(browser.count("#stations").await, 0);
    assert!(browser.text("main").await.contains("还没有驿站。"));
    let listed: Value = app
        .get(
            &format!("/v1/admin/orgs/{}/stations", d.xuanwu),
            Some(&d.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]), "nothing imported");

    choose_file(&browser, "#import input[type=file][name=file]", &good).await;
    browser.submit("#import").await;
    let imported = browser.text("[data-imported]").await;
    assert!(imported.contains("已导入驿站：2"), "{imported}");
    assert_eq!(browser.count("[data-imported=\"2\"]").await, 1);
    assert_eq!(browser.count("#import-faults").await, 0);
    browser.goto(&stations).await;
    browser.wait_for("#stations").await;
    let rows = browser.texts("#stations tr[data-station]").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for name in ["玄武门驿站", "鼓楼驿站"] {
        assert!(rows.iter().any(|r| r.contains(name)), "{name}: {rows:?}");
    }

    // Only the import that stored something is in the audit log.
    let rows = audit_rows(&browser, d.xuanwu, "station.import").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains(&format!("org:{}", d.xuanwu)), "{rows:?}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_found_by_a_name_fragment_and_their_page_is_masked() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let riders = app.bulk_members(d.xuanwu, 810, 2, "rider").await;
    app.bulk_members(d.xuanwu, 812, 1, "courier").await;
    let wanted = &riders[1];
    let mine: Value = app
        .get("/v1/me/membership", Some(&wanted.token))
        .await
        .json()
        .await
        .unwrap();
    let id = mine["current"]["id"].as_i64().unwrap();
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(1)).await;

    browser
        .goto(&format!("/console/members?org={}", d.xuanwu))
        .await;
    browser.wait_for("#member-filter").await;
    assert_eq!(browser.count("tr[data-member]").await, 3);
    browser.fill("#member-filter input[name=q]", "八一一").await;
    browser.submit("#member-filter").await;
    browser
        .until("the list filtered by name", async |b| {
            b.current_path().await.contains("q=%E5%85%AB").then_some(())
        })
        .await;
    let rows = browser.texts("tr[data-member]").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("骑手八一一"), "{rows:?}");
    assert!(rows[0].contains("139****0811"), "{rows:?}");
    let field = browser.wait_for("#member-filter input[name=q]").await;
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some("八一一"),
        "the form keeps the filter"
    );

    browser
        .click(&format!(
            "tr[data-member=\"{id}\"] a[href=\"/console/members/{id}\"]"
        ))
        .await;
    browser
        .wait_for_path(&format!("/console/members/{id}"))
        .await;
    assert_eq!(browser.text("h1").await, "骑手八一一");
    let facts = browser.text("#member-facts").await;
    let masked_id = format!(
        "{}{}{}",
        &wanted.id_number[..3],
        "*".repeat(11),
        &wanted.id_number[14..]
    );
    assert!(facts.contains(&masked_id), "{facts}");
    assert!(facts.contains("139****0811"), "{facts}");
    let body = browser.text("body").await;
    assert!(
        !body.contains(&wanted.id_number) && !body.contains(&wanted.phone),
        "nothing unmasked: {body}"
    );
    let events = browser
        .execute(
            "return [...document.querySelectorAll('#history tr[data-event]')]
                 .map(row => row.dataset.event);",
            vec![],
        )
        .await;
    assert_eq!(events, json!(["activated", "applied"]), "newest first");
    assert!(browser.text("#history").await.contains("玄武区总工会"));

    // Opening the page is a read of personal data: audited.
    let rows = audit_rows(&browser, d.xuanwu, "member.view").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains(&format!("membership:{id}")), "{rows:?}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_is_counted_then_sent_to_the_riders_it_names() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let riders = app.bulk_members(d.xuanwu, 30, 2, "rider").await;
    app.bulk_members(d.xuanwu, 40, 1, "courier").await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };
    sign_in(&browser, &app, &phone(1)).await;
    browser
        .goto(&format!("/console/broadcasts?org={}", d.xuanwu))
        .await;
    browser
        .fill("#broadcast input[name=title]", "服务季义诊")
        .await;
    browser
        .fill(
            "#broadcast textarea[name=body]",
            "周六上午在职工服务中心义诊。",
        )
        .await;
    browser
        .execute(
            "document.querySelector('#broadcast select[name=occupation]').value = 'rider'",
            vec![],
        )
        .await;
    browser.click("#broadcast button[value=preview]").await;
    let reach = browser.wait_for_text("#reach", "2").await;
    assert!(reach.contains("将发送给 2 位会员"), "{reach}");
    browser.click("#broadcast button[value=send]").await;
    browser.wait_for_text("p.flash", "已发送给 2 位会员").await;
    assert_eq!(browser.count("#broadcasts tr[data-broadcast]").await, 1);
    let inbox = app
        .get("/v1/me/notifications", Some(&riders[0].token))
        .await;
    let inbox: Value = inbox.json().await.unwrap();
    assert_eq!(inbox["items"][0]["title"], "服务季义诊");
    browser.close().await;
}
