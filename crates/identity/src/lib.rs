//! Identity: accounts by phone and OTP, Argon2id passwords, JWT access tokens with rotating
//! refresh tokens, the real-name profile, and the extractor every other crate authenticates with.

pub mod accounts;
pub mod auth;
pub mod console_sessions;
pub mod dispatch;
pub mod id_number;
pub mod notices;
pub mod otp;
pub mod password;
pub mod personal_data;
pub mod phone;
pub mod profile;
pub mod revocations;
pub mod routes;
pub mod sign_in_sessions;
pub mod signin;
pub mod sms;
pub mod tokens;
pub mod web_sessions;

use std::sync::Arc;
use std::time::Duration;

use platform::crypto::DataProtector;
use platform::{Coordinator, Db, Rate};

pub use auth::AuthUser;
pub use routes::{routes, ApiDoc};

/// Rate limits of the identity routes.
#[derive(Debug, Clone)]
pub struct Limits {
    pub otp_per_phone_minute: Rate,
    pub otp_per_phone_day: Rate,
    pub otp_per_ip: Rate,
    /// Password attempts on one phone from one address: a guesser there is stopped, while the
    /// owner elsewhere still signs in.
    pub login_per_phone: Rate,
    /// Password attempts on one phone from every address together: slows a guesser spread
    /// over many addresses.
    pub login_per_phone_any_address: Rate,
    pub login_per_ip: Rate,
    /// Codes sent per hour by the whole service, every instance together: the SMS bill's cap.
    /// A warning is logged when 80% of it is used.
    pub sms_per_hour: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            otp_per_phone_minute: Rate::per_minute(1),
            otp_per_phone_day: Rate::per_day(10),
            // Generous per address: a service fair puts hundreds of riders on one venue Wi-Fi,
            // and carrier-grade NAT puts thousands behind one address. The per-phone limits
            // and the hourly SMS budget are what stop abuse.
            otp_per_ip: Rate::per(2000, Duration::from_secs(3600)),
            login_per_phone: Rate::per(10, Duration::from_secs(15 * 60)),
            login_per_phone_any_address: Rate::per(100, Duration::from_secs(3600)),
            login_per_ip: Rate::per_minute(300),
            sms_per_hour: 20_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// `iss` of our tokens: the public base URL.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How long a retried refresh gets the same new pair instead of tripping reuse detection.
    pub refresh_grace: Duration,
    pub otp_ttl: Duration,
    pub limits: Limits,
    /// Which peers are our reverse proxies, whose `X-Forwarded-For` tells the client's address.
    pub proxies: platform::client_addr::ProxyTrust,
    /// The personal-information policy version a consent refers to.
    pub consent_policy: String,
    /// Staff console sessions and trusted browsers.
    pub console: console_sessions::ConsoleTimeouts,
    /// The notice dispatcher's lease and rate limit.
    pub dispatch: dispatch::DispatchConfig,
}

impl IdentityConfig {
    pub fn new(issuer: impl Into<String>) -> IdentityConfig {
        IdentityConfig {
            issuer: issuer.into(),
            audience: "gigunion-app".to_owned(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 86_400),
            refresh_grace: Duration::from_secs(10),
            otp_ttl: Duration::from_secs(5 * 60),
            limits: Limits::default(),
            proxies: platform::client_addr::ProxyTrust::none(),
            consent_policy: "2026-11".to_owned(),
            console: console_sessions::ConsoleTimeouts::default(),
            dispatch: dispatch::DispatchConfig::default(),
        }
    }
}

/// Everything the identity routes need, shared as `web::Data<Identity>`.
pub struct Identity {
    pub config: IdentityConfig,
    pub db: Db,
    pub coord: Coordinator,
    pub keys: tokens::TokenKeys,
    pub protector: DataProtector,
    pub hasher: password::PasswordHasher,
    pub sms: Arc<dyn sms::SmsSender>,
    /// Set by the server when membership is wired in.
    pub staff_scopes: Option<accounts::StaffScopes>,
    /// Accounts whose access tokens stopped counting before they expire.
    pub revocations: revocations::Revocations,
}
