//! `cloudcensus token …`.
use super::{CliError, TokenCommand};
use crate::catalog::tokens::{NewToken, TokenRef};
use crate::catalog::{Catalog, hex};

pub async fn run(cmd: TokenCommand, catalog: &Catalog) -> Result<(), CliError> {
    match cmd {
        TokenCommand::Create(c) => {
            let ids = catalog.tenants().ids_of(&c.tenant).await?;
            if let Some(missing) = c.tenant.iter().find(|u| !ids.contains_key(u)) {
                return Err(CliError::Invalid(format!(
                    "tenant {} does not exist",
                    hex(missing)
                )));
            }
            let (view, secret) = catalog
                .tokens()
                .create(NewToken {
                    name: c.name.trim().to_string(),
                    is_staff: c.staff,
                    tenants: ids.into_values().collect(),
                    expires_in_days: c.expires_in_days,
                })
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
            for v in catalog.tokens().list().await? {
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
            let t = catalog.tokens().revoke(&TokenRef::Key(key)).await?;
            println!("Revoked token {:?} ({}).", t.name, hex(&t.uuid));
        }
    }
    Ok(())
}
