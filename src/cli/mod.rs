//! The command line: `serve` (default), `migrate`, `openapi`, `sync`, `demo`, `token …`,
//! `clouds import`, `clouds check`.
mod clouds;
mod demo;
mod sync;
mod token;

use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::api::{self, AppState};
use crate::catalog::{Catalog, CatalogError, parse_uuid};
use crate::config::{Config, public_url_for};
use crate::crypto::SecretBox;
use crate::server;
use crate::sync::{SyncEngine, SyncSettings};

#[derive(Parser, Debug)]
#[command(
    name = "cloudcensus",
    version,
    about = "A census of OpenStack images across clouds and tenants"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Sync all tenants (or the given ones) once, in the foreground, and exit.
    Sync {
        /// Only this tenant (uuid); repeat for several.
        #[arg(long = "tenant", value_parser = parse_tenant_uuid)]
        tenant: Vec<Uuid>,
    },
    /// Start simulated OpenStack clouds with demo data, register and sync them, and serve.
    /// The demo keeps its own database (a temporary one unless given): never `serve`'s.
    Demo {
        /// The demo's database; by default a temporary SQLite file, removed at exit.
        #[arg(long, env = "CLOUDCENSUS_DEMO_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Register clouds from OpenStack's clouds.yaml; check a cloud's connection.
    #[command(subcommand)]
    Clouds(clouds::CloudsCommand),
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token; its secret is printed alone on the last line.
    Create(CreateToken),
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by name, uuid or numeric id.
    Revoke { key: String },
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("scope").required(true).args(["staff", "tenant"]))]
pub struct CreateToken {
    #[arg(long)]
    pub name: String,
    /// A staff token: sees everything and may use the management API.
    #[arg(long)]
    pub staff: bool,
    /// Scope the token to a tenant (uuid); repeat for several.
    #[arg(long = "tenant", value_parser = parse_tenant_uuid, num_args = 1..)]
    pub tenant: Vec<Uuid>,
    #[arg(long)]
    pub expires_in_days: Option<i64>,
}

fn parse_tenant_uuid(raw: &str) -> Result<Uuid, String> {
    parse_uuid(raw).ok_or_else(|| format!("{raw:?} is not a uuid"))
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error(
        "CLOUDCENSUS_SECRET_KEY is not set. It encrypts stored cloud credentials: set it to a long random string (for example the output of `openssl rand -hex 32`) in the environment or in .env"
    )]
    MissingSecretKey,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("sync schedule: {0}")]
    Schedule(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error("{0} tenant(s) failed to sync")]
    SyncFailed(usize),
    #[error("demo: {0}")]
    Demo(String),
    #[error(transparent)]
    Import(#[from] clouds::ImportError),
    #[error(transparent)]
    Check(#[from] clouds::CheckError),
}

fn secret_box(cfg: &Config) -> Result<SecretBox, CliError> {
    Ok(SecretBox::from_passphrase(
        cfg.secret_key
            .as_deref()
            .ok_or(CliError::MissingSecretKey)?,
    )?)
}

/// Sync settings from the configuration.
pub fn sync_settings(cfg: &Config) -> SyncSettings {
    let mut s = SyncSettings::new(&cfg.sync_cron, cfg.sync_concurrency);
    s.session.timeout = std::time::Duration::from_secs(cfg.http_timeout_secs);
    s.threads = cfg.sync_threads;
    s.lease_ttl = std::time::Duration::from_secs(cfg.sync_lease_secs);
    s.delta_cron = cfg.delta_cron.clone();
    s.usage_retention = cfg
        .usage_retention_days
        .and_then(|d| chrono::Duration::try_days(d as i64));
    s
}

/// Runs the API (and the sync schedule) until SIGTERM or Ctrl-C.
pub async fn serve_with(
    bound: server::Bound,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), CliError> {
    let engine = state.sync.clone();
    engine.start_schedule().await?;
    let result = server::run(bound, state, shutdown)
        .await
        .map_err(CliError::Serve);
    engine.shutdown(SHUTDOWN_GRACE).await;
    result
}

/// How long running syncs may take to finish (or abort) at shutdown.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// The catalog of the configured database, migrated. `secrets` seals stored credentials.
async fn open_catalog(cfg: &Config, secrets: SecretBox) -> Result<Catalog, CliError> {
    Ok(Catalog::open(&cfg.database_url, secrets, cfg.read_index).await?)
}

/// A catalog for commands that never touch stored credentials (no secret key needed).
async fn open_catalog_without_secrets(cfg: &Config) -> Result<Catalog, CliError> {
    open_catalog(cfg, SecretBox::ephemeral()).await
}

pub async fn run(cli: Cli, cfg: Config) -> Result<(), CliError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cfg).await,
        Command::Migrate => {
            open_catalog_without_secrets(&cfg).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Openapi => {
            println!("{}", spec());
            Ok(())
        }
        Command::Token(cmd) => token::run(cmd, &open_catalog_without_secrets(&cfg).await?).await,
        Command::Sync { tenant } => sync::run(&cfg, &tenant).await,
        Command::Demo { database_url } => demo::run(cfg, database_url).await,
        Command::Clouds(cmd) => clouds::run(cmd, &cfg).await,
    }
}

/// The OpenAPI document; it does not depend on configuration.
pub fn spec() -> String {
    api::spec_json()
}

/// Binds the listener; the public URL is the configured one or derived from the bound address.
pub(crate) async fn bind_public(cfg: &Config) -> Result<(server::Bound, String), CliError> {
    let bound = server::bind(cfg.bind)
        .await
        .map_err(|source| CliError::Bind {
            addr: cfg.bind,
            source,
        })?;
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| public_url_for(bound.addr));
    Ok((bound, public_url))
}

async fn serve(cfg: Config) -> Result<(), CliError> {
    let catalog = open_catalog(&cfg, secret_box(&cfg)?).await?;
    demo::warn_of_leftovers(&catalog).await;
    let (bound, public_url) = bind_public(&cfg).await?;
    tracing::info!(addr = %bound.addr, %public_url, "serving");
    let mut settings = sync_settings(&cfg);
    settings.holder = Some(stable_holder(bound.addr));
    let engine = SyncEngine::new(catalog.clone(), settings);
    let state = Arc::new(AppState {
        catalog,
        public_url,
        sync: engine.clone(),
        limits: crate::api::guard::Limits {
            max_body_bytes: cfg.max_body_bytes,
        },
        metrics_token: cfg.metrics_token.clone(),
    });
    serve_with(bound, state, server::shutdown_signal()).await
}

/// `serve`'s id in tenant leases: its host and port. Two live servers never share it, and a
/// server restarted after a crash gets its old one back, so it frees its old claims at once
/// instead of waiting for them to expire.
fn stable_holder(addr: std::net::SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("serve@{host}:{}", addr.port())
}
