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
use crate::openstack::{Session, SessionSettings, TlsConfig, projects};

/// How a sweep lists a cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepMode {
    /// Each tenant through its own login.
    PerTenant,
    /// One listing of the whole cloud with its admin credentials, viewed per tenant.
    Cloud,
}

impl SweepMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerTenant => "per_tenant",
            Self::Cloud => "cloud",
        }
    }
}

/// Why a sweep takes its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeReason {
    /// `sync_mode` is `per_tenant` or `cloud`.
    SyncMode,
    /// `auto`, and the cloud's credentials carry the admin role.
    AdminRole,
    /// `auto`, and they do not.
    NoAdminRole,
    /// `auto`, and the cloud's own login failed.
    LoginFailed,
}

impl ModeReason {
    /// The stable name shown as `last_sweep.mode_reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SyncMode => "sync_mode",
            Self::AdminRole => "admin_role",
            Self::NoAdminRole => "no_admin_role",
            Self::LoginFailed => "login_failed",
        }
    }
}

/// The mode `sync_mode` gives a cloud, why, in words, and what is wrong with the cloud
/// when that mode cannot work as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeChoice {
    pub mode: SweepMode,
    pub reason: ModeReason,
    pub detail: String,
    /// The cloud's `error_message` when its own login failed (`auto`: its tenants sync per
    /// tenant meanwhile) or `cloud` mode cannot be had (every tenant's sync fails).
    pub problem: Option<String>,
}

impl ModeChoice {
    /// The mode of `sync_mode` with how the cloud's own login went: `Ok(admin)` when it
    /// worked (or was not tried: `per_tenant`), else why it did not.
    pub fn of(sync_mode: SyncMode, login: Result<bool, &Error>) -> Self {
        let failed = match login {
            Ok(true) => None,
            Ok(false) | Err(Error::NotAdmin { .. }) => Some(None),
            Err(e) => Some(Some(e.to_string())),
        };
        let (mode, reason, detail, problem) = match (sync_mode, failed) {
            (SyncMode::PerTenant, _) => (
                SweepMode::PerTenant,
                ModeReason::SyncMode,
                "sync_mode is per_tenant: each tenant is listed through its own login".into(),
                None,
            ),
            (SyncMode::Cloud, None) => (
                SweepMode::Cloud,
                ModeReason::SyncMode,
                "sync_mode is cloud: one listing of the whole cloud with its admin credentials"
                    .into(),
                None,
            ),
            (SyncMode::Cloud, Some(why)) => {
                let why = why.unwrap_or_else(|| {
                    Error::NotAdmin {
                        whose: Whose::Cloud,
                    }
                    .to_string()
                });
                (
                    SweepMode::Cloud,
                    ModeReason::SyncMode,
                    format!("sync_mode is cloud, but every tenant's sync fails: {why}"),
                    Some(format!("cloud mode: {why}")),
                )
            }
            (SyncMode::Auto, None) => (
                SweepMode::Cloud,
                ModeReason::AdminRole,
                "sync_mode is auto and the cloud's credentials carry the admin role: one \
                 listing of the whole cloud"
                    .into(),
                None,
            ),
            (SyncMode::Auto, Some(None)) => (
                SweepMode::PerTenant,
                ModeReason::NoAdminRole,
                "sync_mode is auto and the cloud's credentials lack the admin role: each \
                 tenant is listed through its own login"
                    .into(),
                None,
            ),
            (SyncMode::Auto, Some(Some(why))) => (
                SweepMode::PerTenant,
                ModeReason::LoginFailed,
                format!(
                    "sync_mode is auto and the cloud's own login failed, so each tenant is \
                     listed through its own login: {why}"
                ),
                Some(format!(
                    "the cloud's own login failed (its tenants sync per tenant meanwhile): {why}"
                )),
            ),
        };
        Self {
            mode,
            reason,
            detail,
            problem,
        }
    }
}

/// How a sweep lists a cloud: the mode chosen, and for cloud mode the session to list it
/// with (or why there is none, which every tenant's run then records).
pub struct CloudLogin {
    pub choice: ModeChoice,
    pub session: Option<Result<Session, Error>>,
}

/// Logs in with the cloud's own credentials when its `sync_mode` may list it whole (scoped
/// to the project they name, else to `first_tenant`'s), and chooses the sweep's mode. `Err`
/// only when the catalog cannot be read.
pub async fn cloud_session(
    runner: &Runner,
    cloud: CloudId,
    first_tenant: TenantId,
    tally: &RequestTally,
) -> Result<CloudLogin, Error> {
    let (cloud, credentials) = runner.catalog.clouds().with_credentials(cloud).await?;
    if cloud.sync_mode == SyncMode::PerTenant {
        return Ok(CloudLogin {
            choice: ModeChoice::of(SyncMode::PerTenant, Ok(false)),
            session: None,
        });
    }
    let first = runner.catalog.inventory().target(first_tenant).await?;
    let login = admin_login(
        runner,
        &cloud,
        credentials,
        Some(&first.tenant.backend_id),
        tally,
    )
    .await;
    let choice = ModeChoice::of(cloud.sync_mode, login.as_ref().map(|_| true));
    let session = match (choice.mode, login) {
        (SweepMode::PerTenant, Err(why)) => {
            tracing::debug!(cloud = %cloud.name, error = %why, "no admin login: syncing per tenant");
            None
        }
        (SweepMode::PerTenant, Ok(_)) => None,
        (SweepMode::Cloud, Ok(session)) => Some(Ok(session)),
        (SweepMode::Cloud, Err(why)) => Some(Err(Error::CloudMode(Box::new(why)))),
    };
    Ok(CloudLogin { choice, session })
}

/// A session that logs in with the cloud's own credentials (not logged in yet), scoped to the
/// project they name, else to `fallback_project`.
pub fn cloud_login_session(
    cloud: &Cloud,
    credentials: Option<Credentials>,
    fallback_project: Option<&str>,
    settings: &SessionSettings,
    tls: TlsConfig,
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
    credentials::session(cloud, auth, settings, tls)
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
    let session = cloud_login_session(
        cloud,
        credentials,
        fallback_project,
        &runner.settings.session,
        credentials::tls(&runner.catalog, cloud)?,
    )?;
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
    let session = credentials::session(cloud, auth, &settings, tls)?;
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
