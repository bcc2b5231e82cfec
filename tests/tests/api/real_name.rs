//! The real-name profile over HTTP: `PUT /v1/me/identity` validates the resident ID number,
//! the legal name and consent, allows one account per ID number, and never lets the full
//! number out again: not in any response, and not in plain text in the database.

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use diesel::prelude::*;
use gigunion_tests::reqwest::Response;
use gigunion_tests::serde_json::{json, Value};
use gigunion_tests::{phone, spawn_app, TestApp};
use platform::schema::real_name_profiles as p;
use sha2::{Digest, Sha256};

/// The GB 11643 standard example, with an `X` check character.
const ID: &str = "11010519491231002X";
const ID_LOWER: &str = "11010519491231002x";
const MASKED: &str = "110***********002X";
/// Another valid number, for the second account.
const OTHER_ID: &str = "320102199003071239";
const OTHER_MASKED: &str = "320***********1239";

/// Appends the ISO 7064 MOD 11-2 check character to 17 digits.
fn with_check(first17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    assert_eq!(first17.len(), 17);
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = "10X98765432".as_bytes()[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

/// Every response of the test, headers and body, for the leak check at the end.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn read(&mut self, res: Response) -> (u16, String, String) {
        let status = res.status().as_u16();
        for (name, value) in res.headers() {
            self.0.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = res.text().await.expect("body readable");
        self.0.push(text.clone());
        (status, content_type, text)
    }

    /// A 200 JSON body.
    async fn ok(&mut self, res: Response) -> Value {
        let (status, _, text) = self.read(res).await;
        assert_eq!(status, 200, "body: {text}");
        serde_json::from_str(&text).expect("JSON body")
    }

    /// The checks of `gigunion_tests::assert_problem`, keeping the body text.
    async fn problem(&mut self, res: Response, status: u16, code: &str) -> Value {
        let (got, content_type, text) = self.read(res).await;
        let body: Value = serde_json::from_str(&text).expect("problem body is JSON");
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "body: {body}"
        );
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], status);
        assert!(body["title"].is_string() && body["detail"].is_string());
        body
    }

    /// A 422 naming the field at fault.
    async fn invalid(&mut self, res: Response, code: &str, field: &str) {
        let body = self.problem(res, 422, code).await;
        assert_eq!(body["field"], field, "body: {body}");
    }
}

async fn put_identity(app: &TestApp, token: Option<&str>, body: Value) -> Response {
    app.put("/v1/me/identity", &body, token).await
}

fn profile(name: &str, id_number: &str) -> Value {
    json!({ "legal_name": name, "id_number": id_number, "consent": true })
}

/// Registers and returns the access token and the account id.
async fn account(app: &TestApp, seen: &mut Seen, n: u32) -> (String, i64) {
    let pair = app.register(&phone(n)).await;
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let me = seen.ok(app.get("/v1/me", Some(&token)).await).await;
    assert!(me["real_name"].is_null(), "{me}");
    (token, me["id"].as_i64().unwrap())
}

fn assert_recent(consent_at: &Value) {
    let at = chrono::DateTime::parse_from_rfc3339(consent_at.as_str().expect("consent_at string"))
        .expect("consent_at is RFC 3339");
    let age = chrono::Utc::now().signed_duration_since(at);
    assert!(
        age.num_seconds().abs() < 120,
        "consent_at {consent_at} is not now"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_name_profile_is_validated_unique_and_never_shown_in_full() {
    // The helper reproduces the check character of the standard examples.
    assert_eq!(with_check(&ID[..17]), ID);
    assert_eq!(with_check(&OTHER_ID[..17]), OTHER_ID);

    let app = spawn_app().await;
    let mut seen = Seen::default();
    let (alice, alice_id) = account(&app, &mut seen, 121).await;
    let (bob, bob_id) = account(&app, &mut seen, 122).await;
    let (carol, carol_id) = account(&app, &mut seen, 123).await;

    // No token, or a bad one: 401 before anything is looked at.
    let res = put_identity(&app, None, profile("张三", ID)).await;
    seen.problem(res, 401, "unauthenticated").await;
    let res = put_identity(&app, Some("garbage"), profile("张三", ID)).await;
    seen.problem(res, 401, "unauthenticated").await;

    // Alice saves hers with a lowercase x: stored and shown upper-cased and masked.
    let saved = seen
        .ok(put_identity(&app, Some(&alice), profile("张三", ID_LOWER)).await)
        .await;
    assert_eq!(saved["legal_name"], "张三");
    assert_eq!(saved["id_number_masked"], MASKED);
    assert_eq!(saved["consent_policy"], "2026-11");
    assert_recent(&saved["consent_at"]);
    let me = seen.ok(app.get("/v1/me", Some(&alice)).await).await;
    assert_eq!(me["real_name"]["legal_name"], "张三");
    assert_eq!(me["real_name"]["id_number_masked"], MASKED);
    assert_eq!(me["real_name"]["consent_policy"], "2026-11");
    assert_recent(&me["real_name"]["consent_at"]);

    // And again with the upper-case X and a corrected name: an update, same masked number.
    let saved = seen
        .ok(put_identity(&app, Some(&alice), profile("张 三", ID)).await)
        .await;
    assert_eq!(saved["legal_name"], "张 三");
    assert_eq!(saved["id_number_masked"], MASKED);
    let me = seen.ok(app.get("/v1/me", Some(&alice)).await).await;
    assert_eq!(me["real_name"]["legal_name"], "张 三");
    assert_eq!(me["real_name"]["id_number_masked"], MASKED);

    // Invalid ID numbers, each wrong in one way only (Carol, who has no profile yet).
    let feb_30 = with_check("11010519490230002");
    let future = with_check("11010520990101002");
    for (why, bad) in [
        ("wrong check character", "110105194912310021".to_owned()),
        ("30 February", feb_30),
        ("born in 2099", future),
        ("17 characters", ID[..17].to_owned()),
        ("19 characters", format!("{ID}0")),
        ("19 characters, check moved", format!("1{ID}")),
        ("letter inside", "1101051949A231002X".to_owned()),
        ("empty", String::new()),
    ] {
        eprintln!("id number: {why}");
        let res = put_identity(&app, Some(&carol), profile("李四", &bad)).await;
        seen.invalid(res, "invalid_id_number", "id_number").await;
    }

    // Invalid legal names, with a valid number and consent.
    for bad in ["", "   ", "12345", "李四1", "<script>"] {
        eprintln!("legal name: {bad:?}");
        let res = put_identity(&app, Some(&carol), profile(bad, ID)).await;
        seen.invalid(res, "invalid_legal_name", "legal_name").await;
    }

    // Consent false or missing, everything else valid.
    let res = put_identity(
        &app,
        Some(&carol),
        json!({ "legal_name": "李四", "id_number": OTHER_ID, "consent": false }),
    )
    .await;
    seen.invalid(res, "consent_required", "consent").await;
    let res = put_identity(
        &app,
        Some(&carol),
        json!({ "legal_name": "李四", "id_number": OTHER_ID }),
    )
    .await;
    seen.invalid(res, "consent_required", "consent").await;
    let res = put_identity(
        &app,
        Some(&carol),
        json!({ "legal_name": "李四", "id_number": OTHER_ID, "consent": null }),
    )
    .await;
    seen.invalid(res, "consent_required", "consent").await;
    // A wrongly typed member whose value is the number: the parse error stays out of the body.
    let res = put_identity(
        &app,
        Some(&carol),
        json!({ "legal_name": "李四", "id_number": ID, "consent": ID }),
    )
    .await;
    seen.problem(res, 422, "invalid_field").await;
    let me = seen.ok(app.get("/v1/me", Some(&carol)).await).await;
    assert!(
        me["real_name"].is_null(),
        "refused requests store nothing: {me}"
    );

    // A refused update leaves Alice's profile as it was.
    let res = put_identity(
        &app,
        Some(&alice),
        json!({ "legal_name": "王五", "id_number": ID, "consent": false }),
    )
    .await;
    seen.invalid(res, "consent_required", "consent").await;
    let me = seen.ok(app.get("/v1/me", Some(&alice)).await).await;
    assert_eq!(me["real_name"]["legal_name"], "张 三");

    // Bob cannot take Alice's number, in either case of x.
    let res = put_identity(&app, Some(&bob), profile("王五", ID)).await;
    seen.problem(res, 409, "id_number_taken").await;
    let res = put_identity(&app, Some(&bob), profile("王五", ID_LOWER)).await;
    seen.problem(res, 409, "id_number_taken").await;
    let me = seen.ok(app.get("/v1/me", Some(&bob)).await).await;
    assert!(me["real_name"].is_null(), "{me}");
    // He can save his own.
    let saved = seen
        .ok(put_identity(&app, Some(&bob), profile("王五", OTHER_ID)).await)
        .await;
    assert_eq!(saved["id_number_masked"], OTHER_MASKED);
    // And now Alice cannot take his.
    let res = put_identity(&app, Some(&alice), profile("张三", OTHER_ID)).await;
    seen.problem(res, 409, "id_number_taken").await;

    // Alice re-saving her own number is fine.
    let saved = seen
        .ok(put_identity(&app, Some(&alice), profile("张三", ID)).await)
        .await;
    assert_eq!(saved["id_number_masked"], MASKED);
    let me = seen.ok(app.get("/v1/me", Some(&alice)).await).await;
    assert_eq!(me["real_name"]["legal_name"], "张三");
    assert_eq!(me["real_name"]["id_number_masked"], MASKED);

    // No response carried a full ID number.
    assert!(seen.0.len() > 40, "every response was recorded");
    for text in &seen.0 {
        for full in [ID, ID_LOWER, OTHER_ID] {
            assert!(!text.contains(full), "a response carries {full}: {text}");
        }
    }

    // The database holds one row per account that saved a profile, none in plain text.
    let mut conn = app.db.get().expect("database connection");
    let rows: Vec<(i64, String, String, String, String, String)> = p::table
        .select((
            p::account_id,
            p::legal_name,
            p::id_number_enc,
            p::id_number_hash,
            p::id_number_masked,
            p::consent_policy,
        ))
        .order(p::account_id)
        .load(&mut *conn)
        .expect("profiles load");
    drop(conn);
    let accounts: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(
        accounts.len(),
        2,
        "one row each for Alice and Bob: {accounts:?}"
    );
    assert_eq!(
        accounts.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([alice_id, bob_id])
    );
    assert!(!accounts.contains(&carol_id));
    for (account_id, legal_name, enc, hash, masked, policy) in &rows {
        let (full, expect_masked, expect_name) = if *account_id == alice_id {
            (ID, MASKED, "张三")
        } else {
            (OTHER_ID, OTHER_MASKED, "王五")
        };
        assert_eq!(masked, expect_masked);
        assert_eq!(legal_name, expect_name);
        assert_eq!(policy, "2026-11");
        for column in [legal_name, enc, hash, masked, policy] {
            for number in [ID, ID_LOWER, OTHER_ID] {
                assert!(
                    !column.contains(number),
                    "account {account_id} stores {number} in plain: {column}"
                );
            }
        }
        // Encrypted: the stored bytes do not hold the number either.
        let sealed = STANDARD.decode(enc).expect("id_number_enc is base64");
        assert!(sealed.len() > full.len());
        assert!(!sealed.windows(full.len()).any(|w| w == full.as_bytes()));
        // Keyed: not the plain SHA-256 anyone could compute from the number.
        let plain_sha = hex_sha256(full);
        assert_ne!(hash.to_lowercase(), plain_sha);
        assert!(!hash.is_empty());
    }
    let hashes: BTreeSet<&String> = rows.iter().map(|r| &r.3).collect();
    assert_eq!(hashes.len(), 2);
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A double-tapped submit: parallel first saves by one account all succeed (one profile row),
/// and none is told its own number belongs to someone else. Several rounds, as the race is
/// a matter of timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_saves_by_one_account_all_succeed() {
    let app = spawn_app().await;
    let mut seen = Seen::default();
    for round in 0..5 {
        let (token, account_id) = account(&app, &mut seen, 130 + round).await;
        let number = with_check(&format!("320102199003{:02}123", round + 1));
        let body = profile("张三", &number);
        let saves = futures_util::future::join_all(
            (0..8).map(|_| put_identity(&app, Some(&token), body.clone())),
        )
        .await;
        for res in saves {
            let view = seen.ok(res).await;
            assert_eq!(view["legal_name"], "张三");
        }
        let mut conn = app.db.get().unwrap();
        let rows: i64 = p::table
            .filter(p::account_id.eq(account_id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(rows, 1);
    }
}
