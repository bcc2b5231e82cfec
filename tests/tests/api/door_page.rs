//! The station door page (`/s/{id}?c=...`) in a phone's browser without our app, over plain
//! HTTP: open or not and why, today's hours, amenities and navigation; signing in by SMS code on
//! the page, check-in (counted once per half hour, refused at a closed door or with a wrong
//! code) and a fault report, each seen through the API as well.

use gigunion_tests::phone::{PhoneBrowser, PublicPage};
use gigunion_tests::reqwest::Method;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{phone, spawn_app, TestApp};
use stations::coords::{gcj02_to_bd09, LatLng};

/// A station of a new union with `hours`; its API view (with `door_url`) and the admin's token.
async fn station(app: &TestApp, hours: Value) -> (Value, String) {
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
                "amenities": ["drinking_water", "heating", "toilet", "microwave", "first_aid"],
                "hours": hours,
            }),
            Some(&admin),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    (res.json().await.unwrap(), admin)
}

/// Every day, all day, by the week's ranges (not `open_24h`, so the page lists them).
fn all_day() -> Value {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    json!({ "weekly": days.iter().map(|d| (d.to_string(), json!(["00:00-24:00"]))).collect::<gigunion_tests::serde_json::Map<_, _>>() })
}

/// The door page's path, as the QR encodes it.
fn door(app: &TestApp, created: &Value) -> String {
    created["door_url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.base)
        .unwrap()
        .to_owned()
}

/// Signs in with the SMS code on the door page itself, and comes back to it.
async fn sign_in(app: &TestApp, browser: &mut PhoneBrowser, here: &str, n: u32) -> PublicPage {
    let page = browser.get(here).await;
    assert!(page.body.contains("id=\"send-code\""), "{}", page.body);
    let number = phone(n);
    let sent = browser
        .submit("/p/code", &[("phone", &number), ("next", here)])
        .await;
    assert!(sent.body.contains("id=\"sign-in\""), "{}", sent.body);
    let code = app.last_code(&number).expect("a code was sent");
    browser
        .submit(
            "/p/sign-in",
            &[("phone", &number), ("code", &code), ("next", here)],
        )
        .await
}

async fn visits(app: &TestApp, admin: &str, id: i64) -> i64 {
    let res = app
        .get(&format!("/v1/admin/stations/{id}/stats"), Some(admin))
        .await;
    res.json::<Value>().await.unwrap()["visits"]
        .as_i64()
        .unwrap()
}

fn has(page: &PublicPage, words: &str) {
    assert!(page.body.contains(words), "{words}: {}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_station_shows_its_hours_amenities_and_both_maps() {
    let app = spawn_app().await;
    let (created, _) = station(&app, all_day()).await;
    let mut browser = PhoneBrowser::new(&app);
    let page = browser.get(&door(&app, &created)).await;
    for words in [
        "新街口外卖骑手爱心驿站",
        "营业中",
        "data-state=\"open\"",
        "00:00-24:00",
    ] {
        has(&page, words);
    }
    for (code, label) in [
        ("drinking_water", "饮用水"),
        ("heating", "取暖"),
        ("microwave", "微波炉"),
    ] {
        has(&page, &format!("data-amenity=\"{code}\""));
        has(&page, label);
    }
    // The station's own links, as `GET /v1/stations/{id}` gives them, in each app's system.
    let api: Value = app
        .get(&format!("/v1/stations/{}", created["id"]), None)
        .await
        .json()
        .await
        .unwrap();
    let (amap, baidu) = (
        api["links"]["amap"].as_str().unwrap(),
        // Baidu's web page of the place: WeChat's browser opens no `baidumap://` link.
        api["links"]["baidu_web"].as_str().unwrap(),
    );
    assert!(
        amap.contains("118.784400,32.041800") && amap.contains("coordinate=gaode"),
        "{amap}"
    );
    let bd = gcj02_to_bd09(LatLng {
        lat: 32.0418,
        lng: 118.7844,
    });
    assert!(
        baidu.starts_with("https://api.map.baidu.com/marker?")
            && baidu.contains(&format!("{:.6},{:.6}", bd.lat, bd.lng)),
        "{baidu}"
    );
    for link in [amap, baidu] {
        has(&page, &format!("href=\"{}\"", link.replace('&', "&amp;")));
    }

    let english = browser
        .get(&format!(
            "/lang/en?back={}",
            door(&app, &created).replace('?', "%3F").replace('=', "%3D")
        ))
        .await;
    for words in ["Open now", "Drinking water", "Amap", "Baidu Maps"] {
        has(&english, words);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_todays_hours_the_page_says_closed_now_and_lists_them() {
    let app = spawn_app().await;
    let (created, _) = station(&app, json!({ "weekly": { "mon": ["06:00-07:00"], "tue": ["06:00-07:00"],
        "wed": ["06:00-07:00"], "thu": ["06:00-07:00"], "fri": ["06:00-07:00"], "sat": ["06:00-07:00"],
        "sun": ["06:00-07:00"] } }))
    .await;
    app.advance_clock_to_shanghai(12, 0);
    let page = PhoneBrowser::new(&app).get(&door(&app, &created)).await;
    for words in [
        "休息中",
        "data-state=\"outside_hours\"",
        "不在今天的开放时间内",
        "06:00-07:00",
    ] {
        has(&page, words);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_signs_in_on_the_page_and_checks_in_once_per_half_hour() {
    let app = spawn_app().await;
    let (created, admin) = station(&app, all_day()).await;
    let id = created["id"].as_i64().unwrap();
    let here = door(&app, &created);
    let mut browser = PhoneBrowser::new(&app);
    let back = sign_in(&app, &mut browser, &here, 8101).await;
    has(&back, "id=\"check-in-form\"");
    assert!(!back.body.contains("id=\"send-code\""), "{}", back.body);

    let first = browser
        .submit(&format!("/p/door/{id}/check-in"), &[("c", &code_of(&here))])
        .await;
    for words in [
        "签到成功",
        "data-done=\"checked-in\"",
        "data-member=\"false\"",
        "还不是工会会员",
    ] {
        has(&first, words);
    }
    let again = browser
        .submit(&format!("/p/door/{id}/check-in"), &[("c", &code_of(&here))])
        .await;
    has(&again, "半小时内已签到");
    has(&again, "data-done=\"already\"");
    assert_eq!(visits(&app, &admin, id).await, 1, "counted once");
    assert!(
        !browser.get(&here).await.body.contains("签到成功"),
        "the note shows once"
    );

    app.advance_clock(chrono::TimeDelta::minutes(31));
    let later = browser
        .submit(&format!("/p/door/{id}/check-in"), &[("c", &code_of(&here))])
        .await;
    has(&later, "签到成功");
    // The admin's access token has expired in the meantime.
    let admin = app.token_of("13800000000").await;
    assert_eq!(visits(&app, &admin, id).await, 2);
}

fn code_of(here: &str) -> String {
    here.split("?c=").nth(1).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_door_says_so_and_refuses_check_in() {
    let app = spawn_app().await;
    let (created, admin) = station(&app, all_day()).await;
    let id = created["id"].as_i64().unwrap();
    let here = door(&app, &created);
    let mut browser = PhoneBrowser::new(&app);
    sign_in(&app, &mut browser, &here, 8102).await;
    let res = app
        .request(Method::PATCH, &format!("/v1/admin/stations/{id}"))
        .bearer_auth(&admin)
        .json(&json!({ "status": "temporarily_closed" }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let paused = browser.get(&here).await;
    for words in [
        "暂停开放",
        "data-state=\"temporarily_closed\"",
        "现在不能签到",
        "id=\"report-form\"",
    ] {
        has(&paused, words);
    }
    assert!(
        !paused.body.contains("id=\"check-in-form\""),
        "{}",
        paused.body
    );
    let refused = browser
        .submit(&format!("/p/door/{id}/check-in"), &[("c", &code_of(&here))])
        .await;
    has(&refused, "role=\"alert\"");
    has(&refused, "不能签到");

    let res = app
        .request(Method::DELETE, &format!("/v1/admin/stations/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let closed = browser.get(&here).await;
    for words in ["已停止运营", "data-state=\"closed\"", "不能签到"] {
        has(&closed, words);
    }
    assert!(
        !closed.body.contains("id=\"report-form\""),
        "{}",
        closed.body
    );
    let refused = browser
        .submit(&format!("/p/door/{id}/check-in"), &[("c", &code_of(&here))])
        .await;
    has(&refused, "不能签到");
    assert_eq!(visits(&app, &admin, id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_door_code_refuses_check_in_by_name() {
    let app = spawn_app().await;
    let (created, admin) = station(&app, all_day()).await;
    let id = created["id"].as_i64().unwrap();
    let here = door(&app, &created);
    let mut browser = PhoneBrowser::new(&app);
    sign_in(&app, &mut browser, &here, 8103).await;
    let wrong = browser
        .submit(&format!("/p/door/{id}/check-in"), &[("c", "AAAAAAAAAAAA")])
        .await;
    has(&wrong, "role=\"alert\"");
    has(&wrong, "签到码不对");
    let bare = browser.get(&format!("/s/{id}")).await;
    has(&bare, "没有签到码");
    assert!(!bare.body.contains("id=\"check-in-form\""), "{}", bare.body);
    let missing = browser
        .submit(&format!("/p/door/{id}/check-in"), &[("c", "")])
        .await;
    has(&missing, "没有签到码");
    assert_eq!(visits(&app, &admin, id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_report_from_the_page_flags_the_station() {
    let app = spawn_app().await;
    let (created, _) = station(&app, all_day()).await;
    let id = created["id"].as_i64().unwrap();
    let here = door(&app, &created);
    let mut browser = PhoneBrowser::new(&app);
    sign_in(&app, &mut browser, &here, 8104).await;
    let report = format!("/p/door/{id}/report");
    let c = code_of(&here);

    let blank = browser
        .submit(&report, &[("c", &c), ("kind", "fault"), ("body", " \r\n ")])
        .await;
    has(&blank, "请写下要报告的问题");
    let suggestion = browser
        .submit(
            &report,
            &[
                ("c", &c),
                ("kind", "suggestion"),
                ("body", "希望加一台饮水机"),
            ],
        )
        .await;
    has(&suggestion, "建议已提交");
    assert!(
        !suggestion.body.contains("data-open-faults"),
        "{}",
        suggestion.body
    );
    let fault = browser
        .submit(
            &report,
            &[
                ("c", &c),
                ("kind", "fault"),
                ("body", "微波炉坏了\r\n插头冒烟"),
            ],
        )
        .await;
    has(&fault, "故障已报告");
    has(&fault, "data-open-faults=\"1\"");

    let api: Value = app
        .get(&format!("/v1/stations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["flagged"], true);
}
