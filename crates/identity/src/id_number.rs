//! Resident identity card numbers (GB 11643-1999): 6-digit region, 8-digit birth date,
//! 3-digit sequence, and an ISO 7064 MOD 11-2 check character.

use std::fmt;

use chrono::NaiveDate;

/// A valid 18-character resident ID number, `x` upper-cased.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character (ISO 7064 MOD 11-2) of the first 17 digits.
pub fn check_character(first17: &str) -> char {
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(CHECK[(sum % 11) as usize])
}

impl IdNumber {
    /// Checks length, digits, a real birth date not in the future (`today`), and the check
    /// character.
    pub fn parse(input: &str, today: NaiveDate) -> Option<IdNumber> {
        let value = input.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Region codes start with 1-8 (provinces, plus 8x for Hong Kong, Macao and Taiwan).
        if !(b'1'..=b'8').contains(&bytes[0]) {
            return None;
        }
        let birth = NaiveDate::parse_from_str(&value[6..14], "%Y%m%d").ok()?;
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
        if birth < earliest || birth > today {
            return None;
        }
        (check_character(&value[..17]) == char::from(bytes[17])).then_some(IdNumber(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 3 and last 4 characters; what every response shows.
    pub fn masked(&self) -> String {
        format!("{}{}{}", &self.0[..3], "*".repeat(11), &self.0[14..])
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn accepts_the_standard_example_and_uppercases_x() {
        let id = IdNumber::parse("11010519491231002x", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "110***********002X");
        assert!(IdNumber::parse("320102199003071239", today()).is_some());
        assert!(IdNumber::parse("340104200002294563", today()).is_some()); // 29 Feb 2000
    }

    #[test]
    fn refuses_wrong_check_length_date_and_region() {
        for bad in [
            "110105194912310021", // wrong check character
            "11010519491231002",  // 17 characters
            "11010519491231002XX",
            "110105194902300020", // 30 February
            "110105203001010010", // born in the future
            "010105194912310029", // region cannot start with 0
            "11010519491231002A",
            "",
        ] {
            assert!(IdNumber::parse(bad, today()).is_none(), "{bad}");
        }
    }
}
