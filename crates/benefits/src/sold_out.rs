//! Which gift-pack programs are sold out, known without the database: once the stock is gone
//! the crowd's claims are answered from memory (and Redis across instances), which is what
//! keeps the service standing when a crowd keeps pressing the button. The stock row decides;
//! a mark only saves work.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use platform::{Coordinator, Result};

/// How long a local "sold out" is trusted before Redis is asked again, when other instances
/// may have returned stock (expired vouchers).
const LOCAL_TRUST: Duration = Duration::from_secs(2);

/// How long Redis's "not sold out" is trusted. Without it every claim of a crowd would ask
/// Redis first, a round trip per request that buys nothing: a claim let through wrongly is
/// answered by the batch from the stock row, which marks the program sold out here at once.
const AVAILABLE_TRUST: Duration = Duration::from_millis(250);

/// How long a shared mark lives. Any sold-out answer from the database renews it; a mark whose
/// clearing was lost (stock came back while Redis was away) stops misleading within this.
const SHARED_MARK_LIFE: Duration = Duration::from_secs(600);

/// What this instance last knew of a program, and since when.
#[derive(Clone, Copy)]
enum Seen {
    SoldOut(Instant),
    Available(Instant),
}

/// Which programs are sold out, known without the database.
pub struct SoldOut {
    local: RwLock<HashMap<i64, Seen>>,
    coord: Coordinator,
}

impl SoldOut {
    pub fn new(coord: Coordinator) -> SoldOut {
        SoldOut {
            local: RwLock::new(HashMap::new()),
            coord,
        }
    }

    fn key(program_id: i64) -> String {
        format!("soldout:{program_id}")
    }

    pub async fn is_sold_out(&self, program_id: i64) -> Result<bool> {
        let seen = self
            .local
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&program_id)
            .copied();
        // Alone, this instance's knowledge is the truth until it restocks itself.
        if !self.coord.is_redis() {
            return Ok(matches!(seen, Some(Seen::SoldOut(_))));
        }
        match seen {
            Some(Seen::SoldOut(at)) if at.elapsed() < LOCAL_TRUST => return Ok(true),
            Some(Seen::Available(at)) if at.elapsed() < AVAILABLE_TRUST => return Ok(false),
            _ => {}
        }
        // The mark only saves work; the stock row decides. With Redis away the claim goes to
        // the database instead of failing: claiming is not one of the routes that must fail
        // closed.
        let shared = match self.coord.get(&Self::key(program_id)).await {
            Ok(mark) => mark.is_some(),
            Err(e) => {
                tracing::warn!(error = ?e, program_id, "sold-out mark unreadable; asking the database");
                return Ok(false);
            }
        };
        let now = Instant::now();
        let seen = if shared {
            Seen::SoldOut(now)
        } else {
            Seen::Available(now)
        };
        self.local
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(program_id, seen);
        Ok(shared)
    }

    pub async fn mark(&self, program_id: i64) {
        self.local
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(program_id, Seen::SoldOut(Instant::now()));
        if let Err(e) = self
            .coord
            .put(&Self::key(program_id), "1", SHARED_MARK_LIFE)
            .await
        {
            tracing::warn!(error = ?e, program_id, "sold-out mark not shared");
        }
    }

    pub async fn clear(&self, program_id: i64) -> Result<()> {
        self.local
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&program_id);
        self.coord.delete(&Self::key(program_id)).await.map(|_| ())
    }
}
