//! The `gigunion` server: configuration, wiring of the domain crates into one actix app, and the
//! commands of the binary.

pub mod bench_fixed;
pub mod cors;
pub mod demo_cases;
pub mod demo_grants;
pub mod demo_notices;
pub mod demo_programs;
pub mod demo_riders;
pub mod openapi;
pub mod ops;
pub mod seed;
pub mod settings;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};
use benefits::grants::documents::GrantFiles;
use benefits::reports::Reports;
use benefits::Benefits;
use identity::{Identity, IdentityConfig};
use membership::MembershipConfig;
use platform::crypto::{load_data_key, DataProtector};
use platform::files::{DiskStore, SealedFiles};
use platform::rights::DataRights;
use platform::{Coordinator, Db};

pub use settings::Settings;

/// Everything the routes share, built once per process.
#[derive(Clone)]
pub struct AppState {
    pub db: web::Data<Db>,
    pub coord: web::Data<Coordinator>,
    pub identity: web::Data<Identity>,
    pub membership: web::Data<MembershipConfig>,
    pub stations: web::Data<stations::Stations>,
    pub benefits: web::Data<Benefits>,
    pub rights: web::Data<rights::Rights>,
    /// The sealed store of the documents handed in with grant applications.
    pub grant_files: web::Data<GrantFiles>,
    pub metrics_access: web::Data<ops::MetricsAccess>,
    /// Every domain's part of a member's data, for export and erasure.
    pub data_rights: web::Data<DataRights>,
    pub retention: Retention,
    /// Origins of web apps allowed to call the API from a browser (none by default).
    pub cors_origins: Arc<Vec<String>>,
}

/// How long data that is only kept for a while stays (the housekeeping job purges the rest).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub visits: Duration,
    pub expired_sessions: Duration,
}

impl Retention {
    fn from_settings(settings: &Settings) -> Retention {
        let days = |n: u32| Duration::from_secs(u64::from(n) * 86_400);
        Retention {
            visits: days(settings.retention_visits_days),
            expired_sessions: days(settings.retention_sessions_days),
        }
    }
}

/// Where this database's keys live in Redis: `gigunion:{deployment id}:`.
pub fn redis_prefix(db: &Db) -> anyhow::Result<String> {
    Ok(format!("gigunion:{}:", db.deployment_id()?))
}

/// Identity settings a caller may adjust before the state is built (tests lower limits).
pub type Tune = Box<dyn FnOnce(&mut IdentityConfig)>;

impl AppState {
    /// Opens the database (migrating it), the coordination store, and loads or creates keys.
    pub fn build(settings: &Settings, tune: Option<Tune>) -> anyhow::Result<AppState> {
        let db = Db::connect(&settings.database_url)?;
        let applied = db.migrate()?;
        if applied > 0 {
            tracing::info!(applied, "database migrated");
        }
        let coord = match &settings.redis_url {
            Some(url) => Coordinator::redis(url, &redis_prefix(&db)?)?,
            None => Coordinator::local(),
        };
        let mut config = IdentityConfig::new(settings.public_base_url());
        config.proxies = settings.proxy_trust()?;
        config.limits.otp_per_ip =
            platform::Rate::per(settings.otp_per_address_per_hour, Duration::from_secs(3600));
        config.limits.sms_per_hour = settings.sms_budget_per_hour;
        config.dispatch = identity::dispatch::DispatchConfig {
            lease: Duration::from_secs(settings.notice_lease_seconds),
            per_second: settings.sms_per_second,
        };
        if let Some(tune) = tune {
            tune(&mut config);
        }
        AppState::assemble(settings, db, coord, config)
    }

    /// Builds the state from parts (tests bring their own database and coordinator).
    pub fn assemble(
        settings: &Settings,
        db: Db,
        coord: Coordinator,
        config: IdentityConfig,
    ) -> anyhow::Result<AppState> {
        let data_key = load_data_key(
            settings.data_key.as_deref(),
            &settings.data_dir.join("data.key"),
        )?;
        let keys = match &settings.jwt_key_file {
            Some(path) => identity::tokens::TokenKeys::load(path, false)?,
            None => {
                identity::tokens::TokenKeys::load(&settings.data_dir.join("jwt-ed25519.pem"), true)?
            }
        };
        let sms = Arc::from(identity::sms::from_config(
            &settings.sms_sender,
            &config.issuer,
            settings.allow_log_sms,
        )?);
        let revocations = identity::revocations::Revocations::new(config.access_ttl);
        let identity = Identity {
            config,
            db: db.clone(),
            coord: coord.clone(),
            keys,
            protector: DataProtector::new(&data_key),
            hasher: identity::password::PasswordHasher::new(),
            sms,
            staff_scopes: Some(membership::staff::scopes),
            revocations,
        };
        let mut membership = MembershipConfig::new(identity.config.issuer.clone());
        membership.app_download_url = settings.app_download_url.clone();
        membership.app_link = settings.app_link.clone();
        let stations = stations::Stations::load(
            &db,
            stations::StationsConfig::new(identity.config.issuer.clone(), coord.is_redis()),
        )?;
        let sealed = |dir: &str| {
            let store = Arc::new(DiskStore::new(settings.data_dir.join(dir)));
            SealedFiles::new(store, identity.protector.clone())
        };
        let reports = Reports::new(sealed("reports"));
        let config = benefits_config(settings)?;
        let benefits =
            web::Data::from(Benefits::start(db.clone(), coord.clone(), reports, config)?);
        let rights = rights::Rights {
            config: rights::RightsConfig {
                accept_working_days: settings.case_accept_working_days,
                consent_policy: identity.config.consent_policy.clone(),
            },
            // Its own directory: keys are prefixed by domain, but a directory per domain keeps
            // backups and retention separable.
            files: sealed("evidence"),
        };
        rights::reminders::start(db.clone());
        let grant_files = GrantFiles(sealed("grants"));
        let data_rights = data_rights(&identity, &benefits, &rights, &grant_files);
        Ok(AppState {
            db: web::Data::new(db),
            coord: web::Data::new(coord),
            identity: web::Data::new(identity),
            membership: web::Data::new(membership),
            stations: web::Data::new(stations),
            benefits,
            metrics_access: web::Data::new(ops::MetricsAccess::new(settings.metrics_token.clone())),
            rights: web::Data::new(rights),
            grant_files: web::Data::new(grant_files),
            data_rights: web::Data::new(data_rights),
            retention: Retention::from_settings(settings),
            cors_origins: Arc::new(cors::origins(&settings.cors_allowed_origins)?),
        })
    }

    /// Registers state, middleware and every crate's routes on an app.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.db.clone())
            .app_data(self.coord.clone())
            .app_data(self.identity.clone())
            .app_data(web::Data::<dyn platform::idempotency::CallerScope>::from(
                self.identity.clone().into_inner() as Arc<dyn platform::idempotency::CallerScope>,
            ))
            .app_data(web::Data::new(self.identity.protector.clone()))
            .app_data(self.membership.clone())
            .app_data(self.stations.clone())
            .app_data(self.benefits.clone())
            .app_data(self.metrics_access.clone())
            .app_data(self.rights.clone())
            .app_data(self.grant_files.clone())
            .app_data(self.data_rights.clone())
            .configure(platform::http::configure_extractors)
            .configure(ops::routes)
            // actix tries resources in order (a pattern match per dynamic path), so the
            // hottest come first: the crowd's claims and bookings (two resources), then
            // nearby search with the other stations routes.
            .configure(benefits::crowd_routes)
            .configure(stations::routes)
            .configure(identity::routes)
            .configure(membership::routes)
            .configure(benefits::routes)
            .configure(benefits::grants::routes::routes)
            .configure(rights::routes)
            .configure(gigunion_web::routes);
    }
}

/// Every domain's part of a member's data. Registration order matters: erasure runs
/// backwards, so rows that refer to others go first.
fn data_rights(
    identity: &Identity,
    benefits: &Benefits,
    rights: &rights::Rights,
    grant_files: &GrantFiles,
) -> DataRights {
    let mut data_rights = DataRights::default();
    data_rights
        .register(Arc::new(identity::personal_data::IdentityData::new(
            identity.protector.clone(),
        )))
        .register(Arc::new(membership::personal_data::MembershipData::new()))
        .register(Arc::new(benefits::personal_data::BenefitsData::new(
            benefits.reports.clone(),
            benefits.config.offers,
        )))
        .register(Arc::new(benefits::grants::personal_data::GrantsData::new(
            grant_files.clone(),
        )))
        .register(Arc::new(stations::personal_data::StationsData::new()))
        .register(Arc::new(rights::personal_data::RightsData::new(
            rights.clone(),
        )))
        .register(Arc::new(identity::notices::NoticesData));
    data_rights
}

/// What benefits takes from the settings.
fn benefits_config(settings: &Settings) -> anyhow::Result<benefits::BenefitsConfig> {
    if settings.reminder_last_minutes >= settings.reminder_first_minutes {
        anyhow::bail!("REMINDER_LAST_MINUTES must be less than REMINDER_FIRST_MINUTES");
    }
    Ok(benefits::BenefitsConfig {
        check_in: benefits::health_sessions::CheckInWindow::minutes(
            settings.checkin_opens_before_minutes,
            settings.checkin_closes_after_minutes,
        ),
        reminders: benefits::reminders::Leads::minutes(
            settings.reminder_first_minutes,
            settings.reminder_last_minutes,
        ),
        offers: benefits::waitlist::Offers::minutes(
            settings.waitlist_offer_minutes,
            settings.waitlist_offer_min_lead_minutes,
        ),
    })
}

/// The HTTP server on a bound listener. Actix stops on SIGTERM/SIGINT gracefully: it stops
/// accepting, lets in-flight requests finish (up to 30 s), then exits.
pub fn server(
    state: AppState,
    listener: TcpListener,
    workers: Option<usize>,
) -> anyhow::Result<actix_web::dev::Server> {
    let app_state = state.clone();
    let hsts = state.identity.config.issuer.starts_with("https://");
    let allowed = Arc::new(openapi::allowed_methods());
    let fixed_answer = bench_fixed::from_env()?;
    let mut server = HttpServer::new(move || {
        let state = app_state.clone();
        // Runs once on each worker thread, which serves only this app: its clock for good.
        state.db.clock().install();
        let cors = !state.cors_origins.is_empty();
        let allowed = allowed.clone();
        App::new()
            .wrap(from_fn(move |req, next| {
                openapi::allow_header(req, next, allowed.clone())
            }))
            .wrap(from_fn(membership::staff::gate))
            .wrap(from_fn(platform::compression::compress))
            .wrap(from_fn(move |req, next| {
                platform::http::secure_headers(req, next, hsts)
            }))
            .wrap(Condition::new(cors, cors::policy(&state.cors_origins)))
            .wrap(from_fn(platform::http::observe))
            // Bench only (`BENCH_FIXED_ANSWER`). Matched first, so it pays less routing than
            // nearby does: the comparison errs against nearby, not for it.
            .configure(|cfg| bench_fixed::routes(cfg, fixed_answer.as_ref()))
            .configure(|cfg| state.configure(cfg))
            .default_service(web::to(platform::http::not_found))
    })
    .shutdown_timeout(30)
    // actix leaves the OS default (Nagle on): a compressed answer then goes out in chunks whose
    // last waits for the client's delayed ACK, about 40 ms on every keep-alive request.
    .tcp_nodelay(true)
    .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    let server = server.run();
    state
        .identity
        .revocations
        .spawn(state.db.get_ref().clone(), state.coord.get_ref().clone());
    identity::dispatch::Dispatcher::new(&state.identity).spawn();
    stations::sync::spawn(
        state.stations.clone(),
        state.db.get_ref().clone(),
        state.coord.get_ref().clone(),
    );
    spawn_housekeeping(state);
    Ok(server)
}

/// Periodic clean-up that keeps tables bounded and data no longer than it is needed
/// (docs/personal-data.md, "Retention"). One-time codes need none: they live in the coordination store with a TTL.
fn spawn_housekeeping(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let idempotency = platform::idempotency::purge_expired(&state.db).await;
            purged("expired idempotency keys", idempotency);
            let keep = state.retention;
            let sessions = state
                .db
                .run(move |conn| {
                    identity::sign_in_sessions::purge_expired(conn, keep.expired_sessions)
                })
                .await;
            purged("expired refresh tokens", sessions);
            let console = state
                .db
                .run(identity::console_sessions::purge_expired)
                .await;
            purged("expired console sessions", console);
            let web = state.db.run(identity::web_sessions::purge_expired).await;
            purged("expired web sessions", web);
            let visits = state
                .db
                .run(move |conn| stations::visits::purge_before(conn, keep.visits))
                .await;
            purged("station visits past retention", visits);
        }
    });
}

fn purged(what: &'static str, outcome: platform::Result<usize>) {
    match outcome {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, what, "purged"),
        Err(e) => tracing::warn!(error = ?e, what, "purge failed"),
    }
}
