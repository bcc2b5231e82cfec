//! The page as pixels: an RGB canvas with the few shapes a poster needs (rectangles, rounded
//! rectangles, circles, text, a QR code) and its PNG.

use ab_glyph::{point, Font, FontRef};
use platform::{Error, Result};
use qrcode::{Color, EcLevel, QrCode};

use super::text::{self, ASCENT};

pub type Rgb = [u8; 3];

/// Modules of white border the QR standard asks for around the symbol.
const QUIET_ZONE: usize = 4;

/// A QR code as phones scan posters best: error correction M (a smudged or partly torn poster
/// still reads), four modules of quiet zone, each module a whole number of pixels so that
/// scanners see crisp edges.
pub struct Qr {
    modules: usize,
    dark: Vec<bool>,
}

impl Qr {
    pub fn encode(data: &str) -> Result<Qr> {
        let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
            .map_err(|e| Error::internal(anyhow::anyhow!("QR encoding failed: {e}")))?;
        Ok(Qr {
            modules: code.width(),
            dark: code.to_colors().iter().map(|c| *c == Color::Dark).collect(),
        })
    }

    /// Modules across, quiet zone included.
    fn total(&self) -> usize {
        self.modules + 2 * QUIET_ZONE
    }

    fn scale(&self, max: usize) -> usize {
        (max / self.total()).max(1)
    }

    /// The side drawn within `max` pixels, quiet zone included.
    pub fn side(&self, max: usize) -> usize {
        self.total() * self.scale(max)
    }
}

pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [0, 0, 0];

/// An RGB raster, rows top to bottom, three bytes a pixel.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize, background: Rgb) -> Canvas {
        let mut canvas = Canvas {
            width,
            height,
            pixels: vec![0; width * height * 3],
        };
        canvas.fill_rect(0, 0, width, height, background);
        canvas
    }

    /// Fills whole pixels, clipped to the page: one row is built, then copied (the debug
    /// build the tests run is slow at pixel-by-pixel loops over 8.7 million pixels).
    pub fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: Rgb) {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        if x >= x1 || y >= y1 {
            return;
        }
        let row: Vec<u8> = color.repeat(x1 - x);
        for line in y..y1 {
            let start = (line * self.width + x) * 3;
            self.pixels[start..start + row.len()].copy_from_slice(&row);
        }
    }

    /// Mixes `color` into one pixel by `coverage` (0 to 1); outside the page nothing happens.
    pub fn blend(&mut self, x: i64, y: i64, color: Rgb, coverage: f32) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let a = coverage.clamp(0.0, 1.0);
        let at = (y as usize * self.width + x as usize) * 3;
        for (dst, src) in self.pixels[at..at + 3].iter_mut().zip(color) {
            *dst = (f32::from(*dst) * (1.0 - a) + f32::from(src) * a).round() as u8;
        }
    }

    /// A rectangle with corners of radius `r`, anti-aliased at the ends of each row (a circle
    /// is one with `r` half its side).
    pub fn fill_round_rect(&mut self, x: f32, y: f32, w: f32, h: f32, r: f32, color: Rgb) {
        let r = r.min(w / 2.0).min(h / 2.0);
        let (top, bottom) = (y.floor() as i64, (y + h).ceil() as i64);
        for row in top..bottom {
            let cy = row as f32 + 0.5;
            if cy < y || cy > y + h {
                continue;
            }
            // How far the curve of a corner pulls this row in from the straight side.
            let dy = (y + r - cy).max(cy - (y + h - r)).max(0.0);
            let inset = r - (r * r - dy * dy).max(0.0).sqrt();
            self.span(row, x + inset, x + w - inset, color);
        }
    }

    /// One row from `from` to `to` (fractional), the partly covered end pixels blended.
    fn span(&mut self, row: i64, from: f32, to: f32, color: Rgb) {
        if to <= from || row < 0 {
            return;
        }
        let (first, last) = (from.floor() as i64, to.ceil() as i64 - 1);
        if first == last {
            return self.blend(first, row, color, to - from);
        }
        self.blend(first, row, color, 1.0 - (from - first as f32));
        self.blend(last, row, color, to - last as f32);
        let inner = (first + 1).max(0) as usize;
        let end = last.max(0) as usize;
        if end > inner {
            self.fill_rect(inner, row as usize, end - inner, 1, color);
        }
    }

    /// One line of text with its em box's top at `top`, starting at `x`.
    pub fn text(&mut self, font: &FontRef<'_>, em: f32, x: f32, top: f32, line: &str, color: Rgb) {
        let scale = text::scale(font, em);
        let per_unit = em / font.units_per_em().unwrap_or(1000.0);
        let baseline = top + ASCENT * em;
        let mut caret = x;
        let mut prev = None;
        for c in text::printable(line) {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                caret += font.kern_unscaled(p, id) * per_unit;
            }
            let glyph = id.with_scale_and_position(scale, point(caret, baseline));
            if let Some(outlined) = font.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                let (ox, oy) = (bounds.min.x as i64, bounds.min.y as i64);
                outlined.draw(|gx, gy, coverage| {
                    self.blend(ox + i64::from(gx), oy + i64::from(gy), color, coverage)
                });
            }
            caret += font.h_advance_unscaled(id) * per_unit;
            prev = Some(id);
        }
    }

    /// `qr` at its top left corner `(left, top)`, [`Qr::side`]`(max)` pixels square.
    pub fn qr(&mut self, qr: &Qr, left: usize, top: usize, max: usize) {
        let scale = qr.scale(max);
        let side = qr.total() * scale;
        self.fill_rect(left, top, side, side, WHITE);
        for (i, _) in qr.dark.iter().enumerate().filter(|(_, dark)| **dark) {
            let (mx, my) = (i % qr.modules + QUIET_ZONE, i / qr.modules + QUIET_ZONE);
            self.fill_rect(left + mx * scale, top + my * scale, scale, scale, BLACK);
        }
    }

    /// The page as an RGB PNG stating `dpi`, so that print dialogs size it right.
    pub fn png(&self, dpi: u32) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_compression(png::Compression::Fast);
            let per_metre = (f64::from(dpi) / 0.0254).round() as u32;
            encoder.set_pixel_dims(Some(png::PixelDimensions {
                xppu: per_metre,
                yppu: per_metre,
                unit: png::Unit::Meter,
            }));
            let mut writer = encoder.write_header().map_err(Error::internal)?;
            writer
                .write_image_data(&self.pixels)
                .map_err(Error::internal)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_rect_fills_its_middle_and_leaves_its_corners() {
        let mut canvas = Canvas::new(100, 100, WHITE);
        canvas.fill_round_rect(10.0, 10.0, 80.0, 80.0, 20.0, BLACK);
        let at = |x: usize, y: usize| canvas.pixels[(y * 100 + x) * 3];
        assert_eq!(at(50, 50), 0);
        assert_eq!(at(50, 11), 0);
        assert_eq!(at(11, 11), 255, "the corner is rounded off");
        assert_eq!(at(5, 50), 255);
    }

    #[test]
    fn shapes_past_the_page_are_clipped_not_a_panic() {
        let mut canvas = Canvas::new(50, 50, WHITE);
        canvas.fill_rect(40, 40, 100, 100, BLACK);
        canvas.fill_round_rect(-20.0, 30.0, 200.0, 40.0, 10.0, BLACK);
        let font = text::face(text::Weight::Bold);
        canvas.text(font, 80.0, 30.0, -10.0, "工会", BLACK);
        assert_eq!(canvas.pixels.len(), 50 * 50 * 3);
    }
}
