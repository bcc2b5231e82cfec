//! Editing a draft program: until it is published, staff may change whatever they gave when
//! creating it except its kind (a health check's sessions hang on it; create another draft
//! instead). A published or closed program is what members were offered, so it stays as it was
//! (`program_not_draft`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor};
use platform::schema::programs as p;
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::eligibility::Rules;
use crate::programs::{self, CreateProgram, Program, StaffProgramDetail};
use crate::vocab::{Mode, ProgramStatus};

/// A draft's changes: present fields replace the stored ones, and the result is held to every
/// rule of a new program.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchProgram {
    pub title: Option<Text<100>>,
    /// Up to 2000 characters.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Claims or bookings per member.
    #[schema(minimum = 1, maximum = 10)]
    pub per_member_limit: Option<i32>,
    /// Replaces the rules as a whole.
    pub eligibility: Option<Rules>,
    /// Gift packs: how many.
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub stock: Option<i32>,
    /// Gift packs: first_come or draw.
    pub mode: Option<Mode>,
    /// Fair mode: when entries close and the draw may run; `null` removes it (first come has
    /// none).
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub entry_closes_at: Option<Option<DateTime<Utc>>>,
    /// Vouchers not redeemed within this many days expire; `null` removes the limit.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 365)]
    pub voucher_valid_days: Option<Option<i32>>,
}

impl PatchProgram {
    /// The body that would create the program as it is once patched.
    fn onto(self, program: &Program) -> Result<CreateProgram> {
        let title = match self.title {
            Some(title) => title,
            None => Text::parse(&program.title).ok_or_else(|| {
                Error::internal(anyhow::anyhow!("program {}: stored title", program.id))
            })?,
        };
        Ok(CreateProgram {
            kind: program.kind,
            title,
            description: self
                .description
                .unwrap_or_else(|| program.description.clone()),
            starts_at: self.starts_at.unwrap_or(program.starts_at.and_utc()),
            ends_at: self.ends_at.unwrap_or(program.ends_at.and_utc()),
            per_member_limit: Some(self.per_member_limit.unwrap_or(program.per_member_limit)),
            eligibility: self.eligibility.unwrap_or_else(|| program.rules.clone()),
            stock: self.stock.or(program.stock_total),
            mode: Some(self.mode.unwrap_or(program.mode)),
            entry_closes_at: self
                .entry_closes_at
                .unwrap_or(program.entry_closes_at.map(|t| t.and_utc())),
            voucher_valid_days: self
                .voucher_valid_days
                .unwrap_or(program.voucher_valid_days),
        })
    }
}

/// The use case: staff change a draft of their subtree. A refusal names the field at fault.
/// The UPDATE applies only while the program is still a draft and writes the whole checked
/// result, so a publish committing meanwhile wins (the edit is refused) and two edits at once
/// leave one of them whole, never a mix that no rule checked.
pub fn edit(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    patch: PatchProgram,
) -> Result<StaffProgramDetail> {
    let program = programs::managed(conn, user, id)?;
    if program.status != ProgramStatus::Draft {
        return Err(Error::new(ErrorCode::ProgramNotDraft));
    }
    let new = patch
        .onto(&program)?
        .validate(program.org_id, user.account_id)?;
    let updated = diesel::update(p::table.find(id))
        .filter(p::status.eq(ProgramStatus::Draft.as_str()))
        .set((
            p::title.eq(&new.title),
            p::description.eq(&new.description),
            p::starts_at.eq(new.starts_at),
            p::ends_at.eq(new.ends_at),
            p::per_member_limit.eq(new.per_member_limit),
            p::eligibility.eq(new.rules.to_stored()),
            p::mode.eq(new.mode.as_str()),
            p::stock_total.eq(new.stock),
            p::stock_left.eq(new.stock),
            p::voucher_valid_days.eq(new.voucher_valid_days),
            p::entry_closes_at.eq(new.entry_closes_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(Error::new(ErrorCode::ProgramNotDraft));
    }
    let changed = programs::get(conn, id)?;
    audit::record(
        conn,
        actor,
        programs::entry(Action::ProgramUpdate, &changed),
    )?;
    programs::staff_view(conn, &changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Program {
        let at = |h| {
            chrono::NaiveDate::from_ymd_opt(2026, 12, 10)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        Program {
            id: 1,
            org_id: 2,
            kind: crate::vocab::ProgramKind::GiftPack,
            title: "冬日暖心礼包".into(),
            description: String::new(),
            status: ProgramStatus::Draft,
            starts_at: at(8),
            ends_at: at(20),
            per_member_limit: 1,
            rules: Rules::default(),
            mode: Mode::FirstCome,
            stock_total: Some(100),
            stock_left: Some(100),
            voucher_valid_days: Some(30),
            entry_closes_at: None,
            draw_seed: None,
            drawn_at: None,
            created_at: at(7),
            published_at: None,
        }
    }

    fn patch(json: serde_json::Value) -> PatchProgram {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn absent_fields_keep_their_value_and_null_clears_a_nullable_one() {
        let body = patch(serde_json::json!({ "stock": 50, "voucher_valid_days": null }));
        let new = body.onto(&draft()).unwrap().validate(2, 9).unwrap();
        assert_eq!(new.title, "冬日暖心礼包");
        assert_eq!(new.stock, Some(50));
        assert_eq!(new.voucher_valid_days, None);
        let kept = patch(serde_json::json!({})).onto(&draft()).unwrap();
        assert_eq!(kept.voucher_valid_days, Some(30));
    }

    #[test]
    fn the_patched_program_keeps_the_rules_of_a_new_one() {
        let refused = |json| {
            let body = patch(json);
            let err = body
                .onto(&draft())
                .unwrap()
                .validate(2, 9)
                .err()
                .expect("refused");
            err.field().unwrap().to_owned()
        };
        let late = draft().ends_at.and_utc() + chrono::Duration::hours(1);
        assert_eq!(refused(serde_json::json!({ "starts_at": late })), "ends_at");
        assert_eq!(
            refused(serde_json::json!({ "mode": "draw" })),
            "entry_closes_at"
        );
        assert_eq!(refused(serde_json::json!({ "stock": 0 })), "stock");
        let kind = serde_json::from_value::<PatchProgram>(serde_json::json!({ "kind": "x" }));
        assert!(kind.is_err(), "the kind cannot change");
    }
}
