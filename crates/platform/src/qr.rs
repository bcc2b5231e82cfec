//! QR codes that phones scan: error correction M (survives a smudged or partly torn poster), a
//! four-module quiet zone, SVG for print shops and PNG for everything else; [`poster`] serves
//! one to the staff for printing.

use actix_web::http::header;
use actix_web::HttpResponse;
use qrcode::{Color, EcLevel, QrCode};

use crate::error::{Error, Result};

/// Modules of white border the QR standard asks for around the symbol.
const QUIET_ZONE: usize = 4;

fn encode(data: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| Error::internal(anyhow::anyhow!("QR encoding failed: {e}")))
}

/// An SVG at least `min_px` wide (it scales without loss for print): one path of horizontal
/// runs in module units, a few KB where a rectangle per module took tens (the e-card is
/// fetched every minute on metered 4G).
pub fn svg(data: &str, min_px: u32) -> Result<String> {
    use std::fmt::Write;
    let code = encode(data)?;
    let modules = code.width();
    let colors = code.to_colors();
    let total = modules + 2 * QUIET_ZONE;
    let side = (min_px as usize).div_ceil(total).max(1) * total;
    // Each row is one stroke of width 1 through the middle of its modules: an absolute move
    // to the row's first run, then each run as a relative gap and a length.
    let mut path = String::with_capacity(modules * modules / 2);
    for (y, row) in colors.chunks(modules).enumerate() {
        let mut pen: Option<usize> = None;
        let mut x = 0;
        while x < modules {
            if row[x] != Color::Dark {
                x += 1;
                continue;
            }
            let start = x;
            while x < modules && row[x] == Color::Dark {
                x += 1;
            }
            let _ = match pen {
                None => write!(path, "M{} {}.5", start + QUIET_ZONE, y + QUIET_ZONE),
                Some(end) => write!(path, "m{} 0", start - end),
            };
            let _ = write!(path, "h{}", x - start);
            pen = Some(x);
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{side}\" height=\"{side}\" \
         viewBox=\"0 0 {total} {total}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{total}\" height=\"{total}\" fill=\"#fff\"/>\
         <path stroke=\"#000\" stroke-width=\"1\" d=\"{path}\"/></svg>"
    ))
}

/// A greyscale PNG at least `min_px` wide, each module a whole number of pixels so that
/// scanners see crisp edges.
pub fn png(data: &str, min_px: u32) -> Result<Vec<u8>> {
    let code = encode(data)?;
    let modules = code.width();
    let colors = code.to_colors();
    let total = modules + 2 * QUIET_ZONE;
    let scale = (min_px as usize).div_ceil(total).max(1);
    let side = total * scale;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * scale..(my + 1) * scale {
            pixels[y * side + mx * scale..y * side + (mx + 1) * scale].fill(0);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Balanced);
        let mut writer = encoder.write_header().map_err(Error::internal)?;
        writer.write_image_data(&pixels).map_err(Error::internal)?;
    }
    Ok(out)
}

/// The side, in pixels, a poster's QR image has at least.
pub const POSTER_PX: u32 = 1024;

/// The image formats a poster's QR is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

/// How long the staff's browser may keep a poster's image. Private either way: the image is
/// served to staff credentials only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// A day; the image at the address may change (it carries a door code).
    Day,
    /// A day, never revalidated: the image at the address never changes (a join code's).
    Immutable,
}

/// The QR of `data` as an image for printing, at least [`POSTER_PX`] wide.
pub fn poster(data: &str, format: Format, keep: Keep) -> Result<HttpResponse> {
    let (content_type, bytes) = match format {
        Format::Svg => ("image/svg+xml", svg(data, POSTER_PX)?.into_bytes()),
        Format::Png => ("image/png", png(data, POSTER_PX)?),
    };
    let cache_control = match keep {
        Keep::Day => "private, max-age=86400",
        Keep::Immutable => "private, max-age=86400, immutable",
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a greyscale PNG with a real QR decoder.
    fn decode(png_bytes: &[u8]) -> (u32, String) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        (info.width, content)
    }

    #[test]
    fn png_decodes_to_the_exact_text_and_is_print_sized() {
        let url = "https://union.example.cn/j/AbCdEf123_-x";
        let (width, content) = decode(&png(url, 600).unwrap());
        assert_eq!(content, url);
        assert!(width >= 600, "{width}");
    }

    /// Reads the runs of [`svg`]'s path back into modules: exactly the code's dark modules.
    #[test]
    fn svg_path_draws_exactly_the_dark_modules() {
        let data = "eyJhbGciOiJFZERTQSJ9.a-card-token-of-realistic-length_0123456789abcdef";
        let svg = svg(data, 320).unwrap();
        let code = encode(data).unwrap();
        let n = code.width();
        let mut drawn = vec![Color::Light; n * n];
        let d = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        for row in d.split('M').filter(|r| !r.is_empty()) {
            let (x, rest) = row.split_once(' ').unwrap();
            let (y, mut rest) = rest.split_once(".5").unwrap();
            let (mut x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            while let Some(run) = rest.strip_prefix('h') {
                let digits = run.find(|c: char| !c.is_ascii_digit()).unwrap_or(run.len());
                let len: usize = run[..digits].parse().unwrap();
                for cell in &mut drawn[(y - QUIET_ZONE) * n + x - QUIET_ZONE..][..len] {
                    *cell = Color::Dark;
                }
                x += len;
                rest = &run[digits..];
                if let Some(gap) = rest.strip_prefix('m') {
                    let (gap, after) = gap.split_once(" 0").unwrap();
                    x += gap.parse::<usize>().unwrap();
                    rest = after;
                }
            }
            assert!(rest.is_empty(), "{rest}");
        }
        assert_eq!(drawn, code.to_colors());
    }

    #[test]
    fn svg_is_an_svg_of_the_requested_size() {
        let svg = svg("https://union.example.cn/j/AbCdEf123_-x", 600).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        let width: u32 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|w| w.parse().ok())
            .unwrap();
        assert!(width >= 600, "{width}");
    }
}
