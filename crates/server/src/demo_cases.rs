//! Demo dispute cases, so that the console's 维权案件 pages and a demo rider's app hold cases in
//! every state: a wage claim of three 玄武 riders against one contractor, accepted, with a
//! question and its answer; a 秦淮 member's claim against the same contractor (so each shows
//! two open cases against it); a platform penalty and an applicant's social-insurance claim
//! waiting; a labour-relation case declined with a referral.
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
use rights::cases::{FileCase, RespondentInput};
use rights::claimants::JoinCase;
use rights::decisions::{Accept, Decline};
use rights::messages::{PostMessage, StaffMessage};
use rights::vocab::{CaseClass, CaseKind, RespondentKind};
use rights::{cases, claimants, decisions, messages, Rights};

use crate::AppState;

/// The contractor three riders of 玄武 and one of 秦淮 claim against.
const CONTRACTOR: (&str, &str) = ("南京速达配送服务有限公司", "91320102MA1N2K3P42");

enum Outcome {
    Waiting,
    /// Accepted into a class, with a question of staff and the filer's answer.
    Accepted(CaseClass, &'static str, &'static str),
    /// Declined with a reason and a referral.
    Declined(&'static str, &'static str),
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
        outcome: Outcome::Accepted(
            CaseClass::General,
            "请补充九月、十月的骑手App收入截图，以及与站长的聊天记录。",
            "好的，今晚下班后上传。",
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
    let by = (&user, &system);
    match case.outcome {
        Outcome::Waiting => {}
        Outcome::Accepted(class, question, answer) => {
            decisions::accept(
                conn,
                config,
                protector,
                by,
                filed.id,
                Accept {
                    class,
                    message: None,
                },
            )?;
            let body = Prose::parse(question).expect("a demo question");
            messages::write(
                conn,
                protector,
                by,
                filed.id,
                StaffMessage {
                    body,
                    internal: false,
                },
            )?;
            let body = Prose::parse(answer).expect("a demo answer");
            messages::reply(conn, protector, filer, filed.id, PostMessage { body })?;
        }
        Outcome::Declined(reason, referral) => {
            let decline = Decline {
                reason: Prose::parse(reason).expect("a demo reason"),
                referral: Text::parse(referral),
            };
            decisions::decline(conn, config, protector, by, filed.id, decline)?;
        }
    }
    Ok(true)
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
