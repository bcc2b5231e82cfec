//! CSV bulk import: thousands of stations in one request, all or nothing.
//!
//! The file is UTF-8, with or without the BOM Excel writes, with a header row. Columns (any
//! order, names case-insensitive):
//!
//! | column | required | content |
//! |---|---|---|
//! | `name`, `address` | yes | text |
//! | `lat`, `lng` | yes | degrees, GCJ-02 unless the request says `?coord=wgs84` or `bd09` |
//! | `hours` | yes | `24h`, or `mon-fri 08:00-20:00; sat,sun 09:00-17:00`; `daily 22:00-06:00` runs past midnight |
//! | `closed_dates` | no | `2027-02-06;2027-02-07` or `2027-02-06..2027-02-12` |
//! | `amenities` | no | codes or their Chinese labels, split by `;` `,` `、` or `|` |
//! | `stars` | no | 1 to 5 |
//! | `phone` | no | contact number |
//! | `photos` | no | URLs split by `;` or whitespace |
//! | `status` | no | `open` (default) or `temporarily_closed` |
//! | `org_id` | no | an org in the subtree of the one imported into (default: that org) |
//!
//! Every row is checked before anything is written; the database step (org scopes, inserts)
//! runs in one transaction. Any fault anywhere and nothing is written: the answer lists each
//! faulty row with the field at fault.

use std::collections::HashMap;

use identity::AuthUser;
use membership::{orgs, staff};
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::DbConn;
use serde::Serialize;
use utoipa::ToSchema;

use crate::coords::LatLng;
use crate::hours::Hours;
use crate::stations::{self, ContactPhone, Stars, StationInput};
use crate::vocab::{Amenities, Amenity, CoordSystem, StationStatus};

/// Most rows one file may hold.
pub const MAX_ROWS: usize = 20_000;
/// Largest file accepted, bytes.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// Faulty rows listed in an answer (the count covers all).
const MAX_LISTED: usize = 1_000;

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

/// One fault in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// Data row number, 1 for the first row after the header; 0 for the header itself.
    pub row: usize,
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// The column at fault.
    pub field: String,
    /// The offending value, shortened.
    pub value: String,
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

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not UTF-8.
    Encoding,
    /// No header, or no data row.
    Empty,
    /// More than [`MAX_ROWS`] rows.
    TooManyRows,
    /// Faulty rows (at most [`MAX_LISTED`] listed) and how many there were.
    Rows { errors: Vec<RowError>, count: usize },
}

fn shorten(value: &str) -> String {
    value.chars().take(100).collect()
}

/// Collects row faults up to the listing limit while counting all.
#[derive(Default)]
pub struct Faults {
    errors: Vec<RowError>,
    count: usize,
}

impl Faults {
    pub fn push(&mut self, row: usize, line: u64, field: &str, value: &str) {
        self.count += 1;
        if self.errors.len() < MAX_LISTED {
            self.errors.push(RowError {
                row,
                line,
                field: field.to_owned(),
                value: shorten(value),
            });
        }
    }

    pub fn into_result<T>(self, ok: T) -> Result<T, Refusal> {
        if self.count == 0 {
            Ok(ok)
        } else {
            Err(Refusal::Rows {
                errors: self.errors,
                count: self.count,
            })
        }
    }
}

/// Parses and checks a whole file (everything but the database step).
pub fn parse(bytes: &[u8], coord: CoordSystem) -> Result<Vec<ImportRow>, Refusal> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| Refusal::Encoding)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut faults = Faults::default();

    let header = reader.headers().map_err(|_| Refusal::Empty)?.clone();
    if header.iter().all(str::is_empty) {
        return Err(Refusal::Empty);
    }
    let mut position: HashMap<&'static str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.to_ascii_lowercase();
        match COLUMNS.iter().find(|c| **c == name) {
            Some(column) if !position.contains_key(column) => {
                position.insert(column, i);
            }
            _ => faults.push(0, 1, &name, &name),
        }
    }
    for column in REQUIRED {
        if !position.contains_key(column) {
            faults.push(0, 1, column, "");
        }
    }
    if faults.count > 0 {
        return faults.into_result(Vec::new());
    }

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
                faults.push(row, line, "row", "");
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            faults.push(row, line, "row", &format!("{} columns", record.len()));
            continue;
        }
        let cells = Cells {
            record: &record,
            position: &position,
        };
        let cell = |column: &str| cells.get(column);
        match parse_row(&cells, coord) {
            Ok((org_id, input)) => rows.push(ImportRow {
                row,
                line,
                org_id,
                input,
            }),
            Err(bad) => {
                for field in bad {
                    faults.push(row, line, field, cell(field));
                }
            }
        }
    }
    if rows.is_empty() && faults.count == 0 {
        return Err(Refusal::Empty);
    }
    faults.into_result(rows)
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

/// One row's fields; on failure every faulty column.
fn parse_row(
    cells: &Cells<'_>,
    coord: CoordSystem,
) -> Result<(Option<i64>, StationInput), Vec<&'static str>> {
    let cell = |column: &str| cells.get(column);
    let mut bad = Vec::new();
    let mut check = |field: &'static str, ok: bool| {
        if !ok {
            bad.push(field);
        }
    };
    let name = StationInput::name(cell("name")).ok();
    check("name", name.is_some());
    let address = StationInput::address(cell("address")).ok();
    check("address", address.is_some());
    let lat = cell("lat").parse::<f64>().ok().filter(|v| v.is_finite());
    let lng = cell("lng").parse::<f64>().ok().filter(|v| v.is_finite());
    let location = match (lat, lng) {
        (Some(lat), Some(lng)) => match LatLng::parse(lat, lng) {
            Ok(p) => Some(coord.to_gcj02(p)),
            Err(e) => {
                bad.push(e.field().unwrap_or("lat"));
                None
            }
        },
        _ => {
            if lat.is_none() {
                bad.push("lat");
            }
            if lng.is_none() {
                bad.push("lng");
            }
            None
        }
    };
    let hours = Hours::parse_compact(cell("hours"), cell("closed_dates"));
    if hours.is_none() {
        // Either column may be at fault; say which one parses alone.
        let closed_ok = Hours::parse_compact("24h", cell("closed_dates")).is_some();
        bad.push(if closed_ok { "hours" } else { "closed_dates" });
    }
    let amenities = Amenities::parse_list(
        cell("amenities"),
        &[';', ',', '、', '|', '，'],
        Amenity::parse_any,
    );
    if amenities.is_none() {
        bad.push("amenities");
    }
    let stars = match cell("stars") {
        "" => Some(None),
        text => text
            .parse::<i64>()
            .ok()
            .and_then(|n| Stars::parse(n).ok())
            .map(Some),
    };
    if stars.is_none() {
        bad.push("stars");
    }
    let phone = match cell("phone") {
        "" => Some(None),
        text => ContactPhone::parse(text).ok().map(Some),
    };
    if phone.is_none() {
        bad.push("phone");
    }
    let photo_list: Vec<&str> = cell("photos")
        .split(|ch: char| ch == ';' || ch.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    let photos = stations::photos(&photo_list).ok();
    if photos.is_none() {
        bad.push("photos");
    }
    let status = match cell("status") {
        "" => Some(StationStatus::Open),
        text => StationStatus::parse(text).filter(|s| *s != StationStatus::Closed),
    };
    if status.is_none() {
        bad.push("status");
    }
    let org_id = match cell("org_id") {
        "" => Some(None),
        text => text.parse::<i64>().ok().map(Some),
    };
    if org_id.is_none() {
        bad.push("org_id");
    }
    match (
        name, address, location, hours, amenities, stars, phone, photos, status, org_id,
    ) {
        (
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
        ) if bad.is_empty() => Ok((
            org_id,
            StationInput {
                name,
                address,
                location,
                amenities,
                hours,
                stars,
                phone,
                photos,
                status,
            },
        )),
        _ => Err(bad),
    }
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
            faults.push(row.row, row.line, "org_id", &target.to_string());
        }
    }
    if let Err(refusal) = faults.into_result(()) {
        return Ok(Err(refusal));
    }
    let ids = stations::create_many(
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

    #[test]
    fn a_valid_file_with_bom_parses_every_row() {
        let file = format!(
            "\u{FEFF}{HEADER}\
             滨湖世纪社区幸福驿站,合肥市包河区紫云路,31.7437,117.3026,24h,,\"drinking_water;microwave;换电\",5,0551-65123456\n\
             \"新街口驿站, 二号\",南京市秦淮区中山南路1号,32.0415,118.7845,mon-fri 08:00-20:00; sat 09:00-17:00,2027-02-06..2027-02-08,toilet|wifi,,\n"
        );
        let rows = parse(file.as_bytes(), CoordSystem::Gcj02).unwrap();
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
        let Err(Refusal::Rows { errors, count }) = parse(file.as_bytes(), CoordSystem::Gcj02)
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
            parse(b"name,address,lat,lng,hours\n", CoordSystem::Gcj02).unwrap_err(),
            Refusal::Empty
        );
        assert_eq!(
            parse(b"\xff\xfe", CoordSystem::Gcj02).unwrap_err(),
            Refusal::Encoding
        );
        let Err(Refusal::Rows { errors, .. }) = parse(
            b"name,adress,lat,lng,hours\nx,y,1,2,24h\n",
            CoordSystem::Gcj02,
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
            parse(big.as_bytes(), CoordSystem::Gcj02).unwrap_err(),
            Refusal::TooManyRows
        );
    }

    #[test]
    fn wgs84_files_are_converted() {
        let rows = parse(
            b"name,address,lat,lng,hours\na,b,32.0603,118.7969,24h\n",
            CoordSystem::Wgs84,
        )
        .unwrap();
        let p = rows[0].input.location;
        assert!((p.lat - 32.0603).abs() > 1e-4 && (p.lng - 118.7969).abs() > 1e-4);
    }
}
