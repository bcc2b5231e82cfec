//! Who may use a program: declarative rules stored with it. Membership of the issuing org's
//! subtree always applies; the rest is optional. Each failed rule has its own problem code so
//! the app can tell the member why.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use membership::applications::{self, ActiveMember};
use membership::vocab::Occupation;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Only these occupations (any when absent or empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub occupations: Vec<Occupation>,
    /// Only members who first joined the union at most this many days ago ("warm-the-new").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 3650)]
    pub joined_within_days: Option<u32>,
    /// Only members who first joined before this date (Asia/Shanghai).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_before: Option<NaiveDate>,
}

impl Rules {
    pub fn validate(self) -> Result<Rules> {
        if self.joined_within_days.is_some_and(|d| d == 0 || d > 3650) {
            return Err(Error::invalid(ErrorCode::InvalidField, "eligibility"));
        }
        Ok(self)
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("rules serialise")
    }

    /// Checks a member against the rules; `Err` names the first rule that fails.
    pub fn check(
        &self,
        conn: &mut DbConn,
        program_org: i64,
        member: &ActiveMember,
        now: NaiveDateTime,
    ) -> Result<()> {
        if !membership::orgs::is_within(conn, member.org_id, program_org)? {
            return Err(Error::new(ErrorCode::NotEligibleOrg));
        }
        self.check_personal(member, now)
    }

    /// Why each of many accounts may not use a program issued by `program_org`; eligible
    /// accounts are absent. A fixed number of queries whatever the batch size: the batch writer
    /// checks a whole flash crowd's batch at once.
    pub fn refusals(
        &self,
        conn: &mut DbConn,
        program_org: i64,
        accounts: &[i64],
        now: NaiveDateTime,
    ) -> Result<HashMap<i64, ErrorCode>> {
        let members = membership::applications::active_members(conn, accounts)?;
        let orgs: Vec<i64> = members.values().map(|m| m.org_id).collect();
        let inside: HashSet<i64> = membership::orgs::within(conn, &orgs, program_org)?;
        Ok(accounts
            .iter()
            .filter_map(|account| {
                let refusal = match members.get(account) {
                    None => Some(ErrorCode::NotAMember),
                    Some(m) if !inside.contains(&m.org_id) => Some(ErrorCode::NotEligibleOrg),
                    Some(m) => self.check_personal(m, now).err().map(|e| e.code()),
                };
                refusal.map(|code| (*account, code))
            })
            .collect())
    }

    /// The rules that depend on the member alone.
    pub fn check_personal(&self, member: &ActiveMember, now: NaiveDateTime) -> Result<()> {
        if !self.occupations.is_empty() && !self.occupations.contains(&member.occupation) {
            return Err(Error::new(ErrorCode::NotEligibleOccupation));
        }
        if let Some(days) = self.joined_within_days {
            if member.first_joined_at < now - Duration::days(i64::from(days)) {
                return Err(Error::new(ErrorCode::NotEligibleNewMembersOnly));
            }
        }
        if let Some(date) = self.joined_before {
            let cutoff = platform::clock::shanghai_midnight(date);
            if member.first_joined_at >= cutoff {
                return Err(Error::new(ErrorCode::NotEligibleJoinedTooLate));
            }
        }
        Ok(())
    }
}

/// Reading the stored rules of a program row (`#[diesel(deserialize_as = String)]`).
impl TryFrom<String> for Rules {
    type Error = serde_json::Error;

    fn try_from(text: String) -> std::result::Result<Rules, serde_json::Error> {
        serde_json::from_str(&text)
    }
}

/// The caller as an active member, or `not_a_member`.
pub fn active_member(conn: &mut DbConn, account_id: i64) -> Result<ActiveMember> {
    applications::active_member(conn, account_id)?.ok_or_else(|| Error::new(ErrorCode::NotAMember))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(occupation: Occupation, joined_days_ago: i64, now: NaiveDateTime) -> ActiveMember {
        ActiveMember {
            membership_id: 1,
            org_id: 1,
            started_at: now,
            occupation,
            first_joined_at: now - Duration::days(joined_days_ago),
        }
    }

    #[test]
    fn each_rule_fails_with_its_own_code() {
        let now = NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(4, 0, 0)
            .unwrap();
        let rules = Rules {
            occupations: vec![Occupation::Rider, Occupation::Courier],
            joined_within_days: Some(30),
            joined_before: Some(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()),
        };
        assert!(rules
            .check_personal(&member(Occupation::Rider, 5, now), now)
            .is_ok());
        let code = |m: ActiveMember| rules.check_personal(&m, now).unwrap_err().code();
        assert_eq!(
            code(member(Occupation::TruckDriver, 5, now)),
            ErrorCode::NotEligibleOccupation
        );
        assert_eq!(
            code(member(Occupation::Rider, 31, now)),
            ErrorCode::NotEligibleNewMembersOnly
        );
        // Joined at 12:00 Shanghai on the cutoff day: too late.
        assert_eq!(
            code(member(Occupation::Rider, 0, now)),
            ErrorCode::NotEligibleJoinedTooLate
        );
        assert_eq!(
            Rules::default()
                .check_personal(&member(Occupation::Other, 999, now), now)
                .ok(),
            Some(())
        );
    }

    #[test]
    fn rules_round_trip_and_refuse_unknown_fields() {
        let rules = Rules {
            occupations: vec![Occupation::Rider],
            joined_within_days: Some(30),
            joined_before: None,
        };
        assert_eq!(Rules::try_from(rules.to_stored()).unwrap(), rules);
        assert!(serde_json::from_str::<Rules>(r#"{"min_age": 18}"#).is_err());
    }
}
