//! The demo hardship grant, so that the console's 困难帮扶 pages and a demo rider's app hold
//! applications in every state: 南京市总工会's one-off grant of 600 yuan a household, with a
//! share for 玄武 and one for 秦淮, for riders and couriers whose orders fell below 50 a month
//! for two months; nine demo riders have applied, and their applications stand submitted,
//! reviewed, verified, on the notice, approved, rejected, in a payment batch, paid, and failed
//! at the bank.
//!
//! Everything goes through the use cases the API and the console call, as the demo admin, so
//! the rows (timeline, ledger, notices, audit) are what the service writes. One thing is not:
//! approval waits for the end of the public notice, so the applications taken past it were
//! put on the notice eight days ago (their notice's end is moved back). Nothing is seeded once
//! the program exists.

use chrono::{Datelike, Duration};
use diesel::prelude::*;
use identity::phone::Phone;
use identity::AuthUser;
use platform::audit::Actor;
use platform::crypto::DataProtector;
use platform::db::write_tx;
use platform::money::Fen;
use platform::schema::{grant_applications as ga, programs as p};
use platform::text::{Prose, Text};
use platform::{DbConn, Result};

use benefits::grants::apply::{self, ApplyForGrant, MonthOrders, Payout};
use benefits::grants::payments::{self, CreateBatch, FailedPayment, PaymentResults};
use benefits::grants::review::{self, RejectGrant, StepNote, Verify};
use benefits::grants::terms::{self, CreateGrantProgram, GrantRules, OrdersBelow, ShareInput};
use benefits::grants::vocab::{HardshipCause, VerifyMethod};

use crate::seed::DEMO_ADMIN_PHONE;
use crate::AppState;

const TITLE: &str = "新就业形态劳动者一次性困难帮扶（2026年冬季）";
const AMOUNT_FEN: i64 = 60_000;

/// How far along an application's path the demo takes it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Submitted,
    Reviewed,
    Verified,
    OnNotice,
    Approved,
    Rejected,
    Paying,
    Paid,
    PaymentFailed,
}

/// The applicants (demo riders), their cause and their two months' orders.
const APPLICANTS: &[(&str, HardshipCause, [u32; 2], Stage)] = &[
    (
        "13902500012",
        HardshipCause::NoIncome,
        [31, 12],
        Stage::Submitted,
    ),
    (
        "13902500018",
        HardshipCause::NoIncome,
        [42, 20],
        Stage::Reviewed,
    ),
    (
        "13902500022",
        HardshipCause::Illness,
        [8, 0],
        Stage::Verified,
    ),
    (
        "13902500021",
        HardshipCause::NoIncome,
        [25, 30],
        Stage::OnNotice,
    ),
    (
        "13902500006",
        HardshipCause::NoIncome,
        [40, 35],
        Stage::Approved,
    ),
    (
        "13902500019",
        HardshipCause::NoIncome,
        [45, 49],
        Stage::Rejected,
    ),
    (
        "13902500010",
        HardshipCause::Illness,
        [12, 3],
        Stage::Paying,
    ),
    (
        "13902500011",
        HardshipCause::NoIncome,
        [20, 16],
        Stage::Paid,
    ),
    (
        "13902500020",
        HardshipCause::NoIncome,
        [33, 28],
        Stage::PaymentFailed,
    ),
];

/// Test card numbers with a valid check digit (never real accounts).
const CARDS: [&str; 3] = [
    "6222021234567890128",
    "6217001234567890122",
    "6228481234567890128",
];

fn month_before(back: u32) -> chrono::NaiveDate {
    let first = platform::clock::today().with_day(1).expect("a first day");
    first - chrono::Months::new(back)
}

fn program(shares: Vec<ShareInput>) -> CreateGrantProgram {
    let now = platform::clock::now().and_utc();
    CreateGrantProgram {
        title: Text::parse(TITLE).expect("a demo title"),
        description: "市总工会下拨专项资金，为收入骤减、生活困难的快递员、外卖骑手等新就业形态劳动者家庭发放一次性困难帮扶金，每户600元。核实一批、救助一批。".to_owned(),
        starts_at: now - Duration::days(20),
        ends_at: now + Duration::days(40),
        amount_fen: Fen::new(AMOUNT_FEN).expect("an amount"),
        budget_fen: Fen::new(20 * AMOUNT_FEN).expect("a budget"),
        shares,
        notice_days: Some(7),
        documents: vec![Text::parse("近两个月平台接单记录截图").expect("a document")],
        eligibility: Default::default(),
        grant_rules: GrantRules {
            applicants_too: true,
            platforms: Vec::new(),
            orders_below: Some(OrdersBelow {
                orders: 50,
                months: 2,
            }),
            income_below_fen: Some(Fen::new(300_000).expect("an income")),
            causes: vec![HardshipCause::NoIncome, HardshipCause::Illness],
        },
    }
}

fn application(cause: HardshipCause, orders: [u32; 2], card: &str) -> ApplyForGrant {
    ApplyForGrant {
        household: Vec::new(),
        cause,
        income_fen: Fen::new(150_000).expect("an income"),
        orders: vec![
            MonthOrders {
                month: month_before(2),
                orders: orders[0],
            },
            MonthOrders {
                month: month_before(1),
                orders: orders[1],
            },
        ],
        declaration: Prose::parse("近两个月平台派单明显减少，家里没有其他收入来源，房租和孩子学费压力很大，申请困难帮扶。")
            .expect("a declaration"),
        payout: Payout {
            bank_name: Text::parse("中国工商银行南京分行").expect("a bank"),
            card_number: card.to_owned(),
        },
        consent: true,
    }
}

fn account(state: &AppState, conn: &mut DbConn, phone: &str) -> Result<Option<i64>> {
    let phone = Phone::parse(phone).expect("valid demo phone");
    Ok(state
        .identity
        .credentials(conn, &phone)?
        .map(|c| c.account_id))
}

/// Takes application `id` to `stage` short of payment, as the admin `by`.
fn decide(
    conn: &mut DbConn,
    protector: &DataProtector,
    by: (&AuthUser, &Actor),
    id: i64,
    stage: Stage,
) -> Result<()> {
    if stage == Stage::Rejected {
        let reason = "经核实，申请人近两个月另有稳定的兼职收入，不符合本次帮扶条件。";
        let body = RejectGrant {
            reason: Prose::parse(reason).expect("a reason"),
        };
        review::reject(conn, protector, by, id, body)?;
        return Ok(());
    }
    if stage >= Stage::Reviewed {
        review::review(conn, protector, by, id, StepNote::default())?;
    }
    if stage >= Stage::Verified {
        let note = "电话联系本人及所在站点站长，近两个月接单情况属实，家庭无其他收入。";
        let verify = Verify {
            method: VerifyMethod::Phone,
            note: Prose::parse(note).expect("a note"),
        };
        review::verify(conn, protector, by, id, verify)?;
    }
    if stage >= Stage::OnNotice {
        review::put_on_notice(conn, protector, by, id)?;
    }
    if stage >= Stage::Approved {
        // Put on the notice eight days ago: its seven days are over.
        let ended = platform::clock::now() - Duration::days(1);
        diesel::update(ga::table.find(id))
            .set(ga::notice_until.eq(ended))
            .execute(conn)?;
        review::approve(conn, protector, by, id)?;
    }
    Ok(())
}

/// The demo program and its applications; false when its people are not seeded.
fn seed_grants(state: &AppState, conn: &mut DbConn) -> Result<bool> {
    let named = |conn: &mut DbConn, name| membership::orgs::named(conn, name);
    let (Some(city), Some(xuanwu), Some(qinhuai)) = (
        named(conn, "南京市总工会")?,
        named(conn, "玄武区总工会")?,
        named(conn, "秦淮区总工会")?,
    ) else {
        return Ok(false);
    };
    let Some(admin) = account(state, conn, DEMO_ADMIN_PHONE)? else {
        return Ok(false);
    };
    let user = AuthUser {
        account_id: admin,
        roles: vec![identity::accounts::ROLE_ADMIN.to_owned()],
    };
    let (system, protector) = (Actor::system(), &state.identity.protector);
    let by = (&user, &system);
    let share = |org_id| ShareInput {
        org_id,
        share_fen: Fen::new(10 * AMOUNT_FEN).expect("a share"),
    };
    let created = terms::create(conn, by, city, program(vec![share(xuanwu), share(qinhuai)]))?;
    let program_id = created.program.id;
    benefits::programs::publish(conn, &user, &system, program_id)?;
    let policy = state.identity.config.consent_policy.clone();
    // Those that stay approved are approved after the batch, which takes every approved one.
    let mut ids = Vec::new();
    for after_batch in [false, true] {
        for (n, (phone, cause, orders, stage)) in APPLICANTS.iter().enumerate() {
            if (*stage == Stage::Approved) != after_batch {
                continue;
            }
            let Some(rider) = account(state, conn, phone)? else {
                continue;
            };
            let rider = AuthUser {
                account_id: rider,
                roles: Vec::new(),
            };
            let body = application(*cause, *orders, CARDS[n % CARDS.len()]);
            let with = (protector, policy.as_str());
            let applied = apply::apply(conn, with, (&rider, &system), program_id, body)?;
            decide(conn, protector, by, applied.id, *stage)?;
            ids.push((applied.id, *stage));
        }
        if !after_batch {
            pay(conn, protector, by, (program_id, city), &ids)?;
        }
    }
    Ok(true)
}

/// One batch of the city's approved applications beyond `Approved`: paid, failed at the bank,
/// or still with the finance office.
fn pay(
    conn: &mut DbConn,
    protector: &DataProtector,
    by: (&AuthUser, &Actor),
    (program_id, city): (i64, i64),
    ids: &[(i64, Stage)],
) -> Result<()> {
    let in_batch =
        |stage: Stage| matches!(stage, Stage::Paying | Stage::Paid | Stage::PaymentFailed);
    if !ids.iter().any(|&(_, s)| in_batch(s)) {
        return Ok(());
    }
    let batch = payments::create(
        conn,
        protector,
        by,
        program_id,
        CreateBatch { org_id: city },
    )?;
    let pick = |stage| {
        ids.iter()
            .filter(move |&&(_, s)| s == stage)
            .map(|&(id, _)| id)
    };
    let results = PaymentResults {
        paid: pick(Stage::Paid).collect(),
        failed: pick(Stage::PaymentFailed)
            .map(|application_id| FailedPayment {
                application_id,
                reason: Text::parse("户名与卡号不符，银行退回").expect("a reason"),
            })
            .collect(),
    };
    payments::settle(conn, protector, by, batch.batch.id, results)?;
    Ok(())
}

/// Seeds the demo grant unless it exists; returns how many applications it made.
pub async fn seed(state: &AppState) -> anyhow::Result<usize> {
    let state = state.clone();
    state
        .db
        .clone()
        .run(move |conn| {
            let exists: bool =
                diesel::select(diesel::dsl::exists(p::table.filter(p::title.eq(TITLE))))
                    .get_result(conn)?;
            if exists {
                return Ok(0);
            }
            let seeded = write_tx(conn, |conn| seed_grants(&state, conn))?;
            Ok(if seeded { APPLICANTS.len() } else { 0 })
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}
