use std::io::IsTerminal;
use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use gigunion_server::settings::{AdminCommand, Cli, Command};
use gigunion_server::{seed, server, AppState, Settings};
use identity::password::Password;
use identity::phone::Phone;
use tracing_subscriber::EnvFilter;

/// Where the process's words go. With `LOG_FORMAT=json` stdout and stderr carry JSON log lines
/// only (collectors parse every line), so what people read is printed in human mode alone.
#[derive(Debug, Clone, Copy)]
struct Output {
    json: bool,
    terminal: bool,
}

impl Output {
    fn detect() -> Output {
        Output {
            json: std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")),
            terminal: std::io::stdout().is_terminal(),
        }
    }

    /// Generated passwords are shown to a person at a terminal only: piped or redirected
    /// output ends up in log files and collectors, which are no place for them. In JSON mode
    /// not even a terminal gets them (`docker run -t` keeps a terminal's output as its log).
    fn shows_passwords(self) -> bool {
        !self.json && self.terminal
    }
}

fn init_tracing(output: Output) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if output.json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
        // The default hook writes plain text to stderr: a panic becomes a JSON line too.
        std::panic::set_hook(Box::new(|info| tracing::error!(panic = %info, "panicked")));
    } else {
        builder.init();
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    platform::memory::return_big_blocks_to_the_system();
    let output = Output::detect();
    init_tracing(output);
    let cli = Cli::parse();
    match run(cli, output).await {
        Ok(()) => ExitCode::SUCCESS,
        // Returning the error would have std print it as text; in JSON mode it is a log line.
        Err(e) if output.json => {
            tracing::error!(error = format!("{e:#}"), "gigunion failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("Error: {e:?}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, output: Output) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command {
        Command::Openapi => {
            print!("{}", gigunion_server::openapi::spec_json());
        }
        Command::Migrate => {
            let db = platform::Db::connect(&settings.database_url)?;
            let applied = db.migrate()?;
            if output.json {
                tracing::info!(applied, "migrations applied");
            } else {
                println!("{applied} migration(s) applied");
            }
        }
        Command::Seed => {
            let state = AppState::build(&settings, None)?;
            let seeded = seed::seed(&state, &settings.data_dir).await?;
            report_seed(&seeded, &settings.data_dir, output);
        }
        Command::Admin {
            command: AdminCommand::Create { phone, password },
        } => admin_create(&settings, &phone, password).await?,
        Command::Serve { demo } => serve(&settings, demo, output).await?,
    }
    Ok(())
}

/// `gigunion admin create`. A generated password is the command's answer to the operator who
/// ran it, printed to stdout and never logged.
async fn admin_create(
    settings: &Settings,
    phone: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let state = AppState::build(settings, None)?;
    let phone = Phone::parse(phone).context("--phone must be a mainland mobile number")?;
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (Password::generate().as_str().to_owned(), true),
    };
    let parsed = Password::parse(&password, "password").map_err(|_| {
        anyhow::anyhow!("the password needs 8-128 characters with a Latin letter and a digit")
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
    Ok(())
}

async fn serve(settings: &Settings, demo: bool, output: Output) -> anyhow::Result<()> {
    let state = AppState::build(settings, None)?;
    platform::memory::trim_heap();
    if demo {
        let seeded = seed::seed(&state, &settings.data_dir).await?;
        report_seed(&seeded, &settings.data_dir, output);
    }
    let listener = TcpListener::bind(settings.bind)
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    let addr = listener.local_addr()?;
    let base = settings.public_base_url();
    let (openapi, health) = (format!("{base}/openapi.json"), format!("{base}/healthz"));
    tracing::info!(%addr, url = %base, %openapi, %health,
        database = %platform::db::redact(&settings.database_url),
        redis = settings.redis_url.is_some(), "gigunion is serving");
    if !output.json {
        println!("gigunion is serving on http://{addr}  (API map: {openapi}, health: {health})");
    }
    server(state, listener, settings.workers)?.await?;
    tracing::info!("stopped");
    Ok(())
}

/// Tells what seeding did: log events in JSON mode, a summary for people otherwise. Passwords
/// only ever go to the logins file and, for a person at a terminal, the screen.
fn report_seed(seeded: &seed::Seeded, data_dir: &Path, output: Output) {
    if output.json {
        log_seed(seeded);
    } else {
        print_seed(seeded, data_dir, output.shows_passwords());
    }
}

fn log_seed(seeded: &seed::Seeded) {
    if seeded.is_empty() {
        tracing::info!(
            admin_phone = seed::DEMO_ADMIN_PHONE,
            "demo data already present"
        );
        return;
    }
    if let Some(file) = &seeded.logins_file {
        tracing::info!(logins = seeded.logins.len(), file = %file.display(),
            "demo logins created; their passwords are in this file only");
    }
    for (what, file) in &seeded.posters {
        tracing::info!(poster = %what, file = %file.display(), "demo poster written");
    }
    tracing::info!(
        logins = seeded.logins.len(),
        posters = seeded.posters.len(),
        programs = seeded.programs,
        riders = seeded.riders,
        cases = seeded.cases,
        grant_applications = seeded.grant_applications,
        "demo data loaded"
    );
}

fn print_seed(seeded: &seed::Seeded, data_dir: &Path, passwords: bool) {
    let file = data_dir.join(seed::LOGINS_FILE);
    if seeded.is_empty() {
        println!(
            "demo data already present (admin phone {}; demo logins in {})",
            seed::DEMO_ADMIN_PHONE,
            file.display()
        );
        return;
    }
    println!("demo data loaded.");
    if passwords && !seeded.logins.is_empty() {
        println!(
            "Logins (kept in {}; the database has only their hashes):",
            file.display()
        );
        for login in &seeded.logins {
            println!("  {}", login.line());
        }
    } else if !seeded.logins.is_empty() {
        println!(
            "{} login(s) created; their passwords are in {} (not printed: this output is not a terminal)",
            seeded.logins.len(),
            file.display()
        );
    }
    if seeded.programs > 0 {
        println!(
            "{} benefit program(s) published for members who join with the 玄武 poster",
            seeded.programs
        );
    }
    if seeded.cases > 0 {
        println!(
            "{} dispute case(s) filed by demo riders (console: 维权案件)",
            seeded.cases
        );
    }
    if seeded.grant_applications > 0 {
        println!(
            "{} hardship-grant application(s) in every state, paid ones included (console: 困难帮扶)",
            seeded.grant_applications
        );
    }
    if !seeded.posters.is_empty() {
        println!("posters (scan them with a phone):");
        for (what, file) in &seeded.posters {
            println!("  {what}\n    {}", file.display());
        }
    }
}
