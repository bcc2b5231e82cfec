//! The print posters as a person uses them: download the join or door poster, point a QR
//! decoder at the page (the PNG as downloaded, the PDF as poppler prints it at 150 dpi), follow
//! what it reads, and land on the union's or the station's page. Only staff of the subtree get
//! a poster; a dead code gets none.
//!
//! The PDF's checks need Debian's poppler-utils (`pdftoppm`, `pdfinfo`): without them they are
//! skipped with a note, unless `GIGUNION_BROWSER_TESTS=required` (CI), where that fails.

use std::process::Command;
use std::sync::Once;

use crate::stations_support::{create, station, tree};
use gigunion_tests::reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use gigunion_tests::reqwest::Response;
use gigunion_tests::serde_json::json;
use gigunion_tests::{assert_problem, spawn_app, TestApp};

/// The URLs a QR decoder reads on a PNG page (RGB or grey), and the page's size.
pub fn read_page(png_bytes: &[u8]) -> ((u32, u32), Vec<String>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    // The green channel: dark modules are black, the union red is dark enough in it not to
    // matter, and white is white.
    let grey = |x: usize, y: usize| buf[(y * w + x) * channels + channels.min(2) - 1];
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, grey);
    let urls = img
        .detect_grids()
        .iter()
        .map(|g| g.decode().expect("the QR decodes").1)
        .collect();
    ((info.width, info.height), urls)
}

fn poppler_missing(tool: &str) -> bool {
    if Command::new(tool).arg("-v").output().is_ok() {
        return false;
    }
    if std::env::var("GIGUNION_BROWSER_TESTS").as_deref() == Ok("required") {
        panic!(
            "GIGUNION_BROWSER_TESTS=required, but {tool} is missing: apt-get install poppler-utils"
        );
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        eprintln!("note: {tool} not installed (apt-get install poppler-utils): PDF checks skipped")
    });
    true
}

/// What poppler makes of a PDF: the page size `pdfinfo` states and page 1 at 150 dpi as PNG.
/// None without poppler-utils (see the module's documentation).
pub fn print_pdf(pdf: &[u8]) -> Option<(String, Vec<u8>)> {
    if poppler_missing("pdftoppm") || poppler_missing("pdfinfo") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("poster.pdf");
    std::fs::write(&file, pdf).unwrap();
    let info = Command::new("pdfinfo").arg(&file).output().unwrap();
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let size = String::from_utf8_lossy(&info.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Page size:").map(|s| s.trim().to_owned()))
        .expect("pdfinfo states the page size");
    let out = dir.path().join("page");
    let ran = Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-singlefile"])
        .arg(&file)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    Some((size, std::fs::read(dir.path().join("page.png")).unwrap()))
}

/// A poster download: 200, the type, an attachment named `ascii` with a UTF-8 name beside it.
pub async fn poster(res: Response, media_type: &str, ascii: &str) -> Vec<u8> {
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], media_type);
    let disposition = res.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains(&format!("filename=\"{ascii}\"")),
        "{disposition}"
    );
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    res.bytes().await.unwrap().to_vec()
}

/// Follows `url` (read off a poster) as a phone would; the page's HTML.
async fn follow(app: &TestApp, url: &str) -> String {
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    res.text().await.unwrap()
}

/// The URL the single QR on the PNG page reads, after checking the page is A4 at 300 dpi.
fn png_url(png: &[u8]) -> String {
    let (size, urls) = read_page(png);
    assert_eq!(size, (2480, 3508));
    assert_eq!(urls.len(), 1, "one QR on the page");
    urls[0].clone()
}

/// The URL the PDF's page reads as poppler prints it, after checking the page is A4.
fn pdf_url(pdf: &[u8]) -> Option<String> {
    assert!(pdf.starts_with(b"%PDF-"));
    let (size, page) = print_pdf(pdf)?;
    assert_eq!(size, "595.28 x 841.89 pts (A4)");
    let (_, urls) = read_page(&page);
    assert_eq!(urls.len(), 1, "one QR on the printed page");
    Some(urls[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_join_poster_leads_a_phone_to_the_unions_join_page() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let code = app
        .join_code(
            &t.staff_a,
            t.xuanwu,
            json!({ "label": "2026 夏季骑手服务日" }),
        )
        .await;
    let (text, url) = (
        code["code"].as_str().unwrap(),
        code["url"].as_str().unwrap(),
    );
    assert_eq!(url, format!("{}/j/{text}", app.base));
    let path = format!("/v1/admin/join-codes/{text}/poster");

    let png = app.get(&format!("{path}.png"), Some(&t.staff_a)).await;
    let png = poster(png, "image/png", &format!("join-poster-{text}.png")).await;
    assert_eq!(png_url(&png), url);
    assert!(follow(&app, url).await.contains("玄武区总工会"));

    let pdf = app.get(&format!("{path}.pdf"), Some(&t.staff_a)).await;
    let pdf = poster(pdf, "application/pdf", &format!("join-poster-{text}.pdf")).await;
    if let Some(printed) = pdf_url(&pdf) {
        assert_eq!(printed, url);
        assert!(follow(&app, &printed).await.contains("玄武区总工会"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_door_poster_leads_a_phone_to_the_stations_page() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let body = station("幸福驿站", 32.05, 118.80, json!({"open_24h": true}));
    let created = create(&app, &t.staff_a, t.xuanwu, &body).await;
    let (id, door_url) = (
        created["id"].as_i64().unwrap(),
        created["door_url"].as_str().unwrap(),
    );
    assert!(door_url.starts_with(&format!("{}/s/{id}?c=", app.base)));
    let path = format!("/v1/admin/stations/{id}/poster");

    let png = app.get(&format!("{path}.png"), Some(&t.staff_a)).await;
    let png = poster(png, "image/png", &format!("door-poster-{id}.png")).await;
    assert_eq!(png_url(&png), door_url);
    assert!(follow(&app, door_url).await.contains("幸福驿站"));

    // Staff above the district print it too.
    let pdf = app.get(&format!("{path}.pdf"), Some(&t.admin)).await;
    let pdf = poster(pdf, "application/pdf", &format!("door-poster-{id}.pdf")).await;
    if let Some(printed) = pdf_url(&pdf) {
        assert_eq!(printed, door_url);
        assert!(follow(&app, &printed).await.contains("幸福驿站"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_staff_of_the_subtree_get_a_poster_and_a_dead_code_gets_none() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let code = app
        .join_code(&t.staff_a, t.xuanwu, json!({ "label": "秋季招募" }))
        .await;
    let text = code["code"].as_str().unwrap().to_owned();
    let body = station("珠江路驿站", 32.0486, 118.7977, json!({"open_24h": true}));
    let id = create(&app, &t.staff_a, t.xuanwu, &body).await["id"]
        .as_i64()
        .unwrap();
    let worker = app.worker(360).await;

    for ext in ["pdf", "png"] {
        let join = format!("/v1/admin/join-codes/{text}/poster.{ext}");
        let door = format!("/v1/admin/stations/{id}/poster.{ext}");
        for path in [&join, &door] {
            // The neighbouring district's staff: as if there were nothing.
            assert_problem(app.get(path, Some(&t.staff_b)).await, 404, "not_found").await;
            assert_problem(app.get(path, Some(&worker.token)).await, 403, "forbidden").await;
            assert_problem(app.get(path, None).await, 401, "unauthenticated").await;
        }
        let unknown = format!("/v1/admin/join-codes/NoSuchCode12/poster.{ext}");
        assert_problem(app.get(&unknown, Some(&t.staff_a)).await, 404, "not_found").await;
        let unknown = format!("/v1/admin/stations/999999/poster.{ext}");
        assert_problem(app.get(&unknown, Some(&t.staff_a)).await, 404, "not_found").await;
    }

    // A revoked code would make a dead poster: refused, with the reason.
    let revoke = format!("/v1/admin/join-codes/{text}/revoke");
    assert_eq!(
        app.post(&revoke, &json!({}), Some(&t.staff_a))
            .await
            .status(),
        200
    );
    let res = app
        .get(
            &format!("/v1/admin/join-codes/{text}/poster.png"),
            Some(&t.staff_a),
        )
        .await;
    assert_problem(res, 409, "join_code_revoked").await;
}
