//! The console's Cases section over plain HTTP: the queue of a subtree, the case file (audited,
//! with its evidence), and the staff's steps, which reach the claimants as the API's do.
//!
//! Staff: `phone(1)` of Xuanwu, `phone(2)` of Qinhuai; members from `phone(5700)`.

use base64::Engine;
use gigunion_tests::console::{console_app, Console};
use gigunion_tests::{phone, TestApp, Worker};
use serde_json::{json, Value};

async fn filed(app: &TestApp, rider: &Worker) -> i64 {
    let png = {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
        bytes
    };
    let body = json!({
        "kind": "work_injury",
        "respondent": { "kind": "person", "name": "王大明", "contact": "13900001111" },
        "amount_claimed_fen": 1_500_000,
        "facts": "送餐途中摔伤，站长拒绝申报工伤。",
        "consent": true
    });
    let res = app.post("/v1/me/cases", &body, Some(&rider.token)).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let file = json!({ "name": "病历.png",
        "content_base64": base64::engine::general_purpose::STANDARD.encode(png) });
    let res = app
        .post(
            &format!("/v1/me/cases/{id}/evidence"),
            &file,
            Some(&rider.token),
        )
        .await;
    assert_eq!(res.status(), 201);
    id
}

#[tokio::test]
async fn staff_take_a_case_from_the_queue_through_its_file_to_accepted() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let rider = app.bulk_members(d.xuanwu, 5700, 1, "rider").await.remove(0);
    let id = filed(&app, &rider).await;
    let mut console = Console::signed_in(&app, &phone(1)).await;

    let queue = console
        .get(&format!("/console/cases?org={}&state=filed", d.xuanwu))
        .await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(
        queue.body.contains(&format!("data-case=\"{id}\"")),
        "{}",
        queue.body
    );
    assert!(
        queue.body.contains("王*") && !queue.body.contains("王大明"),
        "a person is masked in the queue"
    );
    assert!(queue.body.contains("¥15,000.00"));

    let page = console.get(&format!("/console/cases/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("送餐途中摔伤") && page.body.contains("13900001111"));
    let href = format!("/console/cases/{id}/evidence/");
    let at = page.body.find(&href).expect("an evidence link");
    let link = &page.body[at..at + page.body[at..].find('"').unwrap()];
    let file = console
        .client
        .get(format!("{}{link}", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "image/png");

    let done = console
        .post(
            &format!("/console/cases/{id}/accept"),
            &[("class", "special"), ("message", "")],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/console/cases/{id}").as_str())
    );
    let page = console.get(&format!("/console/cases/{id}")).await;
    assert!(
        page.body.contains("已受理，已通知申请人。"),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-state=\"accepted\"") && !page.body.contains("id=\"accept\""));
    console
        .post(
            &format!("/console/cases/{id}/messages"),
            &[("body", "请明天上午来驿站面谈。")],
        )
        .await;
    // A second accept says why it cannot be, in words.
    console.get(&format!("/console/cases/{id}")).await;
    console
        .post(
            &format!("/console/cases/{id}/accept"),
            &[("class", "general")],
        )
        .await;
    let page = console.get(&format!("/console/cases/{id}")).await;
    assert!(page.body.contains("该案件已受理或已处理"), "{}", page.body);

    let mine = app
        .get(&format!("/v1/me/cases/{id}"), Some(&rider.token))
        .await;
    let mine: Value = mine.json().await.unwrap();
    let kinds: Vec<&str> = mine["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["filed", "evidence_added", "accepted", "staff_message"]
    );
    let audit = app
        .get(
            &format!("/v1/admin/orgs/{}/audit?record=case:{id}", d.xuanwu),
            Some(&d.staff_a),
        )
        .await;
    let audit: Value = audit.json().await.unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"case.view") && actions.contains(&"case.accept"),
        "{actions:?}"
    );

    // Qinhuai's staff neither list it nor open it.
    let mut other = Console::signed_in(&app, &phone(2)).await;
    let queue = other
        .get(&format!("/console/cases?org={}", d.qinhuai))
        .await;
    assert!(!queue.body.contains(&format!("data-case=\"{id}\"")));
    assert_eq!(other.get(&format!("/console/cases/{id}")).await.status, 404);
}
