//! The staff's member roster as a CSV file, written by [`platform::csv`] (the shared writer:
//! byte-order mark, CRLF, defused cells, Beijing times, the named download).
//!
//! Chinese headers and labels by default, since that is what staff read; `lang=en` gives the
//! English field names, the vocabulary codes and RFC 3339 times of the JSON list, for scripts
//! and English readers. Both are the same file otherwise: either may end up in a spreadsheet.

use actix_web::HttpResponse;
use chrono::NaiveDate;
use platform::clock::shanghai;
use platform::csv::{self, Column};
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

/// The columns, in file order. The English headers are the JSON field names scripts know.
const COLUMNS: [Column<MemberRow>; 11] = [
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
        value: |r, lang| csv::time(r.applied_at, lang),
    },
    Column {
        zh: "入会时间",
        en: "joined_at",
        value: |r, lang| r.joined_at.map(|t| csv::time(t, lang)).unwrap_or_default(),
    },
];

/// The file: a byte-order mark, the header line, one line per row, each ended by CRLF.
pub fn render(rows: &[MemberRow], lang: Lang) -> String {
    csv::render(&COLUMNS, rows, lang)
}

/// The file's names, ASCII and real, e.g. `members-7-2026-12-01` and
/// `会员名册-玄武区总工会-2026-12-01` (see [`csv::disposition`]).
fn file_names(org: &OrgRef, lang: Lang, day: NaiveDate) -> (String, String) {
    let stem = match lang {
        Lang::ZhCn => "会员名册",
        Lang::En => "members",
    };
    (
        format!("members-{}-{day}", org.id),
        format!("{stem}-{}-{day}", org.name),
    )
}

/// The download: the file, named after the org and today's date in Beijing.
pub fn response(export: &Export, lang: Lang) -> HttpResponse {
    let today = platform::clock::now()
        .and_utc()
        .with_timezone(&shanghai())
        .date_naive();
    let (ascii, name) = file_names(&export.org, lang, today);
    csv::download(&ascii, &name, render(&export.rows, lang))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_file_is_named_after_the_org_and_day_with_an_ascii_fallback() {
        let org = OrgRef {
            id: 7,
            name: "玄武区/总工会".to_owned(),
        };
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        // The `/` is replaced when the header is written (platform::csv::disposition).
        assert_eq!(
            file_names(&org, Lang::ZhCn, day),
            (
                "members-7-2026-12-01".to_owned(),
                "会员名册-玄武区/总工会-2026-12-01".to_owned()
            )
        );
        assert_eq!(
            file_names(&org, Lang::En, day).1,
            "members-玄武区/总工会-2026-12-01"
        );
    }
}
