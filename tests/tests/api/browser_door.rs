//! A station's door in a phone-sized Chromium (390x844): the URL read off the printed door
//! poster, the page of an open station where a rider signs in by SMS code, checks in and
//! reports a fault, and the page of a closed one.

use gigunion_tests::browser::{Browser, PHONE};
use gigunion_tests::reqwest::Method;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{phone, spawn_app, TestApp};

use crate::posters::read_page;

/// A new station of a new union, and the path its door poster's QR names.
async fn scanned_door(app: &TestApp) -> (String, i64, String) {
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "district", "南京市秦淮区总工会", "320104")
        .await;
    let res = app
        .post(
            &format!("/v1/admin/orgs/{org}/stations"),
            &json!({
                "name": "新街口外卖骑手爱心驿站",
                "address": "南京市秦淮区中山南路1号",
                "location": { "lat": 32.0418, "lng": 118.7844 },
                "amenities": ["drinking_water", "toilet", "microwave"],
                "hours": { "open_24h": true },
            }),
            Some(&admin),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let res = app
        .get(&format!("/v1/admin/stations/{id}/poster.png"), Some(&admin))
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let (_, urls) = read_page(&res.bytes().await.unwrap());
    let url = urls.first().expect("the door poster's QR decodes");
    let path = url
        .strip_prefix(&app.base)
        .expect("this app's door")
        .to_owned();
    (admin, id, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_an_open_door_a_rider_signs_in_checks_in_and_reports_a_fault() {
    let app = spawn_app().await;
    let (_, id, path) = scanned_door(&app).await;
    let Some(browser) = Browser::open(&app, PHONE).await else {
        return;
    };
    browser.goto(&path).await;
    assert_eq!(browser.text("h1").await, "新街口外卖骑手爱心驿站");
    assert!(browser.text("body").await.contains("营业中"));
    assert_eq!(
        browser.count("#nav-amap").await + browser.count("#nav-baidu").await,
        2
    );
    browser.check_each_size("door-open").await;

    let number = phone(7201);
    browser.fill("#send-code input[name=phone]", &number).await;
    browser.submit("#send-code").await;
    let code = app.last_code(&number).expect("a code was sent");
    browser.fill("#sign-in input[name=code]", &code).await;
    browser.submit("#sign-in").await;
    browser.submit("#check-in-form").await;
    browser.wait_for_text("[role=status]", "签到成功").await;
    browser.check_each_size("door-checked-in").await;

    browser
        .fill("#report-form textarea[name=body]", "微波炉坏了")
        .await;
    browser.submit("#report-form").await;
    browser.wait_for_text("[role=status]", "故障已报告").await;
    browser.close().await;
    let res = app.get(&format!("/v1/stations/{id}"), None).await;
    let station: Value = res.json().await.unwrap();
    assert_eq!(station["flagged"], true, "{station}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_door_says_so_and_offers_no_check_in() {
    let app = spawn_app().await;
    let (admin, id, path) = scanned_door(&app).await;
    let res = app
        .request(Method::PATCH, &format!("/v1/admin/stations/{id}"))
        .bearer_auth(&admin)
        .json(&json!({ "status": "temporarily_closed" }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let Some(browser) = Browser::open(&app, PHONE).await else {
        return;
    };
    browser.goto(&path).await;
    assert!(browser.text("body").await.contains("暂停开放"));
    assert_eq!(browser.count("#check-in-form").await, 0);
    browser.check_each_size("door-closed").await;
    browser.close().await;
}
