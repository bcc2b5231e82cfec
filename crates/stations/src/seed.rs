//! Demo data: a few hundred realistic stations around Nanjing and Hefei (the cities of the
//! source articles: Jiangsu's service fairs, Hefei's 24-hour 幸福驿站 with its door
//! registration and message board), and a synthetic nationwide set for benchmarks.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use diesel::prelude::*;
use membership::orgs::{self, Location, NewOrg, RegionCode};
use membership::vocab::OrgKind;
use platform::db::write_tx;
use platform::schema::stations as s;
use platform::{Db, DbConn, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::coords::LatLng;
use crate::fields::{ContactPhone, Stars};
use crate::hours::Hours;
use crate::station::{self, StationInput};
use crate::vocab::{Amenities, Amenity, StationStatus};

/// A district: its GCJ-02 centre, spread (degrees) and roads.
struct District {
    city: &'static str,
    name: &'static str,
    /// Name of the org that runs its stations (falls back to the city's).
    org: &'static str,
    center: (f64, f64),
    roads: &'static [&'static str],
}

const NANJING: &[District] = &[
    District {
        city: "南京市",
        name: "玄武区",
        org: "玄武区总工会",
        center: (32.0486, 118.7977),
        roads: &[
            "中山路",
            "北京东路",
            "珠江路",
            "龙蟠路",
            "玄武大道",
            "太平北路",
            "长江路",
            "中央路",
        ],
    },
    District {
        city: "南京市",
        name: "秦淮区",
        org: "秦淮区总工会",
        center: (32.0196, 118.7948),
        roads: &[
            "中华路",
            "太平南路",
            "建康路",
            "龙蟠中路",
            "瑞金路",
            "大光路",
            "中山南路",
            "长乐路",
        ],
    },
    District {
        city: "南京市",
        name: "鼓楼区",
        org: "南京市总工会",
        center: (32.0660, 118.7697),
        roads: &[
            "中山北路",
            "湖南路",
            "广州路",
            "汉中路",
            "虎踞路",
            "草场门大街",
        ],
    },
    District {
        city: "南京市",
        name: "建邺区",
        org: "南京市快递外卖行业工会联合会",
        center: (32.0040, 118.7310),
        roads: &["江东中路", "河西大街", "应天大街", "奥体大街", "集庆门大街"],
    },
    District {
        city: "南京市",
        name: "栖霞区",
        org: "南京市总工会",
        center: (32.0960, 118.9090),
        roads: &["仙林大道", "和燕路", "迈皋桥路", "尧化街"],
    },
];

const HEFEI: &[District] = &[
    District {
        city: "合肥市",
        name: "包河区",
        org: "包河区总工会",
        center: (31.7930, 117.3100),
        roads: &[
            "徽州大道",
            "马鞍山路",
            "紫云路",
            "包河大道",
            "东流路",
            "庐州大道",
        ],
    },
    District {
        city: "合肥市",
        name: "蜀山区",
        org: "蜀山区总工会",
        center: (31.8510, 117.2600),
        roads: &["长江西路", "黄山路", "潜山路", "肥西路", "望江西路"],
    },
    District {
        city: "合肥市",
        name: "庐阳区",
        org: "合肥市总工会",
        center: (31.8790, 117.2650),
        roads: &["长江中路", "阜阳路", "蒙城路", "亳州路"],
    },
    District {
        city: "合肥市",
        name: "政务区",
        org: "合肥市总工会",
        center: (31.8180, 117.2190),
        roads: &["天鹅湖路", "怀宁路", "习友路", "祁门路"],
    },
];

const HOSTS: &[&str] = &[
    "工会驿站",
    "户外劳动者服务站点",
    "爱心驿站",
    "暖心驿站",
    "骑手之家",
    "新就业形态劳动者服务站",
];
const BANKS: &[&str] = &[
    "工商银行",
    "建设银行",
    "农业银行",
    "中国银行",
    "交通银行",
    "邮储银行",
];
const SPRING_FESTIVAL: (u32, u32) = (6, 8);

/// Draws one realistic station in `district`, the `n`th of its set. The draws happen in a
/// fixed order (the helpers below keep it), so a seed always gives the same stations.
fn draw_station(rng: &mut StdRng, district: &District, n: usize) -> StationInput {
    let road = district.roads[rng.gen_range(0..district.roads.len())];
    let number = rng.gen_range(1..400);
    // Bank branches open their lobbies as stations, within banking hours.
    let bank = rng.gen_bool(0.2);
    let name = draw_name(rng, district, road, bank);
    let location = scatter(rng, district.center, (0.018, 0.022));
    let hours = draw_hours(rng, bank);
    let amenities = draw_amenities(rng);
    let stars = draw_stars(rng);
    let status = match n % 100 {
        0 => StationStatus::Closed,
        1..=4 => StationStatus::TemporarilyClosed,
        _ => StationStatus::Open,
    };
    StationInput {
        name,
        address: format!("{}{}{road}{number}号", district.city, district.name),
        location,
        amenities,
        hours,
        stars,
        phone: Some(ContactPhone::parse("12351").expect("the union hotline")),
        photos: Vec::new(),
        status,
    }
}

fn draw_name(rng: &mut StdRng, district: &District, road: &str, bank: bool) -> String {
    if bank {
        let b = BANKS[rng.gen_range(0..BANKS.len())];
        format!("{b}{road}网点爱心驿站")
    } else {
        let host = HOSTS[rng.gen_range(0..HOSTS.len())];
        format!("{}{road}{host}", district.name.trim_end_matches('区'))
    }
}

/// A point around `center`, normally spread by `spread` degrees (lat, lng).
fn scatter(rng: &mut StdRng, center: (f64, f64), spread: (f64, f64)) -> LatLng {
    LatLng {
        lat: micro_degrees(center.0 + gaussian(rng) * spread.0),
        lng: micro_degrees(center.1 + gaussian(rng) * spread.1),
    }
}

/// Weekly hours (a bank's, or one of the common patterns); some close for Spring Festival.
fn draw_hours(rng: &mut StdRng, bank: bool) -> Hours {
    let hours = if bank {
        Hours::parse_compact("mon-fri 09:00-17:00; sat 09:00-12:00", "")
    } else {
        let pick = rng.gen_range(0..100);
        let compact = match pick {
            0..=19 => "24h",
            20..=44 => "daily 08:00-20:00",
            45..=59 => "daily 09:00-21:00",
            60..=74 => "mon-fri 07:30-19:00; sat,sun 09:00-17:00",
            75..=84 => "daily 06:00-22:00",
            85..=92 => "daily 10:00-14:00,17:00-23:00",
            _ => "daily 18:00-02:00",
        };
        Hours::parse_compact(compact, "")
    }
    .expect("demo hours parse");
    if rng.gen_bool(0.15) {
        let (from, to) = SPRING_FESTIVAL;
        hours.with_closed_dates(
            (from..=to).map(|d| NaiveDate::from_ymd_opt(2027, 2, d).expect("valid date")),
        )
    } else {
        hours
    }
}

/// The basics almost everywhere, the rest as often as the source articles suggest.
fn draw_amenities(rng: &mut StdRng) -> Amenities {
    let mut amenities: Amenities = [
        Amenity::DrinkingWater,
        Amenity::RestArea,
        Amenity::PhoneCharging,
    ]
    .into_iter()
    .filter(|_| rng.gen_bool(0.9))
    .collect();
    for (amenity, p) in [
        (Amenity::Heating, 0.7),
        (Amenity::Cooling, 0.8),
        (Amenity::Toilet, 0.6),
        (Amenity::FirstAid, 0.7),
        (Amenity::Microwave, 0.5),
        (Amenity::BatterySwap, 0.2),
        (Amenity::EbikeCharging, 0.25),
        (Amenity::RepairKit, 0.35),
        (Amenity::Wifi, 0.5),
        (Amenity::RainGear, 0.3),
        (Amenity::LegalAid, 0.1),
        (Amenity::Books, 0.3),
        (Amenity::Lockers, 0.15),
    ] {
        if rng.gen_bool(p) {
            amenities.insert(amenity);
        }
    }
    amenities
}

/// Three in ten stations are not graded.
fn draw_stars(rng: &mut StdRng) -> Option<Stars> {
    match rng.gen_range(0..100) {
        0..=9 => Some(5),
        10..=34 => Some(4),
        35..=69 => Some(3),
        _ => None,
    }
    .map(|n| Stars::parse(n).expect("valid demo stars"))
}

/// Six decimals, as map apps give coordinates (about 0.1 m).
fn micro_degrees(degrees: f64) -> f64 {
    (degrees * 1e6).round() / 1e6
}

/// A standard normal draw (Box-Muller), clipped to three deviations.
fn gaussian(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()).clamp(-3.0, 3.0)
}

/// Hefei's 24-hour station of the source article.
fn binhu() -> StationInput {
    StationInput {
        name: "滨湖世纪社区工会幸福驿站".into(),
        address: "合肥市包河区滨湖世纪社区紫云路".into(),
        location: LatLng {
            lat: 31.7437,
            lng: 117.3026,
        },
        amenities: [
            Amenity::DrinkingWater,
            Amenity::Heating,
            Amenity::Cooling,
            Amenity::Toilet,
            Amenity::RestArea,
            Amenity::FirstAid,
            Amenity::Microwave,
            Amenity::PhoneCharging,
            Amenity::BatterySwap,
            Amenity::Wifi,
        ]
        .into_iter()
        .collect(),
        hours: Hours::always(),
        stars: Some(Stars::parse(5).expect("valid")),
        phone: Some(ContactPhone::parse("12351").expect("the union hotline")),
        photos: Vec::new(),
        status: StationStatus::Open,
    }
}

/// Finds or creates the org `name` under `parent`.
fn org(
    conn: &mut DbConn,
    parent: Option<i64>,
    kind: OrgKind,
    name: &str,
    region: &str,
    address: &str,
    at: (f64, f64),
) -> Result<i64> {
    if let Some(id) = membership::orgs::named(conn, name)? {
        return Ok(id);
    }
    Ok(orgs::create(
        conn,
        NewOrg {
            parent_id: parent,
            kind,
            name: name.to_owned(),
            region_code: RegionCode::parse(region)?,
            address: address.to_owned(),
            location: Some(Location {
                lat: at.0,
                lng: at.1,
            }),
        },
    )?
    .id)
}

/// Stations per demo district.
const PER_DISTRICT: usize = 36;

/// What the demo seeding did.
#[derive(Debug, Default)]
pub struct Demo {
    pub stations: usize,
    /// Door QR images written, with what they are for.
    pub posters: Vec<(String, PathBuf)>,
}

/// Adds the demo stations (idempotent: nothing happens when they exist). Nanjing's stations go
/// to the demo union tree when it exists; Hefei gets a small tree of its own. Door QRs of two
/// stations are written to `posters`.
pub async fn demo(db: &Db, base_url: &str, posters: &Path) -> Result<Demo> {
    let created = db.run(|conn| write_tx(conn, insert_demo)).await?;
    let mut demo = Demo {
        stations: created.len(),
        posters: Vec::new(),
    };
    if created.is_empty() {
        return Ok(demo);
    }
    std::fs::create_dir_all(posters).map_err(platform::Error::internal)?;
    // A newcomer's first scan of a door poster must check in: posters go on open stations.
    let open = created
        .into_iter()
        .filter_map(|(id, (name, open))| open.then_some((id, name)));
    for (id, name) in open.take(2) {
        demo.posters
            .push(poster(db, base_url, posters, id, &name).await?);
    }
    tracing::info!(stations = demo.stations, "demo stations loaded");
    Ok(demo)
}

/// The demo stations, unless they exist: each new id with its name and whether it is open.
fn insert_demo(conn: &mut DbConn) -> Result<Vec<(i64, (String, bool))>> {
    let first = binhu();
    let exists: bool = diesel::select(diesel::dsl::exists(
        s::table.filter(s::name.eq(&first.name)),
    ))
    .get_result(conn)?;
    if exists {
        return Ok(Vec::new());
    }
    let hefei = hefei_tree(conn)?;
    let mut rng = StdRng::seed_from_u64(2026);
    let mut rows: Vec<(i64, StationInput)> = vec![(
        membership::orgs::named(conn, "包河区总工会")?.unwrap_or(hefei),
        first,
    )];
    let nanjing_city = membership::orgs::named(conn, "南京市总工会")?;
    for district in NANJING.iter().chain(HEFEI) {
        let fallback = if district.city == "南京市" {
            nanjing_city
        } else {
            Some(hefei)
        };
        let Some(org_id) = membership::orgs::named(conn, district.org)?.or(fallback) else {
            continue;
        };
        for _ in 0..PER_DISTRICT {
            let input = draw_station(&mut rng, district, rows.len());
            rows.push((org_id, input));
        }
    }
    let ids = station::create_many(conn, rows.iter().map(|(o, s)| (*o, s)), None)?;
    let names: Vec<(String, bool)> = rows
        .into_iter()
        .map(|(_, s)| (s.name, s.status == StationStatus::Open))
        .collect();
    Ok(ids.into_iter().zip(names).collect())
}

/// Hefei's union tree (the province above it, two districts below), found or created; the
/// city's org.
fn hefei_tree(conn: &mut DbConn) -> Result<i64> {
    let anhui = org(
        conn,
        None,
        OrgKind::Federation,
        "安徽省总工会",
        "340000",
        "安徽省合肥市蜀山区",
        (31.8612, 117.2830),
    )?;
    let hefei = org(
        conn,
        Some(anhui),
        OrgKind::City,
        "合肥市总工会",
        "340100",
        "安徽省合肥市庐阳区",
        (31.8669, 117.2825),
    )?;
    org(
        conn,
        Some(hefei),
        OrgKind::District,
        "包河区总工会",
        "340111",
        "安徽省合肥市包河区",
        (31.7930, 117.3100),
    )?;
    org(
        conn,
        Some(hefei),
        OrgKind::District,
        "蜀山区总工会",
        "340104",
        "安徽省合肥市蜀山区",
        (31.8510, 117.2600),
    )?;
    Ok(hefei)
}

/// Writes the door QR of station `id` into `dir` as PNG and SVG; what it is, and the PNG.
async fn poster(
    db: &Db,
    base_url: &str,
    dir: &Path,
    id: i64,
    name: &str,
) -> Result<(String, PathBuf)> {
    let row = db.run(move |conn| station::get(conn, id)).await?;
    let url = row.door_url(base_url);
    let png = dir.join(format!("station-{id}.png"));
    std::fs::write(&png, platform::qr::png(&url, 1024)?).map_err(platform::Error::internal)?;
    std::fs::write(
        dir.join(format!("station-{id}.svg")),
        platform::qr::svg(&url, 1024)?,
    )
    .map_err(platform::Error::internal)?;
    Ok((format!("驿站门贴 {name} -> {url}"), png))
}

/// City centres (GCJ-02) for the synthetic set: China's large cities, where stations cluster.
pub const CITIES: &[(&str, f64, f64)] = &[
    ("南京市", 32.0603, 118.7969),
    ("合肥市", 31.8206, 117.2272),
    ("上海市", 31.2304, 121.4737),
    ("北京市", 39.9042, 116.4074),
    ("广州市", 23.1291, 113.2644),
    ("深圳市", 22.5431, 114.0579),
    ("杭州市", 30.2741, 120.1551),
    ("武汉市", 30.5928, 114.3055),
    ("成都市", 30.5728, 104.0668),
    ("重庆市", 29.5630, 106.5516),
    ("西安市", 34.3416, 108.9398),
    ("长沙市", 28.2282, 112.9388),
    ("郑州市", 34.7466, 113.6254),
    ("天津市", 39.3434, 117.3616),
    ("苏州市", 31.2990, 120.5853),
    ("济南市", 36.6512, 117.1201),
    ("沈阳市", 41.8057, 123.4315),
    ("昆明市", 25.0389, 102.7183),
    ("福州市", 26.0745, 119.2965),
    ("乌鲁木齐市", 43.8256, 87.6168),
];

/// `n` synthetic stations around [`CITIES`] (Nanjing and Hefei weighted double), deterministic
/// for a `seed`, all under `org_id`, written in one transaction. For benchmarks and load tests.
pub fn synthetic(conn: &mut DbConn, org_id: i64, n: usize, seed: u64) -> Result<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let districts: Vec<District> = CITIES
        .iter()
        .map(|(city, lat, lng)| District {
            city,
            name: "中心城区",
            org: "",
            center: (*lat, *lng),
            roads: &[
                "人民路",
                "解放路",
                "中山路",
                "建设路",
                "和平路",
                "新华路",
                "长江路",
                "文化路",
            ],
        })
        .collect();
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        // Nanjing and Hefei get a double share: benchmark queries go there.
        let pick = rng.gen_range(0..districts.len() + 2) % districts.len();
        let district = &districts[pick];
        let mut input = draw_station(&mut rng, district, i);
        // A city is larger than one district: spread over about 30 km.
        input.location = scatter(&mut rng, district.center, (0.09, 0.11));
        rows.push(input);
    }
    write_tx(conn, |conn| {
        station::create_many(conn, rows.iter().map(|s| (org_id, s)), None)
    })
    .map(|ids| ids.len())
}
