//! Posters to print: an A4 page staff hang on a wall, as PNG (300 dpi) or PDF.
//!
//! - The join poster: the union's name, the campaign (the join code's label), 扫码加入工会,
//!   three steps, the QR of `/j/{code}` and that URL under it.
//! - The door poster: the station's name and address, 扫码签到·报修设施, three steps, the QR
//!   of the door URL `/s/{id}?c=...` and that URL.
//!
//! The use cases ([`join`], [`door`]) check the staff scope as the QR images' do (404 outside
//! the caller's subtree) and refuse a poster that would lead nowhere: a code revoked, expired
//! or used up, a station closed for good. The JSON routes ([`routes`]) and the console's pages
//! call them and [`download`].

pub mod layout;
pub mod pdf;
pub mod raster;
pub mod routes;
pub mod text;

use std::sync::LazyLock;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use identity::AuthUser;
use membership::{join_codes, orgs};
use platform::{DbConn, Error, ErrorCode, Result};
use stations::station;
use stations::vocab::StationStatus;
use tokio::sync::Semaphore;

pub use routes::ApiDoc;

/// What a poster says; [`layout::draw`] puts it on the page.
#[derive(Debug, Clone)]
pub struct Poster {
    /// The small line at the top of the red band.
    pub note: String,
    /// The big name on the band: the union, or the station.
    pub banner: String,
    pub headline: String,
    /// Under the headline: the campaign, or the station's address.
    pub subtitle: String,
    /// What the QR encodes, printed under it too.
    pub url: String,
    pub steps: [String; 3],
    pub footer: String,
    /// The downloaded file's name without extension (any script), and one in ASCII for old
    /// clients.
    pub file_name: String,
    pub ascii_name: String,
}

/// The use case: staff print the join poster of a code of their subtree.
pub fn join(conn: &mut DbConn, user: &AuthUser, code: &str, base: &str) -> Result<Poster> {
    let stored = join_codes::managed(conn, user, code)?;
    if let Some(refusal) = stored.refusal(platform::clock::now()) {
        return Err(Error::new(refusal));
    }
    let org = orgs::reference(conn, stored.org_id)?.name;
    let last_step = if stored.auto_approve {
        "提交即入会，免费".to_owned()
    } else {
        "提交申请，工会审核通过即入会，免费".to_owned()
    };
    Ok(Poster {
        note: "新就业形态劳动者·欢迎加入工会".to_owned(),
        headline: "扫码加入工会".to_owned(),
        subtitle: stored.label.clone(),
        url: stored.code.poster_url(base),
        steps: [
            "用微信或手机相机扫描二维码".to_owned(),
            "填写手机号、验证码和实名信息".to_owned(),
            last_step,
        ],
        footer: format!("入会免费·{org}主办"),
        file_name: format!("入会海报-{}-{}", stored.label, stored.code.as_str()),
        ascii_name: format!("join-poster-{}", stored.code.as_str()),
        banner: org,
    })
}

/// The use case: staff print the door poster of a station of their subtree.
pub fn door(conn: &mut DbConn, user: &AuthUser, id: i64, base: &str) -> Result<Poster> {
    let row = station::managed(conn, user, id)?;
    if row.status == StationStatus::Closed {
        return Err(Error::new(ErrorCode::StationClosed));
    }
    let org = orgs::reference(conn, row.org_id)?.name;
    Ok(Poster {
        note: format!("{org}·工会驿站"),
        headline: "扫码签到·报修设施".to_owned(),
        subtitle: row.address.clone(),
        url: row.door_url(base),
        steps: [
            "用工会 App 或手机相机扫描二维码".to_owned(),
            "点“签到”，记录到访、使用驿站服务".to_owned(),
            "设施损坏？点“报修”，工会尽快处理".to_owned(),
        ],
        footer: format!("工会驿站·户外劳动者的歇脚处·{org}主办"),
        file_name: format!("驿站门贴-{}", row.name),
        ascii_name: format!("door-poster-{id}"),
        banner: row.name,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Pdf,
}

impl Format {
    fn media_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Pdf => "application/pdf",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Pdf => "pdf",
        }
    }
}

/// Renders at a time. A render holds the page (26 MB of pixels) and its encoding while it runs
/// (tens of milliseconds released, half a second in a debug build): two keep both cores of a
/// small server busy, and a burst of downloads waits here instead of allocating a page each.
const RENDERS: usize = 2;
static RENDERING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(RENDERS));
/// How long a download waits for a turn before it is told to try again.
const WAIT: Duration = Duration::from_secs(30);

/// The poster as a file, drawn on the blocking pool (never on the server's event loop).
pub async fn render(poster: Poster, format: Format) -> Result<Vec<u8>> {
    let busy = || Error::rate_limited(Duration::from_secs(10));
    let _turn = actix_web::rt::time::timeout(WAIT, RENDERING.acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    web::block(move || {
        let page = layout::draw(&poster)?;
        match format {
            Format::Png => page.png(layout::DPI),
            Format::Pdf => pdf::page(&page, &poster.file_name),
        }
    })
    .await?
}

/// The poster rendered and sent as a named attachment.
pub async fn download(poster: Poster, format: Format) -> Result<HttpResponse> {
    let ext = format.extension();
    let ascii = format!("{}.{ext}", poster.ascii_name);
    let name = format!("{}.{ext}", poster.file_name);
    let bytes = render(poster, format).await?;
    Ok(platform::files::download(
        &ascii,
        &name,
        format.media_type(),
        bytes,
    ))
}
