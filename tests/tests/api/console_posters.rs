//! The console's poster links over plain HTTP: the join-code list and a station's page link to
//! their posters, and what the links download is the poster the API serves (a PDF, a PNG whose
//! QR reads the code's or the door's URL); staff of another district get none.
//!
//! Staff: `phone(1)` of Xuanwu, `phone(2)` of Qinhuai.

use gigunion_tests::console::{console_app, Console};
use gigunion_tests::reqwest::header::CONTENT_TYPE;
use gigunion_tests::{phone, TestApp};
use serde_json::json;

use crate::posters::{print_pdf, read_page};
use crate::stations_support::{create, station};

/// The `href` of the link marked `data-poster="{format}"` on a page, unescaped.
fn poster_link(body: &str, format: &str) -> String {
    let marker = body
        .find(&format!("data-poster=\"{format}\""))
        .unwrap_or_else(|| panic!("no {format} poster link in {body}"));
    let tag = &body[body[..marker].rfind("<a ").unwrap()..marker];
    let at = tag.find("href=\"").unwrap() + "href=\"".len();
    tag[at..at + tag[at..].find('"').unwrap()].replace("&amp;", "&")
}

/// GETs `path` in `console`'s session; the status, content type and bytes.
async fn download(console: &Console, path: &str) -> (u16, String, Vec<u8>) {
    let res = console
        .client
        .get(format!("{}{path}", console.base))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let media_type = res.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    (status, media_type, res.bytes().await.unwrap().to_vec())
}

/// Both links of a page download the poster of `url`: a PDF (read by poppler where it is
/// installed) and a PNG whose QR reads `url`. Returns the PNG's path.
async fn both_links_download_the_poster_of(console: &Console, body: &str, url: &str) -> String {
    let pdf_path = poster_link(body, "pdf");
    let (status, media_type, pdf) = download(console, &pdf_path).await;
    assert_eq!((status, media_type.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some((size, page)) = print_pdf(&pdf) {
        assert_eq!(size, "595.28 x 841.89 pts (A4)");
        assert_eq!(read_page(&page).1, [url]);
    }
    let png_path = poster_link(body, "png");
    let (status, media_type, png) = download(console, &png_path).await;
    assert_eq!((status, media_type.as_str()), (200, "image/png"));
    assert_eq!(read_page(&png), ((2480, 3508), vec![url.to_owned()]));
    png_path
}

async fn staff_of_another_district_get_none(app: &TestApp, path: &str) {
    let neighbour = Console::signed_in(app, &phone(2)).await;
    let (status, media_type, _) = download(&neighbour, path).await;
    assert_eq!(status, 404, "{path}");
    assert!(media_type.starts_with("text/html"), "{media_type}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_join_code_list_links_to_its_posters() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let code = app
        .join_code(&d.staff_a, d.xuanwu, json!({ "label": "外卖骑手入会日" }))
        .await;
    let mut console = Console::signed_in(&app, &phone(1)).await;

    let list = console
        .get(&format!("/console/join-codes?org={}", d.xuanwu))
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("下载海报（PDF）") && list.body.contains("下载海报（PNG）"));
    let url = code["url"].as_str().unwrap();
    let png = both_links_download_the_poster_of(&console, &list.body, url).await;
    staff_of_another_district_get_none(&app, &png).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stations_page_links_to_its_door_poster() {
    let app = console_app().await;
    let d = app.nanjing_districts((1, 2)).await;
    let body = station("玄武门驿站", 32.0705, 118.7912, json!({"open_24h": true}));
    let created = create(&app, &d.staff_a, d.xuanwu, &body).await;
    let id = created["id"].as_i64().unwrap();
    let mut console = Console::signed_in(&app, &phone(1)).await;

    let page = console.get(&format!("/console/stations/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("下载海报（PDF）") && page.body.contains("下载海报（PNG）"));
    let url = created["door_url"].as_str().unwrap();
    let png = both_links_download_the_poster_of(&console, &page.body, url).await;
    staff_of_another_district_get_none(&app, &png).await;
}
