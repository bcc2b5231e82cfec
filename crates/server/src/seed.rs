//! Demo data for `gigunion seed` and `make run`: a small, real-looking union tree in Nanjing
//! (the Jiangsu "8+X" service fairs of the source articles), an admin, one staff account per
//! district, join-code posters written as images into the data directory, rest stations and
//! benefit programs. Generated passwords go to one file in the data directory, never to a log.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

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

/// The file in the data directory that keeps the generated demo passwords.
pub const LOGINS_FILE: &str = "demo-logins.txt";

const LOGINS_HEADER: &str = "\
# gigunion demo logins, written when `gigunion seed` or `gigunion serve --demo` creates them.
# The database keeps only password hashes: these passwords are written nowhere else.
# Staff sign in to the console at /console. The member line is a demo rider of 玄武 to try the
# app side (the API) with: its voucher, booking and e-card are codes the console's scan page
# takes. The other demo riders have no password anyone knows.
";

/// A login created by this run (the database keeps only its hash).
pub struct Login {
    pub role: String,
    pub phone: String,
    pub password: String,
}

impl Login {
    /// The login as one line, on the terminal and in the logins file alike, the phones in one
    /// column (a Chinese character takes two columns of a terminal).
    pub fn line(&self) -> String {
        let width: usize = self
            .role
            .chars()
            .map(|c| if c >= '\u{2E80}' { 2 } else { 1 })
            .sum();
        let pad = " ".repeat(28usize.saturating_sub(width));
        format!(
            "{}{pad} phone {}  password {}",
            self.role, self.phone, self.password
        )
    }
}

/// What seeding did, for the console.
#[derive(Default)]
pub struct Seeded {
    pub logins: Vec<Login>,
    /// Where the logins are kept, when this run created any.
    pub logins_file: Option<PathBuf>,
    /// Poster images written, with what they are for.
    pub posters: Vec<(String, PathBuf)>,
    /// Benefit programs created.
    pub programs: usize,
    /// Demo riders created.
    pub riders: usize,
    /// Demo broadcasts sent.
    pub broadcasts: usize,
    /// Demo dispute cases filed.
    pub cases: usize,
    /// Demo hardship-grant applications made.
    pub grant_applications: usize,
}

impl Seeded {
    /// Whether this run added anything.
    pub fn is_empty(&self) -> bool {
        self.logins.is_empty()
            && self.posters.is_empty()
            && self.programs == 0
            && self.riders == 0
            && self.broadcasts == 0
            && self.cases == 0
            && self.grant_applications == 0
    }
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

/// The demo programs' issuer (org key): 玄武, whose poster admits at once, so a newcomer who
/// scans it is a member who sees them. Its staff creates them.
const PROGRAM_ISSUER: &str = "xuanwu";

/// Loads the demo data; running it again changes nothing.
pub async fn seed(state: &AppState, data_dir: &Path) -> anyhow::Result<Seeded> {
    let mut seeded = Seeded::default();
    let admin_id = login(
        state,
        data_dir,
        &mut seeded,
        "admin",
        DEMO_ADMIN_PHONE,
        true,
    )
    .await?;
    if !union_exists(state).await? {
        union_tree(state, data_dir, admin_id, &mut seeded).await?;
    }
    demo_stations(state, data_dir, &mut seeded).await?;
    let staff_phone = STAFF_AND_POSTERS
        .iter()
        .find(|(key, ..)| *key == PROGRAM_ISSUER)
        .expect("the issuer has demo staff")
        .1;
    let issuer = org_name(PROGRAM_ISSUER);
    seeded.programs = crate::demo_programs::seed(state, issuer, staff_phone).await?;
    let district = |key: &str| crate::demo_riders::District {
        name: org_name(key),
        staff_phone: STAFF_AND_POSTERS
            .iter()
            .find(|(k, ..)| *k == key)
            .expect("the district has demo staff")
            .1,
    };
    let (xuanwu, qinhuai) = (district(PROGRAM_ISSUER), district("qinhuai"));
    seeded.riders = crate::demo_riders::seed(state, data_dir, &mut seeded, xuanwu, qinhuai).await?;
    // After the riders: they are who it reaches.
    seeded.broadcasts = usize::from(crate::demo_notices::seed(state, issuer, staff_phone).await?);
    seeded.cases = crate::demo_cases::seed(state).await?;
    seeded.grant_applications = crate::demo_grants::seed(state).await?;
    Ok(seeded)
}

/// The account for `phone` (created if new); a new one's password goes to the logins file.
async fn login(
    state: &AppState,
    data_dir: &Path,
    seeded: &mut Seeded,
    role: &str,
    phone: &str,
    admin: bool,
) -> anyhow::Result<i64> {
    let (id, password) = account(state, phone, admin).await?;
    if let Some(password) = password {
        let login = Login {
            role: role.to_owned(),
            phone: phone.to_owned(),
            password,
        };
        keep_login(data_dir, seeded, login)?;
    }
    Ok(id)
}

/// Keeps a new login in the logins file at once (if a later step fails, the account exists
/// and its password with it) and in what this run reports.
pub(crate) fn keep_login(data_dir: &Path, seeded: &mut Seeded, login: Login) -> anyhow::Result<()> {
    seeded.logins_file = Some(remember(data_dir, &login)?);
    seeded.logins.push(login);
    Ok(())
}

/// Keeps a new login in the logins file. The line of the same phone goes (an account created
/// again, on a fresh database), the others stay: their accounts may still be there.
fn remember(data_dir: &Path, login: &Login) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(LOGINS_FILE);
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let same_phone = format!(" phone {} ", login.phone);
    let mut text = String::from(LOGINS_HEADER);
    for line in old.lines() {
        if !(line.starts_with('#') || line.trim().is_empty() || line.contains(&same_phone)) {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(&login.line());
    text.push('\n');
    write_private(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Replaces `path` by way of a new file renamed over it: readers never see half a file, and the
/// file is born owner-only (0600 on unix), with no moment at the umask's wider default.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Whether the demo union tree is there (its root federation).
async fn union_exists(state: &AppState) -> anyhow::Result<bool> {
    state
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
        .map_err(anyhow)
}

/// The orgs, their staff and the join-code posters.
async fn union_tree(
    state: &AppState,
    data_dir: &Path,
    admin_id: i64,
    seeded: &mut Seeded,
) -> anyhow::Result<()> {
    let ids = create_orgs(state).await?;
    let org_id = |key: &str| ids.iter().find(|(k, _)| *k == key).expect("seeded org").1;
    let mut codes = Vec::new();
    for (key, phone, label, auto_approve) in STAFF_AND_POSTERS {
        let role = format!("staff of {}", org_name(key));
        let staff_id = login(state, data_dir, seeded, &role, phone, false).await?;
        codes.push((org_id(key), staff_id, *label, *auto_approve));
    }
    codes.push((org_id("riders"), admin_id, "快递外卖小哥入会 · 南京", true));
    let posters = data_dir.join("posters");
    std::fs::create_dir_all(&posters)?;
    for (org, granted_to, label, auto_approve) in codes {
        let (url, code) = join_code(state, admin_id, org, granted_to, label, auto_approve).await?;
        let png = posters.join(format!("{code}.png"));
        std::fs::write(&png, platform::qr::png(&url, 1024).map_err(anyhow)?)?;
        std::fs::write(
            posters.join(format!("{code}.svg")),
            platform::qr::svg(&url, 1024).map_err(anyhow)?,
        )?;
        seeded.posters.push((format!("{label} -> {url}"), png));
    }
    Ok(())
}

/// The orgs of [`ORGS`], parents first, in one transaction; their ids by key.
async fn create_orgs(state: &AppState) -> anyhow::Result<Vec<(&'static str, i64)>> {
    state
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
        .map_err(anyhow)
}

/// Grants `granted_to` staff on `org` (unless it is the admin) and issues the org a join code;
/// its poster URL and the code.
async fn join_code(
    state: &AppState,
    admin_id: i64,
    org: i64,
    granted_to: i64,
    label: &'static str,
    auto_approve: bool,
) -> anyhow::Result<(String, String)> {
    let base = state.membership.base_url.clone();
    state
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
        .map_err(anyhow)
}

/// Rest stations around Nanjing and Hefei (idempotent on their own), with two door QRs on
/// open stations.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logins_file_keeps_other_phones_and_replaces_the_same_one() {
        let dir = tempfile::tempdir().unwrap();
        let login = |phone: &str, password: &str| Login {
            role: "staff".into(),
            phone: phone.into(),
            password: password.into(),
        };
        remember(dir.path(), &login("13800000001", "first1pass")).unwrap();
        remember(dir.path(), &login("13800000002", "other1pass")).unwrap();
        let path = remember(dir.path(), &login("13800000001", "second1pass")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("first1pass"), "{text}");
        assert!(
            text.contains("other1pass") && text.contains("second1pass"),
            "{text}"
        );
        assert_eq!(text.matches(LOGINS_HEADER).count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
