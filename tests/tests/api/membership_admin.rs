//! The staff console's membership routes over HTTP: the org tree a caller may act on, the staff
//! of an org and revoking them (access ends at once), and a member's page (masked, scoped to
//! the subtree, audited).
//!
//! Phones used here: `phone(801..809)` for registered accounts; bulk members from `phone(810)`.

use gigunion_tests::reqwest::{Method, Response, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, phone, spawn_app, Districts, TestApp, Worker};

/// Sends `method path` with `token`.
async fn send(app: &TestApp, token: &str, method: Method, path: &str) -> Response {
    let req = app.request(method, path).bearer_auth(token);
    req.send().await.expect("request sent")
}

/// GETs `path`, asserts 200 and returns the body.
async fn ok(app: &TestApp, token: &str, path: &str) -> Value {
    let res = send(app, token, Method::GET, path).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path}: {text}");
    gigunion_tests::serde_json::from_str(&text).unwrap()
}

async fn account_id(app: &TestApp, token: &str) -> i64 {
    ok(app, token, "/v1/me").await["id"].as_i64().unwrap()
}

/// The membership id of a member's current period.
async fn membership_id(app: &TestApp, member: &Worker) -> i64 {
    let mine = ok(app, &member.token, "/v1/me/membership").await;
    mine["current"]["id"].as_i64().unwrap()
}

/// The org list `token` sees, following the cursors with pages of `limit`.
async fn org_list(app: &TestApp, token: &str, limit: u32) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut path = format!("/v1/admin/orgs?limit={limit}");
    loop {
        let page = ok(app, token, &path).await;
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => path = format!("/v1/admin/orgs?limit={limit}&cursor={next}"),
            None => return seen,
        }
    }
}

/// The ids and depths of [`org_list`].
async fn org_ids(app: &TestApp, token: &str, limit: u32) -> Vec<(i64, i64)> {
    let list = org_list(app, token, limit).await;
    let id_depth = |o: &Value| (o["id"].as_i64().unwrap(), o["depth"].as_i64().unwrap());
    list.iter().map(id_depth).collect()
}

/// Nanjing's districts (staff `phone(801)` of Xuanwu, `phone(802)` of Qinhuai) and a street
/// under Xuanwu.
async fn districts(app: &TestApp) -> (Districts, i64) {
    let d = app.nanjing_districts((801, 802)).await;
    let street = app
        .org(
            &d.admin,
            Some(d.xuanwu),
            "street",
            "玄武门街道总工会",
            "320102",
        )
        .await;
    (d, street)
}

/// The entries of `action` in the audit log, read by the admin through `org` (admins read every
/// org's entries, so these are all of them).
async fn audited(app: &TestApp, admin: &str, org: i64, action: &str) -> Vec<Value> {
    let path = format!("/v1/admin/orgs/{org}/audit?action={action}");
    ok(app, admin, &path).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_exactly_their_subtree_with_its_counts() {
    let app = spawn_app().await;
    let (d, street) = districts(&app).await;
    app.bulk_members(d.xuanwu, 810, 2, "rider").await;
    let moving = app.bulk_members(d.qinhuai, 820, 1, "courier").await;
    // A member of Qinhuai applies to move to the street: pending there, active in Qinhuai.
    let code = app
        .join_code(&d.staff_a, street, json!({ "label": "review" }))
        .await;
    let body = json!({ "join_code": code["code"] });
    let res = app
        .post("/v1/me/membership/transfer", &body, Some(&moving[0].token))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let page = ok(&app, &d.staff_a, "/v1/admin/orgs").await;
    let orgs = page["items"].as_array().unwrap();
    assert_eq!(orgs.len(), 2, "{page}");
    assert_eq!(orgs[0]["id"], d.xuanwu);
    assert_eq!(orgs[0]["depth"], 0);
    assert_eq!(orgs[0]["name"], "玄武区总工会");
    assert_eq!(orgs[0]["parent_id"], d.city);
    let counts = |c: &Value| {
        (
            c["active_members"].clone(),
            c["pending_applications"].clone(),
        )
    };
    assert_eq!(counts(&orgs[0]["counts"]), (json!(2), json!(0)));
    assert_eq!(counts(&orgs[0]["subtree_counts"]), (json!(2), json!(1)));
    assert_eq!(
        (orgs[1]["id"].as_i64(), orgs[1]["depth"].as_i64()),
        (Some(street), Some(1))
    );
    assert_eq!(counts(&orgs[1]["counts"]), (json!(0), json!(1)));
    assert_eq!(page["next_cursor"], Value::Null);
    // Qinhuai's staff see their district alone, with its one member, and nothing of Xuanwu.
    let theirs = ok(&app, &d.staff_b, "/v1/admin/orgs").await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1, "{theirs}");
    assert_eq!(theirs["items"][0]["id"], d.qinhuai);
    assert_eq!(
        counts(&theirs["items"][0]["subtree_counts"]),
        (json!(1), json!(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_page_through_every_org_in_tree_order() {
    let app = spawn_app().await;
    let (d, street) = districts(&app).await;
    let province = ok(&app, &d.admin, &format!("/v1/orgs/{}", d.city)).await["parent_id"]
        .as_i64()
        .unwrap();
    // Each org before its children; siblings by name, in code-point order (玄 U+7384 before
    // 秦 U+79E6).
    let expected = vec![
        (province, 0),
        (d.city, 1),
        (d.xuanwu, 2),
        (street, 3),
        (d.qinhuai, 2),
    ];
    assert_eq!(org_ids(&app, &d.admin, 100).await, expected);
    // Pages of two, joined by their cursors, are the same list.
    assert_eq!(org_ids(&app, &d.admin, 2).await, expected);
    // A cursor that is no org of this list, and a limit out of range, name the field.
    let outside = format!("/v1/admin/orgs?cursor={}", d.xuanwu);
    let res = send(&app, &d.staff_b, Method::GET, &outside).await;
    let body = assert_problem(res, 422, "invalid_field").await;
    assert_eq!(body["field"], "cursor");
    let res = send(&app, &d.admin, Method::GET, "/v1/admin/orgs?limit=0").await;
    let body = assert_problem(res, 422, "invalid_field").await;
    assert_eq!(body["field"], "limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_get_403_on_every_console_route() {
    let app = spawn_app().await;
    let (d, _) = districts(&app).await;
    let member = &app.bulk_members(d.xuanwu, 810, 1, "rider").await[0];
    let id = membership_id(&app, member).await;
    let staff_a = account_id(&app, &d.staff_a).await;
    for (method, path) in [
        (Method::GET, "/v1/admin/orgs".to_owned()),
        (Method::GET, format!("/v1/admin/orgs/{}/staff", d.xuanwu)),
        (
            Method::DELETE,
            format!("/v1/admin/orgs/{}/staff/{staff_a}", d.xuanwu),
        ),
        (Method::GET, format!("/v1/admin/members/{id}")),
    ] {
        let res = send(&app, &member.token, method.clone(), &path).await;
        assert_problem(res, 403, "forbidden").await;
    }
    let staff = ok(
        &app,
        &d.admin,
        &format!("/v1/admin/orgs/{}/staff", d.xuanwu),
    )
    .await;
    assert_eq!(staff["items"][0]["account_id"], staff_a, "the grant stayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_list_the_grants_of_their_org_and_revoke_them_audited() {
    let app = spawn_app().await;
    let (d, _) = districts(&app).await;
    app.register(&phone(803)).await;
    app.grant_staff(&d.staff_a, d.xuanwu, &phone(803)).await;
    let (admin_id, staff_a) = (
        account_id(&app, &d.admin).await,
        account_id(&app, &d.staff_a).await,
    );
    let staff_path = format!("/v1/admin/orgs/{}/staff", d.xuanwu);
    let list = ok(&app, &d.staff_a, &staff_path).await;
    assert_eq!(list["org"]["id"], d.xuanwu);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items[0]["account_id"], staff_a);
    assert_eq!(items[0]["phone_masked"], "139****0801");
    assert_eq!(items[0]["granted_by"], admin_id);
    assert_eq!(items[0]["granted_by_phone_masked"], "138****0000");
    assert_eq!(items[1]["phone_masked"], "139****0803");
    assert_eq!(items[1]["granted_by"], staff_a);
    assert!(items[1]["granted_at"].is_string());
    let new_staff = items[1]["account_id"].as_i64().unwrap();

    // Qinhuai's staff can neither read nor revoke Xuanwu's staff: 404, as for no org.
    let revoke = format!("{staff_path}/{new_staff}");
    let res = send(&app, &d.staff_b, Method::GET, &staff_path).await;
    assert_problem(res, 404, "not_found").await;
    let res = send(&app, &d.staff_b, Method::DELETE, &revoke).await;
    assert_problem(res, 404, "not_found").await;

    let res = send(&app, &d.staff_a, Method::DELETE, &revoke).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = send(&app, &d.staff_a, Method::DELETE, &revoke).await;
    assert_problem(res, 404, "not_found").await;
    let left = ok(&app, &d.staff_a, &staff_path).await;
    assert_eq!(left["items"].as_array().unwrap().len(), 1, "{left}");
    let entries = audited(&app, &d.admin, d.xuanwu, "staff.revoke").await;
    assert_eq!(entries.len(), 1, "one revocation, not the refused ones");
    assert_eq!(entries[0]["record"], format!("account:{new_staff}"));
    assert_eq!(entries[0]["actor_account_id"], staff_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_staff_lose_the_subtree_at_once() {
    let app = spawn_app().await;
    let (d, street) = districts(&app).await;
    // Staff of both districts, with a token issued while they were.
    app.register(&phone(803)).await;
    app.grant_staff(&d.admin, d.xuanwu, &phone(803)).await;
    app.grant_staff(&d.admin, d.qinhuai, &phone(803)).await;
    let token = app.token_of(&phone(803)).await;
    let id = account_id(&app, &token).await;
    let members = format!("/v1/admin/orgs/{street}/members");
    ok(&app, &token, &members).await;

    let revoke = |org: i64| format!("/v1/admin/orgs/{org}/staff/{id}");
    let res = send(&app, &d.staff_a, Method::DELETE, &revoke(d.xuanwu)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Still staff of Qinhuai: Xuanwu's subtree is now as if it did not exist.
    let res = send(&app, &token, Method::GET, &members).await;
    assert_problem(res, 404, "not_found").await;
    assert_eq!(org_ids(&app, &token, 100).await, vec![(d.qinhuai, 0)]);

    let res = send(&app, &d.staff_b, Method::DELETE, &revoke(d.qinhuai)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Staff nowhere: 403, though the token still says staff.
    for path in [members, format!("/v1/admin/orgs/{}/members", d.qinhuai)] {
        let res = send(&app, &token, Method::GET, &path).await;
        assert_problem(res, 403, "forbidden").await;
    }
    let res = send(&app, &token, Method::GET, "/v1/admin/orgs").await;
    assert_problem(res, 403, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_page_shows_masked_data_and_history_and_is_audited() {
    let app = spawn_app().await;
    let (d, street) = districts(&app).await;
    let member = &app.bulk_members(street, 810, 1, "rider").await[0];
    let id = membership_id(&app, member).await;
    // The console links a row of the member list to the page by its membership_id.
    let list = ok(
        &app,
        &d.staff_a,
        &format!("/v1/admin/orgs/{}/members", d.xuanwu),
    )
    .await;
    assert_eq!(list["items"][0]["membership_id"], id);

    let res = send(
        &app,
        &d.staff_a,
        Method::GET,
        &format!("/v1/admin/members/{id}"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(&member.phone) && !text.contains(&member.id_number),
        "{text}"
    );
    let page: Value = gigunion_tests::serde_json::from_str(&text).unwrap();
    assert_eq!(page["legal_name"], "骑手八一零");
    assert_eq!(page["phone_masked"], "139****0810");
    let masked_id = format!(
        "{}{}{}",
        &member.id_number[..3],
        "*".repeat(11),
        &member.id_number[14..]
    );
    assert_eq!(page["id_number_masked"], masked_id);
    assert_eq!(page["membership"]["id"], id);
    assert_eq!(page["membership"]["status"], "active");
    assert_eq!(page["membership"]["org"]["id"], street);
    assert_eq!(
        page["membership"]["member_no"].as_str().map(str::len),
        Some(15)
    );
    let kinds: Vec<&str> = page["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["activated", "applied"]);

    let entries = audited(&app, &d.admin, street, "member.view").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["record"], format!("membership:{id}"));
    assert_eq!(
        entries[0]["actor_account_id"],
        account_id(&app, &d.staff_a).await
    );
    let member_account = account_id(&app, &member.token).await;
    assert_eq!(entries[0]["subject_account_id"], member_account);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_page_is_404_outside_the_subtree_and_unrecorded() {
    let app = spawn_app().await;
    let (d, _) = districts(&app).await;
    let member = &app.bulk_members(d.xuanwu, 810, 1, "rider").await[0];
    let id = membership_id(&app, member).await;
    for path in [
        format!("/v1/admin/members/{id}"),
        "/v1/admin/members/999999".to_owned(),
        "/v1/admin/members/not-a-number".to_owned(),
    ] {
        let res = send(&app, &d.staff_b, Method::GET, &path).await;
        assert_problem(res, 404, "not_found").await;
    }
    // The city's staff reach it through the subtree; the refusals left no entry.
    app.register(&phone(803)).await;
    app.grant_staff(&d.admin, d.city, &phone(803)).await;
    let city_staff = app.token_of(&phone(803)).await;
    ok(&app, &city_staff, &format!("/v1/admin/members/{id}")).await;
    let entries = audited(&app, &d.admin, d.xuanwu, "member.view").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_transfer_each_district_sees_its_own_part_of_the_history() {
    let app = spawn_app().await;
    let (d, _) = districts(&app).await;
    let member = &app.bulk_members(d.xuanwu, 810, 1, "rider").await[0];
    let old = membership_id(&app, member).await;
    let code = app
        .join_code(
            &d.staff_b,
            d.qinhuai,
            json!({ "label": "open", "auto_approve": true }),
        )
        .await;
    let body = json!({ "join_code": code["code"] });
    let res = app
        .post("/v1/me/membership/transfer", &body, Some(&member.token))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let new = membership_id(&app, member).await;

    let history = |page: &Value| -> Vec<(String, i64)> {
        let events = page["history"].as_array().unwrap().iter();
        events
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["org"]["id"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let theirs = ok(&app, &d.staff_b, &format!("/v1/admin/members/{new}")).await;
    assert_eq!(theirs["membership"]["status"], "active");
    let q = d.qinhuai;
    assert_eq!(
        history(&theirs),
        [("activated".into(), q), ("applied".into(), q)]
    );
    let ours = ok(&app, &d.staff_a, &format!("/v1/admin/members/{old}")).await;
    assert_eq!(ours["membership"]["status"], "ended");
    let x = d.xuanwu;
    let expected = [
        ("transferred_out".into(), x),
        ("activated".into(), x),
        ("applied".into(), x),
    ];
    assert_eq!(history(&ours), expected);
    assert_eq!(ours["history"][0]["note"], "秦淮区总工会");
    // Xuanwu's staff cannot open the new period; the admin sees the whole history.
    let res = send(
        &app,
        &d.staff_a,
        Method::GET,
        &format!("/v1/admin/members/{new}"),
    )
    .await;
    assert_problem(res, 404, "not_found").await;
    let all = ok(&app, &d.admin, &format!("/v1/admin/members/{old}")).await;
    assert_eq!(history(&all).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_tree_pages_whole_with_every_parent_first() {
    use membership::orgs::{create, NewOrg, RegionCode};
    use membership::vocab::OrgKind;
    let app = spawn_app().await;
    let admin = app.admin().await;
    // A province with 10 cities of 20 districts each, written directly (211 orgs).
    let org = |parent, kind, name: String| NewOrg {
        parent_id: parent,
        kind,
        name,
        region_code: RegionCode::parse("320000").unwrap(),
        address: "江苏省".into(),
        location: None,
    };
    app.db
        .run(move |conn| {
            platform::db::write_tx(conn, |conn| {
                let top = create(conn, org(None, OrgKind::Federation, "省总工会".into()))?.id;
                for c in 0..10 {
                    let city = create(conn, org(Some(top), OrgKind::City, format!("市{c:02}")))?;
                    for d in 0..20 {
                        let name = format!("区{d:02}");
                        create(conn, org(Some(city.id), OrgKind::District, name))?;
                    }
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    let listed = org_list(&app, &admin, 100).await;
    assert_eq!(listed.len(), 211);
    let mut depth_of = std::collections::HashMap::new();
    for org in &listed {
        let (id, depth) = (org["id"].as_i64().unwrap(), org["depth"].as_i64().unwrap());
        let expected = match org["parent_id"].as_i64() {
            Some(p) => depth_of.get(&p).expect("every parent is listed before") + 1,
            None => 0,
        };
        assert_eq!(depth, expected, "org {id} is one level below its parent");
        depth_of.insert(id, depth);
    }
    // Each city's districts follow it, by name.
    assert_eq!(listed[1]["name"], "市00");
    let names: Vec<&str> = listed[2..22]
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        names.windows(2).all(|w| w[0] < w[1]) && names[0] == "区00",
        "{names:?}"
    );
    assert_eq!(listed[22]["name"], "市01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_members_page_still_opens_without_the_phone() {
    let app = spawn_app().await;
    let (d, _) = districts(&app).await;
    let member = &app.bulk_members(d.xuanwu, 810, 1, "rider").await[0];
    let id = membership_id(&app, member).await;
    let body = json!({ "password": gigunion_tests::PASSWORD });
    let req = app
        .request(Method::DELETE, "/v1/me")
        .bearer_auth(&member.token);
    let deleted = req.json(&body).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let page = ok(&app, &d.staff_a, &format!("/v1/admin/members/{id}")).await;
    assert_eq!(page["phone_masked"], Value::Null);
    assert_eq!(
        page["legal_name"],
        Value::Null,
        "the real-name profile is gone"
    );
    assert_eq!(page["membership"]["status"], "ended");
    assert_eq!(page["membership"]["end_reason"], "账号已注销");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_list_and_its_csv_still_answer_after_a_member_deletes_their_account() {
    let app = spawn_app().await;
    let (d, _) = districts(&app).await;
    let members = app.bulk_members(d.xuanwu, 810, 2, "rider").await;
    let gone = membership_id(&app, &members[0]).await;
    let body = json!({ "password": gigunion_tests::PASSWORD });
    let req = app
        .request(Method::DELETE, "/v1/me")
        .bearer_auth(&members[0].token);
    let deleted = req.json(&body).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let path = format!("/v1/admin/orgs/{}/members?status=ended", d.xuanwu);
    let ended = ok(&app, &d.staff_a, &path).await;
    let items = ended["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{ended}");
    assert_eq!(items[0]["membership_id"], gone);
    assert_eq!(items[0]["phone_masked"], Value::Null);
    let active = format!("/v1/admin/orgs/{}/members", d.xuanwu);
    let active = ok(&app, &d.staff_a, &active).await;
    assert_eq!(active["items"][0]["phone_masked"], "139****0811");

    let res = send(&app, &d.staff_a, Method::GET, &format!("{path}&format=csv")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 2, "a header and the deleted member: {csv}");
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells[2], "", "no phone for a deleted account: {csv}");
}
