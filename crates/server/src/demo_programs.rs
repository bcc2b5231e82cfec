//! Demo benefit programs, so that a newcomer who joins with the 玄武 poster finds something to
//! claim and to book: the warm-the-new gift pack and the free check on the health truck of the
//! Jiangsu "8+X" service fair (source article 003: a truck that does about 200 exams a day),
//! and time with the duty lawyer of the union's legal service station (article 001: Quanzhou's
//! union lawyers give free advice), at the service centre or by phone.
//! They go through the benefits crate's own use cases, as staff would create them over the API,
//! so the demo rows are what the service itself writes (audit entries included).

use std::time::Duration;

use benefits::eligibility::Rules;
use benefits::health_sessions::{self, NewSession};
use benefits::programs::{self, NewProgram};
use benefits::vocab::{Mode, ProgramKind};
use diesel::prelude::*;
use identity::phone::Phone;
use identity::AuthUser;
use membership::orgs::Location;
use platform::audit::Actor;
use platform::clock::shanghai_midnight;
use platform::db::write_tx;
use platform::schema::programs as p;
use platform::DbConn;

use crate::AppState;

const GIFT_TITLE: &str = "暖“新”礼包";
const GIFT_TEXT: &str =
    "苏工暖“新”行动：入会一年内的外卖骑手、快递员等新就业形态劳动者每人可领一份\
     暖“新”安康礼包（防暑降温用品、应急药包、反光背心）。领取后凭券码到玄武区总工会职工服务中心\
     （北京东路）兑换，30天内有效，先到先得。";
/// The article's figure: 550 couriers and delivery riders got a pack.
const GIFT_STOCK: i32 = 550;
const GIFT_DAYS: u32 = 30;

const CHECK_TITLE: &str = "免费健康体检 · 流动体检车";
const CHECK_TEXT: &str = "省总工会流动体检车开到玄武：常规体检项目外加CT医学影像检查，送检上门、\
     免费。请选择场次预约，携带身份证按时到场，工作人员扫码签到；体检报告出具后可在App中查看。";
const TRUCK_SITE: &str = "流动体检车 · 玄武区总工会职工服务中心";
const TRUCK_ADDRESS: &str = "江苏省南京市玄武区北京东路";
const TRUCK_AT: Location = Location {
    lat: 32.0548,
    lng: 118.8038,
};
/// Exams the truck does in a day.
const TRUCK_SEATS: i32 = 200;

const LAWYER_TITLE: &str = "值班律师免费法律咨询";
const LAWYER_TEXT: &str = "工资拖欠、社保、工伤、劳动关系认定、平台罚款……工会职工维权律师一对一免费解答，\
     每次约15分钟。可到玄武区总工会职工服务中心工会法律服务工作站面谈，或预约电话咨询（律师按预约时间致电您的注册手机）。\
     需要工会帮助调解的，可在App中提交维权申请。";
const LAWYER_SITE: &str = "工会法律服务工作站 · 玄武区总工会职工服务中心";
/// One lawyer, three afternoon hours, a quarter of an hour each.
const LAWYER_SEATS: i32 = 12;
const PHONE_SITE: &str = "电话咨询";
const PHONE_ADDRESS: &str = "值班律师按预约时间致电您的注册手机";
const PHONE_SEATS: i32 = 8;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Adds the programs `issuer` (an org's name) lacks, by title: a second run adds nothing. Its
/// staff of `staff_phone` creates them. Returns how many were created; none when the issuer or
/// its staff is not seeded.
pub async fn seed(
    state: &AppState,
    issuer: &'static str,
    staff_phone: &str,
) -> anyhow::Result<usize> {
    let identity = state.identity.clone().into_inner();
    let staff_phone = Phone::parse(staff_phone).expect("valid demo phone");
    let created = state
        .db
        .run(move |conn| {
            let staff = identity.credentials(conn, &staff_phone)?;
            let Some((org_id, staff)) = membership::orgs::named(conn, issuer)?.zip(staff) else {
                return Ok(None);
            };
            // The staff of the issuing org acts, as over the API; the audit log names the
            // system, since no one signed in.
            let user = AuthUser {
                account_id: staff.account_id,
                roles: Vec::new(),
            };
            write_tx(conn, |conn| {
                let gift = ensure(conn, &user, gift_pack(org_id, &user))?;
                let check = ensure(conn, &user, health_check(org_id, &user))?;
                if let Some(program_id) = check {
                    add_sessions(conn, &user, truck_sessions(program_id))?;
                }
                let lawyer = ensure(conn, &user, consultation(org_id, &user))?;
                if let Some(program_id) = lawyer {
                    add_sessions(conn, &user, lawyer_sessions(program_id))?;
                }
                let created = [gift, check, lawyer].iter().flatten().count();
                Ok(Some(created))
            })
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(created) = created else {
        tracing::warn!(
            issuer,
            "demo programs skipped: the issuer or its staff is missing"
        );
        return Ok(0);
    };
    if created > 0 {
        tracing::info!(programs = created, issuer, "demo programs loaded");
    }
    Ok(created)
}

/// Creates and publishes `new` unless its issuer already has a program of that title; the id
/// when it was created now.
fn ensure(conn: &mut DbConn, user: &AuthUser, new: NewProgram) -> platform::Result<Option<i64>> {
    let exists: bool = diesel::select(diesel::dsl::exists(
        p::table
            .filter(p::org_id.eq(new.org_id))
            .filter(p::title.eq(&new.title)),
    ))
    .get_result(conn)?;
    if exists {
        return Ok(None);
    }
    let actor = Actor::system();
    let draft = programs::create(conn, user, &actor, new)?;
    programs::publish(conn, user, &actor, draft.id)?;
    Ok(Some(draft.id))
}

fn gift_pack(org_id: i64, user: &AuthUser) -> NewProgram {
    let now = platform::clock::now();
    NewProgram {
        org_id,
        kind: ProgramKind::GiftPack,
        title: GIFT_TITLE.to_owned(),
        description: GIFT_TEXT.to_owned(),
        starts_at: now,
        ends_at: now + DAY * GIFT_DAYS,
        per_member_limit: 1,
        // Warm-the-new: for members who joined within the year, which every newcomer is.
        rules: Rules {
            joined_within_days: Some(365),
            ..Rules::default()
        },
        mode: Mode::FirstCome,
        stock: Some(GIFT_STOCK),
        voucher_valid_days: Some(30),
        entry_closes_at: None,
        created_by: user.account_id,
    }
}

/// The truck's sessions: tomorrow and the day after (Asia/Shanghai), 09:00-17:00, stored in
/// UTC like every time; `program_id` is filled in once the program exists.
fn truck_sessions(program_id: i64) -> Vec<NewSession> {
    let tomorrow = platform::clock::today()
        .succ_opt()
        .expect("a date after today");
    let day_after = tomorrow.succ_opt().expect("a date after tomorrow");
    [tomorrow, day_after]
        .into_iter()
        .map(|day| {
            let opens = shanghai_midnight(day) + 9 * HOUR;
            NewSession {
                program_id,
                site_name: TRUCK_SITE.to_owned(),
                address: TRUCK_ADDRESS.to_owned(),
                location: Some(TRUCK_AT),
                starts_at: opens,
                ends_at: opens + 8 * HOUR,
                capacity: TRUCK_SEATS,
            }
        })
        .collect()
}

fn health_check(org_id: i64, user: &AuthUser) -> NewProgram {
    let now = platform::clock::now();
    let last_session_ends = truck_sessions(0)
        .iter()
        .map(|s| s.ends_at)
        .max()
        .expect("the truck comes");
    NewProgram {
        org_id,
        kind: ProgramKind::HealthCheck,
        title: CHECK_TITLE.to_owned(),
        description: CHECK_TEXT.to_owned(),
        starts_at: now,
        // Bookings are taken until the truck leaves.
        ends_at: last_session_ends,
        per_member_limit: 1,
        rules: Rules::default(),
        mode: Mode::FirstCome,
        stock: None,
        voucher_valid_days: None,
        entry_closes_at: None,
        created_by: user.account_id,
    }
}

/// The lawyer's sessions: tomorrow and the day after, 14:00-17:00 at the station and
/// 19:00-21:00 by phone (after the lunch and dinner rushes riders work through).
fn lawyer_sessions(program_id: i64) -> Vec<NewSession> {
    let tomorrow = platform::clock::today()
        .succ_opt()
        .expect("a date after today");
    let day_after = tomorrow.succ_opt().expect("a date after tomorrow");
    let mut sessions = Vec::new();
    for day in [tomorrow, day_after] {
        let midnight = shanghai_midnight(day);
        sessions.push(NewSession {
            program_id,
            site_name: LAWYER_SITE.to_owned(),
            address: TRUCK_ADDRESS.to_owned(),
            location: Some(TRUCK_AT),
            starts_at: midnight + 14 * HOUR,
            ends_at: midnight + 17 * HOUR,
            capacity: LAWYER_SEATS,
        });
        sessions.push(NewSession {
            program_id,
            site_name: PHONE_SITE.to_owned(),
            address: PHONE_ADDRESS.to_owned(),
            location: None,
            starts_at: midnight + 19 * HOUR,
            ends_at: midnight + 21 * HOUR,
            capacity: PHONE_SEATS,
        });
    }
    sessions
}

fn consultation(org_id: i64, user: &AuthUser) -> NewProgram {
    let last_session_ends = lawyer_sessions(0)
        .iter()
        .map(|s| s.ends_at)
        .max()
        .expect("the lawyer is on duty");
    NewProgram {
        kind: ProgramKind::LegalConsultation,
        title: LAWYER_TITLE.to_owned(),
        description: LAWYER_TEXT.to_owned(),
        ends_at: last_session_ends,
        // A worker may come back once with what the lawyer asked for.
        per_member_limit: 2,
        ..health_check(org_id, user)
    }
}

fn add_sessions(
    conn: &mut DbConn,
    user: &AuthUser,
    sessions: Vec<NewSession>,
) -> platform::Result<()> {
    for session in sessions {
        health_sessions::create(conn, user, &Actor::system(), session)?;
    }
    Ok(())
}
