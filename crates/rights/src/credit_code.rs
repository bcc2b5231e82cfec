//! The respondent: who owes the worker (an employer, a platform, a contractor or a person), and
//! the unified social credit code (统一社会信用代码, GB 32100-2015) that names a business for
//! good, checked by its check character.
//!
//! Cases against the same respondent are linked across the whole union tree by one key: the
//! credit code when the worker knows it, otherwise the name with spacing, punctuation,
//! full-width forms and letter case taken out (`某某 物流（有限公司）` and `某某物流(有限公司)`
//! are one respondent).

use std::fmt;

/// The 31 characters a credit code is written in: digits and capitals without I, O, S, V, Z.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weight of each of the first 17 positions: 3^i mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A valid 18-character unified social credit code, upper-cased.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character of the first 17 characters (which must be in the alphabet).
fn check_character(first17: &[u8]) -> Option<u8> {
    let mut sum = 0;
    for (&c, w) in first17.iter().zip(WEIGHTS) {
        sum += value_of(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(ALPHABET[check as usize])
}

impl CreditCode {
    /// Checks the length, the alphabet, the six digits of the region (administrative division)
    /// and the check character. Spaces around it and lower case are forgiven.
    pub fn parse(input: &str) -> Option<CreditCode> {
        let value = input.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        if bytes.len() != 18 || !bytes[2..8].iter().all(u8::is_ascii_digit) {
            return None;
        }
        (check_character(&bytes[..17])? == bytes[17]).then_some(CreditCode(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The schema of a code as the API takes it.
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}$"))
            .description(Some(
                "Unified social credit code (GB 32100), 18 characters; its last one is a check character",
            ))
            .build()
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({})", self.0)
    }
}

/// Full-width forms (U+FF01-U+FF5E) to their ASCII twins, the ideographic space to a space.
fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// The key that links cases against one respondent: `code:` and the credit code, or `name:`
/// and the name folded (half-width, lower case, only letters and digits of any script kept).
pub fn respondent_key(name: &str, code: Option<&CreditCode>) -> String {
    match code {
        Some(code) => format!("code:{}", code.as_str()),
        None => {
            let folded: String = name
                .chars()
                .map(half_width)
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect();
            format!("name:{folded}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_codes_whose_check_character_matches() {
        // Codes as published on business licences.
        for code in [
            "91350100M000100Y43",
            "91110000802100433B",
            "914403001922038216",
        ] {
            assert!(CreditCode::parse(code).is_some(), "{code}");
        }
        let lower = CreditCode::parse(" 91350100m000100y43 ").unwrap();
        assert_eq!(lower.as_str(), "91350100M000100Y43");
    }

    #[test]
    fn refuses_a_wrong_check_character_length_or_letter() {
        for code in [
            "91350100M000100Y44",  // check character off by one
            "91350100M000100Y4",   // 17 characters
            "91350100M000100Y433", // 19
            "9135010OM000100Y43",  // O is not in the alphabet
            "91A50100M000100Y43",  // the region is digits
            "",
        ] {
            assert!(CreditCode::parse(code).is_none(), "{code}");
        }
    }

    #[test]
    fn the_pattern_allows_only_the_alphabet() {
        let pattern =
            regex::Regex::new(CreditCode::schema().pattern.as_deref().expect("a pattern")).unwrap();
        assert!(pattern.is_match("91350100M000100Y43"));
        assert!(!pattern.is_match("9135010OM000100Y43"));
    }

    #[test]
    fn names_fold_to_one_key_and_codes_win() {
        let a = respondent_key("某某 物流（有限公司）", None);
        let b = respondent_key("某某物流(有限公司)", None);
        assert_eq!(a, b);
        assert_eq!(
            respondent_key("ＡＢＣ Delivery", None),
            respondent_key("abc delivery", None)
        );
        let code = CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(
            respondent_key("anything", Some(&code)),
            "code:91350100M000100Y43"
        );
    }
}
