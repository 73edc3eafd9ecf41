//! A connection check of a registered cloud: the session its sweeps open with its own
//! credentials (scoped as theirs are), checked by [`openstack::check`](crate::openstack::check),
//! and the sync mode its `sync_mode` then gives, and why.
use std::time::Duration;

use uuid::Uuid;

use super::admin::{self, ModeChoice};
use super::error::{Error, Whose};
use crate::catalog::clouds::Cloud;
use crate::catalog::{Catalog, CatalogError};
use crate::openstack::SessionSettings;
use crate::openstack::check::{self, Probe};
use crate::openstack::error::Service;
use crate::openstack::keystone::LoginName;
use crate::openstack::session::TokenScope;

/// What checking a cloud found.
pub struct CloudCheck {
    pub cloud: Cloud,
    /// Whose login was tried (never the secret); `None` when none could be made.
    pub login_name: Option<LoginName>,
    pub login_latency: Option<Duration>,
    /// The token's project and roles, or why there is no token.
    pub login: Result<TokenScope, Error>,
    /// Identity, image, compute, volume; empty when the login failed.
    pub probes: Vec<Probe>,
    /// The mode a sweep of the cloud would take now, and why.
    pub mode: ModeChoice,
}

impl CloudCheck {
    /// Whether syncs need the service: the image service always; compute and volume when
    /// the catalog lists them (a cloud without them is synced without instances or volumes);
    /// the catalog's identity endpoint never (syncs use the configured `auth_url`).
    pub fn essential(probe: &Probe) -> bool {
        match probe.service {
            Service::Glance => true,
            Service::Nova | Service::Cinder => probe.endpoint.is_some(),
            Service::Keystone => false,
        }
    }

    /// What a service without an endpoint means for syncs, said after the failure.
    pub fn consequence(probe: &Probe) -> Option<&'static str> {
        if probe.endpoint.is_some() {
            return None;
        }
        Some(match probe.service {
            Service::Glance => "no image can be synced",
            Service::Nova => "syncs count no instances",
            Service::Cinder => "syncs see no volumes, so no image of a server booted from a volume",
            Service::Keystone => "syncs use the configured auth_url and do not need it",
        })
    }

    /// Whether syncs of the cloud can work as configured: the login, the mode asked for,
    /// and every essential service.
    pub fn ok(&self) -> bool {
        self.login.is_ok()
            && self.mode.problem.is_none()
            && self
                .probes
                .iter()
                .all(|p| p.result.is_ok() || !Self::essential(p))
    }
}

/// Checks the cloud `uuid` with `settings` (made impatient: a person waits for the answer).
/// `Err` only when the catalog cannot tell the cloud (`NotFound` for an unknown one).
pub async fn check_cloud(
    catalog: &Catalog,
    settings: &SessionSettings,
    uuid: Uuid,
) -> Result<CloudCheck, CatalogError> {
    let clouds = catalog.clouds();
    let cloud = clouds.find(uuid).await?.ok_or(CatalogError::NotFound)?;
    // A tenant's project is what a sweep scopes credentials naming none to.
    let first = catalog.tenants().live_of(cloud.id).await?;
    let first = first.first().map(|(_, project)| project.as_str());
    let session = match clouds.stored_credentials(uuid).await {
        Ok(credentials) => super::credentials::tls(catalog, &cloud).and_then(|tls| {
            admin::cloud_login_session(&cloud, credentials, first, &settings.impatient(), tls)
        }),
        Err(CatalogError::Crypto(e)) => Err(Error::Crypto(e)),
        Err(e) => return Err(e),
    };
    let (login_name, login_latency, login, probes) = match session {
        Ok(session) => {
            let checked = check::run(&session).await;
            let login = checked
                .login
                .result
                .map_err(|e| Error::from(e).with_whose(Whose::Cloud));
            (
                Some(session.login_name()),
                Some(checked.login.latency),
                login,
                checked.probes,
            )
        }
        Err(e) => (None, None, Err(e), Vec::new()),
    };
    let mode = ModeChoice::of(cloud.sync_mode, login.as_ref().map(|s| s.admin));
    Ok(CloudCheck {
        cloud,
        login_name,
        login_latency,
        login,
        probes,
        mode,
    })
}
