//! Where everything goes on the page: an A4 sheet at 300 dpi, in pixels.
//!
//! From the top: the union-red band with the name the poster is about, a gold rule, the
//! headline, the campaign or the address, the QR in a red frame with its URL under it, three
//! numbered steps, and the footer band. Every text has a fixed box and shrinks (then wraps, then
//! is cut) to fit it, so a long name can never push anything off the page or onto the QR.

use platform::Result;

use super::raster::{Canvas, Qr, Rgb, WHITE};
use super::text::{self, face, Fitted, Frame, Weight};
use super::Poster;

/// 210 x 297 mm at 300 dpi.
pub const WIDTH: usize = 2480;
pub const HEIGHT: usize = 3508;
pub const DPI: u32 = 300;

/// The union's red (#c8102e), the gold of the rule, and the text colours.
const RED: Rgb = [0xc8, 0x10, 0x2e];
const GOLD: Rgb = [0xf2, 0xc1, 0x4e];
const ON_RED: Rgb = [0xf8, 0xd7, 0xdc];
const INK: Rgb = [0x1f, 0x1f, 0x1f];
const GREY: Rgb = [0x55, 0x55, 0x55];

/// Side margins: 17 mm, inside what any office printer reaches.
const MARGIN: usize = 200;
const TEXT_WIDTH: f32 = (WIDTH - 2 * MARGIN) as f32;
const BAND: usize = 640;
const FOOTER_TOP: usize = 3300;
/// Most the QR may take: 93 mm, far more than the 60 mm a phone needs across a room.
const QR_MAX: usize = 1100;
const QR_TOP: usize = 1390;
const QR_PAD: f32 = 60.0;
const STEPS_TOP: f32 = 2790.0;

/// Line height, in ems, of text set on several lines.
const LEADING: f32 = 1.28;

pub fn draw(poster: &Poster) -> Result<Canvas> {
    let mut page = Canvas::new(WIDTH, HEIGHT, WHITE);
    band(&mut page, poster);
    let headline = one_line(220.0, 150.0);
    centred(
        &mut page,
        Weight::Bold,
        &poster.headline,
        headline,
        790.0,
        RED,
    );
    let subtitle = Frame {
        width: TEXT_WIDTH,
        lines: 2,
        largest: 84.0,
        smallest: 56.0,
    };
    centred(
        &mut page,
        Weight::Regular,
        &poster.subtitle,
        subtitle,
        1075.0,
        GREY,
    );
    qr(&mut page, &poster.url)?;
    steps(&mut page, &poster.steps);
    footer(&mut page, &poster.footer);
    Ok(page)
}

fn one_line(largest: f32, smallest: f32) -> Frame {
    Frame {
        width: TEXT_WIDTH,
        lines: 1,
        largest,
        smallest,
    }
}

/// Sets `text` in `frame`, each line centred on the page, the first line's top at `top`;
/// returns where the block ends.
fn centred(
    page: &mut Canvas,
    weight: Weight,
    text: &str,
    frame: Frame,
    top: f32,
    color: Rgb,
) -> f32 {
    let font = face(weight);
    let Fitted { em, lines } = text::fit(font, text, frame);
    let mut y = top;
    for line in &lines {
        let x = (WIDTH as f32 - text::width(font, em, line)) / 2.0;
        page.text(font, em, x, y, line, color);
        y += em * LEADING;
    }
    y - em * (LEADING - 1.0)
}

/// Height of a block `centred` sets.
fn block_height(fitted: &Fitted) -> f32 {
    fitted.em * (LEADING * fitted.lines.len() as f32 - (LEADING - 1.0))
}

/// The red band: the small note, then the name, centred in the space left.
fn band(page: &mut Canvas, poster: &Poster) {
    page.fill_rect(0, 0, WIDTH, BAND, RED);
    page.fill_rect(0, BAND, WIDTH, 24, GOLD);
    centred(
        page,
        Weight::Regular,
        &poster.note,
        one_line(64.0, 40.0),
        120.0,
        ON_RED,
    );
    let frame = Frame {
        width: TEXT_WIDTH,
        lines: 2,
        largest: 150.0,
        smallest: 84.0,
    };
    let fitted = text::fit(face(Weight::Bold), &poster.banner, frame);
    let (space_top, space_bottom) = (240.0, BAND as f32 - 50.0);
    let top = space_top + (space_bottom - space_top - block_height(&fitted)) / 2.0;
    centred(page, Weight::Bold, &poster.banner, frame, top, WHITE);
}

/// The QR in a red rounded frame, and the URL it encodes printed under it for those who type.
fn qr(page: &mut Canvas, url: &str) -> Result<()> {
    let code = Qr::encode(url)?;
    let side = code.side(QR_MAX);
    let left = (WIDTH - side) / 2;
    // The frame hugs the code, whatever its version (a door URL is longer than a join URL).
    let outer = side as f32 + 2.0 * QR_PAD;
    let (x, y) = (left as f32 - QR_PAD, QR_TOP as f32 - QR_PAD);
    page.fill_round_rect(x - 14.0, y - 14.0, outer + 28.0, outer + 28.0, 72.0, RED);
    page.fill_round_rect(x, y, outer, outer, 58.0, WHITE);
    page.qr(&code, left, QR_TOP, QR_MAX);
    let below = y + outer + 14.0 + 50.0;
    centred(page, Weight::Regular, url, one_line(58.0, 34.0), below, INK);
    Ok(())
}

/// Three numbered steps, left-aligned as one block centred on the page.
fn steps(page: &mut Canvas, steps: &[String; 3]) {
    const DOT: f32 = 104.0;
    const GAP: f32 = 44.0;
    const ROW: f32 = 150.0;
    let font = face(Weight::Regular);
    let frame = Frame {
        width: TEXT_WIDTH - DOT - GAP,
        lines: 1,
        largest: 76.0,
        smallest: 44.0,
    };
    let fitted: Vec<Fitted> = steps.iter().map(|s| text::fit(font, s, frame)).collect();
    let widest = fitted
        .iter()
        .map(|f| f.lines.first().map_or(0.0, |l| text::width(font, f.em, l)))
        .fold(0.0, f32::max);
    let left = (WIDTH as f32 - (DOT + GAP + widest)) / 2.0;
    for (i, step) in fitted.iter().enumerate() {
        let top = STEPS_TOP + i as f32 * ROW;
        page.fill_round_rect(left, top, DOT, DOT, DOT / 2.0, RED);
        let digit = (i + 1).to_string();
        let bold = face(Weight::Bold);
        let digit_em = 66.0;
        let digit_x = left + (DOT - text::width(bold, digit_em, &digit)) / 2.0;
        page.text(
            bold,
            digit_em,
            digit_x,
            top + (DOT - digit_em) / 2.0,
            &digit,
            WHITE,
        );
        if let Some(line) = step.lines.first() {
            let text_top = top + (DOT - step.em) / 2.0;
            page.text(font, step.em, left + DOT + GAP, text_top, line, INK);
        }
    }
}

fn footer(page: &mut Canvas, footer: &str) {
    page.fill_rect(0, FOOTER_TOP - 24, WIDTH, 24, GOLD);
    page.fill_rect(0, FOOTER_TOP, WIDTH, HEIGHT - FOOTER_TOP, RED);
    let frame = one_line(64.0, 40.0);
    let fitted = text::fit(face(Weight::Regular), footer, frame);
    let top = FOOTER_TOP as f32 + ((HEIGHT - FOOTER_TOP) as f32 - fitted.em) / 2.0;
    centred(page, Weight::Regular, footer, frame, top, WHITE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poster(name: &str, url: &str) -> Poster {
        Poster {
            note: "新就业形态劳动者·欢迎加入工会".into(),
            banner: name.into(),
            headline: "扫码加入工会".into(),
            subtitle: name.repeat(3),
            url: url.into(),
            steps: [
                "用微信或手机相机扫描二维码".into(),
                name.into(),
                "提交即入会，免费".into(),
            ],
            footer: format!("入会免费·{name}主办"),
            file_name: "入会海报".into(),
            ascii_name: "join-poster".into(),
        }
    }

    /// The page's QR, read back by a real decoder from the greyscale of the page.
    fn decode(page: &Canvas) -> Vec<String> {
        let (w, h) = (page.width, page.height);
        let grey = |x: usize, y: usize| page.pixels[(y * w + x) * 3 + 1];
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, grey);
        img.detect_grids()
            .iter()
            .map(|g| g.decode().unwrap().1)
            .collect()
    }

    #[test]
    fn a_page_with_the_longest_names_is_a4_and_its_qr_still_reads() {
        let name =
            "江苏省南京市玄武区新街口街道快递物流与外卖配送行业新就业形态劳动者联合工会委员会𠀀"
                .repeat(2);
        let url = "https://union.example.cn/s/123456789?c=AbCdEfGhI";
        let page = draw(&poster(&name, url)).unwrap();
        assert_eq!((page.width, page.height), (2480, 3508));
        // Nothing strays into the side margins between the bands, however long the names.
        let inked = (BAND + 24..FOOTER_TOP - 24).any(|y| {
            (0..MARGIN - 40)
                .chain(WIDTH - MARGIN + 40..WIDTH)
                .any(|x| page.pixels[(y * WIDTH + x) * 3..][..3] != WHITE)
        });
        assert!(!inked);
        assert_eq!(decode(&page), [url]);
    }
}
