//! Demo data for `gigunion seed` and `make run`: a small, real-looking union tree in Nanjing
//! (the Jiangsu "8+X" service fairs of the source articles), an admin, one staff account per
//! district, and join-code posters written as images into the data directory.

use std::path::{Path, PathBuf};

use identity::password::Password;
use identity::phone::Phone;
use membership::join_codes::{self, NewJoinCode};
use membership::orgs::{self, Location, NewOrg, RegionCode};
use membership::staff;
use membership::vocab::OrgKind;
use platform::db::write_tx;

use crate::AppState;

/// The demo admin's phone number.
pub const DEMO_ADMIN_PHONE: &str = "13800000000";

/// A login created by this run (shown once: only hashes are stored).
pub struct Login {
    pub role: String,
    pub phone: String,
    pub password: String,
}

/// What seeding did, for the console.
#[derive(Default)]
pub struct Seeded {
    pub logins: Vec<Login>,
    /// Poster images written, with what they are for.
    pub posters: Vec<(String, PathBuf)>,
}

fn anyhow(e: platform::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Creates the account if the phone is new; returns its id and, if created, its password.
async fn account(
    state: &AppState,
    phone: &str,
    admin: bool,
) -> anyhow::Result<(i64, Option<String>)> {
    let phone = Phone::parse(phone).expect("valid demo phone");
    let identity = state.identity.clone().into_inner();
    let lookup = phone.clone();
    let existing = state
        .db
        .run(move |conn| identity.credentials(conn, &lookup))
        .await
        .map_err(anyhow)?;
    if let Some(c) = existing {
        return Ok((c.account_id, None));
    }
    let parsed = Password::generate();
    let password = parsed.as_str().to_owned();
    let id = if admin {
        state
            .identity
            .ensure_admin(&phone, parsed)
            .await
            .map_err(anyhow)?
            .0
    } else {
        let hash = state.identity.hasher.hash(parsed).await.map_err(anyhow)?;
        let identity = state.identity.clone().into_inner();
        state
            .db
            .run(move |conn| identity.insert_account(conn, &phone, &hash, false))
            .await
            .map_err(anyhow)?
    };
    Ok((id, Some(password)))
}

struct DemoOrg {
    key: &'static str,
    parent: Option<&'static str>,
    kind: OrgKind,
    name: &'static str,
    region: &'static str,
    address: &'static str,
    location: (f64, f64),
}

const ORGS: &[DemoOrg] = &[
    DemoOrg {
        key: "province",
        parent: None,
        kind: OrgKind::Federation,
        name: "江苏省总工会",
        region: "320000",
        address: "江苏省南京市玄武区中山东路",
        location: (32.0441, 118.8020),
    },
    DemoOrg {
        key: "city",
        parent: Some("province"),
        kind: OrgKind::City,
        name: "南京市总工会",
        region: "320100",
        address: "江苏省南京市秦淮区建康路",
        location: (32.0236, 118.7922),
    },
    DemoOrg {
        key: "xuanwu",
        parent: Some("city"),
        kind: OrgKind::District,
        name: "玄武区总工会",
        region: "320102",
        address: "江苏省南京市玄武区北京东路",
        location: (32.0548, 118.8038),
    },
    DemoOrg {
        key: "qinhuai",
        parent: Some("city"),
        kind: OrgKind::District,
        name: "秦淮区总工会",
        region: "320104",
        address: "江苏省南京市秦淮区中华路",
        location: (32.0196, 118.7848),
    },
    DemoOrg {
        key: "riders",
        parent: Some("city"),
        kind: OrgKind::Industry,
        name: "南京市快递外卖行业工会联合会",
        region: "320100",
        address: "江苏省南京市建邺区江东中路",
        location: (32.0066, 118.7327),
    },
];

/// (org key, staff phone, poster label, auto-approve)
const STAFF_AND_POSTERS: &[(&str, &str, &str, bool)] = &[
    (
        "xuanwu",
        "13800000001",
        "2026 新就业形态劳动者服务季 · 玄武",
        true,
    ),
    (
        "qinhuai",
        "13800000002",
        "秦淮区户外劳动者驿站入会点",
        false,
    ),
];

/// Loads the demo data; running it again changes nothing.
pub async fn seed(state: &AppState, data_dir: &Path) -> anyhow::Result<Seeded> {
    let mut seeded = Seeded::default();
    let (admin_id, admin_password) = account(state, DEMO_ADMIN_PHONE, true).await?;
    if let Some(password) = admin_password {
        seeded.logins.push(Login {
            role: "admin".into(),
            phone: DEMO_ADMIN_PHONE.into(),
            password,
        });
    }

    let root_exists = state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use platform::schema::orgs as o;
            Ok(diesel::select(diesel::dsl::exists(
                o::table
                    .filter(o::parent_id.is_null())
                    .filter(o::name.eq(ORGS[0].name)),
            ))
            .get_result::<bool>(conn)?)
        })
        .await
        .map_err(anyhow)?;
    if root_exists {
        demo_stations(state, data_dir, &mut seeded).await?;
        return Ok(seeded);
    }

    let ids = state
        .db
        .run(|conn| {
            write_tx(conn, |conn| {
                let mut ids: Vec<(&'static str, i64)> = Vec::new();
                for org in ORGS {
                    let parent_id = org.parent.map(|p| {
                        ids.iter()
                            .find(|(k, _)| *k == p)
                            .expect("parent seeded first")
                            .1
                    });
                    let view = orgs::create(
                        conn,
                        NewOrg {
                            parent_id,
                            kind: org.kind,
                            name: org.name.to_owned(),
                            region_code: RegionCode::parse(org.region).expect("valid demo region"),
                            address: org.address.to_owned(),
                            location: Some(Location {
                                lat: org.location.0,
                                lng: org.location.1,
                            }),
                        },
                    )?;
                    ids.push((org.key, view.id));
                }
                Ok(ids)
            })
        })
        .await
        .map_err(anyhow)?;
    let org_id = |key: &str| ids.iter().find(|(k, _)| *k == key).expect("seeded org").1;

    let posters = data_dir.join("posters");
    std::fs::create_dir_all(&posters)?;
    let base = state.membership.base_url.clone();
    let mut codes = Vec::new();
    for (key, phone, label, auto_approve) in STAFF_AND_POSTERS {
        let (staff_id, password) = account(state, phone, false).await?;
        if let Some(password) = password {
            seeded.logins.push(Login {
                role: format!("staff of {}", org_name(key)),
                phone: phone.to_string(),
                password,
            });
        }
        codes.push((org_id(key), staff_id, *label, *auto_approve));
    }
    codes.push((org_id("riders"), admin_id, "快递外卖小哥入会 · 南京", true));
    for (org, granted_to, label, auto_approve) in codes {
        let base = base.clone();
        let (url, code) = state
            .db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    if granted_to != admin_id {
                        staff::grant(conn, org, granted_to, admin_id)?;
                    }
                    let stored = join_codes::create(
                        conn,
                        NewJoinCode {
                            org_id: org,
                            label: label.to_owned(),
                            expires_at: None,
                            max_uses: None,
                            auto_approve,
                            created_by: admin_id,
                        },
                    )?;
                    Ok((
                        stored.code.poster_url(&base),
                        stored.code.as_str().to_owned(),
                    ))
                })
            })
            .await
            .map_err(anyhow)?;
        let png = posters.join(format!("{code}.png"));
        std::fs::write(&png, platform::qr::png(&url, 1024).map_err(anyhow)?)?;
        std::fs::write(
            posters.join(format!("{code}.svg")),
            platform::qr::svg(&url, 1024).map_err(anyhow)?,
        )?;
        seeded.posters.push((format!("{label} -> {url}"), png));
    }
    demo_stations(state, data_dir, &mut seeded).await?;
    Ok(seeded)
}

/// Rest stations around Nanjing and Hefei (idempotent on their own), with two door QRs.
async fn demo_stations(
    state: &AppState,
    data_dir: &Path,
    seeded: &mut Seeded,
) -> anyhow::Result<()> {
    let demo = stations::seed::demo(
        &state.db,
        &state.membership.base_url,
        &data_dir.join("posters"),
    )
    .await
    .map_err(anyhow)?;
    seeded.posters.extend(demo.posters);
    Ok(())
}

fn org_name(key: &str) -> &'static str {
    ORGS.iter().find(|o| o.key == key).map_or("?", |o| o.name)
}
