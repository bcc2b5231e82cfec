//! Rights protection (维权): a worker's dispute with whoever owes them (unpaid wages, social
//! insurance, a work injury, whether they are employed at all, a platform's penalty), filed
//! with the union and handled by its staff: accepted into a handling class or declined, with
//! every step on the case's timeline and told to the claimants.
//!
//! Beside membership and benefits, on the same platform: cases are routed to the org that
//! serves the worker and seen by its subtree's staff, evidence goes to the platform's sealed
//! file store, steps go out through the outbox, and the member's export and erasure cover it.

pub mod agreements;
pub mod cases;
pub mod claimants;
pub mod closing;
pub mod credit_code;
pub mod deadlines;
pub mod decisions;
pub mod evidence;
pub mod groups;
pub mod mediators;
pub mod meetings;
pub mod messages;
mod notify;
pub mod personal_data;
pub mod queue;
pub mod reminders;
pub mod routes;
pub mod stats;
pub mod timeline;
pub mod vocab;

pub use routes::{routes, ApiDoc};

use platform::files::SealedFiles;

/// The purpose case data is processed for, in the consent records.
pub const CASE_DATA: &str = "case_data";

/// What an operator tunes (the server fills it from its settings).
#[derive(Debug, Clone)]
pub struct RightsConfig {
    /// Working days staff have to accept or decline a case.
    pub accept_working_days: u32,
    /// The version of the personal-information policy a filing consents to.
    pub consent_policy: String,
}

/// What the rights routes share, as `web::Data<Rights>`.
#[derive(Clone)]
pub struct Rights {
    pub config: RightsConfig,
    /// The sealed store of evidence files; its data key also seals the cases' free text.
    pub files: SealedFiles,
}
