//! Group mediation (调解一起案、化解一批纠纷): the open cases against one respondent are one group
//! across the union; staff see the group's cases of their subtree, and assign one mediator or
//! schedule one meeting for all of its accepted cases at once, each case told on its own. Group
//! steps started at once from different cases of the group all go through.
//!
//! Phones used here: `phone(897..898)` for staff, `phone(899)` a mediator, bulk members from
//! `phone(6200)`.

use chrono::Duration;
use futures_util::future::join_all;
use gigunion_tests::console::{daytime_app, Console};
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, phone, Districts, TestApp, Worker};

const CONTRACTOR: &str = "南京速达配送服务有限公司";

async fn file(app: &TestApp, rider: &Worker, respondent: &str) -> i64 {
    let claim = json!({
        "kind": "wage_arrears",
        "respondent": { "kind": "contractor", "name": respondent },
        "amount_claimed_fen": 180_000,
        "facts": "十月配送费未结清。",
        "consent": true
    });
    app.call_ok(Method::POST, "/v1/me/cases", &rider.token, claim)
        .await["id"]
        .as_i64()
        .unwrap()
}

/// Xuanwu's cases 0..=2 and Qinhuai's case 4 name the contractor, Xuanwu's case 3 another;
/// Xuanwu accepts 0 and 1 and leaves 2 waiting.
struct Group {
    t: Districts,
    riders: Vec<Worker>,
    cases: Vec<i64>,
}

async fn group(app: &TestApp) -> Group {
    let t = app.nanjing_districts((897, 898)).await;
    let mut riders = app.bulk_members(t.xuanwu, 6200, 4, "rider").await;
    riders.extend(app.bulk_members(t.qinhuai, 6210, 1, "rider").await);
    let mut cases = Vec::new();
    for (i, rider) in riders.iter().enumerate() {
        let respondent = if i == 3 {
            "南京另一家物流有限公司"
        } else {
            CONTRACTOR
        };
        cases.push(file(app, rider, respondent).await);
    }
    for id in &cases[..2] {
        let path = format!("/v1/admin/cases/{id}/accept");
        app.call_ok(
            Method::POST,
            &path,
            &t.staff_a,
            json!({ "class": "general" }),
        )
        .await;
    }
    Group { t, riders, cases }
}

fn meeting(app: &TestApp, with_group: bool) -> Value {
    json!({ "starts_at": (app.now() + Duration::days(2)).to_rfc3339(), "venue": "room",
        "place": "玄武区总工会调解室", "with_group": with_group })
}

async fn case(app: &TestApp, g: &Group, i: usize) -> Value {
    app.call_ok(
        Method::GET,
        &format!("/v1/admin/cases/{}", g.cases[i]),
        &g.t.staff_a,
        Value::Null,
    )
    .await
}

async fn meetings(app: &TestApp, g: &Group, i: usize) -> usize {
    case(app, g, i).await["meetings"].as_array().unwrap().len()
}

async fn meeting_notices(app: &TestApp, rider: &Worker) -> Vec<String> {
    let inbox = app
        .call_ok(
            Method::GET,
            "/v1/me/notifications",
            &rider.token,
            Value::Null,
        )
        .await;
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["topic"] == "case_meeting")
        .map(|n| n["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_mediate_the_accepted_cases_against_one_respondent_as_one_group() {
    let app = daytime_app().await;
    let g = group(&app).await;
    let (c, staff) = (&g.cases, &g.t.staff_a);

    // Xuanwu sees its three open cases against the contractor, of the four across the union.
    let path = format!("/v1/admin/cases/{}/group", c[0]);
    let seen = app.call_ok(Method::GET, &path, staff, Value::Null).await;
    assert_eq!(seen["open_across_union"], 4);
    assert_eq!(seen["respondent_name"], CONTRACTOR);
    let ids: Vec<i64> = seen["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, c[..3]);
    let (status, _) = app
        .call(Method::GET, &path, &g.t.staff_b, &Value::Null)
        .await;
    assert_eq!(status, 404, "another district's staff");
    let theirs = format!("/v1/admin/cases/{}/group", c[4]);
    let theirs = app
        .call_ok(Method::GET, &theirs, &g.t.staff_b, Value::Null)
        .await;
    assert_eq!(
        (
            theirs["open_across_union"].as_i64(),
            theirs["cases"].as_array().unwrap().len()
        ),
        (Some(4), 1)
    );

    // One mediator for the group: the two accepted cases get them, the waiting one does not.
    app.register(&phone(899)).await;
    app.grant_staff(&g.t.admin, g.t.xuanwu, &phone(899)).await;
    let rota = json!({ "phone": phone(899), "duty_days": [1, 2, 3, 4, 5, 6, 7] });
    let rota_path = format!("/v1/admin/orgs/{}/mediators", g.t.xuanwu);
    let mediator = app.call_ok(Method::POST, &rota_path, staff, rota).await["account_id"].clone();
    let assign = json!({ "account_id": mediator, "with_group": true });
    app.call_ok(
        Method::POST,
        &format!("/v1/admin/cases/{}/mediator", c[1]),
        staff,
        assign,
    )
    .await;
    for (i, assigned) in [(0, true), (1, true), (2, false), (4, false)] {
        let case = app
            .call_ok(
                Method::GET,
                &format!("/v1/admin/cases/{}", c[i]),
                if i == 4 { &g.t.staff_b } else { staff },
                Value::Null,
            )
            .await;
        assert_eq!(
            case["mediator"]["account_id"] == mediator,
            assigned,
            "case {i}: {}",
            case["mediator"]
        );
    }

    // One meeting for the group: each accepted case has it, each claimant is told it is joint.
    app.call_ok(
        Method::POST,
        &format!("/v1/admin/cases/{}/meetings", c[0]),
        staff,
        meeting(&app, true),
    )
    .await;
    assert_eq!(
        (
            meetings(&app, &g, 0).await,
            meetings(&app, &g, 1).await,
            meetings(&app, &g, 2).await
        ),
        (1, 1, 0)
    );
    for rider in &g.riders[..2] {
        let told = meeting_notices(&app, rider).await;
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(
            told[0].contains("与针对同一被申请人的其他 1 起案件一并调解"),
            "{}",
            told[0]
        );
    }
    assert!(
        meeting_notices(&app, &g.riders[2]).await.is_empty(),
        "a waiting case has no meeting"
    );
    assert!(
        meeting_notices(&app, &g.riders[4]).await.is_empty(),
        "another district's case is not touched"
    );

    // A meeting of one case alone stays alone; a group step from a waiting case writes nothing.
    app.call_ok(
        Method::POST,
        &format!("/v1/admin/cases/{}/meetings", c[1]),
        staff,
        meeting(&app, false),
    )
    .await;
    assert_eq!(
        (meetings(&app, &g, 0).await, meetings(&app, &g, 1).await),
        (1, 2)
    );
    let (status, got) = app
        .call(
            Method::POST,
            &format!("/v1/admin/cases/{}/meetings", c[2]),
            staff,
            &meeting(&app, true),
        )
        .await;
    assert_eq!(
        (status, got["code"].as_str()),
        (409, Some("case_not_accepted"))
    );
    assert_eq!(
        (meetings(&app, &g, 0).await, meetings(&app, &g, 1).await),
        (1, 2)
    );

    // A mediator not on the rota of every case of the group is assigned to none.
    let outsider = json!({ "account_id": 999_999, "with_group": true });
    let refused = app
        .post(
            &format!("/v1/admin/cases/{}/mediator", c[0]),
            &outsider,
            Some(staff),
        )
        .await;
    let refused = assert_problem(refused, 422, "invalid_field").await;
    assert_eq!(refused["field"], "account_id");
    assert_eq!(case(&app, &g, 0).await["mediator"]["account_id"], mediator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_meetings_started_at_once_from_different_cases_all_go_through() {
    let app = daytime_app().await;
    let g = group(&app).await;
    let staff = &g.t.staff_a;
    let calls = (0..8).map(|i| {
        let path = format!("/v1/admin/cases/{}/meetings", g.cases[i % 2]);
        let body = meeting(&app, true);
        let app = &app;
        async move { app.call(Method::POST, &path, staff, &body).await.0 }
    });
    let statuses = join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // Each of the eight wrote its meeting on both accepted cases, and told both claimants.
    assert_eq!(
        (meetings(&app, &g, 0).await, meetings(&app, &g, 1).await),
        (8, 8)
    );
    for rider in &g.riders[..2] {
        assert_eq!(meeting_notices(&app, rider).await.len(), 8);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_case_page_lists_the_group_and_schedules_its_meeting() {
    let app = daytime_app().await;
    let g = group(&app).await;
    let mut console = Console::signed_in(&app, &phone(897)).await;
    let path = format!("/console/cases/{}", g.cases[0]);
    let page = console.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    for (i, listed) in [(0, true), (1, true), (2, true), (3, false)] {
        let row = format!(r#"data-case="{}""#, g.cases[i]);
        assert_eq!(
            page.body.contains(&row),
            listed,
            "case {i} in the group table"
        );
    }
    assert!(
        page.body.contains("同一被申请人的案件"),
        "the group section"
    );
    assert!(
        page.body.contains(r#"name="with_group""#) && page.body.contains("其他 1 起已受理案件"),
        "the group box"
    );

    let at = platform::clock::local(app.now() + Duration::days(3))
        .format("%Y-%m-%dT10:00")
        .to_string();
    let fields = [
        ("starts_at", at.as_str()),
        ("venue", "station"),
        ("place", "玄武区户外劳动者驿站"),
        ("with_group", "true"),
    ];
    let done = console.post(&format!("{path}/meetings"), &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        (meetings(&app, &g, 0).await, meetings(&app, &g, 1).await),
        (1, 1)
    );
    let page = console.get(&path).await;
    assert!(page.body.contains("已安排调解会议"), "the flash says so");
}
