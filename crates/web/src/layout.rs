//! The page shells: the console's (header, navigation, language switch, sign-out, the flash
//! message) and the plain one of the public pages. Styles come from one embedded stylesheet;
//! the security policy forbids inline styles and scripts.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};
use platform::money::Fen;

use crate::assets;
use crate::i18n::{html_lang, Lang, Pick};
use crate::session::{self, Staff, FLASH_COOKIE};

/// The console's sections, in the order of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Home,
    Orgs,
    Applications,
    Members,
    JoinCodes,
    Broadcasts,
    Programs,
    Cases,
    Grants,
    Stations,
    Scan,
    Audit,
    Reports,
}

impl Section {
    const ALL: [Section; 13] = [
        Section::Home,
        Section::Orgs,
        Section::Applications,
        Section::Members,
        Section::JoinCodes,
        Section::Programs,
        Section::Broadcasts,
        Section::Cases,
        Section::Grants,
        Section::Stations,
        Section::Scan,
        Section::Audit,
        Section::Reports,
    ];

    fn href(self) -> &'static str {
        match self {
            Section::Home => "/console",
            Section::Orgs => "/console/orgs",
            Section::Applications => "/console/applications",
            Section::Members => "/console/members",
            Section::JoinCodes => "/console/join-codes",
            Section::Broadcasts => "/console/broadcasts",
            Section::Programs => "/console/programs",
            Section::Cases => "/console/cases",
            Section::Grants => "/console/grants",
            Section::Stations => "/console/stations",
            Section::Scan => "/console/scan",
            Section::Audit => "/console/audit",
            Section::Reports => "/console/reports",
        }
    }

    fn label(self, lang: Lang) -> &'static str {
        match self {
            Section::Home => lang.t("首页", "Home"),
            Section::Orgs => lang.t("组织", "Orgs"),
            Section::Applications => lang.t("入会审核", "Applications"),
            Section::Members => lang.t("会员", "Members"),
            Section::JoinCodes => lang.t("入会码", "Join codes"),
            Section::Broadcasts => lang.t("群发通知", "Broadcasts"),
            Section::Programs => lang.t("活动", "Programs"),
            Section::Cases => lang.t("维权案件", "Cases"),
            Section::Grants => lang.t("困难帮扶", "Hardship grants"),
            Section::Stations => lang.t("驿站", "Stations"),
            Section::Scan => lang.t("扫码核销", "Scan"),
            Section::Audit => lang.t("操作日志", "Audit log"),
            Section::Reports => lang.t("报表", "Reports"),
        }
    }
}

/// The whole document: one `<head>` for every page.
fn document(lang: Lang, title: &str, body_class: Option<&str>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang=(html_lang(lang)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.t("工会", "Union")) }
                link rel="stylesheet" href=(assets::STYLESHEET.as_str());
            }
            body class=[body_class] { (body) }
        }
    }
    .into_string()
}

/// A console page for a signed-in staff member.
pub fn console(staff: &Staff, section: Section, title: &str, body: Markup) -> HttpResponse {
    let lang = staff.lang;
    let page = html! {
                header.top {
                    a.brand href="/console" { (lang.t("工会管理后台", "Union console")) }
                    nav.sections {
                        @for s in Section::ALL {
                            a href=(s.href()) data-nav=(s.href()) aria-current=[(s == section).then_some("page")] {
                                (s.label(lang))
                            }
                        }
                    }
                    div.tools {
                        (language_switch(lang, &staff.here))
                        form method="post" action="/console/sign-out" id="sign-out" {
                            input type="hidden" name="_csrf" value=(staff.csrf);
                            button.link type="submit" { (lang.t("退出", "Sign out")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(message) = &staff.flash {
                        p.flash role="status" { (message) }
                    }
                    (body)
                }
    };
    let markup = document(lang, title, None, page);
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8");
    // Pages show personal data: never kept by a shared computer's cache.
    response.insert_header(("Cache-Control", "no-store"));
    if staff.flash.is_some() {
        session::clear(&mut response, FLASH_COOKIE, staff.secure);
    }
    response.body(markup)
}

/// Links to the same page in the other language (`back` is where to return).
pub fn language_switch(lang: Lang, back: &str) -> Markup {
    let (to, label) = match lang {
        Lang::ZhCn => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    let href = format!(
        "/lang/{to}?{}",
        serde_urlencoded::to_string([("back", back)]).unwrap_or_default()
    );
    html! { a.lang href=(href) data-lang=(to) { (label) } }
}

/// A page outside the console (sign-in, the public pages, errors): no navigation.
pub fn bare(status: StatusCode, lang: Lang, title: &str, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(document(
            lang,
            title,
            Some("bare"),
            html! { main { (body) } },
        ))
}

/// A hidden field with the session's form token.
pub fn csrf(staff: &Staff) -> Markup {
    html! { input type="hidden" name="_csrf" value=(staff.csrf); }
}

/// A date and time in Asia/Shanghai, as staff read it.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    platform::clock::local(at)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// An amount in fen as staff read it: `¥1,234.56` (the raw number when out of range).
pub fn yuan(fen: i64) -> String {
    Fen::new(fen).map_or_else(|| fen.to_string(), Fen::yuan_label)
}
