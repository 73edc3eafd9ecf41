//! The answer of `POST /api/service-settings/{uuid}/check/`: what checking a cloud's
//! connection found, every failure a field with its message (the check itself answers 200).
use std::time::Duration;

use poem_openapi::Object;

use super::AppState;
use crate::catalog::hex;
use crate::openstack::check::Probe;
use crate::sync::check::CloudCheck;

#[derive(Object)]
#[oai(rename = "CloudCheck")]
pub struct CloudCheckResponse {
    /// Whether syncs of the cloud can work as configured: the login, the sync mode asked for
    /// and every essential service.
    pub ok: bool,
    pub url: String,
    pub uuid: String,
    pub name: String,
    pub login: LoginCheck,
    pub sync_mode: SyncModeCheck,
    /// Identity, image, compute and volume, in that order; empty when the login failed.
    pub services: Vec<ServiceCheck>,
}

/// The login with the cloud's own credentials, scoped as its sweeps scope them.
#[derive(Object)]
pub struct LoginCheck {
    pub ok: bool,
    /// Why the login failed, naming whose credentials (never the secret); empty when it
    /// worked.
    pub message: String,
    pub auth_url: String,
    /// Whose login: the user, their domain and the project (or the application credential);
    /// empty when no login could be made (no credentials, or the key cannot open them).
    pub credentials: String,
    #[oai(nullable)]
    pub latency_ms: Option<f64>,
    /// The project the token is scoped to.
    #[oai(nullable)]
    pub project: Option<CheckedProject>,
    pub roles: Vec<String>,
    /// Whether the token carries the admin role (what `auto` sync mode goes by).
    pub admin: bool,
}

#[derive(Object)]
pub struct CheckedProject {
    pub id: String,
    #[oai(nullable)]
    pub name: Option<String>,
    /// The project's domain (its name when Keystone tells it, else its id).
    #[oai(nullable)]
    pub domain: Option<String>,
}

/// The mode a sweep of the cloud would take now, and why.
#[derive(Object)]
pub struct SyncModeCheck {
    /// Whether the mode asked for can be had (`cloud` needs the admin role).
    pub ok: bool,
    /// What is wrong, as the cloud's `error_message` would say it; empty when nothing is.
    pub message: String,
    /// The cloud's `sync_mode`: `auto`, `per_tenant` or `cloud`.
    pub sync_mode: String,
    /// `per_tenant` or `cloud`.
    pub mode: String,
    /// `sync_mode`, `admin_role`, `no_admin_role` or `login_failed` (as a sweep records it
    /// in `last_sweep.mode_reason`).
    pub reason: String,
    /// Why, in words.
    pub detail: String,
}

/// One service: its endpoint in the cloud's region and interface, and one small request.
#[derive(Object)]
pub struct ServiceCheck {
    /// `identity`, `image`, `compute` or `volume`.
    pub service: String,
    /// The catalog type the endpoint was found under (Cinder's has had several names).
    pub service_type: String,
    /// Whether syncs fail without it: image always; compute and volume when the catalog
    /// lists them.
    pub essential: bool,
    pub ok: bool,
    /// What failed and what to fix; empty when it answered.
    pub message: String,
    #[oai(nullable)]
    pub endpoint: Option<String>,
    /// The URL of the request (a GET): the identity version document, or a one-item listing.
    #[oai(nullable)]
    pub request: Option<String>,
    #[oai(nullable)]
    pub latency_ms: Option<f64>,
}

/// Milliseconds to a tenth.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn service(probe: &Probe) -> ServiceCheck {
    let message = match &probe.result {
        Ok(()) => String::new(),
        Err(e) => match CloudCheck::consequence(probe) {
            Some(then) => format!("{e}: {then}"),
            None => e.to_string(),
        },
    };
    ServiceCheck {
        service: probe.service.kind().to_string(),
        service_type: probe.service_type.clone(),
        essential: CloudCheck::essential(probe),
        ok: probe.result.is_ok(),
        message,
        endpoint: probe.endpoint.clone(),
        request: probe.request.clone(),
        latency_ms: probe.latency.map(ms),
    }
}

pub fn shape(state: &AppState, c: CloudCheck) -> CloudCheckResponse {
    let ok = c.ok();
    let scope = c.login.as_ref().ok();
    let login = LoginCheck {
        ok: c.login.is_ok(),
        message: c
            .login
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default(),
        auth_url: c.cloud.auth_url.clone(),
        credentials: c.login_name.map(|n| n.to_string()).unwrap_or_default(),
        latency_ms: c.login_latency.map(ms),
        project: scope.and_then(|s| {
            Some(CheckedProject {
                id: s.project_id.clone()?,
                name: s.project_name.clone(),
                domain: s.project_domain.clone(),
            })
        }),
        roles: scope.map(|s| s.roles.clone()).unwrap_or_default(),
        admin: scope.is_some_and(|s| s.admin),
    };
    CloudCheckResponse {
        ok,
        url: state.object_url("service-settings", &c.cloud.uuid),
        uuid: hex(&c.cloud.uuid),
        name: c.cloud.name.clone(),
        login,
        sync_mode: SyncModeCheck {
            ok: c.mode.problem.is_none(),
            message: c.mode.problem.clone().unwrap_or_default(),
            sync_mode: c.cloud.sync_mode.as_str().to_string(),
            mode: c.mode.mode.as_str().to_string(),
            reason: c.mode.reason.as_str().to_string(),
            detail: c.mode.detail.clone(),
        },
        services: c.probes.iter().map(service).collect(),
    }
}
