//! The staff console in a real browser, as staff meet it: signing in with the SMS code and out
//! again, approving applications one by one and ticked together, revoking a colleague's grant,
//! redeeming a typed voucher code, finding each of those in the audit log, seeing nothing of
//! another district, switching to English, and every page at a laptop's and a phone's size
//! without sideways scrolling (screenshots in `target/screenshots/console-*.png`).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_fits_a_laptop_and_a_phone() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    app.register(&phone(3)).await;
    app.grant_staff(&d.staff_a, d.xuanwu, &phone(3)).await;
    // Something on every page: a waiting application, a join code, audit entries.
    applicants(&app, &d.staff_a, d.xuanwu, &[10, 11]).await;
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
    assert!(sections.len() >= pages.len(), "{sections:?}");
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
