//! The public HTML pages a phone's camera opens from a QR code (a join poster, a station door):
//! one page shell, and escaping for every text put into it.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// Escapes text for an HTML element or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A complete zh-CN page around `body`, which must already be escaped HTML.
pub fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let title = escape(title);
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head><body>{body}</body></html>"
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape(r#"<a href="x">Tom & Jerry</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&lt;/a&gt;"
        );
    }

    #[actix_web::test]
    async fn page_has_the_status_and_an_escaped_title() {
        let response = page(StatusCode::NOT_FOUND, "<驿站>", "<p>x</p>");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let body = std::str::from_utf8(&body).unwrap();
        assert!(body.contains("<title>&lt;驿站&gt;</title>"), "{body}");
        assert!(body.ends_with("<body><p>x</p></body></html>"), "{body}");
    }
}
