//! Membership rules over HTTP: staff scopes (no access, and no leak, outside the granted subtree),
//! every state of a join code, the rules of joining, deciding and leaving, and the staff member
//! list (filters, search, cursor pages, CSV export with masked personal data only).
//!
//! Phones used here: `phone(300..399)`.

use std::collections::BTreeSet;

use chrono::Utc;
use diesel::prelude::*;
use gigunion_tests::reqwest::{Method, Response};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, id_number, phone, spawn_app, TestApp};
use platform::schema::{join_codes as j, memberships as ms, orgs as o};
use rand::distributions::Alphanumeric;
use rand::Rng;

/// Sends a request with an optional JSON body and bearer token.
async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Response {
    let mut req = app.request(method, path).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.expect("request sent")
}

/// Asserts the status and returns the JSON body (null when the body is not JSON).
async fn expect(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.expect("body readable");
    assert_eq!(got, status, "body: {text}");
    gigunion_tests::serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The province, its city and two sibling districts of the city, built by the admin.
struct Tree {
    admin: String,
    city: i64,
    a: i64,
    b: i64,
}

async fn tree(app: &TestApp) -> Tree {
    let admin = app.admin().await;
    let province = app
        .org(&admin, None, "federation", "江苏省总工会", "320000")
        .await;
    let city = app
        .org(&admin, Some(province), "city", "南京市总工会", "320100")
        .await;
    let a = app
        .org(&admin, Some(city), "district", "玄武区总工会", "320102")
        .await;
    let b = app
        .org(&admin, Some(city), "district", "秦淮区总工会", "320104")
        .await;
    Tree { admin, city, a, b }
}

/// Registers `phone(n)`, grants it staff on `org`, returns its access token.
async fn staff(app: &TestApp, admin: &str, org: i64, n: u32) -> String {
    app.register(&phone(n)).await;
    app.grant_staff(admin, org, &phone(n)).await;
    app.token_of(&phone(n)).await
}

fn code_of(view: &Value) -> String {
    view["code"].as_str().expect("a code").to_owned()
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["membership_id"].as_i64().unwrap())
        .collect()
}

/// The requests a staff member makes about one org and its resources, in a fixed order.
fn scoped_requests(
    org: i64,
    to_approve: i64,
    to_reject: i64,
    code: &str,
    grantee: &str,
) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/v1/admin/orgs/{org}/members"), None),
        (
            Method::GET,
            format!("/v1/admin/orgs/{org}/members?format=csv"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/admin/orgs/{org}/applications"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/admin/memberships/{to_approve}/approve"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/admin/memberships/{to_reject}/reject"),
            Some(json!({ "reason": "材料不全" })),
        ),
        (
            Method::GET,
            format!("/v1/admin/join-codes/{code}/qr.png"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/admin/join-codes/{code}/qr.svg"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/admin/join-codes/{code}/revoke"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/admin/orgs/{org}/join-codes"),
            Some(json!({ "label": "新海报", "max_uses": 50 })),
        ),
        (
            Method::POST,
            "/v1/admin/orgs".to_owned(),
            Some(json!({
                "parent_id": org, "kind": "street", "name": "新街口街道工会",
                "region_code": "320102", "address": "南京市"
            })),
        ),
        (
            Method::POST,
            format!("/v1/admin/orgs/{org}/staff"),
            Some(json!({ "phone": grantee })),
        ),
        (
            Method::GET,
            format!("/v1/admin/orgs/{org}/join-codes"),
            None,
        ),
    ]
}

/// The tree with staff of each district and of the city (`phone(300..303)`).
struct Staffed {
    app: TestApp,
    t: Tree,
    staff_a: String,
    staff_b: String,
    staff_city: String,
}

async fn staffed() -> Staffed {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let staff_a = staff(&app, &t.admin, t.a, 300).await;
    let staff_b = staff(&app, &t.admin, t.b, 301).await;
    let staff_city = staff(&app, &t.admin, t.city, 302).await;
    Staffed {
        app,
        t,
        staff_a,
        staff_b,
        staff_city,
    }
}

/// [`Staffed`], and what each district holds: B a review-mode code and an application waiting
/// (rider `phone(303)`), A a review-mode code and two applications waiting (riders `phone(304)`
/// and `phone(305)`); and a registered account to grant staff to (`phone(306)`).
struct Scoped {
    s: Staffed,
    grantee: String,
    code_a: String,
    code_b: String,
    pending_b: i64,
    pending_a1: i64,
    pending_a2: i64,
}

async fn scoped() -> Scoped {
    let s = staffed().await;
    let Staffed {
        app,
        t,
        staff_a,
        staff_b,
        ..
    } = &s;
    let grantee = phone(306);
    app.register(&grantee).await;

    // B's resources: a review-mode code and an application waiting in B.
    let code_b = code_of(
        &app.join_code(staff_b, t.b, json!({ "label": "秦淮站点" }))
            .await,
    );
    let rider_b = app.worker(303).await;
    let pending_b = expect(app.join(&rider_b.token, &code_b).await, 201).await;
    assert_eq!(pending_b["status"], "pending");
    let pending_b = pending_b["id"].as_i64().unwrap();

    // A's resources: a review-mode code and two applications waiting in A.
    let code_a = code_of(
        &app.join_code(staff_a, t.a, json!({ "label": "玄武站点" }))
            .await,
    );
    let rider_a1 = app.worker(304).await;
    let rider_a2 = app.worker(305).await;
    let pending_a1 = expect(app.join(&rider_a1.token, &code_a).await, 201).await["id"]
        .as_i64()
        .unwrap();
    let pending_a2 = expect(app.join(&rider_a2.token, &code_a).await, 201).await["id"]
        .as_i64()
        .unwrap();
    Scoped {
        s,
        grantee,
        code_a,
        code_b,
        pending_b,
        pending_a1,
        pending_a2,
    }
}

/// Staff A makes every [`scoped_requests`] on B and gets, each time, exactly the 404 of an org
/// that does not exist.
async fn refused_outside_the_subtree(sc: &Scoped) {
    let Scoped {
        s: Staffed {
            app, t, staff_a, ..
        },
        grantee,
        code_b,
        pending_b,
        ..
    } = sc;
    let (app, staff_a, pending_b) = (app, staff_a.as_str(), *pending_b);

    // What staff A gets for an org that does not exist: the reference 404.
    let missing = assert_problem(
        send(
            app,
            staff_a,
            Method::GET,
            "/v1/admin/orgs/999999/members",
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        send(
            app,
            staff_a,
            Method::POST,
            "/v1/admin/memberships/999999/approve",
            Some(&json!({})),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Staff A on anything of B: 404, exactly as for something that does not exist.
    for (method, path, body) in scoped_requests(t.b, pending_b, pending_b, code_b, grantee) {
        let res = send(app, staff_a, method.clone(), &path, body.as_ref()).await;
        let problem = assert_problem(res, 404, "not_found").await;
        assert_eq!(problem, missing, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_outside_the_subtree_get_the_404_of_what_does_not_exist_and_change_nothing() {
    let sc = scoped().await;
    refused_outside_the_subtree(&sc).await;
    let Scoped {
        s:
            Staffed {
                app,
                t,
                staff_a,
                staff_b,
                ..
            },
        pending_b,
        ..
    } = sc;

    // The reverse direction too, and the parent is out of a district's reach.
    assert_problem(
        send(
            &app,
            &staff_b,
            Method::GET,
            &format!("/v1/admin/orgs/{}/members", t.a),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        send(
            &app,
            &staff_a,
            Method::GET,
            &format!("/v1/admin/orgs/{}/members", t.city),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Nothing of B changed: still pending, one code, not revoked, nothing created or granted.
    let queue_b = expect(
        send(
            &app,
            &staff_b,
            Method::GET,
            &format!("/v1/admin/orgs/{}/applications", t.b),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ids(&queue_b), vec![pending_b]);
    assert_eq!(queue_b["items"][0]["status"], "pending");
    let codes_b = expect(
        send(
            &app,
            &staff_b,
            Method::GET,
            &format!("/v1/admin/orgs/{}/join-codes", t.b),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(codes_b["items"].as_array().unwrap().len(), 1);
    assert_eq!(codes_b["items"][0]["revoked"], false);
    {
        let mut conn = app.db.get().unwrap();
        let children_of_b: i64 = o::table
            .filter(o::parent_id.eq(t.b))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(children_of_b, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_requests_on_their_own_district_succeed() {
    let sc = scoped().await;
    // First refused on B, so that the grant on A below follows a refused grant on B.
    refused_outside_the_subtree(&sc).await;
    let Scoped {
        s: Staffed {
            app, t, staff_a, ..
        },
        grantee,
        code_a,
        pending_a1,
        pending_a2,
        ..
    } = sc;

    // The same requests by staff A on A's own resources succeed: the 404s were about scope.
    let expected = [200, 200, 200, 200, 200, 200, 200, 200, 201, 201, 201, 200];
    let own = scoped_requests(t.a, pending_a1, pending_a2, &code_a, &grantee);
    assert_eq!(own.len(), expected.len());
    for ((method, path, body), status) in own.into_iter().zip(expected) {
        let res = send(&app, &staff_a, method.clone(), &path, body.as_ref()).await;
        assert_eq!(res.status().as_u16(), status, "{method} {path}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        let bytes = res.bytes().await.unwrap();
        if path.ends_with("qr.png") {
            assert_eq!(content_type, "image/png");
            assert_eq!(
                gigunion_tests::decode_qr_png(&bytes),
                format!("{}/j/{code_a}", app.base)
            );
        } else if path.ends_with("qr.svg") {
            assert_eq!(content_type, "image/svg+xml");
        } else if path.ends_with("format=csv") {
            assert!(content_type.starts_with("text/csv"), "{content_type}");
        } else if path.ends_with("/approve") {
            let v: Value = gigunion_tests::serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                (v["id"].as_i64(), v["status"].as_str()),
                (Some(pending_a1), Some("active"))
            );
        } else if path.ends_with("/reject") {
            let v: Value = gigunion_tests::serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                (v["id"].as_i64(), v["status"].as_str()),
                (Some(pending_a2), Some("rejected"))
            );
        } else if path.ends_with("/revoke") {
            let v: Value = gigunion_tests::serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["revoked"], true);
        } else if path.ends_with("/applications") {
            let v: Value = gigunion_tests::serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                ids(&v).into_iter().collect::<BTreeSet<_>>(),
                [pending_a1, pending_a2].into()
            );
        }
    }
    // The grantee is now staff of A only: the refused grant on B left no trace.
    let grantee_token = app.token_of(&grantee).await;
    let me = expect(app.get("/v1/me", Some(&grantee_token)).await, 200).await;
    assert_eq!(
        me["staff_scopes"],
        json!([{ "org_id": t.a, "org_name": "玄武区总工会" }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_citys_staff_see_and_decide_in_both_districts() {
    let Scoped {
        s:
            Staffed {
                app,
                t,
                staff_a,
                staff_b,
                staff_city,
            },
        pending_b,
        pending_a1,
        pending_a2,
        ..
    } = scoped().await;

    // The city's staff see both districts' queues.
    for org in [t.a, t.b] {
        let queue = expect(
            send(
                &app,
                &staff_city,
                Method::GET,
                &format!("/v1/admin/orgs/{org}/applications"),
                None,
            )
            .await,
            200,
        )
        .await;
        let expected: BTreeSet<i64> = if org == t.a {
            [pending_a1, pending_a2].into()
        } else {
            [pending_b].into()
        };
        assert_eq!(ids(&queue).into_iter().collect::<BTreeSet<_>>(), expected);
        expect(
            send(
                &app,
                &staff_city,
                Method::GET,
                &format!("/v1/admin/orgs/{org}/members"),
                None,
            )
            .await,
            200,
        )
        .await;
    }

    // Staff A approve A's first application, so that the city has a member in each district.
    expect(
        send(
            &app,
            &staff_a,
            Method::POST,
            &format!("/v1/admin/memberships/{pending_a1}/approve"),
            Some(&json!({})),
        )
        .await,
        200,
    )
    .await;

    // The city's staff decide in either district; B's application becomes a member of B.
    let approved = expect(
        send(
            &app,
            &staff_city,
            Method::POST,
            &format!("/v1/admin/memberships/{pending_b}/approve"),
            Some(&json!({})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["org"]["id"], t.b);
    let members_b = expect(
        send(
            &app,
            &staff_b,
            Method::GET,
            &format!("/v1/admin/orgs/{}/members", t.b),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ids(&members_b), vec![pending_b]);
    let members_city = expect(
        send(
            &app,
            &staff_city,
            Method::GET,
            &format!("/v1/admin/orgs/{}/members", t.city),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        ids(&members_city).into_iter().collect::<BTreeSet<_>>(),
        [pending_a1, pending_b].into()
    );
}

/// Registers `phone(307)`, an account that is staff nowhere; its access token.
async fn plain(app: &TestApp) -> String {
    let plain = app.register(&phone(307)).await;
    plain["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_staff_get_403_on_admin_routes_and_staff_anywhere_may_verify_cards() {
    let Staffed {
        app, t, staff_a, ..
    } = staffed().await;

    // An account that is staff nowhere: 403 on admin routes, whatever the org.
    let plain = plain(&app).await;
    for path in [
        format!("/v1/admin/orgs/{}/members", t.a),
        format!("/v1/admin/orgs/{}/applications", t.a),
        "/v1/admin/orgs/999999/members".to_owned(),
    ] {
        assert_problem(
            send(&app, &plain, Method::GET, &path, None).await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_problem(
        send(
            &app,
            &plain,
            Method::POST,
            "/v1/admin/cards/verify",
            Some(&json!({ "token": "x" })),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    // Staff anywhere may verify cards.
    let verified = expect(
        send(
            &app,
            &staff_a,
            Method::POST,
            "/v1/admin/cards/verify",
            Some(&json!({ "token": "x" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(verified["result"], "invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_level_orgs_are_for_admins_only() {
    let Staffed {
        app,
        t,
        staff_a,
        staff_city,
        ..
    } = staffed().await;
    let plain = plain(&app).await;

    // Top-level orgs are for admins only.
    let top = json!({ "kind": "federation", "name": "浙江省总工会", "region_code": "330000", "address": "杭州市" });
    for token in [&plain, &staff_a, &staff_city] {
        assert_problem(
            send(&app, token, Method::POST, "/v1/admin/orgs", Some(&top)).await,
            403,
            "forbidden",
        )
        .await;
    }
    expect(
        send(&app, &t.admin, Method::POST, "/v1/admin/orgs", Some(&top)).await,
        201,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_codes_refuse_unknown_used_up_revoked_and_expired() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let admin = &t.admin;

    // Unknown: well-formed but never issued, and malformed.
    let rider = app.worker(310).await;
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect();
    for code in [
        random.as_str(),
        "short",
        "abcdefghijklm",
        "abc.defghijk",
        "abc~defghijk",
    ] {
        assert_problem(
            app.get(&format!("/v1/join/{code}"), None).await,
            404,
            "join_code_unknown",
        )
        .await;
        assert_problem(app.join(&rider.token, code).await, 404, "join_code_unknown").await;
    }
    let landing = app.get(&format!("/j/{random}"), None).await;
    assert_eq!(landing.status().as_u16(), 404);

    // One use only: the first rider joins, the second is told it is used up.
    let single = code_of(
        &app.join_code(
            admin,
            t.a,
            json!({ "label": "单次", "max_uses": 1, "auto_approve": true }),
        )
        .await,
    );
    let first = app.worker(311).await;
    let second = app.worker(312).await;
    expect(app.get(&format!("/v1/join/{single}"), None).await, 200).await;
    expect(app.join(&first.token, &single).await, 201).await;
    assert_problem(
        app.get(&format!("/v1/join/{single}"), None).await,
        409,
        "join_code_used_up",
    )
    .await;
    assert_problem(
        app.join(&second.token, &single).await,
        409,
        "join_code_used_up",
    )
    .await;
    // The rider who used it repeating the request still gets their membership.
    expect(app.join(&first.token, &single).await, 200).await;

    // Revoked: the landing page works until the code is withdrawn, then explains why not.
    let withdrawn = code_of(
        &app.join_code(admin, t.a, json!({ "label": "夏季集市" }))
            .await,
    );
    expect(app.get(&format!("/v1/join/{withdrawn}"), None).await, 200).await;
    let page = app.get(&format!("/j/{withdrawn}"), None).await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("玄武区总工会") && html.contains("夏季集市"),
        "{html}"
    );
    let revoked = expect(
        app.post(
            &format!("/v1/admin/join-codes/{withdrawn}/revoke"),
            &json!({}),
            Some(admin),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(revoked["revoked"], true);
    assert_problem(
        app.get(&format!("/v1/join/{withdrawn}"), None).await,
        409,
        "join_code_revoked",
    )
    .await;
    assert_problem(
        app.join(&second.token, &withdrawn).await,
        409,
        "join_code_revoked",
    )
    .await;
    let page = app.get(&format!("/j/{withdrawn}"), None).await;
    assert_eq!(page.status().as_u16(), 409);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("该入会码已停用"), "{html}");
    assert!(!html.contains("玄武区总工会"), "{html}");

    // Expired: usable until its time, refused after. Its time is then moved into the past in
    // the database, so no test run is too slow for the window.
    let at = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let brief = code_of(
        &app.join_code(admin, t.a, json!({ "label": "限时", "expires_at": at }))
            .await,
    );
    expect(app.get(&format!("/v1/join/{brief}"), None).await, 200).await;
    let past = platform::clock::now() - chrono::Duration::seconds(1);
    diesel::update(j::table.filter(j::code.eq(&brief)))
        .set(j::expires_at.eq(past))
        .execute(&mut *app.db.get().unwrap())
        .unwrap();
    assert_problem(
        app.get(&format!("/v1/join/{brief}"), None).await,
        409,
        "join_code_expired",
    )
    .await;
    assert_problem(
        app.join(&second.token, &brief).await,
        409,
        "join_code_expired",
    )
    .await;

    // Refused at creation: an expiry in the past, zero or negative uses.
    let past = (Utc::now() - chrono::Duration::seconds(60)).to_rfc3339();
    let bad = assert_problem(
        app.post(
            &format!("/v1/admin/orgs/{}/join-codes", t.a),
            &json!({ "label": "过期", "expires_at": past }),
            Some(admin),
        )
        .await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(bad["field"], "expires_at");
    for uses in [0, -1] {
        let bad = assert_problem(
            app.post(
                &format!("/v1/admin/orgs/{}/join-codes", t.a),
                &json!({ "label": "零次", "max_uses": uses }),
                Some(admin),
            )
            .await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(bad["field"], "max_uses");
    }

    // Refusals took nothing: the refused rider has no application, only the single use counted.
    let mine = expect(app.get("/v1/me/membership", Some(&second.token)).await, 200).await;
    assert!(
        mine["current"].is_null() && mine["pending"].is_null(),
        "{mine}"
    );
    assert_eq!(mine["history"], json!([]));
    let codes = expect(
        app.get(&format!("/v1/admin/orgs/{}/join-codes", t.a), Some(admin))
            .await,
        200,
    )
    .await;
    let uses: Vec<(String, i64)> = codes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (code_of(c), c["uses"].as_i64().unwrap()))
        .collect();
    assert_eq!(uses, vec![(brief, 0), (withdrawn, 0), (single, 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_deciding_and_leaving_follow_the_rules() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let admin = &t.admin;
    let staff_a = staff(&app, admin, t.a, 329).await;
    let review_a = code_of(
        &app.join_code(admin, t.a, json!({ "label": "审核一" }))
            .await,
    );
    let review_b = code_of(
        &app.join_code(admin, t.b, json!({ "label": "审核二" }))
            .await,
    );
    let auto_a = code_of(
        &app.join_code(
            admin,
            t.a,
            json!({ "label": "直通一", "auto_approve": true }),
        )
        .await,
    );
    let auto_a2 = code_of(
        &app.join_code(
            admin,
            t.a,
            json!({ "label": "直通二", "auto_approve": true }),
        )
        .await,
    );

    // No real-name profile: no joining, and nothing recorded.
    let anonymous = app.register(&phone(320)).await;
    let anonymous = anonymous["access_token"].as_str().unwrap().to_owned();
    assert_problem(
        app.join(&anonymous, &review_a).await,
        422,
        "real_name_required",
    )
    .await;
    let mine = expect(app.get("/v1/me/membership", Some(&anonymous)).await, 200).await;
    assert_eq!(mine["history"], json!([]));

    // The same join twice is the same application; another code meanwhile is refused.
    let rider = app.worker(321).await;
    let first = expect(app.join(&rider.token, &review_a).await, 201).await;
    assert_eq!(first["status"], "pending");
    let application = first["id"].as_i64().unwrap();
    let again = expect(app.join(&rider.token, &review_a).await, 200).await;
    assert_eq!(again["id"], application);
    assert_eq!(again["status"], "pending");
    assert_problem(
        app.join(&rider.token, &review_b).await,
        409,
        "application_pending",
    )
    .await;
    assert_problem(
        app.join(&rider.token, &auto_a).await,
        409,
        "application_pending",
    )
    .await;

    // Rejected with a reason the rider sees.
    let reason = "请补充站点工作证明";
    let rejected = expect(
        app.post(
            &format!("/v1/admin/memberships/{application}/reject"),
            &json!({ "reason": reason }),
            Some(&staff_a),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rejected["id"], application);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reject_reason"], reason);
    assert!(rejected["member_no"].is_null());
    let mine = expect(app.get("/v1/me/membership", Some(&rider.token)).await, 200).await;
    assert!(
        mine["current"].is_null() && mine["pending"].is_null(),
        "{mine}"
    );
    assert_eq!(mine["history"][0]["kind"], "rejected");
    assert_eq!(mine["history"][0]["membership_id"], application);
    assert_eq!(mine["history"][0]["note"], reason);
    assert_eq!(mine["history"][1]["kind"], "applied");
    assert_eq!(mine["history"].as_array().unwrap().len(), 2);

    // Decided is decided: neither approval nor a second rejection.
    assert_problem(
        app.post(
            &format!("/v1/admin/memberships/{application}/approve"),
            &json!({}),
            Some(&staff_a),
        )
        .await,
        409,
        "application_not_pending",
    )
    .await;
    assert_problem(
        app.post(
            &format!("/v1/admin/memberships/{application}/reject"),
            &json!({ "reason": "再拒" }),
            Some(admin),
        )
        .await,
        409,
        "application_not_pending",
    )
    .await;
    // A rejection needs a reason.
    let other = app.worker(323).await;
    let waiting = expect(app.join(&other.token, &review_a).await, 201).await["id"]
        .as_i64()
        .unwrap();
    let bad = assert_problem(
        app.post(
            &format!("/v1/admin/memberships/{waiting}/reject"),
            &json!({ "reason": "  " }),
            Some(&staff_a),
        )
        .await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(bad["field"], "reason");

    // Not a member: nothing to leave, no card.
    let leave = |token: String, reason: &'static str| {
        let req = app
            .request(Method::DELETE, "/v1/me/membership")
            .bearer_auth(token)
            .json(&json!({ "reason": reason }));
        async move { req.send().await.expect("request sent") }
    };
    assert_problem(
        leave(rider.token.clone(), "不干了").await,
        404,
        "not_a_member",
    )
    .await;
    assert_problem(
        app.get("/v1/me/card", Some(&rider.token)).await,
        404,
        "not_a_member",
    )
    .await;

    // An active member: another code is refused, a code of the own org is no transfer.
    let member = app.worker(322).await;
    let joined = expect(app.join(&member.token, &auto_a).await, 201).await;
    assert_eq!(joined["status"], "active");
    let membership = joined["id"].as_i64().unwrap();
    let member_no = joined["member_no"].as_str().unwrap().to_owned();
    assert_eq!(
        expect(app.join(&member.token, &auto_a).await, 200).await["id"],
        membership
    );
    for code in [&auto_a2, &review_b] {
        assert_problem(app.join(&member.token, code).await, 409, "already_member").await;
    }
    assert_problem(
        app.post(
            "/v1/me/membership/transfer",
            &json!({ "join_code": auto_a2 }),
            Some(&member.token),
        )
        .await,
        409,
        "already_in_org",
    )
    .await;
    let card = expect(app.get("/v1/me/card", Some(&member.token)).await, 200).await;
    assert_eq!(card["member_no"], member_no);

    // Leaving needs a reason; a refused leave changes nothing.
    for reason in ["", "   "] {
        let bad = assert_problem(
            leave(member.token.clone(), reason).await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(bad["field"], "reason");
    }
    let mine = expect(app.get("/v1/me/membership", Some(&member.token)).await, 200).await;
    assert_eq!(mine["current"]["id"], membership);
    assert_eq!(mine["current"]["status"], "active");
    let left = expect(leave(member.token.clone(), "换行业了").await, 200).await;
    assert!(left["current"].is_null(), "{left}");
    assert_eq!(left["history"][0]["kind"], "left");
    assert_eq!(left["history"][0]["note"], "换行业了");
    assert_problem(
        app.get("/v1/me/card", Some(&member.token)).await,
        404,
        "not_a_member",
    )
    .await;
    assert_problem(
        leave(member.token.clone(), "再退").await,
        404,
        "not_a_member",
    )
    .await;

    // The rules hold in the database: one row per application made, none for refusals.
    let mut conn = app.db.get().unwrap();
    let rows: Vec<(i64, String)> = ms::table
        .order(ms::id)
        .select((ms::id, ms::status))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (application, "rejected".to_owned()),
            (waiting, "pending".to_owned()),
            (membership, "ended".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_list_filters_searches_pages_and_exports_masked_csv() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let staff_a = staff(&app, &t.admin, t.a, 339).await;
    let auto = code_of(
        &app.join_code(
            &t.admin,
            t.a,
            json!({ "label": "直通", "auto_approve": true }),
        )
        .await,
    );
    let review = code_of(
        &app.join_code(&t.admin, t.a, json!({ "label": "审核" }))
            .await,
    );

    // Four riders and one courier become members; two more wait for review.
    let mut active = Vec::new(); // (n, membership id, member number)
    for n in 330..=333 {
        let w = app.worker(n).await;
        let v = expect(app.join(&w.token, &auto).await, 201).await;
        active.push((
            n,
            v["id"].as_i64().unwrap(),
            v["member_no"].as_str().unwrap().to_owned(),
        ));
    }
    let courier = app.worker(334).await;
    let v = expect(
        app.post(
            "/v1/memberships",
            &json!({ "join_code": auto, "occupation": "courier", "platform": "顺丰", "work_city": "南京" }),
            Some(&courier.token),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(v["occupation"], "courier");
    let courier_id = v["id"].as_i64().unwrap();
    active.push((334, courier_id, v["member_no"].as_str().unwrap().to_owned()));
    let mut pending = Vec::new();
    for n in [335, 336] {
        let w = app.worker(n).await;
        pending.push(
            expect(app.join(&w.token, &review).await, 201).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    // Someone in the sibling district, never in A's lists.
    let elsewhere = app.worker(337).await;
    let code_b = code_of(
        &app.join_code(
            &t.admin,
            t.b,
            json!({ "label": "秦淮", "auto_approve": true }),
        )
        .await,
    );
    expect(app.join(&elsewhere.token, &code_b).await, 201).await;

    let list = |params: Vec<(&'static str, String)>| {
        let req = app
            .request(Method::GET, &format!("/v1/admin/orgs/{}/members", t.a))
            .bearer_auth(&staff_a)
            .query(&params);
        async move { req.send().await.expect("request sent") }
    };
    let all_active: BTreeSet<i64> = active.iter().map(|a| a.1).collect();

    // Default: the active members, newest first, one page.
    let page = expect(list(vec![]).await, 200).await;
    let got = ids(&page);
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), all_active);
    assert!(got.windows(2).all(|w| w[0] > w[1]), "newest first: {got:?}");
    assert!(page["next_cursor"].is_null());
    for row in page["items"].as_array().unwrap() {
        assert_eq!(row["status"], "active");
        assert_eq!(row["org"]["id"], t.a);
    }

    // Filters.
    let page = expect(list(vec![("status", "pending".into())]).await, 200).await;
    assert_eq!(
        ids(&page).into_iter().collect::<BTreeSet<_>>(),
        pending.iter().copied().collect()
    );
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "pending"));
    let page = expect(list(vec![("occupation", "courier".into())]).await, 200).await;
    assert_eq!(ids(&page), vec![courier_id]);
    assert_eq!(page["items"][0]["platform"], "顺丰");
    let page = expect(list(vec![("occupation", "truck_driver".into())]).await, 200).await;
    assert_eq!(ids(&page), Vec::<i64>::new());
    let bad = assert_problem(
        list(vec![("status", "deleted".into())]).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(bad["field"], "status");

    // Search: a name fragment (骑手三三一), the family of names, a full phone, a member number.
    let page = expect(list(vec![("q", "三一".into())]).await, 200).await;
    assert_eq!(ids(&page), vec![active[1].1]);
    assert_eq!(page["items"][0]["legal_name"], "骑手三三一");
    let page = expect(list(vec![("q", "骑手".into())]).await, 200).await;
    assert_eq!(ids(&page).into_iter().collect::<BTreeSet<_>>(), all_active);
    let page = expect(
        list(vec![("q", "三五".into()), ("status", "pending".into())]).await,
        200,
    )
    .await;
    assert_eq!(ids(&page), vec![pending[0]]);
    let page = expect(list(vec![("q", phone(332))]).await, 200).await;
    assert_eq!(ids(&page), vec![active[2].1]);
    assert_eq!(page["items"][0]["phone_masked"], "139****0332");
    let page = expect(list(vec![("q", phone(337))]).await, 200).await;
    assert_eq!(
        ids(&page),
        Vec::<i64>::new(),
        "a member of B is not found from A"
    );
    let page = expect(list(vec![("q", active[3].2.clone())]).await, 200).await;
    assert_eq!(ids(&page), vec![active[3].1]);
    assert_eq!(page["items"][0]["member_no"], active[3].2);

    // Wildcards in a search are text, not patterns.
    for q in ["%", "_", "骑手%"] {
        let page = expect(list(vec![("q", q.to_owned())]).await, 200).await;
        assert_eq!(ids(&page), Vec::<i64>::new(), "q={q}");
    }

    // Joined dates are calendar days in Shanghai. The days come from the stored join times,
    // so a run that crosses midnight there still filters on the days the members joined.
    let joined_days: BTreeSet<chrono::NaiveDate> = expect(list(vec![]).await, 200).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let at: chrono::DateTime<Utc> = row["joined_at"].as_str().unwrap().parse().unwrap();
            (at + chrono::Duration::hours(8)).date_naive()
        })
        .collect();
    let (first, last) = (joined_days.first().unwrap(), joined_days.last().unwrap());
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let page = expect(
        list(vec![
            ("joined_from", day(*first)),
            ("joined_to", day(*last)),
        ])
        .await,
        200,
    )
    .await;
    assert_eq!(ids(&page).into_iter().collect::<BTreeSet<_>>(), all_active);
    for params in [
        vec![("joined_from", day(*last + chrono::Days::new(1)))],
        vec![("joined_to", day(*first - chrono::Days::new(1)))],
    ] {
        let page = expect(list(params).await, 200).await;
        assert_eq!(ids(&page), Vec::<i64>::new());
    }

    // Pages of one: every member exactly once, then no cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("limit", "1".to_owned())];
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let page = expect(list(params).await, 200).await;
        pages += 1;
        assert!(pages <= 10, "pagination does not end");
        let got = ids(&page);
        assert_eq!(got.len(), 1, "{page}");
        seen.extend(got);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(page["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, active.len());
    assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), all_active);
    assert_eq!(seen.len(), all_active.len(), "no duplicates: {seen:?}");

    for (params, field) in [
        (vec![("limit", "0".to_owned())], "limit"),
        (vec![("limit", "101".to_owned())], "limit"),
        (vec![("cursor", "garbage".to_owned())], "cursor"),
    ] {
        let bad = assert_problem(list(params).await, 422, "invalid_field").await;
        assert_eq!(bad["field"], field);
    }

    // CSV: BOM, a header and one line per member; masked phone and ID number only.
    let res = list(vec![("format", "csv".into())]).await;
    assert_eq!(res.status().as_u16(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + active.len(), "{text}");
    assert!(
        lines[0].contains("会员编号") && lines[0].contains("身份证号"),
        "{}",
        lines[0]
    );
    for (n, _, member_no) in &active {
        let id = id_number(*n);
        let full_phone = phone(*n);
        assert!(!text.contains(&id), "full ID number of {n} in the export");
        assert!(
            !text.contains(&full_phone),
            "full phone of {n} in the export"
        );
        let masked_id = format!("{}{}{}", &id[..3], "*".repeat(11), &id[14..]);
        let masked_phone = format!("{}****{}", &full_phone[..3], &full_phone[7..]);
        let line = lines
            .iter()
            .find(|l| l.contains(member_no.as_str()))
            .unwrap_or_else(|| panic!("no line for {member_no}: {text}"));
        assert!(line.contains(&masked_id), "{line}");
        assert!(line.contains(&masked_phone), "{line}");
    }
    // Nobody else's data: not the pending applicants, not B's member.
    for n in [335, 336, 337] {
        assert!(
            !text.contains(&format!("****{}", &phone(n)[7..])),
            "{n} in the export"
        );
    }
    // The JSON list is masked as well.
    let page = expect(list(vec![]).await, 200).await.to_string();
    for (n, _, _) in &active {
        assert!(!page.contains(&id_number(*n)) && !page.contains(&phone(*n)));
    }
    // The filters apply to the export.
    let res = list(vec![
        ("format", "csv".into()),
        ("occupation", "courier".into()),
    ])
    .await;
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().filter(|l| !l.is_empty()).count(), 2, "{text}");
    assert!(text.contains("顺丰"));

    // Nothing changed underneath: the DB agrees with the list.
    let mut conn = app.db.get().unwrap();
    let active_in_a: i64 = ms::table
        .filter(ms::org_id.eq(t.a))
        .filter(ms::status.eq("active"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(active_in_a, active.len() as i64);
    let used: i32 = j::table
        .filter(j::code.eq(&auto))
        .select(j::uses)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(used, active.len() as i32);
}

/// Non-staff are refused before any look-up (ids and codes tell them nothing), and staff see
/// unknown codes exactly as codes outside their subtree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_leak_nothing_to_non_staff_or_other_districts() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let staff_b = staff(&app, &t.admin, t.b, 340).await;
    let staff_a = staff(&app, &t.admin, t.a, 341).await;
    let code = app
        .join_code(&staff_b, t.b, json!({ "label": "秦淮审核入会" }))
        .await;
    let applicant = app.worker(342).await;
    let application: Value = app
        .join(&applicant.token, &code_of(&code))
        .await
        .json()
        .await
        .unwrap();
    let worker = app.worker(343).await;

    for id in [application["id"].as_i64().unwrap(), 999_999] {
        let approve = app
            .post(
                &format!("/v1/admin/memberships/{id}/approve"),
                &json!({}),
                Some(&worker.token),
            )
            .await;
        assert_problem(approve, 403, "forbidden").await;
    }
    for code in [code_of(&code), "AAAAAAAAAAAA".to_owned()] {
        let qr = app
            .get(
                &format!("/v1/admin/join-codes/{code}/qr.png"),
                Some(&worker.token),
            )
            .await;
        assert_problem(qr, 403, "forbidden").await;
        let qr = app
            .get(
                &format!("/v1/admin/join-codes/{code}/qr.png"),
                Some(&staff_a),
            )
            .await;
        assert_problem(qr, 404, "not_found").await;
    }
}

/// Leaving while a transfer waits for review withdraws the transfer too: approving it later
/// must not make someone who left a member again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_withdraws_a_pending_transfer() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let staff_a = staff(&app, &t.admin, t.a, 350).await;
    let staff_b = staff(&app, &t.admin, t.b, 351).await;
    let open = app
        .join_code(
            &staff_a,
            t.a,
            json!({ "label": "玄武", "auto_approve": true }),
        )
        .await;
    let review = app
        .join_code(&staff_b, t.b, json!({ "label": "秦淮" }))
        .await;
    let rider = app.worker(352).await;
    assert_eq!(app.join(&rider.token, &code_of(&open)).await.status(), 201);
    let transfer: Value = app
        .post(
            "/v1/me/membership/transfer",
            &json!({ "join_code": code_of(&review) }),
            Some(&rider.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(transfer["status"], "pending");
    let left: Value = send(
        &app,
        &rider.token,
        Method::DELETE,
        "/v1/me/membership",
        Some(&json!({ "reason": "不干了" })),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        left["current"].is_null() && left["pending"].is_null(),
        "{left}"
    );
    let approve = app
        .post(
            &format!("/v1/admin/memberships/{}/approve", transfer["id"]),
            &json!({}),
            Some(&staff_b),
        )
        .await;
    assert_problem(approve, 409, "application_not_pending").await;
    assert_problem(
        app.get("/v1/me/card", Some(&rider.token)).await,
        404,
        "not_a_member",
    )
    .await;
}

/// Splits an RFC 4180 file into records of cells; asserts every line ends with CRLF.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    assert!(text.ends_with("\r\n"), "{text:?}");
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "a bare LF: {text:?}"
    );
    let (mut records, mut record, mut cell) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => cell.push(c),
        }
    }
    records
}

/// Every byte of `text` as `%XX`, as RFC 5987 writes non-ASCII.
fn percent_encoded(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// What the export tests type as a platform: a formula a spreadsheet would run.
const FORMULA: &str = r#"=HYPERLINK("http://evil.example","点我")"#;

/// District A with its staff (360), a courier whose platform and city are formulas (361), a
/// rider (362) and an applicant (363). Returns the staff token and the courier's member number.
async fn export_scene(app: &TestApp, t: &Tree) -> (String, String) {
    let staff_a = staff(app, &t.admin, t.a, 360).await;
    let auto = code_of(
        &app.join_code(
            &t.admin,
            t.a,
            json!({ "label": "直通", "auto_approve": true }),
        )
        .await,
    );
    let courier = app.worker(361).await;
    let joined = expect(
        app.post(
            "/v1/memberships",
            &json!({ "join_code": auto, "occupation": "courier", "platform": FORMULA, "work_city": "+南京" }),
            Some(&courier.token),
        )
        .await,
        201,
    )
    .await;
    let rider = app.worker(362).await;
    expect(app.join(&rider.token, &auto).await, 201).await;
    let review = code_of(
        &app.join_code(&t.admin, t.a, json!({ "label": "审核" }))
            .await,
    );
    let applicant = app.worker(363).await;
    expect(app.join(&applicant.token, &review).await, 201).await;
    (staff_a, joined["member_no"].as_str().unwrap().to_owned())
}

/// A member export of `org`: asserts the response is a UTF-8 CSV download with a BOM, cached
/// nowhere; returns its Content-Disposition and records.
async fn export_csv(
    app: &TestApp,
    token: &str,
    org: i64,
    params: &[(&str, &str)],
) -> (String, Vec<Vec<String>>) {
    let res = app
        .request(
            Method::GET,
            &format!("/v1/admin/orgs/{org}/members?format=csv"),
        )
        .bearer_auth(token)
        .query(params)
        .send()
        .await
        .expect("request sent");
    assert_eq!(res.status().as_u16(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let records = csv_records(std::str::from_utf8(&bytes[3..]).unwrap());
    let disposition = headers["content-disposition"].to_str().unwrap().to_owned();
    (disposition, records)
}

/// The cell under `header` in the row whose first cell is `first`.
fn cell(records: &[Vec<String>], first: &str, header: &str) -> String {
    let column = records[0].iter().position(|h| h == header).unwrap();
    let row = records
        .iter()
        .find(|r| r[0] == first)
        .unwrap_or_else(|| panic!("no row {first:?}: {records:?}"));
    row[column].clone()
}

/// The member export is the staff's spreadsheet: Chinese headers and labels unless `lang=en`,
/// a BOM and CRLF for Excel, a Chinese file name, formulas typed into free text defused and
/// member numbers kept as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_export_is_chinese_by_default_and_safe_in_spreadsheets() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (staff_a, member_no) = export_scene(&app, &t).await;
    // A leading tab keeps the 15 digits text in Excel (no 3.20102E+14).
    let courier = format!("\t{member_no}");

    let (disposition, records) = export_csv(&app, &staff_a, t.a, &[]).await;
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"members-{}-", t.a))
            && disposition.contains("; filename*=UTF-8''")
            && disposition.contains(&percent_encoded("会员名册"))
            && disposition.contains(&percent_encoded("玄武区总工会"))
            && disposition.ends_with(".csv"),
        "{disposition}"
    );
    assert_eq!(
        records[0].join(","),
        "会员编号,姓名,手机号,身份证号,所属工会,职业,平台,工作城市,状态,申请时间,入会时间"
    );
    assert_eq!(records.len(), 3, "the two members only: {records:?}");
    let zh = |header| cell(&records, &courier, header);
    assert_eq!(zh("姓名"), gigunion_tests::legal_name(361));
    assert_eq!(zh("手机号"), "139****0361");
    assert_eq!(zh("所属工会"), "玄武区总工会");
    assert_eq!((zh("职业"), zh("状态")), ("快递员".into(), "在会".into()));
    // The formulas typed as platform and city arrive as inert text, otherwise unchanged.
    assert_eq!(zh("平台"), format!("'{FORMULA}"));
    assert_eq!(zh("工作城市"), "'+南京");
    let joined_at = zh("入会时间");
    chrono::NaiveDateTime::parse_from_str(&joined_at, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{joined_at}: {e}"));
    let rider = records.iter().find(|r| r[2] == "139****0362").unwrap();
    assert_eq!(rider[5], "外卖骑手");
    let (_, pending) = export_csv(&app, &staff_a, t.a, &[("status", "pending")]).await;
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert_eq!(
        (&*pending[1][2], &*pending[1][8]),
        ("139****0363", "待审核")
    );

    // lang=en: the JSON's field names, codes and times; the same safety.
    let (disposition, records) = export_csv(&app, &staff_a, t.a, &[("lang", "en")]).await;
    assert!(
        disposition.contains("filename*=UTF-8''members"),
        "{disposition}"
    );
    assert_eq!(
        records[0].join(","),
        "member_no,legal_name,phone,id_number,org,occupation,platform,work_city,status,applied_at,joined_at"
    );
    let en = |header| cell(&records, &courier, header);
    assert_eq!(
        (en("occupation"), en("status")),
        ("courier".into(), "active".into())
    );
    assert_eq!(en("platform"), format!("'{FORMULA}"));
    let path = format!("/v1/admin/orgs/{}/members?q={member_no}", t.a);
    let listed = expect(send(&app, &staff_a, Method::GET, &path, None).await, 200).await;
    let time = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    assert_eq!(
        time(&en("joined_at")),
        time(listed["items"][0]["joined_at"].as_str().unwrap())
    );

    let path = format!("/v1/admin/orgs/{}/members?format=csv&lang=xx", t.a);
    let bad = send(&app, &staff_a, Method::GET, &path, None).await;
    let bad = assert_problem(bad, 422, "invalid_field").await;
    assert_eq!(bad["field"], "lang");
}
