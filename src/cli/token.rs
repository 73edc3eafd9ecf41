//! `cloudcensus token …`.
use sea_orm::DatabaseConnection;

use super::{CliError, TokenCommand};
use crate::catalog::hex;
use crate::catalog::tokens::{self, NewToken};

pub async fn run(cmd: TokenCommand, conn: &DatabaseConnection) -> Result<(), CliError> {
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
