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
//!
//! The parts:
//! - this module: the locked index shared by the requests of an instance, and its refresh;
//! - `snapshot`: the data at one version (stations, cells, text arena, schedules), built from
//!   plain records and edited in place;
//! - `grid`: the cells' geometry and keys;
//! - `search`: the query, its results and the walk over the grid;
//! - `load`: reading the records from the database, the only part that queries it.

mod grid;
mod load;
mod search;
mod snapshot;

#[cfg(test)]
mod fixtures;

use std::sync::{LazyLock, Mutex, RwLock};

use platform::{DbConn, Result};

pub use self::search::{Found, Hit, SearchQuery};
use self::snapshot::Snapshot;
use crate::hours::Moment;
use crate::version::current_version;

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
        Ok(StationIndex::new(load::snapshot(conns)?))
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
        let outcome = match load::changed_since(conn, loaded, limit)? {
            Some(changed) => {
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
            }
            None => {
                let rebuilt = load::snapshot(&mut [conn])?;
                let version = rebuilt.version;
                STATIONS_GAUGE.set(rebuilt.stations.len() as i64);
                *self.write() = rebuilt;
                Refreshed::Rebuilt(version)
            }
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
