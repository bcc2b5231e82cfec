//! The in-memory spatial index nearby search is served from: every searchable station's point
//! and what a result shows (name, address, amenity bits, hours, status, fault flag), so a
//! search never touches the database.
//!
//! Layout, chosen for 200,000 stations in well under 64 MiB:
//! - one array of stations, 64 bytes each, in grid order: a grid of 0.005° cells (about 550 m)
//!   in compressed form, the non-empty cells sorted by key, each naming its run of the array.
//!   A search scans contiguous memory, and what it returns lies in the runs it scanned (the
//!   array used to be in id order, the grid a second array of candidates: writing an answer
//!   then cost a cache miss per station on top of the text's);
//! - names and addresses in one text arena (in the order the rows were loaded: rewriting it
//!   in grid order would need a second arena for a moment, and a large freed block stays
//!   resident in the heap);
//! - positions ordered by id beside it, for applying changes;
//! - opening hours interned (most stations share a handful of schedules).
//!
//! (The first version used an R-tree, rstar: 80 MiB resident at 200,000 stations, mostly node
//! overhead, and ten times slower searches; a grid also gives the exact distance bounds that
//! end a search early.)
//!
//! Search walks blocks of cells outward from the centre, doubling, and stops when a provable
//! lower bound on the distance to anything outside the block exceeds the current k-th best
//! distance (or the radius); within a block it visits only the cells that intersect the
//! candidate box of the current bound, and candidates are pruned by exact bounds before the
//! haversine. The result is exactly what a scan of every station would answer: same stations,
//! same order (distance, then id).
//!
//! Freshness: the index remembers the stations version it has loaded (see `stations`);
//! [`StationIndex::refresh`] loads the rows stamped above it and applies them in place, or
//! rebuilds the whole index aside when a large share changed.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::f64::consts::FRAC_PI_2;
use std::sync::{LazyLock, Mutex, RwLock};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use platform::schema::stations as s;
use platform::{DbConn, Result};

use crate::coords::{
    gcj02_to_bd09, haversine_with_cosines, LatLng, Micro, NavLinksTo, EARTH_RADIUS_M,
};
use crate::hours::{Hours, Moment};
use crate::stations::current_version;
use crate::vocab::{Amenities, StationStatus};

/// Rows read per query while loading: bounds the memory a load needs besides the index.
const BATCH: i64 = 2_000;

static STATIONS_GAUGE: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    platform::http::gauge(
        "stations_index_stations",
        "Stations in this instance's search index",
    )
});

static VERSION_GAUGE: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    platform::http::gauge(
        "stations_index_version",
        "Stations version loaded into this instance's search index",
    )
});

// ---- the grid ----

/// Cell size in degrees: about 550 m of latitude.
const CELL_DEG: f64 = 0.005;
const ROWS: i64 = 36_000;
const COLS: i64 = 72_000;

fn row_of(lat: f64) -> i64 {
    (((lat + 90.0) / CELL_DEG).floor() as i64).clamp(0, ROWS - 1)
}

fn col_of(lng: f64) -> i64 {
    (((lng + 180.0) / CELL_DEG).floor() as i64).rem_euclid(COLS)
}

fn key(row: i64, col: i64) -> u32 {
    (row * COLS + col) as u32
}

fn key_of(at: LatLng) -> u32 {
    key(row_of(at.lat), col_of(at.lng))
}

fn row_of_key(key: u32) -> usize {
    (i64::from(key) / COLS) as usize
}

// ---- stations ----

const OPEN: u8 = 0;
const TEMPORARILY_CLOSED: u8 = 1;
/// Closed: not in the index.
const GONE: u8 = 2;

/// What the index keeps per station: 64 bytes, what deciding on a candidate needs first.
#[derive(Debug, Clone, Copy)]
struct Station {
    at: LatLng,
    /// Cosine of the latitude: the haversine's factor for this end, computed once.
    cos_lat: f64,
    id: i64,
    /// `at` in BD-09, for the Baidu Maps link (converting it for every result was about a
    /// tenth of writing an answer).
    baidu: Micro,
    amenities: Amenities,
    /// Offset of name then address in the text arena.
    text: u32,
    schedule: u32,
    /// Key of the grid cell of `at`.
    cell: u32,
    name_len: u16,
    address_len: u16,
    open_faults: u16,
    /// 0: not graded.
    stars: u8,
    state: u8,
}

const _: () = assert!(std::mem::size_of::<Station>() == 64);

impl Station {
    fn text_len(&self) -> usize {
        usize::from(self.name_len) + usize::from(self.address_len)
    }
}

/// Distinct opening hours, stored once each, found by their stored form.
#[derive(Default)]
struct Schedules {
    list: Vec<Hours>,
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
struct Snapshot {
    /// Every searchable station in grid order: by cell key, then id.
    stations: Vec<Station>,
    /// Non-empty cells sorted by key, each with the position in `stations` where its run
    /// starts; the run ends where the next cell's starts.
    cells: Vec<(u32, u32)>,
    /// For each grid row, the index in `cells` of its first cell, and `cells.len()` last
    /// (empty while there are no stations), so a search looks up columns among one row's cells.
    row_starts: Vec<u32>,
    /// Positions in `stations`, ordered by the stations' ids.
    by_id: Vec<u32>,
    /// Names and addresses.
    text: String,
    /// Bytes of `text` no station points to any more.
    garbage: usize,
    schedules: Schedules,
    version: i64,
}

/// The columns the index reads.
#[derive(Queryable)]
struct IndexRow {
    id: i64,
    lat: f64,
    lng: f64,
    name: String,
    address: String,
    amenities: String,
    hours: String,
    closed_dates: String,
    stars: Option<i16>,
    status: String,
    open_faults: i32,
}

type IndexColumns = (
    s::id,
    s::lat,
    s::lng,
    s::name,
    s::address,
    s::amenities,
    s::hours,
    s::closed_dates,
    s::stars,
    s::status,
    s::open_faults,
);

const INDEX_COLUMNS: IndexColumns = (
    s::id,
    s::lat,
    s::lng,
    s::name,
    s::address,
    s::amenities,
    s::hours,
    s::closed_dates,
    s::stars,
    s::status,
    s::open_faults,
);

/// Which rows a batch reads.
#[derive(Clone, Copy)]
enum Load {
    /// Every station search can find.
    All,
    /// Every row changed after this version, closed ones included (they leave the index).
    ChangedSince(i64),
}

fn load_batch(conn: &mut DbConn, load: Load, after_id: i64, upto: i64) -> Result<Vec<IndexRow>> {
    let query = s::table
        .filter(s::id.gt(after_id))
        .filter(s::id.le(upto))
        .order(s::id)
        .limit(BATCH)
        .select(INDEX_COLUMNS)
        .into_boxed();
    let query = match load {
        Load::All => query.filter(s::status.ne(StationStatus::Closed.as_str())),
        Load::ChangedSince(version) => query.filter(s::version.gt(version)),
    };
    Ok(query.load(conn)?)
}

/// Calls `f` with the rows of `load` with ids in `after..=upto`, in id order, a batch at a
/// time; stops early (returning false) when `f` returns false.
fn for_each_batch(
    conn: &mut DbConn,
    load: Load,
    mut after: i64,
    upto: i64,
    mut f: impl FnMut(Vec<IndexRow>) -> Result<bool>,
) -> Result<bool> {
    loop {
        let rows = load_batch(conn, load, after, upto)?;
        let Some(last) = rows.last() else {
            return Ok(true);
        };
        after = last.id;
        let full = rows.len() as i64 == BATCH;
        if !f(rows)? {
            return Ok(false);
        }
        if !full {
            return Ok(true);
        }
    }
}

fn state_of(row: &IndexRow) -> Result<u8> {
    match StationStatus::parse(&row.status) {
        Some(StationStatus::Open) => Ok(OPEN),
        Some(StationStatus::TemporarilyClosed) => Ok(TEMPORARILY_CLOSED),
        Some(StationStatus::Closed) => Ok(GONE),
        None => Err(platform::Error::internal(anyhow::anyhow!(
            "station {}: status {}",
            row.id,
            row.status
        ))),
    }
}

/// Changed rows up to this many are applied one by one (each moves the arrays once); more are
/// applied together with one re-sort.
const APPLY_ONE_BY_ONE: usize = 32;

impl Snapshot {
    /// The station of a row, its text appended to the arena; `None` for a closed station.
    fn station(&mut self, row: &IndexRow) -> Result<Option<Station>> {
        let state = state_of(row)?;
        if state == GONE {
            return Ok(None);
        }
        let schedule = self.schedules.intern(&row.hours, &row.closed_dates)?;
        let offset = self.text.len() as u32;
        self.text.push_str(&row.name);
        self.text.push_str(&row.address);
        let at = LatLng {
            lat: row.lat,
            lng: row.lng,
        };
        Ok(Some(Station {
            at,
            cos_lat: row.lat.to_radians().cos(),
            id: row.id,
            baidu: Micro::of(gcj02_to_bd09(at)),
            cell: key_of(at),
            amenities: Amenities::from_text(&row.amenities),
            text: offset,
            schedule,
            name_len: row.name.len() as u16,
            address_len: row.address.len() as u16,
            open_faults: row.open_faults.clamp(0, i32::from(u16::MAX)) as u16,
            stars: row.stars.map_or(0, |s| s.clamp(0, 5) as u8),
            state,
        }))
    }

    /// Loads every searchable station. Each connection given reads and decodes the rows of
    /// one share of the id range on a thread of its own, while this thread builds the stations
    /// from whichever batch arrives first (they are put in grid order at the end). Batches are
    /// small and few are in flight, so the load leaves little behind in the heap.
    fn build(conns: &mut [&mut DbConn]) -> Result<Snapshot> {
        let Some(first) = conns.first_mut() else {
            return Ok(Snapshot::default());
        };
        // Read the version first: whatever changes during the load is stamped above it and
        // is picked up by the next refresh.
        let version = current_version(first)?;
        let (min, max, count): (Option<i64>, Option<i64>, i64) = s::table
            .filter(s::status.ne(StationStatus::Closed.as_str()))
            .select((
                diesel::dsl::min(s::id),
                diesel::dsl::max(s::id),
                diesel::dsl::count_star(),
            ))
            .first(*first)?;
        let mut snapshot = Snapshot {
            version,
            stations: Vec::with_capacity(count as usize),
            ..Snapshot::default()
        };
        let (Some(min), Some(max)) = (min, max) else {
            return Ok(snapshot);
        };
        let shares = conns.len() as i64;
        let bound = |i: i64| min - 1 + (max - min + 1) * i / shares;
        std::thread::scope(|scope| {
            let (batches, received) =
                std::sync::mpsc::sync_channel::<Vec<IndexRow>>(2 * conns.len());
            let readers: Vec<_> = conns
                .iter_mut()
                .enumerate()
                .map(|(i, conn)| {
                    let batches = batches.clone();
                    let (after, upto) = (bound(i as i64), bound(i as i64 + 1));
                    scope.spawn(move || {
                        for_each_batch(conn, Load::All, after, upto, |rows| {
                            Ok(batches.send(rows).is_ok())
                        })
                    })
                })
                .collect();
            drop(batches);
            let mut built = Ok(());
            for rows in received {
                if built.is_err() {
                    continue;
                }
                if snapshot.text.capacity() == 0 {
                    // Sized from the first batch so that the arena is not regrown (and copied)
                    // as it fills: growth would leave freed blocks behind in the heap.
                    let bytes: usize = rows.iter().map(|r| r.name.len() + r.address.len()).sum();
                    let per_row = bytes / rows.len().max(1) + 1;
                    snapshot.text.reserve(per_row * count as usize * 21 / 20);
                }
                for row in rows {
                    match snapshot.station(&row) {
                        Ok(Some(station)) => snapshot.stations.push(station),
                        Ok(None) => {}
                        Err(e) => {
                            built = Err(e);
                            break;
                        }
                    }
                }
            }
            for reader in readers {
                reader.join().expect("a reading thread panicked")?;
            }
            built
        })?;
        snapshot.stations.shrink_to_fit();
        snapshot.text.shrink_to_fit();
        snapshot.reindex();
        Ok(snapshot)
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
    fn cell_end(&self, cell: usize) -> usize {
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

    /// Puts a changed row in place of what the index had for that station.
    fn apply(&mut self, row: &IndexRow) -> Result<()> {
        let station = self.station(row)?;
        if let Ok(found) = self.find(row.id) {
            self.remove(found);
        }
        if let Some(station) = station {
            self.insert(station);
        }
        self.compact_text_if_wasteful();
        Ok(())
    }

    /// Applies changed rows: one by one when they are few, else all at once with one re-sort.
    fn apply_all(&mut self, rows: &[IndexRow]) -> Result<()> {
        if rows.len() <= APPLY_ONE_BY_ONE {
            return rows.iter().try_for_each(|row| self.apply(row));
        }
        // Every row is read before anything moves, so a bad row leaves the index as it was.
        let mut fresh = Vec::with_capacity(rows.len());
        for row in rows {
            fresh.extend(self.station(row)?);
        }
        let mut changed: Vec<i64> = rows.iter().map(|r| r.id).collect();
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

    fn name(&self, s: &Station) -> &str {
        let from = s.text as usize;
        &self.text[from..from + usize::from(s.name_len)]
    }

    fn address(&self, s: &Station) -> &str {
        let from = s.text as usize + usize::from(s.name_len);
        &self.text[from..from + usize::from(s.address_len)]
    }

    fn open_at(&self, s: &Station, at: &Moment) -> bool {
        s.state == OPEN && self.schedules.list[s.schedule as usize].is_open(at)
    }
}

// ---- search ----

/// A search, already validated.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// GCJ-02.
    pub center: LatLng,
    pub radius_m: f64,
    pub limit: usize,
    /// Stations must have all of these.
    pub amenities: Amenities,
    /// Only stations open at `at`.
    pub open_only: bool,
    /// Asia/Shanghai civil time that `open_now` refers to.
    pub at: NaiveDateTime,
}

/// A search under way: the query, and its moment taken apart once.
struct Search<'a> {
    query: &'a SearchQuery,
    at: Moment,
}

/// One result, borrowed from the index while it is read.
pub struct Hit<'a> {
    pub distance_m: f64,
    station: &'a Station,
    snapshot: &'a Snapshot,
}

impl Hit<'_> {
    pub fn id(&self) -> i64 {
        self.station.id
    }
    pub fn name(&self) -> &str {
        self.snapshot.name(self.station)
    }
    pub fn address(&self) -> &str {
        self.snapshot.address(self.station)
    }
    /// GCJ-02.
    pub fn location(&self) -> LatLng {
        self.station.at
    }
    pub fn amenities(&self) -> Amenities {
        self.station.amenities
    }
    /// 1 to 5; `None` when not graded.
    pub fn stars(&self) -> Option<u8> {
        (self.station.stars > 0).then_some(self.station.stars)
    }
    pub fn status(&self) -> StationStatus {
        if self.station.state == OPEN {
            StationStatus::Open
        } else {
            StationStatus::TemporarilyClosed
        }
    }
    /// An unresolved fault report exists.
    pub fn flagged(&self) -> bool {
        self.station.open_faults > 0
    }
    pub fn open_24h(&self) -> bool {
        self.snapshot.schedules.list[self.station.schedule as usize].open_24h()
    }
    pub fn open_at(&self, at: &Moment) -> bool {
        self.snapshot.open_at(self.station, at)
    }
    /// Navigation links to the station.
    pub fn links(&self) -> NavLinksTo<'_> {
        NavLinksTo {
            at: self.station.at,
            baidu: self.station.baidu,
            name: self.name(),
        }
    }
}

/// An owned result.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub location: LatLng,
    pub distance_m: f64,
    pub open_now: bool,
}

/// A distance with a total order, for the heap.
#[derive(Clone, Copy, PartialEq)]
struct Dist(f64);

impl Eq for Dist {}

impl PartialOrd for Dist {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dist {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Rounding allowance of the bounds below: relative, and absolute in degrees and metres.
const REL: f64 = 1e-9;
const ABS_DEG: f64 = 1e-12;
const ABS_M: f64 = 1e-6;

/// The best `limit` candidates so far and what that implies for the rest.
struct Best {
    heap: BinaryHeap<(Dist, i64, u32)>,
    limit: usize,
    radius_m: f64,
    center: LatLng,
    cos_lat: f64,
    /// Candidate box for the bound `box_for` (degrees), cached: a box for a larger bound
    /// only lets more candidates through to the exact test.
    box_for: f64,
    dlat: f64,
    dlng: f64,
}

impl Best {
    fn new(q: &SearchQuery) -> Best {
        let mut best = Best {
            heap: BinaryHeap::with_capacity(q.limit + 1),
            limit: q.limit,
            radius_m: q.radius_m,
            center: q.center,
            cos_lat: q.center.lat.to_radians().cos(),
            box_for: f64::INFINITY,
            dlat: 180.0,
            dlng: 180.0,
        };
        best.tighten_box();
        best
    }

    /// Anything farther than this cannot enter the result.
    fn bound(&self) -> f64 {
        if self.heap.len() == self.limit {
            self.heap.peek().map_or(self.radius_m, |top| top.0 .0)
        } else {
            self.radius_m
        }
    }

    /// Recomputes the candidate box when the bound has shrunk noticeably. A point within
    /// distance B differs by at most B/R in latitude and, since cos φ1 cos φ2 sin²(Δλ/2) ≤
    /// sin²(B/2R) with |φ2| ≤ |φ1| + B/R, by at most 2 asin(sin(B/2R) / √(cos φ1 cos(|φ1| +
    /// B/R))) in longitude.
    fn tighten_box(&mut self) {
        let bound = self.bound();
        if bound >= self.box_for * 0.9 {
            return;
        }
        let angle = bound / EARTH_RADIUS_M;
        self.dlat = angle.to_degrees() * (1.0 + REL) + ABS_DEG;
        let far = self.center.lat.abs().to_radians() + angle;
        self.dlng = if far >= FRAC_PI_2 {
            180.0
        } else {
            let ratio = (angle / 2.0).sin() / (self.cos_lat * far.cos()).sqrt();
            if ratio >= 1.0 {
                180.0
            } else {
                (2.0 * ratio.asin()).to_degrees() * (1.0 + REL) + ABS_DEG
            }
        };
        self.box_for = bound;
    }

    /// The distance to `s` if it could enter the result, `None` when it cannot (outside the
    /// candidate box, or beyond the radius or the current k-th best).
    fn distance_if_close(&self, s: &Station) -> Option<f64> {
        if (s.at.lat - self.center.lat).abs() > self.dlat {
            return None;
        }
        let mut dlng = (s.at.lng - self.center.lng).abs();
        if dlng > 180.0 {
            dlng = 360.0 - dlng;
        }
        if dlng > self.dlng {
            return None;
        }
        let d = haversine_with_cosines(self.center, self.cos_lat, s.at, s.cos_lat);
        (d <= self.bound()).then_some(d)
    }

    /// The rows the candidate box reaches, with one more each side for rounding.
    fn rows(&self) -> (i64, i64) {
        (
            row_of(self.center.lat - self.dlat) - 1,
            row_of(self.center.lat + self.dlat) + 1,
        )
    }

    /// The columns the candidate box reaches (one more each side for rounding), in the frame
    /// in which the centre lies `x` degrees east of column 0 (see `offset_in_frame`); `None`
    /// when the box is too wide to bother.
    fn cols(&self, x: f64) -> Option<(i64, i64)> {
        (self.dlng < 90.0).then(|| {
            (
                ((x - self.dlng) / CELL_DEG).floor() as i64 - 1,
                ((x + self.dlng) / CELL_DEG).floor() as i64 + 1,
            )
        })
    }

    /// The centre's offset east of column 0, in degrees, in the frame of its own column
    /// (`col_of`: a centre at 180° is in column 0).
    fn offset_in_frame(&self) -> f64 {
        let mut x = self.center.lng + 180.0;
        match ((x / CELL_DEG).floor() as i64).cmp(&0) {
            Ordering::Less => x += 360.0,
            _ if (x / CELL_DEG).floor() as i64 >= COLS => x -= 360.0,
            _ => {}
        }
        x
    }

    /// Offers a station at distance `d` (from [`Best::distance_if_close`]).
    fn consider(&mut self, d: f64, id: i64, pos: u32) {
        if d > self.radius_m {
            return;
        }
        if self.heap.len() == self.limit {
            let top = self.heap.peek().expect("a full heap has a top");
            if (Dist(d), id) >= (top.0, top.1) {
                return;
            }
            self.heap.pop();
        }
        self.heap.push((Dist(d), id, pos));
        self.tighten_box();
    }

    /// A lower bound on the distance from the centre to any point outside the block of cells
    /// `r` around the centre's cell, valid for points within `bound()` (see `tighten_box`).
    fn outside_block(&self, row0: i64, col0: i64, r: i64) -> f64 {
        let c = self.center;
        let south = if row0 - r <= 0 {
            f64::INFINITY
        } else {
            (c.lat - ((row0 - r) as f64 * CELL_DEG - 90.0)).to_radians() * EARTH_RADIUS_M
        };
        let north = if row0 + r + 1 >= ROWS {
            f64::INFINITY
        } else {
            (((row0 + r + 1) as f64 * CELL_DEG - 90.0) - c.lat).to_radians() * EARTH_RADIUS_M
        };
        let sideways = if 2 * r + 1 >= COLS {
            f64::INFINITY
        } else {
            let x = self.offset_in_frame();
            let west = x - (col0 - r) as f64 * CELL_DEG;
            let east = (col0 + r + 1) as f64 * CELL_DEG - x;
            let dl = west.min(east);
            if dl >= 180.0 {
                f64::INFINITY
            } else {
                let far = (c.lat.abs().to_radians() + self.bound() / EARTH_RADIUS_M).min(FRAC_PI_2);
                let h = (self.cos_lat * far.cos()).max(0.0).sqrt() * (dl.to_radians() / 2.0).sin();
                2.0 * EARTH_RADIUS_M * h.min(1.0).asin()
            }
        };
        south.min(north).min(sideways) * (1.0 - REL) - ABS_M
    }
}

impl Snapshot {
    /// Offers every station in the cells of `row` whose columns are in `lo..=hi` (columns may
    /// run past either end of the row; they wrap around the antimeridian).
    fn scan_row(&self, row: i64, lo: i64, hi: i64, q: &Search, best: &mut Best) {
        if !(0..ROWS).contains(&row) || self.row_starts.is_empty() {
            return;
        }
        let (lo, hi) = if hi - lo + 1 >= COLS {
            (0, COLS - 1)
        } else {
            (lo.rem_euclid(COLS), hi.rem_euclid(COLS))
        };
        if lo > hi {
            self.scan_keys(row, key(row, lo), key(row, COLS - 1), q, best);
            self.scan_keys(row, key(row, 0), key(row, hi), q, best);
        } else {
            self.scan_keys(row, key(row, lo), key(row, hi), q, best);
        }
    }

    /// Offers the stations of `row`'s cells with keys in `from..=to`: one contiguous run.
    fn scan_keys(&self, row: i64, from: u32, to: u32, q: &Search, best: &mut Best) {
        let first = self.row_starts[row as usize] as usize;
        let cells = &self.cells[first..self.row_starts[row as usize + 1] as usize];
        let a = cells.partition_point(|c| c.0 < from);
        // A few cells at most: walk them, they share cache lines with the first.
        let b = a + cells[a..].iter().take_while(|c| c.0 <= to).count();
        if a == b {
            return;
        }
        let (start, end) = (cells[a].1 as usize, self.cell_end(first + b - 1));
        for (pos, s) in (start..end).zip(&self.stations[start..end]) {
            if !s.amenities.contains_all(q.query.amenities) {
                continue;
            }
            let Some(d) = best.distance_if_close(s) else {
                continue;
            };
            // Hours last: the schedule is one more memory access.
            if q.query.open_only && !self.open_at(s, &q.at) {
                continue;
            }
            best.consider(d, s.id, pos as u32);
        }
    }

    /// The hits of a search, nearest first (ties by id).
    fn search(&self, query: &SearchQuery) -> Vec<Hit<'_>> {
        let q = &Search {
            query,
            at: Moment::new(query.at),
        };
        let mut best = Best::new(query);
        let (row0, col0) = (row_of(query.center.lat), col_of(query.center.lng));
        let x = best.offset_in_frame();
        // Blocks of radius 0, 1, 2, 4, ... cells; each stage visits what the previous did not,
        // and of that only the cells the candidate box reaches (it shrinks as results come in).
        let mut done: Option<i64> = None;
        let mut r = 0;
        loop {
            for row in row0 - r..=row0 + r {
                let (south, north) = best.rows();
                if row < south || row > north {
                    continue;
                }
                let (mut lo, mut hi) = (col0 - r, col0 + r);
                if 2 * r + 1 < COLS {
                    if let Some((west, east)) = best.cols(x) {
                        (lo, hi) = (lo.max(west), hi.min(east));
                        if lo > hi {
                            continue;
                        }
                    }
                }
                match done {
                    Some(p) if (row - row0).abs() <= p => {
                        if 2 * p + 1 >= COLS {
                            // The previous block already spanned every column.
                        } else if 2 * r + 1 >= COLS {
                            // What is left of the row, once, however far the block reaches.
                            self.scan_row(row, col0 + p + 1, col0 + COLS - p - 1, q, &mut best);
                        } else {
                            if lo < col0 - p {
                                self.scan_row(row, lo, col0 - p - 1, q, &mut best);
                            }
                            if hi > col0 + p {
                                self.scan_row(row, col0 + p + 1, hi, q, &mut best);
                            }
                        }
                    }
                    _ => self.scan_row(row, lo, hi, q, &mut best),
                }
            }
            let everything = row0 - r <= 0 && row0 + r + 1 >= ROWS && 2 * r + 1 >= COLS;
            if everything || best.outside_block(row0, col0, r) > best.bound() {
                break;
            }
            done = Some(r);
            r = (r * 2).max(1);
        }
        let mut hits: Vec<(Dist, i64, u32)> = best.heap.into_vec();
        hits.sort_unstable();
        // The results' names are read next, from anywhere in the text arena: touch them all
        // first, in a loop of loads that do not wait for each other, so that their cache
        // misses overlap instead of coming one after the other (they cost a tenth of a
        // request's time when they did).
        let text = self.text.as_bytes();
        let touched = hits.iter().fold(0u8, |acc, &(_, _, pos)| {
            let s = &self.stations[pos as usize];
            let (first, last) = (s.text as usize, s.text as usize + s.text_len());
            acc ^ text.get(first).copied().unwrap_or(0)
                ^ text.get(last.wrapping_sub(1)).copied().unwrap_or(0)
        });
        std::hint::black_box(touched);
        hits.into_iter()
            .map(|(d, _, pos)| Hit {
                distance_m: d.0,
                station: &self.stations[pos as usize],
                snapshot: self,
            })
            .collect()
    }
}

// ---- the index ----

/// The search index of one instance.
pub struct StationIndex {
    snapshot: RwLock<Snapshot>,
    /// One refresh at a time, so versions only move forward.
    refresh: Mutex<()>,
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// Nothing newer in the database.
    UpToDate(i64),
    /// Changed rows applied one by one.
    Applied { version: i64, rows: usize },
    /// So much changed that the index was rebuilt.
    Rebuilt(i64),
}

impl Refreshed {
    pub fn version(self) -> i64 {
        match self {
            Refreshed::UpToDate(v)
            | Refreshed::Applied { version: v, .. }
            | Refreshed::Rebuilt(v) => v,
        }
    }
}

impl StationIndex {
    fn new(snapshot: Snapshot) -> StationIndex {
        STATIONS_GAUGE.set(snapshot.stations.len() as i64);
        VERSION_GAUGE.set(snapshot.version);
        StationIndex {
            snapshot: RwLock::new(snapshot),
            refresh: Mutex::new(()),
        }
    }

    /// Loads every station that search can find, reading with all the connections given.
    pub fn load(conns: &mut [&mut DbConn]) -> Result<StationIndex> {
        Ok(StationIndex::new(Snapshot::build(conns)?))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        self.snapshot.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Snapshot> {
        self.snapshot.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The stations version loaded.
    pub fn version(&self) -> i64 {
        self.read().version
    }

    /// Stations search can find.
    pub fn len(&self) -> usize {
        self.read().stations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Catches up with the database. Changes up to a quarter of the index are applied in
    /// place (the write lock is held only to apply them); more rebuilds the index aside and
    /// swaps it in.
    pub fn refresh(&self, conn: &mut DbConn) -> Result<Refreshed> {
        let _one_at_a_time = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
        let loaded = self.version();
        let latest = current_version(conn)?;
        if latest <= loaded {
            return Ok(Refreshed::UpToDate(loaded));
        }
        let limit = (self.len() / 4).max(1_000);
        let mut changed = Vec::new();
        let complete = for_each_batch(conn, Load::ChangedSince(loaded), 0, i64::MAX, |rows| {
            changed.extend(rows);
            Ok(changed.len() <= limit)
        })?;
        let outcome = if complete {
            let rows = changed.len();
            let mut snapshot = self.write();
            snapshot.apply_all(&changed)?;
            // Only `latest`, read before the rows: rows stamped above it may have been missed
            // by a batch that ran before they committed; they are read again next time.
            snapshot.version = latest;
            STATIONS_GAUGE.set(snapshot.stations.len() as i64);
            Refreshed::Applied {
                version: latest,
                rows,
            }
        } else {
            drop(changed);
            let rebuilt = Snapshot::build(&mut [conn])?;
            let version = rebuilt.version;
            STATIONS_GAUGE.set(rebuilt.stations.len() as i64);
            *self.write() = rebuilt;
            Refreshed::Rebuilt(version)
        };
        VERSION_GAUGE.set(outcome.version());
        Ok(outcome)
    }

    /// Runs a search and hands the hits, nearest first (ties by id), to `f` while the index is
    /// read-locked, so a response can be written straight from it without copies.
    pub fn search_with<T>(&self, q: &SearchQuery, f: impl FnOnce(&[Hit<'_>]) -> T) -> T {
        let snapshot = self.read();
        let hits = snapshot.search(q);
        f(&hits)
    }

    /// A search with owned results.
    pub fn search(&self, q: &SearchQuery) -> Vec<Found> {
        let at = Moment::new(q.at);
        self.search_with(q, |hits| {
            hits.iter()
                .map(|h| Found {
                    id: h.id(),
                    name: h.name().to_owned(),
                    address: h.address().to_owned(),
                    location: h.location(),
                    distance_m: h.distance_m,
                    open_now: h.open_at(&at),
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Amenity;
    use chrono::NaiveDate;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn index_of(rows: Vec<IndexRow>) -> StationIndex {
        let mut snapshot = Snapshot::default();
        for row in rows {
            if let Some(station) = snapshot.station(&row).unwrap() {
                snapshot.stations.push(station);
            }
        }
        snapshot.reindex();
        assert_consistent(&snapshot);
        StationIndex::new(snapshot)
    }

    fn row(id: i64, lat: f64, lng: f64, amenities: &str, hours: &Hours, status: &str) -> IndexRow {
        IndexRow {
            id,
            lat,
            lng,
            name: format!("驿站{id}"),
            address: format!("路{id}号"),
            amenities: amenities.to_owned(),
            hours: hours.to_storage().0,
            closed_dates: hours.to_storage().1,
            stars: None,
            status: status.to_owned(),
            open_faults: 0,
        }
    }

    fn wrap(lng: f64) -> f64 {
        if lng > 180.0 {
            lng - 360.0
        } else if lng < -180.0 {
            lng + 360.0
        } else {
            lng
        }
    }

    /// The reference: every station, exact distance, filter, sort, cut.
    fn brute_force(rows: &[(i64, LatLng, Amenities, bool)], q: &SearchQuery) -> Vec<i64> {
        let mut all: Vec<(f64, i64)> = rows
            .iter()
            .filter(|(_, _, a, open)| a.contains_all(q.amenities) && (!q.open_only || *open))
            .map(|(id, at, _, _)| (crate::coords::haversine_m(q.center, *at), *id))
            .filter(|(d, _)| *d <= q.radius_m)
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(q.limit).map(|(_, id)| id).collect()
    }

    fn at() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_opt(21, 0, 0)
            .unwrap()
    }

    #[test]
    fn search_equals_a_full_scan_everywhere_including_the_antimeridian_and_poles() {
        let mut rng = StdRng::seed_from_u64(7);
        let day = Hours::daily(&["08:00-20:00"]).unwrap();
        // Dense, sparse, on the antimeridian, at both poles, on the equator.
        let centres: [(f64, f64, f64); 6] = [
            (32.05, 118.78, 0.05),
            (31.8, 117.2, 0.6),
            (0.0, 179.99, 0.4),
            (-0.1, -179.95, 0.4),
            (89.95, 10.0, 0.3),
            (-89.9, -120.0, 0.3),
        ];
        let mut rows = Vec::new();
        let mut reference = Vec::new();
        for id in 1..=8_000i64 {
            let (clat, clng, spread) = centres[id as usize % centres.len()];
            let (lat, lng) = if id > 10 && rng.gen_bool(0.02) {
                let (_, at, _, _) = reference[rng.gen_range(0..reference.len())];
                let at: LatLng = at;
                (at.lat, at.lng)
            } else {
                (
                    (clat + rng.gen_range(-spread..spread)).clamp(-90.0, 90.0),
                    wrap(clng + rng.gen_range(-spread..spread) * 1.5),
                )
            };
            let amenities: Amenities = Amenity::ALL
                .iter()
                .copied()
                .filter(|_| rng.gen_bool(0.5))
                .collect();
            let (hours, open) = if id % 3 == 0 {
                (Hours::always(), true)
            } else {
                (day.clone(), false)
            };
            let status = if id % 50 == 0 { "closed" } else { "open" };
            rows.push(row(id, lat, lng, &amenities.to_text(), &hours, status));
            if status != "closed" {
                reference.push((id, LatLng { lat, lng }, amenities, open));
            }
        }
        let index = index_of(rows);
        let mut compared = 0;
        for i in 0..1_000 {
            let (clat, clng, spread) = centres[i % centres.len()];
            let q = SearchQuery {
                center: LatLng {
                    lat: (clat + rng.gen_range(-spread..spread)).clamp(-90.0, 90.0),
                    lng: wrap(clng + rng.gen_range(-spread..spread)),
                },
                radius_m: if i % 2 == 0 {
                    rng.gen_range(10.0..3_000.0)
                } else {
                    rng.gen_range(100.0..50_000.0)
                },
                limit: rng.gen_range(1..=100),
                amenities: Amenity::ALL
                    .iter()
                    .copied()
                    .filter(|_| rng.gen_bool(0.1))
                    .collect(),
                open_only: rng.gen_bool(0.3),
                at: at(),
            };
            let got: Vec<i64> = index.search(&q).iter().map(|f| f.id).collect();
            let expected = brute_force(&reference, &q);
            assert_eq!(got, expected, "query {i}: {q:?}");
            compared += expected.len();
        }
        assert!(compared > 10_000, "{compared}");
    }

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

    /// The arrays agree with each other: cells in key order over non-empty runs holding only
    /// their own stations, row starts, and the id order.
    fn assert_consistent(s: &Snapshot) {
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
        let first: Vec<IndexRow> = (1..=3_000).map(|id| random_row(&mut rng, id * 2)).collect();
        let one_by_one = index_of(first.iter().map(clone_row).collect());
        let batched = index_of(first.iter().map(clone_row).collect());
        for r in &first {
            current.insert(r.id, clone_row(r));
        }
        // Moves, closures, reopenings and new stations (odd ids fall between the others).
        let changes: Vec<IndexRow> = (0..800)
            .map(|_| {
                let id = rng.gen_range(1..=6_200);
                random_row(&mut rng, id)
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let changes: Vec<IndexRow> = changes.into_iter().filter(|r| seen.insert(r.id)).collect();
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
            .filter(|r| r.status != "closed")
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

    fn clone_row(r: &IndexRow) -> IndexRow {
        IndexRow {
            id: r.id,
            lat: r.lat,
            lng: r.lng,
            name: r.name.clone(),
            address: r.address.clone(),
            amenities: r.amenities.clone(),
            hours: r.hours.clone(),
            closed_dates: r.closed_dates.clone(),
            stars: r.stars,
            status: r.status.clone(),
            open_faults: r.open_faults,
        }
    }
}
