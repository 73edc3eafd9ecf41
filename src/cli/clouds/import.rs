//! Bringing clouds.yaml entries into the catalog: each entry is compared with the cloud of
//! its name (created, updated field by field, or left unchanged), and its project registered
//! as a tenant unless the cloud discovers its tenants. The catalog is the only door to the
//! database; a project known only by name is looked up by logging in (never in a dry run).
use super::entry::{Entry, Login, Tls};
use crate::catalog::Catalog;
use crate::catalog::clouds::{Cloud, CloudChanges, NewCloud};
use crate::catalog::credentials::Credentials;
use crate::catalog::tenants::NewTenant;
use crate::catalog::{CatalogError, SyncMode};
use crate::openstack::keystone::{AppCredentialRef, AuthMethod, ProjectScope};
use crate::openstack::{SessionSettings, TlsConfig};
use crate::sync::admin::{LoggedInProject, login_project};

/// How an import runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub dry_run: bool,
    /// Set `discover_tenants` on the clouds instead of registering their projects.
    pub discover: bool,
    /// Timeouts and retries of the logins that look projects up.
    pub session: SessionSettings,
}

/// A field that changes, with its old and new value (`None` for credentials: never shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: &'static str,
    pub values: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudAction {
    Create,
    Update(Vec<Change>),
    Unchanged,
}

/// What becomes of the entry's project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantAction {
    /// The entry names no project (and the cloud does not discover).
    NoProject,
    /// `--discover`: Keystone's project list gives the tenants at each sweep.
    Discover,
    Exists {
        name: String,
    },
    Register {
        backend_id: String,
        name: String,
    },
    /// The project's id is learned by logging in at import.
    LookUp {
        hint: String,
    },
}

/// What an import does (or would do) with one entry.
pub struct Planned {
    pub entry: Entry,
    pub existing: Option<Cloud>,
    pub cloud: CloudAction,
    pub tenant: TenantAction,
}

/// How applying went beyond the plan: what a look-up found, or why the tenant is missing.
#[derive(Debug, Default)]
pub struct Applied {
    pub tenant_registered: Option<String>,
    pub tenant_found: Option<String>,
    pub problem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{count} clouds are named {name:?}: rename or delete all but one to import it")]
    Ambiguous { name: String, count: usize },
}

/// Compares an entry with the catalog.
pub async fn plan(
    catalog: &Catalog,
    mut entry: Entry,
    opts: &Options,
) -> Result<Planned, PlanError> {
    let named = catalog.clouds().named(&entry.name).await?;
    if named.len() > 1 {
        return Err(PlanError::Ambiguous {
            name: entry.name.clone(),
            count: named.len(),
        });
    }
    let Some(existing) = named.into_iter().next() else {
        let tenant = tenant_action(&entry, &[], opts, None);
        return Ok(Planned {
            entry,
            existing: None,
            cloud: CloudAction::Create,
            tenant,
        });
    };
    let (_, stored) = catalog.clouds().with_credentials(existing.id).await?;
    adopt_known_project_id(&mut entry, stored.as_ref());
    let mut changes = field_changes(&entry, &existing, stored.as_ref(), opts);
    // A key this process cannot open compares as missing: the import stores it anew.
    let stored_tls = catalog.clouds().stored_tls(existing.uuid).await?;
    changes.extend(tls_for_catalog(&entry.tls, TlsTarget::Compare(&stored_tls)));
    let tenants: Vec<(String, String)> = catalog
        .tenants()
        .of_cloud(existing.id)
        .await?
        .into_iter()
        .map(|t| (t.backend_id, t.name))
        .collect();
    let tenant = tenant_action(&entry, &tenants, opts, Some(&existing));
    let cloud = if changes.is_empty() {
        CloudAction::Unchanged
    } else {
        CloudAction::Update(changes)
    };
    Ok(Planned {
        entry,
        existing: Some(existing),
        cloud,
        tenant,
    })
}

/// A project named by name whose id an earlier import looked up keeps that id, so an
/// unchanged entry stays unchanged (and is not looked up again).
fn adopt_known_project_id(entry: &mut Entry, stored: Option<&Credentials>) {
    let (
        Login::Password {
            username,
            project: Some(project),
            ..
        },
        Some(Credentials::Password {
            username: stored_user,
            project_name: Some(stored_name),
            project_id: Some(stored_id),
            ..
        }),
    ) = (&mut entry.login, stored)
    else {
        return;
    };
    if project.id.is_none()
        && project.name.as_deref() == Some(stored_name.as_str())
        && username == stored_user
    {
        project.id = Some(stored_id.clone());
    }
}

fn field_changes(
    entry: &Entry,
    existing: &Cloud,
    stored: Option<&Credentials>,
    opts: &Options,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut compare = |field: &'static str, old: &str, new: &str| {
        if old != new {
            changes.push(Change {
                field,
                values: Some((old.to_string(), new.to_string())),
            });
        }
    };
    compare("auth_url", &existing.auth_url, &entry.auth_url);
    compare("region", &existing.region, &entry.region);
    compare(
        "interface",
        existing.interface.as_str(),
        entry.interface.as_str(),
    );
    compare("domain", &existing.domain, &entry.domain);
    if opts.discover && !existing.discover_tenants {
        compare("discover_tenants", "false", "true");
    }
    if stored != Some(&entry.credentials()) {
        changes.push(Change {
            field: "credentials",
            values: None,
        });
    }
    changes
}

/// `tenants` are the cloud's (project id, name) pairs.
fn tenant_action(
    entry: &Entry,
    tenants: &[(String, String)],
    opts: &Options,
    existing: Option<&Cloud>,
) -> TenantAction {
    if opts.discover || existing.is_some_and(|c| c.discover_tenants) {
        return TenantAction::Discover;
    }
    let by_id = |id: &str| {
        tenants
            .iter()
            .find(|(backend, _)| backend == id)
            .map(|(_, name)| TenantAction::Exists { name: name.clone() })
    };
    match &entry.login {
        Login::Password { project: None, .. } => TenantAction::NoProject,
        Login::Password {
            project: Some(p), ..
        } => match (&p.id, &p.name) {
            (Some(id), name) => by_id(id).unwrap_or_else(|| TenantAction::Register {
                backend_id: id.clone(),
                name: name.clone().unwrap_or_else(|| id.clone()),
            }),
            (None, Some(name)) => tenants
                .iter()
                .find(|(_, n)| n == name)
                .map(|(_, n)| TenantAction::Exists { name: n.clone() })
                .unwrap_or_else(|| TenantAction::LookUp {
                    hint: format!("project {name:?}"),
                }),
            (None, None) => TenantAction::NoProject,
        },
        Login::AppCredential {
            project_id: Some(id),
            project_name,
            ..
        } => by_id(id).unwrap_or_else(|| TenantAction::Register {
            backend_id: id.clone(),
            name: project_name.clone().unwrap_or_else(|| id.clone()),
        }),
        // An application credential sees one project: a cloud that has a tenant has it.
        Login::AppCredential { .. } => match tenants.first() {
            Some((_, name)) => TenantAction::Exists { name: name.clone() },
            None => TenantAction::LookUp {
                hint: "the application credential's project".into(),
            },
        },
    }
}

/// Writes the plan: the cloud, then its tenant.
pub async fn apply(
    catalog: &Catalog,
    p: &Planned,
    opts: &Options,
) -> Result<Applied, CatalogError> {
    let cloud = match (&p.cloud, &p.existing) {
        (CloudAction::Create, _) => catalog.clouds().create(new_cloud(&p.entry, opts)).await?,
        (CloudAction::Update(_), Some(existing)) => {
            let changes = cloud_changes(&p.entry, opts);
            catalog.clouds().update(existing.uuid, changes).await?
        }
        (_, Some(existing)) => existing.clone(),
        (_, None) => return Err(CatalogError::NotFound),
    };
    let mut applied = Applied::default();
    match &p.tenant {
        TenantAction::Register { backend_id, name } => {
            register(catalog, &cloud, backend_id, name, &mut applied).await?;
        }
        TenantAction::LookUp { .. } => {
            let (session, tls) = (opts.session.clone(), p.entry.tls.config());
            match login_project(&cloud, auth_method(&p.entry), session, tls).await {
                Ok(found) => {
                    adopt_looked_up(catalog, &cloud, &p.entry, found, &mut applied).await?
                }
                Err(e) => {
                    applied.problem = Some(format!(
                        "no tenant registered: logging in to learn the project failed: {e}"
                    ))
                }
            }
        }
        TenantAction::NoProject | TenantAction::Discover | TenantAction::Exists { .. } => {}
    }
    Ok(applied)
}

async fn register(
    catalog: &Catalog,
    cloud: &Cloud,
    backend_id: &str,
    name: &str,
    applied: &mut Applied,
) -> Result<(), CatalogError> {
    let created = catalog
        .tenants()
        .create(NewTenant {
            name: name.to_string(),
            backend_id: backend_id.to_string(),
            cloud: cloud.id,
            credentials: None,
        })
        .await;
    match created {
        Ok(_) => applied.tenant_registered = Some(format!("{name:?} (project {backend_id})")),
        // Registered meanwhile (or retired by discovery): there is nothing to add.
        Err(CatalogError::Conflict(_)) => applied.tenant_found = Some(name.to_string()),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Keeps a looked-up project: its id joins the cloud's password credentials (so every
/// login is scoped to exactly that project), and it becomes the cloud's tenant.
async fn adopt_looked_up(
    catalog: &Catalog,
    cloud: &Cloud,
    entry: &Entry,
    found: LoggedInProject,
    applied: &mut Applied,
) -> Result<(), CatalogError> {
    let mut entry = entry.clone();
    if let Login::Password {
        project: Some(project),
        ..
    } = &mut entry.login
    {
        project.id = Some(found.id.clone());
        let changes = CloudChanges {
            credentials: Some(entry.credentials()),
            ..Default::default()
        };
        catalog.clouds().update(cloud.uuid, changes).await?;
    }
    let tenants = catalog.tenants().of_cloud(cloud.id).await?;
    if let Some(t) = tenants.iter().find(|t| t.backend_id == found.id) {
        applied.tenant_found = Some(t.name.clone());
        return Ok(());
    }
    let name = found
        .name
        .or_else(|| match &entry.login {
            Login::Password {
                project: Some(p), ..
            } => p.name.clone(),
            Login::AppCredential { project_name, .. } => project_name.clone(),
            Login::Password { project: None, .. } => None,
        })
        .unwrap_or_else(|| found.id.clone());
    register(catalog, cloud, &found.id, &name, applied).await
}

/// The login of a look-up, with the entry's own domains (the project's may differ from the
/// user's, which the catalog's one `domain` cannot say; the id found makes that moot).
fn auth_method(entry: &Entry) -> AuthMethod {
    match &entry.login {
        Login::Password {
            username,
            password,
            project,
        } => AuthMethod::Password {
            username: username.clone(),
            password: password.clone(),
            user_domain: entry.domain.clone(),
            project: match project {
                Some(p) => match (&p.id, &p.name) {
                    (Some(id), _) => ProjectScope::Id(id.clone()),
                    (None, name) => ProjectScope::Name {
                        name: name.clone().unwrap_or_default(),
                        domain: p.domain.clone(),
                    },
                },
                None => ProjectScope::Id(String::new()),
            },
        },
        Login::AppCredential {
            id,
            name,
            user,
            secret,
            ..
        } => AuthMethod::ApplicationCredential {
            credential: match (id, name, user) {
                (Some(id), _, _) => AppCredentialRef::Id(id.clone()),
                (None, name, user) => AppCredentialRef::Name {
                    name: name.clone().unwrap_or_default(),
                    user: user.clone().unwrap_or_default(),
                    user_domain: entry.domain.clone(),
                },
            },
            secret: secret.clone(),
        },
    }
}

fn new_cloud(entry: &Entry, opts: &Options) -> NewCloud {
    let mut new = NewCloud {
        name: entry.name.clone(),
        auth_url: entry.auth_url.clone(),
        region: entry.region.clone(),
        interface: entry.interface,
        domain: entry.domain.clone(),
        shared: false,
        credentials: entry.credentials(),
        sync_mode: SyncMode::Auto,
        discover_tenants: opts.discover,
        project_tags: Vec::new(),
        tls: Default::default(),
    };
    tls_for_catalog(&entry.tls, TlsTarget::New(&mut new));
    new
}

/// The changes of an update: what clouds.yaml says, everything else left as it is
/// (`shared`, `sync_mode`, `project_tags`; `discover_tenants` unless `--discover`).
fn cloud_changes(entry: &Entry, opts: &Options) -> CloudChanges {
    let mut changes = CloudChanges {
        auth_url: Some(entry.auth_url.clone()),
        region: Some(entry.region.clone()),
        interface: Some(entry.interface),
        domain: Some(entry.domain.clone()),
        credentials: Some(entry.credentials()),
        discover_tenants: opts.discover.then_some(true),
        ..Default::default()
    };
    tls_for_catalog(&entry.tls, TlsTarget::Update(&mut changes));
    changes
}

/// Where TLS settings go: a cloud to create, an update, or a comparison with a stored cloud.
pub enum TlsTarget<'a> {
    New(&'a mut NewCloud),
    Update(&'a mut CloudChanges),
    /// The stored cloud's settings, its client key opened.
    Compare(&'a TlsConfig),
}

/// The one place the TLS settings read from clouds.yaml (`cacert` and client certificate as
/// PEM text, `verify`) reach the catalog: set on a new cloud or an update, and compared
/// with a stored cloud (the changes it returns make an update; the key's as "changed",
/// never shown).
pub fn tls_for_catalog(tls: &Tls, target: TlsTarget<'_>) -> Vec<Change> {
    let config = tls.config();
    match target {
        TlsTarget::New(new) => new.tls = config,
        TlsTarget::Update(changes) => changes.tls = Some(config),
        TlsTarget::Compare(stored) => return tls_changes(stored, &config),
    }
    Vec::new()
}

fn tls_changes(stored: &TlsConfig, new: &TlsConfig) -> Vec<Change> {
    let mut changes = Vec::new();
    let describe = |pem: Option<&str>| match pem {
        None => "none".to_string(),
        Some(pem) => format!(
            "{} certificate(s)",
            pem.matches("-----BEGIN CERTIFICATE-----").count()
        ),
    };
    if stored.cacert != new.cacert {
        changes.push(Change {
            field: "cacert",
            values: Some((
                describe(stored.cacert.as_deref()),
                describe(new.cacert.as_deref()),
            )),
        });
    }
    if stored.verify != new.verify {
        changes.push(Change {
            field: "verify",
            values: Some((stored.verify.to_string(), new.verify.to_string())),
        });
    }
    let cert = |t: &TlsConfig| t.client.as_ref().map(|c| c.cert.clone());
    if cert(stored) != cert(new) {
        changes.push(Change {
            field: "cert",
            values: Some((
                describe(cert(stored).as_deref()),
                describe(cert(new).as_deref()),
            )),
        });
    }
    let key = |t: &TlsConfig| t.client.as_ref().map(|c| c.key.clone());
    if key(stored) != key(new) {
        changes.push(Change {
            field: "key",
            values: None,
        });
    }
    changes
}
