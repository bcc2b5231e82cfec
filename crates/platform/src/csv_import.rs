//! What every CSV import staff run shares (stations, grants' order counts): the request body
//! read up to a limit, the file's text (see [`crate::csv_text`]), faults collected per row and
//! field with why in Chinese and in English, and the 422 that lists them. An import is all or
//! nothing: any fault anywhere and nothing is written.

use actix_web::{web, HttpResponse};
pub use csv::StringRecord;
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::csv_text::{self, Charset};
use crate::error::{Lang, Problem, PROBLEM_JSON};
use crate::{Error, ErrorCode, Result};

/// Faulty rows listed in an answer (the count covers all).
const MAX_LISTED: usize = 1_000;

/// One fault in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// Data row number, 1 for the first row after the header; 0 for the header itself.
    pub row: usize,
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// The column at fault.
    pub field: String,
    /// The offending value, shortened.
    pub value: String,
    /// Why, in Chinese (zh-CN), for the staff who fix the file.
    pub message_zh: &'static str,
    /// Why, in English.
    pub message_en: &'static str,
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed in the declared encoding, or in both UTF-8 and GB18030.
    Encoding,
    /// No header, or no data row.
    Empty,
    /// More rows than the import takes.
    TooManyRows,
    /// Faulty rows (at most 1,000 listed) and how many there were.
    Rows { errors: Vec<RowError>, count: usize },
}

fn shorten(value: &str) -> String {
    value.chars().take(100).collect()
}

/// Collects row faults up to the listing limit while counting all.
#[derive(Default)]
pub struct Faults {
    errors: Vec<RowError>,
    count: usize,
}

impl Faults {
    /// A fault of `field` in data row `row` (line `line`), `why` in zh-CN and in en.
    pub fn push(
        &mut self,
        (row, line): (usize, u64),
        field: &str,
        value: &str,
        why: (&'static str, &'static str),
    ) {
        self.count += 1;
        if self.errors.len() < MAX_LISTED {
            self.errors.push(RowError {
                row,
                line,
                field: field.to_owned(),
                value: shorten(value),
                message_zh: why.0,
                message_en: why.1,
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn into_result<T>(self, ok: T) -> std::result::Result<T, Refusal> {
        if self.count == 0 {
            Ok(ok)
        } else {
            Err(Refusal::Rows {
                errors: self.errors,
                count: self.count,
            })
        }
    }
}

/// The 422 of a refused file: a problem document plus, with `csv_invalid`, the faulty rows.
/// Other 422s of an import (`invalid_field`: an unreadable file, a bad parameter) are plain
/// problem documents, so the row fields are not required.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// Faults in the whole file (at most 1000 are listed); with `csv_invalid`.
    #[schema(required = false)]
    pub error_count: usize,
    /// The faulty rows; with `csv_invalid`.
    #[schema(required = false)]
    pub errors: Vec<RowError>,
}

/// The request body, refused past `limit` bytes without reading on.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Error::new(ErrorCode::MalformedRequest).with_cause(anyhow::anyhow!("{e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(Error::new(ErrorCode::PayloadTooLarge));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether a request's `Content-Type` is `text/csv` (with any parameters).
pub fn is_csv(req: &actix_web::HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/csv"))
}

/// The answer to a refused file, in `lang`; `declared`: the encoding the request named.
pub fn refused(refusal: Refusal, lang: Lang, declared: Option<Charset>) -> Result<HttpResponse> {
    match refusal {
        Refusal::Encoding => {
            // The generic "invalid value" would leave staff guessing what to do with the file.
            let mut problem = Error::invalid(ErrorCode::InvalidField, "encoding").problem(lang);
            problem.detail = csv_text::malformed(declared, lang);
            Ok(HttpResponse::UnprocessableEntity()
                .content_type(PROBLEM_JSON)
                .json(problem))
        }
        Refusal::Empty => Err(Error::invalid(ErrorCode::InvalidField, "body")),
        Refusal::TooManyRows => Err(Error::new(ErrorCode::PayloadTooLarge)),
        Refusal::Rows { errors, count } => {
            let problem = Error::new(ErrorCode::CsvInvalid).problem(lang);
            Ok(HttpResponse::UnprocessableEntity()
                .content_type(PROBLEM_JSON)
                .json(ImportProblem {
                    problem,
                    error_count: count,
                    errors,
                }))
        }
    }
}

/// A CSV reader over `text`: a header row, cells trimmed, rows of any length (checked by the
/// caller, so that a short row is a listed fault, not a refusal of the file).
pub fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}
