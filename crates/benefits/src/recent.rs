//! Recently read rows, so that a request in a flash crowd costs no database round trip before
//! it joins the batch writer.
//!
//! Entries are trusted for a second. What may change in that time is re-checked where it
//! matters: the batch writer reads a program's status under the stock or session row lock, so
//! a closed program never issues anything, whatever a cached copy says.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use platform::{Db, DbConn, Result};

const FRESH: Duration = Duration::from_secs(1);
/// Above this many entries, stale ones are dropped when a new one goes in.
const TIDY_ABOVE: usize = 10_000;

pub struct Recent<T> {
    entries: RwLock<HashMap<i64, (Instant, Arc<T>)>>,
    load: fn(&mut DbConn, i64) -> Result<T>,
}

impl<T: Send + Sync + 'static> Recent<T> {
    /// A cache filled by `load` (which fails with `not_found` for unknown ids; those are not
    /// cached).
    pub fn new(load: fn(&mut DbConn, i64) -> Result<T>) -> Recent<T> {
        Recent {
            entries: RwLock::new(HashMap::new()),
            load,
        }
    }

    pub async fn get(&self, db: &Db, id: i64) -> Result<Arc<T>> {
        let cached = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .filter(|(at, _)| at.elapsed() < FRESH)
            .map(|(_, row)| row.clone());
        if let Some(row) = cached {
            return Ok(row);
        }
        let load = self.load;
        let row = Arc::new(db.run(move |conn| load(conn, id)).await?);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() > TIDY_ABOVE {
            entries.retain(|_, (at, _)| at.elapsed() < FRESH);
        }
        entries.insert(id, (Instant::now(), row.clone()));
        Ok(row)
    }
}
