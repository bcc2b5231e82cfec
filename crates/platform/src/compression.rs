//! Response compression for riders on metered 4G: brotli or gzip, as the client asks.
//!
//! actix's own `Compress` would also compress PDFs and tiny answers (a 60-byte problem grows by
//! the gzip header), and answers 406 to an `Accept-Encoding` it cannot meet. This one compresses
//! only text-like bodies of at least [`MIN_SIZE`] bytes (JSON, SVG, HTML, CSV), leaves images,
//! PDFs and archives alone, and falls back to no encoding instead of refusing.

use actix_http::encoding::Encoder;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, AcceptEncoding, ContentEncoding, Encoding, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;

/// Below this the encoding's own overhead outweighs what it saves.
pub const MIN_SIZE: u64 = 1024;

/// Brotli first: smaller than gzip on JSON at the same speed; every phone browser and HTTP
/// stack sends both.
fn negotiate(req: &ServiceRequest) -> ContentEncoding {
    let supported = [Encoding::brotli(), Encoding::gzip()];
    let chosen = req
        .get_header::<AcceptEncoding>()
        .and_then(|accept| accept.negotiate(supported.iter()));
    match chosen {
        Some(e) if e == Encoding::brotli() => ContentEncoding::Brotli,
        Some(e) if e == Encoding::gzip() => ContentEncoding::Gzip,
        _ => ContentEncoding::Identity,
    }
}

/// Whether a body of this type is worth compressing: text is, already compressed formats
/// (PNG, PDF, zip) are not.
fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    mime.starts_with("text/")
        || mime == "image/svg+xml"
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime == "application/xml"
}

fn big_enough(size: BodySize) -> bool {
    match size {
        BodySize::Sized(n) => n >= MIN_SIZE,
        BodySize::Stream => true,
        BodySize::None => false,
    }
}

/// The middleware (`from_fn(compression::compress)`).
pub async fn compress(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let encoding = negotiate(&req);
    let res = next.call(req).await?;
    Ok(res.map_body(move |head, body| {
        let text = compressible(head.headers().get(header::CONTENT_TYPE));
        if text {
            // Caches between us and the phone must keep one copy per encoding.
            head.headers_mut()
                .append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if text && encoding != ContentEncoding::Identity && big_enough(body.size()) {
            Encoder::response(encoding, head, body).boxed()
        } else {
            body.boxed()
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_compressed_and_binary_formats_are_not() {
        let ct = |v: &'static str| Some(HeaderValue::from_static(v));
        assert!(compressible(ct("application/json").as_ref()));
        assert!(compressible(ct("application/problem+json").as_ref()));
        assert!(compressible(ct("image/svg+xml").as_ref()));
        assert!(compressible(ct("text/csv; charset=utf-8").as_ref()));
        assert!(compressible(ct("text/html; charset=utf-8").as_ref()));
        assert!(!compressible(ct("image/png").as_ref()));
        assert!(!compressible(ct("application/pdf").as_ref()));
        assert!(!compressible(ct("application/zip").as_ref()));
        assert!(!compressible(None));
        assert!(!big_enough(BodySize::Sized(1023)));
        assert!(big_enough(BodySize::Sized(1024)));
    }
}
