//! Free text a person types (names, addresses, labels, reasons, feedback): one rule, stated once
//! for the server and once, exactly, for the spec the app's client is generated from.
//!
//! `Text<MAX>` is at most MAX characters as sent, holds no control character, and is not blank;
//! it is stored trimmed. The schema says the same: `minLength: 1`, `maxLength: MAX` and
//! [`PATTERN`], so whatever the spec allows the server takes and whatever it refuses the server
//! refuses too.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// Not blank and no control character. The class of blank characters is spelled out, not `\s`,
/// because `\s` differs between regex engines (ECMAScript counts U+FEFF, Python U+001C-U+001F);
/// these are exactly the Unicode `White_Space` characters that `str::trim` removes, less the
/// controls, which are refused anyway.
pub const PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*\
[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]\
[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Holds a character that `str::trim` keeps: the complement of Unicode `White_Space`, for
/// text where line breaks and other controls may appear (a doctor's conclusion).
pub const NOT_BLANK_PATTERN: &str =
    "[^\\u0009-\\u000D\\u0020\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";

/// Validated free text of at most MAX characters, trimmed.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Text<const MAX: usize>(String);

/// The rule, for a caller whose bound is known only at run time (a CSV cell): the text
/// trimmed, or `None` for blank, over `max` characters or holding a control character.
pub fn clean(input: &str, max: usize) -> Option<String> {
    let fits = input.chars().count() <= max && !input.chars().any(char::is_control);
    let value = input.trim();
    (fits && !value.is_empty()).then(|| value.to_owned())
}

impl<const MAX: usize> Text<MAX> {
    pub fn parse(input: &str) -> Option<Text<MAX>> {
        clean(input, MAX).map(Text)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> Deref for Text<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Debug for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(deserializer)?;
        Text::parse(&raw).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "expected 1 to {MAX} characters, not blank, without control characters"
            ))
        })
    }
}

/// The schema of a `Text<MAX>`: the same rule as [`Text::parse`].
pub fn schema(max: usize) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(PATTERN))
        .into()
}

impl<const MAX: usize> utoipa::PartialSchema for Text<MAX> {
    fn schema() -> RefOr<Schema> {
        schema(MAX).into()
    }
}

impl<const MAX: usize> utoipa::ToSchema for Text<MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Text{MAX}"))
    }
}

/// Prose: [`PATTERN`] with line breaks and tabs allowed (what a worker writes about what
/// happened, a staff member's note). Not blank, no other control character.
pub const PROSE_PATTERN: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*\
[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]\
[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

/// Validated prose of at most MAX characters, several lines allowed, trimmed.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Prose<const MAX: usize>(String);

impl<const MAX: usize> Prose<MAX> {
    pub fn parse(input: &str) -> Option<Prose<MAX>> {
        let allowed = |c: char| !c.is_control() || matches!(c, '\n' | '\r' | '\t');
        let fits = input.chars().count() <= MAX && input.chars().all(allowed);
        let value = input.trim();
        (fits && !value.is_empty()).then(|| Prose(value.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> Deref for Prose<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Debug for Prose<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prose({} characters)", self.0.chars().count())
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Prose<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(deserializer)?;
        Prose::parse(&raw).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "expected 1 to {MAX} characters, not blank, without control characters but line breaks"
            ))
        })
    }
}

impl<const MAX: usize> utoipa::PartialSchema for Prose<MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX))
            .pattern(Some(PROSE_PATTERN))
            .into()
    }
}

impl<const MAX: usize> utoipa::ToSchema for Prose<MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Prose{MAX}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Name = Text<5>;

    #[test]
    fn keeps_text_trimmed_and_refuses_blank_long_or_control() {
        assert_eq!(Name::parse("  张三 ").as_deref(), Some("张三"));
        assert_eq!(Name::parse("五个汉字呀").as_deref(), Some("五个汉字呀"));
        for refused in [
            "",
            "   ",
            "\u{3000}",
            "六个汉字呀呀",
            "a\u{0}b",
            "ab\n",
            "  abcd",
        ] {
            assert!(Name::parse(refused).is_none(), "{refused:?}");
        }
    }

    #[test]
    fn prose_keeps_lines_and_its_pattern_agrees() {
        let text = Prose::<20>::parse(" 第一行\n第二行\t完 ").unwrap();
        assert_eq!(&*text, "第一行\n第二行\t完");
        let pattern = regex::Regex::new(PROSE_PATTERN).unwrap();
        let odd = (0u32..0x3001)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace() || c.is_control() || *c == '\u{FEFF}');
        let mut texts: Vec<String> = vec!["张三".into(), "a\nb".into(), "\n".into()];
        for c in odd {
            texts.extend([c.to_string(), format!("a{c}b"), format!("{c}a")]);
        }
        for text in texts {
            let parsed = Prose::<100>::parse(&text).is_some();
            assert_eq!(parsed, pattern.is_match(&text), "{text:?}");
        }
    }

    #[test]
    fn the_pattern_matches_exactly_what_parse_accepts() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        // Every blank or control character below U+3001, alone and inside other text, and a
        // few ordinary texts: the spec's pattern and the server agree on each.
        let odd = (0u32..0x3001)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace() || c.is_control() || *c == '\u{FEFF}');
        let mut texts: Vec<String> = vec!["张三".into(), "a b".into(), " x ".into()];
        for c in odd {
            texts.extend([c.to_string(), format!("a{c}b"), format!("{c}a")]);
        }
        let not_blank = regex::Regex::new(NOT_BLANK_PATTERN).unwrap();
        for text in texts {
            let parsed = Text::<100>::parse(&text).is_some();
            assert_eq!(parsed, pattern.is_match(&text), "{text:?}");
            assert_eq!(
                !text.trim().is_empty(),
                not_blank.is_match(&text),
                "{text:?}"
            );
        }
    }
}
