//! The public pages a phone's camera opens, in a real browser: the poster landing page names the
//! union (or says why the code cannot be used), the door page names the station, and neither
//! scrolls sideways on a laptop or a phone. Screenshots go to `target/screenshots/`.

use gigunion_tests::browser::{Browser, LAPTOP};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poster_page_names_the_union_it_joins() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "federation", "南京市玄武区总工会", "320102")
        .await;
    let code = app
        .join_code(&admin, org, json!({ "label": "2026 夏季骑手服务日" }))
        .await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };

    browser
        .goto(&format!("/j/{}", code["code"].as_str().unwrap()))
        .await;
    assert_eq!(browser.text("h1").await, "南京市玄武区总工会");
    let body = browser.text("body").await;
    assert!(body.contains("2026 夏季骑手服务日"), "{body}");
    assert!(body.contains("开始入会"), "{body}");
    browser.check_each_size("poster-landing").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_poster_code_says_joining_is_not_possible() {
    let app = spawn_app().await;
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };

    // Shaped like a code, but no union printed it.
    browser.goto("/j/AAAAAAAAAAAA").await;
    assert_eq!(browser.text("h1").await, "无法用这个二维码入会");
    let body = browser.text("body").await;
    assert!(body.contains("入会码无效"), "{body}");
    browser.check_each_size("poster-unknown").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_page_names_the_station() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = app
        .org(&admin, None, "federation", "南京市总工会", "320100")
        .await;
    let res = app
        .post(
            &format!("/v1/admin/orgs/{org}/stations"),
            &json!({
                "name": "新街口外卖骑手爱心驿站",
                "address": "南京市秦淮区中山南路1号新街口地铁站3号口东侧50米",
                "location": { "lat": 32.0418, "lng": 118.7844 },
                "amenities": ["drinking_water"],
                "hours": { "open_24h": true },
            }),
            Some(&admin),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let station: Value = res.json().await.unwrap();
    let Some(browser) = Browser::open(&app, LAPTOP).await else {
        return;
    };

    browser.goto(&format!("/s/{}", station["id"])).await;
    assert_eq!(browser.text("h1").await, "新街口外卖骑手爱心驿站");
    let body = browser.text("body").await;
    assert!(body.contains("中山南路1号"), "{body}");
    browser.check_each_size("station-door").await;

    browser.goto("/s/999999").await;
    assert_eq!(browser.text("h1").await, "找不到驿站");
    browser.close().await;
}
