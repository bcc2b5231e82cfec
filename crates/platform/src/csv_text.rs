//! The text of an uploaded CSV file. Excel's "CSV UTF-8" starts with a BOM; its plain "CSV"
//! is written in the system's ANSI code page, which on Chinese Windows is GBK (code page 936).
//! GB18030 is a superset of GBK (and decodes GB2312), so one GB18030 decoder reads all three.

use std::borrow::Cow;

use crate::error::Lang;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The encodings a file may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Gb18030,
}

impl Charset {
    /// A declared name: `utf-8` or `gb18030`, with the usual aliases (`utf8`, `gbk`, `gb2312`,
    /// `cp936`), any case.
    pub fn parse(name: &str) -> Option<Charset> {
        match name.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Charset::Utf8),
            "gb18030" | "gbk" | "gb2312" | "cp936" => Some(Charset::Gb18030),
            _ => None,
        }
    }

    /// The names [`Charset::parse`] takes, as a pattern (any case).
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(
                "^([Uu][Tt][Ff]-?8|[Gg][Bb](18030|[Kk]|2312)|[Cc][Pp]936)$",
            ))
            .build()
    }
}

/// The file as text, in `declared` or else detected; `None` when the bytes are malformed in
/// that encoding.
///
/// Detection: a BOM means UTF-8, whatever was declared (as in the WHATWG decode algorithm: a
/// BOM cannot start a sensible GBK file). Without one, text that is valid UTF-8 is taken as
/// UTF-8: Chinese GBK text is almost never valid UTF-8 (its lead bytes would need UTF-8's exact
/// continuation pattern), and ASCII reads the same in both. Anything else is GB18030, decoded
/// strictly: a byte that is not GB18030 either refuses the file instead of becoming U+FFFD in
/// a station's name.
pub fn decode(bytes: &[u8], declared: Option<Charset>) -> Option<Cow<'_, str>> {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        return utf8(rest);
    }
    match declared {
        Some(Charset::Utf8) => utf8(bytes),
        Some(Charset::Gb18030) => gb18030(bytes),
        None => utf8(bytes).or_else(|| gb18030(bytes)),
    }
}

fn utf8(bytes: &[u8]) -> Option<Cow<'_, str>> {
    std::str::from_utf8(bytes).ok().map(Cow::Borrowed)
}

fn gb18030(bytes: &[u8]) -> Option<Cow<'_, str>> {
    encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes)
}

/// What a refused file's problem says, by what was tried.
pub fn malformed(declared: Option<Charset>, lang: Lang) -> &'static str {
    match (declared, lang) {
        (None, Lang::ZhCn) => {
            "文件既不是有效的 UTF-8 文本，也不是有效的 GBK/GB18030 文本。请在 Excel 中“另存为”“CSV UTF-8（逗号分隔）”后重新导入。"
        }
        (None, Lang::En) => {
            "The file is neither valid UTF-8 nor valid GBK/GB18030 text. In Excel, use Save As, “CSV UTF-8 (Comma delimited)”, and import again."
        }
        (Some(Charset::Utf8), Lang::ZhCn) => {
            "文件不是有效的 UTF-8 文本（请求指定了 encoding=utf-8）。"
        }
        (Some(Charset::Utf8), Lang::En) => {
            "The file is not valid UTF-8 text (the request declared encoding=utf-8)."
        }
        (Some(Charset::Gb18030), Lang::ZhCn) => {
            "文件不是有效的 GBK/GB18030 文本（请求指定了 encoding=gb18030 或 gbk）。"
        }
        (Some(Charset::Gb18030), Lang::En) => {
            "The file is not valid GBK/GB18030 text (the request declared encoding=gb18030 or gbk)."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name,address\n新街口驿站,南京市秦淮区中山南路1号\n";

    fn gbk(text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
        assert!(!unmappable);
        bytes.into_owned()
    }

    #[test]
    fn utf8_with_or_without_bom_and_gbk_are_read() {
        assert_eq!(decode(TEXT.as_bytes(), None).unwrap(), TEXT);
        let with_bom = [UTF8_BOM, TEXT.as_bytes()].concat();
        assert_eq!(decode(&with_bom, None).unwrap(), TEXT);
        let file = gbk(TEXT);
        assert!(std::str::from_utf8(&file).is_err(), "a real GBK file");
        assert_eq!(decode(&file, None).unwrap(), TEXT);
        // Beyond GBK: a four-byte GB18030 sequence (U+20BB7, in some people's names).
        let rare = "𠮷野家驿站";
        assert_eq!(decode(&gbk(rare), None).unwrap(), rare);
    }

    #[test]
    fn a_declared_encoding_wins_over_detection_but_not_over_a_bom() {
        let file = gbk(TEXT);
        assert_eq!(decode(&file, Some(Charset::Utf8)), None);
        assert_eq!(decode(&file, Some(Charset::Gb18030)).unwrap(), TEXT);
        // 驿站 in UTF-8 reads as other (valid) GB18030 characters: only the declaration says.
        let utf8_text = "驿站".as_bytes();
        assert_ne!(decode(utf8_text, Some(Charset::Gb18030)).unwrap(), "驿站");
        let with_bom = [UTF8_BOM, TEXT.as_bytes()].concat();
        assert_eq!(decode(&with_bom, Some(Charset::Gb18030)).unwrap(), TEXT);
        assert_eq!(Charset::parse("GBK"), Some(Charset::Gb18030));
        assert_eq!(Charset::parse(" GBK "), None);
        assert_eq!(Charset::parse("UTF-8"), Some(Charset::Utf8));
        assert_eq!(Charset::parse("latin1"), None);
    }

    #[test]
    fn bytes_malformed_in_both_encodings_are_refused() {
        // 0xFF starts nothing in GB18030; 0x81 0x20 is a lead byte without its trail byte.
        assert_eq!(decode(b"name\n\xFF\n", None), None);
        assert_eq!(decode(b"name\n\x81\x20\n", None), None);
        assert_eq!(decode(b"\xEF\xBB\xBFname\n\xC4\xCF\n", None), None);
    }
}
