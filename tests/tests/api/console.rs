//! The staff console's rules over HTTP: sign-in with a second factor, the session cookie, CSRF,
//! the idle timeout, scopes, and that a console action is the API's action (same rule, same
//! audit entry).

use gigunion_tests::console::{console_app, Console};
use gigunion_tests::{phone, PASSWORD};
use serde_json::{json, Value};

#[tokio::test]
async fn a_new_browser_needs_the_sms_code_and_a_trusted_one_does_not() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let mut browser = Console::new(&app);
    let first = browser.sign_in(&app, &phone(1)).await;
    assert_eq!(
        first.location.as_deref(),
        Some("/console"),
        "{}",
        first.body
    );
    let home = browser.get("/console").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("玄武区总工会"), "{}", home.body);
    assert!(
        !home.body.contains("秦淮区总工会"),
        "another district leaks"
    );

    browser.post("/console/sign-out", &[]).await;
    assert_eq!(browser.get("/console").await.status, 303, "signed out");

    // Same browser: password only. The code counter would have changed otherwise.
    let sent_before = app.last_code(&phone(1));
    browser.get("/console/sign-in").await;
    let again = browser
        .post(
            "/console/sign-in",
            &[("phone", &phone(1)), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        again.location.as_deref(),
        Some("/console"),
        "{}",
        again.body
    );
    assert_eq!(app.last_code(&phone(1)), sent_before, "no SMS sent");
    let _ = d;
}

#[tokio::test]
async fn the_session_cookie_is_httponly_strict_and_scoped_to_the_console() {
    let app = console_app().await;
    app.nanjing_districts((1, 2)).await;
    let mut browser = Console::new(&app);
    let done = browser.sign_in(&app, &phone(1)).await;
    let session = done
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gu_console="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    // The public URL of tests is http: Secure would make the browser drop it.
    assert!(!session.contains("Secure"), "{session}");
}

#[tokio::test]
async fn a_worker_account_gets_no_console() {
    let app = console_app().await;
    let rider = app.worker(7).await;
    let mut browser = Console::new(&app);
    browser.get("/console/sign-in").await;
    let page = browser
        .post(
            "/console/sign-in",
            &[("phone", &rider.phone), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("console_staff_only"), "{}", page.body);
    assert!(
        app.last_code(&rider.phone).is_some(),
        "registration code only"
    );
    assert_eq!(browser.get("/console").await.status, 303);
}

#[tokio::test]
async fn a_wrong_password_is_refused_on_the_form() {
    let app = console_app().await;
    app.nanjing_districts((1, 2)).await;
    let mut browser = Console::new(&app);
    browser.get("/console/sign-in").await;
    let page = browser
        .post(
            "/console/sign-in",
            &[("phone", &phone(1)), ("password", "not-it-2026")],
        )
        .await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("手机号或密码不正确"), "{}", page.body);
}

/// A pending application of `n` to Xuanwu (a code that needs review); its membership id.
async fn applicant(app: &gigunion_tests::TestApp, staff: &str, org: i64, n: u32) -> i64 {
    let code = app
        .join_code(staff, org, json!({ "label": "审核入会" }))
        .await;
    let rider = app.worker(n).await;
    let res = app.join(&rider.token, code["code"].as_str().unwrap()).await;
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["status"], "pending", "{view}");
    view["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_form_without_the_session_token_changes_nothing() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let id = applicant(&app, &d.staff_a, d.xuanwu, 10).await;
    let mut browser = Console::signed_in(&app, &phone(1)).await;
    let path = format!("/console/applications/{id}/approve");
    let forged = browser.post_raw(&path, &[("_csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("form_expired"), "{}", forged.body);
    let missing = browser.post_raw(&path, &[]).await;
    assert_eq!(missing.status, 403);
    let queue = app
        .get(
            &format!("/v1/admin/orgs/{}/applications", d.xuanwu),
            Some(&d.staff_a),
        )
        .await;
    let queue: Value = queue.json().await.unwrap();
    assert_eq!(queue["items"].as_array().unwrap().len(), 1, "still pending");
}

#[tokio::test]
async fn approving_in_the_console_is_the_apis_approval_with_its_audit_entry() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let id = applicant(&app, &d.staff_a, d.xuanwu, 10).await;
    let mut browser = Console::signed_in(&app, &phone(1)).await;
    let queue = browser
        .get(&format!("/console/applications?org={}", d.xuanwu))
        .await;
    assert!(queue.body.contains(&format!("data-application=\"{id}\"")));
    let done = browser
        .post(&format!("/console/applications/{id}/approve"), &[])
        .await;
    assert_eq!(done.status, 303);
    let after = browser.get(done.location.as_deref().unwrap()).await;
    assert!(after.body.contains("已通过"), "{}", after.body);
    assert!(!after.body.contains(&format!("data-application=\"{id}\"")));

    let log = app
        .get(
            &format!(
                "/v1/admin/orgs/{}/audit?action=membership.approve",
                d.xuanwu
            ),
            Some(&d.staff_a),
        )
        .await;
    let log: Value = log.json().await.unwrap();
    let entry = &log["items"][0];
    assert_eq!(entry["record"], format!("membership:{id}"));
    let me: Value = app
        .get("/v1/me", Some(&d.staff_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        entry["actor_account_id"], me["id"],
        "the console's staff member"
    );
    let audit_page = browser
        .get(&format!(
            "/console/audit?org={}&action=membership.",
            d.xuanwu
        ))
        .await;
    assert!(audit_page.body.contains(&format!("membership:{id}")));
}

#[tokio::test]
async fn ticked_applications_are_approved_together() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let a = applicant(&app, &d.staff_a, d.xuanwu, 10).await;
    let b = applicant(&app, &d.staff_a, d.xuanwu, 11).await;
    let c = applicant(&app, &d.staff_a, d.xuanwu, 12).await;
    let mut browser = Console::signed_in(&app, &phone(1)).await;
    browser
        .get(&format!("/console/applications?org={}", d.xuanwu))
        .await;
    let (a, b) = (a.to_string(), b.to_string());
    let done = browser
        .post(
            &format!("/console/applications/approve?org={}", d.xuanwu),
            &[("id", &a), ("id", &b)],
        )
        .await;
    let after = browser.get(done.location.as_deref().unwrap()).await;
    assert!(after.body.contains("已通过 2 份申请"), "{}", after.body);
    assert!(after.body.contains(&format!("data-application=\"{c}\"")));
    assert!(!after.body.contains(&format!("data-application=\"{a}\"")));
}

#[tokio::test]
async fn another_districts_org_is_not_found_in_the_console_either() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let id = applicant(&app, &d.staff_b, d.qinhuai, 10).await;
    let mut browser = Console::signed_in(&app, &phone(1)).await;
    let page = browser
        .get(&format!("/console/applications?org={}", d.qinhuai))
        .await;
    assert_eq!(page.status, 404);
    let orgs = browser
        .get(&format!("/console/orgs?org={}", d.qinhuai))
        .await;
    assert_eq!(orgs.status, 404);
    browser.get("/console/applications").await;
    let approve = browser
        .post(&format!("/console/applications/{id}/approve"), &[])
        .await;
    let after = browser.get(approve.location.as_deref().unwrap()).await;
    assert!(after.body.contains("找不到请求的资源"), "{}", after.body);
}

#[tokio::test]
async fn an_idle_session_ends_and_sign_in_returns_to_the_page() {
    let app = console_app().await;
    app.nanjing_districts((1, 2)).await;
    let mut browser = Console::signed_in(&app, &phone(1)).await;
    assert_eq!(browser.get("/console/orgs").await.status, 200);
    app.advance_clock(chrono::TimeDelta::minutes(29));
    assert_eq!(
        browser.get("/console/orgs").await.status,
        200,
        "still active"
    );
    app.advance_clock(chrono::TimeDelta::minutes(31));
    let idle = browser.get("/console/orgs").await;
    assert_eq!(idle.status, 303);
    assert_eq!(
        idle.location.as_deref(),
        Some("/console/sign-in?next=%2Fconsole%2Forgs")
    );
}

#[tokio::test]
async fn revoking_a_grant_in_the_console_ends_that_staff_members_access() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    app.register(&phone(3)).await;
    app.grant_staff(&d.admin, d.xuanwu, &phone(3)).await;
    let mut colleague = Console::signed_in(&app, &phone(3)).await;
    assert_eq!(colleague.get("/console/orgs").await.status, 200);

    let mut boss = Console::signed_in(&app, &phone(1)).await;
    let page = boss.get(&format!("/console/orgs?org={}", d.xuanwu)).await;
    assert!(page.body.contains("139****0003"), "{}", page.body);
    let account = app.token_of(&phone(3)).await;
    let me: Value = app
        .get("/v1/me", Some(&account))
        .await
        .json()
        .await
        .unwrap();
    let account_id = me["id"].as_i64().unwrap();
    let done = boss
        .post(
            &format!("/console/orgs/{}/staff/{account_id}/revoke", d.xuanwu),
            &[],
        )
        .await;
    assert_eq!(done.status, 303);
    // No grant left: the colleague's session no longer counts, and the API says 403.
    assert_eq!(colleague.get("/console/orgs").await.status, 303);
    let api = app
        .get(
            &format!("/v1/admin/orgs/{}/applications", d.xuanwu),
            Some(&account),
        )
        .await;
    assert_eq!(api.status(), 403);
}

#[tokio::test]
async fn a_csv_import_with_one_bad_row_names_it_and_imports_nothing() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let mut browser = Console::signed_in(&app, &phone(1)).await;
    browser
        .get(&format!("/console/stations?org={}", d.xuanwu))
        .await;
    let csv = "name,address,lat,lng,hours\n\
               玄武门驿站,玄武区玄武门1号,32.07,118.79,24h\n\
               坏坐标驿站,玄武区某路2号,132.07,118.79,24h\n";
    let page = browser
        .upload(
            &format!("/console/stations/import?org={}", d.xuanwu),
            &[("coord", "gcj02")],
            ("stations.csv", csv.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("data-faults=\"1\""), "{}", page.body);
    let row = &page.body[page.body.find("data-row=\"2\"").expect("row 2 listed")..];
    assert!(row.contains("<code>lat</code>"), "{row}");
    let list: Value = app
        .get(
            &format!("/v1/admin/orgs/{}/stations", d.xuanwu),
            Some(&d.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing imported"
    );

    let good = "name,address,lat,lng,hours\n玄武门驿站,玄武区玄武门1号,32.07,118.79,24h\n";
    browser
        .get(&format!("/console/stations?org={}", d.xuanwu))
        .await;
    let page = browser
        .upload(
            &format!("/console/stations/import?org={}", d.xuanwu),
            &[("coord", "gcj02")],
            ("stations.csv", good.as_bytes().to_vec()),
        )
        .await;
    assert!(page.body.contains("data-imported=\"1\""), "{}", page.body);
    let stations = browser
        .get(&format!("/console/stations?org={}", d.xuanwu))
        .await;
    assert!(stations.body.contains("玄武门驿站"));
}

#[tokio::test]
async fn a_station_is_created_edited_and_closed_from_the_console() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let mut browser = Console::signed_in(&app, &phone(1)).await;
    browser
        .get(&format!("/console/stations?org={}", d.xuanwu))
        .await;
    let created = browser
        .post(
            &format!("/console/stations/new?org={}", d.xuanwu),
            &[
                ("name", "玄武门驿站"),
                ("address", "玄武区玄武门1号"),
                ("lat", "32.0705"),
                ("lng", "118.7912"),
                ("coord", "gcj02"),
                ("hours", "mon-fri 08:00-20:00; sat,sun 09:00-17:00"),
                ("amenity", "drinking_water"),
                ("amenity", "microwave"),
                ("status", "open"),
            ],
        )
        .await;
    let page = browser.get(created.location.as_deref().unwrap()).await;
    assert!(page.body.contains("驿站已新建"), "{}", page.body);
    assert!(
        page.body.contains("mon-fri 08:00-20:00"),
        "the form shows the hours"
    );
    let id = created
        .location
        .as_deref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let api: Value = app
        .get(&format!("/v1/admin/stations/{id}"), Some(&d.staff_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["amenities"], json!(["drinking_water", "microwave"]));

    let bad = browser
        .post(
            &format!("/console/stations/{id}/edit"),
            &[
                ("name", "玄武门驿站"),
                ("address", "玄武区玄武门1号"),
                ("lat", "32.07"),
                ("lng", "118.79"),
                ("hours", "whenever"),
                ("status", "open"),
            ],
        )
        .await;
    let refused = browser.get(bad.location.as_deref().unwrap()).await;
    assert!(refused.body.contains("(hours)"), "{}", refused.body);
    browser
        .post(
            &format!("/console/stations/{id}/edit"),
            &[
                ("name", "玄武门驿站"),
                ("address", "玄武区玄武门1号"),
                ("lat", "32.07"),
                ("lng", "118.79"),
                ("hours", "24h"),
                ("status", "temporarily_closed"),
            ],
        )
        .await;
    let api: Value = app
        .get(&format!("/v1/admin/stations/{id}"), Some(&d.staff_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["status"], "temporarily_closed");
    assert_eq!(api["hours"]["open_24h"], true);
    browser.get(&format!("/console/stations/{id}")).await;
    browser
        .post(&format!("/console/stations/{id}/close"), &[])
        .await;
    let api: Value = app
        .get(&format!("/v1/admin/stations/{id}"), Some(&d.staff_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["status"], "closed");
    let mut other = Console::signed_in(&app, &phone(2)).await;
    assert_eq!(
        other.get(&format!("/console/stations/{id}")).await.status,
        404
    );
}

#[tokio::test]
async fn the_scan_pages_scripts_and_the_stylesheet_come_from_the_binary() {
    let app = console_app().await;
    app.nanjing_districts((1, 2)).await;
    let mut browser = Console::signed_in(&app, &phone(1)).await;
    let page = browser.get("/console/scan").await;
    let linked: Vec<&str> = ["src=\"", "href=\"/assets", "data-decoder=\""]
        .iter()
        .map(|attr| {
            let at = page
                .body
                .find(attr)
                .unwrap_or_else(|| panic!("{attr} in the page"));
            let start = at + attr.find('"').unwrap() + 1;
            let end = start + page.body[start..].find('"').unwrap();
            &page.body[start..end]
        })
        .collect();
    for asset in linked {
        let res = app.get(asset, None).await;
        assert_eq!(res.status(), 200, "{asset}");
        assert!(res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            kind.starts_with("text/javascript") || kind.starts_with("text/css"),
            "{kind}"
        );
        assert!(res.text().await.unwrap().len() > 500, "{asset} has content");
    }
}

#[tokio::test]
async fn console_sign_ins_are_in_the_staff_members_export() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    Console::signed_in(&app, &phone(1)).await;
    let export: Value = app
        .get("/v1/me/export", Some(&d.staff_a))
        .await
        .json()
        .await
        .unwrap();
    let sessions = export["parts"]["identity"]["console_sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("{export}"));
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0]["last_seen_at"].is_string());
}
