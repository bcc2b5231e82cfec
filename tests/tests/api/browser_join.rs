//! Joining from a printed poster in a phone-sized Chromium (390x844), as a rider with only
//! WeChat does: the URL decoded from the poster's PNG, every screen typed and tapped, a reload
//! in the middle and the last form sent twice; and a poster whose code has expired.

use gigunion_tests::browser::{Browser, PHONE};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{id_number, legal_name, phone, spawn_app, TestApp};

use crate::posters::read_page;

/// The URL a phone's camera reads off the join poster of a new code.
async fn scanned_poster(app: &TestApp, settings: Value) -> (String, i64, String) {
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "district", "南京市玄武区总工会", "320102")
        .await;
    let code = app.join_code(&admin, org, settings).await;
    let code = code["code"].as_str().unwrap();
    let res = app
        .get(
            &format!("/v1/admin/join-codes/{code}/poster.png"),
            Some(&admin),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let (_, urls) = read_page(&res.bytes().await.unwrap());
    let url = urls.first().expect("the poster's QR decodes");
    let path = url
        .strip_prefix(&app.base)
        .expect("the poster names this app")
        .to_owned();
    (admin, org, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_scans_a_poster_and_becomes_a_member_in_the_phones_browser() {
    let app = spawn_app().await;
    let (admin, org, path) = scanned_poster(
        &app,
        json!({ "label": "2026 冬季暖新行动", "auto_approve": true }),
    )
    .await;
    let Some(browser) = Browser::open(&app, PHONE).await else {
        return;
    };
    browser.goto(&path).await;
    assert_eq!(browser.text("h1").await, "南京市玄武区总工会");
    browser.check_each_size("join-1-intro").await;
    browser.click("#start").await;

    let number = phone(7101);
    browser.fill("#send-code input[name=phone]", &number).await;
    browser.submit("#send-code").await;
    browser.wait_for("#sign-in").await;
    // A reload while the SMS is on its way: the code form is still there.
    browser.execute("location.reload()", vec![]).await;
    browser.wait_for("#sign-in input[name=code]").await;
    browser.check_each_size("join-2-code").await;
    let code = app.last_code(&number).expect("a code was sent");
    browser.fill("#sign-in input[name=code]", &code).await;
    browser.submit("#sign-in").await;

    browser.wait_for("[data-screen='3']").await;
    browser.fill("input[name=legal_name]", &legal_name(1)).await;
    browser.fill("input[name=id_number]", &id_number(1)).await;
    browser.click("input[name=consent]").await;
    browser.check_each_size("join-3-real-name").await;
    browser.submit("#real-name").await;

    browser.wait_for("[data-screen='4']").await;
    browser.fill("input[name=platform]", "美团").await;
    browser.fill("input[name=work_city]", "南京").await;
    // The rider taps twice on a slow network: the form goes twice.
    browser
        .execute(
            "const f = document.getElementById('join'); f.submit(); f.submit();",
            vec![],
        )
        .await;
    browser
        .wait_for("[data-screen='5'] h1[data-status='active']")
        .await;
    browser.check_each_size("join-5-member").await;
    assert_eq!(browser.count("#open-app").await, 1);
    browser.close().await;

    let res = app
        .get(&format!("/v1/admin/orgs/{org}/members"), Some(&admin))
        .await;
    let members: Value = res.json().await.unwrap();
    assert_eq!(members["items"].as_array().unwrap().len(), 1, "{members}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_poster_says_so_and_what_to_do() {
    let app = spawn_app().await;
    let soon = (app.now() + chrono::TimeDelta::days(1)).to_rfc3339();
    let (_, _, path) = scanned_poster(&app, json!({ "label": "夏季", "expires_at": soon })).await;
    app.advance_clock(chrono::TimeDelta::days(2));
    let Some(browser) = Browser::open(&app, PHONE).await else {
        return;
    };
    browser.goto(&path).await;
    let refusal = browser.text("[data-code='join_code_expired']").await;
    assert!(refusal.contains("已过期"), "{refusal}");
    let body = browser.text("body").await;
    assert!(body.contains("请联系张贴海报的工会"), "{body}");
    browser.check_each_size("join-expired").await;
    browser.close().await;
}
