//! The keystile binary: serves the dashboard and the gateway, and manages users' credentials.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use limiter::SystemClock;
use services::accounts::Role;

use server::operators;
use server::settings::{self, Settings};
use server::startup::Application;

// The gateway allocates a little per request on every worker thread; mimalloc's per-thread
// pages made the gateway load test 10–15 % faster than glibc's allocator, p99 included.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "keystile", version, about = "API keys, rate limits and quotas, with a customer dashboard.")]
#[command(after_help = settings::ENVIRONMENT_HELP)]
struct Cli {
    /// A TOML settings file; environment variables override it.
    #[arg(long, global = true, env = "KEYSTILE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard and the gateway (the default).
    Serve,
    /// Create an operator user; the password is read from standard input or a prompt, never
    /// from the command line.
    CreateOperator {
        #[arg(long)]
        email: String,
        /// admin (changes plans and limits) or support (views accounts read-only)
        #[arg(long, value_parser = ["admin", "support"])]
        role: String,
    },
    /// Set a user's password (customer or operator) for someone locked out; the password is
    /// read as for create-operator. Every session of the user ends.
    SetPassword {
        #[arg(long)]
        email: String,
    },
}

fn main() -> anyhow::Result<()> {
    // At least four workers even on small machines: with a single worker, Leptos's SSR can
    // leave a resource future that never resumes and the page never finishes
    // (leptos-rs/leptos#4647); it was seen here with one-thread test runtimes.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.max(4))
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    // tower-sessions warns of "suspicious activity" whenever a cookie names a session that is
    // gone; here that is ordinary (a request sent just before its id was replaced, or a browser
    // whose session was ended elsewhere: see `sessions::session_cookie_only_on_change`).
    let default_filter = "info,sqlx=warn,tower_sessions_core=error";
    tracing_subscriber::fmt()
        // Colours for a terminal only: a log file or journald gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into()),
        )
        .init();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::CreateOperator { email, role } => {
            let role = Role::parse(&role).unwrap_or(Role::Support);
            operators::create_operator(&settings, &email, role).await
        }
        Command::SetPassword { email } => operators::set_password(&settings, &email).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(&settings, Arc::new(SystemClock)).await?;
    if settings.demo {
        server::demo::start(app.services(), app.local_addr()).await?;
    }
    println!("keystile is serving at http://{}", app.local_addr());
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
