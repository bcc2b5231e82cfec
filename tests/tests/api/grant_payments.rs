//! Paying hardship grants: approved applications go into a batch; the finance office's CSV is
//! the only place the full card number appears (its download audited); each payment is settled
//! once, paid or failed; a failed one is paid in a later batch after the rider corrects the
//! card; the rider sees every step; the figures match what the steps add up to; two batches
//! made at once never take an application twice; erasure withdraws an unpaid grant and gives
//! its money back.
//!
//! Phones used here: `phone(877..878)` for staff, members from `phone(6400)`.

use chrono::Duration;
use diesel::prelude::*;
use futures_util::future::join_all;
use gigunion_tests::reqwest::Method;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{Districts, TestApp, Worker};
use platform::schema::{audit_log as al, benefit_ledger as bl, grant_payments as gp};

use super::grants::{application, apply, grant_for, AMOUNT};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((877, 878)).await
}

/// Every rider applies (an empty household, two low months); returns the application ids.
async fn applications(app: &TestApp, program: i64, riders: &[Worker]) -> Vec<i64> {
    let mut ids = Vec::new();
    for rider in riders {
        let (status, view) =
            apply(app, program, rider, &application(app, json!([]), [20, 8])).await;
        assert_eq!(status, 201, "{view}");
        ids.push(view["id"].as_i64().unwrap());
    }
    ids
}

/// Takes applications `ids` through review, verification and the notice.
async fn to_notice(app: &TestApp, staff: &str, ids: &[i64]) {
    for id in ids {
        for step in ["review", "verify", "notice"] {
            let body = match step {
                "verify" => json!({ "method": "phone", "note": "电话核实，属实。" }),
                "notice" => Value::Null,
                _ => json!({}),
            };
            let path = format!("/v1/admin/grant-applications/{id}/{step}");
            app.call_ok(Method::POST, &path, staff, body).await;
        }
    }
}

async fn approve(app: &TestApp, staff: &str, ids: &[i64]) {
    for id in ids {
        let path = format!("/v1/admin/grant-applications/{id}/approve");
        app.call_ok(Method::POST, &path, staff, Value::Null).await;
    }
}

fn count(app: &TestApp, action: &str) -> i64 {
    let conn = &mut *app.db.get().unwrap();
    al::table
        .filter(al::action.eq(action))
        .count()
        .get_result(conn)
        .unwrap()
}

async fn csv_of(app: &TestApp, batch: i64, token: &str) -> (u16, String) {
    let res = app
        .get(
            &format!("/v1/admin/grant-batches/{batch}/finance.csv"),
            Some(token),
        )
        .await;
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_grants_are_paid_in_batches_once_and_the_figures_add_up() {
    let app = gigunion_tests::console::daytime_app().await;
    let t = tree(&app).await;
    let program = grant_for(&app, &t, 3).await;
    let riders = app.bulk_members(t.xuanwu, 6400, 4, "rider").await;
    let qinhuai = app.bulk_members(t.qinhuai, 6410, 1, "courier").await;
    let ids = applications(&app, program, &riders).await;
    applications(&app, program, &qinhuai).await;
    let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3]);
    let (status, nothing) = app
        .call(
            Method::POST,
            &format!("/v1/admin/programs/{program}/grant-batches"),
            &t.staff_a,
            &json!({ "org_id": t.xuanwu }),
        )
        .await;
    assert_eq!(
        (status, nothing["code"].as_str()),
        (409, Some("nothing_to_pay"))
    );
    to_notice(&app, &t.staff_a, &[a, b, c]).await;
    let reject = format!("/v1/admin/grant-applications/{d}/reject");
    let body = json!({ "reason": "核实发现家庭另有稳定收入。" });
    app.call_ok(Method::POST, &reject, &t.staff_a, body).await;
    app.advance_clock(Duration::days(7) + Duration::minutes(1));
    let staff = app.token_of(&gigunion_tests::phone(877)).await;
    approve(&app, &staff, &[a, b, c]).await;

    // One batch takes the three; a second finds nothing left; Qinhuai's staff cannot see it.
    let make = format!("/v1/admin/programs/{program}/grant-batches");
    let batch = app
        .call_ok(Method::POST, &make, &staff, json!({ "org_id": t.xuanwu }))
        .await;
    assert_eq!(
        (batch["payments"].as_i64(), batch["total_fen"].as_i64()),
        (Some(3), Some(3 * AMOUNT))
    );
    let batch_id = batch["id"].as_i64().unwrap();
    let (status, _) = app
        .call(Method::POST, &make, &staff, &json!({ "org_id": t.xuanwu }))
        .await;
    assert_eq!(status, 409, "each application goes into one batch");
    let other = app.token_of(&gigunion_tests::phone(878)).await;
    let batch_path = format!("/v1/admin/grant-batches/{batch_id}");
    let (status, _) = app
        .call(Method::GET, &batch_path, &other, &Value::Null)
        .await;
    assert_eq!(status, 404);
    let (status, _) = csv_of(&app, batch_id, &other).await;
    assert_eq!(status, 404);

    // The full card number is in the finance file only, and its download is audited.
    assert!(!batch.to_string().contains("6222021234567890128"));
    assert_eq!(batch["items"][0]["card_masked"], "6222 **** 0128");
    let rider_view = app
        .call_ok(
            Method::GET,
            &format!("/v1/me/grant-applications/{a}"),
            &app.token_of(&riders[0].phone).await,
            Value::Null,
        )
        .await;
    assert!(!rider_view.to_string().contains("6222021234567890128"));
    assert_eq!(rider_view["state"], "paying");
    let (status, file) = csv_of(&app, batch_id, &staff).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = file.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 4, "{file}");
    assert!(lines[0].contains("银行卡号"), "{}", lines[0]);
    assert!(lines[1].contains("6222021234567890128"), "{}", lines[1]);
    assert!(lines[1].contains("600.00"), "{}", lines[1]);
    assert_eq!(count(&app, "grant_batch.export"), 1);

    // A day later: a paid, b failed (the reason is told), c pending; then c paid a day after.
    app.advance_clock(Duration::days(1));
    let staff = app.token_of(&gigunion_tests::phone(877)).await;
    let results = format!("{batch_path}/results");
    let body =
        json!({ "paid": [a], "failed": [{ "application_id": b, "reason": "户名与卡号不符" }] });
    let settled = app.call_ok(Method::POST, &results, &staff, body).await;
    assert_eq!(
        (
            settled["paid"].as_i64(),
            settled["failed"].as_i64(),
            settled["pending"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let (status, twice) = app
        .call(Method::POST, &results, &staff, &json!({ "paid": [a, c] }))
        .await;
    assert_eq!(
        (status, twice["code"].as_str()),
        (409, Some("payment_not_pending")),
        "paid once; nothing of the call is written"
    );
    // A report longer than a batch can be is refused by its field, not as too large a body.
    let reason = "户名与卡号不符".repeat(28);
    let failed: Vec<Value> = (0..2001)
        .map(|i| json!({ "application_id": i, "reason": reason }))
        .collect();
    let (status, long) = app
        .call(Method::POST, &results, &staff, &json!({ "failed": failed }))
        .await;
    assert_eq!(
        (status, long["field"].as_str()),
        (422, Some("failed")),
        "{long}"
    );
    let (_, file) = csv_of(&app, batch_id, &staff).await;
    assert_eq!(
        file.trim_end().split("\r\n").count(),
        2,
        "only c is still to pay: {file}"
    );
    app.advance_clock(Duration::days(1));
    let staff = app.token_of(&gigunion_tests::phone(877)).await;
    app.call_ok(Method::POST, &results, &staff, json!({ "paid": [c] }))
        .await;

    // The rider of b reads why, corrects the card, and is paid in the city's next batch.
    let rider_b = app.token_of(&riders[1].phone).await;
    let mine = format!("/v1/me/grant-applications/{b}");
    let failed = app.call_ok(Method::GET, &mine, &rider_b, Value::Null).await;
    assert_eq!(failed["state"], "payment_failed");
    let last = failed["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["note"].as_str()),
        (Some("payment_failed"), Some("户名与卡号不符"))
    );
    let bad_card = json!({ "bank_name": "中国建设银行", "card_number": "4111111111111112" });
    let (status, refused) = app
        .call(Method::PUT, &format!("{mine}/payout"), &rider_b, &bad_card)
        .await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (422, Some("card_number"))
    );
    let card = json!({ "bank_name": "中国建设银行", "card_number": "4111 1111 1111 1111" });
    let corrected = app
        .call_ok(
            Method::PUT,
            &format!("{mine}/payout"),
            &rider_b,
            card.clone(),
        )
        .await;
    assert_eq!(
        (
            corrected["state"].as_str(),
            corrected["card_masked"].as_str()
        ),
        (Some("approved"), Some("4111 **** 1111"))
    );
    let (status, _) = app
        .call(Method::PUT, &format!("{mine}/payout"), &rider_b, &card)
        .await;
    assert_eq!(status, 409, "only a failed payment's card is corrected");
    let admin = app.admin().await;
    let second = app
        .call_ok(Method::POST, &make, &admin, json!({ "org_id": t.city }))
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    let (_, file) = csv_of(&app, second["id"].as_i64().unwrap(), &admin).await;
    assert!(file.contains("4111111111111111"), "{file}");
    let second_results = format!("/v1/admin/grant-batches/{}/results", second["id"]);
    app.call_ok(
        Method::POST,
        &second_results,
        &admin,
        json!({ "paid": [b] }),
    )
    .await;

    // The rider saw every step; the ledger has the grant; payments were made once each.
    let paid = app.call_ok(Method::GET, &mine, &rider_b, Value::Null).await;
    let kinds: Vec<&str> = paid["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "applied",
            "reviewed",
            "verified",
            "noticed",
            "approved",
            "batched",
            "payment_failed",
            "payout_corrected",
            "batched",
            "paid"
        ]
    );
    assert_eq!(paid["state"], "paid");
    {
        let conn = &mut *app.db.get().unwrap();
        let ledger: i64 = bl::table
            .filter(bl::kind.eq("grant_paid"))
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(ledger, 3);
        let paid: i64 = gp::table
            .filter(gp::outcome.eq("paid"))
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(paid, 3);
    }

    // The figures: a paid after 8 days, c after 9, b after 9 (plus minutes); d rejected;
    // Qinhuai's courier still pending.
    let stats = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/programs/{program}/grant-stats?org_id={}", t.city),
            &admin,
            Value::Null,
        )
        .await;
    let totals = &stats["totals"];
    let figures = |f: &Value| {
        [
            "applications",
            "pending",
            "approved",
            "rejected",
            "paid",
            "approved_fen",
            "paid_fen",
        ]
        .map(|k| f[k].as_i64().unwrap())
    };
    assert_eq!(figures(totals), [5, 1, 3, 1, 3, 3 * AMOUNT, 3 * AMOUNT]);
    assert_eq!(totals["days_to_payment_avg"], json!(8.7), "(8 + 9 + 9) / 3");
    assert_eq!(totals["days_to_payment_max"], json!(9.0));
    let by_org: Vec<(i64, [i64; 7])> = stats["by_org"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["org"]["id"].as_i64().unwrap(), figures(r)))
        .collect();
    assert_eq!(
        by_org,
        [
            (t.xuanwu, [4, 0, 3, 1, 3, 3 * AMOUNT, 3 * AMOUNT]),
            (t.qinhuai, [1, 1, 0, 0, 0, 0, 0])
        ]
    );
    assert_eq!(stats["budget_left_fen"], 3 * AMOUNT);
    let xuanwu_only = app
        .call_ok(
            Method::GET,
            &format!(
                "/v1/admin/programs/{program}/grant-stats?org_id={}",
                t.xuanwu
            ),
            &staff,
            Value::Null,
        )
        .await;
    assert_eq!(xuanwu_only["totals"]["applications"], 4);
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/v1/admin/programs/{program}/grant-stats?org_id={}", t.city),
            &staff,
            &Value::Null,
        )
        .await;
    assert_eq!(
        status, 404,
        "the city is outside a district staff member's subtree"
    );
    let list = app
        .call_ok(
            Method::GET,
            &format!("/v1/admin/orgs/{}/grant-batches", t.city),
            &admin,
            Value::Null,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_made_at_once_take_each_application_once_and_erasure_gives_money_back() {
    let app = gigunion_tests::console::daytime_app().await;
    let t = tree(&app).await;
    let program = grant_for(&app, &t, 6).await;
    let riders = app.bulk_members(t.xuanwu, 6420, 6, "rider").await;
    let ids = applications(&app, program, &riders).await;
    to_notice(&app, &t.staff_a, &ids).await;
    app.advance_clock(Duration::days(7) + Duration::minutes(1));
    let staff = app.token_of(&gigunion_tests::phone(877)).await;
    let admin = app.admin().await;
    approve(&app, &staff, &ids[..5]).await;

    // Eight batches at once, by district and city staff: the five land in one batch each.
    let make = format!("/v1/admin/programs/{program}/grant-batches");
    let calls = (0..8).map(|i| {
        let (token, org) = if i % 2 == 0 {
            (staff.clone(), t.xuanwu)
        } else {
            (admin.clone(), t.city)
        };
        let (app, make) = (&app, &make);
        async move {
            app.call(Method::POST, make, &token, &json!({ "org_id": org }))
                .await
        }
    });
    let answers = join_all(calls).await;
    let made: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, v)| v)
        .collect();
    assert!(
        answers
            .iter()
            .all(|(s, v)| *s == 201 || v["code"] == "nothing_to_pay"),
        "{answers:?}"
    );
    let mut taken: Vec<i64> = made
        .iter()
        .flat_map(|b| b["items"].as_array().unwrap().iter())
        .map(|i| i["application_id"].as_i64().unwrap())
        .collect();
    taken.sort_unstable();
    assert_eq!(taken, ids[..5].to_vec());

    // Erasing the rider whose grant is in a batch withdraws it: its payment fails, the money
    // is back, the finance file no longer names them.
    let terms_path = format!("/v1/programs/{program}/grant-terms");
    let before = app
        .call_ok(Method::GET, &terms_path, &staff, Value::Null)
        .await;
    let rider = app.token_of(&riders[0].phone).await;
    let (status, _) = app
        .call(
            Method::DELETE,
            "/v1/me",
            &rider,
            &json!({ "password": gigunion_tests::PASSWORD }),
        )
        .await;
    assert_eq!(status, 204);
    let after = app
        .call_ok(Method::GET, &terms_path, &staff, Value::Null)
        .await;
    assert_eq!(
        after["budget_left_fen"].as_i64().unwrap() - before["budget_left_fen"].as_i64().unwrap(),
        AMOUNT
    );
    let batch = made
        .iter()
        .find(|b| {
            b["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["application_id"] == ids[0])
        })
        .unwrap();
    let (_, file) = csv_of(&app, batch["id"].as_i64().unwrap(), &admin).await;
    assert!(!file.contains(&riders[0].phone) && !file.contains(&format!("\r\n{},", ids[0])));
}
