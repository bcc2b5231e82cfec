//! What membership holds about a member, for the member's rights (PIPL Art. 45, 47): the copy
//! of it and its erasure, registered with [`platform::rights::DataRights`] at startup.
//!
//! Erasure ends the membership as leaving does, so the rows stay and every count of past
//! applications and memberships per org stays whole; what goes is the text that says something
//! about the person (platform, city, reasons, notes), the member number and staff grants.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use platform::rights::{AfterCommit, PersonalData};
use platform::schema::{
    members as m, membership_events as ev, memberships as ms, orgs as o, staff_grants as g,
};
use platform::{DbConn, ErrorCode, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::applications;
use crate::transfers::TRANSFERRED;

/// Why a membership ended or an application was refused, once the account was deleted: the
/// staff lists still show a reason, and it says nothing about the person.
pub const ERASED_REASON: &str = "账号已注销";

/// Why a membership ended when its real-name profile was withdrawn.
pub const REAL_NAME_WITHDRAWN_REASON: &str = "撤回实名信息同意";

/// Membership's part of the member's data.
#[derive(Debug, Clone, Copy, Default)]
pub struct MembershipData;

impl MembershipData {
    pub fn new() -> MembershipData {
        MembershipData
    }
}

/// A staff grant as its holder reads it (who granted it is another staff member's identity).
#[derive(Debug, Serialize)]
struct GrantView {
    org_id: i64,
    org_name: String,
    granted_at: DateTime<Utc>,
}

impl PersonalData for MembershipData {
    fn domain(&self) -> &'static str {
        "membership"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "memberships",
            "membership_events",
            "members",
            "staff_grants",
        ]
    }

    fn export(&self, conn: &mut DbConn, account_id: i64) -> Result<Value> {
        // Every period, newest first like the history, in the shape the member's pages use.
        let ids: Vec<i64> = ms::table
            .filter(ms::account_id.eq(account_id))
            .order(ms::id.desc())
            .select(ms::id)
            .load(conn)?;
        let memberships = ids
            .into_iter()
            .map(|id| applications::view(conn, id))
            .collect::<Result<Vec<_>>>()?;
        let history = applications::mine(conn, account_id)?.history;
        let member: Option<(String, NaiveDateTime)> = m::table
            .find(account_id)
            .select((m::member_no, m::created_at))
            .first(conn)
            .optional()?;
        let grants: Vec<(i64, String, NaiveDateTime)> = g::table
            .inner_join(o::table)
            .filter(g::account_id.eq(account_id))
            .order(g::id.asc())
            .select((o::id, o::name, g::created_at))
            .load(conn)?;
        let staff_of: Vec<GrantView> = grants
            .into_iter()
            .map(|(org_id, org_name, at)| GrantView {
                org_id,
                org_name,
                granted_at: at.and_utc(),
            })
            .collect();
        Ok(json!({
            "member": member.map(|(member_no, since)| json!({
                "member_no": member_no,
                "member_since": since.and_utc(),
            })),
            "memberships": memberships,
            "history": history,
            "staff_of": staff_of,
        }))
    }

    fn erase(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<AfterCommit>> {
        end_membership(conn, account_id, ERASED_REASON)?;
        anonymise_memberships(conn, account_id)?;
        diesel::update(ev::table.filter(ev::account_id.eq(account_id)))
            .set(ev::note.eq(None::<String>))
            .execute(conn)?;
        // No foreign key points at `members`, and once the membership has ended nothing reads
        // it (only active members need a number). The region's counter is not touched, so the
        // number is never handed out again.
        diesel::delete(m::table.find(account_id)).execute(conn)?;
        diesel::delete(g::table.filter(g::account_id.eq(account_id))).execute(conn)?;
        Ok(Vec::new())
    }

    /// A membership rests on the real-name profile, which goes next: it ends as by leaving.
    /// The member number stays, for life, should the person give the profile again and rejoin.
    fn real_name_withdrawn(&self, conn: &mut DbConn, account_id: i64) -> Result<()> {
        end_membership(conn, account_id, REAL_NAME_WITHDRAWN_REASON)
    }
}

/// Ends the active membership and withdraws a pending application exactly as leaving does
/// (same statuses, history entries and locks); nothing to end is no error here.
fn end_membership(conn: &mut DbConn, account_id: i64, reason: &str) -> Result<()> {
    match applications::leave(conn, account_id, reason) {
        // `leave` refuses before writing anything, so the transaction goes on untouched.
        Err(e) if e.code() == ErrorCode::NotAMember => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Blanks the member's own words and what staff wrote about them on every period; status,
/// org, occupation and dates stay, because the per-org counts and filters are made of them.
fn anonymise_memberships(conn: &mut DbConn, account_id: i64) -> Result<()> {
    let rows = ms::table.filter(ms::account_id.eq(account_id));
    diesel::update(rows)
        .set((ms::platform.eq(""), ms::work_city.eq("")))
        .execute(conn)?;
    diesel::update(rows.filter(ms::reject_reason.is_not_null()))
        .set(ms::reject_reason.eq(ERASED_REASON))
        .execute(conn)?;
    // A transfer's end reason is the system's code, not the member's words: it stays.
    diesel::update(
        rows.filter(ms::end_reason.is_not_null())
            .filter(ms::end_reason.ne(TRANSFERRED)),
    )
    .set(ms::end_reason.eq(ERASED_REASON))
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {

    use diesel::connection::SimpleConnection;
    use platform::testing::{account, ScratchDb};

    use super::*;
    use crate::applications::Details;
    use crate::join_codes::{self, NewJoinCode};
    use crate::orgs::{self, NewOrg, RegionCode};
    use crate::vocab::{Occupation, OrgKind, Status};

    fn org(conn: &mut DbConn, parent_id: Option<i64>, name: &str) -> i64 {
        let new = NewOrg {
            parent_id,
            kind: OrgKind::District,
            name: name.into(),
            region_code: RegionCode::parse("320102").unwrap(),
            address: "南京".into(),
            location: None,
        };
        orgs::create(conn, new).unwrap().id
    }

    /// An account with a real-name profile that joined `org_id` through an auto-approving code.
    fn member(conn: &mut DbConn, n: i64, org_id: i64, by: i64) -> i64 {
        let id = account(conn, n);
        conn.batch_execute(&format!(
            "INSERT INTO real_name_profiles (account_id, legal_name, id_number_enc, \
             id_number_hash, id_number_masked, consent_at, consent_policy, updated_at) \
             VALUES ({id}, '张三', '', 'idhash-{n}', '3201**', '2026-11-01 00:00:00', 'v1', \
             '2026-11-01 00:00:00')"
        ))
        .unwrap();
        let code = join_codes::create(
            conn,
            NewJoinCode {
                org_id,
                label: "美团站点海报".into(),
                expires_at: None,
                max_uses: None,
                auto_approve: true,
                created_by: by,
            },
        )
        .unwrap();
        let details = Details {
            occupation: Occupation::Rider,
            platform: "美团".into(),
            work_city: "南京".into(),
        };
        identity::personal_data::give_consent(conn, id, identity::personal_data::REAL_NAME, "v1")
            .unwrap();
        applications::join(conn, id, &code.code, details, "v1").unwrap();
        id
    }

    fn status_counts(conn: &mut DbConn) -> Vec<(i64, String, i64)> {
        ms::table
            .group_by((ms::org_id, ms::status))
            .select((ms::org_id, ms::status, diesel::dsl::count_star()))
            .order((ms::org_id, ms::status))
            .load(conn)
            .unwrap()
    }

    #[test]
    fn export_reads_as_the_member_sees_it_and_names_no_one_else() {
        let scratch = ScratchDb::new();
        let conn = &mut *scratch.db.get().unwrap();
        let admin = account(conn, 0);
        let xuanwu = org(conn, None, "玄武区总工会");
        let worker = member(conn, 1, xuanwu, admin);
        member(conn, 2, xuanwu, admin);
        crate::staff::grant(conn, xuanwu, worker, admin).unwrap();

        let out = MembershipData.export(conn, worker).unwrap();
        let period = &out["memberships"][0];
        assert_eq!(period["org"]["name"], "玄武区总工会");
        assert_eq!(period["status"], "active");
        assert_eq!(period["platform"], "美团");
        assert!(period["started_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(out["memberships"].as_array().unwrap().len(), 1);
        assert_eq!(out["history"][0]["kind"], "activated");
        assert_eq!(out["history"][1]["note"], "美团站点海报");
        assert_eq!(out["staff_of"][0]["org_name"], "玄武区总工会");
        assert_eq!(out["member"]["member_no"].as_str().unwrap().len(), 15);
        let text = out.to_string();
        assert!(!text.contains("decided_by") && !text.contains("granted_by"));
    }

    #[test]
    fn erasure_ends_the_membership_blanks_text_and_keeps_every_count() {
        let scratch = ScratchDb::new();
        let conn = &mut *scratch.db.get().unwrap();
        let admin = account(conn, 0);
        let xuanwu = org(conn, None, "玄武区总工会");
        let gulou = org(conn, None, "鼓楼区总工会");
        let worker = member(conn, 1, xuanwu, admin);
        member(conn, 2, xuanwu, admin);
        // A transfer in review: erasure withdraws it, as leaving does.
        let code = join_codes::create(
            conn,
            NewJoinCode {
                org_id: gulou,
                label: "鼓楼".into(),
                expires_at: None,
                max_uses: None,
                auto_approve: false,
                created_by: admin,
            },
        )
        .unwrap();
        crate::transfers::transfer(conn, worker, &code.code, Default::default()).unwrap();
        crate::staff::grant(conn, gulou, worker, admin).unwrap();
        let rows_before: i64 = ms::table.count().get_result(conn).unwrap();

        assert!(MembershipData.erase(conn, worker).unwrap().is_empty());

        let rows_after: i64 = ms::table.count().get_result(conn).unwrap();
        assert_eq!(rows_before, rows_after, "periods are history and counts");
        let mine: Vec<(String, String, String, Option<String>)> = ms::table
            .filter(ms::account_id.eq(worker))
            .order(ms::id)
            .select((ms::status, ms::platform, ms::work_city, ms::end_reason))
            .load(conn)
            .unwrap();
        assert_eq!(mine[0].0, Status::Ended.as_str());
        assert_eq!(mine[1].0, Status::Withdrawn.as_str());
        assert!(mine.iter().all(|m| m.1.is_empty() && m.2.is_empty()));
        assert!(mine.iter().all(|m| m.3.as_deref() == Some(ERASED_REASON)));
        let notes: i64 = ev::table
            .filter(ev::account_id.eq(worker))
            .filter(ev::note.is_not_null())
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(notes, 0);
        assert_eq!(crate::member_no::of(conn, worker).unwrap(), None);
        assert!(crate::staff::scopes(conn, worker).unwrap().is_empty());
        // The other member is untouched.
        let others: i64 = ms::table
            .filter(ms::account_id.ne(worker))
            .filter(ms::status.eq(Status::Active.as_str()))
            .filter(ms::platform.eq("美团"))
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(others, 1);
        // A second erasure (a retry) changes nothing.
        let counts = status_counts(conn);
        MembershipData.erase(conn, worker).unwrap();
        assert_eq!(status_counts(conn), counts);
    }

    #[test]
    fn withdrawing_the_real_name_ends_the_membership_and_is_no_error_for_others() {
        let scratch = ScratchDb::new();
        let conn = &mut *scratch.db.get().unwrap();
        let admin = account(conn, 0);
        let xuanwu = org(conn, None, "玄武区总工会");
        let worker = member(conn, 1, xuanwu, admin);

        MembershipData.real_name_withdrawn(conn, worker).unwrap();
        assert!(applications::active(conn, worker).unwrap().is_none());
        let reason: Option<String> = ms::table
            .filter(ms::account_id.eq(worker))
            .select(ms::end_reason)
            .first(conn)
            .unwrap();
        assert_eq!(reason.as_deref(), Some(REAL_NAME_WITHDRAWN_REASON));
        // The number is for life: it stays for a rejoin.
        assert!(crate::member_no::of(conn, worker).unwrap().is_some());

        MembershipData.real_name_withdrawn(conn, worker).unwrap();
        MembershipData.real_name_withdrawn(conn, admin).unwrap();
    }
}
