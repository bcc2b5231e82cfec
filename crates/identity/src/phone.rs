//! Mainland China mobile numbers, the one way an account is identified.

use std::fmt;

/// [`Phone::parse`] as a regular expression: separators (space, `-`, U+3000) anywhere, an
/// optional `+86`, `0086` or `86`, then `1[3-9]` and nine more digits.
const PATTERN: &str = "^[ \\-\\u3000]*(?:(?:\\+[ \\-\\u3000]*8[ \\-\\u3000]*6|0[ \\-\\u3000]*0[ \\-\\u3000]*8[ \\-\\u3000]*6|8[ \\-\\u3000]*6)[ \\-\\u3000]*)?1[ \\-\\u3000]*[3-9](?:[ \\-\\u3000]*[0-9]){9}[ \\-\\u3000]*$";

/// An 11-digit mainland mobile number `1[3-9]xxxxxxxxx`, normalised (no spaces, no +86).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Accepts common ways people type their number: spaces or dashes between groups and a
    /// `+86`/`0086`/`86` country prefix. Anything else is refused.
    pub fn parse(input: &str) -> Option<Phone> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
            .collect();
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .or_else(|| compact.strip_prefix("86").filter(|rest| rest.len() == 11))
            .unwrap_or(&compact);
        let bytes = digits.as_bytes();
        let valid = bytes.len() == 11
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1])
            && bytes.iter().all(u8::is_ascii_digit);
        valid.then(|| Phone(digits.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// [`Phone::parse`] as a schema: the same spellings, separators anywhere.
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(PATTERN))
            .examples([serde_json::json!("13800138000")])
            .build()
    }

    /// `138****8000`: what responses and logs show.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

/// Debug output is masked so a stray `{:?}` never logs a full number.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_pattern_takes_exactly_what_parse_takes() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        let mut inputs: Vec<String> = Vec::new();
        for prefix in [
            "", "+86", "0086", "86", "+86 ", "86-", "+", "+8686", "0", "8",
        ] {
            for number in [
                "13800138000",
                "19912345678",
                "12800138000",
                "1380013800",
                "138001380001",
                "23800138000",
            ] {
                for sep in ["", " ", "-", "\u{3000}", "  "] {
                    let spaced: String = number
                        .chars()
                        .flat_map(|c| [c.to_string(), sep.to_owned()])
                        .collect();
                    inputs.push(format!("{prefix}{number}"));
                    inputs.push(format!("{sep}{prefix}{spaced}"));
                }
            }
        }
        inputs.extend(
            [
                "",
                " ",
                "+86",
                "1380013800a",
                "138\t00138000",
                "８6１3800138000",
            ]
            .map(String::from),
        );
        for input in inputs {
            assert_eq!(
                pattern.is_match(&input),
                Phone::parse(&input).is_some(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn accepts_mainland_mobiles_in_common_spellings() {
        for input in [
            "13800138000",
            "138 0013 8000",
            "+86 138-0013-8000",
            "008613800138000",
            "8613800138000",
            "19912345678",
        ] {
            assert_eq!(
                Phone::parse(input).unwrap().as_str(),
                input_digits(input),
                "{input}"
            );
        }
    }

    fn input_digits(input: &str) -> String {
        let d: String = input.chars().filter(char::is_ascii_digit).collect();
        d[d.len() - 11..].to_owned()
    }

    #[test]
    fn refuses_everything_else() {
        for input in [
            "",
            "1380013800",
            "138001380001",
            "12800138000",
            "23800138000",
            "1380013800a",
            "+1 415 555 0100",
            "010-12345678",
        ] {
            assert!(Phone::parse(input).is_none(), "{input}");
        }
    }

    #[test]
    fn masks_the_middle() {
        let p = Phone::parse("13800138000").unwrap();
        assert_eq!(p.masked(), "138****8000");
        assert!(!format!("{p:?}").contains("13800138000"));
    }
}
