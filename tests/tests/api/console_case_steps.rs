//! The console's handling of a case over plain HTTP: a mediator put on the rota, the case
//! assigned, an agreement typed in as lines, its two instalments marked paid (which closes the
//! case), the follow-up call, and the figures page and its CSV showing it.
//!
//! Staff: `phone(1)` of Xuanwu; a mediator `phone(3)`; members from `phone(5900)`.

use gigunion_tests::console::{console_app, Console};
use gigunion_tests::{phone, TestApp, Worker};
use serde_json::{json, Value};

async fn filed(app: &TestApp, riders: &[Worker]) -> i64 {
    let body = json!({
        "kind": "wage_arrears",
        "respondent": { "kind": "contractor", "name": "南京某某配送服务有限公司" },
        "amount_claimed_fen": 230_000,
        "facts": "两个月配送费未结清。",
        "consent": true
    });
    let res = app
        .post("/v1/me/cases", &body, Some(&riders[0].token))
        .await;
    let case: Value = res.json().await.unwrap();
    for rider in &riders[1..] {
        let join = json!({ "invite_code": case["invite_code"], "amount_claimed_fen": 100_000, "consent": true });
        let res = app
            .post("/v1/me/cases/join", &join, Some(&rider.token))
            .await;
        assert_eq!(res.status(), 201);
    }
    case["id"].as_i64().unwrap()
}

fn day(app: &TestApp, days: i64) -> String {
    platform::clock::local(app.now() + chrono::Duration::days(days))
        .date()
        .to_string()
}

#[tokio::test]
async fn staff_take_a_case_to_an_agreement_paid_in_two_instalments_through_the_console() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    app.register(&phone(3)).await;
    app.grant_staff(&d.admin, d.xuanwu, &phone(3)).await;
    let riders = app.bulk_members(d.xuanwu, 5900, 3, "rider").await;
    let id = filed(&app, &riders).await;
    let mut console = Console::signed_in(&app, &phone(1)).await;
    let x = d.xuanwu;

    console.get(&format!("/console/cases/rota?org={x}")).await;
    let mut form = vec![("phone", phone(3))];
    form.extend(["1", "2", "3", "4", "5", "6", "7"].map(|day| ("day", day.to_owned())));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    console
        .post(&format!("/console/cases/rota?org={x}"), &form)
        .await;
    let rota = console.get(&format!("/console/cases/rota?org={x}")).await;
    assert!(
        rota.body.contains("已加入调解员名册") && rota.body.contains("data-mediator="),
        "{}",
        rota.body
    );

    let case = format!("/console/cases/{id}");
    console.get(&case).await;
    console
        .post(
            &format!("{case}/accept"),
            &[("class", "general"), ("message", "")],
        )
        .await;
    let page = console.get(&case).await;
    let at = page
        .body
        .find("name=\"account_id\"")
        .expect("the rota to choose from");
    let value = &page.body[at..];
    let value = &value[value.find("value=\"").unwrap() + 7..];
    let mediator = &value[..value.find('"').unwrap()];
    console
        .post(&format!("{case}/mediator"), &[("account_id", mediator)])
        .await;
    console.get(&case).await;
    let lines = format!("{} 2,000\n{} 2300.00", day(&app, 7), day(&app, 37));
    console
        .post(
            &format!("{case}/agreement"),
            &[
                ("payer", "南京某某配送服务有限公司"),
                ("jointly_liable", ""),
                ("instalments", &lines),
            ],
        )
        .await;
    let page = console.get(&case).await;
    assert!(
        page.body.contains("已登记调解协议") && page.body.contains("¥4,300.00"),
        "{}",
        page.body
    );
    for _ in 0..2 {
        let page = console.get(&case).await;
        let at = page
            .body
            .find("/instalments/")
            .expect("an unpaid instalment");
        let tail = &page.body[at..];
        let path = format!("{case}{}", &tail[..tail.find('"').unwrap()]);
        console.post(&path, &[]).await;
    }
    let page = console.get(&case).await;
    assert!(
        page.body.contains("data-state=\"closed\"") && page.body.contains("调解成功"),
        "{}",
        page.body
    );
    console
        .post(
            &format!("{case}/follow-up"),
            &[("rating", "5"), ("note", "工友们很满意")],
        )
        .await;
    let page = console.get(&case).await;
    assert!(
        page.body.contains("已登记回访") && page.body.contains("5 / 5"),
        "{}",
        page.body
    );

    let today = day(&app, 0);
    let stats = console
        .get(&format!(
            "/console/cases/stats?org={x}&from={today}&to={today}"
        ))
        .await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert!(
        stats.body.contains("4300.00") && stats.body.contains("100.0%"),
        "{}",
        stats.body
    );
    let csv = console
        .get(&format!(
            "/console/cases/stats.csv?org={x}&from={today}&to={today}"
        ))
        .await;
    assert!(csv.body.contains("追回金额（元）,4300.00"), "{}", csv.body);

    let mine: Value = app
        .get(&format!("/v1/me/cases/{id}"), Some(&riders[2].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (mine["state"].as_str(), mine["recovered_fen"].as_i64()),
        (Some("closed"), Some(430_000))
    );
}
