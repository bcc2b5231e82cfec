//! Charts drawn on the server as SVG: no script, no library, nothing fetched, and a page
//! prints the same as it shows. Colours and sizes are attributes (the security policy forbids
//! inline styles).

use benefits::ledger::DayCounts;
use maud::{html, Markup};

use crate::i18n::{Lang, Pick};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const BOTTOM: f64 = 24.0;
/// Days shown: the last ones, a chart of a year would be bars of a pixel.
const MAX_DAYS: usize = 31;

/// Two bars a day (what was taken: claimed or booked; what was used: redeemed or checked in).
pub fn by_day(lang: Lang, days: &[DayCounts]) -> Markup {
    let days = &days[days.len().saturating_sub(MAX_DAYS)..];
    let bars: Vec<(String, i64, i64)> = days
        .iter()
        .map(|d| {
            let c = &d.counts;
            (
                d.date.format("%m-%d").to_string(),
                c.claimed + c.entered + c.booked,
                c.redeemed + c.checked_in,
            )
        })
        .collect();
    let taken = lang.t("领取 / 预约", "Claimed / booked");
    let used = lang.t("核销 / 签到", "Redeemed / checked in");
    bar_pairs(lang.t("每日数据", "Per day"), (taken, used), &bars)
}

/// A bar chart of one series: a label and a value per bar.
pub fn bars(title: &str, name: &str, groups: &[(String, i64)]) -> Markup {
    let top = groups.iter().map(|g| g.1).max().unwrap_or(0).max(1) as f64;
    let slot = WIDTH / groups.len().max(1) as f64;
    let bar = (slot * 0.7).min(32.0);
    let height = |v: i64| (v as f64 / top) * (HEIGHT - BOTTOM - 12.0);
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) width="100%" preserveAspectRatio="xMidYMid meet" {
                @for (i, (label, v)) in groups.iter().enumerate() {
                    @let x = i as f64 * slot + slot / 2.0;
                    rect x=(x - bar / 2.0) y=(HEIGHT - BOTTOM - height(*v)) width=(bar) height=(height(*v)) fill="#b4232a" { title { (label) " " (name) ": " (v) } }
                    @if groups.len() <= 16 || i % 2 == 0 {
                        text x=(x) y=(HEIGHT - 8.0) text-anchor="middle" font-size="10" fill="#667085" { (label) }
                    }
                }
            }
            figcaption { (title) }
        }
    }
}

/// A bar chart of pairs: one label and two values per group.
pub fn bar_pairs(title: &str, names: (&str, &str), groups: &[(String, i64, i64)]) -> Markup {
    if groups.is_empty() {
        return html! {};
    }
    let top = groups
        .iter()
        .map(|g| g.1.max(g.2))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = WIDTH / groups.len() as f64;
    let bar = (slot * 0.4).min(24.0);
    let height = |v: i64| (v as f64 / top) * (HEIGHT - BOTTOM - 12.0);
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) width="100%" preserveAspectRatio="xMidYMid meet" {
                @for (i, (label, a, b)) in groups.iter().enumerate() {
                    @let x = i as f64 * slot + slot / 2.0;
                    rect x=(x - bar) y=(HEIGHT - BOTTOM - height(*a)) width=(bar) height=(height(*a)) fill="#b4232a" { title { (label) " " (names.0) ": " (a) } }
                    rect x=(x) y=(HEIGHT - BOTTOM - height(*b)) width=(bar) height=(height(*b)) fill="#1f7a3a" { title { (label) " " (names.1) ": " (b) } }
                    @if groups.len() <= 16 || i % 2 == 0 {
                        text x=(x) y=(HEIGHT - 8.0) text-anchor="middle" font-size="10" fill="#667085" { (label) }
                    }
                }
            }
            figcaption { (title) " · " span.key-a { "■ " } (names.0) " · " span.key-b { "■ " } (names.1) }
        }
    }
}
