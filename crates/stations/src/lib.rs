//! Stations: outdoor-worker rest stations (工会驿站), the in-memory spatial index behind nearby
//! search, door check-ins with visitor stats, and the message board.

pub mod coords;
pub mod feedback;
pub mod fields;
pub mod hours;
pub mod import;
pub mod index;
pub mod links;
pub mod nearby;
pub mod personal_data;
pub mod routes;
pub mod seed;
pub mod station;
pub mod sync;
pub mod version;
pub mod visits;
pub mod vocab;

pub use routes::{routes, ApiDoc};

use std::sync::Arc;
use std::time::Duration;

use platform::{Coordinator, Db, Result};

use crate::index::{Refreshed, StationIndex};

/// The pub/sub channel on which instances announce station changes (the message is the new
/// stations version).
pub const CHANNEL: &str = "stations";

/// Settings of the stations routes.
#[derive(Debug, Clone)]
pub struct StationsConfig {
    /// Public base URL: door QRs encode `{base}/s/{id}?c={code}`.
    pub base_url: String,
    /// How often an instance compares its index with the database version by itself. Without
    /// Redis this is how other instances' writes arrive; with Redis it only backs up missed
    /// notifications.
    pub reconcile_every: Duration,
}

impl StationsConfig {
    pub fn new(base_url: impl Into<String>, redis: bool) -> StationsConfig {
        StationsConfig {
            base_url: base_url.into(),
            reconcile_every: Duration::from_secs(if redis { 30 } else { 2 }),
        }
    }
}

/// The state the stations routes share: the search index and the settings.
pub struct Stations {
    pub index: Arc<StationIndex>,
    pub config: StationsConfig,
}

impl Stations {
    /// Loads the index from the database (at startup, before serving).
    pub fn load(db: &Db, config: StationsConfig) -> anyhow::Result<Stations> {
        let started = std::time::Instant::now();
        // Two readers: one decodes a batch while the database prepares the next.
        let mut a = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut b = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
        let index = StationIndex::load(&mut [&mut *a, &mut *b])
            .map_err(|e| anyhow::anyhow!("cannot load the stations index: {e}"))?;
        if db.is_sqlite() {
            // The pages just read are in no one's working set now: free the two caches.
            for conn in [&mut *a, &mut *b] {
                diesel::connection::SimpleConnection::batch_execute(conn, "PRAGMA shrink_memory")?;
            }
        }
        tracing::info!(
            stations = index.len(),
            version = index.version(),
            ms = started.elapsed().as_millis() as u64,
            "stations index loaded"
        );
        Ok(Stations {
            index: Arc::new(index),
            config,
        })
    }

    /// Catches the index up with the database.
    pub async fn refresh(&self, db: &Db) -> Result<Refreshed> {
        let index = self.index.clone();
        db.run(move |conn| index.refresh(conn)).await
    }

    /// A write that changes stations (the JSON routes' and the console's): committed, then this
    /// instance's index and the others catch up (see [`Stations::changed`]).
    pub async fn write<T: Send + 'static>(
        &self,
        db: &Db,
        coord: &Coordinator,
        f: impl FnOnce(&mut platform::DbConn) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let written = db.write(f).await?;
        self.changed(db, coord).await;
        Ok(written)
    }

    /// After a write on this instance: its own index catches up at once, and the other
    /// instances are told. Failures are logged, not returned: the write is committed, and the
    /// periodic reconciliation repairs a missed step.
    pub async fn changed(&self, db: &Db, coord: &Coordinator) {
        match self.refresh(db).await {
            Ok(refreshed) => {
                let version = refreshed.version().to_string();
                if let Err(e) = coord.publish(CHANNEL, &version).await {
                    tracing::warn!(error = ?e, "station change not announced");
                }
            }
            Err(e) => tracing::warn!(error = ?e, "stations index refresh failed"),
        }
    }
}
