//! Membership: union organisations and staff scopes, join codes and QR posters, applications,
//! members and the e-member card.

pub mod applications;
pub mod audit;
pub mod card;
pub mod join_codes;
pub mod member_no;
pub mod members;
pub mod notices;
pub mod orgs;
pub mod personal_data;
pub mod reports;
pub mod roster_csv;
pub mod routes;
pub mod staff;
pub mod transfers;
pub mod vocab;

pub use routes::{routes, ApiDoc};

use std::time::Duration;

/// Settings of the membership routes.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// Public base URL: posters encode `{base}/j/{code}`.
    pub base_url: String,
    /// Lifetime of the e-card's QR token: short, so a screenshot cannot be passed around.
    pub card_ttl: Duration,
    /// Where the join flow's last screen sends a rider to get the app (`APP_DOWNLOAD_URL`).
    pub app_download_url: Option<String>,
    /// The link that opens the installed app (`APP_LINK`, e.g. `gigunion://membership`).
    pub app_link: Option<String>,
}

impl MembershipConfig {
    pub fn new(base_url: impl Into<String>) -> MembershipConfig {
        MembershipConfig {
            base_url: base_url.into(),
            card_ttl: Duration::from_secs(60),
            app_download_url: None,
            app_link: None,
        }
    }
}
