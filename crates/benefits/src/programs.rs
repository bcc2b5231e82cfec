//! Benefit programs: what an org offers its subtree, their lifecycle (draft -> published ->
//! closed) and what members and staff see of them. Editing a draft is [`crate::drafts`].

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::applications::ActiveMember;
use membership::orgs::{self, OrgRef};
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::pagination::{Page, Paged};
use platform::schema::{health_sessions as hs, org_closure as c, orgs as o, programs as p};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::broadcasts::{self, Audience};
use crate::eligibility::{active_member, Rules};
use crate::health_sessions::{self, SessionView};
use crate::notify;
use crate::vocab::{Mode, ProgramKind, ProgramStatus};

#[derive(Deserialize, ToSchema)]
pub struct CreateProgram {
    pub kind: ProgramKind,
    pub title: Text<100>,
    /// Up to 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Claims or bookings per member (default 1).
    #[schema(minimum = 1, maximum = 10)]
    pub per_member_limit: Option<i32>,
    #[serde(default)]
    pub eligibility: Rules,
    /// Gift packs: how many (required for them; health checks have none).
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub stock: Option<i32>,
    /// Gift packs: first_come (default) or draw.
    pub mode: Option<Mode>,
    /// Fair mode: when entries close and the draw may run.
    pub entry_closes_at: Option<DateTime<Utc>>,
    /// Vouchers not redeemed within this many days expire and go back to stock.
    #[schema(minimum = 1, maximum = 365)]
    pub voucher_valid_days: Option<i32>,
}

impl CreateProgram {
    /// The rules of a new program that its body alone decides; the org's scope is checked by
    /// [`create`].
    pub fn validate(self, org_id: i64, by: i64) -> Result<NewProgram> {
        let body = self;
        let bad = |field| Error::invalid(ErrorCode::InvalidField, field);
        let kind = body.kind;
        if body.starts_at >= body.ends_at {
            return Err(bad("ends_at"));
        }
        let per_member_limit = body.per_member_limit.unwrap_or(1);
        if !(1..=10).contains(&per_member_limit) {
            return Err(bad("per_member_limit"));
        }
        if body.description.chars().count() > 2000 {
            return Err(bad("description"));
        }
        let description = body.description.trim().to_owned();
        let mode = body.mode.unwrap_or(Mode::FirstCome);
        match kind {
            // A grant needs its terms: `POST /v1/admin/orgs/{id}/grant-programs`.
            ProgramKind::HardshipGrant => return Err(bad("kind")),
            ProgramKind::GiftPack => {
                if !body.stock.is_some_and(|s| (1..=10_000_000).contains(&s)) {
                    return Err(bad("stock"));
                }
            }
            ProgramKind::HealthCheck | ProgramKind::LegalConsultation => {
                if body.stock.is_some() {
                    return Err(bad("stock"));
                }
                if mode != Mode::FirstCome {
                    return Err(bad("mode"));
                }
            }
        }
        let entry_closes_at = match mode {
            Mode::Draw => {
                let closes = body.entry_closes_at.ok_or_else(|| bad("entry_closes_at"))?;
                if closes <= body.starts_at || closes > body.ends_at {
                    return Err(bad("entry_closes_at"));
                }
                Some(closes.naive_utc())
            }
            Mode::FirstCome if body.entry_closes_at.is_some() => {
                return Err(bad("entry_closes_at"))
            }
            Mode::FirstCome => None,
        };
        if body
            .voucher_valid_days
            .is_some_and(|d| !(1..=365).contains(&d))
        {
            return Err(bad("voucher_valid_days"));
        }
        Ok(NewProgram {
            org_id,
            kind,
            title: body.title.into_inner(),
            description,
            starts_at: body.starts_at.naive_utc(),
            ends_at: body.ends_at.naive_utc(),
            per_member_limit,
            rules: body.eligibility.validate()?,
            mode,
            stock: body.stock,
            voucher_valid_days: body.voucher_valid_days,
            entry_closes_at,
            created_by: by,
        })
    }
}

/// A program as stored: its row, with the stored words and rules decoded once as it is read.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = p)]
pub struct Program {
    pub id: i64,
    pub org_id: i64,
    #[diesel(deserialize_as = String)]
    pub kind: ProgramKind,
    pub title: String,
    pub description: String,
    #[diesel(deserialize_as = String)]
    pub status: ProgramStatus,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub per_member_limit: i32,
    #[diesel(column_name = eligibility, deserialize_as = String)]
    pub rules: Rules,
    #[diesel(deserialize_as = String)]
    pub mode: Mode,
    pub stock_total: Option<i32>,
    pub stock_left: Option<i32>,
    pub voucher_valid_days: Option<i32>,
    pub entry_closes_at: Option<NaiveDateTime>,
    pub draw_seed: Option<String>,
    pub drawn_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub published_at: Option<NaiveDateTime>,
}

/// What staff give to create a program.
pub struct NewProgram {
    pub org_id: i64,
    pub kind: ProgramKind,
    pub title: String,
    pub description: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub per_member_limit: i32,
    pub rules: Rules,
    pub mode: Mode,
    pub stock: Option<i32>,
    pub voucher_valid_days: Option<i32>,
    pub entry_closes_at: Option<NaiveDateTime>,
    pub created_by: i64,
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Program> {
    Ok(p::table.find(id).select(Program::as_select()).first(conn)?)
}

/// A program members may see: a draft is `not_found`, as a program that does not exist.
pub fn published(conn: &mut DbConn, id: i64) -> Result<Program> {
    let program = get(conn, id)?;
    if program.status == ProgramStatus::Draft {
        return Err(Error::new(ErrorCode::NotFound));
    }
    Ok(program)
}

/// A program `user` manages (staff of the issuing org's subtree, or admin).
pub fn managed(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<Program> {
    // Non-staff are refused before any look-up, so ids tell them nothing.
    staff::require_any(conn, user)?;
    let program = get(conn, id)?;
    staff::require(conn, user, program.org_id)?;
    Ok(program)
}

/// The entry of an action on `program`, which belongs to the issuing org.
pub fn entry(action: Action, program: &Program) -> Entry {
    Entry::new(action, Record::new("program", program.id)).in_org(program.org_id)
}

/// The use case: staff of `new.org_id` create a draft for their subtree.
pub fn create(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    new: NewProgram,
) -> Result<ProgramView> {
    staff::require(conn, user, new.org_id)?;
    let id: i64 = diesel::insert_into(p::table)
        .values((
            (
                p::org_id.eq(new.org_id),
                p::kind.eq(new.kind.as_str()),
                p::title.eq(&new.title),
                p::description.eq(&new.description),
                p::status.eq(ProgramStatus::Draft.as_str()),
                p::starts_at.eq(new.starts_at),
                p::ends_at.eq(new.ends_at),
                p::per_member_limit.eq(new.per_member_limit),
                p::eligibility.eq(new.rules.to_stored()),
            ),
            (
                p::mode.eq(new.mode.as_str()),
                p::stock_total.eq(new.stock),
                p::stock_left.eq(new.stock),
                p::voucher_valid_days.eq(new.voucher_valid_days),
                p::entry_closes_at.eq(new.entry_closes_at),
                p::created_by.eq(new.created_by),
                p::created_at.eq(platform::clock::now()),
            ),
        ))
        .returning(p::id)
        .get_result(conn)?;
    let program = get(conn, id)?;
    audit::record(conn, actor, entry(Action::ProgramCreate, &program))?;
    view(conn, &program)
}

/// The use case: draft -> published. A fair-mode draw gets its seed now, before any entry, so
/// anyone can later re-run the draw and check it. Publishing twice is harmless.
pub fn publish(conn: &mut DbConn, user: &AuthUser, actor: &Actor, id: i64) -> Result<ProgramView> {
    let program = managed(conn, user, id)?;
    match program.status {
        ProgramStatus::Published => {}
        ProgramStatus::Closed => return Err(Error::new(ErrorCode::ProgramNotOpen)),
        ProgramStatus::Draft => {
            let seed = (program.mode == Mode::Draw).then(hex_seed);
            diesel::update(p::table.find(program.id))
                .filter(p::status.eq(ProgramStatus::Draft.as_str()))
                .set((
                    p::status.eq(ProgramStatus::Published.as_str()),
                    p::published_at.eq(platform::clock::now()),
                    p::draw_seed.eq(seed),
                ))
                .execute(conn)?;
            let members = open_to(conn, user, &program)?;
            let window = (program.starts_at, program.ends_at);
            notify::published(conn, (program.id, &program.title), window, &members)?;
        }
    }
    audit::record(conn, actor, entry(Action::ProgramPublish, &program))?;
    let changed = get(conn, id)?;
    view(conn, &changed)
}

/// The members a program just published is open to: the active members of its union's
/// subtree whom its rules do not refuse.
fn open_to(conn: &mut DbConn, user: &AuthUser, program: &Program) -> Result<Vec<i64>> {
    let everyone = broadcasts::recipients(conn, user, program.org_id, &Audience::default())?;
    let now = platform::clock::now();
    let mut open = Vec::with_capacity(everyone.len());
    for accounts in everyone.chunks(1000) {
        let refused = program
            .rules
            .refusals(conn, program.org_id, accounts, now)?;
        open.extend(accounts.iter().filter(|a| !refused.contains_key(a)));
    }
    Ok(open)
}

/// 256 random bits, hex.
fn hex_seed() -> String {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut seed);
    hex::encode(seed)
}

/// The use case: no more claims or bookings. Closing twice is harmless.
pub fn close(conn: &mut DbConn, user: &AuthUser, actor: &Actor, id: i64) -> Result<ProgramView> {
    let program = managed(conn, user, id)?;
    diesel::update(p::table.find(program.id))
        .filter(p::status.ne(ProgramStatus::Closed.as_str()))
        .set((
            p::status.eq(ProgramStatus::Closed.as_str()),
            p::closed_at.eq(platform::clock::now()),
        ))
        .execute(conn)?;
    audit::record(conn, actor, entry(Action::ProgramClose, &program))?;
    let changed = get(conn, id)?;
    view(conn, &changed)
}

impl Program {
    /// Refuses unless the program takes claims or bookings right now.
    /// Published and within its dates.
    pub fn is_open(&self, now: NaiveDateTime) -> bool {
        self.status == ProgramStatus::Published && self.starts_at <= now && now < self.ends_at
    }

    pub fn require_open(&self, now: NaiveDateTime) -> Result<()> {
        if self.is_open(now) {
            Ok(())
        } else {
            Err(Error::new(ErrorCode::ProgramNotOpen))
        }
    }

    pub fn require_kind(&self, kind: ProgramKind) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(Error::new(ErrorCode::WrongProgramKind))
        }
    }

    /// Refuses a program whose members do not book sessions.
    pub fn require_sessions(&self) -> Result<()> {
        if self.kind.has_sessions() {
            Ok(())
        } else {
            Err(Error::new(ErrorCode::WrongProgramKind))
        }
    }

    /// When a voucher issued now stops being redeemable.
    pub fn voucher_valid_until(&self, issued: NaiveDateTime) -> Option<NaiveDateTime> {
        self.voucher_valid_days
            .map(|d| issued + Duration::days(i64::from(d)))
    }
}

/// A program as members and staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramView {
    pub id: i64,
    /// The issuing org; members of its subtree may use the program.
    pub org: OrgRef,
    pub kind: ProgramKind,
    pub title: String,
    pub description: String,
    pub status: ProgramStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub per_member_limit: i32,
    pub eligibility: Rules,
    /// Gift packs: first_come or draw.
    pub mode: Mode,
    pub stock_total: Option<i32>,
    /// Gift packs left to claim.
    pub stock_left: Option<i32>,
    /// Health checks: seats left over the sessions still ahead.
    pub seats_left: Option<i64>,
    pub voucher_valid_days: Option<i32>,
    /// Fair mode: entries close then and the draw follows.
    pub entry_closes_at: Option<DateTime<Utc>>,
    /// Fair mode: published before the window opens; with the entries it fixes the winners.
    pub draw_seed: Option<String>,
    pub drawn_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
}

pub fn view(conn: &mut DbConn, program: &Program) -> Result<ProgramView> {
    let seats_left = match program.kind {
        kind if kind.has_sessions() => {
            let sessions: Vec<(i32, i32)> = hs::table
                .filter(hs::program_id.eq(program.id))
                .filter(hs::ends_at.gt(platform::clock::now()))
                .filter(hs::cancelled_at.is_null())
                .select((hs::capacity, hs::booked))
                .load(conn)?;
            Some(
                sessions
                    .iter()
                    .map(|(cap, booked)| i64::from(cap - booked))
                    .sum(),
            )
        }
        _ => None,
    };
    Ok(ProgramView {
        id: program.id,
        org: orgs::reference(conn, program.org_id)?,
        kind: program.kind,
        title: program.title.clone(),
        description: program.description.clone(),
        status: program.status,
        starts_at: program.starts_at.and_utc(),
        ends_at: program.ends_at.and_utc(),
        per_member_limit: program.per_member_limit,
        eligibility: program.rules.clone(),
        mode: program.mode,
        stock_total: program.stock_total,
        stock_left: program.stock_left,
        seats_left,
        voucher_valid_days: program.voucher_valid_days,
        entry_closes_at: program.entry_closes_at.map(|t| t.and_utc()),
        draw_seed: program.draw_seed.clone(),
        drawn_at: program.drawn_at.map(|t| t.and_utc()),
        published_at: program.published_at.map(|t| t.and_utc()),
    })
}

/// Published, running programs a member may use: issued by an org at or above the member's org
/// and passing every rule.
pub fn eligible_for(conn: &mut DbConn, member: &ActiveMember) -> Result<Vec<Program>> {
    let now = platform::clock::now();
    let mut programs: Vec<Program> = p::table
        .inner_join(c::table.on(c::ancestor_id.eq(p::org_id)))
        .filter(c::descendant_id.eq(member.org_id))
        .filter(p::status.eq(ProgramStatus::Published.as_str()))
        .filter(p::ends_at.gt(now))
        .order(p::id.desc())
        .select(Program::as_select())
        .load(conn)?;
    programs.retain(|program| program.rules.check_personal(member, now).is_ok());
    Ok(programs)
}

#[derive(Serialize, ToSchema)]
pub struct ProgramDetail {
    #[serde(flatten)]
    pub program: ProgramView,
    /// Whether the caller may use it now.
    pub eligible: bool,
    /// If not, the problem code that says why (e.g. `not_eligible_new_members_only`).
    pub ineligible_reason: Option<String>,
}

/// The use case: the programs the caller may use now, with stock or seats left. Empty for
/// non-members.
pub fn for_member(conn: &mut DbConn, account_id: i64) -> Result<Vec<ProgramView>> {
    let Some(member) = membership::applications::active_member(conn, account_id)? else {
        return Ok(Vec::new());
    };
    eligible_for(conn, &member)?
        .iter()
        .map(|p| view(conn, p))
        .collect()
}

/// The use case: a published program (a draft is `not_found`), and whether the caller may use
/// it now, or the problem code that says why not.
pub fn detail(
    conn: &mut DbConn,
    account_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> Result<ProgramDetail> {
    let program = published(conn, id)?;
    let verdict = active_member(conn, account_id).and_then(|member| {
        program.require_open(now)?;
        program.rules.check(conn, program.org_id, &member, now)
    });
    Ok(ProgramDetail {
        program: view(conn, &program)?,
        eligible: verdict.is_ok(),
        ineligible_reason: verdict.err().map(|e| e.code().as_str().to_owned()),
    })
}

// ---- what staff see ----

/// The filter of `GET /v1/admin/orgs/{id}/programs`.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgramFilter {
    /// Only programs in this state: draft, published or closed (any when absent).
    #[param(inline)]
    pub status: Option<ProgramStatus>,
}

/// A program in a staff list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramSummary {
    pub id: i64,
    /// The issuing org: the listed org or one below it.
    pub org: OrgRef,
    pub kind: ProgramKind,
    pub title: String,
    pub status: ProgramStatus,
    /// Gift packs: first_come or draw.
    pub mode: Mode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Gift packs: the stock, and what is left of it.
    pub stock_total: Option<i32>,
    pub stock_left: Option<i32>,
    /// Health checks: the sessions not cancelled (0 for gift packs).
    pub session_count: i64,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

/// The use case: staff list the programs issued in their subtree (by the org or any below
/// it), drafts included, newest first.
pub fn list(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    filter: ProgramFilter,
    page: Page,
) -> Result<Paged<ProgramSummary>> {
    staff::require(conn, user, org_id)?;
    let mut query = p::table
        .inner_join(c::table.on(c::descendant_id.eq(p::org_id)))
        .inner_join(o::table.on(o::id.eq(p::org_id)))
        .filter(c::ancestor_id.eq(org_id))
        .filter(p::id.lt(page.before.unwrap_or(i64::MAX)))
        .order(p::id.desc())
        .limit(page.limit + 1)
        .select((Program::as_select(), o::name))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(p::status.eq(status.as_str()));
    }
    let rows: Vec<(Program, String)> = query.load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(program, _)| program.id).collect();
    let sessions: HashMap<i64, i64> = hs::table
        .filter(hs::program_id.eq_any(&ids))
        .filter(hs::cancelled_at.is_null())
        .group_by(hs::program_id)
        .select((hs::program_id, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let items = rows
        .into_iter()
        .map(|(program, org_name)| ProgramSummary {
            id: program.id,
            org: OrgRef {
                id: program.org_id,
                name: org_name,
            },
            kind: program.kind,
            title: program.title,
            status: program.status,
            mode: program.mode,
            starts_at: program.starts_at.and_utc(),
            ends_at: program.ends_at.and_utc(),
            stock_total: program.stock_total,
            stock_left: program.stock_left,
            session_count: sessions.get(&program.id).copied().unwrap_or(0),
            created_at: program.created_at.and_utc(),
            published_at: program.published_at.map(|t| t.and_utc()),
        })
        .collect();
    Ok(Paged::from_rows(items, page, |s| s.id))
}

/// A program as its staff see it: drafts too, with all its sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffProgramDetail {
    #[serde(flatten)]
    pub program: ProgramView,
    pub created_at: DateTime<Utc>,
    /// Health checks: every session, soonest first, past and cancelled ones included.
    pub sessions: Vec<SessionView>,
}

/// The use case: staff read one program of their subtree, in any state.
pub fn staff_detail(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<StaffProgramDetail> {
    let program = managed(conn, user, id)?;
    staff_view(conn, &program)
}

pub(crate) fn staff_view(conn: &mut DbConn, program: &Program) -> Result<StaffProgramDetail> {
    Ok(StaffProgramDetail {
        program: view(conn, program)?,
        created_at: program.created_at.and_utc(),
        sessions: health_sessions::of_program(conn, program.id)?,
    })
}
