//! Demo dispute cases, so that the console's 维权案件 pages and a demo rider's app hold cases in
//! every state: a wage claim of three 玄武 riders against one contractor, accepted, mediated by
//! 玄武's staff on its rota, with a question and its answer and an agreement in two instalments
//! of which the first is paid; a 秦淮 member's claim against the same contractor (so each shows
//! two open cases against it); a platform penalty and an applicant's social-insurance claim
//! waiting; a labour-relation case declined with a referral; a work injury referred to labour
//! arbitration; a small wage claim settled, paid and followed up; a third claim against the
//! same contractor accepted, with a mediation meeting tomorrow.
//!
//! Everything goes through the use cases the API and the console call, so the rows (timeline,
//! consent, audit, notifications) are what the service writes. Nothing is seeded once any case
//! exists.

use chrono::Days;
use diesel::prelude::*;
use identity::phone::Phone;
use identity::AuthUser;
use platform::audit::Actor;
use platform::db::write_tx;
use platform::money::Fen;
use platform::schema::cases as c;
use platform::text::{Prose, Text};
use platform::{DbConn, Result};
use rights::agreements::{InstalmentInput, SignAgreement};
use rights::cases::{FileCase, RespondentInput};
use rights::claimants::JoinCase;
use rights::closing::{FollowUp, Refer};
use rights::decisions::{Accept, Decline};
use rights::mediators::{AssignMediator, Weekdays};
use rights::meetings::{self, ScheduleMeeting};
use rights::messages::{PostMessage, StaffMessage};
use rights::vocab::{Agency, CaseClass, CaseKind, RespondentKind, Venue};
use rights::{agreements, cases, claimants, closing, decisions, mediators, messages, Rights};

use crate::AppState;

/// The contractor three riders of 玄武 and one of 秦淮 claim against.
const CONTRACTOR: (&str, &str) = ("南京速达配送服务有限公司", "91320102MA1N2K3P42");

enum Outcome {
    Waiting,
    /// Accepted into a class, with a question of staff and the filer's answer, and agreed in
    /// instalments (days from today, yuan), the first paid.
    Agreed(CaseClass, &'static str, &'static str, &'static [(u64, i64)]),
    /// Declined with a reason and a referral.
    Declined(&'static str, &'static str),
    /// Accepted, then handed to labour arbitration with this reply.
    Referred(&'static str),
    /// Accepted, agreed in one payment, paid, and followed up with this rating.
    Settled(i64, u8),
    /// Accepted, with a mediation meeting tomorrow at this place.
    Meeting(&'static str),
}

struct DemoCase {
    filer: &'static str,
    /// Colleagues who join with the invite code, and what each claims (fen).
    colleagues: &'static [(&'static str, i64)],
    kind: CaseKind,
    respondent: (RespondentKind, &'static str, Option<&'static str>),
    amount_fen: i64,
    /// The claim's period: from and to, in days before today.
    period_days_ago: Option<(u64, u64)>,
    facts: &'static str,
    /// The demo staff of the district that decides it.
    staff: &'static str,
    outcome: Outcome,
}

const CASES: &[DemoCase] = &[
    DemoCase {
        filer: "13902500001",
        colleagues: &[("13902500002", 180_000), ("13902500003", 95_000)],
        kind: CaseKind::WageArrears,
        respondent: (RespondentKind::Contractor, CONTRACTOR.0, Some(CONTRACTOR.1)),
        amount_fen: 230_000,
        period_days_ago: Some((90, 31)),
        facts: "我们在美团玄武站跑单，由南京速达配送服务有限公司结算配送费。\n九月、十月两个月的配送费一直没有结清，站长说公司资金紧张，让我们再等等。",
        staff: "13800000001",
        outcome: Outcome::Agreed(
            CaseClass::Complex,
            "请补充九月、十月的骑手App收入截图，以及与站长的聊天记录。",
            "好的，今晚下班后上传。",
            &[(0, 2_500), (30, 2_250)],
        ),
    },
    DemoCase {
        filer: "13902500036",
        colleagues: &[],
        kind: CaseKind::WageArrears,
        respondent: (RespondentKind::Contractor, CONTRACTOR.0, Some(CONTRACTOR.1)),
        amount_fen: 64_000,
        period_days_ago: Some((62, 31)),
        facts: "十月在秦淮站跑单的配送费未结算，共约六百四十元。",
        staff: "13800000002",
        outcome: Outcome::Waiting,
    },
    DemoCase {
        filer: "13902500004",
        colleagues: &[],
        kind: CaseKind::PlatformPenalty,
        respondent: (RespondentKind::Platform, "某外卖平台（南京）", None),
        amount_fen: 50_000,
        period_days_ago: Some((12, 12)),
        facts: "暴雨天送餐超时被扣款五百元并封号三天，申诉没有回复。",
        staff: "13800000001",
        outcome: Outcome::Waiting,
    },
    DemoCase {
        filer: "13902500028",
        colleagues: &[],
        kind: CaseKind::SocialInsurance,
        respondent: (RespondentKind::Employer, "南京快运物流有限公司", None),
        amount_fen: 0,
        period_days_ago: Some((400, 40)),
        facts: "在快运公司开货车一年多，公司一直没有给我缴社保。",
        staff: "13800000002",
        outcome: Outcome::Waiting,
    },
    DemoCase {
        filer: "13902500005",
        colleagues: &[],
        kind: CaseKind::LabourRelation,
        respondent: (RespondentKind::Contractor, "南京某劳务外包有限公司", None),
        amount_fen: 0,
        period_days_ago: None,
        facts: "想确认我和外包公司之间是不是劳动关系，公司说我是个体工商户。",
        staff: "13800000001",
        outcome: Outcome::Declined(
            "您已就同一事项向劳动人事争议仲裁委员会申请仲裁，案件正在审理中，工会不再重复受理。可携带仲裁材料到工会驿站咨询值班律师。",
            "玄武区劳动人事争议仲裁委员会",
        ),
    },
    DemoCase {
        filer: "13902500007",
        colleagues: &[],
        kind: CaseKind::WorkInjury,
        respondent: (RespondentKind::Employer, "南京捷达快递有限公司", None),
        amount_fen: 3_000_000,
        period_days_ago: Some((75, 75)),
        facts: "派件时在小区门口被车撞伤，公司不认可工伤，也不给报销医药费。",
        staff: "13800000001",
        outcome: Outcome::Referred(
            "工伤认定需由人社部门作出，工会已协助您准备工伤认定申请材料，并与区劳动人事争议仲裁委员会对接。请携带病历、派件记录到区政务服务中心人社窗口提交申请。",
        ),
    },
    DemoCase {
        filer: "13902500008",
        colleagues: &[],
        kind: CaseKind::WageArrears,
        respondent: (RespondentKind::Contractor, "南京顺捷物流服务有限公司", None),
        amount_fen: 86_000,
        period_days_ago: Some((45, 15)),
        facts: "离职后最后一个月的工资八百六十元一直没发。",
        staff: "13800000001",
        outcome: Outcome::Settled(86_000, 5),
    },
    DemoCase {
        filer: "13902500009",
        colleagues: &[],
        kind: CaseKind::WageArrears,
        respondent: (RespondentKind::Contractor, CONTRACTOR.0, Some(CONTRACTOR.1)),
        amount_fen: 120_000,
        period_days_ago: Some((60, 30)),
        facts: "十月的派送费被扣了一半，说是差评罚款，但没有任何记录。",
        staff: "13800000001",
        outcome: Outcome::Meeting("玄武区总工会职工服务中心调解室（北京东路）"),
    },
];

fn account(state: &AppState, conn: &mut DbConn, phone: &str) -> Result<Option<i64>> {
    let phone = Phone::parse(phone).expect("valid demo phone");
    Ok(state
        .identity
        .credentials(conn, &phone)?
        .map(|c| c.account_id))
}

fn filing(case: &DemoCase) -> FileCase {
    let today = platform::clock::today();
    let (from, to) = case
        .period_days_ago
        .map(|(from, to)| (today - Days::new(from), today - Days::new(to)))
        .unzip();
    let (kind, name, code) = case.respondent;
    FileCase {
        kind: case.kind,
        org_id: None,
        respondent: RespondentInput {
            kind,
            name: Text::parse(name).expect("a demo name"),
            credit_code: code.map(str::to_owned),
            address: None,
            contact: None,
        },
        amount_claimed_fen: Fen::new(case.amount_fen).expect("a demo amount"),
        period_from: from,
        period_to: to,
        facts: Prose::parse(case.facts).expect("demo facts"),
        consent: true,
    }
}

/// Files, joins and decides one demo case; false when one of its people is not seeded.
fn seed_case(
    state: &AppState,
    rights: &Rights,
    conn: &mut DbConn,
    case: &DemoCase,
) -> Result<bool> {
    let (Some(filer), Some(staff)) = (
        account(state, conn, case.filer)?,
        account(state, conn, case.staff)?,
    ) else {
        return Ok(false);
    };
    let (config, protector, system) = (&rights.config, rights.files.protector(), Actor::system());
    let new = filing(case).validate()?;
    let filed = cases::file(conn, config, protector, (filer, &system), new)?;
    for (phone, amount) in case.colleagues {
        if let Some(colleague) = account(state, conn, phone)? {
            let join = JoinCase {
                invite_code: filed.invite_code.clone().unwrap_or_default(),
                amount_claimed_fen: Fen::new(*amount).expect("a demo amount"),
                consent: true,
            };
            claimants::join(conn, config, protector, (colleague, &system), join)?;
        }
    }
    let user = AuthUser {
        account_id: staff,
        roles: Vec::new(),
    };
    carry_out(
        conn,
        rights,
        (&user, &system),
        filer,
        filed.id,
        &case.outcome,
    )?;
    Ok(true)
}

/// Takes a filed demo case where its story ends, as the deciding staff `by`.
fn carry_out(
    conn: &mut DbConn,
    rights: &Rights,
    by: (&AuthUser, &Actor),
    filer: i64,
    case_id: i64,
    outcome: &Outcome,
) -> Result<()> {
    let (config, protector) = (&rights.config, rights.files.protector());
    let accept = |conn: &mut DbConn, class| {
        let body = Accept {
            class,
            message: None,
        };
        decisions::accept(conn, config, protector, by, case_id, body)
    };
    match *outcome {
        Outcome::Waiting => {}
        Outcome::Agreed(class, question, answer, instalments) => {
            accept(conn, class)?;
            let assign = AssignMediator {
                account_id: by.0.account_id,
                with_group: false,
            };
            mediators::assign(conn, config, protector, by, case_id, assign)?;
            let body = Prose::parse(question).expect("a demo question");
            let question = StaffMessage {
                body,
                internal: false,
            };
            messages::write(conn, protector, by, case_id, question)?;
            let body = Prose::parse(answer).expect("a demo answer");
            messages::reply(conn, protector, filer, case_id, PostMessage { body })?;
            agree_and_pay_first(conn, rights, by, case_id, instalments)?;
        }
        Outcome::Declined(reason, referral) => {
            let decline = Decline {
                reason: Prose::parse(reason).expect("a demo reason"),
                referral: Text::parse(referral),
            };
            decisions::decline(conn, config, protector, by, case_id, decline)?;
        }
        Outcome::Referred(reply) => {
            accept(conn, CaseClass::Special)?;
            let refer = Refer {
                agency: Agency::LabourArbitration,
                reply: Prose::parse(reply).expect("a demo reply"),
            };
            closing::refer(conn, config, protector, by, case_id, refer)?;
        }
        Outcome::Meeting(place) => {
            accept(conn, CaseClass::General)?;
            let meeting = ScheduleMeeting {
                starts_at: (platform::clock::now() + chrono::TimeDelta::days(1)).and_utc(),
                venue: Venue::Room,
                place: Text::parse(place).expect("a demo place"),
                respondent_invited: true,
                with_group: false,
            };
            meetings::schedule(conn, config, protector, by, case_id, meeting)?;
        }
        Outcome::Settled(fen, rating) => {
            accept(conn, CaseClass::General)?;
            agree_and_pay_first(conn, rights, by, case_id, &[(3, fen / 100)])?;
            let follow_up = FollowUp { rating, note: None };
            closing::follow_up(conn, config, protector, by, case_id, follow_up)?;
        }
    }
    Ok(())
}

/// Records an agreement paid by the respondent in `instalments` (days from today, yuan), and
/// the first of them as paid (the only one closes the case).
fn agree_and_pay_first(
    conn: &mut DbConn,
    rights: &Rights,
    by: (&AuthUser, &Actor),
    case_id: i64,
    instalments: &[(u64, i64)],
) -> Result<()> {
    let today = platform::clock::today();
    let instalments = instalments
        .iter()
        .map(|&(days, yuan)| InstalmentInput {
            due_on: today + Days::new(days),
            amount_fen: Fen::new(yuan * 100).expect("a demo amount"),
        })
        .collect();
    let body = SignAgreement {
        payer: Text::parse("被申请人").expect("a demo payer"),
        jointly_liable: None,
        instalments,
    };
    let (config, protector) = (&rights.config, rights.files.protector());
    let agreed = agreements::sign(conn, config, protector, by, case_id, body)?;
    let first = agreed
        .agreement
        .and_then(|a| a.instalments.first().map(|i| i.id));
    agreements::pay(
        conn,
        config,
        protector,
        by,
        case_id,
        first.unwrap_or_default(),
    )?;
    Ok(())
}

/// Puts the deciding staff on their org's rota, Monday to Friday (a mediator of the demo).
fn on_rota(conn: &mut DbConn, state: &AppState, phone: &str) -> Result<()> {
    let Some(account) = account(state, conn, phone)? else {
        return Ok(());
    };
    let Some(org) = membership::orgs::named(conn, "玄武区总工会")? else {
        return Ok(());
    };
    let staff = AuthUser {
        account_id: account,
        roles: Vec::new(),
    };
    let phone = Phone::parse(phone).expect("valid demo phone");
    let days = Weekdays::parse(&[1, 2, 3, 4, 5]).expect("weekdays");
    mediators::add(
        conn,
        &state.identity,
        (&staff, &Actor::system()),
        org,
        (phone, days),
    )?;
    Ok(())
}

/// Seeds the demo cases unless any case exists; returns how many it filed.
pub async fn seed(state: &AppState) -> anyhow::Result<usize> {
    let (state, rights) = (state.clone(), state.rights.clone());
    state
        .db
        .clone()
        .run(move |conn| {
            let any: i64 = c::table.count().get_result(conn)?;
            if any > 0 {
                return Ok(0);
            }
            write_tx(conn, |conn| on_rota(conn, &state, "13800000001"))?;
            let mut filed = 0;
            for case in CASES {
                if write_tx(conn, |conn| seed_case(&state, &rights, conn, case))? {
                    filed += 1;
                }
            }
            Ok(filed)
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}
