//! Money is integer fen (分, a hundredth of a yuan) everywhere, never floating point: amounts
//! claimed and recovered, grants, budgets.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// The largest amount taken: one hundred million yuan, far above any one worker's claim and
/// far below what an `i64` sum of many could overflow.
pub const MAX_FEN: i64 = 10_000_000_000;

/// An amount of money in fen, from 0 to [`MAX_FEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    pub fn new(fen: i64) -> Option<Fen> {
        (0..=MAX_FEN).contains(&fen).then_some(Fen(fen))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// An amount as staff type it in yuan: `2500`, `2,500.5`, `¥2500.50` (at most two decimals).
    pub fn parse_yuan(text: &str) -> Option<Fen> {
        let text: String = text
            .trim()
            .trim_start_matches(['¥', '￥'])
            .chars()
            .filter(|c| *c != ',')
            .collect();
        let (whole, cents) = text.split_once('.').unwrap_or((&text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole)
            || cents.len() > 2
            || (!cents.is_empty() && !digits(cents))
            || whole.len() > 9
        {
            return None;
        }
        let cents = format!("{cents:0<2}");
        let fen = whole.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?;
        Fen::new(fen)
    }

    /// `¥1,234.56`, as staff and workers read amounts.
    pub fn yuan_label(self) -> String {
        let yuan = self.0 / 100;
        let digits = yuan.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("¥{grouped}.{:02}", self.0 % 100)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.yuan_label())
    }
}

impl<'de> Deserialize<'de> for Fen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fen = i64::deserialize(deserializer)?;
        Fen::new(fen).ok_or_else(|| {
            serde::de::Error::custom(format_args!("expected fen from 0 to {MAX_FEN}"))
        })
    }
}

impl utoipa::PartialSchema for Fen {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(0))
            .maximum(Some(MAX_FEN))
            .description(Some("An amount in fen (1 yuan = 100 fen)"))
            .into()
    }
}

impl utoipa::ToSchema for Fen {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Fen")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_fen_within_bounds() {
        assert_eq!(Fen::new(0).map(Fen::get), Some(0));
        assert!(Fen::new(-1).is_none());
        assert!(Fen::new(MAX_FEN + 1).is_none());
        assert!(serde_json::from_str::<Fen>("12.5").is_err());
        assert!(serde_json::from_str::<Fen>("-3").is_err());
        assert_eq!(
            serde_json::from_str::<Fen>("2300000").unwrap().get(),
            2_300_000
        );
    }

    #[test]
    fn yuan_as_typed_become_fen() {
        let fen = |t: &str| Fen::parse_yuan(t).map(Fen::get);
        assert_eq!(fen("2500"), Some(250_000));
        assert_eq!(fen("2,500.5"), Some(250_050));
        assert_eq!(fen("¥0.05"), Some(5));
        for bad in ["", "-1", "1.234", "1e3", "abc", ".5", "9999999999"] {
            assert_eq!(fen(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn labels_read_as_yuan() {
        assert_eq!(Fen::new(2_300_000).unwrap().yuan_label(), "¥23,000.00");
        assert_eq!(Fen::new(5).unwrap().yuan_label(), "¥0.05");
        assert_eq!(Fen::new(123_456_789).unwrap().yuan_label(), "¥1,234,567.89");
    }
}
