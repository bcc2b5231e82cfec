//! QR codes that phones scan: error correction M (survives a smudged or partly torn poster), a
//! four-module quiet zone, SVG for print shops and PNG for everything else.

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

use crate::error::{Error, Result};

/// Modules of white border the QR standard asks for around the symbol.
const QUIET_ZONE: usize = 4;

fn encode(data: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| Error::internal(anyhow::anyhow!("QR encoding failed: {e}")))
}

/// An SVG at least `min_px` wide (it scales without loss for print).
pub fn svg(data: &str, min_px: u32) -> Result<String> {
    Ok(encode(data)?
        .render::<svg::Color>()
        .min_dimensions(min_px, min_px)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
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
