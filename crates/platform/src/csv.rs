//! Staff downloads as CSV files that open correctly when double-clicked in Excel (Windows,
//! zh-CN) and LibreOffice: RFC 4180 with CRLF line ends, UTF-8 with a byte-order mark, no cell a
//! spreadsheet would run as a formula or turn into a number.
//!
//! A file is a list of [`Column`]s over a row type, each with a Chinese header (what staff
//! read, the default) and an English one (the JSON field name, for scripts), rendered by
//! [`render`] and sent by [`download`] as a named, uncached attachment.

use actix_web::http::header::{self, ContentDisposition};
use actix_web::HttpResponse;
use chrono::{DateTime, Utc};

use crate::clock::shanghai;
use crate::error::Lang;

/// One column: its header in each language and how a row fills it.
pub struct Column<R> {
    pub zh: &'static str,
    pub en: &'static str,
    pub value: fn(&R, Lang) -> String,
}

/// The file: a byte-order mark, the header line, one line per row, each ended by CRLF.
pub fn render<R>(columns: &[Column<R>], rows: &[R], lang: Lang) -> String {
    // Excel decodes a CSV without a BOM in the ANSI code page (GBK on zh-CN Windows), which
    // garbles every Chinese character; LibreOffice and CSV libraries skip the BOM.
    let mut out = String::from("\u{feff}");
    push_line(
        &mut out,
        columns.iter().map(|c| match lang {
            Lang::ZhCn => c.zh.to_owned(),
            Lang::En => c.en.to_owned(),
        }),
    );
    for row in rows {
        push_line(&mut out, columns.iter().map(|c| (c.value)(row, lang)));
    }
    out
}

fn push_line(out: &mut String, values: impl Iterator<Item = String>) {
    let cells: Vec<String> = values.map(|v| cell(&v)).collect();
    out.push_str(&cells.join(","));
    // RFC 4180's line end, and what Excel itself writes.
    out.push_str("\r\n");
}

/// One cell: defused, kept as text where a spreadsheet would mangle it, quoted when needed.
pub fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        // CSV injection (OWASP): a cell starting with one of these runs as a formula, e.g.
        // `=HYPERLINK(...)` typed as a platform. A leading `'` makes it visible, inert text in
        // Excel and LibreOffice; the text after it is unchanged.
        format!("'{value}")
    } else if mangled_as_number(value) {
        // Excel shows a 15-digit member number as 3.20102E+14, drops leading zeros, and keeps
        // only 15 significant digits when the file is saved again, destroying the number. A
        // leading tab makes both spreadsheets keep the cell as text and stays invisible there,
        // unlike `="..."` (a formula, which LibreOffice shows as such and the defusing above
        // exists to prevent) or a `'` (shown literally when a CSV is opened). Scripts reading
        // the file trim the tab.
        format!("\t{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// All digits, and more than Excel's General format shows (11) or with a leading zero.
fn mangled_as_number(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value.len() > 11 || (value.len() > 1 && value.starts_with('0')))
}

/// Beijing time either way. In Chinese as `2026-12-01 09:30:00`, which both spreadsheets read
/// as a date-time staff can sort and filter (RFC 3339's `T`, offset and microseconds leave an
/// opaque string); in English as RFC 3339, like the JSON.
pub fn time(at: DateTime<Utc>, lang: Lang) -> String {
    let local = at.with_timezone(&shanghai());
    match lang {
        Lang::ZhCn => local.format("%Y-%m-%d %H:%M:%S").to_string(),
        Lang::En => local.to_rfc3339(),
    }
}

/// `attachment` named `{ascii}.csv` for old clients and `{name}.csv` (any script) as RFC 5987
/// `filename*`, which browsers prefer. `ascii` must be ASCII; characters Windows refuses in file
/// names are replaced in `name`.
pub fn disposition(ascii: &str, name: &str) -> ContentDisposition {
    crate::files::attachment(&format!("{ascii}.csv"), &format!("{name}.csv"))
}

/// The download of a rendered file, named as [`disposition`] says.
pub fn download(ascii: &str, name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(disposition(ascii, name))
        // Personal data: no copy in a shared or browser cache.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_defused_and_kept_as_text() {
        assert_eq!(cell("张三"), "张三");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(
            cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        for formula in ["+1", "-1+2", "@SUM(A1)", "\t=1"] {
            assert_eq!(cell(formula), format!("'{formula}"));
        }
        assert_eq!(cell("320102000000019"), "\t320102000000019");
        assert_eq!(cell("0571"), "\t0571");
        // Short numbers and masked values are safe as they are.
        for as_is in ["12345678901", "0", "139****0332", "", "2026-12-01 09:30:00"] {
            assert_eq!(cell(as_is), as_is);
        }
    }

    #[test]
    fn a_file_has_a_bom_a_header_in_its_language_and_crlf_lines() {
        let columns = [
            Column::<(&str, i64)> {
                zh: "姓名",
                en: "name",
                value: |r, _| r.0.to_owned(),
            },
            Column {
                zh: "编号",
                en: "id",
                value: |r, _| r.1.to_string(),
            },
        ];
        let rows = [("张*", 7), ("=1", 8)];
        assert_eq!(
            render(&columns, &rows, Lang::ZhCn),
            "\u{feff}姓名,编号\r\n张*,7\r\n'=1,8\r\n"
        );
        assert!(render(&columns, &[], Lang::En).starts_with("\u{feff}name,id\r\n"));
    }

    #[test]
    fn the_file_name_has_an_ascii_fallback_and_no_windows_reserved_characters() {
        let value = disposition("roster-7-2026-12-01", "名册/玄武-2026-12-01").to_string();
        let (ascii, encoded) = value.split_once("; filename*=UTF-8''").unwrap();
        assert_eq!(ascii, "attachment; filename=\"roster-7-2026-12-01.csv\"");
        assert!(encoded.is_ascii(), "{encoded}");
        let mut bytes = Vec::new();
        let mut rest = encoded.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'%' {
                let hex = std::str::from_utf8(&tail[..2]).unwrap();
                bytes.push(u8::from_str_radix(hex, 16).unwrap());
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "名册_玄武-2026-12-01.csv"
        );
    }
}
