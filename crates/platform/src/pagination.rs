//! Cursor pagination: `?limit=` (default 20, max 100) and `?cursor=`, answered with
//! `{"items": [...], "next_cursor": null | "..."}`. A cursor names the last id seen, so pages
//! stay stable while rows are added; clients pass back what they were given. Both parameters
//! are validated newtypes whose schemas state exactly what the server takes.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Items per page, 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(i64);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(deserializer)?;
        if (1..=MAX_LIMIT).contains(&n) {
            Ok(Limit(n))
        } else {
            Err(serde::de::Error::custom(format_args!(
                "expected 1 to {MAX_LIMIT}"
            )))
        }
    }
}

impl PartialSchema for Limit {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_LIMIT))
            .into()
    }
}

impl ToSchema for Limit {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Limit")
    }
}

/// Where a page starts: the `next_cursor` of the one before. At most 18 digits, so that every
/// value the schema allows is one the server reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(i64);

const CURSOR_PATTERN: &str = "^[0-9]{1,18}$";

impl Cursor {
    fn parse(text: &str) -> Option<Cursor> {
        let digits = (1..=18).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| text.parse().ok().map(Cursor))?
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Cursor::parse(&text).ok_or_else(|| serde::de::Error::custom("not a cursor of this list"))
    }
}

impl PartialSchema for Cursor {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(CURSOR_PATTERN))
            .into()
    }
}

impl ToSchema for Cursor {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Cursor")
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 20).
    #[param(inline)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    #[param(inline)]
    pub cursor: Option<Cursor>,
}

/// A page request: items with an id below `before` (newest first), `limit` of them.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub before: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Page {
        Page {
            limit: self.limit.map_or(DEFAULT_LIMIT, |l| l.0),
            before: self.cursor.map(|c| c.0),
        }
    }
}

fn encode(id: i64) -> String {
    id.to_string()
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// Builds a page from up to `limit + 1` rows fetched newest first: the extra row only says
    /// that another page exists.
    pub fn from_rows(mut rows: Vec<T>, page: Page, id_of: impl Fn(&T) -> i64) -> Paged<T> {
        let more = rows.len() as i64 > page.limit;
        rows.truncate(page.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode(id_of(r)))
        } else {
            None
        };
        Paged {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> Result<PageQuery, String> {
        serde_urlencoded::from_str(q).map_err(|e| e.to_string())
    }

    #[test]
    fn cursors_round_trip_and_bad_input_is_refused() {
        let page = query("limit=2").unwrap().page();
        let paged = Paged::from_rows(vec![9, 8, 7], page, |x| *x);
        assert_eq!(paged.items, vec![9, 8]);
        let next = format!("limit=2&cursor={}", paged.next_cursor.unwrap());
        let next = query(&next).unwrap().page();
        assert_eq!(next.before, Some(8));
        let last = Paged::from_rows(vec![7], next, |x| *x);
        assert_eq!(last.next_cursor, None);
        assert_eq!(query("").unwrap().page().limit, DEFAULT_LIMIT);

        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "cursor=",
            "cursor=garbage",
            "cursor=-1",
        ] {
            assert!(query(bad).is_err(), "{bad}");
        }
        assert!(query(&format!("cursor={}", "9".repeat(19))).is_err());
        assert_eq!(
            query(&format!("cursor={}", "9".repeat(18)))
                .unwrap()
                .page()
                .before,
            Some(999_999_999_999_999_999)
        );
    }
}
