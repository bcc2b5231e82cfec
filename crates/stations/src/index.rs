//! The in-memory spatial index nearby search is served from: every searchable station's point
//! and what a result shows (name, address, amenity bits, hours, status, fault flag), so a
//! search never touches the database.
//!
//! Layout, chosen for 200,000 stations in well under 64 MiB:
//! - entries sorted by id, 48 bytes each; name and address live in one text arena;
//! - opening hours interned (most stations share a handful of schedules);
//! - a grid of 0.005° cells (about 550 m) in compressed form: the non-empty cells sorted by
//!   key, each naming a run of one candidate array that holds what deciding on a station needs
//!   (point, id, amenity bits; 32 bytes), so a search scans contiguous memory and touches an
//!   entry only for what it returns. (The first version used an R-tree, rstar: 80 MiB resident
//!   at 200,000 stations, mostly node overhead, and ten times slower searches; a grid also
//!   gives the exact distance bounds that end a search early.)
//!
//! Search walks blocks of cells outward from the centre, doubling, and stops when a provable
//! lower bound on the distance to anything outside the block exceeds the current k-th best
//! distance (or the radius); candidates are pruned by exact bounds before the haversine. The
//! result is exactly what a scan of every station would answer: same stations, same order
//! (distance, then id).
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

use crate::coords::{haversine_with_cos, LatLng, EARTH_RADIUS_M};
use crate::hours::Hours;
use crate::stations::current_version;
use crate::vocab::{Amenities, StationStatus};

/// Rows read per query while loading: bounds the memory a load needs besides the index.
const BATCH: i64 = 2_000;

static STATIONS_GAUGE: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    let gauge = prometheus::IntGauge::new(
        "stations_index_stations",
        "Stations in this instance's search index",
    )
    .expect("metric definition");
    platform::http::register_metric(Box::new(gauge.clone()));
    gauge
});

static VERSION_GAUGE: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    let gauge = prometheus::IntGauge::new(
        "stations_index_version",
        "Stations version loaded into this instance's search index",
    )
    .expect("metric definition");
    platform::http::register_metric(Box::new(gauge.clone()));
    gauge
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

/// A station as the grid holds it: what deciding on a candidate needs (point, id, amenities),
/// so that a search reads cells as contiguous memory and touches an entry only for the
/// stations it returns (or, for `open_only`, to read its hours).
#[derive(Debug, Clone, Copy)]
struct Cand {
    at: LatLng,
    id: i64,
    amenities: Amenities,
    slot: u32,
}

impl Cand {
    fn new(entry: &Entry, slot: u32) -> Cand {
        Cand {
            at: entry.at,
            id: entry.id,
            amenities: entry.amenities,
            slot,
        }
    }
}

/// Non-empty cells sorted by key, each owning the run of `slots` up to the next cell's start.
#[derive(Default)]
struct Grid {
    cells: Vec<(u32, u32)>,
    slots: Vec<Cand>,
}

impl Grid {
    /// From candidates sorted by their cell key.
    fn build(slots: Vec<Cand>, keys: &[u32]) -> Grid {
        let mut cells: Vec<(u32, u32)> = Vec::new();
        for (i, cand) in slots.iter().enumerate() {
            let key = keys[cand.slot as usize];
            if cells.last().is_none_or(|c| c.0 != key) {
                cells.push((key, i as u32));
            }
        }
        cells.shrink_to_fit();
        Grid { cells, slots }
    }

    fn end(&self, cell: usize) -> usize {
        self.cells
            .get(cell + 1)
            .map_or(self.slots.len(), |c| c.1 as usize)
    }

    fn insert(&mut self, key: u32, cand: Cand) {
        let cell = self.cells.partition_point(|c| c.0 < key);
        let at = if self.cells.get(cell).is_some_and(|c| c.0 == key) {
            self.end(cell)
        } else {
            let start = self
                .cells
                .get(cell)
                .map_or(self.slots.len(), |c| c.1 as usize);
            self.cells.insert(cell, (key, start as u32));
            start
        };
        self.slots.insert(at, cand);
        for c in &mut self.cells[cell + 1..] {
            c.1 += 1;
        }
    }

    fn remove(&mut self, key: u32, slot: u32) {
        let cell = self.cells.partition_point(|c| c.0 < key);
        if self.cells.get(cell).is_none_or(|c| c.0 != key) {
            return;
        }
        let (start, end) = (self.cells[cell].1 as usize, self.end(cell));
        let Some(at) = self.slots[start..end].iter().position(|c| c.slot == slot) else {
            return;
        };
        self.slots.remove(start + at);
        for c in &mut self.cells[cell + 1..] {
            c.1 -= 1;
        }
        if end - start == 1 {
            self.cells.remove(cell);
        }
    }

    /// An entry was inserted at `slot`: slots from there on moved up by one.
    fn shift_from(&mut self, slot: u32) {
        for c in &mut self.slots {
            if c.slot >= slot {
                c.slot += 1;
            }
        }
    }

    /// Calls `f` with the candidates of every non-empty cell of `row` whose column is in
    /// `lo..=hi` (columns may run past either end of the row; they wrap around the antimeridian).
    fn visit_row(&self, row: i64, lo: i64, hi: i64, f: &mut impl FnMut(&Cand)) {
        if !(0..ROWS).contains(&row) {
            return;
        }
        let (lo, hi) = if hi - lo + 1 >= COLS {
            (0, COLS - 1)
        } else {
            (lo.rem_euclid(COLS), hi.rem_euclid(COLS))
        };
        if lo > hi {
            self.visit_keys(key(row, lo), key(row, COLS - 1), f);
            self.visit_keys(key(row, 0), key(row, hi), f);
        } else {
            self.visit_keys(key(row, lo), key(row, hi), f);
        }
    }

    fn visit_keys(&self, from: u32, to: u32, f: &mut impl FnMut(&Cand)) {
        let mut cell = self.cells.partition_point(|c| c.0 < from);
        while cell < self.cells.len() && self.cells[cell].0 <= to {
            let (start, end) = (self.cells[cell].1 as usize, self.end(cell));
            for cand in &self.slots[start..end] {
                f(cand);
            }
            cell += 1;
        }
    }
}

// ---- entries ----

const OPEN: u8 = 0;
const TEMPORARILY_CLOSED: u8 = 1;
/// A station that left the index since the last rebuild (its slot stays until then).
const GONE: u8 = 2;

/// What the index keeps per station: 48 bytes.
struct Entry {
    id: i64,
    at: LatLng,
    /// Offset of name then address in the text arena.
    text: u32,
    amenities: Amenities,
    schedule: u32,
    name_len: u16,
    address_len: u16,
    open_faults: u16,
    /// 0: not graded.
    stars: u8,
    state: u8,
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
    /// Sorted by id; the slot of a station is its position.
    entries: Vec<Entry>,
    text: String,
    /// Bytes of `text` no entry points to any more.
    garbage: usize,
    grid: Grid,
    schedules: Schedules,
    live: usize,
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

/// The entry of a row, its text appended to `text`; `None` for a closed station.
fn entry(text: &mut String, schedules: &mut Schedules, row: &IndexRow) -> Result<Option<Entry>> {
    let state = state_of(row)?;
    if state == GONE {
        return Ok(None);
    }
    let offset = text.len() as u32;
    text.push_str(&row.name);
    text.push_str(&row.address);
    Ok(Some(Entry {
        id: row.id,
        at: LatLng {
            lat: row.lat,
            lng: row.lng,
        },
        text: offset,
        amenities: Amenities::from_text(&row.amenities),
        schedule: schedules.intern(&row.hours, &row.closed_dates)?,
        name_len: row.name.len() as u16,
        address_len: row.address.len() as u16,
        open_faults: row.open_faults.clamp(0, i32::from(u16::MAX)) as u16,
        stars: row.stars.map_or(0, |s| s.clamp(0, 5) as u8),
        state,
    }))
}

impl Snapshot {
    fn entry(&mut self, row: &IndexRow) -> Result<Option<Entry>> {
        entry(&mut self.text, &mut self.schedules, row)
    }

    /// Loads every searchable station. Each connection given reads and decodes the rows of
    /// one share of the id range on a thread of its own, while this thread builds the entries
    /// from whichever batch arrives first (they are put in id order at the end). Batches are
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
            entries: Vec::with_capacity(count as usize),
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
                    match snapshot.entry(&row) {
                        Ok(Some(entry)) => snapshot.entries.push(entry),
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
        snapshot.entries.sort_unstable_by_key(|e| e.id);
        snapshot.entries.shrink_to_fit();
        snapshot.text.shrink_to_fit();
        snapshot.index_all();
        Ok(snapshot)
    }

    fn index_all(&mut self) {
        let keys: Vec<u32> = self.entries.iter().map(|e| key_of(e.at)).collect();
        let mut slots: Vec<Cand> = Vec::with_capacity(self.entries.len());
        slots.extend(
            self.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.state != GONE)
                .map(|(slot, e)| Cand::new(e, slot as u32)),
        );
        slots.sort_unstable_by_key(|c| keys[c.slot as usize]);
        self.grid = Grid::build(slots, &keys);
        self.live = self.grid.slots.len();
    }

    /// Puts a changed row in place of what the index had for that station.
    fn apply(&mut self, row: IndexRow) -> Result<()> {
        let found = self.entries.binary_search_by_key(&row.id, |e| e.id);
        if let Ok(slot) = found {
            let old = &mut self.entries[slot];
            if old.state != GONE {
                self.grid.remove(key_of(old.at), slot as u32);
                self.live -= 1;
            }
            self.garbage += usize::from(old.name_len) + usize::from(old.address_len);
            old.state = GONE;
            old.name_len = 0;
            old.address_len = 0;
        }
        let Some(entry) = self.entry(&row)? else {
            return self.compact_text_if_wasteful();
        };
        let at = key_of(entry.at);
        let slot = match found {
            Ok(slot) => {
                self.entries[slot] = entry;
                slot
            }
            Err(slot) => {
                self.entries.insert(slot, entry);
                if slot + 1 < self.entries.len() {
                    self.grid.shift_from(slot as u32);
                }
                slot
            }
        };
        self.grid
            .insert(at, Cand::new(&self.entries[slot], slot as u32));
        self.live += 1;
        self.compact_text_if_wasteful()
    }

    /// Rewrites the text arena once most of it is dead (stations edited many times).
    fn compact_text_if_wasteful(&mut self) -> Result<()> {
        if self.garbage < (1 << 20) || self.garbage < self.text.len() / 2 {
            return Ok(());
        }
        let mut text = String::with_capacity(self.text.len() - self.garbage);
        for entry in &mut self.entries {
            let (from, len) = (
                entry.text as usize,
                usize::from(entry.name_len) + usize::from(entry.address_len),
            );
            entry.text = text.len() as u32;
            text.push_str(&self.text[from..from + len]);
        }
        self.text = text;
        self.garbage = 0;
        Ok(())
    }

    fn name(&self, e: &Entry) -> &str {
        let from = e.text as usize;
        &self.text[from..from + usize::from(e.name_len)]
    }

    fn address(&self, e: &Entry) -> &str {
        let from = e.text as usize + usize::from(e.name_len);
        &self.text[from..from + usize::from(e.address_len)]
    }

    fn open_at(&self, e: &Entry, at: NaiveDateTime) -> bool {
        e.state == OPEN && self.schedules.list[e.schedule as usize].is_open_at(at)
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

/// One result, borrowed from the index while it is read.
pub struct Hit<'a> {
    pub distance_m: f64,
    entry: &'a Entry,
    snapshot: &'a Snapshot,
}

impl Hit<'_> {
    pub fn id(&self) -> i64 {
        self.entry.id
    }
    pub fn name(&self) -> &str {
        self.snapshot.name(self.entry)
    }
    pub fn address(&self) -> &str {
        self.snapshot.address(self.entry)
    }
    /// GCJ-02.
    pub fn location(&self) -> LatLng {
        self.entry.at
    }
    pub fn amenities(&self) -> Amenities {
        self.entry.amenities
    }
    /// 1 to 5; `None` when not graded.
    pub fn stars(&self) -> Option<u8> {
        (self.entry.stars > 0).then_some(self.entry.stars)
    }
    pub fn status(&self) -> StationStatus {
        if self.entry.state == OPEN {
            StationStatus::Open
        } else {
            StationStatus::TemporarilyClosed
        }
    }
    /// An unresolved fault report exists.
    pub fn flagged(&self) -> bool {
        self.entry.open_faults > 0
    }
    pub fn open_24h(&self) -> bool {
        self.snapshot.schedules.list[self.entry.schedule as usize].open_24h()
    }
    pub fn open_at(&self, at: NaiveDateTime) -> bool {
        self.snapshot.open_at(self.entry, at)
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

    /// The distance to `at` if it could enter the result, `None` when it cannot (outside the
    /// candidate box, or beyond the radius or the current k-th best).
    fn distance_if_close(&self, at: LatLng) -> Option<f64> {
        if (at.lat - self.center.lat).abs() > self.dlat {
            return None;
        }
        let mut dlng = (at.lng - self.center.lng).abs();
        if dlng > 180.0 {
            dlng = 360.0 - dlng;
        }
        if dlng > self.dlng {
            return None;
        }
        let d = haversine_with_cos(self.center, self.cos_lat, at);
        (d <= self.bound()).then_some(d)
    }

    /// Offers a station at distance `d` (from [`Best::distance_if_close`]).
    fn consider(&mut self, d: f64, id: i64, slot: u32) {
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
        self.heap.push((Dist(d), id, slot));
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
            // The centre's offset from column 0, in the same frame as `col0`.
            let mut x = c.lng + 180.0;
            match ((x / CELL_DEG).floor() as i64).cmp(&0) {
                Ordering::Less => x += 360.0,
                _ if (x / CELL_DEG).floor() as i64 >= COLS => x -= 360.0,
                _ => {}
            }
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
    /// The hits of a search, nearest first (ties by id).
    fn search(&self, q: &SearchQuery) -> Vec<Hit<'_>> {
        let mut best = Best::new(q);
        let (row0, col0) = (row_of(q.center.lat), col_of(q.center.lng));
        // Blocks of radius 0, 1, 2, 4, ... cells; each stage visits what the previous did not.
        let mut done: Option<i64> = None;
        let mut r = 0;
        loop {
            let mut consider = |cand: &Cand| {
                if !cand.amenities.contains_all(q.amenities) {
                    return;
                }
                let Some(d) = best.distance_if_close(cand.at) else {
                    return;
                };
                // Hours last: they live in the entry, a memory access the others avoid.
                if q.open_only && !self.open_at(&self.entries[cand.slot as usize], q.at) {
                    return;
                }
                best.consider(d, cand.id, cand.slot);
            };
            match done {
                None => self.grid.visit_row(row0, col0, col0, &mut consider),
                Some(p) => {
                    for row in row0 - r..=row0 + r {
                        if (row - row0).abs() > p {
                            self.grid.visit_row(row, col0 - r, col0 + r, &mut consider);
                        } else if 2 * p + 1 >= COLS {
                            // The previous block already spanned every column.
                        } else if 2 * r + 1 >= COLS {
                            // What is left of the row, once, however far the block reaches.
                            self.grid.visit_row(
                                row,
                                col0 + p + 1,
                                col0 + COLS - p - 1,
                                &mut consider,
                            );
                        } else {
                            self.grid
                                .visit_row(row, col0 - r, col0 - p - 1, &mut consider);
                            self.grid
                                .visit_row(row, col0 + p + 1, col0 + r, &mut consider);
                        }
                    }
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
        hits.into_iter()
            .map(|(d, _, slot)| Hit {
                distance_m: d.0,
                entry: &self.entries[slot as usize],
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
        STATIONS_GAUGE.set(snapshot.live as i64);
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
        self.read().live
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
            for row in changed {
                snapshot.apply(row)?;
            }
            // Only `latest`, read before the rows: rows stamped above it may have been missed
            // by a batch that ran before they committed; they are read again next time.
            snapshot.version = latest;
            STATIONS_GAUGE.set(snapshot.live as i64);
            Refreshed::Applied {
                version: latest,
                rows,
            }
        } else {
            drop(changed);
            let rebuilt = Snapshot::build(&mut [conn])?;
            let version = rebuilt.version;
            STATIONS_GAUGE.set(rebuilt.live as i64);
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
        self.search_with(q, |hits| {
            hits.iter()
                .map(|h| Found {
                    id: h.id(),
                    name: h.name().to_owned(),
                    address: h.address().to_owned(),
                    location: h.location(),
                    distance_m: h.distance_m,
                    open_now: h.open_at(q.at),
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
            if let Some(entry) = snapshot.entry(&row).unwrap() {
                snapshot.entries.push(entry);
            }
        }
        snapshot.entries.sort_by_key(|e| e.id);
        snapshot.index_all();
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
                .apply(row(1, 33.0, 118.0, "", &hours, "open"))
                .unwrap();
            snapshot
                .apply(row(2, 32.001, 118.0, "", &hours, "closed"))
                .unwrap();
            snapshot
                .apply(row(4, 32.0, 118.0005, "wifi", &hours, "open"))
                .unwrap();
            let mut renamed = row(9, 32.0, 118.002, "", &hours, "temporarily_closed");
            renamed.name = "新名字".into();
            snapshot.apply(renamed).unwrap();
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
            snapshot.apply(r).unwrap();
        }
        assert!(snapshot.text.len() < 2 << 20, "{}", snapshot.text.len());
        assert_eq!(snapshot.name(&snapshot.entries[0]), "第39999次改名的驿站");
        assert_eq!(snapshot.address(&snapshot.entries[0]), "路1号");
    }
}
