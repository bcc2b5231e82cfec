//! Shared set-up of the stations tests: a union tree with staff, and request helpers.

#![allow(dead_code)]

use gigunion_tests::reqwest::StatusCode;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{Districts, TestApp};

/// Nanjing with two districts, a staff account on each, and the admin.
pub async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((301, 302)).await
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
