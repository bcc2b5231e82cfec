//! Response compression for riders on metered 4G: brotli or gzip, as the client asks.
//!
//! actix's own `Compress` would also compress PDFs and tiny answers (a 60-byte problem grows by
//! the gzip header), and answers 406 to an `Accept-Encoding` it cannot meet. This one compresses
//! only text-like bodies of at least [`MIN_SIZE`] bytes (JSON, SVG, HTML, CSV), leaves images,
//! PDFs and archives alone, and falls back to no encoding instead of refusing.

use actix_http::encoding::Encoder;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
pub use actix_web::http::header::ContentEncoding;
use actix_web::http::header::{self, AcceptEncoding, Encoding, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;

/// Below this the encoding's own overhead outweighs what it saves.
pub const MIN_SIZE: u64 = 1024;

/// Answers up to this size (every JSON answer of the API) are compressed in one go on the
/// worker; larger or streamed bodies go through actix's encoder.
const IN_ONE_GO_MAX: usize = 256 * 1024;

/// Brotli's quality, as actix uses: fast, and still smaller than gzip on JSON.
const BROTLI_QUALITY: u32 = 3;

/// `body` encoded with `encoding` (brotli or gzip; `None` for any other). Brotli's window is
/// fitted to the body: actix's encoder always takes a 4 MiB window, whose buffers, allocated
/// for every answer above the allocator's mmap threshold (`platform::memory`), were mapped and
/// zeroed each time, and it hands every chunk over 1 KB to the blocking pool. Together that
/// made compressing a 16 KB nearby answer cost some 500 us, 35 times a whole `/healthz`.
pub fn encode(encoding: ContentEncoding, body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    match encoding {
        ContentEncoding::Brotli => {
            let bits = usize::BITS - body.len().saturating_sub(1).leading_zeros();
            let window = bits.clamp(10, 22);
            let mut out = Vec::with_capacity(body.len() / 4 + 64);
            {
                let mut writer =
                    brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, window);
                writer.write_all(body).ok()?;
            }
            Some(out)
        }
        ContentEncoding::Gzip => {
            let mut writer = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 3 + 64),
                flate2::Compression::fast(),
            );
            writer.write_all(body).ok()?;
            writer.finish().ok()
        }
        _ => None,
    }
}

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
        if !(text && encoding != ContentEncoding::Identity && big_enough(body.size())) {
            return body.boxed();
        }
        match body.try_into_bytes() {
            Ok(bytes) if bytes.len() <= IN_ONE_GO_MAX => match encode(encoding, &bytes) {
                Some(encoded) => {
                    head.headers_mut()
                        .insert(header::CONTENT_ENCODING, encoding.to_header_value());
                    encoded.boxed()
                }
                None => bytes.boxed(),
            },
            Ok(bytes) => Encoder::response(encoding, head, bytes).boxed(),
            Err(body) => Encoder::response(encoding, head, body).boxed(),
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

    #[test]
    fn what_is_encoded_decodes_to_the_body() {
        use std::io::Read;
        let body: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{{\"id\":{i},\"name\":\"驿站{}\"}},", i % 97).into_bytes())
            .collect();
        let br = encode(ContentEncoding::Brotli, &body).unwrap();
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, body);
        assert!(br.len() < body.len() / 4, "{} of {}", br.len(), body.len());
        let gz = encode(ContentEncoding::Gzip, &body).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, body);
        assert!(encode(ContentEncoding::Identity, &body).is_none());
        // A body of one byte still gets a valid window.
        assert!(encode(ContentEncoding::Brotli, b"x").is_some());
    }
}
