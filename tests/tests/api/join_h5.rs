//! Joining from a poster in the phone's browser, without the app (`/j/{code}`): the flow's
//! screens in order, a reload anywhere and a form sent twice, the API's own rules and limits,
//! and codes that cannot be used. Over plain HTTP; the browser tests walk it in Chromium.

use gigunion_tests::phone::PhoneBrowser;
use gigunion_tests::reqwest::StatusCode;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{
    id_number, legal_name, phone, spawn_app, TestApp, APP_DOWNLOAD_URL, APP_LINK,
};

/// A union and a poster's code; `settings` as for `POST /v1/admin/orgs/{id}/join-codes`.
async fn poster(app: &TestApp, settings: Value) -> (String, i64, String) {
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "district", "南京市玄武区总工会", "320102")
        .await;
    let code = app.join_code(&admin, org, settings).await;
    (admin, org, code["code"].as_str().unwrap().to_owned())
}

/// Screens 1 and 2: the poster's page, then the number and the code.
async fn sign_in(app: &TestApp, browser: &mut PhoneBrowser, code: &str, number: &str) {
    let here = format!("/j/{code}");
    assert_eq!(browser.get(&here).await.screen(), Some(1));
    assert_eq!(
        browser.get(&format!("{here}?step=start")).await.screen(),
        Some(2)
    );
    let sent = browser
        .submit("/p/code", &[("phone", number), ("next", &here)])
        .await;
    assert!(sent.body.contains("id=\"sign-in\""), "{}", sent.body);
    let code_sent = app.last_code(number).expect("a code was sent");
    let page = browser
        .submit(
            "/p/sign-in",
            &[("phone", number), ("code", &code_sent), ("next", &here)],
        )
        .await;
    assert_eq!(page.screen(), Some(3), "{}", page.body);
}

async fn members_of(app: &TestApp, admin: &str, org: i64) -> Vec<Value> {
    let res = app
        .get(&format!("/v1/admin/orgs/{org}/members"), Some(admin))
        .await;
    let page: Value = res.json().await.unwrap();
    page["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_goes_from_the_poster_to_member_in_five_screens_and_repeats_are_harmless() {
    let app = spawn_app().await;
    let (admin, org, code) = poster(
        &app,
        json!({ "label": "2026 冬季暖新行动", "auto_approve": true }),
    )
    .await;
    let here = format!("/j/{code}");
    let mut browser = PhoneBrowser::new(&app);

    let first = browser.get(&here).await;
    for words in [
        "南京市玄武区总工会",
        "2026 冬季暖新行动",
        "免费",
        "开始入会",
    ] {
        assert!(first.body.contains(words), "{words}: {}", first.body);
    }
    let number = phone(7001);
    sign_in(&app, &mut browser, &code, &number).await;
    // The answer to the code form was lost and the form goes again: same session, no
    // "code already used".
    let again = browser
        .submit(
            "/p/sign-in",
            &[
                ("phone", &number),
                ("code", &app.last_code(&number).unwrap()),
                ("next", &here),
            ],
        )
        .await;
    assert_eq!(again.screen(), Some(3), "{}", again.body);
    assert_eq!(browser.get(&here).await.screen(), Some(3), "a reload stays");

    let bad = browser
        .submit(
            "/p/join/real-name",
            &[
                ("join_code", &code),
                ("legal_name", &legal_name(1)),
                ("id_number", "110101199003070000"),
                ("consent", "true"),
            ],
        )
        .await;
    assert_eq!(bad.screen(), Some(3));
    assert!(bad.body.contains("(id_number)"), "{}", bad.body);
    let unconsented = browser
        .submit(
            "/p/join/real-name",
            &[
                ("join_code", &code),
                ("legal_name", &legal_name(1)),
                ("id_number", &id_number(1)),
            ],
        )
        .await;
    assert!(
        unconsented.body.contains("(consent)"),
        "{}",
        unconsented.body
    );
    let named = [
        ("join_code", code.as_str()),
        ("legal_name", &legal_name(1)),
        ("id_number", &id_number(1)),
        ("consent", "true"),
    ];
    assert_eq!(
        browser.submit("/p/join/real-name", &named).await.screen(),
        Some(4)
    );
    assert_eq!(
        browser.submit("/p/join/real-name", &named).await.screen(),
        Some(4),
        "sent twice"
    );

    let blank = browser
        .submit(
            "/p/join",
            &[
                ("join_code", &code),
                ("occupation", "rider"),
                ("platform", " "),
                ("work_city", "南京"),
            ],
        )
        .await;
    assert!(blank.body.contains("(platform)"), "{}", blank.body);
    assert!(
        members_of(&app, &admin, org).await.is_empty(),
        "nothing written"
    );
    let work = [
        ("join_code", code.as_str()),
        ("occupation", "rider"),
        ("platform", "美团"),
        ("work_city", "南京"),
    ];
    let done = browser.submit("/p/join", &work).await;
    assert_eq!(done.screen(), Some(5), "{}", done.body);
    assert!(
        done.body.contains("data-status=\"active\""),
        "{}",
        done.body
    );
    assert!(done.body.contains(APP_LINK) && done.body.contains(APP_DOWNLOAD_URL));
    assert_eq!(
        browser.submit("/p/join", &work).await.screen(),
        Some(5),
        "sent twice"
    );
    assert_eq!(browser.get(&here).await.screen(), Some(5), "a reload stays");

    let members = members_of(&app, &admin, org).await;
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["status"], "active");
    let member_no = members[0]["member_no"].as_str().unwrap();
    assert!(done.body.contains(member_no), "{}", done.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewed_code_shows_what_happens_next_until_the_union_approves() {
    let app = spawn_app().await;
    let (admin, org, code) = poster(&app, json!({ "label": "骑手入会" })).await;
    let here = format!("/j/{code}");
    let mut browser = PhoneBrowser::new(&app);
    sign_in(&app, &mut browser, &code, &phone(7002)).await;
    browser
        .submit(
            "/p/join/real-name",
            &[
                ("join_code", &code),
                ("legal_name", &legal_name(2)),
                ("id_number", &id_number(2)),
                ("consent", "true"),
            ],
        )
        .await;
    let waiting = browser
        .submit(
            "/p/join",
            &[
                ("join_code", &code),
                ("occupation", "courier"),
                ("platform", "顺丰"),
                ("work_city", "南京"),
            ],
        )
        .await;
    assert!(
        waiting.body.contains("data-status=\"pending\""),
        "{}",
        waiting.body
    );
    assert!(waiting.body.contains("审核"), "{}", waiting.body);

    let res = app
        .get(&format!("/v1/admin/orgs/{org}/applications"), Some(&admin))
        .await;
    let applications: Value = res.json().await.unwrap();
    let id = applications["items"][0]["membership_id"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/v1/admin/memberships/{id}/approve"),
            &json!({}),
            Some(&admin),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let approved = browser.get(&here).await;
    assert!(
        approved.body.contains("data-status=\"active\""),
        "{}",
        approved.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_that_cannot_be_used_says_which_and_what_to_do() {
    let app = spawn_app().await;
    let (admin, org, revoked) = poster(&app, json!({ "label": "旧海报" })).await;
    let res = app
        .post(
            &format!("/v1/admin/join-codes/{revoked}/revoke"),
            &json!({}),
            Some(&admin),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let soon = (app.now() + chrono::TimeDelta::days(1)).to_rfc3339();
    let expiring = app
        .join_code(&admin, org, json!({ "label": "一天", "expires_at": soon }))
        .await;
    app.advance_clock(chrono::TimeDelta::days(2));
    let mut browser = PhoneBrowser::new(&app);
    for (code, status, problem, words) in [
        (revoked.as_str(), 409, "join_code_revoked", "已停用"),
        (
            expiring["code"].as_str().unwrap(),
            409,
            "join_code_expired",
            "已过期",
        ),
        ("AAAAAAAAAAAA", 404, "join_code_unknown", "入会码无效"),
    ] {
        let page = browser.get(&format!("/j/{code}")).await;
        assert_eq!(page.status.as_u16(), status, "{}", page.body);
        assert!(
            page.body.contains(&format!("data-code=\"{problem}\"")),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(words) && page.body.contains("请"),
            "{}",
            page.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_keeps_the_apis_limits_and_refuses_a_form_from_elsewhere() {
    let app = spawn_app().await;
    let (_, _, code) = poster(&app, json!({ "label": "入会" })).await;
    let here = format!("/j/{code}");
    let mut browser = PhoneBrowser::new(&app);
    browser.get(&format!("{here}?step=start")).await;
    let number = phone(7003);
    browser
        .submit("/p/code", &[("phone", &number), ("next", &here)])
        .await;
    // One code a minute per phone, as `POST /v1/auth/otp`.
    let again = browser
        .submit("/p/code", &[("phone", &number), ("next", &here)])
        .await;
    assert!(again.body.contains("role=\"alert\""), "{}", again.body);
    let wrong = browser
        .submit(
            "/p/sign-in",
            &[("phone", &number), ("code", "000000"), ("next", &here)],
        )
        .await;
    assert_eq!(wrong.screen(), Some(2), "{}", wrong.body);
    assert!(wrong.body.contains("(code)"), "{}", wrong.body);

    // Another site's form has no token: nothing happens, the rider sees the form again.
    let mut stranger = PhoneBrowser::new(&app);
    let page = stranger
        .post(
            "/p/sign-in",
            &[
                ("phone", &number),
                ("code", &app.last_code(&number).unwrap()),
                ("next", &here),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("form_expired"), "{}", page.body);
}

/// The page weight and the round trips from the scan to a membership, as the README reports
/// them: every screen with the stylesheet it loads within 30 KB on the wire (brotli).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_scan_to_member_is_ten_requests_of_small_pages() {
    let app = spawn_app().await;
    let (_, _, code) = poster(&app, json!({ "label": "入会", "auto_approve": true })).await;
    let here = format!("/j/{code}");
    let mut browser = PhoneBrowser::new(&app);
    let number = phone(7004);
    sign_in(&app, &mut browser, &code, &number).await;
    browser
        .submit(
            "/p/join/real-name",
            &[
                ("join_code", &code),
                ("legal_name", &legal_name(4)),
                ("id_number", &id_number(4)),
                ("consent", "true"),
            ],
        )
        .await;
    let done = browser
        .submit(
            "/p/join",
            &[
                ("join_code", &code),
                ("occupation", "rider"),
                ("platform", "饿了么"),
                ("work_city", "南京"),
            ],
        )
        .await;
    assert!(
        done.body.contains("data-status=\"active\""),
        "{}",
        done.body
    );
    let pages = browser.requests;
    assert_eq!(
        pages, 10,
        "GET, start, and each of three forms with the page it leads to"
    );

    let at = done
        .body
        .find("href=\"/assets/console.")
        .expect("a stylesheet")
        + 6;
    let href = &done.body[at..at + done.body[at..].find('"').unwrap()];
    let css = browser.get(href).await.wire_bytes;
    let weights: Vec<String> = browser.weights[..browser.weights.len() - 1]
        .iter()
        .map(|(path, bytes)| format!("{} {bytes} B", path.replace(&here, "/j/{code}")))
        .collect();
    println!("join flow: {pages} page requests + 1 stylesheet ({css} B); screens: {weights:?}");
    for (path, bytes) in &browser.weights {
        assert!(bytes + css <= 30 * 1024, "{path}: {bytes} + {css} bytes");
    }
}
