//! Keeps an instance's index fresh with the writes of other instances: it refreshes when a
//! change is announced on the coordinator's pub/sub (Redis), when the subscription is
//! (re)established, and on a timer that compares versions with the database either way.

use actix_web::web;
use platform::coord::Notice;
use platform::{Coordinator, Db};

use crate::index::Refreshed;
use crate::{Stations, CHANNEL};

/// Starts the background task; it runs as long as the runtime.
pub fn spawn(stations: web::Data<Stations>, db: Db, coord: Coordinator) {
    tokio::spawn(async move {
        let mut subscription = Some(coord.subscribe(CHANNEL));
        let mut tick = tokio::time::interval(stations.config.reconcile_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let why = tokio::select! {
                notice = async { subscription.as_mut()?.recv().await }, if subscription.is_some() => {
                    match notice {
                        Some(Notice::Message(_)) => "announced",
                        Some(Notice::Subscribed) => "subscribed",
                        None => {
                            subscription = None;
                            continue;
                        }
                    }
                }
                _ = tick.tick() => "reconcile",
            };
            match stations.refresh(&db).await {
                Ok(Refreshed::UpToDate(_)) => {}
                Ok(refreshed) => tracing::info!(?refreshed, why, "stations index refreshed"),
                Err(e) => tracing::warn!(error = ?e, why, "stations index refresh failed"),
            }
        }
    });
}
