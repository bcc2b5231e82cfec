//! The rules a station's fields follow, shared by the API, the CSV import and the seed data.
//! Each names the field at fault. Where the API document states a rule, its schema sits beside
//! the check, so that a change to one is made in sight of the other.

use membership::orgs;
use platform::{Error, ErrorCode, Result};

use crate::coords::{LatLng, Point};
use crate::vocab::{Amenities, Amenity, CoordSystem, StationStatus};

pub const MAX_NAME: usize = 60;
pub const MAX_ADDRESS: usize = 200;
/// A station's name and address as the API takes them.
pub type StationName = platform::text::Text<MAX_NAME>;
pub type StationAddress = platform::text::Text<MAX_ADDRESS>;
pub const MAX_PHOTOS: usize = 9;
const MAX_PHOTO_URL: usize = 500;
/// [`ContactPhone::parse`] as a pattern: 5 to 20 digits, separators anywhere.
const CONTACT_PHONE_PATTERN: &str = "^[ ()+-]*([0-9][ ()+-]*){5,20}$";
/// [`photos`] as a pattern: the blanks and controls spelled out as in `platform::text`.
const PHOTO_URL_PATTERN: &str =
    "^https?://[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]+$";

/// A name as the CSV import reads it: the rule of [`StationName`], naming the field.
pub fn name(input: &str) -> Result<String> {
    orgs::text(input, "name", MAX_NAME)
}

/// An address as the CSV import reads it: the rule of [`StationAddress`], naming the field.
pub fn address(input: &str) -> Result<String> {
    orgs::text(input, "address", MAX_ADDRESS)
}

/// A star rating, the union's own grading of its stations (1 to 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stars(i16);

impl Stars {
    pub fn parse(n: i64) -> Result<Stars> {
        (1..=5)
            .contains(&n)
            .then_some(Stars(n as i16))
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "stars"))
    }

    pub fn get(self) -> i16 {
        self.0
    }
}

/// A contact number as people write it: a mobile, a landline with area code, a short hotline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPhone(String);

impl ContactPhone {
    /// 5 to 20 digits with spaces, `-`, `+` and brackets between them, 24 characters at most
    /// as sent; stored trimmed.
    pub fn parse(input: &str) -> Result<ContactPhone> {
        let digits = input.chars().filter(char::is_ascii_digit).count();
        let ok = input.len() <= 24
            && (5..=20).contains(&digits)
            && input
                .chars()
                .all(|ch| ch.is_ascii_digit() || matches!(ch, ' ' | '-' | '+' | '(' | ')'));
        ok.then(|| ContactPhone(input.trim().to_owned()))
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "phone"))
    }

    /// The rule of [`ContactPhone::parse`] as a schema (nullable: null clears it).
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                utoipa::openapi::schema::Type::String,
                utoipa::openapi::schema::Type::Null,
            ]))
            .max_length(Some(24))
            .pattern(Some(CONTACT_PHONE_PATTERN))
            .build()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Photo URLs (http or https), at most nine.
pub fn photos<S: AsRef<str>>(urls: &[S]) -> Result<Vec<String>> {
    let invalid = || Error::invalid(ErrorCode::InvalidField, "photos");
    if urls.len() > MAX_PHOTOS {
        return Err(invalid());
    }
    urls.iter()
        .map(|u| {
            let u = u.as_ref();
            let rest = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"));
            let ok = rest.is_some_and(|r| !r.is_empty())
                && u.chars().count() <= MAX_PHOTO_URL
                && !u.chars().any(|ch| ch.is_whitespace() || ch.is_control());
            ok.then(|| u.to_owned()).ok_or_else(invalid)
        })
        .collect()
}

/// The rule of [`photos`] as a schema: at most nine http(s) URLs without blanks or controls.
pub fn photos_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let url = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_PHOTO_URL))
        .pattern(Some(PHOTO_URL_PATTERN));
    ArrayBuilder::new()
        .items(url)
        .max_items(Some(MAX_PHOTOS))
        .build()
}

/// [`photos_schema`] where null means "unchanged".
pub fn photos_or_null_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut schema = photos_schema();
    schema.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    schema
}

/// Amenity codes from the API.
pub fn amenities<S: AsRef<str>>(codes: &[S], field: &'static str) -> Result<Amenities> {
    codes
        .iter()
        .map(|c| Amenity::parse(c.as_ref().trim()))
        .collect::<Option<Amenities>>()
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, field))
}

/// A point as the API sends it, in `coord` (null: GCJ-02), turned into the GCJ-02 that is
/// stored and searched.
pub fn location(point: Point, coord: Option<CoordSystem>) -> Result<LatLng> {
    let at = LatLng::parse(point.lat, point.lng)
        .map_err(|_| Error::invalid(ErrorCode::InvalidField, "location"))?;
    Ok(coord.unwrap_or_default().to_gcj02(at))
}

/// A status a new station may start in: any but `closed`, which only ends a station's life.
pub fn opening_status(text: &str) -> Option<StationStatus> {
    StationStatus::parse(text).filter(|s| *s != StationStatus::Closed)
}

/// The rule of [`opening_status`] as a schema (null: `open`).
pub fn opening_status_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let open = StationStatus::ALL
        .iter()
        .filter(|s| **s != StationStatus::Closed);
    let values = open.map(|s| serde_json::json!(s.as_str()));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values.chain([serde_json::Value::Null])))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rules_name_the_field() {
        assert_eq!(Stars::parse(5).unwrap().get(), 5);
        assert_eq!(Stars::parse(0).unwrap_err().field(), Some("stars"));
        assert_eq!(Stars::parse(6).unwrap_err().field(), Some("stars"));
        for ok in ["025-84561234", "13800000000", "12351", "+86 551 6512 3456"] {
            assert!(ContactPhone::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["1234", "call me", "025-8456-1234-5678-9012-3456"] {
            assert_eq!(
                ContactPhone::parse(bad).unwrap_err().field(),
                Some("phone"),
                "{bad}"
            );
        }
        assert!(photos(&["https://img.example.cn/a.jpg"]).is_ok());
        assert!(photos(&["ftp://x/a.jpg"]).is_err());
        assert!(photos(&["https://"]).is_err());
        assert!(photos(&["https://a.cn/x.jpg"; 10]).is_err());
        assert_eq!(
            amenities(&["toilet", "wifi"], "amenities")
                .unwrap()
                .to_text(),
            "toilet,wifi"
        );
        assert_eq!(
            amenities(&["sauna"], "amenities").unwrap_err().field(),
            Some("amenities")
        );
    }
}
