//! Shared set-up of the stations tests: a union tree with staff, and request helpers.

#![allow(dead_code)]

use gigunion_tests::reqwest::StatusCode;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{phone, TestApp};

/// 南京市总工会 with two districts, a staff account on each, and the admin.
pub struct Tree {
    pub admin: String,
    pub city: i64,
    pub xuanwu: i64,
    pub qinhuai: i64,
    /// Staff of 玄武区总工会.
    pub staff_a: String,
    /// Staff of 秦淮区总工会.
    pub staff_b: String,
}

pub async fn tree(app: &TestApp) -> Tree {
    let admin = app.admin().await;
    let city = app
        .org(&admin, None, "city", "南京市总工会", "320100")
        .await;
    let xuanwu = app
        .org(&admin, Some(city), "district", "玄武区总工会", "320102")
        .await;
    let qinhuai = app
        .org(&admin, Some(city), "district", "秦淮区总工会", "320104")
        .await;
    let (a, b) = (phone(301), phone(302));
    app.register(&a).await;
    app.register(&b).await;
    app.grant_staff(&admin, xuanwu, &a).await;
    app.grant_staff(&admin, qinhuai, &b).await;
    Tree {
        staff_a: app.token_of(&a).await,
        staff_b: app.token_of(&b).await,
        admin,
        city,
        xuanwu,
        qinhuai,
    }
}

/// A station body at a GCJ-02 point with the given weekly hours document.
pub fn station(name: &str, lat: f64, lng: f64, hours: Value) -> Value {
    json!({
        "name": name,
        "address": format!("南京市玄武区{name}路1号"),
        "location": { "lat": lat, "lng": lng },
        "amenities": ["drinking_water", "phone_charging"],
        "hours": hours,
        "stars": 4,
        "phone": "025-84561234",
        "photos": ["https://img.example.cn/station.jpg"],
    })
}

/// Creates a station under `org`; returns its admin view.
pub async fn create(app: &TestApp, token: &str, org: i64, body: &Value) -> Value {
    let res = app
        .post(&format!("/v1/admin/orgs/{org}/stations"), body, Some(token))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

/// GET /v1/stations/nearby with a query string; asserts 200.
pub async fn nearby(app: &TestApp, query: &str) -> Value {
    let res = app.get(&format!("/v1/stations/nearby?{query}"), None).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

pub fn ids(nearby: &Value) -> Vec<i64> {
    nearby["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect()
}

/// RFC 3339 in Asia/Shanghai, escaped for a query string.
pub fn at(local: &str) -> String {
    format!("{local}%2B08:00")
}
