//! Posted console forms. [`Submitted`] is the only way a console handler reads a form, and it
//! checks the session's CSRF token first, so no form can forget it: a page on another site
//! cannot make a signed-in staff member's browser approve, revoke or redeem anything.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use platform::{Error, ErrorCode};
use serde::de::DeserializeOwned;

use crate::errors::PageError;
use crate::session::Staff;

/// Largest console form (a CSV pasted into a text area fits).
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// The name of the hidden field every form carries.
pub const CSRF_FIELD: &str = "_csrf";

/// A form with nothing but its token (a button: approve, revoke, sign out).
#[derive(Debug, serde::Deserialize)]
pub struct Empty {}

/// A form posted by a signed-in staff member, its token checked.
pub struct Submitted<T> {
    pub staff: Staff,
    pub form: T,
    /// Every field as sent, for repeated names (the check boxes of a bulk action).
    pairs: Vec<(String, String)>,
}

impl<T> Submitted<T> {
    /// Every value sent under `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Submitted<T> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let staff = Staff::from_request(req, payload);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let staff = staff.await?;
            let body = body
                .await
                .map_err(|_| Error::new(ErrorCode::PayloadTooLarge))?;
            let pairs: Vec<(String, String)> = form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let token = pairs
                .iter()
                .find(|(k, _)| k == CSRF_FIELD)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            staff.check_csrf(token)?;
            let form = parse(&body)?;
            Ok(Submitted { staff, form, pairs })
        })
    }
}

/// A form's fields as `T`; a field that does not parse is named in the refusal.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(body));
    serde_path_to_error::deserialize(de)
        .map_err(|e| Error::invalid_at(ErrorCode::InvalidField, e.path().to_string()))
}

/// A file posted with a form (`multipart/form-data`) by a signed-in staff member, the token
/// checked like [`Submitted`]'s. One file, named `file`; the other fields as text.
pub struct Upload {
    pub staff: Staff,
    pub fields: Vec<(String, String)>,
    pub file: Vec<u8>,
}

/// Largest file a console form takes (the station import's limit).
const UPLOAD_LIMIT: usize = 8 * 1024 * 1024;
/// Largest text field of an upload form.
const UPLOAD_FIELD_LIMIT: usize = 4 * 1024;

impl Upload {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromRequest for Upload {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let staff = Staff::from_request(req, payload);
        let mut multipart = actix_multipart::Multipart::new(req.headers(), payload.take());
        Box::pin(async move {
            let staff = staff.await?;
            let too_large = || Error::new(ErrorCode::PayloadTooLarge);
            let malformed = |_| Error::new(ErrorCode::MalformedRequest);
            let (mut fields, mut file) = (Vec::new(), Vec::new());
            while let Some(field) = multipart.next().await {
                let mut field = field.map_err(malformed)?;
                let name = field.name().unwrap_or_default().to_owned();
                let limit = if name == "file" {
                    UPLOAD_LIMIT
                } else {
                    UPLOAD_FIELD_LIMIT
                };
                let bytes = field
                    .bytes(limit)
                    .await
                    .map_err(|_| too_large())?
                    .map_err(malformed)?;
                if name == "file" {
                    file = bytes.to_vec();
                } else {
                    fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
            let upload = Upload {
                staff,
                fields,
                file,
            };
            upload
                .staff
                .check_csrf(upload.field(CSRF_FIELD).unwrap_or_default())?;
            Ok(upload)
        })
    }
}

/// An optional form field: empty means absent; otherwise it must parse, or `field` is named.
pub fn optional<T: std::str::FromStr>(
    value: &Option<String>,
    field: &'static str,
) -> Result<Option<T>, Error> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid(ErrorCode::InvalidField, field)),
    }
}

/// A `datetime-local` field, read as Asia/Shanghai time; empty means absent.
pub fn shanghai_time(
    value: &Option<String>,
    field: &'static str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, Error> {
    use chrono::TimeZone;
    let Some(text) = value.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| Error::invalid(ErrorCode::InvalidField, field))?;
    let at = platform::clock::shanghai()
        .from_local_datetime(&local)
        .single()
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, field))?;
    Ok(Some(at.with_timezone(&chrono::Utc)))
}

/// A required [`shanghai_time`] field.
pub fn required_time(
    value: &Option<String>,
    field: &'static str,
) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    shanghai_time(value, field)?.ok_or_else(|| Error::invalid(ErrorCode::MissingField, field))
}

/// The value a `datetime-local` field shows for `at` (Asia/Shanghai).
pub fn time_value(at: chrono::DateTime<chrono::Utc>) -> String {
    platform::clock::local(at)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The body limit of console forms, for the app's `PayloadConfig`.
pub fn limit() -> web::PayloadConfig {
    web::PayloadConfig::new(FORM_LIMIT)
}
