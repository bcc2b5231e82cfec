//! The staff's member roster as a CSV file that opens correctly when double-clicked in Excel
//! (Windows, zh-CN) and LibreOffice: RFC 4180 with CRLF line ends, UTF-8 with a byte-order mark,
//! no cell a spreadsheet would run as a formula or turn into a number.
//!
//! Chinese headers and labels by default, since that is what staff read; `lang=en` gives the
//! English field names, the vocabulary codes and RFC 3339 times of the JSON list, for scripts
//! and English readers. Both are the same file otherwise: either may end up in a spreadsheet.

use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::HttpResponse;
use chrono::{DateTime, NaiveDate, Utc};
use platform::clock::shanghai;
use platform::error::Lang;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::members::{Export, MemberRow};
use crate::orgs::OrgRef;

/// The `lang` query parameter: `zh` (the default; `zh-CN` is taken too) or `en`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
pub enum CsvLang {
    #[default]
    #[serde(rename = "zh", alias = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

impl From<CsvLang> for Lang {
    fn from(lang: CsvLang) -> Lang {
        match lang {
            CsvLang::Zh => Lang::ZhCn,
            CsvLang::En => Lang::En,
        }
    }
}

/// One column: its header in each language and how a row fills it.
struct Column {
    zh: &'static str,
    en: &'static str,
    value: fn(&MemberRow, Lang) -> String,
}

/// The columns, in file order. The English headers are the JSON field names scripts know.
const COLUMNS: [Column; 11] = [
    Column {
        zh: "会员编号",
        en: "member_no",
        value: |r, _| r.member_no.clone().unwrap_or_default(),
    },
    Column {
        zh: "姓名",
        en: "legal_name",
        value: |r, _| r.legal_name.clone().unwrap_or_default(),
    },
    // Masked, as everywhere in staff views: the export carries no more personal data. Empty
    // for a deleted account.
    Column {
        zh: "手机号",
        en: "phone",
        value: |r, _| r.phone_masked.clone().unwrap_or_default(),
    },
    Column {
        zh: "身份证号",
        en: "id_number",
        value: |r, _| r.id_number_masked.clone().unwrap_or_default(),
    },
    Column {
        zh: "所属工会",
        en: "org",
        value: |r, _| r.org.name.clone(),
    },
    Column {
        zh: "职业",
        en: "occupation",
        value: |r, lang| match lang {
            Lang::ZhCn => r.occupation.label_zh().to_owned(),
            Lang::En => r.occupation.as_str().to_owned(),
        },
    },
    Column {
        zh: "平台",
        en: "platform",
        value: |r, _| r.platform.clone(),
    },
    Column {
        zh: "工作城市",
        en: "work_city",
        value: |r, _| r.work_city.clone(),
    },
    Column {
        zh: "状态",
        en: "status",
        value: |r, lang| match lang {
            Lang::ZhCn => r.status.label_zh().to_owned(),
            Lang::En => r.status.as_str().to_owned(),
        },
    },
    Column {
        zh: "申请时间",
        en: "applied_at",
        value: |r, lang| time(r.applied_at, lang),
    },
    Column {
        zh: "入会时间",
        en: "joined_at",
        value: |r, lang| r.joined_at.map(|t| time(t, lang)).unwrap_or_default(),
    },
];

/// Beijing time either way. In Chinese as `2026-12-01 09:30:00`, which both spreadsheets read
/// as a date-time staff can sort and filter (RFC 3339's `T`, offset and microseconds leave an
/// opaque string); in English as RFC 3339, like the JSON.
fn time(at: DateTime<Utc>, lang: Lang) -> String {
    let local = at.with_timezone(&shanghai());
    match lang {
        Lang::ZhCn => local.format("%Y-%m-%d %H:%M:%S").to_string(),
        Lang::En => local.to_rfc3339(),
    }
}

/// The file: a byte-order mark, the header line, one line per row, each ended by CRLF.
pub fn render(rows: &[MemberRow], lang: Lang) -> String {
    // Excel decodes a CSV without a BOM in the ANSI code page (GBK on zh-CN Windows), which
    // garbles every Chinese character; LibreOffice and CSV libraries skip the BOM.
    let mut out = String::from("\u{feff}");
    push_line(
        &mut out,
        COLUMNS.iter().map(|c| match lang {
            Lang::ZhCn => c.zh.to_owned(),
            Lang::En => c.en.to_owned(),
        }),
    );
    for row in rows {
        push_line(&mut out, COLUMNS.iter().map(|c| (c.value)(row, lang)));
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
fn cell(value: &str) -> String {
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

/// `attachment` with an ASCII name for old clients and the real one, e.g.
/// `会员名册-玄武区总工会-2026-12-01.csv`, as RFC 5987 `filename*` (browsers prefer it).
fn disposition(org: &OrgRef, lang: Lang, day: NaiveDate) -> ContentDisposition {
    let stem = match lang {
        Lang::ZhCn => "会员名册",
        Lang::En => "members",
    };
    // Characters Windows refuses in file names; an org name may hold any of them.
    let org_name: String = org
        .name
        .chars()
        .map(|c| if r#"\/:*?"<>|"#.contains(c) { '_' } else { c })
        .collect();
    let name = format!("{stem}-{org_name}-{day}.csv");
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(format!("members-{}-{day}.csv", org.id)),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: name.into_bytes(),
            }),
        ],
    }
}

/// The download: the file, named after the org and today's date in Beijing.
pub fn response(export: &Export, lang: Lang) -> HttpResponse {
    let today = platform::clock::now()
        .and_utc()
        .with_timezone(&shanghai())
        .date_naive();
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(disposition(&export.org, lang, today))
        // Personal data: no copy in a shared or browser cache.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(render(&export.rows, lang))
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
    fn lang_defaults_to_chinese_and_refuses_others() {
        let lang =
            |v: &str| serde_json::from_value::<CsvLang>(serde_json::json!(v)).map(Lang::from);
        assert_eq!(Lang::from(CsvLang::default()), Lang::ZhCn);
        assert_eq!(lang("zh").unwrap(), Lang::ZhCn);
        assert_eq!(lang("zh-CN").unwrap(), Lang::ZhCn);
        assert_eq!(lang("en").unwrap(), Lang::En);
        assert!(lang("fr").is_err());
    }

    #[test]
    fn the_file_name_is_chinese_with_an_ascii_fallback() {
        let org = OrgRef {
            id: 7,
            name: "玄武区/总工会".to_owned(),
        };
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let value = disposition(&org, Lang::ZhCn, day).to_string();
        let (ascii, encoded) = value.split_once("; filename*=UTF-8''").unwrap();
        assert_eq!(ascii, "attachment; filename=\"members-7-2026-12-01.csv\"");
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
            "会员名册-玄武区_总工会-2026-12-01.csv"
        );
    }
}
