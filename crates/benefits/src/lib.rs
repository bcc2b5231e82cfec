//! Benefits: programs and eligibility, gift-pack claims and vouchers (first come or a fair
//! draw), health-check sessions, bookings, the waitlist and session rosters, redemptions,
//! reports and the benefit ledger.

pub mod batcher;
pub mod bookings;
pub mod broadcasts;
pub mod claims;
pub mod drafts;
pub mod draws;
pub mod eligibility;
pub mod figures;
pub mod grants;
pub mod health_sessions;
pub mod ledger;
mod notify;
pub mod personal_data;
pub mod programs;
pub mod recent;
pub mod redemptions;
pub mod reminders;
pub mod reports;
pub mod rosters;
pub mod routes;
pub mod sold_out;
pub mod vocab;
pub mod waitlist;

pub use routes::{crowd_routes, routes, ApiDoc};

use std::sync::Arc;
use std::time::Duration;

use platform::db::write_tx;
use platform::{Coordinator, Db};

/// What an operator tunes (the server fills it from its settings).
#[derive(Debug, Clone, Copy, Default)]
pub struct BenefitsConfig {
    /// When a booking may be checked in around its session.
    pub check_in: health_sessions::CheckInWindow,
    /// How long before a session its reminders go.
    pub reminders: reminders::Leads,
    /// When a seat promoted from the waitlist must be confirmed.
    pub offers: waitlist::Offers,
}

/// What the benefit routes share, as `web::Data<Benefits>`.
pub struct Benefits {
    pub config: BenefitsConfig,
    pub batcher: batcher::Batcher,
    pub sold_out: sold_out::SoldOut,
    pub programs: recent::Recent<programs::Program>,
    pub sessions: recent::Recent<health_sessions::Session>,
    pub reports: reports::Reports,
}

impl Benefits {
    /// Seals reports older versions stored in clear, then starts the batch writer and the
    /// housekeeping task (expired vouchers back to stock, no-shows of sessions whose check-in
    /// window closed). Needs a Tokio runtime.
    pub fn start(
        db: Db,
        coord: Coordinator,
        reports: reports::Reports,
        config: BenefitsConfig,
    ) -> anyhow::Result<Arc<Benefits>> {
        let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let sealed = reports.seal_clear(&mut conn)?;
        drop(conn);
        if sealed > 0 {
            tracing::info!(sealed, "health reports stored in clear are sealed now");
        }
        let benefits = Arc::new(Benefits {
            config,
            batcher: batcher::Batcher::start(db.clone()),
            sold_out: sold_out::SoldOut::new(coord),
            programs: recent::Recent::new(programs::get),
            sessions: recent::Recent::new(health_sessions::get),
            reports,
        });
        tokio::spawn(housekeeping(db, Arc::downgrade(&benefits)));
        Ok(benefits)
    }
}

async fn housekeeping(db: Db, benefits: std::sync::Weak<Benefits>) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        let Some(benefits) = benefits.upgrade() else {
            return;
        };
        let now = platform::clock::now();
        // A booking is a no-show once its check-in window has closed, not at the session's
        // end: until then it may still check in.
        let ended_before = benefits.config.check_in.closed_if_ended_before(now);
        let (leads, offers) = (benefits.config.reminders, benefits.config.offers);
        let swept = db
            .run(move |conn| {
                let restocked = write_tx(conn, |conn| claims::expire_vouchers(conn, now))?;
                let no_shows = write_tx(conn, |conn| bookings::mark_no_shows(conn, ended_before))?;
                write_tx(conn, |conn| waitlist::lapse(conn, offers, now))?;
                write_tx(conn, |conn| reminders::sweep(conn, leads, now))?;
                Ok((restocked, no_shows))
            })
            .await;
        match swept {
            Ok((restocked, no_shows)) => {
                for program in restocked {
                    if let Err(e) = benefits.sold_out.clear(program).await {
                        tracing::warn!(error = ?e, program, "could not clear a sold-out mark");
                    }
                }
                if no_shows > 0 {
                    tracing::info!(no_shows, "no-shows marked");
                }
            }
            Err(e) => tracing::warn!(error = ?e, "benefits housekeeping failed"),
        }
    }
}
