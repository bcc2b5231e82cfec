//! CSV bulk import: thousands of stations in one request, all or nothing.
//!
//! The file is UTF-8, with or without the BOM Excel writes, or GBK/GB18030 as Excel on Chinese
//! Windows saves plain "CSV" (see [`platform::csv_text`]), with a header row. Columns (any order,
//! names case-insensitive):
//!
//! | column | required | content |
//! |---|---|---|
//! | `name`, `address` | yes | text |
//! | `lat`, `lng` | yes | degrees, GCJ-02 unless the request says `?coord=wgs84` or `bd09` |
//! | `hours` | yes | `24h`, or `mon-fri 08:00-20:00; sat,sun 09:00-17:00`; `daily 22:00-06:00` runs past midnight |
//! | `closed_dates` | no | `2027-02-06;2027-02-07` or `2027-02-06..2027-02-12` |
//! | `amenities` | no | codes or their Chinese labels, split by `;` `；` `,` `，` `、` or `|` |
//! | `stars` | no | 1 to 5 |
//! | `phone` | no | contact number |
//! | `photos` | no | URLs split by `;` or whitespace |
//! | `status` | no | `open` (default) or `temporarily_closed` |
//! | `org_id` | no | an org in the subtree of the one imported into (default: that org) |
//!
//! Every row is checked before anything is written; the database step (org scopes, inserts)
//! runs in one transaction. Any fault anywhere and nothing is written: the answer lists each
//! faulty row with the field at fault and why, in Chinese and in English. An import is not an
//! on-site check: imported stations have no `last_verified_at`.

use std::collections::HashMap;

use identity::AuthUser;
use membership::{orgs, staff};
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::{Coordinator, Db, DbConn, Error, ErrorCode};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::coords::LatLng;
use crate::fields::{self, ContactPhone, Stars};
use crate::hours::Hours;
use crate::station::{self, StationInput};
use crate::vocab::{Amenities, Amenity, CoordSystem, StationStatus};
use crate::Stations;
use platform::csv_import::{Faults, Refusal};
use platform::csv_text::{self, Charset};

/// Most rows one file may hold.
pub const MAX_ROWS: usize = 20_000;
/// Largest file accepted, bytes.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

const COLUMNS: &[&str] = &[
    "name",
    "address",
    "lat",
    "lng",
    "hours",
    "closed_dates",
    "amenities",
    "stars",
    "phone",
    "photos",
    "status",
    "org_id",
];
const REQUIRED: &[&str] = &["name", "address", "lat", "lng", "hours"];
/// Chinese input methods type the full-width `；` and `，` as readily as the ASCII ones.
const AMENITY_SEPARATORS: &[char] = &[';', '；', ',', '，', '、', '|'];

/// Why a header cell, a row or a cell was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    UnknownColumn,
    DuplicateColumn,
    MissingColumn,
    Unreadable,
    ColumnCount,
    Name,
    Address,
    LatNumber,
    LatRange,
    LngNumber,
    LngRange,
    Hours,
    ClosedDates,
    Amenities,
    Stars,
    Phone,
    Photos,
    Status,
    OrgId,
    OrgOutside,
}

impl Reason {
    /// The explanation in zh-CN and in en.
    pub fn texts(self) -> (&'static str, &'static str) {
        match self {
            Reason::UnknownColumn => (
                "无法识别的列名；可用的列：name、address、lat、lng、hours、closed_dates、amenities、stars、phone、photos、status、org_id",
                "unknown column; the columns are name, address, lat, lng, hours, closed_dates, amenities, stars, phone, photos, status, org_id",
            ),
            Reason::DuplicateColumn => ("该列在表头中出现了不止一次", "this column appears more than once in the header"),
            Reason::MissingColumn => (
                "缺少必填列；name、address、lat、lng、hours 都必须有",
                "a required column is missing; name, address, lat, lng and hours are required",
            ),
            Reason::Unreadable => ("该行无法按 CSV 格式读取", "this line cannot be read as CSV"),
            Reason::ColumnCount => (
                "该行的列数与表头不一致；含逗号的内容请用英文双引号括起来",
                "this row has a different number of columns than the header; put cells containing commas in double quotes",
            ),
            Reason::Name => ("名称不能为空，最多 60 个字，不能含控制字符", "name must be 1 to 60 characters, without control characters"),
            Reason::Address => ("地址不能为空，最多 200 个字，不能含控制字符", "address must be 1 to 200 characters, without control characters"),
            Reason::LatNumber => ("纬度必须是十进制度数，如 32.0415", "latitude must be a number in decimal degrees, e.g. 32.0415"),
            Reason::LatRange => ("纬度必须在 -90 到 90 之间", "latitude must be between -90 and 90"),
            Reason::LngNumber => ("经度必须是十进制度数，如 118.7845", "longitude must be a number in decimal degrees, e.g. 118.7845"),
            Reason::LngRange => ("经度必须在 -180 到 180 之间", "longitude must be between -180 and 180"),
            Reason::Hours => (
                "营业时间应写作 24h，或如 mon-fri 08:00-20:00; sat,sun 09:00-17:00",
                "hours must be 24h, or like mon-fri 08:00-20:00; sat,sun 09:00-17:00",
            ),
            Reason::ClosedDates => (
                "闭馆日期应写作 2027-02-06;2027-02-07 或 2027-02-06..2027-02-12",
                "closed dates must be like 2027-02-06;2027-02-07 or 2027-02-06..2027-02-12",
            ),
            Reason::Amenities => (
                "有无法识别的设施；请填写设施代码或中文名称，用 ; 、 , 或 | 分隔",
                "unknown amenity; write amenity codes or their Chinese labels, separated by ; , 、 or |",
            ),
            Reason::Stars => ("星级必须是 1 到 5 的整数", "stars must be a whole number from 1 to 5"),
            Reason::Phone => (
                "联系电话应有 5 到 20 位数字，只可另含空格、-、+ 和括号",
                "phone must have 5 to 20 digits and nothing but spaces, -, + and brackets besides",
            ),
            Reason::Photos => (
                "照片应为 http 或 https 链接，最多 9 张，用 ; 或空格分隔",
                "photos must be http or https URLs, at most 9, separated by ; or spaces",
            ),
            Reason::Status => (
                "状态只能是 open（开放）或 temporarily_closed（暂停开放）",
                "status must be open or temporarily_closed",
            ),
            Reason::OrgId => ("org_id 必须是工会组织的数字编号", "org_id must be the number of an org"),
            Reason::OrgOutside => (
                "org_id 不是导入所在的工会或其下级工会",
                "org_id is neither the org imported into nor one below it",
            ),
        }
    }
}

/// A parsed row waiting for the database step.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub row: usize,
    pub line: u64,
    /// Explicit `org_id`, to be checked against the subtree.
    pub org_id: Option<i64>,
    pub input: StationInput,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// System of the file's `lat`/`lng`: `gcj02` (default), `wgs84` or `bd09`.
    #[param(inline)]
    pub coord: Option<CoordSystem>,
    /// The file's encoding: `utf-8`, `gb18030` or `gbk` (the same decoder). Without it, a file
    /// with a UTF-8 BOM or that is valid UTF-8 is read as UTF-8, anything else as GB18030. A
    /// UTF-8 BOM wins over this parameter; the `charset` of `Content-Type` is not used (clients
    /// send `utf-8` whatever the file holds).
    #[param(schema_with = Charset::schema)]
    pub encoding: Option<String>,
}

/// How to read a file: the system of its coordinates and the encoding it declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub coord: CoordSystem,
    pub declared: Option<Charset>,
}

impl ImportQuery {
    /// The format the query names; an encoding no decoder reads is refused before the file
    /// is read.
    pub fn validate(&self) -> platform::Result<Format> {
        let declared = self
            .encoding
            .as_deref()
            .map(|name| {
                Charset::parse(name)
                    .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "encoding"))
            })
            .transpose()?;
        Ok(Format {
            coord: self.coord.unwrap_or_default(),
            declared,
        })
    }
}

/// Parses and checks a whole file (everything but the database step). `declared`: the
/// encoding the request names, if it names one.
pub fn parse(
    bytes: &[u8],
    coord: CoordSystem,
    declared: Option<Charset>,
) -> Result<Vec<ImportRow>, Refusal> {
    let text = csv_text::decode(bytes, declared).ok_or(Refusal::Encoding)?;
    let mut reader = platform::csv_import::reader(&text);
    let header = reader.headers().map_err(|_| Refusal::Empty)?.clone();
    if header.iter().all(str::is_empty) {
        return Err(Refusal::Empty);
    }
    let position = columns(&header)?;

    let mut faults = Faults::default();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        if row > MAX_ROWS {
            return Err(Refusal::TooManyRows);
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                faults.push((row, line), "row", "", Reason::Unreadable.texts());
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            let value = format!("{} columns", record.len());
            faults.push((row, line), "row", &value, Reason::ColumnCount.texts());
            continue;
        }
        let cells = Cells {
            record: &record,
            position: &position,
        };
        match parse_row(&cells, coord) {
            Ok((org_id, input)) => rows.push(ImportRow {
                row,
                line,
                org_id,
                input,
            }),
            Err(check) => {
                for (field, reason) in check.bad {
                    faults.push((row, line), field, cells.get(field), reason.texts());
                }
            }
        }
    }
    if rows.is_empty() && faults.is_empty() {
        return Err(Refusal::Empty);
    }
    faults.into_result(rows)
}

/// Where each column is; refuses unknown, repeated and missing columns.
fn columns(header: &csv::StringRecord) -> Result<HashMap<&'static str, usize>, Refusal> {
    let mut faults = Faults::default();
    let mut position: HashMap<&'static str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.to_ascii_lowercase();
        match COLUMNS.iter().find(|c| **c == name) {
            Some(column) if position.contains_key(column) => {
                faults.push((0, 1), &name, &name, Reason::DuplicateColumn.texts());
            }
            Some(column) => {
                position.insert(column, i);
            }
            None => faults.push((0, 1), &name, &name, Reason::UnknownColumn.texts()),
        }
    }
    for column in REQUIRED {
        if !position.contains_key(column) {
            faults.push((0, 1), column, "", Reason::MissingColumn.texts());
        }
    }
    faults.into_result(position)
}

/// The cells of one record by column name.
struct Cells<'a> {
    record: &'a csv::StringRecord,
    position: &'a HashMap<&'static str, usize>,
}

impl<'a> Cells<'a> {
    /// The trimmed cell of `column`, empty when the file has no such column.
    fn get(&self, column: &str) -> &'a str {
        self.position
            .get(column)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }
}

/// The faults of one row: each column at fault and why.
#[derive(Default)]
struct Check {
    bad: Vec<(&'static str, Reason)>,
}

impl Check {
    fn fault(&mut self, field: &'static str, reason: Reason) {
        self.bad.push((field, reason));
    }

    /// `parsed`, noting the fault when it is `None`.
    fn field<T>(&mut self, field: &'static str, reason: Reason, parsed: Option<T>) -> Option<T> {
        if parsed.is_none() {
            self.fault(field, reason);
        }
        parsed
    }
}

/// An optional cell: empty is `Some(None)`, anything else what `parse` makes of it.
fn optional<T>(text: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<Option<T>> {
    match text {
        "" => Some(None),
        text => parse(text).map(Some),
    }
}

/// One row's fields; on failure every faulty column and why.
fn parse_row(cells: &Cells<'_>, coord: CoordSystem) -> Result<(Option<i64>, StationInput), Check> {
    let cell = |column: &str| cells.get(column);
    let mut check = Check::default();
    let name = fields::name(cell("name")).ok();
    let name = check.field("name", Reason::Name, name);
    let address = fields::address(cell("address")).ok();
    let address = check.field("address", Reason::Address, address);
    let location = location(cell("lat"), cell("lng"), coord, &mut check);
    let hours = hours(cell("hours"), cell("closed_dates"), &mut check);
    let amenities =
        Amenities::parse_list(cell("amenities"), AMENITY_SEPARATORS, Amenity::parse_any);
    let amenities = check.field("amenities", Reason::Amenities, amenities);
    let stars = optional(cell("stars"), |t| Stars::parse(t.parse().ok()?).ok());
    let stars = check.field("stars", Reason::Stars, stars);
    let phone = optional(cell("phone"), |t| ContactPhone::parse(t).ok());
    let phone = check.field("phone", Reason::Phone, phone);
    let photo_list: Vec<&str> = cell("photos")
        .split(|ch: char| ch == ';' || ch.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    let photos = check.field("photos", Reason::Photos, fields::photos(&photo_list).ok());
    let status = match cell("status") {
        "" => Some(StationStatus::Open),
        text => fields::opening_status(text),
    };
    let status = check.field("status", Reason::Status, status);
    let org_id = optional(cell("org_id"), |t| t.parse::<i64>().ok());
    let org_id = check.field("org_id", Reason::OrgId, org_id);
    // Each field that is `None` noted its fault, and each fault left its field `None`.
    let (
        Some(name),
        Some(address),
        Some(location),
        Some(hours),
        Some(amenities),
        Some(stars),
        Some(phone),
        Some(photos),
        Some(status),
        Some(org_id),
    ) = (
        name, address, location, hours, amenities, stars, phone, photos, status, org_id,
    )
    else {
        return Err(check);
    };
    let input = StationInput {
        name,
        address,
        location,
        amenities,
        hours,
        stars,
        phone,
        photos,
        status,
    };
    Ok((org_id, input))
}

/// The row's point in GCJ-02; a fault names the coordinate at fault.
fn location(lat: &str, lng: &str, coord: CoordSystem, check: &mut Check) -> Option<LatLng> {
    let degrees = |text: &str| text.parse::<f64>().ok().filter(|v| v.is_finite());
    let lat = check.field("lat", Reason::LatNumber, degrees(lat));
    let lng = check.field("lng", Reason::LngNumber, degrees(lng));
    match LatLng::parse(lat?, lng?) {
        Ok(point) => Some(coord.to_gcj02(point)),
        Err(e) => {
            // The range check names the coordinate out of range.
            match e.field() {
                Some("lng") => check.fault("lng", Reason::LngRange),
                _ => check.fault("lat", Reason::LatRange),
            }
            None
        }
    }
}

/// The row's hours with its closure dates.
fn hours(hours: &str, closed_dates: &str, check: &mut Check) -> Option<Hours> {
    let parsed = Hours::parse_compact(hours, closed_dates);
    if parsed.is_none() {
        // Either column may be at fault; say which one parses alone.
        match Hours::parse_compact("24h", closed_dates) {
            Some(_) => check.fault("hours", Reason::Hours),
            None => check.fault("closed_dates", Reason::ClosedDates),
        }
    }
    parsed
}

/// The use case after the caller's scope is checked and the file read (the JSON route and the
/// console both): the file is judged off the request threads, the rows are stored in one write,
/// and this instance's index and the others catch up. A refusal writes nothing.
pub async fn run(
    db: &Db,
    coord: &Coordinator,
    stations: &Stations,
    (user, actor): (AuthUser, Actor),
    org_id: i64,
    body: Vec<u8>,
    format: Format,
) -> platform::Result<Result<Vec<i64>, Refusal>> {
    let parsed = actix_web::web::block(move || parse(&body, format.coord, format.declared))
        .await
        .map_err(Error::internal)?;
    let rows = match parsed {
        Ok(rows) => rows,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let stored = db
        .write(move |conn| store(conn, &user, &actor, org_id, &rows))
        .await?;
    if stored.is_ok() {
        stations.changed(db, coord).await;
    }
    Ok(stored)
}

/// The use case's database step: staff of `org_id` import into its subtree. Checks each
/// explicit `org_id` against that subtree, then writes every row. Run it in one write
/// transaction; a refusal comes before any write. One entry records the whole file (the
/// stations name their creator themselves).
pub fn store(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    rows: &[ImportRow],
) -> platform::Result<Result<Vec<i64>, Refusal>> {
    staff::require(conn, user, org_id)?;
    let mut within: HashMap<i64, bool> = HashMap::new();
    let mut faults = Faults::default();
    for row in rows {
        let Some(target) = row.org_id else { continue };
        let ok = match within.get(&target) {
            Some(ok) => *ok,
            None => {
                let ok = orgs::is_within(conn, target, org_id)?;
                within.insert(target, ok);
                ok
            }
        };
        if !ok {
            let value = target.to_string();
            faults.push(
                (row.row, row.line),
                "org_id",
                &value,
                Reason::OrgOutside.texts(),
            );
        }
    }
    if let Err(refusal) = faults.into_result(()) {
        return Ok(Err(refusal));
    }
    let ids = station::create_many(
        conn,
        rows.iter().map(|r| (r.org_id.unwrap_or(org_id), &r.input)),
        Some(user.account_id),
    )?;
    let entry = Entry::new(Action::StationImport, Record::new("org", org_id)).in_org(org_id);
    audit::record(conn, actor, entry)?;
    Ok(Ok(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "name,address,lat,lng,hours,closed_dates,amenities,stars,phone\n";

    /// The faults of a file that must be refused for its rows.
    fn faults(file: &[u8]) -> Vec<platform::csv_import::RowError> {
        match parse(file, CoordSystem::Gcj02, None) {
            Err(Refusal::Rows { errors, .. }) => errors,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_valid_file_with_bom_parses_every_row() {
        let file = format!(
            "\u{FEFF}{HEADER}\
             滨湖世纪社区幸福驿站,合肥市包河区紫云路,31.7437,117.3026,24h,,\"drinking_water;microwave;换电\",5,0551-65123456\n\
             \"新街口驿站, 二号\",南京市秦淮区中山南路1号,32.0415,118.7845,mon-fri 08:00-20:00; sat 09:00-17:00,2027-02-06..2027-02-08,toilet|wifi,,\n"
        );
        let rows = parse(file.as_bytes(), CoordSystem::Gcj02, None).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].input.name, "滨湖世纪社区幸福驿站");
        assert!(rows[0].input.hours.open_24h());
        assert_eq!(
            rows[0].input.amenities.to_text(),
            "drinking_water,microwave,battery_swap"
        );
        assert_eq!(rows[1].input.name, "新街口驿站, 二号");
        assert_eq!(rows[1].input.stars, None);
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn faults_are_listed_per_row_and_field() {
        let file = format!(
            "{HEADER}\
             ok,南京市,32.0,118.0,24h,,,,\n\
             ,南京市,95.0,118.0,24h,,sauna,6,\n\
             ok,南京市,32.0,abc,someday,,,,x\n\
             short,row\n"
        );
        let Err(Refusal::Rows { errors, count }) = parse(file.as_bytes(), CoordSystem::Gcj02, None)
        else {
            panic!("refused");
        };
        let listed: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(
            listed,
            [
                (2, "name"),
                (2, "lat"),
                (2, "amenities"),
                (2, "stars"),
                (3, "lng"),
                (3, "hours"),
                (3, "phone"),
                (4, "row"),
            ]
        );
        assert_eq!(count, 8);
        assert_eq!(errors[0].line, 3);
    }

    #[test]
    fn header_encoding_and_size_problems() {
        assert_eq!(
            parse(b"name,address,lat,lng,hours\n", CoordSystem::Gcj02, None).unwrap_err(),
            Refusal::Empty
        );
        assert_eq!(
            parse(b"\xff\xfe", CoordSystem::Gcj02, None).unwrap_err(),
            Refusal::Encoding
        );
        let Err(Refusal::Rows { errors, .. }) = parse(
            b"name,adress,lat,lng,hours\nx,y,1,2,24h\n",
            CoordSystem::Gcj02,
            None,
        ) else {
            panic!("refused");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["adress", "address"]);
        let mut big = String::from("name,address,lat,lng,hours\n");
        for _ in 0..=MAX_ROWS {
            big.push_str("a,b,32,118,24h\n");
        }
        assert_eq!(
            parse(big.as_bytes(), CoordSystem::Gcj02, None).unwrap_err(),
            Refusal::TooManyRows
        );
    }

    #[test]
    fn wgs84_files_are_converted() {
        let rows = parse(
            b"name,address,lat,lng,hours\na,b,32.0603,118.7969,24h\n",
            CoordSystem::Wgs84,
            None,
        )
        .unwrap();
        let p = rows[0].input.location;
        assert!((p.lat - 32.0603).abs() > 1e-4 && (p.lng - 118.7969).abs() > 1e-4);
    }

    #[test]
    fn a_gbk_file_from_chinese_excel_reads_as_its_text() {
        let text = format!(
            "{HEADER}\
             滨湖世纪社区幸福驿站,合肥市包河区紫云路,31.7437,117.3026,24h,,饮用水、卫生间,5,0551-65123456\n\
             新街口驿站,南京市秦淮区中山南路1号,32.0415,118.7845,mon-fri 08:00-20:00,,换电,,\n"
        );
        let (file, _, unmappable) = encoding_rs::GB18030.encode(&text);
        assert!(!unmappable && std::str::from_utf8(&file).is_err());
        let rows = parse(&file, CoordSystem::Gcj02, None).unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r.input.name.as_str()).collect();
        assert_eq!(names, ["滨湖世纪社区幸福驿站", "新街口驿站"]);
        assert_eq!(rows[1].input.address, "南京市秦淮区中山南路1号");
        assert_eq!(rows[0].input.amenities.to_text(), "drinking_water,toilet");
        let declared = parse(&file, CoordSystem::Gcj02, Some(Charset::Gb18030)).unwrap();
        assert_eq!(declared[0].input.name, "滨湖世纪社区幸福驿站");
        assert_eq!(
            parse(&file, CoordSystem::Gcj02, Some(Charset::Utf8)).unwrap_err(),
            Refusal::Encoding
        );
    }

    #[test]
    fn every_fault_says_why_in_chinese_and_in_english() {
        let file = format!(
            "{HEADER}\
             ok,南京市,95.0,118.0,24h,,,,\n\
             ok,南京市,32.0,东经,24h,,,,\n\
             ok,南京市,32.0,181,sometimes,,桑拿,0,call us\n"
        );
        let errors = faults(file.as_bytes());
        let why: Vec<(usize, &str, &str, &str)> = errors
            .iter()
            .map(|e| (e.row, e.field.as_str(), e.message_zh, e.message_en))
            .collect();
        assert_eq!(
            why[..2],
            [
                (
                    1,
                    "lat",
                    "纬度必须在 -90 到 90 之间",
                    "latitude must be between -90 and 90"
                ),
                (
                    2,
                    "lng",
                    "经度必须是十进制度数，如 118.7845",
                    "longitude must be a number in decimal degrees, e.g. 118.7845"
                ),
            ]
        );
        let third: Vec<(&str, Reason)> = [
            ("lng", Reason::LngRange),
            ("hours", Reason::Hours),
            ("amenities", Reason::Amenities),
            ("stars", Reason::Stars),
            ("phone", Reason::Phone),
        ]
        .into();
        let listed: Vec<(&str, (&str, &str))> = errors[2..]
            .iter()
            .map(|e| (e.field.as_str(), (e.message_zh, e.message_en)))
            .collect();
        let expected: Vec<(&str, (&str, &str))> =
            third.iter().map(|(f, r)| (*f, r.texts())).collect();
        assert_eq!(listed, expected);
        assert_eq!(errors[4].value, "桑拿");
    }

    #[test]
    fn header_faults_say_why_and_the_texts_match_the_rules() {
        let errors = faults("name,Name,adress,lat,lng,hours\nx,x,y,1,2,24h\n".as_bytes());
        let why: Vec<(&str, Reason)> = [
            ("name", Reason::DuplicateColumn),
            ("adress", Reason::UnknownColumn),
            ("address", Reason::MissingColumn),
        ]
        .into();
        let listed: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.message_en))
            .collect();
        let expected: Vec<(&str, &str)> = why.iter().map(|(f, r)| (*f, r.texts().1)).collect();
        assert_eq!(listed, expected);
        let (zh, en) = Reason::UnknownColumn.texts();
        for column in COLUMNS {
            assert!(zh.contains(column) && en.contains(column), "{column}");
        }
        let (zh, en) = Reason::MissingColumn.texts();
        for column in REQUIRED {
            assert!(zh.contains(column) && en.contains(column), "{column}");
        }
        for (reason, max) in [
            (Reason::Name, fields::MAX_NAME),
            (Reason::Address, fields::MAX_ADDRESS),
        ] {
            let (zh, en) = reason.texts();
            assert!(zh.contains(&max.to_string()) && en.contains(&max.to_string()));
        }
    }

    #[test]
    fn amenities_are_read_as_codes_or_chinese_labels() {
        let labels: Vec<&str> = Amenity::ALL.iter().map(|a| a.label_zh()).collect();
        let file = format!(
            "name,address,lat,lng,hours,amenities\n\
             a,b,32,118,24h,{}\n\
             c,d,32,118,24h,WiFi；Toilet，换电\n",
            labels.join("、")
        );
        let rows = parse(file.as_bytes(), CoordSystem::Gcj02, None).unwrap();
        assert_eq!(rows[0].input.amenities.to_vec(), Amenity::ALL);
        assert_eq!(
            rows[1].input.amenities.to_text(),
            "toilet,battery_swap,wifi"
        );
    }
}
