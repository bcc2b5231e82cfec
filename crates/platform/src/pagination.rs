//! Cursor pagination: `?limit=` (default 20, max 100) and `?cursor=`, answered with
//! `{"items": [...], "next_cursor": null | "..."}`. Cursors are opaque to clients; inside they
//! name the last id seen, so pages stay stable while rows are added.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{Error, ErrorCode, Result};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request: items with an id below `before` (newest first), `limit` of them.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub before: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<Page> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(ErrorCode::InvalidField, "limit"));
        }
        let before = match &self.cursor {
            None => None,
            Some(c) => {
                Some(decode(c).ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "cursor"))?)
            }
        };
        Ok(Page { limit, before })
    }
}

fn decode(cursor: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix("v1:")?.parse().ok()
}

fn encode(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
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

    #[test]
    fn cursors_round_trip_and_bad_input_names_the_field() {
        let page = PageQuery {
            limit: Some(2),
            cursor: None,
        }
        .page()
        .unwrap();
        let paged = Paged::from_rows(vec![9, 8, 7], page, |x| *x);
        assert_eq!(paged.items, vec![9, 8]);
        let next = PageQuery {
            limit: Some(2),
            cursor: paged.next_cursor,
        }
        .page()
        .unwrap();
        assert_eq!(next.before, Some(8));
        let last = Paged::from_rows(vec![7], next, |x| *x);
        assert_eq!(last.next_cursor, None);

        let bad = PageQuery {
            limit: Some(101),
            cursor: None,
        }
        .page()
        .unwrap_err();
        assert_eq!(bad.field(), Some("limit"));
        let bad = PageQuery {
            limit: None,
            cursor: Some("garbage".into()),
        }
        .page()
        .unwrap_err();
        assert_eq!(bad.field(), Some("cursor"));
    }
}
