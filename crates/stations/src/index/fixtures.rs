//! Test helpers shared by the index's test modules: records, indexes built from them without
//! a database, the brute-force reference search, and the snapshot's consistency check.

use chrono::{NaiveDate, NaiveDateTime};

use super::grid::{key, key_of, ROWS};
use super::search::SearchQuery;
use super::snapshot::{Snapshot, Station, StationRecord};
use super::StationIndex;
use crate::coords::LatLng;
use crate::hours::Hours;
use crate::vocab::{Amenities, StationStatus};

pub(super) fn index_of(records: Vec<StationRecord>) -> StationIndex {
    let snapshot = Snapshot::from_records(0, records).unwrap();
    assert_consistent(&snapshot);
    StationIndex::new(snapshot)
}

pub(super) fn row(
    id: i64,
    lat: f64,
    lng: f64,
    amenities: &str,
    hours: &Hours,
    status: &str,
) -> StationRecord {
    StationRecord {
        id,
        lat,
        lng,
        name: format!("驿站{id}"),
        address: format!("路{id}号"),
        amenities: amenities.to_owned(),
        hours: hours.to_storage().0,
        closed_dates: hours.to_storage().1,
        stars: None,
        status: StationStatus::parse(status).unwrap(),
        open_faults: 0,
    }
}

/// The reference: every station, exact distance, filter, sort, cut.
pub(super) fn brute_force(rows: &[(i64, LatLng, Amenities, bool)], q: &SearchQuery) -> Vec<i64> {
    let mut all: Vec<(f64, i64)> = rows
        .iter()
        .filter(|(_, _, a, open)| a.contains_all(q.amenities) && (!q.open_only || *open))
        .map(|(id, at, _, _)| (crate::coords::haversine_m(q.center, *at), *id))
        .filter(|(d, _)| *d <= q.radius_m)
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(q.limit).map(|(_, id)| id).collect()
}

pub(super) fn at() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 20)
        .unwrap()
        .and_hms_opt(21, 0, 0)
        .unwrap()
}

/// The arrays agree with each other: cells in key order over non-empty runs holding only
/// their own stations, row starts, and the id order.
pub(super) fn assert_consistent(s: &Snapshot) {
    for (i, cell) in s.cells.iter().enumerate() {
        assert!(i == 0 || s.cells[i - 1].0 < cell.0);
        let (start, end) = (cell.1 as usize, s.cell_end(i));
        assert!(start < end, "cell {i} is empty");
        assert!(s.stations[start..end]
            .iter()
            .all(|st| key_of(st.at) == cell.0 && st.cell == cell.0));
    }
    assert_eq!(s.cells.first().map_or(0, |c| c.1), 0);
    if !s.cells.is_empty() {
        for row in 0..=ROWS {
            let first = s.cells.partition_point(|c| c.0 < key(row, 0));
            assert_eq!(s.row_starts[row as usize] as usize, first, "row {row}");
        }
    }
    assert_eq!(
        s.text.len() - s.garbage,
        s.stations.iter().map(Station::text_len).sum::<usize>(),
        "the arena's garbage is counted"
    );
    assert_eq!(s.by_id.len(), s.stations.len());
    let ids: Vec<i64> = s.by_id.iter().map(|&p| s.stations[p as usize].id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for station in &s.stations {
        let name = s.name(station);
        assert_eq!(name, format!("驿站{}", station.id).as_str());
    }
}
