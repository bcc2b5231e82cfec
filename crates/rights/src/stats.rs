//! The figures of an org subtree's cases for a period (those filed in it), for the union's
//! monthly report: cases by kind, class and state, amounts claimed and recovered, the median
//! days to acceptance and to resolution, how many were settled by mediation and how many
//! referred, and the follow-up ratings. Computed from the rows, so a test can redo them by hand.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::{self, OrgRef};
use membership::reports::Period;
use membership::staff;
use platform::schema::{case_claimants as cc, cases as c, org_closure as oc};
use platform::{DbConn, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::vocab::{CaseClass, CaseKind, CaseState, Outcome};

/// One count of a breakdown.
#[derive(Debug, Serialize, ToSchema)]
pub struct Count {
    /// The code (`wage_arrears`, `general`, `closed`).
    pub key: String,
    /// Its words (zh-CN).
    pub label: String,
    pub cases: i64,
}

/// The figures of a subtree for a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseFigures {
    pub org: OrgRef,
    pub period: Period,
    /// Cases filed in the period.
    pub filed: i64,
    pub by_kind: Vec<Count>,
    /// Accepted cases by handling class.
    pub by_class: Vec<Count>,
    pub by_state: Vec<Count>,
    /// What all their claimants claim, in fen.
    pub claimed_fen: i64,
    /// What closed cases recovered, in fen.
    pub recovered_fen: i64,
    /// Median days from filing to acceptance, of the accepted; null when none.
    pub median_days_to_acceptance: Option<f64>,
    /// Median days from filing to closing, of the closed (declined ones not counted).
    pub median_days_to_resolution: Option<f64>,
    pub settled_by_mediation: i64,
    pub referred: i64,
    /// Settled by mediation among those settled or referred; null when none.
    pub mediation_share: Option<f64>,
    pub followed_up: i64,
    /// Mean follow-up rating (1 to 5); null when none.
    pub mean_rating: Option<f64>,
}

#[derive(Queryable)]
struct Row {
    id: i64,
    kind: String,
    class: Option<String>,
    state: String,
    outcome: Option<String>,
    recovered_fen: Option<i64>,
    rating: Option<i32>,
    filed_at: NaiveDateTime,
    decided_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
}

/// The median of `values` (sorted here); None for none.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn days(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    // Tenths of a day: what a report shows.
    ((to - from).num_minutes() as f64 / 1440.0 * 10.0).round() / 10.0
}

fn counts<'a>(keys: impl Iterator<Item = &'a str>, label: impl Fn(&str) -> String) -> Vec<Count> {
    let mut tally: BTreeMap<&str, i64> = BTreeMap::new();
    for key in keys {
        *tally.entry(key).or_default() += 1;
    }
    tally
        .into_iter()
        .map(|(key, cases)| Count {
            key: key.to_owned(),
            label: label(key),
            cases,
        })
        .collect()
}

/// The cases of `org_id`'s subtree filed in `period`.
fn filed_in(conn: &mut DbConn, org_id: i64, period: Period) -> Result<Vec<Row>> {
    let (start, end) = period.window();
    let subtree = oc::table
        .filter(oc::ancestor_id.eq(org_id))
        .select(oc::descendant_id);
    Ok(c::table
        .filter(c::org_id.eq_any(subtree))
        .filter(c::filed_at.ge(start).and(c::filed_at.lt(end)))
        .select((
            c::id,
            c::kind,
            c::class,
            c::state,
            c::outcome,
            c::recovered_fen,
            c::rating,
            c::filed_at,
            c::decided_at,
            c::closed_at,
        ))
        .order(c::id)
        .load(conn)?)
}

/// The use case: the figures of `org_id`'s subtree for `period`.
pub fn figures(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    period: Period,
) -> Result<CaseFigures> {
    staff::require(conn, user, org_id)?;
    let rows = filed_in(conn, org_id, period)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let claimed: Vec<i64> = cc::table
        .filter(cc::case_id.eq_any(&ids))
        .select(cc::amount_claimed_fen)
        .load(conn)?;
    let label_of = |key: &str, f: fn(&str) -> Option<&'static str>| f(key).unwrap_or("").to_owned();
    let accepted = |r: &&Row| r.class.is_some();
    let outcome_is = |r: &Row, o: Outcome| r.outcome.as_deref() == Some(o.as_str());
    let settled = rows
        .iter()
        .filter(|r| outcome_is(r, Outcome::Mediated))
        .count() as i64;
    let referred = rows
        .iter()
        .filter(|r| outcome_is(r, Outcome::Referred))
        .count() as i64;
    let ratings: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.rating)
        .map(f64::from)
        .collect();
    Ok(CaseFigures {
        org: orgs::reference(conn, org_id)?,
        period,
        filed: rows.len() as i64,
        by_kind: counts(rows.iter().map(|r| r.kind.as_str()), |k| {
            label_of(k, |k| CaseKind::parse(k).map(CaseKind::label_zh))
        }),
        by_class: counts(
            rows.iter()
                .filter(accepted)
                .filter_map(|r| r.class.as_deref()),
            |k| label_of(k, |k| CaseClass::parse(k).map(CaseClass::label_zh)),
        ),
        by_state: counts(rows.iter().map(|r| r.state.as_str()), |k| {
            label_of(k, |k| CaseState::parse(k).map(CaseState::label_zh))
        }),
        claimed_fen: claimed.iter().sum(),
        recovered_fen: rows.iter().filter_map(|r| r.recovered_fen).sum(),
        median_days_to_acceptance: median(
            rows.iter()
                .filter(accepted)
                .filter_map(|r| r.decided_at.map(|d| days(r.filed_at, d)))
                .collect(),
        ),
        median_days_to_resolution: median(
            rows.iter()
                .filter(|r| r.outcome.is_some())
                .filter_map(|r| r.closed_at.map(|d| days(r.filed_at, d)))
                .collect(),
        ),
        settled_by_mediation: settled,
        referred,
        mediation_share: (settled + referred > 0)
            .then(|| settled as f64 / (settled + referred) as f64),
        followed_up: ratings.len() as i64,
        mean_rating: (!ratings.is_empty())
            .then(|| ratings.iter().sum::<f64>() / ratings.len() as f64),
    })
}

/// One line of the CSV: a figure and its value.
pub struct Line {
    figure: String,
    value: String,
}

impl Line {
    pub fn figure(&self) -> &str {
        &self.figure
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

impl CaseFigures {
    /// The figures as lines of a spreadsheet: the totals, then each breakdown, amounts in yuan.
    pub fn lines(&self) -> Vec<Line> {
        let yuan = |fen: i64| format!("{}.{:02}", fen / 100, fen % 100);
        let maybe = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
        let mut lines = vec![
            (
                "期间",
                format!("{} 至 {}", self.period.from, self.period.to),
            ),
            ("组织", self.org.name.clone()),
            ("受理申请（件）", self.filed.to_string()),
            ("请求金额（元）", yuan(self.claimed_fen)),
            ("追回金额（元）", yuan(self.recovered_fen)),
            (
                "受理用时中位数（天）",
                maybe(self.median_days_to_acceptance),
            ),
            (
                "办结用时中位数（天）",
                maybe(self.median_days_to_resolution),
            ),
            ("调解成功（件）", self.settled_by_mediation.to_string()),
            ("转交办理（件）", self.referred.to_string()),
            (
                "调解成功占比",
                self.mediation_share
                    .map(|s| format!("{:.1}%", s * 100.0))
                    .unwrap_or_default(),
            ),
            ("回访（件）", self.followed_up.to_string()),
            (
                "满意度均分（1-5）",
                self.mean_rating
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(figure, value)| Line {
            figure: figure.to_owned(),
            value,
        })
        .collect::<Vec<_>>();
        for (section, counts) in [
            ("类型", &self.by_kind),
            ("分类", &self.by_class),
            ("状态", &self.by_state),
        ] {
            lines.extend(counts.iter().map(|c| Line {
                figure: format!("{section}：{}", c.label),
                value: c.cases.to_string(),
            }));
        }
        lines
    }
}

/// The CSV's columns.
pub const COLUMNS: &[platform::csv::Column<Line>] = &[
    platform::csv::Column {
        zh: "指标",
        en: "Figure",
        value: |l, _| l.figure.clone(),
    },
    platform::csv::Column {
        zh: "数值",
        en: "Value",
        value: |l, _| l.value.clone(),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
