//! Which credentials a sync logs in with, and the session it opens with them.
use crate::catalog::Catalog;
use crate::catalog::clouds::Cloud;
use crate::catalog::credentials::Credentials;
use crate::catalog::inventory::SyncTarget;
use crate::openstack::TlsConfig;
use crate::openstack::keystone::{AppCredentialRef, AuthMethod, ProjectScope};
use crate::openstack::{Session, SessionConfig, SessionSettings};

use super::error::Error;

/// A session with `cloud` (its Keystone, region and interface) over `tls` (see [`tls`])
/// logging in with `auth`: every session a sync or a check opens is made here.
pub fn session(
    cloud: &Cloud,
    auth: AuthMethod,
    settings: &SessionSettings,
    tls: TlsConfig,
) -> Result<Session, Error> {
    Ok(Session::new(SessionConfig {
        auth_url: cloud.auth_url.clone(),
        interface: cloud.interface.as_str().to_string(),
        region: cloud.region.clone(),
        auth,
        settings: settings.clone(),
        tls,
    })?)
}

/// The tenant's own credentials when it has them, else the cloud's scoped to this project.
/// (An application credential is bound to its own project, so it is used as it is.)
pub fn auth_method(target: &SyncTarget) -> Result<AuthMethod, Error> {
    let credentials = match &target.credentials {
        Ok(Some(c)) => c.clone(),
        Ok(None) => return Err(Error::NoCredentials),
        Err(e) => return Err(Error::Crypto(e.clone())),
    };
    let project = ProjectScope::Id(target.tenant.backend_id.clone());
    method(&target.cloud, credentials, project)
}

/// The cloud's own credentials, for a listing of the whole cloud: scoped to the project they
/// name, else to `fallback_project` (any project: the admin role is what counts).
pub fn cloud_auth_method(
    cloud: &Cloud,
    credentials: Credentials,
    fallback_project: &str,
) -> Result<AuthMethod, Error> {
    let project = match &credentials {
        Credentials::Password {
            project_id: Some(id),
            ..
        } => ProjectScope::Id(id.clone()),
        Credentials::Password {
            project_name: Some(name),
            ..
        } => ProjectScope::Name {
            name: name.clone(),
            domain: cloud.domain.clone(),
        },
        _ => ProjectScope::Id(fallback_project.to_string()),
    };
    method(cloud, credentials, project)
}

/// How a sync reaches the cloud over TLS (its client key opened). Verification turned off is
/// said at every sync, so it is not forgotten.
pub fn tls(catalog: &Catalog, cloud: &Cloud) -> Result<TlsConfig, Error> {
    let tls = catalog.clouds().tls(cloud)?;
    if !tls.verify {
        tracing::warn!(cloud = %cloud.name,
            "TLS verification is off for this cloud (options.verify: false): its certificates are not checked");
    }
    Ok(tls)
}

fn method(
    cloud: &Cloud,
    credentials: Credentials,
    project: ProjectScope,
) -> Result<AuthMethod, Error> {
    Ok(match credentials {
        Credentials::Password {
            username, password, ..
        } => AuthMethod::Password {
            username,
            password,
            user_domain: cloud.domain.clone(),
            project,
        },
        Credentials::ApplicationCredential {
            id,
            name,
            user,
            secret,
        } => {
            let credential = match (id, name, user) {
                (Some(id), _, _) => AppCredentialRef::Id(id),
                (None, Some(name), Some(user)) => AppCredentialRef::Name {
                    name,
                    user,
                    user_domain: cloud.domain.clone(),
                },
                _ => return Err(Error::NoCredentials),
            };
            AuthMethod::ApplicationCredential { credential, secret }
        }
    })
}
