//! Poster text: the two embedded faces, measuring, line breaking and shrinking to fit.
//!
//! The server has no fonts installed, so Noto Sans CJK SC (cut down to GB2312 and the
//! punctuation posters use, see `assets/fonts/README.md`) is compiled into the binary. There is
//! no shaping: Chinese needs none, and the Latin a poster carries (a URL, a name) reads fine
//! with the font's advances. A character the subset lacks prints as the font's box.

use std::sync::LazyLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale};

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-Regular-subset.otf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-Bold-subset.otf");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// Parsed once: both files are part of the binary, so a failure is a build mistake that the
/// tests below catch.
static FACES: LazyLock<[FontRef<'static>; 2]> = LazyLock::new(|| {
    [REGULAR, BOLD].map(|bytes| FontRef::try_from_slice(bytes).expect("the embedded font parses"))
});

pub fn face(weight: Weight) -> &'static FontRef<'static> {
    &FACES[weight as usize]
}

/// Where a CJK glyph's em box starts above the baseline, in ems (Noto's box is -0.12..0.88):
/// text set at `top` has its baseline at `top + ASCENT * em`.
pub const ASCENT: f32 = 0.88;

/// ab_glyph scales by the font's ascent-to-descent height; posters are laid out in ems.
pub fn scale(font: &FontRef<'_>, em: f32) -> PxScale {
    let units = font.units_per_em().unwrap_or(1000.0);
    PxScale::from(em * font.height_unscaled() / units)
}

/// The characters that are drawn: controls (a stray tab or newline in a name) are dropped.
pub fn printable(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().filter(|c| !c.is_control())
}

/// Advance of `id` after `prev`, in pixels at `em` (as [`Canvas::text`] moves its pen).
///
/// [`Canvas::text`]: super::raster::Canvas::text
fn advance(font: &FontRef<'_>, em: f32, prev: Option<GlyphId>, id: GlyphId) -> f32 {
    let per_unit = em / font.units_per_em().unwrap_or(1000.0);
    let kern = prev.map_or(0.0, |p| font.kern_unscaled(p, id));
    (kern + font.h_advance_unscaled(id)) * per_unit
}

/// Width of `text` set at `em` pixels.
pub fn width(font: &FontRef<'_>, em: f32, text: &str) -> f32 {
    let mut prev = None;
    let mut total = 0.0;
    for c in printable(text) {
        let id = font.glyph_id(c);
        total += advance(font, em, prev, id);
        prev = Some(id);
    }
    total
}

/// Punctuation that must not start a line (Chinese typesetting's 避头点): it stays with the
/// character before it.
fn closes(c: char) -> bool {
    "，。、；：？！）》」』】〕〉”’·…—%,.;:?!)]}".contains(c)
}

/// The pieces a line may break between: a CJK character with any closing punctuation after
/// it, a run of Latin letters and digits (a word, a URL), or a space.
fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = false;
    for c in printable(text) {
        let latin = c.is_ascii_alphanumeric() || "/-_.?=&:#@+~".contains(c);
        match out.last_mut() {
            Some(last) if closes(c) || (latin && word) => last.push(c),
            _ => out.push(c.to_string()),
        }
        word = latin;
    }
    out
}

/// Greedy lines of at most `max` pixels. A piece wider than a line (a long URL) is cut
/// between characters; spaces at a break are dropped.
pub fn wrap(font: &FontRef<'_>, em: f32, text: &str, max: f32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in pieces(text) {
        let candidate = format!("{line}{piece}");
        if width(font, em, &candidate) <= max {
            line = candidate;
            continue;
        }
        if !line.trim().is_empty() {
            lines.push(line.trim_end().to_owned());
        }
        line = String::new();
        for c in piece.trim_start().chars() {
            if !line.is_empty() && width(font, em, &format!("{line}{c}")) > max {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// The box a text must fit: its width, most lines, and the sizes to try, largest first.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub width: f32,
    pub lines: usize,
    pub largest: f32,
    pub smallest: f32,
}

/// Text set to fit a [`Frame`]: its size in pixels per em and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub em: f32,
    pub lines: Vec<String>,
}

/// The largest size at which `text` fits the frame, shrinking in steps of about 5%; at the
/// smallest size what still does not fit is cut with an ellipsis, so nothing leaves the page.
pub fn fit(font: &FontRef<'_>, text: &str, frame: Frame) -> Fitted {
    let mut em = frame.largest;
    loop {
        let lines = wrap(font, em, text, frame.width);
        if lines.len() <= frame.lines {
            return Fitted { em, lines };
        }
        if em <= frame.smallest {
            return Fitted {
                em,
                lines: cut(font, em, lines, frame),
            };
        }
        em = (em * 0.95).max(frame.smallest);
    }
}

/// The first `frame.lines` lines, the last ending in "…" within the width.
fn cut(font: &FontRef<'_>, em: f32, mut lines: Vec<String>, frame: Frame) -> Vec<String> {
    lines.truncate(frame.lines.max(1));
    if let Some(last) = lines.last_mut() {
        let mut kept: Vec<char> = last.chars().collect();
        loop {
            let shown = format!("{}…", kept.iter().collect::<String>().trim_end());
            if kept.is_empty() || width(font, em, &shown) <= frame.width {
                *last = shown;
                break;
            }
            kept.pop();
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Frame = Frame {
        width: 1000.0,
        lines: 2,
        largest: 100.0,
        smallest: 50.0,
    };

    #[test]
    fn both_faces_have_the_gb2312_hanzi_and_ascii() {
        for weight in [Weight::Regular, Weight::Bold] {
            let font = face(weight);
            for c in "扫码加入工会南京市玄武区总工会驿站鼗齄·，。（）A~1".chars()
            {
                assert_ne!(font.glyph_id(c), GlyphId(0), "{c} in {weight:?}");
            }
        }
    }

    #[test]
    fn a_character_outside_the_subset_is_the_box_not_a_panic() {
        let font = face(Weight::Regular);
        let id = font.glyph_id('𠀀');
        assert_eq!(id, GlyphId(0));
        assert!(font.outline(id).is_some(), "the .notdef box was kept");
        assert!(width(font, 100.0, "𠀀") > 0.0);
    }

    #[test]
    fn a_short_name_keeps_the_largest_size_on_one_line() {
        let fitted = fit(face(Weight::Bold), "玄武区总工会", FRAME);
        assert_eq!(
            fitted,
            Fitted {
                em: 100.0,
                lines: vec!["玄武区总工会".into()]
            }
        );
    }

    #[test]
    fn a_long_name_wraps_then_shrinks_and_never_overflows() {
        let name =
            "江苏省南京市玄武区新街口街道快递物流与外卖配送行业新就业形态劳动者联合工会委员会";
        let fitted = fit(face(Weight::Bold), name, FRAME);
        assert!(fitted.em < 100.0 && fitted.em >= 50.0, "{}", fitted.em);
        assert!(fitted.lines.len() <= 2);
        for line in &fitted.lines {
            assert!(
                width(face(Weight::Bold), fitted.em, line) <= FRAME.width,
                "{line}"
            );
        }
    }

    #[test]
    fn what_cannot_fit_at_the_smallest_size_ends_in_an_ellipsis() {
        let fitted = fit(face(Weight::Regular), &"工会".repeat(200), FRAME);
        assert_eq!((fitted.em, fitted.lines.len()), (50.0, 2));
        assert!(fitted.lines[1].ends_with('…'));
        assert!(width(face(Weight::Regular), 50.0, &fitted.lines[1]) <= FRAME.width);
    }

    #[test]
    fn lines_break_between_words_and_never_before_closing_punctuation() {
        let font = face(Weight::Regular);
        let em = 100.0;
        let max = width(font, em, "提交即入会");
        let lines = wrap(font, em, "提交即入会，免费", max);
        assert!(lines.iter().all(|l| !l.starts_with('，')), "{lines:?}");
        let lines = wrap(font, em, "scan gigunion", width(font, em, "gigunion "));
        assert_eq!(lines, ["scan", "gigunion"]);
    }
}
