//! Hardship grants in the staff console over plain HTTP: the city's staff create a grant
//! program from the form (amounts in yuan, a share per district) and publish it; Xuanwu's staff
//! take a rider's application through review, verification and the notice (names masked there),
//! approve it once the notice is over, put it in a batch, download the finance file (the only
//! place with the full card number), record the results, and read the figures. A step out of
//! order or with a field missing says so and changes nothing; another district's staff get 404.
//!
//! Phones used here: `phone(879..880)`, `phone(883)` (the city's staff) and `phone(884..885)`
//! for staff, members from `phone(6500)`.

use chrono::Duration;
use diesel::prelude::*;
use gigunion_tests::console::{daytime_app, Console, Page};
use gigunion_tests::reqwest::Method;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{legal_name, phone, TestApp};
use platform::schema::audit_log as al;

use super::grants::{application, apply, grant_for, AMOUNT};

/// A `datetime-local` value `hours` from the app's now, in Asia/Shanghai.
fn local(app: &TestApp, hours: i64) -> String {
    platform::clock::local(app.now() + Duration::hours(hours))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The last number of a redirect's `Location` (`/console/programs/12` → 12).
fn id_in(page: &Page) -> i64 {
    let location = page.location.as_deref().expect("a redirect");
    location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {location}"))
}

fn audited(app: &TestApp, action: &str) -> i64 {
    let conn = &mut *app.db.get().unwrap();
    al::table
        .filter(al::action.eq(action))
        .count()
        .get_result(conn)
        .unwrap()
}

/// An application as the applicant's own API reads it.
async fn state_of(app: &TestApp, token: &str, id: i64) -> Value {
    let path = format!("/v1/me/grant-applications/{id}");
    app.call_ok(Method::GET, &path, token, Value::Null).await
}

/// Posts a step from the application's page and answers the page it returns to.
async fn step(console: &mut Console, id: i64, name: &str, fields: &[(&str, &str)]) -> Page {
    let file = format!("/console/grants/{id}");
    console.get(&file).await;
    let done = console.post(&format!("{file}/{name}"), fields).await;
    assert_eq!(done.location.as_deref(), Some(file.as_str()), "{name}");
    console.get(&file).await
}

/// The city's staff create the grant program from the console's form and publish it on its
/// programs page: 600 yuan a household, 1,800 yuan, shares of 1,200 for Xuanwu and 600 for
/// Qinhuai, orders below 50 for two months, income below 3,000 yuan.
async fn program_from_the_form(app: &TestApp, city: i64, districts: (i64, i64)) -> i64 {
    let mut console = Console::signed_in(app, &phone(883)).await;
    let form = console
        .get(&format!("/console/grants/new?org={city}"))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    for district in [districts.0, districts.1] {
        let share = format!("name=\"share_org\" value=\"{district}\"");
        assert!(form.body.contains(&share), "{}", form.body);
    }
    let (org, xuanwu, qinhuai) = (
        city.to_string(),
        districts.0.to_string(),
        districts.1.to_string(),
    );
    let (starts, ends) = (local(app, -1), local(app, 24 * 30));
    let fields = [
        ("org", org.as_str()),
        ("title", "新就业形态劳动者困难帮扶（控制台）"),
        ("description", "订单骤减、家庭困难的骑手可申请。"),
        ("starts_at", &starts),
        ("ends_at", &ends),
        ("amount", "600"),
        ("budget", "1,800"),
        ("share_org", &xuanwu),
        ("share", "1200.00"),
        ("share_org", &qinhuai),
        ("share", "600"),
        ("notice_days", "7"),
        ("documents", "近两个月接单记录截图\n医院诊断证明"),
        ("applicants_too", "true"),
        ("platforms", ""),
        ("orders_below", "50"),
        ("orders_months", "2"),
        ("income_below", "3000"),
        ("cause", "no_income"),
        ("cause", "illness"),
    ];
    let created = console.post("/console/grants/new", &fields).await;
    let program = id_in(&created);
    let page = console.get(&format!("/console/programs/{program}")).await;
    assert!(
        page.body.contains("帮扶项目草稿已创建") && page.body.contains("data-status=\"draft\""),
        "{}",
        page.body
    );
    console
        .post(&format!("/console/programs/{program}/publish"), &[])
        .await;
    let page = console.get(&format!("/console/programs/{program}")).await;
    assert!(
        page.body.contains("data-status=\"published\""),
        "{}",
        page.body
    );
    program
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_goes_from_the_form_through_the_notice_to_paid_on_the_console() {
    let app = daytime_app().await;
    let t = app.nanjing_districts((879, 880)).await;
    app.register(&phone(883)).await;
    app.grant_staff(&t.admin, t.city, &phone(883)).await;
    let program = program_from_the_form(&app, t.city, (t.xuanwu, t.qinhuai)).await;

    // The terms are the form's, in fen.
    let terms_path = format!("/v1/programs/{program}/grant-terms");
    let terms = app
        .call_ok(Method::GET, &terms_path, &t.admin, Value::Null)
        .await;
    assert_eq!(
        (
            &terms["amount_fen"],
            &terms["budget_fen"],
            &terms["notice_days"]
        ),
        (&json!(AMOUNT), &json!(3 * AMOUNT), &json!(7))
    );
    let shares: Vec<(i64, i64)> = terms["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["org"]["id"].as_i64().unwrap(),
                s["share_fen"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shares, [(t.xuanwu, 2 * AMOUNT), (t.qinhuai, AMOUNT)]);
    assert_eq!(
        terms["rules"],
        json!({ "applicants_too": true, "orders_below": { "orders": 50, "months": 2 },
                "income_below_fen": 300_000, "causes": ["no_income", "illness"] })
    );
    assert_eq!(
        terms["documents"],
        json!(["近两个月接单记录截图", "医院诊断证明"])
    );

    // Two Xuanwu riders apply through the API; the second is taken to the notice by the API.
    let riders = app.bulk_members(t.xuanwu, 6500, 2, "rider").await;
    let mut ids = Vec::new();
    for rider in &riders {
        let body = application(&app, json!([]), [20, 8]);
        let (status, view) = apply(&app, program, rider, &body).await;
        assert_eq!(status, 201, "{view}");
        ids.push(view["id"].as_i64().unwrap());
    }
    let (id, other) = (ids[0], ids[1]);
    // The first hands in a screenshot of their orders.
    let screenshot = super::rights_cases::evidence("十月接单记录.png", &super::rights_cases::png());
    let add = format!("/v1/me/grant-applications/{id}/documents");
    let document = app
        .call_ok(Method::POST, &add, &riders[0].token, screenshot)
        .await;
    let document = document["id"].as_i64().unwrap();
    for name in ["review", "verify", "notice"] {
        let body = match name {
            "verify" => json!({ "method": "phone", "note": "电话核实，属实。" }),
            "notice" => Value::Null,
            _ => json!({}),
        };
        let path = format!("/v1/admin/grant-applications/{other}/{name}");
        app.call_ok(Method::POST, &path, &t.staff_a, body).await;
    }

    // Xuanwu's queue lists both, the program among its grant programs.
    let mut console = Console::signed_in(&app, &phone(879)).await;
    let queue = console
        .get(&format!("/console/grants?org={}", t.xuanwu))
        .await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(
        queue.body.contains(&format!("data-grant=\"{id}\""))
            && queue.body.contains(&format!("data-grant=\"{other}\""))
            && queue
                .body
                .contains(&format!("tr data-program=\"{program}\""))
            && queue.body.contains(&legal_name(6500))
            && queue.body.contains("¥600.00"),
        "{}",
        queue.body
    );
    let noticed = console
        .get(&format!("/console/grants?org={}&state=on_notice", t.xuanwu))
        .await;
    assert!(
        noticed.body.contains(&format!("data-grant=\"{other}\""))
            && !noticed.body.contains(&format!("data-grant=\"{id}\"")),
        "the state filter: {}",
        noticed.body
    );

    // The file, then review → verify (the note is required) → notice.
    let file = console.get(&format!("/console/grants/{id}")).await;
    assert_eq!(file.status, 200, "{}", file.body);
    assert!(
        file.body.contains("data-state=\"submitted\"")
            && file.body.contains("6222 **** 0128")
            && !file.body.contains("6222021234567890128")
            && file.body.contains("id=\"review\"")
            && file.body.contains("id=\"reject\"")
            && !file.body.contains("id=\"verify\""),
        "{}",
        file.body
    );
    let link = format!("/console/grants/{id}/documents/{document}");
    assert!(
        file.body.contains(&link) && file.body.contains("十月接单记录.png"),
        "{}",
        file.body
    );
    let downloads = audited(&app, "grant_document.download");
    let screenshot = console.get(&link).await;
    assert_eq!(screenshot.status, 200);
    assert_eq!(audited(&app, "grant_document.download"), downloads + 1);
    let page = step(&mut console, id, "review", &[("note", "材料齐全。")]).await;
    assert!(
        page.body.contains("初审通过，已告知申请人。")
            && page.body.contains("data-state=\"reviewed\""),
        "{}",
        page.body
    );
    let page = step(
        &mut console,
        id,
        "verify",
        &[("method", "home_visit"), ("note", " ")],
    )
    .await;
    assert!(
        page.body.contains("(note)") && page.body.contains("data-state=\"reviewed\""),
        "a missing note is named and nothing moves: {}",
        page.body
    );
    let found = "入户走访，家中无其他收入来源。";
    let page = step(
        &mut console,
        id,
        "verify",
        &[("method", "home_visit"), ("note", found)],
    )
    .await;
    assert!(
        page.body.contains("data-state=\"verified\"")
            && page.body.contains(&format!("入户走访：{found}")),
        "{}",
        page.body
    );
    let page = step(&mut console, id, "notice", &[]).await;
    assert!(
        page.body.contains("data-state=\"on_notice\"")
            && page.body.contains("id=\"objection\"")
            && page.body.contains("id=\"approve\""),
        "{}",
        page.body
    );

    // The notice page: masked names only, and where the public reads it.
    let notice = console
        .get(&format!(
            "/console/grants/notice?org={}&program={program}",
            t.xuanwu
        ))
        .await;
    assert_eq!(notice.status, 200, "{}", notice.body);
    assert!(
        notice.body.contains(&format!("data-grant=\"{id}\""))
            && notice.body.contains("骑*****")
            && !notice.body.contains(&legal_name(6500))
            && !notice.body.contains(&legal_name(6501))
            && notice
                .body
                .contains(&format!("/v1/programs/{program}/grant-notice")),
        "{}",
        notice.body
    );

    // An objection is recorded; approval waits for the notice to end.
    let objection = "有群众反映其另有收入，已核查，不属实。";
    let page = step(&mut console, id, "objections", &[("note", objection)]).await;
    assert!(
        page.body.contains("已记录异议。") && page.body.contains(objection),
        "{}",
        page.body
    );
    let page = step(&mut console, id, "approve", &[]).await;
    assert!(
        page.body.contains("公示期未满") && page.body.contains("data-state=\"on_notice\""),
        "{}",
        page.body
    );

    // After the notice (and a fresh sign-in: the session has expired) both are approved.
    app.advance_clock(Duration::days(7) + Duration::minutes(1));
    let mut console = Console::signed_in(&app, &phone(879)).await;
    for application in [id, other] {
        let page = step(&mut console, application, "approve", &[]).await;
        assert!(
            page.body.contains("审批通过，已告知申请人。")
                && page.body.contains("data-state=\"approved\"")
                && !page.body.contains("id=\"reject\""),
            "{}",
            page.body
        );
    }
    paid_in_a_batch(&app, &mut console, (t.xuanwu, program), (id, other)).await;

    // Qinhuai's staff: 404 on the file and the batch, nothing in their queue.
    let mut qinhuai = Console::signed_in(&app, &phone(880)).await;
    assert_eq!(
        qinhuai.get(&format!("/console/grants/{id}")).await.status,
        404
    );
    let queue = qinhuai
        .get(&format!("/console/grants?org={}", t.qinhuai))
        .await;
    assert!(!queue.body.contains(&format!("data-grant=\"{id}\"")));
    let rider = app.token_of(&riders[0].phone).await;
    assert_eq!(state_of(&app, &rider, id).await["state"], "paid");
}

/// Xuanwu's staff batch the two approved grants, download the finance file, record `paid`
/// paid and `failed` failed, and read the figures.
async fn paid_in_a_batch(
    app: &TestApp,
    console: &mut Console,
    (xuanwu, program): (i64, i64),
    (paid, failed): (i64, i64),
) {
    let list = format!("/console/grants/batches?org={xuanwu}&program={program}");
    let page = console.get(&list).await;
    assert!(page.body.contains("id=\"new-batch\""), "{}", page.body);
    let (org, program_id) = (xuanwu.to_string(), program.to_string());
    let fields = [("org", org.as_str()), ("program", program_id.as_str())];
    let made = console.post("/console/grants/batches", &fields).await;
    let batch = id_in(&made);
    let path = format!("/console/grants/batches/{batch}");
    let page = console.get(&path).await;
    assert!(
        page.body.contains("已生成发放批次，共 2 笔。")
            && page.body.contains("6222 **** 0128")
            && !page.body.contains("6222021234567890128")
            && page.body.contains("id=\"all-paid\"")
            && page
                .body
                .contains(&format!("name=\"paid\" value=\"{paid}\""))
            && page
                .body
                .contains(&format!("name=\"failed\" value=\"{failed}\"")),
        "{}",
        page.body
    );
    // Nothing is left for a second batch.
    console.get(&list).await;
    let again = console.post("/console/grants/batches", &fields).await;
    assert_eq!(again.location.as_deref(), Some(list.as_str()));
    let page = console.get(&list).await;
    assert!(
        page.body.contains("本辖区暂无已批准待发放的申请")
            && page.body.contains(&format!("data-batch=\"{batch}\"")),
        "{}",
        page.body
    );

    // The finance file has the full card number, and its download is audited.
    let before = audited(app, "grant_batch.export");
    let csv = console.get(&format!("{path}/finance.csv")).await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(
        lines[1].contains("6222021234567890128") && lines[1].contains("600.00"),
        "{}",
        csv.body
    );
    assert_eq!(audited(app, "grant_batch.export"), before + 1);

    // One failed with the bank's reason, one paid; then nothing is left to mark.
    console.get(&path).await;
    let results = format!("{path}/results");
    let reason = "户名与卡号不符";
    let failed_id = failed.to_string();
    let back = console
        .post(&results, &[("failed", &failed_id), ("reason", reason)])
        .await;
    assert_eq!(back.location.as_deref(), Some(path.as_str()));
    console.get(&path).await;
    console.post(&results, &[("paid", &paid.to_string())]).await;
    let page = console.get(&path).await;
    assert!(
        page.body.contains("已登记发放结果")
            && page
                .body
                .contains(&format!("data-payment=\"{paid}\" data-outcome=\"paid\""))
            && page.body.contains(&format!(
                "data-payment=\"{failed}\" data-outcome=\"failed\""
            ))
            && page.body.contains(reason)
            && !page.body.contains("id=\"all-paid\""),
        "{}",
        page.body
    );

    // The figures: one paid, two approved, the budget down by two households.
    let stats = console
        .get(&format!(
            "/console/grants/stats?org={xuanwu}&program={program}"
        ))
        .await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    for figure in [
        "data-figure=\"paid_fen\">¥600.00<",
        "data-figure=\"approved_fen\">¥1,200.00<",
        "data-figure=\"budget_fen\">¥1,800.00<",
        "data-figure=\"budget_left_fen\">¥600.00<",
    ] {
        assert!(stats.body.contains(figure), "{figure}: {}", stats.body);
    }
    assert!(
        stats.body.contains(&format!("tr data-org=\"{xuanwu}\"")),
        "{}",
        stats.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_out_of_order_or_from_another_district_changes_nothing() {
    let app = daytime_app().await;
    let t = app.nanjing_districts((884, 885)).await;
    let program = grant_for(&app, &t, 1).await;
    let rider = app.bulk_members(t.xuanwu, 6510, 1, "rider").await.remove(0);
    let (status, view) = apply(
        &app,
        program,
        &rider,
        &application(&app, json!([]), [20, 8]),
    )
    .await;
    assert_eq!(status, 201, "{view}");
    let id = view["id"].as_i64().unwrap();

    // Out of order: the notice before review, approval before the notice.
    let mut console = Console::signed_in(&app, &phone(884)).await;
    for name in ["notice", "approve"] {
        let page = step(&mut console, id, name, &[]).await;
        assert!(
            page.body.contains("该申请当前不能进行此操作")
                && page.body.contains("data-state=\"submitted\""),
            "{name}: {}",
            page.body
        );
    }
    let page = step(&mut console, id, "reject", &[("reason", "")]).await;
    assert!(
        page.body.contains("(reason)") && page.body.contains("data-state=\"submitted\""),
        "{}",
        page.body
    );
    let mine = state_of(&app, &rider.token, id).await;
    assert_eq!(mine["state"], "submitted");
    assert_eq!(mine["events"].as_array().unwrap().len(), 1, "{mine}");

    // Another district's staff: 404 on the file; their step is refused and writes nothing.
    let mut other = Console::signed_in(&app, &phone(885)).await;
    assert_eq!(
        other.get(&format!("/console/grants/{id}")).await.status,
        404
    );
    other
        .get(&format!("/console/grants?org={}", t.qinhuai))
        .await;
    let refused = other
        .post(&format!("/console/grants/{id}/review"), &[("note", "")])
        .await;
    assert_eq!(refused.status, 303);
    assert_eq!(state_of(&app, &rider.token, id).await["state"], "submitted");

    // Rejected with a reason: the rider reads it, and no step is offered any more.
    let reason = "核实发现家庭另有稳定收入。";
    let page = step(&mut console, id, "reject", &[("reason", reason)]).await;
    assert!(
        page.body.contains("data-state=\"rejected\"")
            && !page.body.contains("id=\"review\"")
            && !page.body.contains("id=\"reject\""),
        "{}",
        page.body
    );
    let mine = state_of(&app, &rider.token, id).await;
    let last = mine["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (mine["state"].as_str(), last["note"].as_str()),
        (Some("rejected"), Some(reason))
    );
}
