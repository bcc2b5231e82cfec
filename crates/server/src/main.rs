use std::net::TcpListener;

use anyhow::Context;
use clap::Parser;
use gigunion_server::settings::{AdminCommand, Cli, Command};
use gigunion_server::{seed, server, AppState};
use identity::password::Password;
use identity::phone::Phone;
use tracing_subscriber::EnvFilter;

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")) {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

/// Each password check (Argon2id, m = 19 MiB) takes one big block. glibc raises its mmap
/// threshold after the first such block is freed and serves the next ones from per-thread heaps
/// that never shrink: a login storm left the server holding gigabytes. A fixed threshold keeps
/// big blocks on mmap, handed back to the system as soon as they are freed.
fn return_big_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts the allocator's tuning; called before the server starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// Hands the heap's free pages back to the system once startup is done. Loading the stations
/// index decodes every row on two reader threads and fills two SQLite page caches (freed right
/// after); without a trim those pages stay resident in the threads' heaps: 57-61 MiB idle at
/// 200,000 stations against 53 MiB with it.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is free; nothing the program holds moves.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    return_big_blocks_to_the_system();
    init_tracing();
    let cli = Cli::parse();
    let settings = cli.settings;
    match cli.command {
        Command::Openapi => {
            print!("{}", gigunion_server::openapi::spec_json());
        }
        Command::Migrate => {
            let db = platform::Db::connect(&settings.database_url)?;
            let applied = db.migrate()?;
            println!("{applied} migration(s) applied");
        }
        Command::Seed => {
            let state = AppState::build(&settings, None)?;
            report_seed(seed::seed(&state, &settings.data_dir).await?);
        }
        Command::Admin {
            command: AdminCommand::Create { phone, password },
        } => {
            let state = AppState::build(&settings, None)?;
            let phone = Phone::parse(&phone).context("--phone must be a mainland mobile number")?;
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (Password::generate().as_str().to_owned(), true),
            };
            let parsed = Password::parse(&password, "password").map_err(|_| {
                anyhow::anyhow!("the password needs 8-128 characters with letters and digits")
            })?;
            let (id, created) = state
                .identity
                .ensure_admin(&phone, parsed)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match (created, generated) {
                (true, true) => println!(
                    "admin account {id} created: phone {}, password {password}",
                    phone.as_str()
                ),
                (true, false) => println!("admin account {id} created: phone {}", phone.as_str()),
                (false, _) => println!(
                    "account {id} ({}) is now admin; its password is unchanged",
                    phone.masked()
                ),
            }
        }
        Command::Serve { demo } => {
            let state = AppState::build(&settings, None)?;
            trim_heap();
            if demo {
                report_seed(seed::seed(&state, &settings.data_dir).await?);
            }
            let listener = TcpListener::bind(settings.bind)
                .with_context(|| format!("cannot listen on {}", settings.bind))?;
            let addr = listener.local_addr()?;
            let base = settings.public_base_url();
            tracing::info!(%addr, database = %platform::db::redact(&settings.database_url),
                redis = settings.redis_url.is_some(), "gigunion listening");
            println!("gigunion is serving on http://{addr}  (API map: {base}/openapi.json, health: {base}/healthz)");
            server(state, listener, settings.workers)?.await?;
            tracing::info!("stopped");
        }
    }
    Ok(())
}

fn report_seed(seeded: seed::Seeded) {
    if seeded.logins.is_empty() && seeded.posters.is_empty() {
        println!(
            "demo data already present (admin phone {})",
            seed::DEMO_ADMIN_PHONE
        );
        return;
    }
    println!("demo data loaded. Logins (shown only this once):");
    for login in &seeded.logins {
        println!(
            "  {:<28} phone {}  password {}",
            login.role, login.phone, login.password
        );
    }
    if !seeded.posters.is_empty() {
        println!("join-code posters (scan them with a phone):");
        for (what, file) in &seeded.posters {
            println!("  {what}\n    {}", file.display());
        }
    }
}
