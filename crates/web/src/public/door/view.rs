//! The read-only parts of the door page: the station, whether it is open and why not, today's
//! hours, amenities, fault reports and navigation. Whether the station is open is the stations
//! crate's answer (`StationView::open_now`, from its hours and status); this only words it.

use chrono::{Datelike, NaiveDate};
use maud::{html, Markup};
use stations::hours::HoursDoc;
use stations::station::StationView;
use stations::vocab::{Amenity, StationStatus};

use crate::i18n::{Lang, Pick};

/// The weekday keys of `HoursDoc::weekly`, Monday first, as the API documents them.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAYS_ZH: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
const DAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Name, address, open or not and why, today's hours, who runs it.
pub(super) fn heading(lang: Lang, station: &StationView, today: NaiveDate) -> Markup {
    let closed_today = is_closure_date(&station.hours, today);
    let (state, class, word, why) = match station.status {
        StationStatus::Open if station.open_now => {
            ("open", "open", lang.t("营业中", "Open now"), None)
        }
        StationStatus::Open if closed_today => (
            "closed_today",
            "shut",
            lang.t("今天休息", "Closed today"),
            Some(lang.t(
                "今天是驿站的闭站日（如节假日）。",
                "Today is one of the station's closure days (a holiday, say).",
            )),
        ),
        StationStatus::Open => (
            "outside_hours",
            "shut",
            lang.t("休息中", "Closed now"),
            Some(lang.t(
                "现在不在今天的开放时间内。",
                "It is outside today's opening hours.",
            )),
        ),
        StationStatus::TemporarilyClosed => (
            "temporarily_closed",
            "shut",
            lang.t("暂停开放", "Temporarily closed"),
            Some(lang.t(
                "驿站临时关闭（如维修），恢复后会重新开放。",
                "The station is closed for a while (for repairs, say) and will open again.",
            )),
        ),
        StationStatus::Closed => (
            "closed",
            "gone",
            lang.t("已停止运营", "Closed for good"),
            Some(lang.t(
                "这个驿站已不再开放，请在工会 App 中查找附近的其他驿站。",
                "This station no longer opens: find another one nearby in the union app.",
            )),
        ),
    };
    let weekday = today.weekday().num_days_from_monday() as usize;
    html! {
        h1 { (station.name) }
        p.address { (station.address) }
        p.state.(class) data-state=(state) { span aria-hidden="true" { "● " } strong { (word) } }
        @if let Some(why) = why { p.why { (why) } }
        @if station.status != StationStatus::Closed {
            p.hours data-today=(DAYS[weekday]) {
                (lang.t("今天（", "Today ("))
                (lang.t(DAYS_ZH[weekday], DAYS_EN[weekday]))
                (lang.t("）开放时间：", "): "))
                strong { (today_hours(lang, &station.hours, today)) }
            }
        }
        p.muted { (lang.t("主办：", "Run by ")) (station.org.name)
            @if let Some(phone) = &station.phone {
                " · " a href={ "tel:" (phone) } { (lang.t("电话 ", "Tel. ")) (phone) }
            }
        }
    }
}

fn is_closure_date(hours: &HoursDoc, date: NaiveDate) -> bool {
    let text = date.format("%Y-%m-%d").to_string();
    hours.closed_dates.contains(&text)
}

/// Today's ranges as the hours document lists them: a night range of yesterday runs into this
/// morning (it belongs to the day it starts), and a closure date cancels the ranges that start
/// on it (`stations::hours` states the rule; this reads its public form).
fn today_hours(lang: Lang, hours: &HoursDoc, today: NaiveDate) -> String {
    if hours.open_24h {
        return if is_closure_date(hours, today) {
            lang.t("闭站", "closed").to_owned()
        } else {
            lang.t("24 小时开放", "open 24 hours").to_owned()
        };
    }
    let ranges = |date: NaiveDate| -> &[String] {
        let day = DAYS[date.weekday().num_days_from_monday() as usize];
        match hours.weekly.get(day) {
            Some(ranges) if !is_closure_date(hours, date) => ranges,
            _ => &[],
        }
    };
    let mut spans: Vec<String> = today
        .pred_opt()
        .map(&ranges)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.split_once('-'))
        .filter(|(start, end)| end <= start)
        .map(|(_, end)| format!("00:00-{end}"))
        .collect();
    spans.extend(ranges(today).iter().cloned());
    if spans.is_empty() {
        lang.t("不开放", "closed").to_owned()
    } else {
        spans.join(", ")
    }
}

/// An amenity's symbol (one the phone's own fonts have: Unicode 6 or older, no web font) and
/// its English words; the Chinese words are the vocabulary's.
fn amenity(a: Amenity) -> (&'static str, &'static str) {
    match a {
        Amenity::DrinkingWater => ("💧", "Drinking water"),
        Amenity::Heating => ("🔥", "Heating"),
        Amenity::Cooling => ("❄️", "Cooling"),
        Amenity::Toilet => ("🚻", "Toilet"),
        Amenity::RestArea => ("💺", "Seats to rest"),
        Amenity::FirstAid => ("💊", "First aid kit"),
        Amenity::Microwave => ("🍱", "Microwave"),
        Amenity::PhoneCharging => ("🔌", "Phone charging"),
        Amenity::BatterySwap => ("🔋", "Battery swap"),
        Amenity::EbikeCharging => ("⚡", "E-bike charging"),
        Amenity::RepairKit => ("🔧", "Repair tools"),
        Amenity::Wifi => ("📶", "Wi-Fi"),
        Amenity::RainGear => ("☔", "Rain gear"),
        Amenity::LegalAid => ("⚖️", "Legal aid"),
        Amenity::Books => ("📚", "Books and papers"),
        Amenity::Lockers => ("🔒", "Lockers"),
    }
}

pub(super) fn amenities(lang: Lang, list: &[Amenity]) -> Markup {
    html! {
        @if !list.is_empty() {
            h2 { (lang.t("站内设施", "What the station offers")) }
            ul.amenities {
                @for a in list {
                    @let (icon, en) = amenity(*a);
                    li data-amenity=(a.as_str()) { span.icon aria-hidden="true" { (icon) } (lang.t(a.label_zh(), en)) }
                }
            }
        }
    }
}

/// Unresolved fault reports: how many. Their texts are riders' own words, which only staff
/// read (the board is not public), so the page gives the count.
pub(super) fn faults(lang: Lang, open_faults: i32) -> Markup {
    html! {
        @if open_faults > 0 {
            p.faults data-open-faults=(open_faults) {
                span aria-hidden="true" { "⚠️ " }
                (lang.t("有 ", "")) strong { (open_faults) }
                (lang.t(" 条故障报告待处理：部分设施可能暂时不能用。",
                    if open_faults == 1 { " fault report is open: something here may be out of order." }
                    else { " fault reports are open: some things here may be out of order." }))
            }
        }
    }
}

/// The station's own links (`StationView::links`, built by the stations crate): Amap and
/// Baidu Maps.
pub(super) fn navigation(lang: Lang, station: &StationView) -> Markup {
    let links = &station.links;
    html! {
        h2 { (lang.t("导航到这里", "Directions")) }
        p.nav {
            @if let Some(amap) = &links.amap {
                a.button id="nav-amap" href=(amap) rel="noopener" { (lang.t("高德地图", "Amap")) }
            }
            // WeChat's browser opens no app scheme: Baidu's web page, which offers the app.
            @if let Some(baidu) = links.baidu_web.as_ref().or(links.baidu.as_ref()) {
                a.button.secondary id="nav-baidu" href=(baidu) rel="noopener" { (lang.t("百度地图", "Baidu Maps")) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(open_24h: bool, weekly: &[(&str, &[&str])], closed: &[&str]) -> HoursDoc {
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        HoursDoc {
            open_24h,
            weekly: weekly
                .iter()
                .map(|(day, ranges)| (day.to_string(), strings(ranges)))
                .collect(),
            closed_dates: strings(closed),
        }
    }

    /// 2026-11-20 is a Friday.
    fn friday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    #[test]
    fn today_lists_its_own_ranges_and_last_nights_tail() {
        let week: &[(&str, &[&str])] = &[
            ("thu", &["22:00-06:00"]),
            ("fri", &["08:00-12:00", "14:00-20:00"]),
        ];
        assert_eq!(
            today_hours(Lang::ZhCn, &doc(false, week, &[]), friday()),
            "00:00-06:00, 08:00-12:00, 14:00-20:00"
        );
        // A closed Friday keeps Thursday's night, and Saturday has no range of its own.
        let closed_friday = doc(false, week, &["2026-11-20"]);
        assert_eq!(
            today_hours(Lang::ZhCn, &closed_friday, friday()),
            "00:00-06:00"
        );
        let saturday = friday().succ_opt().unwrap();
        assert_eq!(today_hours(Lang::En, &closed_friday, saturday), "closed");
        let always = doc(true, &[], &["2026-11-21"]);
        assert_eq!(today_hours(Lang::ZhCn, &always, friday()), "24 小时开放");
        assert_eq!(today_hours(Lang::ZhCn, &always, saturday), "闭站");
    }

    #[test]
    fn every_amenity_has_a_symbol_and_english_words() {
        for a in Amenity::ALL {
            let (icon, en) = amenity(*a);
            assert!(!icon.is_empty() && !en.is_empty(), "{a:?}");
        }
    }
}
