//! Configuration: flags with environment fallbacks, and the runtime settings built from them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "gigunion",
    version,
    about = "Backend of the gig workers' union app"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve the API.
    Serve {
        /// On an empty database, load the demo data first (what `make run` does).
        #[arg(long, env = "SEED_DEMO")]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Load the demo data (idempotent).
    Seed,
    /// Manage admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin account (or make an existing account admin).
    Create {
        /// Mainland mobile number of the admin.
        #[arg(long)]
        phone: String,
        /// Password; generated and printed when omitted.
        #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// `sqlite://PATH` (embedded, default) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/gigunion.db",
        global = true
    )]
    pub database_url: String,
    /// Redis for rate limits and short-lived keys shared by instances; in-process when unset.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: SocketAddr,
    /// Public base URL of this service (token issuer, poster links); `http://BIND` when unset.
    #[arg(long, env = "PUBLIC_BASE_URL", global = true)]
    pub public_base_url: Option<String>,
    /// Where the join flow's last screen sends a rider to get the union app.
    #[arg(long, env = "APP_DOWNLOAD_URL", global = true)]
    pub app_download_url: Option<String>,
    /// The link that opens the installed union app from the join flow's last screen.
    #[arg(long, env = "APP_LINK", global = true)]
    pub app_link: Option<String>,
    /// Where the service keeps its files: generated keys (unless JWT_KEY_FILE / DATA_KEY are
    /// given), health-check report PDFs (`reports/`), and the demo data's QR posters
    /// (`posters/`) and logins (`demo-logins.txt`). Not the database: DATABASE_URL names it.
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Ed25519 PKCS#8 PEM signing key; generated into DATA_DIR when unset.
    #[arg(long, env = "JWT_KEY_FILE", global = true)]
    pub jwt_key_file: Option<PathBuf>,
    /// Base64 32-byte key protecting personal data; generated into DATA_DIR when unset.
    #[arg(long, env = "DATA_KEY", hide_env_values = true, global = true)]
    pub data_key: Option<String>,
    /// `log` (codes go to the log) or `file:PATH` (one JSON line per message).
    #[arg(long, env = "SMS_SENDER", default_value = "log", global = true)]
    pub sms_sender: String,
    /// Allow SMS_SENDER=log with a public URL that is not local (codes end up in the log).
    #[arg(long, env = "ALLOW_LOG_SMS", global = true)]
    pub allow_log_sms: bool,
    /// Take client IPs from X-Forwarded-For (only behind a reverse proxy that appends to it).
    #[arg(long, env = "TRUST_PROXY", global = true)]
    pub trust_proxy: bool,
    /// With TRUST_PROXY: our proxies' addresses or CIDR ranges, comma-separated; the client is
    /// the right-most X-Forwarded-For entry that is not one of them.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        default_value = platform::client_addr::PRIVATE_RANGES,
        global = true
    )]
    pub trusted_proxies: String,
    /// Bearer token that `GET /metrics` requires; without it `/metrics` answers 404.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<String>,
    /// Days raw station visits are kept (statistics reach back at most 366 days).
    #[arg(
        long,
        env = "RETENTION_VISITS_DAYS",
        default_value_t = 400,
        global = true
    )]
    pub retention_visits_days: u32,
    /// Days expired refresh tokens are kept before they are purged.
    #[arg(
        long,
        env = "RETENTION_SESSIONS_DAYS",
        default_value_t = 7,
        global = true
    )]
    pub retention_sessions_days: u32,
    /// Verification codes one client address may ask for per hour. Generous: a venue's Wi-Fi
    /// or a carrier's NAT puts hundreds of riders behind one address.
    #[arg(
        long,
        env = "OTP_PER_ADDRESS_PER_HOUR",
        default_value_t = 2000,
        global = true
    )]
    pub otp_per_address_per_hour: u32,
    /// Verification codes the whole service may send per hour (all instances together).
    #[arg(
        long,
        env = "SMS_BUDGET_PER_HOUR",
        default_value_t = 20_000,
        global = true
    )]
    pub sms_budget_per_hour: u64,
    /// Notices this instance hands to the SMS gateway per second at most (the gateway's rate
    /// limit, per instance); unlimited when unset.
    #[arg(long, env = "SMS_PER_SECOND", global = true)]
    pub sms_per_second: Option<std::num::NonZeroU32>,
    /// Seconds a dispatcher's claim on a batch of notices holds: after a crash, how long the
    /// batch in flight waits before it is sent (its keys let the gateway drop what went out).
    #[arg(
        long,
        env = "NOTICE_LEASE_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=3_600),
        global = true
    )]
    pub notice_lease_seconds: u64,
    /// Minutes before a health-check session's start from which its bookings check in (at most
    /// a week).
    #[arg(
        long,
        env = "CHECKIN_OPENS_BEFORE_MINUTES",
        default_value_t = 60,
        value_parser = clap::value_parser!(u32).range(0..=10_080),
        global = true
    )]
    pub checkin_opens_before_minutes: u32,
    /// Minutes after a session's end until which its bookings still check in (at most a week);
    /// bookings still unchecked then become no-shows.
    #[arg(
        long,
        env = "CHECKIN_CLOSES_AFTER_MINUTES",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(0..=10_080),
        global = true
    )]
    pub checkin_closes_after_minutes: u32,
    /// Minutes before a booked health-check session its first reminder goes (at most a week).
    #[arg(
        long,
        env = "REMINDER_FIRST_MINUTES",
        default_value_t = 1440,
        value_parser = clap::value_parser!(u32).range(1..=10_080),
        global = true
    )]
    pub reminder_first_minutes: u32,
    /// Minutes before it the last reminder goes (less than the first).
    #[arg(
        long,
        env = "REMINDER_LAST_MINUTES",
        default_value_t = 120,
        value_parser = clap::value_parser!(u32).range(1..=10_080),
        global = true
    )]
    pub reminder_last_minutes: u32,
    /// Minutes a member promoted from a health-check waitlist has to confirm the seat.
    #[arg(
        long,
        env = "WAITLIST_OFFER_MINUTES",
        default_value_t = 120,
        value_parser = clap::value_parser!(u32).range(1..=10_080),
        global = true
    )]
    pub waitlist_offer_minutes: u32,
    /// Minutes before a session from which a promoted seat is booked outright, not offered.
    #[arg(
        long,
        env = "WAITLIST_OFFER_MIN_LEAD_MINUTES",
        default_value_t = 360,
        value_parser = clap::value_parser!(u32).range(0..=10_080),
        global = true
    )]
    pub waitlist_offer_min_lead_minutes: u32,
    /// Working days (Monday to Friday) staff have to accept or decline a dispute case.
    #[arg(
        long,
        env = "CASE_ACCEPT_WORKING_DAYS",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(1..=60),
        global = true
    )]
    pub case_accept_working_days: u32,
    /// Origins of web apps that may call the API from a browser, comma-separated
    /// (`https://app.example.cn`); none when empty. The phone app needs none.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "", global = true)]
    pub cors_allowed_origins: String,
    /// HTTP worker threads; one per core when unset.
    #[arg(long, env = "WORKERS", global = true)]
    pub workers: Option<usize>,
}

impl Settings {
    /// Defaults as if no flag or variable was given (for tests and tools).
    pub fn defaults() -> Settings {
        Cli::parse_from(["gigunion", "migrate"]).settings
    }

    /// The proxies whose `X-Forwarded-For` is believed: none without `TRUST_PROXY`.
    pub fn proxy_trust(&self) -> anyhow::Result<platform::client_addr::ProxyTrust> {
        if !self.trust_proxy {
            return Ok(platform::client_addr::ProxyTrust::none());
        }
        platform::client_addr::ProxyTrust::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))
    }

    pub fn public_base_url(&self) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }
}
