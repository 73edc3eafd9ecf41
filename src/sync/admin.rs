//! Logins with a cloud's own credentials: the admin session a whole-cloud listing and tenant
//! discovery need, and discovery itself (a cloud's tenants brought in line with its Keystone
//! projects).
use super::context::RequestTally;
use super::credentials;
use super::error::{Error, Whose};
use super::run::Runner;
use crate::catalog::clouds::Cloud;
use crate::catalog::credentials::Credentials;
use crate::catalog::discovery::SeenProject;
use crate::catalog::{CloudId, SyncMode, TenantId};
use crate::openstack::{Session, SessionConfig, projects};

/// A session listing the whole cloud when cloud mode applies to it: `Ok(None)` for per
/// tenant mode (chosen, or `auto` without admin credentials), `Err` when cloud mode is
/// asked for and cannot be had.
pub async fn cloud_session(
    runner: &Runner,
    cloud: CloudId,
    first_tenant: TenantId,
    tally: &RequestTally,
) -> Result<Option<Session>, Error> {
    let (cloud, credentials) = runner.catalog.clouds().with_credentials(cloud).await?;
    let forced = match cloud.sync_mode {
        SyncMode::PerTenant => return Ok(None),
        SyncMode::Cloud => true,
        SyncMode::Auto => false,
    };
    let first = runner.catalog.inventory().target(first_tenant).await?;
    let login = admin_login(
        runner,
        &cloud,
        credentials,
        Some(&first.tenant.backend_id),
        tally,
    )
    .await;
    match login {
        Ok(session) => Ok(Some(session)),
        Err(why) if forced => Err(Error::CloudMode(Box::new(why))),
        Err(why) => {
            tracing::debug!(cloud = %cloud.name, error = %why, "no admin login: syncing per tenant");
            Ok(None)
        }
    }
}

/// A session logged in with the cloud's own credentials that carries the admin role,
/// scoped to the project they name, else to `fallback_project`. A refusal's requests go
/// to `tally` (a session handed out adds its own when it is done).
pub async fn admin_login(
    runner: &Runner,
    cloud: &Cloud,
    credentials: Option<Credentials>,
    fallback_project: Option<&str>,
    tally: &RequestTally,
) -> Result<Session, Error> {
    let credentials = credentials.ok_or(Error::NoCloudCredentials)?;
    let names_project = match &credentials {
        Credentials::Password {
            project_id,
            project_name,
            ..
        } => project_id.is_some() || project_name.is_some(),
        Credentials::ApplicationCredential { .. } => true,
    };
    let fallback = match fallback_project {
        Some(p) => p,
        None if names_project => "",
        None => return Err(Error::NoProjectToScope),
    };
    let auth = credentials::cloud_auth_method(cloud, credentials, fallback)?;
    let session = Session::new(SessionConfig {
        auth_url: cloud.auth_url.clone(),
        interface: cloud.interface.as_str().to_string(),
        region: cloud.region.clone(),
        auth,
        settings: runner.settings.session.clone(),
        tls: credentials::tls(&runner.catalog, cloud)?,
    })?;
    let admin = async {
        session.login().await?;
        Ok::<_, crate::openstack::OpenStackError>(session.scope().await?.admin)
    }
    .await;
    let refused = match admin {
        Ok(true) => return Ok(session),
        Ok(false) => Error::NotAdmin {
            whose: Whose::Cloud,
        },
        Err(e) => Error::from(e).with_whose(Whose::Cloud),
    };
    tally.add(&session.requests());
    Err(refused)
}

/// Brings the cloud's tenants in line with its Keystone projects when it asks for that
/// (`discover_tenants`); `Ok(false)` when it does not.
pub async fn discover(
    runner: &Runner,
    cloud: CloudId,
    tally: &RequestTally,
) -> Result<bool, Error> {
    let catalog = &runner.catalog;
    let (cloud, credentials) = catalog.clouds().with_credentials(cloud).await?;
    if !cloud.discover_tenants {
        return Ok(false);
    }
    let live = catalog.tenants().live_of(cloud.id).await?;
    let first = live.first().map(|(_, project)| project.as_str());
    let session = admin_login(runner, &cloud, credentials, first, tally).await?;
    // Keystone's default domain has the id `default`; another domain is known here by
    // name only, and its projects are not narrowed by domain (tags can narrow them).
    let domain = (cloud.domain.is_empty() || cloud.domain.eq_ignore_ascii_case("default"))
        .then_some("default");
    let tags = project_tags(&cloud);
    let listed = projects::list_projects(&session, domain, &tags).await;
    tally.add(&session.requests());
    let seen: Vec<SeenProject> = listed?
        .into_iter()
        .map(|p| SeenProject {
            id: p.id,
            name: p.name,
            enabled: p.enabled,
        })
        .collect();
    let done = catalog.discovery().reconcile(cloud.id, &seen).await?;
    tracing::info!(cloud = %cloud.name, projects = seen.len(), created = done.created,
        renamed = done.renamed, retired = done.retired, restored = done.restored, "tenants discovered");
    Ok(true)
}

/// The cloud's `project_tags` (validated when stored; unreadable ones narrow nothing).
fn project_tags(cloud: &Cloud) -> Vec<String> {
    serde_json::from_value(cloud.project_tags.clone()).unwrap_or_else(|e| {
        tracing::warn!(cloud = %cloud.name, error = %e, "unreadable project_tags; not narrowing discovery");
        Vec::new()
    })
}

/// The project a login lands in: its id and (when Keystone tells it) its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedInProject {
    pub id: String,
    pub name: Option<String>,
}

/// Logs in to `cloud`'s Keystone with `auth` and tells the project of the token: how
/// `clouds import` learns the id of a project named only by name, and the project of an
/// application credential. `settings` are the session's timeouts and retries, `tls` how it
/// reaches the cloud.
pub async fn login_project(
    cloud: &Cloud,
    auth: crate::openstack::keystone::AuthMethod,
    settings: crate::openstack::SessionSettings,
    tls: crate::openstack::TlsConfig,
) -> Result<LoggedInProject, Error> {
    let session = Session::new(SessionConfig {
        auth_url: cloud.auth_url.clone(),
        interface: cloud.interface.as_str().to_string(),
        region: cloud.region.clone(),
        auth,
        settings,
        tls,
    })?;
    let scope = session
        .scope()
        .await
        .map_err(|e| Error::from(e).with_whose(Whose::Cloud))?;
    let id = scope.project_id.ok_or_else(|| {
        Error::from(crate::openstack::OpenStackError::MalformedBody {
            service: crate::openstack::error::Service::Keystone,
            detail: "the token is scoped to no project".into(),
        })
    })?;
    Ok(LoggedInProject {
        id,
        name: scope.project_name,
    })
}
