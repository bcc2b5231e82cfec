//! The orders rule against a platform's file: staff import monthly order counts as CSV (all or
//! nothing, each faulty row and column listed); a rider the file shows below 50 for two months
//! qualifies whatever they declared, one the file shows busy is refused though they declared
//! little, and one the file does not name is judged on their declaration.
//!
//! Documents (screenshots of the orders) are handed in with the declaration until the decision.
//!
//! Phones used here: `phone(881..882)` for staff, members from `phone(6450)`.

use diesel::prelude::*;
use gigunion_tests::reqwest::Method;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{Districts, TestApp};
use platform::schema::grant_order_counts as oc;

use super::grants::{application, apply, grant_for, month};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((881, 882)).await
}

async fn import(app: &TestApp, program: i64, token: &str, file: String) -> (u16, Value) {
    let res = app
        .request(
            Method::POST,
            &format!("/v1/admin/programs/{program}/order-counts?source=美团外卖"),
        )
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn stored(app: &TestApp) -> i64 {
    let conn = &mut *app.db.get().unwrap();
    oc::table.count().get_result(conn).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_rule_is_checked_against_an_imported_file_or_else_the_declaration() {
    let app = gigunion_tests::console::daytime_app().await;
    let t = tree(&app).await;
    let program = grant_for(&app, &t, 3).await;
    let riders = app.bulk_members(t.xuanwu, 6450, 3, "rider").await;
    let (quiet, busy, unnamed) = (&riders[0], &riders[1], &riders[2]);
    let (two, one) = (&month(&app, 2)[..7], &month(&app, 1)[..7]);

    // A faulty file: every bad cell listed, nothing written; another district's staff 404.
    let bad = format!(
        "身份证号,月份,单量\r\n{},{two},12\r\n320102199001010000,{one},x\r\n",
        quiet.id_number
    );
    let (status, refused) = import(&app, program, &t.admin, bad).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("csv_invalid")),
        "{refused}"
    );
    let faults: Vec<(i64, &str)> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(faults, [(2, "id_number"), (2, "orders")]);
    assert_eq!(stored(&app), 0, "a refused file writes nothing");
    let file = format!(
        "\u{feff}身份证号,月份,单量\r\n{q},{two},12\r\n{q},{one},30\r\n{b},{two},12\r\n{b},{one},480\r\n",
        q = quiet.id_number,
        b = busy.id_number
    );
    let (status, _) = import(&app, program, &t.staff_b, file.clone()).await;
    assert_eq!(
        status, 404,
        "a district's staff do not import for the city's program"
    );
    let (status, imported) = import(&app, program, &t.admin, file.clone()).await;
    assert_eq!(status, 201, "{imported}");
    assert_eq!(
        (imported["imported"].as_i64(), imported["workers"].as_i64()),
        (Some(4), Some(2))
    );
    let (status, _) = import(&app, program, &t.admin, file).await;
    assert_eq!(status, 201);
    assert_eq!(stored(&app), 4, "a month imported again replaces the count");

    // The file decides for the riders it names, the declaration for the others.
    let declared_busy = application(&app, json!([]), [200, 300]);
    let (status, view) = apply(&app, program, quiet, &declared_busy).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["orders_source"], "imported");
    assert_eq!(view["orders"][0]["orders"], 12);
    let declared_quiet = application(&app, json!([]), [10, 5]);
    let (status, refused) = apply(&app, program, busy, &declared_quiet).await;
    assert_eq!(
        (status, refused["code"].as_str(), refused["field"].as_str()),
        (403, Some("not_eligible_orders"), Some("orders"))
    );
    let (status, view) = apply(&app, program, unnamed, &declared_quiet).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["orders_source"], "declared");
}

/// Screenshots with a declaration: sealed, listed on the application, downloaded by the
/// applicant and by staff (audited), 404 elsewhere, refused once decided, gone with erasure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_handed_in_until_the_decision_and_go_with_the_account() {
    use super::rights_cases::{evidence, png};
    use platform::schema::{audit_log as al, grant_documents as gd};

    let app = gigunion_tests::console::daytime_app().await;
    let t = tree(&app).await;
    let program = grant_for(&app, &t, 1).await;
    let riders = app.bulk_members(t.xuanwu, 6460, 1, "rider").await;
    let rider = &riders[0];
    let (_, view) = apply(&app, program, rider, &application(&app, json!([]), [10, 5])).await;
    let id = view["id"].as_i64().unwrap();
    let add = format!("/v1/me/grant-applications/{id}/documents");
    let doc = app
        .call_ok(
            Method::POST,
            &add,
            &rider.token,
            evidence("接单记录.png", &png()),
        )
        .await;
    assert_eq!(
        (doc["name"].as_str(), doc["media_type"].as_str()),
        (Some("接单记录.png"), Some("image/png"))
    );
    let doc_id = doc["id"].as_i64().unwrap();
    let (status, refused) = app
        .call(
            Method::POST,
            &add,
            &rider.token,
            &evidence("x.txt", b"not a picture"),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("unsupported_file"))
    );
    let mine = app
        .call_ok(
            Method::GET,
            &format!("/v1/me/grant-applications/{id}"),
            &rider.token,
            Value::Null,
        )
        .await;
    assert_eq!(mine["documents"].as_array().unwrap().len(), 1);
    assert_eq!(mine["events"][1]["kind"], "document_added");

    let own = app
        .get(&format!("{add}/{doc_id}"), Some(&rider.token))
        .await;
    assert_eq!(own.status().as_u16(), 200);
    assert_eq!(own.bytes().await.unwrap().to_vec(), png());
    let staff_path = format!("/v1/admin/grant-applications/{id}/documents/{doc_id}");
    assert_eq!(
        app.get(&staff_path, Some(&t.staff_b))
            .await
            .status()
            .as_u16(),
        404
    );
    let res = app.get(&staff_path, Some(&t.staff_a)).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), png());
    {
        let conn = &mut *app.db.get().unwrap();
        let downloads: i64 = al::table
            .filter(al::action.eq("grant_document.download"))
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(downloads, 1);
    }

    let reject = format!("/v1/admin/grant-applications/{id}/reject");
    app.call_ok(
        Method::POST,
        &reject,
        &t.staff_a,
        json!({ "reason": "材料不全。" }),
    )
    .await;
    let (status, late) = app
        .call(
            Method::POST,
            &add,
            &rider.token,
            &evidence("late.png", &png()),
        )
        .await;
    assert_eq!(
        (status, late["code"].as_str()),
        (409, Some("grant_wrong_state"))
    );

    let (status, _) = app
        .call(
            Method::DELETE,
            "/v1/me",
            &rider.token,
            &json!({ "password": gigunion_tests::PASSWORD }),
        )
        .await;
    assert_eq!(status, 204);
    let conn = &mut *app.db.get().unwrap();
    let left: i64 = gd::table.count().get_result(conn).unwrap();
    assert_eq!(left, 0, "the documents went with the account");
}
