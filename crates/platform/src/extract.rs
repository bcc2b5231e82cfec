//! Request bodies and query strings whose refusals name the field at fault.
//!
//! actix's `web::Json` and `web::Query` say only that the input did not fit the type. Here a
//! body is read
//! under the route's `JsonConfig` (size limit, content type, syntax: those refusals are
//! unchanged), then turned into the type with the path of what failed: a missing field is
//! `422 missing_field` with `field` naming it, a mistyped one `422 invalid_field` with its path
//! (`items[2].lat`), so the app can point at the input to fix.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::{ready, LocalBoxFuture, Ready};
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorCode};

/// Use in place of `web::Json` in handlers.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let mut value = body.await?.into_inner();
            integral_numbers(&mut value);
            serde_path_to_error::deserialize(value)
                .map(Json)
                .map_err(|e| body_refusal(&e).into())
        })
    }
}

/// Use in place of `web::Query` in handlers.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> Query<T> {
    /// For a handler that reads its query only after checking something else first.
    pub fn from_query(query: &str) -> Result<Self, Error> {
        parse_query(query).map(Query)
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            parse_query(req.query_string())
                .map(Query)
                .map_err(Into::into),
        )
    }
}

fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    let parts = form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(parts))
        .map_err(|e| refusal(e.path(), &e.inner().to_string()))
}

/// For a field of a partial (PATCH) body that may be cleared: absent is `None` (with
/// `#[serde(default)]`), `null` is `Some(None)`, a value `Some(Some(value))`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// JSON has one number type: `176.0` is the integer 176 to JSON Schema (and to JavaScript, which
/// may well write it so), while serde refuses it for an integer field. Numbers without a
/// fraction become integers before the body is read into its type; float fields take them too.
fn integral_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            let integral = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15);
            if let (true, Some(f)) = (n.is_f64(), integral) {
                *n = serde_json::Number::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// The problem for a body that parsed as JSON but does not fit the type.
fn body_refusal(e: &serde_path_to_error::Error<serde_json::Error>) -> Error {
    refusal(e.path(), &e.inner().to_string())
}

/// The problem for input that does not fit the type: what failed, where.
fn refusal(path: &serde_path_to_error::Path, message: &str) -> Error {
    let at_top = path.iter().next().is_none();
    let path = path.to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let err = match missing {
        Some(name) if at_top => Error::invalid_at(ErrorCode::MissingField, name.to_owned()),
        Some(name) => Error::invalid_at(ErrorCode::MissingField, format!("{path}.{name}")),
        // The body itself is of the wrong kind (an array for an object).
        None if at_top => Error::invalid(ErrorCode::InvalidField, "body"),
        None => Error::invalid_at(ErrorCode::InvalidField, path),
    };
    err.with_cause(anyhow::anyhow!("{message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Point {
        lat: f64,
        lng: f64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        phone: String,
        points: Vec<Point>,
    }

    fn refused(json: serde_json::Value) -> (ErrorCode, String) {
        let e = serde_path_to_error::deserialize::<_, Body>(json).unwrap_err();
        let err = body_refusal(&e);
        (err.code(), err.field().unwrap().to_owned())
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Filter {
        kind: Option<String>,
        limit: Option<i64>,
        lat: f64,
    }

    #[test]
    fn query_refusals_name_the_parameter() {
        let f: Filter = parse_query("kind=fault&limit=5&lat=1").unwrap();
        assert_eq!((f.kind.as_deref(), f.limit), (Some("fault"), Some(5)));
        let named = |q: &str| {
            let e = parse_query::<Filter>(q).unwrap_err();
            (e.code(), e.field().unwrap().to_owned())
        };
        assert_eq!(
            named("limit=x&lat=1"),
            (ErrorCode::InvalidField, "limit".into())
        );
        assert_eq!(named("kind=x"), (ErrorCode::MissingField, "lat".into()));
        assert_eq!(named("lat="), (ErrorCode::InvalidField, "lat".into()));
    }

    #[test]
    fn numbers_without_a_fraction_read_as_integers() {
        let mut value = serde_json::json!({ "n": 176.0, "xs": [1.5, 2.0], "f": -0.0 });
        integral_numbers(&mut value);
        assert_eq!(
            value,
            serde_json::json!({ "n": 176, "xs": [1.5, 2], "f": 0 })
        );
        let float: f64 = serde_json::from_value(value["n"].clone()).unwrap();
        assert_eq!(float, 176.0);
    }

    #[test]
    fn refusals_name_the_field_or_its_path() {
        use serde_json::json;
        assert_eq!(
            refused(json!({ "points": [] })),
            (ErrorCode::MissingField, "phone".to_owned())
        );
        assert_eq!(
            refused(json!({ "phone": 13800138000u64, "points": [] })),
            (ErrorCode::InvalidField, "phone".to_owned())
        );
        assert_eq!(
            refused(json!({ "phone": "1", "points": [{ "lat": 1, "lng": 2 }, { "lat": "x" }] })),
            (ErrorCode::InvalidField, "points[1].lat".to_owned())
        );
        assert_eq!(
            refused(json!({ "phone": "1", "points": [{ "lat": 1 }] })),
            (ErrorCode::MissingField, "points[0].lng".to_owned())
        );
        assert_eq!(
            refused(json!("a string")),
            (ErrorCode::InvalidField, "body".to_owned())
        );
    }
}
