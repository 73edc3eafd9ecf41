//! `cloudcensus clouds check NAME|UUID`: the connection check of a registered cloud, told in
//! words (see [`crate::sync::check`]).
use std::time::Duration;

use uuid::Uuid;

use super::super::CliError;
use crate::catalog::{Catalog, parse_uuid};
use crate::openstack::SessionSettings;
use crate::openstack::check::Probe;
use crate::sync::admin::{ModeReason, SweepMode};
use crate::sync::check::{CloudCheck, check_cloud};

/// Why a check could not say the cloud works.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("no cloud is named {name:?}; the clouds are: {known}")]
    Unknown { name: String, known: String },
    #[error("{count} clouds are named {name:?}: give the uuid of one ({uuids})")]
    Ambiguous {
        name: String,
        count: usize,
        uuids: String,
    },
    #[error("cloud {0:?} failed its check (see above)")]
    Failed(String),
}

/// Checks the cloud named or identified by `key`, prints what was found, and fails when
/// syncs of it cannot work as configured.
pub async fn run(catalog: &Catalog, settings: &SessionSettings, key: &str) -> Result<(), CliError> {
    let uuid = resolve(catalog, key).await?;
    let checked = check_cloud(catalog, settings, uuid).await?;
    print!("{}", report(&checked));
    if checked.ok() {
        Ok(())
    } else {
        Err(CheckError::Failed(checked.cloud.name).into())
    }
}

/// The uuid of the cloud `key` names: a uuid, or an exact name that only one cloud has.
async fn resolve(catalog: &Catalog, key: &str) -> Result<Uuid, CliError> {
    let clouds = catalog.clouds();
    if let Some(uuid) = parse_uuid(key)
        && clouds.find(uuid).await?.is_some()
    {
        return Ok(uuid);
    }
    let named = clouds.named(key).await?;
    match named.as_slice() {
        [one] => Ok(one.uuid),
        [] => {
            let known = clouds.names_like("").await?;
            let known = if known.is_empty() {
                "none (register one with the API or `clouds import`)".to_string()
            } else {
                known.join(", ")
            };
            Err(CheckError::Unknown {
                name: key.to_string(),
                known,
            }
            .into())
        }
        many => Err(CheckError::Ambiguous {
            name: key.to_string(),
            count: many.len(),
            uuids: many
                .iter()
                .map(|c| c.uuid.simple().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Where the text of a part's line starts (see [`line`]).
const INDENT: &str = "                           ";

/// The check in words: one line per part, `ok`, `FAIL` (syncs need it) or `warn`.
pub fn report(c: &CloudCheck) -> String {
    let cloud = &c.cloud;
    let mut out = format!(
        "Cloud {:?} ({})\n{INDENT}auth_url {}, region {}, interface {}\n",
        cloud.name,
        cloud.uuid.simple(),
        cloud.auth_url,
        if cloud.region.is_empty() {
            "(any)"
        } else {
            &cloud.region
        },
        cloud.interface.as_str()
    );
    let login_latency = c.login_latency.map(ms).unwrap_or_default();
    match &c.login {
        Ok(scope) => {
            let whose = c.login_name.as_ref().map(|n| n.to_string());
            out += &line("login", "ok", &login_latency, &whose.unwrap_or_default());
            let project = match (&scope.project_name, &scope.project_id) {
                (Some(name), Some(id)) => format!("project {name:?} (id {id}"),
                (None, Some(id)) => format!("project id {id} ("),
                _ => "no project (".to_string(),
            };
            let domain = scope
                .project_domain
                .as_deref()
                .map(|d| format!(", domain {d}"))
                .unwrap_or_default();
            out += &format!(
                "{INDENT}{project}{domain}), roles: {}{}\n",
                if scope.roles.is_empty() {
                    "none".to_string()
                } else {
                    scope.roles.join(", ")
                },
                if scope.admin {
                    " (admin)"
                } else {
                    " (not admin)"
                }
            );
        }
        Err(e) => out += &line("login", "FAIL", &login_latency, &e.to_string()),
    }
    let mode = &c.mode;
    let verdict = if mode.problem.is_some() { "FAIL" } else { "ok" };
    // The login's failure is on the line above; the detail would repeat it.
    let detail = match (mode.reason, mode.mode) {
        (ModeReason::LoginFailed, SweepMode::PerTenant) => {
            "the cloud's own login failed (see above): each tenant is listed through its own login, and sweeps mark the cloud ERRED"
        }
        _ => &mode.detail,
    };
    out += &line(
        "sync mode",
        verdict,
        "",
        &format!(
            "{} -> {} ({}): {detail}",
            cloud.sync_mode.as_str(),
            mode.mode.as_str(),
            mode.reason.as_str(),
        ),
    );
    for probe in &c.probes {
        out += &service_line(probe);
    }
    out += if c.ok() {
        "OK: syncs of this cloud can work as configured.\n"
    } else {
        "FAILED: syncs of this cloud cannot work as configured; fix what is marked FAIL.\n"
    };
    out
}

fn service_line(probe: &Probe) -> String {
    let latency = probe.latency.map(ms).unwrap_or_default();
    match &probe.result {
        Ok(()) => line(
            probe.service.kind(),
            "ok",
            &latency,
            &format!("GET {}", probe.request.as_deref().unwrap_or_default()),
        ),
        Err(e) => {
            let verdict = if CloudCheck::essential(probe) {
                "FAIL"
            } else {
                "warn"
            };
            let mut what = e.to_string();
            if let Some(then) = CloudCheck::consequence(probe) {
                what = format!("{what}: {then}");
            }
            if let Some(request) = &probe.request {
                what = format!("GET {request}: {what}");
            }
            line(probe.service.kind(), verdict, &latency, &what)
        }
    }
}

fn line(part: &str, verdict: &str, latency: &str, what: &str) -> String {
    format!("{part:<10} {verdict:<4} {latency:>9}  {what}\n")
}
