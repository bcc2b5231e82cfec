//! Cross-origin access for a separately hosted web app (`CORS_ALLOWED_ORIGINS`). The phone app
//! needs none: only browsers enforce CORS. Off by default; when on, only the listed origins
//! are answered, preflights included, and the headers the app reads are exposed.

use actix_cors::Cors;
use actix_web::http::{header, Method};

/// Parses the comma-separated setting into origins (`https://app.example.cn`), refusing
/// anything that is not a bare `scheme://host[:port]`.
pub fn origins(setting: &str) -> anyhow::Result<Vec<String>> {
    setting
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let bare = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .is_some_and(|host| !host.is_empty() && !host.contains('/'));
            if bare {
                Ok(origin.to_owned())
            } else {
                anyhow::bail!(
                    "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin like https://app.example.cn"
                )
            }
        })
        .collect()
}

/// The policy for the listed origins.
pub fn policy(origins: &[String]) -> Cors {
    let cors = origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods([
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ])
    .allowed_headers([
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::ACCEPT,
        header::ACCEPT_LANGUAGE,
        header::HeaderName::from_static("idempotency-key"),
    ])
    .expose_headers([
        header::RETRY_AFTER,
        header::CONTENT_DISPOSITION,
        header::HeaderName::from_static("x-request-id"),
        header::HeaderName::from_static("idempotency-replayed"),
    ])
    .max_age(3600)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_bare_origins_are_accepted() {
        assert_eq!(
            super::origins(" https://app.example.cn, http://localhost:5173 ,").unwrap(),
            ["https://app.example.cn", "http://localhost:5173"]
        );
        assert!(super::origins("").unwrap().is_empty());
        assert!(super::origins("app.example.cn").is_err());
        assert!(super::origins("https://app.example.cn/path").is_err());
        assert!(super::origins("*").is_err());
    }
}
