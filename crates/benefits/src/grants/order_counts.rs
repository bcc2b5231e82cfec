//! Monthly order counts a platform or an industry federation gives the union, imported by staff
//! for one grant program as CSV, so the orders rule is checked from them instead of the
//! worker's declaration (and screenshots). Only the keyed hash of each ID number is stored:
//! the file names people; the table names no one without the key.
//!
//! The file: UTF-8 (with or without the BOM) or GBK/GB18030, a header row, up to 50,000 rows.
//! Columns, in any order, by their Chinese or English names:
//!
//! | column | content |
//! |---|---|
//! | `身份证号` / `id_number` | the worker's resident ID number (GB 11643 check character) |
//! | `月份` / `month` | `2026-10` or `2026-10-01`, not still to come |
//! | `单量` / `orders` | the month's completed orders, 0 to 100,000 |
//!
//! All or nothing, like the station import: any fault and nothing is written, the answer lists
//! each faulty row and column with why. A worker's month imported again replaces the count.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use identity::id_number::IdNumber;
use identity::AuthUser;
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::DataProtector;
use platform::csv_import::{self, Faults, Refusal};
use platform::csv_text::{self, Charset};
use platform::schema::grant_order_counts as oc;
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::apply::MonthOrders;
use crate::programs;
use crate::vocab::ProgramKind;

/// Most rows one file may hold.
pub const MAX_ROWS: usize = 50_000;
/// Largest file accepted, bytes.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Most orders a month may count.
const MAX_ORDERS: u32 = 100_000;

/// The query of `POST /v1/admin/programs/{id}/order-counts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderCountsQuery {
    /// Who provided the file (`美团外卖`, `市快递行业协会`).
    #[param(value_type = Text<60>, inline)]
    pub source: Text<60>,
    /// `utf-8` or `gb18030` (`gbk`); detected when absent.
    #[param(value_type = Option<String>)]
    pub encoding: Option<String>,
}

impl OrderCountsQuery {
    pub fn charset(&self) -> Result<Option<Charset>> {
        match &self.encoding {
            None => Ok(None),
            Some(name) => Charset::parse(name)
                .map(Some)
                .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "encoding")),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCountsImported {
    /// Rows written.
    pub imported: usize,
    /// Different workers in the file.
    pub workers: usize,
    /// The months the file covers, oldest first.
    pub months: Vec<NaiveDate>,
}

/// One checked row: whose (by keyed hash), which month, how many orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub id_hash: String,
    pub month: NaiveDate,
    pub orders: u32,
}

type Why = (&'static str, &'static str);
const WHY_COLUMNS: Why = (
    "表头须为：身份证号、月份、单量（或 id_number、month、orders），每列一次",
    "the header must be id_number, month and orders (or 身份证号, 月份, 单量), each once",
);
const WHY_COUNT: Why = (
    "该行的列数与表头不一致",
    "this row has a different number of columns than the header",
);
const WHY_UNREADABLE: Why = ("该行无法按 CSV 格式读取", "this line cannot be read as CSV");
const WHY_ID: Why = (
    "身份证号无效（18 位，末位校验码须正确）",
    "not a valid resident ID number (18 characters with the check character)",
);
const WHY_MONTH: Why = (
    "月份应写作 2026-10 或 2026-10-01，且不能晚于本月",
    "month must be like 2026-10 or 2026-10-01, not after this month",
);
const WHY_ORDERS: Why = (
    "单量须为 0 到 100000 的整数",
    "orders must be a whole number from 0 to 100000",
);
const WHY_TWICE: Why = (
    "同一人同一月份在文件中出现了不止一次",
    "the same person and month appear more than once in the file",
);

/// Where each column is: id number, month, orders.
fn columns(header: &csv_import::StringRecord) -> Option<[usize; 3]> {
    let names = [
        ["身份证号", "id_number"],
        ["月份", "month"],
        ["单量", "orders"],
    ];
    let mut found = [None; 3];
    for (i, cell) in header.iter().enumerate() {
        let cell = cell.trim_start_matches('\u{feff}');
        let slot = names.iter().position(|n| n.contains(&cell))?;
        if found[slot].replace(i).is_some() {
            return None;
        }
    }
    Some([found[0]?, found[1]?, found[2]?])
}

fn month(text: &str, this_month: NaiveDate) -> Option<NaiveDate> {
    let first = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())?;
    (first.day() == 1 && first <= this_month).then_some(first)
}

/// Parses and checks a whole file; `hash` turns an ID number into its keyed hash.
pub fn parse(
    bytes: &[u8],
    declared: Option<Charset>,
    today: NaiveDate,
    hash: impl Fn(&IdNumber) -> String,
) -> std::result::Result<Vec<CountRow>, Refusal> {
    let text = csv_text::decode(bytes, declared).ok_or(Refusal::Encoding)?;
    let mut reader = csv_import::reader(&text);
    let header = reader.headers().map_err(|_| Refusal::Empty)?.clone();
    let mut faults = Faults::default();
    let Some([id_at, month_at, orders_at]) = columns(&header) else {
        let names = header.iter().collect::<Vec<_>>().join(",");
        faults.push((0, 1), "header", &names, WHY_COLUMNS);
        return faults.into_result(Vec::new());
    };
    let this_month = today.with_day(1).expect("a first day");
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        if row > MAX_ROWS {
            return Err(Refusal::TooManyRows);
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                faults.push((row, line), "row", "", WHY_UNREADABLE);
                continue;
            }
        };
        let at = (row, record.position().map_or(0, |p| p.line()));
        if record.len() != header.len() {
            faults.push(at, "row", &format!("{} columns", record.len()), WHY_COUNT);
            continue;
        }
        let (id, month_text, orders) = (&record[id_at], &record[month_at], &record[orders_at]);
        let parsed_id = IdNumber::parse(id, today);
        let parsed_month = month(month_text, this_month);
        let parsed_orders = orders.parse::<u32>().ok().filter(|n| *n <= MAX_ORDERS);
        if parsed_id.is_none() {
            faults.push(at, "id_number", "", WHY_ID);
        }
        if parsed_month.is_none() {
            faults.push(at, "month", month_text, WHY_MONTH);
        }
        if parsed_orders.is_none() {
            faults.push(at, "orders", orders, WHY_ORDERS);
        }
        let (Some(id), Some(month), Some(orders)) = (parsed_id, parsed_month, parsed_orders) else {
            continue;
        };
        let id_hash = hash(&id);
        if !seen.insert((id_hash.clone(), month)) {
            faults.push(at, "month", month_text, WHY_TWICE);
            continue;
        }
        rows.push(CountRow {
            id_hash,
            month,
            orders,
        });
    }
    if rows.is_empty() && faults.is_empty() {
        return Err(Refusal::Empty);
    }
    faults.into_result(rows)
}

/// Staff of the program's org (or above) may import for it; `not_found` for others.
pub fn require_importer(conn: &mut DbConn, user: &AuthUser, program_id: i64) -> Result<()> {
    let program = programs::get(conn, program_id)?;
    program.require_kind(ProgramKind::HardshipGrant)?;
    staff::require(conn, user, program.org_id)
}

/// The use case: the checked rows go in, replacing a worker's month imported before.
pub fn store(
    conn: &mut DbConn,
    (user, actor): (&AuthUser, &Actor),
    program_id: i64,
    source: &str,
    rows: Vec<CountRow>,
) -> Result<OrderCountsImported> {
    require_importer(conn, user, program_id)?;
    let now = platform::clock::now();
    let mut months: Vec<NaiveDate> = rows.iter().map(|r| r.month).collect();
    months.sort_unstable();
    months.dedup();
    let workers: HashSet<&str> = rows.iter().map(|r| r.id_hash.as_str()).collect();
    let workers = workers.len();
    for chunk in rows.chunks(500) {
        let hashes: Vec<&str> = chunk.iter().map(|r| r.id_hash.as_str()).collect();
        diesel::delete(
            oc::table
                .filter(oc::program_id.eq(program_id))
                .filter(oc::id_hash.eq_any(&hashes))
                .filter(oc::month.eq_any(&months)),
        )
        .execute(conn)?;
        let values: Vec<_> = chunk
            .iter()
            .map(|r| {
                (
                    oc::program_id.eq(program_id),
                    oc::id_hash.eq(&r.id_hash),
                    oc::month.eq(r.month),
                    oc::orders.eq(r.orders as i32),
                    oc::source.eq(source),
                    oc::imported_at.eq(now),
                    oc::imported_by.eq(user.account_id),
                )
            })
            .collect();
        platform::insert_rows!(conn, oc::table, values)?;
    }
    let program_org: i64 = programs::get(conn, program_id)?.org_id;
    let entry = Entry::new(
        Action::GrantOrdersImport,
        Record::new("program", program_id),
    )
    .in_org(program_org);
    audit::record(conn, actor, entry)?;
    Ok(OrderCountsImported {
        imported: rows.len(),
        workers,
        months,
    })
}

/// The imported months of the worker whose ID number hashes to `id_hash`, oldest first.
pub(crate) fn of(conn: &mut DbConn, program_id: i64, id_hash: &str) -> Result<Vec<MonthOrders>> {
    let rows: Vec<(NaiveDate, i32)> = oc::table
        .filter(oc::program_id.eq(program_id))
        .filter(oc::id_hash.eq(id_hash))
        .order(oc::month)
        .select((oc::month, oc::orders))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(month, orders)| MonthOrders {
            month,
            orders: orders.max(0) as u32,
        })
        .collect())
}

/// The keyed hash identity uses for ID numbers, so imported rows meet real-name profiles.
pub fn hasher(protector: &DataProtector) -> impl Fn(&IdNumber) -> String + '_ {
    |id| protector.lookup_hash("id_number", id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()
    }

    fn id(n: u32) -> String {
        let first17 = format!("32010219900101{n:03}");
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = first17
            .bytes()
            .zip(weights)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
    }

    fn parsed(file: &str) -> std::result::Result<Vec<CountRow>, Refusal> {
        parse(file.as_bytes(), None, today(), |id| {
            format!("h:{}", id.as_str())
        })
    }

    #[test]
    fn a_file_with_chinese_headers_reads_every_row() {
        let file = format!(
            "\u{feff}身份证号,月份,单量\r\n{},2026-10,31\r\n{},2026-11-01,12\r\n",
            id(1),
            id(1)
        );
        let rows = parsed(&file).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].month, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(
            (rows[0].orders, rows[0].id_hash.clone()),
            (31, format!("h:{}", id(1)))
        );
    }

    #[test]
    fn every_faulty_cell_is_listed_and_nothing_passes() {
        let file = format!(
            "orders,id_number,month\n31,{},2026-10\n-1,320102199001010000,2027-01\n5,{},2026-10\n",
            id(2),
            id(2)
        );
        let Err(Refusal::Rows { errors, count }) = parsed(&file) else {
            panic!("refused");
        };
        assert_eq!(count, 4);
        let fields: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(
            fields,
            [(2, "id_number"), (2, "month"), (2, "orders"), (3, "month")]
        );
        assert!(
            errors.iter().all(|e| !e.value.contains("3201021990")),
            "no ID number echoed"
        );
        let Err(Refusal::Rows { errors, .. }) = parsed("name,month\n") else {
            panic!("refused");
        };
        assert_eq!(errors[0].field, "header");
        assert_eq!(parsed("id_number,month,orders\n"), Err(Refusal::Empty));
    }
}
