//! A one-page A4 PDF holding the poster's raster: a print shop or a staff member's printer
//! gets the page at its real size, where a PNG's size depends on the print dialog.
//!
//! The raster is the page's only content, an image XObject (zlib, which is PDF's FlateDecode)
//! drawn over the whole MediaBox: 2480 x 3508 pixels on 210 x 297 mm is 300 dpi. Written by
//! hand (six objects and their cross-reference table) rather than with a PDF crate: this is
//! all a viewer needs.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;
use platform::{Error, Result};

use super::raster::Canvas;

/// A4 in PostScript points (1/72 inch): 210 x 297 mm.
pub const A4_POINTS: (f32, f32) = (595.28, 841.89);

/// The PDF of one A4 page showing `canvas`, titled `title` (any script) in its metadata.
pub fn page(canvas: &Canvas, title: &str) -> Result<Vec<u8>> {
    let mut deflate = ZlibEncoder::new(Vec::new(), Compression::fast());
    deflate.write_all(&canvas.pixels).map_err(Error::internal)?;
    let image = deflate.finish().map_err(Error::internal)?;
    let (w, h) = A4_POINTS;
    let content = format!("q {w:.2} 0 0 {h:.2} 0 0 cm /Page Do Q\n");

    let mut pdf = Document::default();
    pdf.out.extend_from_slice(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    pdf.object(b"<< /Type /Catalog /Pages 2 0 R >>");
    pdf.object(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    pdf.object(
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w:.2} {h:.2}] \
             /Resources << /XObject << /Page 4 0 R >> >> /Contents 5 0 R >>"
        )
        .as_bytes(),
    );
    let image_dict = format!(
        "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceRGB \
         /BitsPerComponent 8 /Filter /FlateDecode /Length {} >>",
        canvas.width,
        canvas.height,
        image.len()
    );
    pdf.stream(&image_dict, &image);
    pdf.stream(
        &format!("<< /Length {} >>", content.len()),
        content.as_bytes(),
    );
    pdf.object(format!("<< /Title {} /Producer (gigunion) >>", utf16_text(title)).as_bytes());
    Ok(pdf.finish())
}

/// The bytes written so far and where each object starts, for the cross-reference table.
#[derive(Default)]
struct Document {
    out: Vec<u8>,
    offsets: Vec<usize>,
}

impl Document {
    /// Appends object number `offsets.len() + 1`.
    fn object(&mut self, body: &[u8]) {
        self.begin();
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(b"\nendobj\n");
    }

    fn stream(&mut self, dict: &str, data: &[u8]) {
        self.begin();
        self.out.extend_from_slice(dict.as_bytes());
        self.out.extend_from_slice(b"\nstream\n");
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\nendstream\nendobj\n");
    }

    fn begin(&mut self) {
        self.offsets.push(self.out.len());
        let number = self.offsets.len();
        self.out
            .extend_from_slice(format!("{number} 0 obj\n").as_bytes());
    }

    /// The cross-reference table (each entry exactly 20 bytes, as the format requires), the
    /// trailer naming the catalog (1) and the metadata (the last object), and the end.
    fn finish(mut self) -> Vec<u8> {
        let xref = self.out.len();
        let count = self.offsets.len() + 1;
        let mut table = format!("xref\n0 {count}\n0000000000 65535 f\r\n");
        for offset in &self.offsets {
            table.push_str(&format!("{offset:010} 00000 n\r\n"));
        }
        table.push_str(&format!(
            "trailer\n<< /Size {count} /Root 1 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            count - 1
        ));
        self.out.extend_from_slice(table.as_bytes());
        self.out
    }
}

/// A PDF text string in UTF-16BE with its byte-order mark, as hex: how metadata holds
/// characters outside Latin-1.
fn utf16_text(text: &str) -> String {
    let mut hex = String::from("<FEFF");
    for unit in text.encode_utf16() {
        hex.push_str(&format!("{unit:04X}"));
    }
    hex.push('>');
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posters::raster::WHITE;

    fn parse_offset(pdf: &[u8], number: usize) -> usize {
        let text = String::from_utf8_lossy(pdf);
        let table = &text[text.rfind("\nxref\n").unwrap() + 1..];
        let entry = table.lines().nth(2 + number).unwrap();
        entry[..10].parse().unwrap()
    }

    #[test]
    fn every_xref_entry_points_at_its_object_and_startxref_at_the_table() {
        let canvas = Canvas::new(40, 60, WHITE);
        let pdf = page(&canvas, "入会海报").unwrap();
        for number in 1..=6 {
            let at = parse_offset(&pdf, number);
            assert!(
                pdf[at..].starts_with(format!("{number} 0 obj\n").as_bytes()),
                "{number}"
            );
        }
        let text = String::from_utf8_lossy(&pdf);
        let start: usize = text
            .split("startxref\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[start..].starts_with(b"xref\n0 7\n"));
        assert!(text.ends_with("%%EOF\n"));
        assert!(text.contains("/MediaBox [0 0 595.28 841.89]"));
        assert!(text.contains("/Title <FEFF51654F1A6D7762A5>"));
    }
}
