//! The encrypted file store: the files people hand in (a health check's report PDF, a case's
//! evidence, a grant's documents). One store for every domain, so that none depends on
//! another for it.
//!
//! Every file is sealed with the data key, bound to a context that names what it belongs to
//! (`health_reports.pdf:{key}`), so a file moved under another record fails to open. Keys are
//! random and made here; the name a phone sent is only ever shown, never used as a path. What a
//! file is comes from its bytes, checked whole (a truncated upload is refused), never from its
//! name or a declared type.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{web, HttpResponse};

use crate::crypto::{random_token, DataProtector};
use crate::error::{Error, ErrorCode};
use crate::Result;

/// Where sealed files live: a directory here; object storage plugs in behind the same trait.
pub trait FileStore: Send + Sync {
    fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()>;
    fn get(&self, key: &str) -> anyhow::Result<Vec<u8>>;
    fn delete(&self, key: &str) -> anyhow::Result<()>;
}

/// Files under a directory, written atomically (temporary file, then rename).
pub struct DiskStore {
    root: PathBuf,
}

impl DiskStore {
    pub fn new(root: PathBuf) -> DiskStore {
        DiskStore { root }
    }

    /// Keys are made by [`new_key`]; anything else (a separator, a leading dot) is refused
    /// before it could name a path outside the root.
    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(
            !key.is_empty()
                && key
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                && !key.starts_with('.'),
            "bad file key {key:?}"
        );
        Ok(self.root.join(key))
    }
}

impl FileStore for DiskStore {
    fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.path(key)?;
        std::fs::create_dir_all(&self.root)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, path)?;
        Ok(())
    }

    fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        Ok(std::fs::read(self.path(key)?)?)
    }

    fn delete(&self, key: &str) -> anyhow::Result<()> {
        Ok(std::fs::remove_file(self.path(key)?)?)
    }
}

/// A new random key: `{prefix}-{random}.{extension}` (prefix of ASCII letters, digits, `-`).
pub fn new_key(prefix: &str, extension: &str) -> String {
    format!("{prefix}-{}.{extension}", random_token(12))
}

/// The store with the data key that seals what goes into it.
#[derive(Clone)]
pub struct SealedFiles {
    store: Arc<dyn FileStore>,
    protector: DataProtector,
}

impl SealedFiles {
    pub fn new(store: Arc<dyn FileStore>, protector: DataProtector) -> SealedFiles {
        SealedFiles { store, protector }
    }

    pub fn protector(&self) -> &DataProtector {
        &self.protector
    }

    /// The store itself, for a domain's migration of files it once stored in clear.
    pub fn store(&self) -> &Arc<dyn FileStore> {
        &self.store
    }

    /// Seals `bytes` to `context` and stores them under `key`, off the async workers.
    pub async fn put(&self, key: String, context: String, bytes: Vec<u8>) -> Result<()> {
        let this = self.clone();
        web::block(move || {
            let sealed = this.protector.seal(&context, &bytes);
            this.store.put(&key, sealed.as_bytes())
        })
        .await?
        .map_err(Error::unavailable)
    }

    /// The bytes under `key`, opened with `context`.
    pub async fn get(&self, key: String, context: String) -> Result<Vec<u8>> {
        let this = self.clone();
        web::block(move || {
            let bytes = this.store.get(&key).map_err(Error::unavailable)?;
            let text = String::from_utf8(bytes).map_err(Error::internal)?;
            this.protector
                .open(&context, &text)
                .map_err(Error::internal)
        })
        .await?
    }

    /// A handed-in file to send back: the bytes under `key` and the sealed name the phone sent,
    /// each opened with its context (`name_context`, `file_context`).
    pub async fn download(
        &self,
        (key, media_type, sealed_name): (String, String, String),
        (name_context, file_context): (String, String),
    ) -> Result<Download> {
        let name = self
            .protector
            .open(&name_context, &sealed_name)
            .map_err(Error::internal)?;
        let bytes = self.get(key, file_context).await?;
        Ok(Download {
            bytes,
            media_type,
            name: String::from_utf8(name).map_err(Error::internal)?,
        })
    }

    /// Removes a file no row refers to any more. Failing leaves a sealed orphan behind, which
    /// is no reason to fail the request that replaced or refused it.
    pub async fn delete_quietly(&self, key: String) {
        let store = self.store.clone();
        let deleted = web::block(move || store.delete(&key).map_err(|e| (key, e))).await;
        match deleted {
            Ok(Ok(())) => {}
            Ok(Err((key, error))) => tracing::warn!(key, error = ?error, "could not delete a file"),
            Err(error) => tracing::warn!(error = ?error, "could not delete a file"),
        }
    }

    /// Removes a file now, on the calling thread (an erasure's after-commit work).
    pub fn delete_now(&self, key: &str) -> anyhow::Result<()> {
        self.store.delete(key)
    }

    /// An erasure's after-commit work: delete the files under `keys` (once the rows naming
    /// them are gone for good, so a rollback leaves no row without its file).
    pub fn deletions(&self, keys: Vec<String>) -> Vec<crate::rights::AfterCommit> {
        keys.into_iter()
            .map(|key| -> crate::rights::AfterCommit {
                let files = self.clone();
                Box::new(move || {
                    if let Err(error) = files.delete_now(&key) {
                        tracing::warn!(key, error = ?error, "could not delete an erased file");
                    }
                })
            })
            .collect()
    }
}

/// What a handed-in file is, as its bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    Pdf,
    Jpeg,
    Png,
    Webp,
}

impl FileType {
    pub const ALL: &'static [FileType] =
        &[FileType::Pdf, FileType::Jpeg, FileType::Png, FileType::Webp];

    pub fn media_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Webp => "image/webp",
        }
    }

    pub fn parse_media_type(text: &str) -> Option<FileType> {
        FileType::ALL
            .iter()
            .copied()
            .find(|t| t.media_type() == text)
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Jpeg => "jpg",
            FileType::Png => "png",
            FileType::Webp => "webp",
        }
    }

    /// The type of a whole file: its signature at the start and its end marker where the
    /// format has one (a PDF's `%%EOF` in its last kilobyte, a JPEG's end-of-image, a PNG's
    /// `IEND` chunk, a WebP's RIFF length). A file cut off in transfer is none of them.
    pub fn sniff(bytes: &[u8]) -> Option<FileType> {
        let tail = &bytes[bytes.len().saturating_sub(1024)..];
        if bytes.starts_with(b"%PDF-") && tail.windows(5).any(|w| w == b"%%EOF") {
            return Some(FileType::Pdf);
        }
        let trimmed_end = bytes
            .iter()
            .rposition(|b| *b != 0)
            .map_or(&bytes[..0], |end| &bytes[..=end]);
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && trimmed_end.ends_with(&[0xFF, 0xD9]) {
            return Some(FileType::Jpeg);
        }
        const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
        const IEND: &[u8] = b"\0\0\0\0IEND\xaeB`\x82";
        if bytes.starts_with(PNG) && bytes.ends_with(IEND) {
            return Some(FileType::Png);
        }
        if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            let declared = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            if usize::try_from(declared).is_ok_and(|n| n.saturating_add(8) == bytes.len()) {
                return Some(FileType::Webp);
            }
        }
        None
    }
}

/// `attachment` named `ascii` for old clients and `name` (any script) as RFC 5987 `filename*`,
/// which browsers prefer. `ascii` must be ASCII; characters Windows refuses in file names are
/// replaced in `name`.
pub fn attachment(ascii: &str, name: &str) -> ContentDisposition {
    let name: String = name
        .chars()
        .map(|c| if r#"\/:*?"<>|"#.contains(c) { '_' } else { c })
        .collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii.to_owned()),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: name.into_bytes(),
            }),
        ],
    }
}

/// The response of a handed-in file: its type, named as [`attachment`] says, kept out of
/// every cache, never sniffed into something a browser would run.
pub fn download(ascii: &str, name: &str, media_type: &str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(media_type.to_owned())
        .insert_header(attachment(ascii, name))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(bytes)
}

/// A file as a person handed it in, checked: its type from its bytes, its name cleaned.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_type: FileType,
    /// What to show: the last part of the name sent, without controls, at most 100 characters.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Largest name kept, in characters.
const NAME_MAX: usize = 100;

/// The name to show for `sent`: its last path part (a phone may send `../../x` or
/// `C:\fakepath\x`), controls dropped, trimmed, at most 100 characters; `file` when nothing is
/// left. Never a path: files are stored under keys [`new_key`] makes.
pub fn display_name(sent: &str) -> String {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(NAME_MAX)
        .collect();
    if clean.trim().is_empty() {
        "file".to_owned()
    } else {
        clean.trim().to_owned()
    }
}

impl Upload {
    /// Decodes and checks a file sent as base64 in JSON: `content_field` names the content in
    /// errors. Refuses what is not base64 (`invalid_field`), over `limit` bytes
    /// (`file_too_large`), or of a type not in `allowed` (`unsupported_file`).
    pub fn check(
        name: &str,
        content_base64: &str,
        content_field: &'static str,
        allowed: &[FileType],
        limit: usize,
    ) -> Result<Upload> {
        use base64::Engine;
        // base64 grows by a third: a text past the limit's length needs no decoding to refuse.
        if content_base64.len() / 4 * 3 > limit + 3 {
            return Err(Error::invalid(ErrorCode::FileTooLarge, content_field));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content_base64.trim())
            .map_err(|_| Error::invalid(ErrorCode::InvalidField, content_field))?;
        if bytes.len() > limit {
            return Err(Error::invalid(ErrorCode::FileTooLarge, content_field));
        }
        let file_type = FileType::sniff(&bytes)
            .filter(|t| allowed.contains(t))
            .ok_or_else(|| Error::invalid(ErrorCode::UnsupportedFile, content_field))?;
        Ok(Upload {
            file_type,
            name: display_name(name),
            bytes,
        })
    }
}

/// The body that hands a file in: its name on the phone and its bytes, base64 (a case's
/// evidence, a grant's documents).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddFile {
    /// The file's name on the phone (shown, never used as a path).
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// The file, base64: a whole PDF, JPEG, PNG or WebP of at most 5 MiB.
    pub content_base64: String,
}

/// Largest file a person hands in, in bytes.
pub const HANDED_IN_LIMIT: usize = 5 * 1024 * 1024;

impl AddFile {
    /// The checked upload: any of [`FileType::ALL`], at most [`HANDED_IN_LIMIT`].
    pub fn validate(self) -> Result<Upload> {
        if self.name.chars().count() > 255 {
            return Err(Error::invalid(ErrorCode::InvalidField, "name"));
        }
        Upload::check(
            &self.name,
            &self.content_base64,
            "content_base64",
            FileType::ALL,
            HANDED_IN_LIMIT,
        )
    }
}

/// A handed-in file to send back: its bytes, type and the name it came with.
pub struct Download {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub name: String,
}

impl Download {
    /// The file as a response, named `{prefix}-{id}.{ext}` for clients that cannot read the
    /// name sent.
    pub fn response(self, prefix: &str, id: i64) -> HttpResponse {
        let extension =
            FileType::parse_media_type(&self.media_type).map_or("bin", FileType::extension);
        let ascii = format!("{prefix}-{id}.{extension}");
        download(&ascii, &self.name, &self.media_type, self.bytes)
    }
}

/// A store in memory, for tests.
#[cfg(any(test, feature = "testing"))]
pub mod memory {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::FileStore;

    #[derive(Default)]
    pub struct MemoryStore(pub Mutex<HashMap<String, Vec<u8>>>);

    impl FileStore for MemoryStore {
        fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
            self.0.lock().unwrap().insert(key.into(), bytes.into());
            Ok(())
        }
        fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
            self.0.lock().unwrap().get(key).cloned().ok_or_else(|| {
                anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::NotFound))
            })
        }
        fn delete(&self, key: &str) -> anyhow::Result<()> {
            self.0.lock().unwrap().remove(key);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_END: &[u8] = b"\0\0\0\0IEND\xaeB`\x82";

    fn png() -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend_from_slice(PNG_END);
        bytes
    }

    #[test]
    fn types_come_from_whole_files_only() {
        assert_eq!(
            FileType::sniff(b"%PDF-1.4\n1 0 obj\n%%EOF\n"),
            Some(FileType::Pdf)
        );
        assert_eq!(FileType::sniff(b"%PDF-1.4\n1 0 obj\n"), None, "cut off");
        assert_eq!(
            FileType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 0xFF, 0xD9]),
            Some(FileType::Jpeg)
        );
        assert_eq!(FileType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2]), None);
        assert_eq!(FileType::sniff(&png()), Some(FileType::Png));
        assert_eq!(FileType::sniff(&png()[..20]), None);
        let mut webp = b"RIFF\x08\0\0\0WEBPVP8 ".to_vec();
        assert_eq!(FileType::sniff(&webp), Some(FileType::Webp));
        webp.push(0);
        assert_eq!(FileType::sniff(&webp), None, "length disagrees");
        assert_eq!(FileType::sniff(b"MZ\x90\0 an exe"), None);
        assert_eq!(FileType::sniff(b""), None);
    }

    #[test]
    fn names_are_shown_never_followed() {
        assert_eq!(display_name("../../x"), "x");
        assert_eq!(display_name("C:\\fakepath\\工资条.jpg"), "工资条.jpg");
        assert_eq!(display_name("..."), "file");
        assert_eq!(display_name(".bashrc"), "bashrc");
        assert_eq!(display_name("a\u{0}b\n.png"), "ab.png");
        assert_eq!(display_name(""), "file");
        assert_eq!(display_name(&"长".repeat(300)).chars().count(), 100);
    }

    #[test]
    fn uploads_are_refused_by_field_and_reason() {
        use base64::Engine;
        let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let ok = Upload::check("a/b.png", &encode(&png()), "content", FileType::ALL, 100).unwrap();
        assert_eq!((ok.file_type, ok.name.as_str()), (FileType::Png, "b.png"));
        let err = |name: &str, content: &str, allowed: &[FileType], limit| {
            let e = Upload::check(name, content, "content", allowed, limit).unwrap_err();
            assert_eq!(e.field(), Some("content"));
            e.code()
        };
        assert_eq!(
            err("x", "not base64!", FileType::ALL, 100),
            ErrorCode::InvalidField
        );
        assert_eq!(
            err("x", &encode(&png()), FileType::ALL, 10),
            ErrorCode::FileTooLarge
        );
        let big = encode(&[0u8; 3000]);
        assert_eq!(err("x", &big, FileType::ALL, 100), ErrorCode::FileTooLarge);
        assert_eq!(
            err("x", &encode(&png()), &[FileType::Pdf], 100),
            ErrorCode::UnsupportedFile
        );
        assert_eq!(
            err("x.png", &encode(b"<html>"), FileType::ALL, 100),
            ErrorCode::UnsupportedFile
        );
    }

    #[test]
    fn keys_outside_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::new(dir.path().to_owned());
        for bad in ["../x", "a/b", ".hidden", ""] {
            assert!(store.put(bad, b"x").is_err(), "{bad}");
        }
        let key = new_key("evidence-7", "png");
        store.put(&key, b"sealed").unwrap();
        assert_eq!(store.get(&key).unwrap(), b"sealed");
    }
}
