//! The console's Members section over plain HTTP: the list filters and pages like the API's
//! (same use case), its CSV is the API's file, and a member's page shows masked data, the
//! history and the benefit ledger, scoped to the subtree and audited.
//!
//! Staff: `phone(1)` of Xuanwu, `phone(2)` of Qinhuai; members from `phone(810)`.

use gigunion_tests::console::{console_app, Console};
use gigunion_tests::reqwest::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use gigunion_tests::{open_window, phone, Districts, TestApp, Worker};
use serde_json::{json, Value};

/// GETs an API path with `token`, asserts 200 and returns the JSON body.
async fn api(app: &TestApp, path: &str, token: &str) -> Value {
    let res = app.get(path, Some(token)).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

async fn membership_id(app: &TestApp, member: &Worker) -> i64 {
    let mine = api(app, "/v1/me/membership", &member.token).await;
    mine["current"]["id"].as_i64().unwrap()
}

/// The membership ids of the rows of a member list page, in order.
fn rows(body: &str) -> Vec<i64> {
    body.split("data-member=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// The `href` of the first link whose attributes include `marker`, unescaped.
fn link(body: &str, marker: &str) -> Option<String> {
    let tag_start = body[..body.find(marker)?].rfind("<a ")?;
    let tag = &body[tag_start..];
    let at = tag.find("href=\"")? + "href=\"".len();
    let end = tag[at..].find('"')?;
    Some(tag[at..at + end].replace("&amp;", "&"))
}

async fn signed_in_staff(app: &TestApp) -> (Districts, Console) {
    let d = app.nanjing_districts((1, 2)).await;
    let console = Console::signed_in(app, &phone(1)).await;
    (d, console)
}

#[tokio::test]
async fn the_list_filters_with_the_apis_rules_in_either_language() {
    let app = console_app().await;
    let (d, mut console) = signed_in_staff(&app).await;
    let riders = app.bulk_members(d.xuanwu, 810, 2, "rider").await;
    app.bulk_members(d.xuanwu, 812, 1, "courier").await;
    let wanted = membership_id(&app, &riders[1]).await;
    let x = d.xuanwu;

    let all = console.get(&format!("/console/members?org={x}")).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(rows(&all.body).len(), 3, "{}", all.body);
    let table = &all.body[all.body.find("<tbody>").unwrap()..];
    assert!(
        table.contains("外卖骑手") && table.contains("在会"),
        "{table}"
    );

    // The filter form as a browser sends it: every field, the unused ones empty.
    let by_name = format!(
        "/console/members?org={x}&status=active&occupation=&platform=&q=%E5%85%AB%E4%B8%80%E4%B8%80&joined_from=&joined_to="
    );
    let found = console.get(&by_name).await;
    assert_eq!(rows(&found.body), [wanted], "骑手八一一 only");
    assert_eq!(
        link(&found.body, "骑手八一一").as_deref(),
        Some(format!("/console/members/{wanted}").as_str())
    );
    let by_mobile = format!("/console/members?org={x}&q={}", riders[1].phone);
    assert_eq!(rows(&console.get(&by_mobile).await.body), [wanted]);
    let couriers = console
        .get(&format!("/console/members?org={x}&occupation=courier"))
        .await;
    assert_eq!(rows(&couriers.body).len(), 1);
    let bad = console
        .get(&format!("/console/members?org={x}&occupation=pilot"))
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("occupation"), "{}", bad.body);

    console.get("/lang/en?back=/console").await;
    let english = console.get(&format!("/console/members?org={x}")).await;
    let table = &english.body[english.body.find("<tbody>").unwrap()..];
    assert!(
        table.contains("Delivery rider") && table.contains("Active"),
        "{table}"
    );
    assert!(!english.body.contains("外卖骑手"));
}

#[tokio::test]
async fn the_next_page_keeps_the_filters() {
    let app = console_app().await;
    let (d, mut console) = signed_in_staff(&app).await;
    app.bulk_members(d.xuanwu, 810, 21, "rider").await;
    app.bulk_members(d.xuanwu, 840, 1, "courier").await;

    let first = console
        .get(&format!(
            "/console/members?org={}&occupation=rider",
            d.xuanwu
        ))
        .await;
    let mut seen = rows(&first.body);
    assert_eq!(seen.len(), 20, "a page is 20 rows");
    let next = link(&first.body, "rel=\"next\"").expect("a next page");
    assert!(next.contains("occupation=rider"), "{next}");
    let second = console.get(&next).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        rows(&second.body).len(),
        1,
        "the 21st rider, not the courier"
    );
    assert!(
        link(&second.body, "rel=\"next\"").is_none(),
        "the last page"
    );
    seen.extend(rows(&second.body));
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, none twice"
    );
}

#[tokio::test]
async fn the_csv_download_is_the_apis_file_for_the_same_filter() {
    let app = console_app().await;
    let (d, mut console) = signed_in_staff(&app).await;
    app.bulk_members(d.xuanwu, 810, 2, "rider").await;
    app.bulk_members(d.xuanwu, 812, 1, "courier").await;

    let list = console
        .get(&format!(
            "/console/members?org={}&occupation=rider",
            d.xuanwu
        ))
        .await;
    let href = link(&list.body, "id=\"download-csv\"").expect("a download link");
    let from_console = console
        .client
        .get(format!("{}{href}", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(from_console.status(), 200);
    let api_path = format!(
        "/v1/admin/orgs/{}/members?occupation=rider&format=csv",
        d.xuanwu
    );
    let from_api = app.get(&api_path, Some(&d.staff_a)).await;
    assert_eq!(from_api.status(), 200);
    for name in [CONTENT_TYPE, CONTENT_DISPOSITION, CACHE_CONTROL] {
        assert_eq!(
            from_console.headers().get(&name),
            from_api.headers().get(&name),
            "{name}"
        );
    }
    let (console_bytes, api_bytes) = (from_console.bytes().await, from_api.bytes().await);
    let console_bytes = console_bytes.unwrap();
    assert_eq!(console_bytes, api_bytes.unwrap());
    let text = String::from_utf8(console_bytes.to_vec()).unwrap();
    assert_eq!(
        text.matches("\r\n").count(),
        3,
        "a header and two riders: {text}"
    );
}

#[tokio::test]
async fn the_member_page_shows_masked_data_history_and_ledger_and_is_audited() {
    let app = console_app().await;
    let (d, mut console) = signed_in_staff(&app).await;
    let (starts, ends) = open_window();
    let pack = json!({ "kind": "gift_pack", "title": "冬日暖心礼包", "starts_at": starts,
                       "ends_at": ends, "stock": 10 });
    let pack = app.published_program(&d.staff_a, d.xuanwu, pack).await;
    let member = &app.bulk_members(d.xuanwu, 810, 1, "rider").await[0];
    let claims = format!("/v1/programs/{}/claims", pack["id"]);
    let claimed = app.post(&claims, &json!({}), Some(&member.token)).await;
    assert_eq!(claimed.status(), 201);
    let id = membership_id(&app, member).await;
    let audit = format!("/v1/admin/orgs/{}/audit?action=member.view", d.xuanwu);
    assert_eq!(api(&app, &audit, &d.admin).await["items"], json!([]));

    let page = console.get(&format!("/console/members/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let masked_id = format!(
        "{}{}{}",
        &member.id_number[..3],
        "*".repeat(11),
        &member.id_number[14..]
    );
    assert!(page.body.contains(&masked_id), "{}", page.body);
    assert!(page.body.contains("139****0810") && page.body.contains("骑手八一零"));
    assert!(!page.body.contains(&member.id_number) && !page.body.contains(&member.phone));
    let history = &page.body[page.body.find("id=\"history\"").expect("a history")..];
    let activated = history.find("data-event=\"activated\"").unwrap();
    assert!(activated < history.find("data-event=\"applied\"").unwrap());
    let ledger = &page.body[page.body.find("id=\"ledger\"").expect("a ledger")..];
    assert!(ledger.contains("data-ledger=\"claimed\"") && ledger.contains("冬日暖心礼包"));

    let entries = api(&app, &audit, &d.admin).await;
    let entries = entries["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["record"], format!("membership:{id}"));
    let staff_account = api(&app, "/v1/me", &d.staff_a).await["id"].clone();
    assert_eq!(entries[0]["actor_account_id"], staff_account);
}

#[tokio::test]
async fn another_districts_staff_get_404_for_the_member_page() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let member = &app.bulk_members(d.xuanwu, 810, 1, "rider").await[0];
    let id = membership_id(&app, member).await;
    let mut other = Console::signed_in(&app, &phone(2)).await;
    let page = other.get(&format!("/console/members/{id}")).await;
    assert_eq!(page.status, 404);
    assert!(!page.body.contains("骑手八一零"), "{}", page.body);
    let missing = other.get("/console/members/999999").await;
    assert_eq!(missing.status, 404, "the same as no such member");
    let list = other
        .get(&format!("/console/members?org={}", d.xuanwu))
        .await;
    assert_eq!(list.status, 404);
    assert!(rows(&list.body).is_empty(), "{}", list.body);
}

#[tokio::test]
async fn a_deleted_members_row_and_page_show_no_phone() {
    let app = console_app().await;
    let (d, mut console) = signed_in_staff(&app).await;
    let member = &app.bulk_members(d.xuanwu, 810, 1, "rider").await[0];
    let id = membership_id(&app, member).await;
    let body = json!({ "password": gigunion_tests::PASSWORD });
    let req = app.request(gigunion_tests::reqwest::Method::DELETE, "/v1/me");
    let deleted = req.bearer_auth(&member.token).json(&body).send().await;
    assert_eq!(deleted.unwrap().status(), 204);

    let ended = format!("/console/members?org={}&status=ended", d.xuanwu);
    let list = console.get(&ended).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(rows(&list.body), [id]);
    assert!(!list.body.contains("139****0810"));
    let page = console.get(&format!("/console/members/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("该账号已注销"), "{}", page.body);
}
