use clap::Parser;
use cloudcensus::cli::{self, Cli};
use cloudcensus::config::Config;
use tracing_subscriber::EnvFilter;

// The API allocates many small short-lived objects per request (rows, JSON); glibc's malloc
// spent a fifth of the catalog benchmark's CPU time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cloudcensus::install_crypto_provider();
    let _ = dotenvy::dotenv();
    if let Err(e) = init_logging() {
        eprintln!("error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    let result = match Config::from_env() {
        Ok(cfg) => cli::run(cli, cfg).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, as text (default) or one JSON object per line
/// (`CLOUDCENSUS_LOG_FORMAT=json`), filtered by `RUST_LOG`.
fn init_logging() -> Result<(), String> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            "info,sqlx=warn,sea_orm_migration=warn,tokio_cron_scheduler=warn,poem::server=warn",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Sync and apply phases are debug spans: their close events carry the timings.
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE);
    let format = std::env::var("CLOUDCENSUS_LOG_FORMAT").unwrap_or_default();
    match format.trim().to_ascii_lowercase().as_str() {
        "" | "text" => builder.init(),
        "json" => builder.json().flatten_event(true).init(),
        _ => {
            return Err(format!(
                "CLOUDCENSUS_LOG_FORMAT must be `text` or `json`, not {format:?}"
            ));
        }
    }
    Ok(())
}
