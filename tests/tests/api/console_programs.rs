//! Programs in the staff console over HTTP: a draft created, edited and published from forms,
//! a voucher redeemed by typed code, a session added and its roster (page and CSV) showing the
//! riders who booked it, the session cancelled with its bookings.

use chrono::{Duration, Utc};
use gigunion_tests::console::{console_app, Console};
use gigunion_tests::phone;
use serde_json::{json, Value};

/// A `datetime-local` value `hours` from now, in Asia/Shanghai.
fn local(hours: i64) -> String {
    platform::clock::local(Utc::now() + Duration::hours(hours))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The id in the `Location` of a redirect to `/console/programs/{id}`.
fn program_id(location: Option<&str>) -> i64 {
    let location = location.expect("a redirect");
    location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no program in {location}"))
}

#[tokio::test]
async fn a_gift_pack_goes_from_form_to_redeemed_voucher() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let rider = app.bulk_members(d.xuanwu, 500, 1, "rider").await.remove(0);
    let mut staff = Console::signed_in(&app, &phone(1)).await;
    staff
        .get(&format!("/console/programs?org={}", d.xuanwu))
        .await;
    let (starts, ends) = (local(-1), local(48));
    let org = d.xuanwu.to_string();
    let fields = [
        ("org", org.as_str()),
        ("kind", "gift_pack"),
        ("title", "暖新礼包 · 冬季"),
        ("starts_at", &starts),
        ("ends_at", &ends),
        ("stock", "2"),
        ("mode", "first_come"),
        ("occupation", "rider"),
    ];
    let created = staff.post("/console/programs", &fields).await;
    let id = program_id(created.location.as_deref());
    let page = staff.get(&format!("/console/programs/{id}")).await;
    assert!(page.body.contains("data-status=\"draft\""), "{}", page.body);

    // Edit the draft: the stock becomes 3.
    let edited: Vec<(&str, &str)> = fields[2..]
        .iter()
        .map(|&(k, v)| if k == "stock" { (k, "3") } else { (k, v) })
        .collect();
    staff
        .post(&format!("/console/programs/{id}/edit"), &edited)
        .await;
    staff.get(&format!("/console/programs/{id}")).await;
    staff
        .post(&format!("/console/programs/{id}/publish"), &[])
        .await;
    let api: Value = app
        .get(&format!("/v1/admin/programs/{id}"), Some(&d.staff_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["status"], "published");
    assert_eq!(api["stock_total"], 3);

    let voucher: Value = app
        .post(
            &format!("/v1/programs/{id}/claims"),
            &json!({}),
            Some(&rider.token),
        )
        .await
        .json()
        .await
        .unwrap();
    let code = voucher["code"].as_str().expect("a voucher code");
    staff.get("/console/scan").await;
    let first = staff.post("/console/scan", &[("code", code)]).await;
    assert!(
        first.body.contains("data-verdict=\"redeemed\""),
        "{}",
        first.body
    );
    let again = staff.post("/console/scan", &[("code", code)]).await;
    assert!(again.body.contains("data-verdict=\"already_redeemed\""));
    let figures = staff.get(&format!("/console/programs/{id}")).await;
    assert!(
        figures.body.contains("data-figure=\"redeemed\">1<"),
        "{}",
        figures.body
    );

    // Qinhuai's staff find neither the program nor the voucher.
    let mut other = Console::signed_in(&app, &phone(2)).await;
    assert_eq!(
        other.get(&format!("/console/programs/{id}")).await.status,
        404
    );
    other.get("/console/scan").await;
    let foreign = other.post("/console/scan", &[("code", code)]).await;
    assert!(foreign.body.contains("data-verdict=\"refused\""));
}

#[tokio::test]
async fn a_session_added_in_the_console_shows_its_roster_and_cancels_with_its_bookings() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let riders = app.bulk_members(d.xuanwu, 600, 2, "courier").await;
    let mut staff = Console::signed_in(&app, &phone(1)).await;
    staff
        .get(&format!("/console/programs?org={}", d.xuanwu))
        .await;
    let (starts, ends) = (local(-1), local(24 * 7));
    let org = d.xuanwu.to_string();
    let created = staff
        .post(
            "/console/programs",
            &[
                ("org", &org),
                ("kind", "health_check"),
                ("title", "流动体检车进驿站"),
                ("starts_at", &starts),
                ("ends_at", &ends),
            ],
        )
        .await;
    let id = program_id(created.location.as_deref());
    staff.get(&format!("/console/programs/{id}")).await;
    let (s_start, s_end) = (local(48), local(56));
    let added = staff
        .post(
            &format!("/console/programs/{id}/sessions"),
            &[
                ("site_name", "玄武区户外劳动者驿站"),
                ("address", "南京市玄武区中山路1号"),
                ("starts_at", &s_start),
                ("ends_at", &s_end),
                ("capacity", "200"),
            ],
        )
        .await;
    let page = staff.get(added.location.as_deref().unwrap()).await;
    assert!(page.body.contains("场次已新增"), "{}", page.body);
    staff
        .post(&format!("/console/programs/{id}/publish"), &[])
        .await;
    let detail: Value = app
        .get(&format!("/v1/admin/programs/{id}"), Some(&d.staff_a))
        .await
        .json()
        .await
        .unwrap();
    let session = detail["sessions"][0]["id"].as_i64().unwrap();
    for rider in &riders {
        let res = app
            .post(
                &format!("/v1/sessions/{session}/bookings"),
                &json!({}),
                Some(&rider.token),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }

    let roster = staff.get(&format!("/console/sessions/{session}")).await;
    assert_eq!(roster.body.matches("data-status=\"booked\"").count(), 2);
    let csv = staff
        .client
        .get(format!(
            "{}/console/sessions/{session}/roster.csv",
            staff.base
        ))
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "a header and two riders: {csv}");

    staff.get(&format!("/console/programs/{id}")).await;
    let cancelled = staff
        .post(&format!("/console/sessions/{session}/cancel"), &[])
        .await;
    let after = staff.get(cancelled.location.as_deref().unwrap()).await;
    assert!(after.body.contains("2 个预约随之取消"), "{}", after.body);
    let booking: Value = app
        .get("/v1/me/bookings", Some(&riders[0].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(booking["items"][0]["status"], "cancelled");
}
