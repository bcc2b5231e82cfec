//! Demo riders, so that every staff journey of the console has people in it: 40 gig workers of
//! Nanjing with a real-name profile. Most joined 玄武 through its poster, which admits at once
//! (its member list), eight wait in the review queue of 秦淮, a few were approved or rejected
//! there and two 玄武 members left (history). Some 玄武 members claimed the 暖“新” gift pack
//! (three of them already picked it up) and booked the health truck (the session rosters).
//!
//! Everything goes through the use cases the API calls (account, real-name profile with consent,
//! join, approve, reject, leave, claim, book, scan), so the rows are what the service writes,
//! audit entries included. A rider whose phone is registered already is left alone: a second
//! run changes nothing, and neither undoes what a newcomer did to the demo riders since.

use std::path::Path;

use anyhow::Context;
use benefits::claims::{self, Claimed};
use benefits::health_sessions;
use benefits::vocab::ProgramKind;
use benefits::{bookings, redemptions};
use diesel::prelude::*;
use identity::id_number::IdNumber;
use identity::password::Password;
use identity::phone::Phone;
use identity::profile::LegalName;
use identity::AuthUser;
use membership::applications::{self, Details, Outcome};
use membership::join_codes::{self, JoinCode};
use membership::vocab::Occupation::{self, Courier, RideHailingDriver, Rider, TruckDriver};
use platform::audit::Actor;
use platform::pagination::Page;
use platform::schema::programs as p;
use platform::{DbConn, ErrorCode};

use crate::seed::{Login, Seeded};
use crate::AppState;

/// A district union the riders deal with: its name and its demo staff's phone.
#[derive(Clone, Copy)]
pub struct District {
    pub name: &'static str,
    pub staff_phone: &'static str,
}

/// The demo rider whose password goes to the logins file, to try the app side with (the API):
/// a 玄武 member holding a voucher and a booking, codes the console's scan page takes.
pub const APP_RIDER_PHONE: &str = "13902500001";

const WORK_CITY: &str = "南京";

/// Where a rider's membership stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Joined 玄武 through its poster: active at once.
    Member,
    /// Joined 玄武, then left for this reason.
    Left(&'static str),
    /// Applied to 秦淮: waits in its staff's queue.
    Applied,
    /// Applied to 秦淮; its staff approved.
    Approved,
    /// Applied to 秦淮; its staff rejected for this reason.
    Rejected(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gift {
    None,
    Claimed,
    /// Claimed and picked up (the voucher scanned by 玄武 staff).
    Redeemed,
}

struct DemoRider {
    phone: &'static str,
    name: &'static str,
    id_number: &'static str,
    occupation: Occupation,
    platform: &'static str,
    fate: Fate,
    gift: Gift,
    /// The truck session booked: 0 is tomorrow's, 1 the day after's.
    check: Option<usize>,
}

impl DemoRider {
    const fn claims(self) -> DemoRider {
        DemoRider {
            gift: Gift::Claimed,
            ..self
        }
    }

    const fn redeems(self) -> DemoRider {
        DemoRider {
            gift: Gift::Redeemed,
            ..self
        }
    }

    const fn books(self, session: usize) -> DemoRider {
        DemoRider {
            check: Some(session),
            ..self
        }
    }

    const fn fate(self, fate: Fate) -> DemoRider {
        DemoRider { fate, ..self }
    }
}

/// A 玄武 member; the builder methods above give the rest.
const fn r(
    phone: &'static str,
    name: &'static str,
    id_number: &'static str,
    occupation: Occupation,
    platform: &'static str,
) -> DemoRider {
    DemoRider {
        phone,
        name,
        id_number,
        occupation,
        platform,
        fate: Fate::Member,
        gift: Gift::None,
        check: None,
    }
}

/// Phones 139 0250 00xx (025 is Nanjing's area code), apart from the admin's and staff's 138
/// numbers and from the 139 1234 567x riders that tests and CI sign up on the demo. ID numbers:
/// regions of Nanjing's districts, born 1975-2003, the sequence odd for men and even for women,
/// with the GB 11643 check character (a test parses each with `identity::id_number`).
#[rustfmt::skip]
const RIDERS: &[DemoRider] = &[
    r("13902500001", "王建国", "320102198603141312", Rider, "美团").claims().books(0),
    r("13902500002", "李志强", "320102199007223375", Rider, "美团").redeems().books(0),
    r("13902500003", "张伟", "320113199511089856", Rider, "饿了么").redeems(),
    r("13902500004", "刘洋", "320115199802051156", Rider, "美团").claims().books(1),
    r("13902500005", "陈静", "32010619930419238X", Rider, "饿了么").claims().books(0),
    r("13902500006", "杨帆", "320114200009176251", Rider, "美团").claims(),
    r("13902500007", "赵磊", "320104198806305797", Courier, "顺丰").redeems().books(0),
    r("13902500008", "黄海涛", "320111198312018054", Courier, "京东").books(0),
    r("13902500009", "周晓东", "320116197905267790", Courier, "中通").books(0),
    r("13902500010", "吴俊杰", "320105199708138017", Courier, "顺丰").claims(),
    r("13902500011", "徐丽娟", "320102198502276103", Courier, "京东").claims().books(1),
    r("13902500012", "孙浩", "320115200104114610", Rider, "美团").claims(),
    r("13902500013", "马超", "320106199210192557", RideHailingDriver, "滴滴").books(0),
    r("13902500014", "朱明辉", "320117198107081239", RideHailingDriver, "曹操出行").books(1),
    r("13902500015", "胡春燕", "320113198703153045", RideHailingDriver, "滴滴").claims().books(1),
    r("13902500016", "郭强", "320118197609240211", TruckDriver, "货拉拉").books(0),
    r("13902500017", "何立新", "320116197801037114", TruckDriver, "满帮").books(0),
    r("13902500018", "高翔", "320114199406127052", Rider, "饿了么").claims().books(1),
    r("13902500019", "林俊", "320111199911303310", Rider, "美团"),
    r("13902500020", "罗文斌", "32010519840821225X", Courier, "韵达").books(0),
    r("13902500021", "梁晓梅", "320104199105074169", Rider, "美团").books(1),
    r("13902500022", "宋鹏飞", "320115199602282670", Rider, "饿了么").claims(),
    r("13902500023", "郑凯", "320102200207169612", Rider, "美团"),
    r("13902500024", "谢国栋", "320117198004093755", TruckDriver, "货拉拉"),
    r("13902500025", "韩雪", "320106199712038349", RideHailingDriver, "滴滴"),
    r("13902500026", "唐志刚", "320113198211173955", Courier, "顺丰").fate(Fate::Left("换了工作，离开南京")),
    r("13902500027", "冯磊", "320115198909017738", Rider, "美团").fate(Fate::Left("回老家发展，到当地工会入会")),
    r("13902500028", "董海军", "32010419850118535X", Rider, "美团").fate(Fate::Applied),
    r("13902500029", "程亮", "320104199308256632", Rider, "饿了么").fate(Fate::Applied),
    r("13902500030", "曹丹", "320105199603100880", Courier, "京东").fate(Fate::Applied),
    r("13902500031", "袁野", "320114200302221015", Rider, "美团").fate(Fate::Applied),
    r("13902500032", "邓文杰", "320104199006143093", RideHailingDriver, "滴滴").fate(Fate::Applied),
    r("13902500033", "许佳慧", "32010619991009304X", Rider, "饿了么").fate(Fate::Applied),
    r("13902500034", "傅强", "320118197705059076", TruckDriver, "货拉拉").fate(Fate::Applied),
    r("13902500035", "沈浩然", "320104200112277437", Courier, "顺丰").fate(Fate::Applied),
    r("13902500036", "曾庆华", "320104198608026017", Rider, "美团").fate(Fate::Approved),
    r("13902500037", "彭丽", "320105199204203268", Courier, "中通").fate(Fate::Approved),
    r("13902500038", "吕建伟", "320115198410140358", RideHailingDriver, "滴滴").fate(Fate::Approved),
    r("13902500039", "苏明", "320113199507197379", Rider, "饿了么")
        .fate(Fate::Rejected("工作地在栖霞区，请通过栖霞区总工会的入会点申请")),
    r("13902500040", "卢晓峰", "32010419880311387X", Courier, "顺丰")
        .fate(Fate::Rejected("所在快递网点已建工会，请通过网点工会入会")),
];

/// What the riders need of a district: its org, the code its poster carries, its staff.
struct Union {
    org_id: i64,
    code: JoinCode,
    staff: AuthUser,
}

/// 玄武 (riders join through its auto-approving code) and 秦淮 (through its reviewed one).
struct Unions {
    xuanwu: Union,
    qinhuai: Union,
}

fn anyhow(e: platform::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Adds the demo riders whose phones are not registered yet; how many it added: none when the
/// districts, their staff or their join codes are not seeded.
pub async fn seed(
    state: &AppState,
    data_dir: &Path,
    seeded: &mut Seeded,
    xuanwu: District,
    qinhuai: District,
) -> anyhow::Result<usize> {
    let Some((unions, new)) = newcomers(state, xuanwu, qinhuai).await? else {
        return Ok(0);
    };
    let hashes = password_hashes(state, data_dir, seeded, xuanwu, &new).await?;
    let (created, unions) = create_riders(state, unions, new, hashes).await?;
    let perks = perks(state, &unions.xuanwu, &created).await?;
    log_loaded(&created, &perks);
    Ok(created.len())
}

/// The two districts and the riders (indexes into [`RIDERS`]) whose phones are not registered
/// yet; None when there is nothing to add, or (with a warning) a district is not seeded.
async fn newcomers(
    state: &AppState,
    xuanwu: District,
    qinhuai: District,
) -> anyhow::Result<Option<(Unions, Vec<usize>)>> {
    let identity = state.identity.clone().into_inner();
    let (unions, new) = state
        .db
        .run(move |conn| {
            let unions = match (
                union(conn, &identity, xuanwu, true)?,
                union(conn, &identity, qinhuai, false)?,
            ) {
                (Some(xuanwu), Some(qinhuai)) => Some(Unions { xuanwu, qinhuai }),
                _ => None,
            };
            let mut new = Vec::new();
            for (i, rider) in RIDERS.iter().enumerate() {
                if identity.credentials(conn, &phone(rider)?)?.is_none() {
                    new.push(i);
                }
            }
            Ok((unions, new))
        })
        .await
        .map_err(anyhow)?;
    let Some(unions) = unions else {
        tracing::warn!("demo riders skipped: a district, its staff or its join code is missing");
        return Ok(None);
    };
    Ok((!new.is_empty()).then_some((unions, new)))
}

/// The password hashes the new riders get: one of a password nobody keeps, and the app rider's
/// own when that rider is new.
struct Hashes {
    shared: String,
    own: Option<String>,
}

impl Hashes {
    fn of(&self, rider: &DemoRider) -> &str {
        match &self.own {
            Some(own) if rider.phone == APP_RIDER_PHONE => own,
            _ => &self.shared,
        }
    }
}

/// Hashes the passwords of the `new` riders, and writes the app rider's login (when new) to
/// the logins file.
async fn password_hashes(
    state: &AppState,
    data_dir: &Path,
    seeded: &mut Seeded,
    xuanwu: District,
    new: &[usize],
) -> anyhow::Result<Hashes> {
    // Argon2 is slow on purpose: one hash of a password nobody keeps serves every rider but
    // the one whose login is written down; the two hashes run side by side.
    let app_rider_is_new = new.iter().any(|i| RIDERS[*i].phone == APP_RIDER_PHONE);
    let own_password = app_rider_is_new.then(Password::generate);
    let own_clear = own_password.as_ref().map(|p| p.as_str().to_owned());
    let hasher = &state.identity.hasher;
    let (shared, own_hash) = tokio::join!(hasher.hash(Password::generate()), async {
        match own_password {
            Some(password) => hasher.hash(password).await.map(Some),
            None => Ok(None),
        }
    });
    let (shared, own) = (shared.map_err(anyhow)?, own_hash.map_err(anyhow)?);
    if let Some(password) = own_clear {
        let login = Login {
            role: format!("member of {}", xuanwu.name),
            phone: APP_RIDER_PHONE.to_owned(),
            password,
        };
        crate::seed::keep_login(data_dir, seeded, login)?;
    }
    Ok(Hashes { shared, own })
}

/// Creates the `new` riders in one transaction: (index into [`RIDERS`], account id) each, and
/// the unions back.
async fn create_riders(
    state: &AppState,
    unions: Unions,
    new: Vec<usize>,
    hashes: Hashes,
) -> anyhow::Result<(Vec<(usize, i64)>, Unions)> {
    let identity = state.identity.clone().into_inner();
    state
        .db
        .write(move |conn| {
            let mut created = Vec::new();
            for i in new {
                let rider = &RIDERS[i];
                let hash = hashes.of(rider);
                created.push((i, create_rider(conn, &identity, &unions, rider, hash)?));
            }
            Ok((created, unions))
        })
        .await
        .map_err(anyhow)
}

fn log_loaded(created: &[(usize, i64)], perks: &Perks) {
    let count = |fate: fn(Fate) -> bool| {
        created
            .iter()
            .filter(|(i, _)| fate(RIDERS[*i].fate))
            .count()
    };
    tracing::info!(
        riders = created.len(),
        members = count(|f| matches!(f, Fate::Member | Fate::Approved)),
        pending = count(|f| f == Fate::Applied),
        vouchers = perks.vouchers,
        redeemed = perks.redeemed,
        bookings = perks.bookings,
        "demo riders loaded"
    );
}

fn phone(rider: &DemoRider) -> platform::Result<Phone> {
    Phone::parse(rider.phone)
        .ok_or_else(|| platform::Error::internal(anyhow::anyhow!("demo phone {}", rider.phone)))
}

/// The district's org, its oldest usable join code that admits as `auto_approve` says (the
/// demo poster's), and its staff; None when one of them is missing.
fn union(
    conn: &mut DbConn,
    identity: &identity::Identity,
    district: District,
    auto_approve: bool,
) -> platform::Result<Option<Union>> {
    let Some(org_id) = membership::orgs::named(conn, district.name)? else {
        return Ok(None);
    };
    let staff_phone = Phone::parse(district.staff_phone).expect("valid demo phone");
    let Some(staff) = identity.credentials(conn, &staff_phone)? else {
        return Ok(None);
    };
    let page = Page {
        limit: 100,
        before: None,
    };
    let now = platform::clock::now();
    let code = join_codes::list_for_org(conn, org_id, page)?
        .into_iter()
        .filter(|c| c.auto_approve == auto_approve && c.refusal(now).is_none())
        .min_by_key(|c| c.id);
    Ok(code.map(|code| Union {
        org_id,
        code: code.code,
        staff: AuthUser {
            account_id: staff.account_id,
            roles: Vec::new(),
        },
    }))
}

/// One rider: the account, the real-name profile with consent, the join, and what staff or the
/// rider did next. Its account id.
fn create_rider(
    conn: &mut DbConn,
    identity: &identity::Identity,
    unions: &Unions,
    rider: &DemoRider,
    password_hash: &str,
) -> platform::Result<i64> {
    let invalid = |what: &str| {
        platform::Error::internal(anyhow::anyhow!(
            "demo rider {}: invalid {what}",
            rider.phone
        ))
    };
    let name = LegalName::parse(rider.name).map_err(|_| invalid("name"))?;
    let id_number = IdNumber::parse(rider.id_number, platform::clock::today())
        .ok_or_else(|| invalid("ID number"))?;
    let account_id = identity.insert_account(conn, &phone(rider)?, password_hash, false)?;
    identity.save_profile(conn, account_id, &name, &id_number)?;
    let union = match rider.fate {
        Fate::Member | Fate::Left(_) => &unions.xuanwu,
        Fate::Applied | Fate::Approved | Fate::Rejected(_) => &unions.qinhuai,
    };
    let details = Details {
        occupation: rider.occupation,
        platform: rider.platform.to_owned(),
        work_city: WORK_CITY.to_owned(),
    };
    let policy = &identity.config.consent_policy;
    let membership = match applications::join(conn, account_id, &union.code, details, policy)? {
        Outcome::Created(view) | Outcome::Existing(view) => view.id,
    };
    // Decided by the district's staff, as from the console; no one is signed in, so the audit
    // log names the system.
    let (staff, actor) = (&union.staff, Actor::system());
    match rider.fate {
        Fate::Member | Fate::Applied => {}
        Fate::Left(reason) => {
            applications::leave(conn, account_id, reason)?;
        }
        Fate::Approved => {
            applications::approve(conn, staff, &actor, membership)?;
        }
        Fate::Rejected(reason) => {
            applications::reject(conn, staff, &actor, membership, reason)?;
        }
    }
    Ok(account_id)
}

/// What the riders of this run took of the 玄武 programs.
#[derive(Default)]
struct Perks {
    vouchers: usize,
    redeemed: usize,
    bookings: usize,
}

/// The 玄武 programs of `kind`, oldest first: the demo's is the first.
fn first_program(
    conn: &mut DbConn,
    org_id: i64,
    kind: ProgramKind,
) -> platform::Result<Option<i64>> {
    Ok(p::table
        .filter(p::org_id.eq(org_id))
        .filter(p::kind.eq(kind.as_str()))
        .order(p::id.asc())
        .select(p::id)
        .first(conn)
        .optional()?)
}

/// The newly created riders claim the gift pack and book the truck as the table says, through
/// the batch writer as from the app; 玄武 staff scan the vouchers picked up. A claim or booking
/// the programs refuse (a demo seeded long ago, whose programs have closed) is skipped with a
/// warning rather than stopping the start.
async fn perks(
    state: &AppState,
    xuanwu: &Union,
    created: &[(usize, i64)],
) -> anyhow::Result<Perks> {
    let org_id = xuanwu.org_id;
    let (gift, sessions) = state
        .db
        .run(move |conn| {
            let gift = first_program(conn, org_id, ProgramKind::GiftPack)?;
            let sessions = match first_program(conn, org_id, ProgramKind::HealthCheck)? {
                Some(check) => health_sessions::of_program(conn, check)?,
                None => Vec::new(),
            };
            Ok((gift, sessions))
        })
        .await
        .map_err(anyhow)?;
    let mut perks = Perks::default();
    let mut refused: Vec<ErrorCode> = Vec::new();
    let window = state.benefits.config.check_in;
    for &(i, account_id) in created {
        let rider = &RIDERS[i];
        if let (Some(gift), Gift::Claimed | Gift::Redeemed) = (gift, rider.gift) {
            match claims::claim(&state.db, &state.benefits, gift, || Ok(account_id)).await {
                Ok(Claimed::Voucher(voucher)) => {
                    perks.vouchers += 1;
                    if rider.gift == Gift::Redeemed {
                        let (staff, code) = (xuanwu.staff.clone(), voucher.code);
                        state
                            .db
                            .write(move |conn| {
                                let now = platform::clock::now();
                                redemptions::scan(
                                    conn,
                                    &staff,
                                    &Actor::system(),
                                    &code,
                                    &window,
                                    now,
                                )
                            })
                            .await
                            .map_err(anyhow)
                            .context("demo voucher scan")?;
                        perks.redeemed += 1;
                    }
                }
                Ok(Claimed::Entry { .. }) => {}
                Err(e) => refused.push(e.code()),
            }
        }
        if let Some(session) = rider.check.and_then(|n| sessions.get(n)) {
            match bookings::book(&state.db, &state.benefits, session.id, account_id, false).await {
                Ok(_) => perks.bookings += 1,
                Err(e) => refused.push(e.code()),
            }
        }
    }
    if !refused.is_empty() {
        tracing::warn!(refused = refused.len(), codes = ?refused,
            "demo claims or bookings refused (have the demo programs closed?)");
    }
    Ok(perks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nanjing's districts: 玄武, 秦淮, 建邺, 鼓楼, 浦口, 栖霞, 雨花台, 江宁, 六合, 溧水, 高淳.
    const NANJING: &[&str] = &[
        "320102", "320104", "320105", "320106", "320111", "320113", "320114", "320115", "320116",
        "320117", "320118",
    ];

    #[test]
    fn every_demo_rider_is_valid_and_distinct() {
        let today = platform::clock::today();
        let mut phones = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for rider in RIDERS {
            let id = IdNumber::parse(rider.id_number, today)
                .unwrap_or_else(|| panic!("{} is no valid ID number", rider.id_number));
            assert!(
                NANJING.contains(&&rider.id_number[..6]),
                "{}",
                rider.id_number
            );
            // The parser has checked the date is a real one.
            let born: u32 = rider.id_number[6..10].parse().unwrap();
            assert!((1975..=2003).contains(&born), "{}", rider.id_number);
            assert!(LegalName::parse(rider.name).is_ok(), "{}", rider.name);
            assert!(Phone::parse(rider.phone).is_some(), "{}", rider.phone);
            assert!(phones.insert(rider.phone), "{} twice", rider.phone);
            assert!(
                ids.insert(id.as_str().to_owned()),
                "{} twice",
                rider.id_number
            );
        }
        // The admin's and staff's phones, and the riders tests and CI sign up on the demo.
        for taken in [
            "13800000000",
            "13800000001",
            "13800000002",
            "13912345678",
            "13912345679",
        ] {
            assert!(!phones.contains(taken), "{taken}");
        }
        for taken in ["11010519491231002X", "320102199001010010"] {
            assert!(!ids.contains(taken), "{taken}");
        }
        assert!(phones.contains(APP_RIDER_PHONE));
    }

    #[test]
    fn the_riders_fill_each_queue_and_list() {
        let count = |fate: fn(Fate) -> bool| RIDERS.iter().filter(|r| fate(r.fate)).count();
        assert_eq!(count(|f| f == Fate::Applied), 8);
        assert_eq!(count(|f| f == Fate::Member), 25);
        assert_eq!(count(|f| matches!(f, Fate::Left(_))), 2);
        assert_eq!(count(|f| f == Fate::Approved), 3);
        assert_eq!(count(|f| matches!(f, Fate::Rejected(_))), 2);
        // Only members of the issuer claim and book.
        for rider in RIDERS {
            if rider.gift != Gift::None || rider.check.is_some() {
                assert_eq!(rider.fate, Fate::Member, "{}", rider.phone);
            }
        }
        let app_rider = RIDERS.iter().find(|r| r.phone == APP_RIDER_PHONE).unwrap();
        assert_eq!(
            app_rider.gift,
            Gift::Claimed,
            "an unscanned voucher to scan"
        );
        assert!(app_rider.check.is_some());
    }
}
