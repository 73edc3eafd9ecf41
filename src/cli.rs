//! The command line: `serve` (default), `migrate`, `openapi`, `token …`.
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::api::{self, AppState};
use crate::catalog::tokens::{self, NewToken};
use crate::catalog::{hex, parse_uuid};
use crate::config::{Config, public_url_for};
use crate::crypto::SecretBox;
use crate::{db, server};

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
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
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
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    App(#[from] crate::error::AppError),
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
}

async fn open_db(cfg: &Config) -> Result<DatabaseConnection, CliError> {
    let conn = db::connect(&cfg.database_url).await?;
    db::migrate(&conn).await?;
    Ok(conn)
}

pub async fn run(cli: Cli, cfg: Config) -> Result<(), CliError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cfg).await,
        Command::Migrate => {
            open_db(&cfg).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Openapi => {
            println!("{}", spec());
            Ok(())
        }
        Command::Token(cmd) => token(cmd, &open_db(&cfg).await?).await,
    }
}

/// The OpenAPI document; it does not depend on configuration.
pub fn spec() -> String {
    api::spec_json(Arc::new(AppState {
        db: DatabaseConnection::default(),
        secret_box: SecretBox::ephemeral(),
        public_url: String::new(),
    }))
}

async fn serve(cfg: Config) -> Result<(), CliError> {
    let secret_box = SecretBox::from_passphrase(
        cfg.secret_key
            .as_deref()
            .ok_or(CliError::MissingSecretKey)?,
    )?;
    let conn = open_db(&cfg).await?;
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
    tracing::info!(addr = %bound.addr, %public_url, "serving");
    let state = Arc::new(AppState {
        db: conn,
        secret_box,
        public_url,
    });
    server::run(bound, state, server::shutdown_signal())
        .await
        .map_err(CliError::Serve)
}

async fn token(cmd: TokenCommand, conn: &DatabaseConnection) -> Result<(), CliError> {
    match cmd {
        TokenCommand::Create(c) => {
            let (view, secret) = tokens::create(
                conn,
                NewToken {
                    name: c.name,
                    is_staff: c.staff,
                    tenants: c.tenant,
                    expires_in_days: c.expires_in_days,
                },
            )
            .await?;
            let scope = if view.token.is_staff {
                "staff".to_string()
            } else {
                format!(
                    "tenants {}",
                    view.tenant_uuids
                        .iter()
                        .map(hex)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            };
            println!(
                "Created token {:?} ({scope}). Store it now; it cannot be shown again:",
                view.token.name
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            println!(
                "{:<32}  {:<24}  {:<8}  {:<25}  EXPIRES",
                "UUID", "NAME", "SCOPE", "LAST USED"
            );
            for v in tokens::list(conn).await? {
                let scope = if v.token.is_staff {
                    "staff".to_string()
                } else {
                    format!("{} tenants", v.tenant_uuids.len())
                };
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into())
                };
                println!(
                    "{:<32}  {:<24}  {:<8}  {:<25}  {}",
                    hex(&v.token.uuid),
                    v.token.name,
                    scope,
                    when(v.token.last_used_at),
                    when(v.token.expires_at)
                );
            }
        }
        TokenCommand::Revoke { key } => {
            let t = tokens::revoke(conn, &key).await?;
            println!("Revoked token {:?} ({}).", t.name, hex(&t.uuid));
        }
    }
    Ok(())
}
