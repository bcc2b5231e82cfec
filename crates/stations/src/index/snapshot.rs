//! The index's data at one stations version: the stations in grid order, the cells naming
//! their runs, the text arena and the interned opening hours, and the edits a refresh makes
//! to them in place. Built from plain [`StationRecord`]s, so nothing here needs a database.

use std::collections::HashMap;

use platform::Result;

use super::grid::{key, key_of, row_of_key, ROWS};
use crate::coords::{gcj02_to_bd09, LatLng, Micro};
use crate::hours::{Hours, Moment};
use crate::vocab::{Amenities, StationStatus};

/// A station as stored, its status decoded: what the index is built from and updated with
/// (`load` reads these from the database).
pub(super) struct StationRecord {
    pub(super) id: i64,
    pub(super) lat: f64,
    pub(super) lng: f64,
    pub(super) name: String,
    pub(super) address: String,
    pub(super) amenities: String,
    pub(super) hours: String,
    pub(super) closed_dates: String,
    pub(super) stars: Option<i16>,
    pub(super) status: StationStatus,
    pub(super) open_faults: i32,
}

pub(super) const OPEN: u8 = 0;
const TEMPORARILY_CLOSED: u8 = 1;
/// Closed: not in the index.
const GONE: u8 = 2;

fn state_of(status: StationStatus) -> u8 {
    match status {
        StationStatus::Open => OPEN,
        StationStatus::TemporarilyClosed => TEMPORARILY_CLOSED,
        StationStatus::Closed => GONE,
    }
}

/// What the index keeps per station: 64 bytes, what deciding on a candidate needs first.
#[derive(Debug, Clone, Copy)]
pub(super) struct Station {
    pub(super) at: LatLng,
    /// Cosine of the latitude: the haversine's factor for this end, computed once.
    pub(super) cos_lat: f64,
    pub(super) id: i64,
    /// `at` in BD-09, for the Baidu Maps link (converting it for every result was about a
    /// tenth of writing an answer).
    pub(super) baidu: Micro,
    pub(super) amenities: Amenities,
    /// Offset of name then address in the text arena.
    pub(super) text: u32,
    pub(super) schedule: u32,
    /// Key of the grid cell of `at`.
    pub(super) cell: u32,
    pub(super) name_len: u16,
    pub(super) address_len: u16,
    pub(super) open_faults: u16,
    /// 0: not graded.
    pub(super) stars: u8,
    pub(super) state: u8,
}

const _: () = assert!(std::mem::size_of::<Station>() == 64);

impl Station {
    pub(super) fn text_len(&self) -> usize {
        usize::from(self.name_len) + usize::from(self.address_len)
    }
}

/// Distinct opening hours, stored once each, found by their stored form.
#[derive(Default)]
pub(super) struct Schedules {
    pub(super) list: Vec<Hours>,
    /// By the weekly form, for the usual stations without closure dates.
    by_week: HashMap<String, u32, Fnv>,
    /// By weekly form and closure dates.
    by_both: HashMap<(String, String), u32, Fnv>,
}

impl Schedules {
    fn intern(&mut self, week: &str, closed_dates: &str) -> Result<u32> {
        let found = if closed_dates.is_empty() {
            self.by_week.get(week)
        } else {
            self.by_both
                .get(&(week.to_owned(), closed_dates.to_owned()))
        };
        if let Some(&i) = found {
            return Ok(i);
        }
        let i = self.list.len() as u32;
        self.list.push(Hours::from_storage(week, closed_dates)?);
        if closed_dates.is_empty() {
            self.by_week.insert(week.to_owned(), i);
        } else {
            self.by_both
                .insert((week.to_owned(), closed_dates.to_owned()), i);
        }
        Ok(i)
    }
}

/// FNV-1a: interning keys are short and come from our own rows, so a fast hash beats SipHash's
/// flooding resistance here.
#[derive(Default, Clone, Copy)]
struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[derive(Default)]
pub(super) struct Snapshot {
    /// Every searchable station in grid order: by cell key, then id.
    pub(super) stations: Vec<Station>,
    /// Non-empty cells sorted by key, each with the position in `stations` where its run
    /// starts; the run ends where the next cell's starts.
    pub(super) cells: Vec<(u32, u32)>,
    /// For each grid row, the index in `cells` of its first cell, and `cells.len()` last
    /// (empty while there are no stations), so a search looks up columns among one row's cells.
    pub(super) row_starts: Vec<u32>,
    /// Positions in `stations`, ordered by the stations' ids.
    pub(super) by_id: Vec<u32>,
    /// Names and addresses.
    pub(super) text: String,
    /// Bytes of `text` no station points to any more.
    pub(super) garbage: usize,
    pub(super) schedules: Schedules,
    pub(super) version: i64,
}

/// Changed rows up to this many are applied one by one (each moves the arrays once); more are
/// applied together with one re-sort.
const APPLY_ONE_BY_ONE: usize = 32;

impl Snapshot {
    /// The snapshot of the records of `batches` (in any order, closed ones left out) at
    /// stations version `version`, with room for the `expected` stations they bring. Every
    /// batch is taken, even after a bad record: whoever hands them over may be waiting to.
    pub(super) fn from_batches(
        version: i64,
        expected: usize,
        batches: impl IntoIterator<Item = Vec<StationRecord>>,
    ) -> Result<Snapshot> {
        let mut snapshot = Snapshot {
            version,
            stations: Vec::with_capacity(expected),
            ..Snapshot::default()
        };
        let mut built = Ok(());
        for records in batches {
            if built.is_err() {
                continue;
            }
            built = snapshot.add(records, expected);
        }
        built?;
        snapshot.stations.shrink_to_fit();
        snapshot.text.shrink_to_fit();
        snapshot.reindex();
        Ok(snapshot)
    }

    /// The snapshot of `records` (in any order, closed ones left out) at stations version
    /// `version`. (Only tests have their records at hand: a load streams them in batches.)
    #[cfg(test)]
    pub(super) fn from_records(
        version: i64,
        records: impl IntoIterator<Item = StationRecord>,
    ) -> Result<Snapshot> {
        let records: Vec<StationRecord> = records.into_iter().collect();
        Snapshot::from_batches(version, records.len(), [records])
    }

    /// Adds the stations of a batch of records, out of the `expected` of the whole build.
    fn add(&mut self, records: Vec<StationRecord>, expected: usize) -> Result<()> {
        if self.text.capacity() == 0 {
            // Sized from the first batch so that the arena is not regrown (and copied)
            // as it fills: growth would leave freed blocks behind in the heap.
            let bytes: usize = records.iter().map(|r| r.name.len() + r.address.len()).sum();
            let per_row = bytes / records.len().max(1) + 1;
            self.text.reserve(per_row * expected * 21 / 20);
        }
        for record in records {
            if let Some(station) = self.station(&record)? {
                self.stations.push(station);
            }
        }
        Ok(())
    }

    /// The station of a record, its text appended to the arena; `None` for a closed station.
    fn station(&mut self, record: &StationRecord) -> Result<Option<Station>> {
        let state = state_of(record.status);
        if state == GONE {
            return Ok(None);
        }
        let schedule = self.schedules.intern(&record.hours, &record.closed_dates)?;
        let offset = self.text.len() as u32;
        self.text.push_str(&record.name);
        self.text.push_str(&record.address);
        let at = LatLng {
            lat: record.lat,
            lng: record.lng,
        };
        Ok(Some(Station {
            at,
            cos_lat: record.lat.to_radians().cos(),
            id: record.id,
            baidu: Micro::of(gcj02_to_bd09(at)),
            cell: key_of(at),
            amenities: Amenities::from_text(&record.amenities),
            text: offset,
            schedule,
            name_len: record.name.len() as u16,
            address_len: record.address.len() as u16,
            open_faults: record.open_faults.clamp(0, i32::from(u16::MAX)) as u16,
            stars: record.stars.map_or(0, |s| s.clamp(0, 5) as u8),
            state,
        }))
    }

    /// Puts `stations` in grid order and rebuilds the cells, the row starts and the id order,
    /// in place: a rebuild must not leave large freed blocks behind in the heap, where they
    /// stay resident. (So the text arena keeps the order the rows came in; the stations of a
    /// result are read from the runs the search has just scanned, and their names are read in
    /// one loop, misses overlapping.)
    fn reindex(&mut self) {
        self.stations.sort_unstable_by_key(|s| (s.cell, s.id));
        let cells = 1 + self
            .stations
            .windows(2)
            .filter(|w| w[0].cell != w[1].cell)
            .count();
        self.cells.clear();
        self.cells.reserve_exact(cells);
        for (pos, station) in self.stations.iter().enumerate() {
            if self.cells.last().is_none_or(|c| c.0 != station.cell) {
                self.cells.push((station.cell, pos as u32));
            }
        }
        self.row_starts.clear();
        if !self.cells.is_empty() {
            self.row_starts.reserve_exact(ROWS as usize + 1);
            let mut cell = 0;
            for row in 0..=ROWS {
                let first = key(row, 0);
                while self.cells.get(cell).is_some_and(|c| c.0 < first) {
                    cell += 1;
                }
                self.row_starts.push(cell as u32);
            }
        }
        self.by_id.clear();
        self.by_id.reserve_exact(self.stations.len());
        self.by_id.extend(0..self.stations.len() as u32);
        let stations = &self.stations;
        self.by_id
            .sort_unstable_by_key(|&p| stations[p as usize].id);
    }

    /// Room for `n` more stations, grown by a little at a time: these arrays are large, and
    /// doubling one would leave its old block behind in the heap.
    fn room_for(&mut self, n: usize) {
        let headroom = n + self.stations.len() / 64;
        if self.stations.capacity() - self.stations.len() < n {
            self.stations.reserve_exact(headroom);
        }
        if self.by_id.capacity() - self.by_id.len() < n {
            self.by_id.reserve_exact(headroom);
        }
    }

    /// Where the station with `id` is in `by_id`, or where it would go.
    fn find(&self, id: i64) -> std::result::Result<usize, usize> {
        self.by_id
            .binary_search_by_key(&id, |&p| self.stations[p as usize].id)
    }

    /// Where `cell`'s run of `stations` ends.
    pub(super) fn cell_end(&self, cell: usize) -> usize {
        self.cells
            .get(cell + 1)
            .map_or(self.stations.len(), |c| c.1 as usize)
    }

    /// Takes the station at `by_id[found]` out.
    fn remove(&mut self, found: usize) {
        let pos = self.by_id.remove(found);
        let station = self.stations.remove(pos as usize);
        self.garbage += station.text_len();
        let key = station.cell;
        let cell = self
            .cells
            .binary_search_by_key(&key, |c| c.0)
            .expect("a station's cell is in the grid");
        for c in &mut self.cells[cell + 1..] {
            c.1 -= 1;
        }
        if self.cell_end(cell) == self.cells[cell].1 as usize {
            self.cells.remove(cell);
            for start in &mut self.row_starts[row_of_key(key) + 1..] {
                *start -= 1;
            }
        }
        for p in &mut self.by_id {
            if *p > pos {
                *p -= 1;
            }
        }
    }

    /// Puts a station in its place.
    fn insert(&mut self, station: Station) {
        if self.row_starts.is_empty() {
            self.row_starts = vec![0; ROWS as usize + 1];
        }
        self.room_for(1);
        let key = station.cell;
        let pos = match self.cells.binary_search_by_key(&key, |c| c.0) {
            Ok(cell) => {
                let (start, end) = (self.cells[cell].1 as usize, self.cell_end(cell));
                for c in &mut self.cells[cell + 1..] {
                    c.1 += 1;
                }
                start + self.stations[start..end].partition_point(|s| s.id < station.id)
            }
            Err(cell) => {
                let start = self
                    .cells
                    .get(cell)
                    .map_or(self.stations.len(), |c| c.1 as usize);
                self.cells.insert(cell, (key, start as u32));
                for c in &mut self.cells[cell + 1..] {
                    c.1 += 1;
                }
                for first in &mut self.row_starts[row_of_key(key) + 1..] {
                    *first += 1;
                }
                start
            }
        };
        for p in &mut self.by_id {
            if *p >= pos as u32 {
                *p += 1;
            }
        }
        self.stations.insert(pos, station);
        let at = self
            .find(station.id)
            .expect_err("a station is in the index once");
        self.by_id.insert(at, pos as u32);
    }

    /// Puts a changed record in place of what the index had for that station.
    fn apply(&mut self, record: &StationRecord) -> Result<()> {
        let station = self.station(record)?;
        if let Ok(found) = self.find(record.id) {
            self.remove(found);
        }
        if let Some(station) = station {
            self.insert(station);
        }
        self.compact_text_if_wasteful();
        Ok(())
    }

    /// Applies changed records: one by one when they are few, else all at once with one
    /// re-sort.
    pub(super) fn apply_all(&mut self, records: &[StationRecord]) -> Result<()> {
        if records.len() <= APPLY_ONE_BY_ONE {
            return records.iter().try_for_each(|record| self.apply(record));
        }
        // Every row is read before anything moves, so a bad row leaves the index as it was:
        // the text the rows before it appended to the arena goes again.
        let text_before = self.text.len();
        let mut fresh = Vec::with_capacity(records.len());
        for record in records {
            match self.station(record) {
                Ok(station) => fresh.extend(station),
                Err(e) => {
                    self.text.truncate(text_before);
                    return Err(e);
                }
            }
        }
        let mut changed: Vec<i64> = records.iter().map(|r| r.id).collect();
        changed.sort_unstable();
        let mut dropped = 0;
        self.stations.retain(|s| {
            let keep = changed.binary_search(&s.id).is_err();
            if !keep {
                dropped += s.text_len();
            }
            keep
        });
        self.garbage += dropped;
        self.room_for(fresh.len());
        self.stations.extend(fresh);
        self.reindex();
        self.compact_text_if_wasteful();
        Ok(())
    }

    /// Rewrites the text arena once most of it is dead (stations edited many times).
    fn compact_text_if_wasteful(&mut self) {
        if self.garbage < (1 << 20) || self.garbage < self.text.len() / 2 {
            return;
        }
        let mut text = String::with_capacity(self.text.len() - self.garbage);
        for station in &mut self.stations {
            let from = station.text as usize;
            station.text = text.len() as u32;
            text.push_str(&self.text[from..from + station.text_len()]);
        }
        self.text = text;
        self.garbage = 0;
    }

    pub(super) fn name(&self, s: &Station) -> &str {
        let from = s.text as usize;
        &self.text[from..from + usize::from(s.name_len)]
    }

    pub(super) fn address(&self, s: &Station) -> &str {
        let from = s.text as usize + usize::from(s.name_len);
        &self.text[from..from + usize::from(s.address_len)]
    }

    pub(super) fn open_at(&self, s: &Station, at: &Moment) -> bool {
        s.state == OPEN && self.schedules.list[s.schedule as usize].is_open(at)
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::index::fixtures::{assert_consistent, at, brute_force, index_of, row};
    use crate::index::search::SearchQuery;
    use crate::index::StationIndex;
    use crate::vocab::Amenity;

    #[test]
    fn ties_are_broken_by_id_and_updates_move_points() {
        let hours = Hours::always();
        let index = index_of(vec![
            row(3, 32.0, 118.0, "", &hours, "open"),
            row(1, 32.0, 118.0, "", &hours, "open"),
            row(2, 32.001, 118.0, "", &hours, "open"),
            row(9, 32.0, 118.002, "", &hours, "open"),
        ]);
        let q = SearchQuery {
            center: LatLng {
                lat: 32.0,
                lng: 118.0,
            },
            radius_m: 1_000.0,
            limit: 10,
            amenities: Amenities::default(),
            open_only: false,
            at: at(),
        };
        let ids = |index: &StationIndex| index.search(&q).iter().map(|f| f.id).collect::<Vec<_>>();
        assert_eq!(ids(&index), [1, 3, 2, 9]);
        {
            let mut snapshot = index.write();
            // Moved away, closed, inserted between existing ids, renamed in place.
            snapshot
                .apply(&row(1, 33.0, 118.0, "", &hours, "open"))
                .unwrap();
            snapshot
                .apply(&row(2, 32.001, 118.0, "", &hours, "closed"))
                .unwrap();
            snapshot
                .apply(&row(4, 32.0, 118.0005, "wifi", &hours, "open"))
                .unwrap();
            let mut renamed = row(9, 32.0, 118.002, "", &hours, "temporarily_closed");
            renamed.name = "新名字".into();
            snapshot.apply(&renamed).unwrap();
        }
        assert_eq!(ids(&index), [3, 4, 9]);
        let found = index.search(&q);
        assert_eq!(found[2].name, "新名字");
        assert_eq!(found[2].address, "路9号");
        assert!(!found[2].open_now, "temporarily closed");
        assert_eq!(index.len(), 4);
        // Far away, the moved station is where it went.
        let moved = SearchQuery {
            center: LatLng {
                lat: 33.0,
                lng: 118.0,
            },
            ..q.clone()
        };
        assert_eq!(index.search(&moved)[0].id, 1);
    }

    #[test]
    fn the_text_arena_is_compacted_when_mostly_dead() {
        let hours = Hours::always();
        let index = index_of(vec![row(1, 32.0, 118.0, "", &hours, "open")]);
        let mut snapshot = index.write();
        for n in 0..40_000 {
            let mut r = row(1, 32.0, 118.0, "", &hours, "open");
            r.name = format!("第{n}次改名的驿站");
            snapshot.apply(&r).unwrap();
        }
        assert!(snapshot.text.len() < 2 << 20, "{}", snapshot.text.len());
        assert_eq!(snapshot.name(&snapshot.stations[0]), "第39999次改名的驿站");
        assert_eq!(snapshot.address(&snapshot.stations[0]), "路1号");
    }

    #[test]
    fn changes_one_by_one_and_in_a_batch_both_equal_a_full_scan() {
        let mut rng = StdRng::seed_from_u64(11);
        let hours = Hours::always();
        let mut current = std::collections::BTreeMap::new();
        let random_row = |rng: &mut StdRng, id: i64| {
            let (lat, lng) = if rng.gen_bool(0.5) {
                (32.05, 118.78)
            } else {
                (31.8, 117.2)
            };
            let amenities: Amenities = Amenity::ALL
                .iter()
                .copied()
                .filter(|_| rng.gen_bool(0.5))
                .collect();
            let status = if rng.gen_bool(0.1) { "closed" } else { "open" };
            row(
                id,
                lat + rng.gen_range(-0.05..0.05),
                lng + rng.gen_range(-0.05..0.05),
                &amenities.to_text(),
                &hours,
                status,
            )
        };
        let first: Vec<StationRecord> =
            (1..=3_000).map(|id| random_row(&mut rng, id * 2)).collect();
        let one_by_one = index_of(first.iter().map(clone_row).collect());
        let batched = index_of(first.iter().map(clone_row).collect());
        for r in &first {
            current.insert(r.id, clone_row(r));
        }
        // Moves, closures, reopenings and new stations (odd ids fall between the others).
        let changes: Vec<StationRecord> = (0..800)
            .map(|_| {
                let id = rng.gen_range(1..=6_200);
                random_row(&mut rng, id)
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let changes: Vec<StationRecord> =
            changes.into_iter().filter(|r| seen.insert(r.id)).collect();
        {
            let mut snapshot = one_by_one.write();
            for change in &changes {
                snapshot.apply(change).unwrap();
            }
            assert_consistent(&snapshot);
        }
        batched.write().apply_all(&changes).unwrap();
        assert_consistent(&batched.read());
        for change in &changes {
            current.insert(change.id, clone_row(change));
        }
        let reference: Vec<(i64, LatLng, Amenities, bool)> = current
            .values()
            .filter(|r| r.status != StationStatus::Closed)
            .map(|r| {
                let at = LatLng {
                    lat: r.lat,
                    lng: r.lng,
                };
                (r.id, at, Amenities::from_text(&r.amenities), true)
            })
            .collect();
        assert_eq!(one_by_one.len(), reference.len());
        assert_eq!(batched.len(), reference.len());
        for i in 0..300 {
            let (lat, lng) = if i % 2 == 0 {
                (32.05, 118.78)
            } else {
                (31.8, 117.2)
            };
            let q = SearchQuery {
                center: LatLng {
                    lat: lat + rng.gen_range(-0.06..0.06),
                    lng: lng + rng.gen_range(-0.06..0.06),
                },
                radius_m: rng.gen_range(100.0..8_000.0),
                limit: rng.gen_range(1..=100),
                amenities: Amenity::ALL
                    .iter()
                    .copied()
                    .filter(|_| rng.gen_bool(0.1))
                    .collect(),
                open_only: false,
                at: at(),
            };
            let expected = brute_force(&reference, &q);
            for index in [&one_by_one, &batched] {
                let got: Vec<i64> = index.search(&q).iter().map(|f| f.id).collect();
                assert_eq!(got, expected, "query {i}: {q:?}");
            }
        }
    }

    fn clone_row(r: &StationRecord) -> StationRecord {
        StationRecord {
            id: r.id,
            lat: r.lat,
            lng: r.lng,
            name: r.name.clone(),
            address: r.address.clone(),
            amenities: r.amenities.clone(),
            hours: r.hours.clone(),
            closed_dates: r.closed_dates.clone(),
            stars: r.stars,
            status: r.status,
            open_faults: r.open_faults,
        }
    }

    /// The stations a search over `snapshot` finds around `q`'s centre, by id.
    fn ids(snapshot: &Snapshot, q: &SearchQuery) -> Vec<i64> {
        snapshot.search(q).iter().map(|h| h.id()).collect()
    }

    /// Everything within a kilometre of a point, at any hour.
    fn around(lat: f64, lng: f64) -> SearchQuery {
        SearchQuery {
            center: LatLng { lat, lng },
            radius_m: 1_000.0,
            limit: 10,
            amenities: Amenities::default(),
            open_only: false,
            at: at(),
        }
    }

    /// Two stations side by side in Nanjing, a closed one between them, one in Beijing.
    fn plain_snapshot() -> Snapshot {
        let hours = Hours::always();
        let records = vec![
            row(5, 32.0, 118.0, "wifi", &hours, "open"),
            row(2, 32.0, 118.001, "", &hours, "temporarily_closed"),
            row(7, 32.0, 118.0, "wifi", &hours, "closed"),
            row(3, 39.9, 116.4, "", &hours, "open"),
        ];
        let snapshot = Snapshot::from_records(42, records).unwrap();
        assert_consistent(&snapshot);
        snapshot
    }

    #[test]
    fn a_snapshot_built_from_plain_records_answers_searches() {
        let snapshot = plain_snapshot();
        assert_eq!(snapshot.version, 42);
        assert_eq!(snapshot.stations.len(), 3, "the closed station is left out");
        let q = around(32.0, 118.0);
        assert_eq!(ids(&snapshot, &q), [5, 2]);
        let hits = snapshot.search(&q);
        assert_eq!(hits[0].name(), "驿站5");
        assert_eq!(hits[0].address(), "路5号");
        assert_eq!(hits[0].distance_m, 0.0);
        assert_eq!(hits[0].status(), StationStatus::Open);
        // 0.001° of longitude at 32° N is about 94 m.
        assert!(
            (90.0..100.0).contains(&hits[1].distance_m),
            "{}",
            hits[1].distance_m
        );
        assert_eq!(hits[1].status(), StationStatus::TemporarilyClosed);
        assert!(!hits[1].open_at(&Moment::new(at())));
        let wifi = SearchQuery {
            amenities: [Amenity::Wifi].into_iter().collect(),
            ..q.clone()
        };
        assert_eq!(ids(&snapshot, &wifi), [5]);
        let open_only = SearchQuery {
            open_only: true,
            ..q.clone()
        };
        assert_eq!(ids(&snapshot, &open_only), [5]);
        assert_eq!(ids(&snapshot, &around(39.9, 116.4)), [3]);
    }

    #[test]
    fn stations_are_inserted_and_removed_in_place() {
        let mut snapshot = plain_snapshot();
        let q = around(32.0, 118.0);
        // Inserted at the same point as 5: the tie goes to the smaller id.
        let hours = Hours::always();
        let one = snapshot
            .station(&row(1, 32.0, 118.0, "", &hours, "open"))
            .unwrap()
            .expect("an open station is kept");
        snapshot.insert(one);
        assert_consistent(&snapshot);
        assert_eq!(ids(&snapshot, &q), [1, 5, 2]);
        assert_eq!(snapshot.find(1).map(|found| snapshot.by_id[found]), Ok(0));

        let found = snapshot.find(5).unwrap();
        snapshot.remove(found);
        assert_consistent(&snapshot);
        assert_eq!(ids(&snapshot, &q), [1, 2]);
        assert!(snapshot.find(5).is_err());
        assert_eq!(snapshot.garbage, "驿站5路5号".len());

        // The last station of its cell takes the cell with it.
        let far = around(39.9, 116.4);
        let cells = snapshot.cells.len();
        let found = snapshot.find(3).unwrap();
        snapshot.remove(found);
        assert_consistent(&snapshot);
        assert_eq!(snapshot.cells.len(), cells - 1);
        assert!(ids(&snapshot, &far).is_empty());
        assert_eq!(snapshot.stations.len(), 2);
    }

    #[test]
    fn records_that_do_not_decode_are_refused_and_leave_the_snapshot_as_it_was() {
        let hours = Hours::always();
        let mut bad = row(9, 32.0, 118.0, "", &hours, "open");
        bad.hours = "not hours".to_owned();
        assert!(Snapshot::from_records(1, [clone_row(&bad)]).is_err());

        let mut snapshot = Snapshot::from_records(
            1,
            (1..=10).map(|id| row(id, 32.0, 118.0, "", &hours, "open")),
        )
        .unwrap();
        // More than are applied one by one, so all at once; the bad one comes last.
        let mut changes: Vec<StationRecord> = (1..=APPLY_ONE_BY_ONE as i64 + 1)
            .map(|id| row(id, 33.0, 118.0, "", &hours, "closed"))
            .collect();
        changes.push(bad);
        assert!(snapshot.apply_all(&changes).is_err());
        assert_consistent(&snapshot);
        assert_eq!(snapshot.stations.len(), 10);
        assert!(snapshot.stations.iter().all(|s| s.at.lat == 32.0));

        // Open ones before the bad one append their names to the text arena: that goes too.
        let text = snapshot.text.len();
        let mut changes: Vec<StationRecord> = (1..=APPLY_ONE_BY_ONE as i64 + 1)
            .map(|id| row(id, 33.0, 118.0, "", &hours, "open"))
            .collect();
        changes.push(clone_row(&changes[0]));
        changes.last_mut().unwrap().hours = "not hours".to_owned();
        assert!(snapshot.apply_all(&changes).is_err());
        assert_eq!(snapshot.text.len(), text);
        assert_consistent(&snapshot);
        assert!(snapshot.stations.iter().all(|s| s.at.lat == 32.0));
    }
}
