//! Rights protection: a rider files a dispute case with evidence, colleagues join it with its
//! invite code, staff of the district accept or decline it, and every step is on the case's
//! timeline and told to the claimants. Staff of another district never see it.
//!
//! Phones used here: `phone(891..892)` for staff, bulk members from `phone(5600)`.

use base64::Engine;
use chrono::Duration;
use diesel::prelude::*;
use futures_util::future::join_all;
use gigunion_tests::reqwest::{Method, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, Districts, TestApp, Worker};
use platform::schema::{audit_log as al, case_events as e, cases as c};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((891, 892)).await
}

/// A wage-arrears case against a contractor with a valid credit code, 2,300 yuan.
fn wage_case() -> Value {
    json!({
        "kind": "wage_arrears",
        "respondent": { "kind": "contractor", "name": "南京某某配送服务有限公司",
            "credit_code": "91350100M000100Y43", "address": "玄武区中山路1号",
            "contact": "13912345678" },
        "amount_claimed_fen": 230_000,
        "period_from": "2026-09-01",
        "period_to": "2026-10-31",
        "facts": "九月、十月的配送费未结清。\n站长说公司资金紧张，一直拖欠。",
        "consent": true
    })
}

async fn file(app: &TestApp, member: &Worker, body: Value) -> Value {
    app.call_ok(Method::POST, "/v1/me/cases", &member.token, body)
        .await
}

pub(super) fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02".to_vec();
    bytes.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    bytes
}

pub(super) fn evidence(name: &str, bytes: &[u8]) -> Value {
    let content = base64::engine::general_purpose::STANDARD.encode(bytes);
    json!({ "name": name, "content_base64": content })
}

fn kinds(case: &Value) -> Vec<String> {
    case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn account(app: &TestApp, member: &Worker) -> i64 {
    app.call_ok(Method::GET, "/v1/me", &member.token, Value::Null)
        .await["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_files_with_evidence_and_two_colleagues_join_the_case() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5600, 3, "rider").await;
    let case = file(&app, &riders[0], wage_case()).await;
    assert_eq!(case["state"], "filed");
    assert_eq!(case["org"]["id"], t.xuanwu);
    assert_eq!(case["respondent"]["contact"], "139******78");
    assert!(case["deadlines"]["accept_by"].is_string(), "{case}");
    let code = case["invite_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 10);

    for (rider, amount) in riders[1..].iter().zip([180_000, 50_000]) {
        let body = json!({ "invite_code": code.to_lowercase(), "amount_claimed_fen": amount, "consent": true });
        app.call_ok(Method::POST, "/v1/me/cases/join", &rider.token, body)
            .await;
    }
    let again = json!({ "invite_code": code, "amount_claimed_fen": 1, "consent": true });
    let res = app
        .post("/v1/me/cases/join", &again, Some(&riders[1].token))
        .await;
    assert_problem(res, 409, "already_claimant").await;

    let id = case["id"].as_i64().unwrap();
    let path = format!("/v1/me/cases/{id}/evidence");
    let added = app
        .call_ok(
            Method::POST,
            &path,
            &riders[1].token,
            evidence("../../工资条.png", &png()),
        )
        .await;
    assert_eq!(
        (added["name"].as_str(), added["media_type"].as_str()),
        (Some("工资条.png"), Some("image/png"))
    );

    let seen = app
        .call_ok(
            Method::GET,
            &format!("/v1/me/cases/{id}"),
            &riders[2].token,
            Value::Null,
        )
        .await;
    assert_eq!(seen["total_claimed_fen"], 460_000);
    let claimants = seen["claimants"].as_array().unwrap();
    assert_eq!(claimants.len(), 3);
    assert_eq!(claimants[0]["name_masked"], "骑*****", "{claimants:?}");
    assert_eq!(claimants.iter().filter(|c| c["is_you"] == true).count(), 1);
    assert!(claimants[2]["is_you"].as_bool().unwrap());
    assert_eq!(seen["facts"], wage_case()["facts"]);
    assert_eq!(
        kinds(&seen),
        ["filed", "joined", "joined", "evidence_added"]
    );
    let file_path = format!("/v1/me/cases/{id}/evidence/{}", added["id"]);
    let res = app.get(&file_path, Some(&riders[0].token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("filename*=UTF-8''"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), png().as_slice());

    let mine = app
        .call_ok(Method::GET, "/v1/me/cases", &riders[1].token, Value::Null)
        .await;
    assert_eq!(mine["items"][0]["amount_claimed_fen"], 180_000);
    // Someone who is not a claimant does not find it.
    let outsider = app.bulk_members(t.xuanwu, 5610, 1, "rider").await;
    let res = app
        .get(&format!("/v1/me/cases/{id}"), Some(&outsider[0].token))
        .await;
    assert_problem(res, 404, "not_found").await;
    let res = app.get(&file_path, Some(&outsider[0].token)).await;
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filing_is_refused_by_field_and_writes_nothing() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let rider = app.bulk_members(t.xuanwu, 5620, 1, "rider").await.remove(0);
    let with = |pointer: &str, value: Value| {
        let mut body = wage_case();
        match body.pointer_mut(pointer) {
            Some(field) => *field = value,
            None => body[&pointer[1..]] = value,
        }
        body
    };
    let tomorrow = (app.now() + Duration::days(2)).date_naive().to_string();
    let refused = [
        (
            with("/respondent/credit_code", json!("91350100M000100Y44")),
            "invalid_field",
            "respondent.credit_code",
        ),
        (
            with("/consent", json!(false)),
            "case_consent_required",
            "consent",
        ),
        (
            with("/period_to", json!(tomorrow)),
            "invalid_field",
            "period_to",
        ),
        (
            with("/period_from", json!("2026-11-15")),
            "invalid_field",
            "period_from",
        ),
        (
            with("/amount_claimed_fen", json!(-1)),
            "invalid_field",
            "amount_claimed_fen",
        ),
        (
            with("/amount_claimed_fen", json!(12.5)),
            "invalid_field",
            "amount_claimed_fen",
        ),
        (with("/facts", json!(" \n ")), "invalid_field", "facts"),
        (with("/org_id", json!(999_999)), "invalid_field", "org_id"),
        (with("/kind", json!("murder")), "invalid_field", "kind"),
    ];
    for (body, code, field) in refused {
        let res = app.post("/v1/me/cases", &body, Some(&rider.token)).await;
        let problem = assert_problem(res, 422, code).await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    // Registered, with a real name, but neither member nor applicant.
    let stranger = app.worker(893).await;
    let res = app
        .post("/v1/me/cases", &wage_case(), Some(&stranger.token))
        .await;
    assert_problem(res, 403, "membership_required").await;
    let cases: i64 = c::table
        .count()
        .get_result(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(cases, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_is_checked_by_size_type_and_count_and_stored_sealed() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let rider = app.bulk_members(t.xuanwu, 5630, 1, "rider").await.remove(0);
    let id = file(&app, &rider, wage_case()).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/v1/me/cases/{id}/evidence");
    let mut too_big = png();
    too_big.resize(5 * 1024 * 1024 + 1, 0);
    let cases = [
        (evidence("big.png", &too_big), 422, "file_too_large"),
        (
            evidence("x.png", b"<html><script>alert(1)</script></html>"),
            422,
            "unsupported_file",
        ),
        (evidence("cut.png", &png()[..20]), 422, "unsupported_file"),
        (
            json!({ "name": "x.png", "content_base64": "%%%" }),
            422,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let res = app.post(&path, &body, Some(&rider.token)).await;
        let problem = assert_problem(res, status, code).await;
        assert_eq!(problem["field"], "content_base64");
    }
    let huge = json!({ "name": "x", "content_base64": "A".repeat(9 * 1024 * 1024) });
    assert_problem(
        app.post(&path, &huge, Some(&rider.token)).await,
        413,
        "payload_too_large",
    )
    .await;

    let first = app
        .call_ok(
            Method::POST,
            &path,
            &rider.token,
            evidence("../../x", &png()),
        )
        .await;
    assert_eq!(first["name"], "x");
    for n in 1..20 {
        app.call_ok(
            Method::POST,
            &path,
            &rider.token,
            evidence(&format!("{n}.png"), &png()),
        )
        .await;
    }
    let res = app
        .post(&path, &evidence("21.png", &png()), Some(&rider.token))
        .await;
    assert_problem(res, 409, "evidence_limit").await;

    // Twenty files under random keys in the evidence directory, none in clear, none named as sent.
    let dir = app.data_dir.join("evidence");
    let stored: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap())
        .collect();
    assert_eq!(stored.len(), 20);
    for file in stored {
        let name = file.file_name().into_string().unwrap();
        assert!(
            name.starts_with(&format!("evidence-{id}-")) && name.ends_with(".png"),
            "{name}"
        );
        assert!(!std::fs::read(file.path()).unwrap().starts_with(b"\x89PNG"));
    }
    assert!(!app.data_dir.join("x").exists() && !app.data_dir.parent().unwrap().join("x").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_accept_a_case_of_their_subtree_and_claimants_hear_each_step() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5640, 2, "rider").await;
    let case = file(&app, &riders[0], wage_case()).await;
    let id = case["id"].as_i64().unwrap();
    let join = json!({ "invite_code": case["invite_code"], "amount_claimed_fen": 10_000, "consent": true });
    app.call_ok(Method::POST, "/v1/me/cases/join", &riders[1].token, join)
        .await;

    // Another district's staff find nothing; a member is no staff at all.
    let other = app
        .get(&format!("/v1/admin/cases/{id}"), Some(&t.staff_b))
        .await;
    assert_problem(other, 404, "not_found").await;
    let queue_b = app
        .get(
            &format!("/v1/admin/orgs/{}/cases", t.qinhuai),
            Some(&t.staff_b),
        )
        .await;
    assert_eq!(queue_b.json::<Value>().await.unwrap()["items"], json!([]));
    let member = app
        .get(&format!("/v1/admin/cases/{id}"), Some(&riders[0].token))
        .await;
    assert_problem(member, 403, "forbidden").await;

    // The city's staff see the district's queue.
    let queue = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/orgs/{}/cases?state=filed", t.city),
            &t.admin,
            Value::Null,
        )
        .await;
    let row = &queue["items"][0];
    assert_eq!(
        (
            row["id"].as_i64(),
            row["claimants"].as_i64(),
            row["total_claimed_fen"].as_i64()
        ),
        (Some(id), Some(2), Some(240_000))
    );
    let accept = format!("/v1/admin/cases/{id}/accept");
    let body = json!({ "class": "general", "message": "已安排调解员，三个工作日内联系您。" });
    let accepted = app.call_ok(Method::POST, &accept, &t.staff_a, body).await;
    assert_eq!(
        (accepted["state"].as_str(), accepted["class"].as_str()),
        (Some("accepted"), Some("general"))
    );
    let again = app
        .post(&accept, &json!({ "class": "policy" }), Some(&t.staff_a))
        .await;
    assert_problem(again, 409, "case_not_filed").await;
    let decline = json!({ "reason": "不属于受理范围" });
    let res = app
        .post(
            &format!("/v1/admin/cases/{id}/decline"),
            &decline,
            Some(&t.staff_a),
        )
        .await;
    assert_problem(res, 409, "case_not_filed").await;

    let messages = format!("/v1/admin/cases/{id}/messages");
    app.call_ok(
        Method::POST,
        &messages,
        &t.staff_a,
        json!({ "body": "请补充九月的订单截图。" }),
    )
    .await;
    app.call_ok(
        Method::POST,
        &messages,
        &t.staff_a,
        json!({ "body": "站长电话已核实。", "internal": true }),
    )
    .await;
    let reply = format!("/v1/me/cases/{id}/messages");
    app.call_ok(
        Method::POST,
        &reply,
        &riders[0].token,
        json!({ "body": "好的，今晚上传。" }),
    )
    .await;

    for rider in &riders {
        let account = account(&app, rider).await;
        let topics = app.told(account);
        assert_eq!(
            topics,
            [
                ("case_accepted".to_owned(), 1),
                ("case_message".to_owned(), 1)
            ],
            "{topics:?}"
        );
        let seen = app
            .call_ok(
                Method::GET,
                &format!("/v1/me/cases/{id}"),
                &rider.token,
                Value::Null,
            )
            .await;
        assert_eq!(
            kinds(&seen),
            [
                "filed",
                "joined",
                "accepted",
                "staff_message",
                "claimant_message"
            ]
        );
        assert!(seen["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["staff_account_id"].is_null()));
    }
    let file = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/cases/{id}"),
            &t.staff_a,
            Value::Null,
        )
        .await;
    assert_eq!(kinds(&file).len(), 6, "staff see their note");
    assert_eq!(file["respondent"]["contact"], "13912345678");
    let conn = &mut *app.db.get().unwrap();
    let entries: Vec<String> = al::table
        .filter(al::record.eq(format!("case:{id}")))
        .order(al::id)
        .select(al::action)
        .load(conn)
        .unwrap();
    assert_eq!(
        entries,
        [
            "case.file",
            "case.join",
            "case.accept",
            "case.message",
            "case.message",
            "case.view"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_staff_deciding_one_case_at_once_exactly_one_wins() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let rider = app.bulk_members(t.xuanwu, 5650, 1, "rider").await.remove(0);
    let id = file(&app, &rider, wage_case()).await["id"]
        .as_i64()
        .unwrap();
    let tries = (0..12).map(|i| {
        let (verb, body) = if i % 2 == 0 {
            ("accept", json!({ "class": "complex" }))
        } else {
            (
                "decline",
                json!({ "reason": "请先向平台申诉", "referral": "玄武区劳动人事争议仲裁委员会" }),
            )
        };
        let path = format!("/v1/admin/cases/{id}/{verb}");
        let (app, token) = (&app, &t.staff_a);
        async move { app.call(Method::POST, &path, token, &body).await.0 }
    });
    let statuses = join_all(tries).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        11,
        "{statuses:?}"
    );
    let decisions: i64 = e::table
        .filter(e::case_id.eq(id))
        .filter(e::kind.eq_any(["accepted", "declined"]))
        .count()
        .get_result(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(decisions, 1);
    let account = account(&app, &rider).await;
    assert_eq!(app.told(account).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_case_is_closed_and_its_code_no_longer_joins() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5660, 2, "rider").await;
    let case = file(&app, &riders[0], wage_case()).await;
    let id = case["id"].as_i64().unwrap();
    let body =
        json!({ "reason": "该纠纷已进入仲裁程序", "referral": "玄武区劳动人事争议仲裁委员会" });
    let declined = app
        .call_ok(
            Method::POST,
            &format!("/v1/admin/cases/{id}/decline"),
            &t.staff_a,
            body,
        )
        .await;
    assert_eq!(declined["state"], "declined");
    assert!(declined["closed_at"].is_string());
    let seen = app
        .call_ok(
            Method::GET,
            &format!("/v1/me/cases/{id}"),
            &riders[0].token,
            Value::Null,
        )
        .await;
    assert!(seen["invite_code"].is_null());
    let reason = seen["timeline"][1]["body"].as_str().unwrap();
    assert!(
        reason.contains("仲裁程序") && reason.contains("建议：玄武区"),
        "{reason}"
    );
    let account = account(&app, &riders[0]).await;
    assert_eq!(app.told(account), [("case_declined".to_owned(), 1)]);
    let join =
        json!({ "invite_code": case["invite_code"], "amount_claimed_fen": 1, "consent": true });
    let res = app
        .post("/v1/me/cases/join", &join, Some(&riders[1].token))
        .await;
    assert_problem(res, 404, "invite_code_unknown").await;
    let res = app
        .post(
            &format!("/v1/me/cases/{id}/messages"),
            &json!({ "body": "为什么？" }),
            Some(&riders[0].token),
        )
        .await;
    assert_problem(res, 409, "case_closed").await;
    let res = app
        .post(
            &format!("/v1/me/cases/{id}/evidence"),
            &evidence("a.png", &png()),
            Some(&riders[0].token),
        )
        .await;
    assert_problem(res, 409, "case_closed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_follow_the_clock_and_cases_against_one_respondent_are_linked() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let xuanwu = app.bulk_members(t.xuanwu, 5670, 2, "rider").await;
    let qinhuai = app.bulk_members(t.qinhuai, 5680, 1, "rider").await;
    let by_name = |name: &str| {
        let mut body = wage_case();
        body["respondent"] = json!({ "kind": "contractor", "name": name });
        (body["period_from"], body["period_to"]) = (json!("2025-12-01"), json!("2025-12-31"));
        body
    };
    let one = file(&app, &xuanwu[0], by_name("某某 物流（南京）有限公司")).await;
    file(&app, &qinhuai[0], by_name("某某物流(南京)有限公司")).await;
    let other = file(&app, &xuanwu[1], wage_case()).await;
    assert_eq!(one["open_cases_against_respondent"], 1, "alone when filed");
    let path = format!("/v1/me/cases/{}", one["id"]);
    let one = app
        .call_ok(Method::GET, &path, &xuanwu[0].token, Value::Null)
        .await;
    assert_eq!(one["open_cases_against_respondent"], 2);
    assert_eq!(other["open_cases_against_respondent"], 1);
    let queue = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/orgs/{}/cases", t.xuanwu),
            &t.staff_a,
            Value::Null,
        )
        .await;
    let linked: Vec<i64> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["open_cases_against_respondent"].as_i64().unwrap())
        .collect();
    assert_eq!(
        linked,
        [1, 2],
        "newest first; the Qinhuai case counts but is not listed"
    );
    assert_eq!(queue["items"][1]["accept_overdue"], false);
    // A claim whose period ended in December 2025 warns of its limitation at once.
    assert_eq!(
        one["deadlines"]["limitation_warning"], true,
        "{}",
        one["deadlines"]
    );

    app.advance_clock(Duration::days(8));
    let staff = app.token_of(&gigunion_tests::phone(891)).await;
    let queue = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/orgs/{}/cases", t.xuanwu),
            &staff,
            Value::Null,
        )
        .await;
    assert_eq!(queue["items"][1]["accept_overdue"], true);
    let accepted = app
        .call_ok(
            Method::POST,
            &format!("/v1/admin/cases/{}/accept", one["id"]),
            &staff,
            json!({ "class": "special" }),
        )
        .await;
    assert!(accepted["deadlines"]["accept_by"].is_null());
    assert_eq!(
        accepted["deadlines"]["mediation_ends"],
        one["deadlines"]["mediation_ends"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_my_cases_and_erasure_leaves_the_case_to_the_others() {
    let app = gigunion_tests::spawn_app().await;
    let t = tree(&app).await;
    let riders = app.bulk_members(t.xuanwu, 5690, 2, "rider").await;
    let case = file(&app, &riders[0], wage_case()).await;
    let id = case["id"].as_i64().unwrap();
    let join = json!({ "invite_code": case["invite_code"], "amount_claimed_fen": 20_000, "consent": true });
    app.call_ok(Method::POST, "/v1/me/cases/join", &riders[1].token, join)
        .await;
    let path = format!("/v1/me/cases/{id}/evidence");
    app.call_ok(
        Method::POST,
        &path,
        &riders[0].token,
        evidence("订单截图.png", &png()),
    )
    .await;
    app.call_ok(
        Method::POST,
        &path,
        &riders[1].token,
        evidence("考勤.png", &png()),
    )
    .await;
    let reply = format!("/v1/me/cases/{id}/messages");
    app.call_ok(
        Method::POST,
        &reply,
        &riders[0].token,
        json!({ "body": "站长姓王，电话在证据里。" }),
    )
    .await;

    let export = app.get("/v1/me/export", Some(&riders[0].token)).await;
    let export: Value = export.json().await.unwrap();
    let mine = &export["parts"]["rights"]["cases"][0];
    assert_eq!(mine["id"], id);
    assert_eq!(mine["facts"], wage_case()["facts"]);
    assert_eq!(mine["evidence"].as_array().unwrap().len(), 2);

    let deleted = app
        .request(Method::DELETE, "/v1/me")
        .bearer_auth(&riders[0].token)
        .json(&json!({ "password": gigunion_tests::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let seen = app
        .call_ok(
            Method::GET,
            &format!("/v1/me/cases/{id}"),
            &riders[1].token,
            Value::Null,
        )
        .await;
    assert!(
        seen["facts"].is_null() && seen["respondent"]["contact"].is_null(),
        "{seen}"
    );
    assert_eq!(
        seen["total_claimed_fen"], 250_000,
        "the amounts stay in the figures"
    );
    assert!(seen["claimants"][0]["name_masked"].is_null());
    let names: Vec<&str> = seen["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["考勤.png"]);
    let bodies: Vec<&Value> = seen["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["body"])
        .collect();
    assert!(
        bodies
            .iter()
            .all(|b| !b.to_string().contains("站长") && !b.to_string().contains("订单截图")),
        "{bodies:?}"
    );
    let stored = std::fs::read_dir(app.data_dir.join("evidence"))
        .unwrap()
        .count();
    assert_eq!(stored, 1, "the erased member's file is gone");
}
