//! Reading the index's stations from the database: the columns it reads, batch by batch in id
//! order, decoded into the plain records a [`Snapshot`] is built from and updated with.

use diesel::prelude::*;
use platform::schema::stations as s;
use platform::{DbConn, Result};

use super::snapshot::{Snapshot, StationRecord};
use crate::version::current_version;
use crate::vocab::StationStatus;

/// Rows read per query while loading: bounds the memory a load needs besides the index.
const BATCH: i64 = 2_000;

/// The columns the index reads.
#[derive(Queryable, Selectable)]
#[diesel(table_name = s)]
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
    #[diesel(deserialize_as = String)]
    status: StationStatus,
    open_faults: i32,
}

impl From<IndexRow> for StationRecord {
    fn from(row: IndexRow) -> StationRecord {
        StationRecord {
            id: row.id,
            lat: row.lat,
            lng: row.lng,
            name: row.name,
            address: row.address,
            amenities: row.amenities,
            hours: row.hours,
            closed_dates: row.closed_dates,
            stars: row.stars,
            status: row.status,
            open_faults: row.open_faults,
        }
    }
}

/// Which rows a batch reads.
#[derive(Clone, Copy)]
enum Load {
    /// Every station search can find.
    All,
    /// Every row changed after this version, closed ones included (they leave the index).
    ChangedSince(i64),
}

fn load_batch(
    conn: &mut DbConn,
    load: Load,
    after_id: i64,
    upto: i64,
) -> Result<Vec<StationRecord>> {
    let query = s::table
        .filter(s::id.gt(after_id))
        .filter(s::id.le(upto))
        .order(s::id)
        .limit(BATCH)
        .select(IndexRow::as_select())
        .into_boxed();
    let query = match load {
        Load::All => query.filter(s::status.ne(StationStatus::Closed.as_str())),
        Load::ChangedSince(version) => query.filter(s::version.gt(version)),
    };
    let rows: Vec<IndexRow> = query.load(conn)?;
    Ok(rows.into_iter().map(StationRecord::from).collect())
}

/// Calls `f` with the rows of `load` with ids in `after..=upto`, in id order, a batch at a
/// time; stops early (returning false) when `f` returns false.
fn for_each_batch(
    conn: &mut DbConn,
    load: Load,
    mut after: i64,
    upto: i64,
    mut f: impl FnMut(Vec<StationRecord>) -> Result<bool>,
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

/// Loads every searchable station. Each connection given reads and decodes the rows of
/// one share of the id range on a thread of its own, while this thread builds the stations
/// from whichever batch arrives first (they are put in grid order at the end). Batches are
/// small and few are in flight, so the load leaves little behind in the heap.
pub(super) fn snapshot(conns: &mut [&mut DbConn]) -> Result<Snapshot> {
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
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(Snapshot {
            version,
            ..Snapshot::default()
        });
    };
    read_in_shares(conns, version, count as usize, min, max)
}

/// Reads the searchable stations with ids in `min..=max` into a snapshot at `version`, the
/// range split evenly between the connections (see [`snapshot`]).
fn read_in_shares(
    conns: &mut [&mut DbConn],
    version: i64,
    count: usize,
    min: i64,
    max: i64,
) -> Result<Snapshot> {
    let shares = conns.len() as i64;
    let bound = |i: i64| min - 1 + (max - min + 1) * i / shares;
    std::thread::scope(|scope| {
        let (batches, received) =
            std::sync::mpsc::sync_channel::<Vec<StationRecord>>(2 * conns.len());
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
        // Ends once every reader has finished, and so has dropped its sender.
        let built = Snapshot::from_batches(version, count, received);
        for reader in readers {
            reader.join().expect("a reading thread panicked")?;
        }
        built
    })
}

/// Every row changed after `version`, closed ones included, in id order; `None` as soon as
/// more than `limit` have been read.
pub(super) fn changed_since(
    conn: &mut DbConn,
    version: i64,
    limit: usize,
) -> Result<Option<Vec<StationRecord>>> {
    let mut changed = Vec::new();
    let complete = for_each_batch(conn, Load::ChangedSince(version), 0, i64::MAX, |rows| {
        changed.extend(rows);
        Ok(changed.len() <= limit)
    })?;
    Ok(complete.then_some(changed))
}
