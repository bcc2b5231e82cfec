//! Benefits over HTTP: a gift pack claimed and handed out, a health check booked, waitlisted,
//! promoted, checked in and reported, reports stored encrypted, staff of another district told
//! nothing about bookings and codes, a fair-mode draw anyone can re-run, and eligibility that
//! says why not.

use chrono::{DateTime, Duration, Utc};
use gigunion_tests::reqwest::{Method, Response, StatusCode};
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{assert_problem, open_window, phone, spawn_app, Districts, TestApp};
use sha2::{Digest, Sha256};

async fn tree(app: &TestApp) -> Districts {
    app.nanjing_districts((601, 602)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gift_pack_is_claimed_once_and_handed_out_once() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (starts, ends) = open_window();
    let pack = app.published_program(&t.staff_a,
        t.xuanwu,
        json!({ "kind": "gift_pack", "title": "暖新礼包", "description": "新会员专享", "starts_at": starts, "ends_at": ends,
                "stock": 2, "eligibility": { "joined_within_days": 30, "occupations": ["rider", "courier"] } }),
    )
    .await;
    let id = pack["id"].as_i64().unwrap();
    let members = app.bulk_members(t.xuanwu, 610, 3, "rider").await;
    let outsider = app.bulk_members(t.qinhuai, 620, 1, "rider").await;
    let trucker = app.bulk_members(t.xuanwu, 630, 1, "truck_driver").await;

    // Listed for an eligible member, with stock; not for a member of another district.
    let list: Value = app
        .get("/v1/programs", Some(&members[0].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["items"][0]["stock_left"], 2);
    let other: Value = app
        .get("/v1/programs", Some(&outsider[0].token))
        .await
        .json()
        .await
        .unwrap();
    assert!(other["items"].as_array().unwrap().is_empty());
    let detail: Value = app
        .get(&format!("/v1/programs/{id}"), Some(&trucker[0].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["eligible"], false);
    assert_eq!(detail["ineligible_reason"], "not_eligible_occupation");

    // Each ineligible direct request says why.
    let claim = |token: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/v1/programs/{id}/claims"),
                &json!({}),
                Some(&token),
            )
            .await
        }
    };
    assert_problem(
        claim(outsider[0].token.clone()).await,
        403,
        "not_eligible_org",
    )
    .await;
    assert_problem(
        claim(trucker[0].token.clone()).await,
        403,
        "not_eligible_occupation",
    )
    .await;
    let stranger = app.register(&phone(640)).await;
    assert_problem(
        claim(stranger["access_token"].as_str().unwrap().into()).await,
        404,
        "not_a_member",
    )
    .await;

    // Claim: a voucher with a code and its QR; a second claim is refused.
    let voucher = claim(members[0].token.clone()).await;
    assert_eq!(voucher.status(), StatusCode::CREATED);
    let voucher: Value = voucher.json().await.unwrap();
    assert_eq!(voucher["status"], "issued");
    let qr = app
        .get(
            voucher["qr_svg_url"].as_str().unwrap(),
            Some(&members[0].token),
        )
        .await;
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));
    let not_yours = app
        .get(
            voucher["qr_svg_url"].as_str().unwrap(),
            Some(&members[1].token),
        )
        .await;
    assert_problem(not_yours, 404, "not_found").await;
    let code = voucher["code"].as_str().unwrap().to_owned();
    assert_problem(
        claim(members[0].token.clone()).await,
        409,
        "already_claimed",
    )
    .await;
    assert_eq!(
        claim(members[1].token.clone()).await.status(),
        StatusCode::CREATED
    );
    assert_problem(claim(members[2].token.clone()).await, 409, "sold_out").await;
    // ...and stays sold out.
    assert_problem(claim(members[2].token.clone()).await, 409, "sold_out").await;

    // Another member cannot read the voucher.
    let path = format!("/v1/me/vouchers/{}", voucher["id"]);
    assert_eq!(
        app.get(&path, Some(&members[0].token)).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.get(&path, Some(&members[1].token)).await,
        404,
        "not_found",
    )
    .await;

    // Staff of another district cannot redeem it; staff of the issuing one can, once.
    let redeem = |token: String| {
        let app = &app;
        let code = code.clone();
        async move {
            app.post(
                "/v1/admin/redemptions",
                &json!({ "code": code }),
                Some(&token),
            )
            .await
        }
    };
    assert_problem(redeem(t.staff_b.clone()).await, 404, "not_found").await;
    let first: Value = redeem(t.staff_a.clone()).await.json().await.unwrap();
    assert_eq!(first["outcome"], "redeemed");
    assert_eq!(first["holder_name_masked"], "骑****"); // 骑手六一零
    let second: Value = redeem(t.admin.clone()).await.json().await.unwrap();
    assert_eq!(second["outcome"], "already_redeemed");
    assert_eq!(second["at"], first["at"]);
    assert_eq!(second["by"], first["by"]);
    let unknown = app
        .post(
            "/v1/admin/redemptions",
            &json!({ "code": "nope" }),
            Some(&t.staff_a),
        )
        .await;
    assert_problem(unknown, 404, "not_found").await;

    // The member's ledger and the staff's stats.
    let ledger: Value = app
        .get("/v1/me/benefits", Some(&members[0].token))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["redeemed", "claimed"]);
    let stats: Value = app
        .get(&format!("/v1/admin/programs/{id}/stats"), Some(&t.staff_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["totals"]["claimed"], 2);
    assert_eq!(stats["totals"]["redeemed"], 1);
    assert_eq!(stats["remaining"], 0);
    assert_eq!(stats["by_day"].as_array().unwrap().len(), 1);
    assert_problem(
        app.get(&format!("/v1/admin/programs/{id}/stats"), Some(&t.staff_b))
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_is_booked_waitlisted_promoted_checked_in_and_reported() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (starts, ends) = open_window();
    let program = app.published_program(&t.staff_b,
        t.qinhuai,
        json!({ "kind": "health_check", "title": "免费体检车进驿站", "starts_at": starts, "ends_at": ends }),
    )
    .await;
    let pid = program["id"].as_i64().unwrap();
    let session_starts = Utc::now() + Duration::days(2);
    let session = app
        .post(
            &format!("/v1/admin/programs/{pid}/sessions"),
            &json!({ "site_name": "秦淮区户外劳动者驿站", "address": "南京市秦淮区中华路", "location": { "lat": 32.0196, "lng": 118.7848 },
                     "starts_at": session_starts.to_rfc3339(), "ends_at": (session_starts + Duration::hours(8)).to_rfc3339(), "capacity": 1 }),
            Some(&t.staff_b),
        )
        .await;
    assert_eq!(session.status(), StatusCode::CREATED);
    let sid = session.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let m = app.bulk_members(t.qinhuai, 650, 3, "courier").await;

    let book = |token: String, waitlist: bool| {
        let app = &app;
        async move {
            app.post(
                &format!("/v1/sessions/{sid}/bookings"),
                &json!({ "waitlist": waitlist }),
                Some(&token),
            )
            .await
        }
    };
    let a = book(m[0].token.clone(), false).await;
    assert_eq!(a.status(), StatusCode::CREATED);
    let a: Value = a.json().await.unwrap();
    assert_eq!(a["status"], "booked");
    assert_problem(book(m[0].token.clone(), false).await, 409, "already_booked").await;
    assert_problem(book(m[1].token.clone(), false).await, 409, "full").await;
    let b: Value = book(m[1].token.clone(), true).await.json().await.unwrap();
    assert_eq!(b["status"], "waitlisted");
    assert_eq!(b["waitlist_position"], 0);
    let c: Value = book(m[2].token.clone(), true).await.json().await.unwrap();
    assert_eq!(c["waitlist_position"], 1);

    // B cannot cancel A's booking; A cancels and B gets the seat at once.
    let cancel = |token: String, id: &Value| {
        let app = &app;
        let path = format!("/v1/bookings/{id}");
        async move {
            app.request(Method::DELETE, &path)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_problem(cancel(m[1].token.clone(), &a["id"]).await, 404, "not_found").await;
    let cancelled: Value = cancel(m[0].token.clone(), &a["id"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let promoted: Value = app
        .get(&format!("/v1/me/bookings/{}", b["id"]), Some(&m[1].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(promoted["status"], "booked");
    let still: Value = app
        .get(&format!("/v1/me/bookings/{}", c["id"]), Some(&m[2].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["waitlist_position"], 0);
    let sessions: Value = app
        .get(&format!("/v1/programs/{pid}/sessions"), Some(&m[2].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["items"][0]["seats_left"], 0);

    // Check-in by the booking code, once, on the day; then the report, with a PDF only its owner
    // reads.
    session_under_way(&app, sid).await;
    let code = promoted["code"].as_str().unwrap();
    let qr = app
        .get(promoted["qr_svg_url"].as_str().unwrap(), Some(&m[1].token))
        .await;
    assert!(qr.text().await.unwrap().contains("<svg"));
    assert_problem(
        app.post(
            "/v1/admin/redemptions",
            &json!({ "code": code }),
            Some(&t.staff_a),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let checked: Value = app
        .post(
            "/v1/admin/redemptions",
            &json!({ "code": code }),
            Some(&t.staff_b),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (checked["kind"].as_str(), checked["outcome"].as_str()),
        (Some("booking"), Some("checked_in"))
    );
    let again: Value = app
        .post(
            "/v1/admin/redemptions",
            &json!({ "code": code }),
            Some(&t.staff_b),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["outcome"], "already_checked_in");
    assert_eq!(again["at"], checked["at"]);

    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    let report_body = json!({
        "summary": { "height_cm": 172.0, "weight_kg": 65.5, "blood_pressure": "118/76", "heart_rate_bpm": 72, "conclusion": "未见明显异常" },
        "pdf_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pdf),
    });
    let path = format!("/v1/admin/bookings/{}/report", b["id"]);
    assert_problem(
        app.post(&path, &report_body, Some(&t.staff_a)).await,
        404,
        "not_found",
    )
    .await;
    let not_pdf = json!({ "summary": { "conclusion": "ok" }, "pdf_base64": "aGVsbG8=" });
    let bad = assert_problem(
        app.post(&path, &not_pdf, Some(&t.staff_b)).await,
        422,
        "unsupported_file",
    )
    .await;
    assert_eq!(bad["field"], "pdf_base64");
    let report = app.post(&path, &report_body, Some(&t.staff_b)).await;
    assert_eq!(report.status(), StatusCode::CREATED);
    let report: Value = report.json().await.unwrap();
    assert_eq!(report["summary"]["conclusion"], "未见明显异常");
    let mine: Value = app
        .get("/v1/me/reports", Some(&m[1].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["id"], report["id"]);
    let pdf_path = report["pdf_url"].as_str().unwrap();
    let got = app.get(pdf_path, Some(&m[1].token)).await;
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert_eq!(got.bytes().await.unwrap().as_ref(), pdf);
    assert_problem(app.get(pdf_path, Some(&m[0].token)).await, 404, "not_found").await;
    assert_problem(
        app.get(
            &format!("/v1/me/reports/{}", report["id"]),
            Some(&m[2].token),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let ledger: Value = app
        .get("/v1/me/benefits", Some(&m[1].token))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["report_attached", "checked_in", "promoted", "waitlisted"]
    );
    let stats: Value = app
        .get(&format!("/v1/admin/programs/{pid}/stats"), Some(&t.staff_b))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["seats_total"], 1);
    assert_eq!(stats["seats_booked"], 1);
    assert_eq!(stats["totals"]["checked_in"], 1);
    assert_eq!(stats["totals"]["cancelled"], 1);
}

/// A booking of [`booked_ahead`] with its session then moved to today, so that it can check in;
/// returns the member's token and the booking's id and code.
async fn xuanwu_booking(app: &TestApp, t: &Districts, member: u32) -> (String, i64, String) {
    let (sid, token, booking) = booked_ahead(app, t, member).await;
    session_under_way(app, sid).await;
    let code = booking["code"].as_str().unwrap().to_owned();
    (token, booking["id"].as_i64().unwrap(), code)
}

async fn scan(app: &TestApp, token: &str, code: &str) -> Response {
    app.post(
        "/v1/admin/redemptions",
        &json!({ "code": code }),
        Some(token),
    )
    .await
}

fn report_body(conclusion: &str, pdf: &[u8]) -> Value {
    json!({
        "summary": { "blood_pressure": "135/88", "conclusion": conclusion },
        "pdf_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pdf),
    })
}

/// Every `health_reports.summary` as stored.
async fn stored_summaries(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use platform::schema::health_reports as r;
    app.db
        .run(|conn| Ok(r::table.select(r::summary).load(conn)?))
        .await
        .unwrap()
}

/// Every file under `DATA_DIR/reports`: name and contents.
fn report_files(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let dir = app.data_dir.join("reports");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            (name, std::fs::read(entry.path()).unwrap())
        })
        .collect()
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What the member reads back: the report's conclusion and its PDF.
async fn read_back(app: &TestApp, token: &str, report: &Value) -> (String, Vec<u8>) {
    let view: Value = app
        .get(&format!("/v1/me/reports/{}", report["id"]), Some(token))
        .await
        .json()
        .await
        .unwrap();
    let pdf = app
        .get(view["pdf_url"].as_str().unwrap(), Some(token))
        .await;
    assert_eq!(pdf.status(), StatusCode::OK);
    let conclusion = view["summary"]["conclusion"].as_str().unwrap().to_owned();
    (conclusion, pdf.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_stored_encrypted_and_a_replaced_pdf_is_deleted() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (member, bid, code) = xuanwu_booking(&app, &t, 670).await;
    assert_eq!(scan(&app, &t.staff_a, &code).await.status(), StatusCode::OK);
    let path = format!("/v1/admin/bookings/{bid}/report");
    let first_pdf = b"%PDF-1.4\n% marker first-report-0d1f\n%%EOF\n";
    let first = app
        .post(
            &path,
            &report_body("轻度脂肪肝，建议复查", first_pdf),
            Some(&t.staff_a),
        )
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();

    // At rest: neither the summary nor the PDF can be read without the data key.
    let summaries = stored_summaries(&app).await;
    assert_eq!(summaries.len(), 1);
    assert!(
        !summaries[0].contains("脂肪肝") && !summaries[0].contains("135/88"),
        "{}",
        summaries[0]
    );
    let files = report_files(&app);
    assert_eq!(files.len(), 1);
    assert!(!holds(&files[0].1, b"first-report-0d1f"));
    assert!(!holds(&files[0].1, b"%PDF"));
    let (conclusion, pdf) = read_back(&app, &member, &first).await;
    assert_eq!(
        (conclusion.as_str(), pdf.as_slice()),
        ("轻度脂肪肝，建议复查", &first_pdf[..])
    );

    // Replaced: the member reads the new report, and the old PDF is gone from the disk.
    let second_pdf = b"%PDF-1.4\n% marker second-report-7c2e\n%%EOF\n";
    let second = app
        .post(
            &path,
            &report_body("复查正常", second_pdf),
            Some(&t.staff_a),
        )
        .await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    let after = report_files(&app);
    assert_eq!(after.len(), 1, "only the current PDF is left");
    assert_ne!(after[0].0, files[0].0);
    assert!(!holds(&after[0].1, b"second-report-7c2e"));
    assert!(!stored_summaries(&app).await[0].contains("复查正常"));
    let (conclusion, pdf) = read_back(&app, &member, &second).await;
    assert_eq!(
        (conclusion.as_str(), pdf.as_slice()),
        ("复查正常", &second_pdf[..])
    );
    let listed: Value = app
        .get("/v1/me/reports", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["summary"]["conclusion"], "复查正常");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_an_older_version_stored_in_clear_are_sealed_by_the_startup_sweep() {
    use diesel::prelude::*;
    use platform::schema::health_reports as r;
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (member, bid, code) = xuanwu_booking(&app, &t, 675).await;
    assert_eq!(scan(&app, &t.staff_a, &code).await.status(), StatusCode::OK);
    let report: Value = app
        .post(
            &format!("/v1/admin/bookings/{bid}/report"),
            &report_body("暂存", b"%PDF-1.4\n%%EOF\n"),
            Some(&t.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();

    // As a version before sealing left it: the summary JSON and the PDF in clear.
    let clear_pdf = b"%PDF-1.4\n% marker legacy-clear-91ab\n%%EOF\n";
    let clear = r#"{"height_cm":null,"weight_kg":null,"blood_pressure":"142/95","heart_rate_bpm":null,"blood_glucose_mmol_l":null,"conclusion":"旧版明文：血压偏高","advice":null}"#;
    let key: String = app
        .db
        .run(move |conn| {
            diesel::update(r::table)
                .set(r::summary.eq(clear))
                .execute(conn)?;
            Ok(r::table.select(r::pdf_key.assume_not_null()).first(conn)?)
        })
        .await
        .unwrap();
    std::fs::write(app.data_dir.join("reports").join(key), clear_pdf).unwrap();

    let sweep = || {
        let reports = app.state.benefits.reports.clone();
        app.db
            .run(move |conn| reports.seal_clear(conn).map_err(platform::Error::internal))
    };
    assert_eq!(sweep().await.unwrap(), 1);
    assert!(!stored_summaries(&app).await[0].contains("血压偏高"));
    let files = report_files(&app);
    assert_eq!(files.len(), 1);
    assert!(!holds(&files[0].1, b"legacy-clear-91ab"));
    let (conclusion, pdf) = read_back(&app, &member, &report).await;
    assert_eq!(
        (conclusion.as_str(), pdf.as_slice()),
        ("旧版明文：血压偏高", &clear_pdf[..])
    );
    // Nothing is left for the next start.
    assert_eq!(sweep().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_of_another_district_learn_nothing_from_its_bookings_and_codes() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (member, bid, code) = xuanwu_booking(&app, &t, 680).await;
    let (starts, ends) = open_window();
    let pack = app.published_program(&t.staff_a,
        t.xuanwu,
        json!({ "kind": "gift_pack", "title": "清凉礼包", "starts_at": starts, "ends_at": ends, "stock": 1 }),
    )
    .await;
    let voucher: Value = app
        .post(
            &format!("/v1/programs/{}/claims", pack["id"]),
            &json!({}),
            Some(&member),
        )
        .await
        .json()
        .await
        .unwrap();
    let vcode = voucher["code"].as_str().unwrap();
    let report = report_body("未见明显异常", b"%PDF-1.4\n%%EOF\n");
    let path = format!("/v1/admin/bookings/{bid}/report");
    let attach = |token: String, path: String| {
        let (app, report) = (&app, &report);
        async move { app.post(&path, report, Some(&token)).await }
    };
    let made_up = "/v1/admin/bookings/987654321/report".to_owned();

    // Before check-in: Qinhuai's staff hear what they hear for no booking at all, before the state.
    let not_found = assert_problem(
        attach(t.staff_b.clone(), path.clone()).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        assert_problem(
            attach(t.staff_b.clone(), made_up.clone()).await,
            404,
            "not_found"
        )
        .await,
        not_found
    );
    assert_problem(
        attach(t.staff_a.clone(), path.clone()).await,
        409,
        "booking_not_active",
    )
    .await;
    assert_problem(attach(member.clone(), path.clone()).await, 403, "forbidden").await;
    assert_problem(
        attach(member.clone(), made_up.clone()).await,
        403,
        "forbidden",
    )
    .await;

    // Codes: another district's real voucher and booking codes answer as a made-up one does,
    // and members may not scan at all, whatever the code.
    let made_up_code = assert_problem(
        scan(&app, &t.staff_b, "Zq3xMadeUpCode9").await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        assert_problem(scan(&app, &t.staff_b, vcode).await, 404, "not_found").await,
        made_up_code
    );
    assert_eq!(
        assert_problem(scan(&app, &t.staff_b, &code).await, 404, "not_found").await,
        made_up_code
    );
    assert_problem(scan(&app, &member, vcode).await, 403, "forbidden").await;
    assert_problem(
        scan(&app, &member, "Zq3xMadeUpCode9").await,
        403,
        "forbidden",
    )
    .await;

    // After check-in: still not found for Qinhuai; Xuanwu's staff attach and redeem.
    let checked: Value = scan(&app, &t.staff_a, &code).await.json().await.unwrap();
    assert_eq!(checked["outcome"], "checked_in");
    assert_eq!(
        assert_problem(
            attach(t.staff_b.clone(), path.clone()).await,
            404,
            "not_found"
        )
        .await,
        not_found
    );
    assert_eq!(
        attach(t.staff_a.clone(), path.clone()).await.status(),
        StatusCode::CREATED
    );
    let redeemed: Value = scan(&app, &t.staff_a, vcode).await.json().await.unwrap();
    assert_eq!(
        redeemed["outcome"], "redeemed",
        "Qinhuai's scans changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fair_draw_anyone_can_re_run() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let now = Utc::now();
    let closes = now + Duration::hours(1);
    let program = app.published_program(&t.admin,
        t.city,
        json!({ "kind": "gift_pack", "mode": "draw", "title": "清凉礼包抽签", "starts_at": (now - Duration::hours(1)).to_rfc3339(),
                "ends_at": (now + Duration::days(3)).to_rfc3339(), "entry_closes_at": closes.to_rfc3339(), "stock": 2 }),
    )
    .await;
    let id = program["id"].as_i64().unwrap();
    let seed = program["draw_seed"]
        .as_str()
        .expect("seed published with the program")
        .to_owned();
    let members = app.bulk_members(t.xuanwu, 670, 6, "rider").await;
    for m in &members {
        let entered = app
            .post(
                &format!("/v1/programs/{id}/claims"),
                &json!({}),
                Some(&m.token),
            )
            .await;
        assert_eq!(entered.status(), StatusCode::CREATED);
    }
    let again = app
        .post(
            &format!("/v1/programs/{id}/claims"),
            &json!({}),
            Some(&members[0].token),
        )
        .await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "entering twice is the same entry"
    );
    assert_problem(
        app.post(
            &format!("/v1/admin/programs/{id}/draw"),
            &json!({}),
            Some(&t.admin),
        )
        .await,
        409,
        "draw_not_ready",
    )
    .await;

    app.close_entries(id).await;
    let late = app.bulk_members(t.xuanwu, 680, 1, "rider").await;
    assert_problem(
        app.post(
            &format!("/v1/programs/{id}/claims"),
            &json!({}),
            Some(&late[0].token),
        )
        .await,
        409,
        "entry_window_closed",
    )
    .await;
    let drawn = app
        .post(
            &format!("/v1/admin/programs/{id}/draw"),
            &json!({}),
            Some(&t.staff_a),
        )
        .await;
    assert_problem(drawn, 404, "not_found").await;
    let drawn: Value = app
        .post(
            &format!("/v1/admin/programs/{id}/draw"),
            &json!({}),
            Some(&t.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_problem(
        app.post(
            &format!("/v1/admin/programs/{id}/draw"),
            &json!({}),
            Some(&t.admin),
        )
        .await,
        409,
        "already_drawn",
    )
    .await;

    // Anyone re-runs it from what is published.
    let public: Value = app
        .get(&format!("/v1/programs/{id}/draw"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["seed"], seed);
    assert_eq!(public["winners"], drawn["winners"]);
    let entries: Vec<i64> = public["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_i64().unwrap())
        .collect();
    assert_eq!(entries.len(), 6);
    let mut ranked: Vec<(String, i64)> = entries
        .iter()
        .map(|id| {
            (
                hex::encode(Sha256::digest(format!("{seed}:{id}").as_bytes())),
                *id,
            )
        })
        .collect();
    ranked.sort();
    let expected: Vec<i64> = ranked.iter().take(2).map(|(_, id)| *id).collect();
    assert_eq!(public["winners"], json!(expected));

    // Winners hold vouchers; losers are told.
    let mut won = 0;
    for m in &members {
        let ledger: Value = app
            .get("/v1/me/benefits", Some(&m.token))
            .await
            .json()
            .await
            .unwrap();
        let latest = ledger["items"][0]["kind"].as_str().unwrap();
        let vouchers: Value = app
            .get("/v1/me/vouchers", Some(&m.token))
            .await
            .json()
            .await
            .unwrap();
        match latest {
            "won" => {
                won += 1;
                assert_eq!(vouchers["items"].as_array().unwrap().len(), 1);
            }
            "lost" => assert!(vouchers["items"].as_array().unwrap().is_empty()),
            other => panic!("unexpected ledger entry {other}"),
        }
    }
    assert_eq!(won, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn programs_refuse_bad_input_with_the_field_named() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (starts, ends) = open_window();
    let create = |body: Value| {
        let app = &app;
        let token = t.staff_a.clone();
        let org = t.xuanwu;
        async move {
            app.post(
                &format!("/v1/admin/orgs/{org}/programs"),
                &body,
                Some(&token),
            )
            .await
        }
    };
    for (body, field) in [
        (
            json!({ "kind": "lottery", "title": "x", "starts_at": starts, "ends_at": ends }),
            "kind",
        ),
        (
            json!({ "kind": "gift_pack", "title": "x", "starts_at": ends, "ends_at": starts, "stock": 5 }),
            "ends_at",
        ),
        (
            json!({ "kind": "gift_pack", "title": "x", "starts_at": starts, "ends_at": ends }),
            "stock",
        ),
        (
            json!({ "kind": "gift_pack", "title": "x", "starts_at": starts, "ends_at": ends, "stock": 5, "mode": "draw" }),
            "entry_closes_at",
        ),
        (
            json!({ "kind": "health_check", "title": "x", "starts_at": starts, "ends_at": ends, "stock": 5 }),
            "stock",
        ),
        (
            json!({ "kind": "gift_pack", "title": "", "starts_at": starts, "ends_at": ends, "stock": 5 }),
            "title",
        ),
        (
            json!({ "kind": "gift_pack", "title": "x", "starts_at": starts, "ends_at": ends, "stock": 5, "per_member_limit": 0 }),
            "per_member_limit",
        ),
        (
            json!({ "kind": "gift_pack", "title": "x", "starts_at": starts, "ends_at": ends, "stock": 5, "eligibility": { "joined_within_days": 0 } }),
            "eligibility",
        ),
    ] {
        let problem = assert_problem(create(body).await, 422, "invalid_field").await;
        assert_eq!(problem["field"], field);
    }
    let unknown_rule = json!({ "kind": "gift_pack", "title": "x", "starts_at": starts, "ends_at": ends, "stock": 5, "eligibility": { "min_age": 18 } });
    assert_problem(create(unknown_rule).await, 422, "invalid_field").await;
    // A draft is invisible to members; a closed program takes no claims.
    let draft: Value = create(json!({ "kind": "gift_pack", "title": "草稿", "starts_at": starts, "ends_at": ends, "stock": 5 })).await.json().await.unwrap();
    let m = app.bulk_members(t.xuanwu, 690, 2, "rider").await;
    assert_problem(
        app.get(&format!("/v1/programs/{}", draft["id"]), Some(&m[0].token))
            .await,
        404,
        "not_found",
    )
    .await;
    app.post(
        &format!("/v1/admin/programs/{}/publish", draft["id"]),
        &json!({}),
        Some(&t.staff_a),
    )
    .await;
    // A claim right after publishing leaves the program in the server's short-lived cache as
    // open; closing must still stop the very next claim.
    let first = app
        .post(
            &format!("/v1/programs/{}/claims", draft["id"]),
            &json!({}),
            Some(&m[1].token),
        )
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    app.post(
        &format!("/v1/admin/programs/{}/close", draft["id"]),
        &json!({}),
        Some(&t.staff_a),
    )
    .await;
    let closed = app
        .post(
            &format!("/v1/programs/{}/claims", draft["id"]),
            &json!({}),
            Some(&m[0].token),
        )
        .await;
    assert_problem(closed, 409, "program_not_open").await;
}

// ---- check-in follows the session's time ----

/// A health check of Xuanwu with a session two days ahead and a member of Xuanwu (account
/// `phone(member)`) booked on it; returns the session's id, the member's token and the booking.
async fn booked_ahead(app: &TestApp, t: &Districts, member: u32) -> (i64, String, Value) {
    let (starts, ends) = open_window();
    let program = app.published_program(&t.staff_a,
        t.xuanwu,
        json!({ "kind": "health_check", "title": "体检车进玄武", "starts_at": starts, "ends_at": ends }),
    )
    .await;
    let session_starts = Utc::now() + Duration::days(2);
    let session = app
        .post(
            &format!("/v1/admin/programs/{}/sessions", program["id"]),
            &json!({ "site_name": "玄武区户外劳动者驿站", "address": "南京市玄武区", "starts_at": session_starts.to_rfc3339(),
                     "ends_at": (session_starts + Duration::hours(8)).to_rfc3339(), "capacity": 5 }),
            Some(&t.staff_a),
        )
        .await;
    assert_eq!(session.status(), StatusCode::CREATED);
    let sid = session.json::<Value>().await.unwrap()["id"].clone();
    let token = app.bulk_members(t.xuanwu, member, 1, "rider").await[0]
        .token
        .clone();
    let booking = app
        .post(
            &format!("/v1/sessions/{sid}/bookings"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(booking.status(), StatusCode::CREATED);
    let booking: Value = booking.json().await.unwrap();
    (sid.as_i64().unwrap(), token, booking)
}

/// Moves session `sid` to run from `starts` to `ends`. The server reads the real clock, so a
/// test reaches "the day of the session" by moving the session rather than the time.
async fn move_session(app: &TestApp, sid: i64, starts: DateTime<Utc>, ends: DateTime<Utc>) {
    use diesel::prelude::*;
    use platform::schema::health_sessions as hs;
    let (starts, ends) = (starts.naive_utc(), ends.naive_utc());
    app.db
        .run(move |conn| {
            diesel::update(hs::table.find(sid))
                .set((hs::starts_at.eq(starts), hs::ends_at.eq(ends)))
                .execute(conn)?;
            Ok(())
        })
        .await
        .expect("move the session");
}

/// Session `sid` under way: it started an hour ago and ends in seven hours.
async fn session_under_way(app: &TestApp, sid: i64) {
    let now = Utc::now();
    move_session(app, sid, now - Duration::hours(1), now + Duration::hours(7)).await;
}

/// Booking `id` as stored: its status and when it was checked in.
async fn stored_booking(app: &TestApp, id: i64) -> (String, Option<chrono::NaiveDateTime>) {
    use diesel::prelude::*;
    use platform::schema::bookings as b;
    app.db
        .run(move |conn| {
            Ok(b::table
                .find(id)
                .select((b::status, b::checked_in_at))
                .first(conn)?)
        })
        .await
        .unwrap()
}

/// How many audit records name booking `id`.
async fn audited(app: &TestApp, id: i64) -> i64 {
    use diesel::prelude::*;
    use platform::schema::audit_log as al;
    let record = format!("booking:{id}");
    app.db
        .run(move |conn| {
            Ok(al::table
                .filter(al::record.eq(record))
                .count()
                .get_result(conn)?)
        })
        .await
        .unwrap()
}

/// The kinds of the member's ledger entries, newest first.
async fn ledger_kinds(app: &TestApp, token: &str) -> Vec<String> {
    let ledger: Value = app
        .get("/v1/me/benefits", Some(token))
        .await
        .json()
        .await
        .unwrap();
    ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_scanned_days_before_its_session_is_refused_and_stays_booked() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (_, member, booking) = booked_ahead(&app, &t, 760).await;
    let (bid, code) = (
        booking["id"].as_i64().unwrap(),
        booking["code"].as_str().unwrap(),
    );
    let audited_before = audited(&app, bid).await;

    let refused = app
        .request(Method::POST, "/v1/admin/redemptions")
        .bearer_auth(&t.staff_a)
        .header("accept-language", "en")
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(refused, 409, "outside_checkin_window").await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("check-in window"));
    let again = assert_problem(
        scan(&app, &t.staff_a, code).await,
        409,
        "outside_checkin_window",
    )
    .await;
    assert!(again["detail"].as_str().unwrap().contains("签到"));

    // Nothing was written: the booking, its ledger, the audit log and the stats are as before.
    let view: Value = app
        .get(&format!("/v1/me/bookings/{bid}"), Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "booked");
    assert!(view["checked_in_at"].is_null());
    assert_eq!(stored_booking(&app, bid).await, ("booked".to_owned(), None));
    assert_eq!(ledger_kinds(&app, &member).await, vec!["booked"]);
    assert_eq!(audited(&app, bid).await, audited_before);
    let stats: Value = app
        .get(
            &format!("/v1/admin/programs/{}/stats", booking["program_id"]),
            Some(&t.staff_a),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["totals"]["checked_in"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_checks_in_from_an_hour_before_its_session_starts() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (sid, member, booking) = booked_ahead(&app, &t, 765).await;
    let (bid, code) = (
        booking["id"].as_i64().unwrap(),
        booking["code"].as_str().unwrap(),
    );
    let at = |minutes: i64| Utc::now() + Duration::minutes(minutes);

    // 70 minutes before the start is too early (the window opens 60 minutes before).
    move_session(&app, sid, at(70), at(70 + 8 * 60)).await;
    assert_problem(
        scan(&app, &t.staff_a, code).await,
        409,
        "outside_checkin_window",
    )
    .await;
    assert_eq!(stored_booking(&app, bid).await.0, "booked");

    // 50 minutes before: checked in, once.
    move_session(&app, sid, at(50), at(50 + 8 * 60)).await;
    let checked = scan(&app, &t.staff_a, code).await;
    assert_eq!(checked.status(), StatusCode::OK);
    let checked: Value = checked.json().await.unwrap();
    assert_eq!(
        (checked["kind"].as_str(), checked["outcome"].as_str()),
        (Some("booking"), Some("checked_in"))
    );
    let view: Value = app
        .get(&format!("/v1/me/bookings/{bid}"), Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "checked_in");
    assert_eq!(view["checked_in_at"], checked["at"]);
    assert_eq!(
        ledger_kinds(&app, &member).await,
        vec!["checked_in", "booked"]
    );

    // A done check-in still says when and by whom, whenever it is scanned again.
    move_session(&app, sid, at(-3 * 24 * 60), at(-3 * 24 * 60 + 8 * 60)).await;
    let again: Value = scan(&app, &t.staff_a, code).await.json().await.unwrap();
    assert_eq!(again["outcome"], "already_checked_in");
    assert_eq!(
        (&again["at"], &again["by"]),
        (&checked["at"], &checked["by"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_checks_in_until_half_an_hour_after_its_session_ends_and_not_later() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let at = |minutes: i64| Utc::now() + Duration::minutes(minutes);

    // Ended 20 minutes ago: the closing queue still checks in.
    let (sid, _, booking) = booked_ahead(&app, &t, 770).await;
    move_session(&app, sid, at(-20 - 8 * 60), at(-20)).await;
    let checked: Value = scan(&app, &t.staff_a, booking["code"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(checked["outcome"], "checked_in");

    // Ended 40 minutes ago: refused, and the booking is left to become a no-show.
    let (sid, member, booking) = booked_ahead(&app, &t, 775).await;
    let (bid, code) = (
        booking["id"].as_i64().unwrap(),
        booking["code"].as_str().unwrap(),
    );
    move_session(&app, sid, at(-40 - 8 * 60), at(-40)).await;
    assert_problem(
        scan(&app, &t.staff_a, code).await,
        409,
        "outside_checkin_window",
    )
    .await;
    // The no-show sweep (every 30 s) may have got to it meanwhile: either way it never checked
    // in, and a scan of the no-show is refused alike.
    let (status, checked_in_at) = stored_booking(&app, bid).await;
    assert!(["booked", "no_show"].contains(&status.as_str()), "{status}");
    assert_eq!(checked_in_at, None);
    assert!(!ledger_kinds(&app, &member)
        .await
        .contains(&"checked_in".to_owned()));
    assert_problem(
        scan(&app, &t.staff_a, code).await,
        409,
        "outside_checkin_window",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gift_vouchers_redeem_whatever_a_health_checks_window() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let (_, member, booking) = booked_ahead(&app, &t, 780).await;
    let (starts, ends) = open_window();
    let pack = app.published_program(&t.staff_a,
        t.xuanwu,
        json!({ "kind": "gift_pack", "title": "清凉礼包", "starts_at": starts, "ends_at": ends, "stock": 1 }),
    )
    .await;
    let voucher: Value = app
        .post(
            &format!("/v1/programs/{}/claims", pack["id"]),
            &json!({}),
            Some(&member),
        )
        .await
        .json()
        .await
        .unwrap();

    // The same member at the same truck: the booking is days early, the voucher is not.
    let booking_code = booking["code"].as_str().unwrap();
    assert_problem(
        scan(&app, &t.staff_a, booking_code).await,
        409,
        "outside_checkin_window",
    )
    .await;
    let redeemed = scan(&app, &t.staff_a, voucher["code"].as_str().unwrap()).await;
    assert_eq!(redeemed.status(), StatusCode::OK);
    let redeemed: Value = redeemed.json().await.unwrap();
    assert_eq!(
        (redeemed["kind"].as_str(), redeemed["outcome"].as_str()),
        (Some("voucher"), Some("redeemed"))
    );
    let view: Value = app
        .get(&format!("/v1/me/vouchers/{}", voucher["id"]), Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "redeemed");
}
