//! `/api/service-settings/`: the registered OpenStack clouds (staff writes).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::Created;
use super::auth::{Caller, Staff};
use super::cloud_check::{self, CloudCheckResponse};
use super::credentials::{AppCredentialFields, CredentialFields};
use super::errors::{ApiError, ErrorResponse, PullResponse};
use super::image_info;
use super::params::{PAGE_PARAMS, ParamDoc, Params, Path, QueryDocs, QueryParams};
use super::query::RawQuery;
use super::tls::{self, TlsFields};
use super::validate::{BLANK, NAME_MAX, REQUIRED, TEXT_MAX, Validator};
use super::{ApiTags, AppState, Paginated};
use crate::catalog::clouds::{CLOUD_TYPE, Cloud, CloudChanges, NewCloud};
use crate::catalog::credentials::Credentials;
use crate::catalog::paging::PageRequest;
use crate::catalog::{Interface, SyncMode, hex};
use crate::openstack::TlsConfig;
use crate::params;

pub struct CloudsApi;

#[derive(Object, Default)]
pub struct SettingsOptions {
    /// Keystone URL, e.g. `https://keystone.example.org:5000/v3`.
    pub auth_url: String,
    pub region: String,
    /// Endpoint interface: `public`, `internal` or `admin`.
    pub interface: String,
    /// Keystone domain of the user and project.
    pub domain: String,
    /// `auto` (default): one listing for the whole cloud when its credentials carry the
    /// `admin` role, else per tenant; `per_tenant`; `cloud` (admin credentials required).
    pub sync_mode: String,
    /// Create tenants for the cloud's Keystone projects at each sweep, and retire those whose
    /// project is disabled or gone (admin credentials required).
    pub discover_tenants: bool,
    /// Tags a project needs (all of them) to be discovered; empty: every project.
    pub project_tags: Vec<String>,
    /// PEM CA certificates the cloud's certificates are checked against, beside the
    /// system's roots (null: the system's roots only).
    #[oai(nullable)]
    pub cacert: Option<String>,
    /// Whether the cloud's certificates are checked (`false` shows a warning).
    pub verify: bool,
    /// PEM client certificate presented to the cloud (its key is write-only).
    #[oai(nullable)]
    pub cert: Option<String>,
}

#[derive(Object, Default)]
pub struct SettingsOptionsRequest {
    #[oai(nullable)]
    pub auth_url: Option<String>,
    #[oai(nullable)]
    pub region: Option<String>,
    #[oai(nullable)]
    pub interface: Option<String>,
    #[oai(nullable)]
    pub domain: Option<String>,
    #[oai(nullable)]
    pub sync_mode: Option<String>,
    #[oai(nullable)]
    pub discover_tenants: Option<bool>,
    #[oai(nullable)]
    pub project_tags: Option<Vec<String>>,
    /// PEM CA certificates to trust beside the system's roots; `""` removes them.
    #[oai(nullable)]
    pub cacert: Option<String>,
    /// `false` turns certificate checks off (default `true`).
    #[oai(nullable)]
    pub verify: Option<bool>,
    /// PEM client certificate; `""` removes it and its key.
    #[oai(nullable)]
    pub cert: Option<String>,
    /// PEM private key of `cert`: encrypted at rest, never returned.
    #[oai(write_only, nullable)]
    pub key: Option<String>,
}

#[derive(Object)]
#[oai(rename = "ServiceSettings")]
pub struct ServiceSettings {
    pub url: String,
    pub uuid: String,
    pub name: String,
    #[oai(rename = "type")]
    pub kind: String,
    pub state: String,
    pub error_message: String,
    pub shared: bool,
    pub options: SettingsOptions,
    /// What an operator should know about the settings (TLS verification off, say).
    pub warnings: Vec<String>,
    /// The last sweep of the cloud (null before the first): its mode, tenants and upstream
    /// requests by service.
    #[oai(nullable)]
    pub last_sweep: Option<SweepRecord>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

/// What one sweep of a cloud did.
#[derive(Object, Debug, Clone, PartialEq, serde::Deserialize)]
pub struct SweepRecord {
    /// `per_tenant` or `cloud`: how the sweep listed the cloud.
    pub mode: String,
    /// Why it took that mode: `sync_mode` (asked for by the cloud's `sync_mode`),
    /// `admin_role` (`auto`, and the cloud's credentials carry the admin role),
    /// `no_admin_role` (`auto`, and they do not), `login_failed` (`auto`, and the cloud's own
    /// login failed: the cloud is then ERRED saying why). Empty for sweeps recorded before.
    #[serde(default)]
    pub mode_reason: String,
    /// Why, in words: whose login failed and how (never a secret).
    #[serde(default)]
    pub mode_detail: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// Tenants the sweep synced.
    pub tenants: u64,
    /// Of those, the ones whose view of the cloud's listing had not changed since their last
    /// sync (cloud mode): recorded without comparing it with the catalog. 0 per tenant.
    #[serde(default)]
    pub unchanged: u64,
    /// Upstream requests by service (`identity`, `image`, `compute`, `volume`).
    pub requests: std::collections::BTreeMap<String, u64>,
}

/// Credentials are write-only: they are encrypted at rest and never returned.
#[derive(Object, Default)]
#[oai(rename = "ServiceSettingsRequest")]
pub struct ServiceSettingsRequest {
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(rename = "type", nullable)]
    pub kind: Option<String>,
    #[oai(nullable)]
    pub shared: Option<bool>,
    #[oai(nullable)]
    pub options: Option<SettingsOptionsRequest>,
    #[oai(write_only, nullable)]
    pub username: Option<String>,
    #[oai(write_only, nullable)]
    pub password: Option<String>,
    #[oai(write_only, nullable)]
    pub project_name: Option<String>,
    #[oai(write_only, nullable)]
    pub project_id: Option<String>,
    #[oai(write_only, nullable)]
    pub application_credential_id: Option<String>,
    /// With `application_credential_user`, instead of the id.
    #[oai(write_only, nullable)]
    pub application_credential_name: Option<String>,
    /// The name of the user owning the named application credential (in the cloud's domain).
    #[oai(write_only, nullable)]
    pub application_credential_user: Option<String>,
    #[oai(write_only, nullable)]
    pub application_credential_secret: Option<String>,
}

impl ServiceSettingsRequest {
    fn credential_fields(&self) -> CredentialFields<'static> {
        CredentialFields {
            username: ("username", self.username.clone()),
            password: ("password", self.password.clone()),
            project_name: self.project_name.clone(),
            project_id: self.project_id.clone(),
            app: AppCredentialFields {
                id: self.application_credential_id.clone(),
                name: self.application_credential_name.clone(),
                user: self.application_credential_user.clone(),
                secret: self.application_credential_secret.clone(),
            },
        }
    }

    fn tls_fields(&self) -> TlsFields {
        let o = self.options.as_ref();
        TlsFields {
            cacert: o.and_then(|o| o.cacert.clone()),
            verify: o.and_then(|o| o.verify),
            cert: o.and_then(|o| o.cert.clone()),
            key: o.and_then(|o| o.key.clone()),
        }
    }

    /// Checks the fields. `full` (create, PUT) requires name and auth_url; creating (no
    /// `stored` credentials) also requires credentials, which otherwise change only when
    /// given, completed from the stored ones (see [`CredentialFields::over`]). TLS options
    /// are laid over `stored_tls` likewise (see [`TlsFields::over`]).
    fn check(
        self,
        full: bool,
        stored: Option<&Credentials>,
        stored_tls: &TlsConfig,
        creating: bool,
    ) -> Result<CloudChanges, ApiError> {
        let mut v = Validator::default();
        if full {
            v.require("name", &self.name);
        }
        let options = self.options.as_ref();
        let auth_url = options.and_then(|o| o.auth_url.clone());
        v.at_most("name", self.name.as_deref(), NAME_MAX);
        v.at_most("auth_url", auth_url.as_deref(), TEXT_MAX);
        if let Some(o) = options {
            v.at_most("region", o.region.as_deref(), NAME_MAX);
            v.at_most("domain", o.domain.as_deref(), NAME_MAX);
            for tag in o.project_tags.iter().flatten() {
                v.at_most("project_tags", Some(tag), NAME_MAX);
                if tag.trim().is_empty() || tag.contains(',') {
                    v.add("project_tags", "A tag is a non-blank text without commas.");
                }
            }
        }
        let sync_mode = options
            .and_then(|o| o.sync_mode.as_deref())
            .and_then(|raw| {
                let parsed = SyncMode::parse(raw);
                if parsed.is_none() {
                    v.add("sync_mode", format!("\"{raw}\" is not a valid choice."));
                }
                parsed
            });
        if full {
            v.require("auth_url", &auth_url);
        }
        if let Some(name) = &self.name
            && name.trim().is_empty()
        {
            v.add("name", BLANK);
        }
        if let Some(t) = &self.kind
            && t != CLOUD_TYPE
        {
            v.add("type", format!("\"{t}\" is not a valid choice."));
        }
        if let Some(url) = &auth_url
            && !is_http_url(url)
        {
            v.add("auth_url", "Enter a valid URL.");
        }
        let interface_raw = options.and_then(|o| o.interface.clone());
        let interface = interface_raw.as_deref().and_then(|raw| {
            let parsed = Interface::parse(raw);
            if parsed.is_none() {
                v.add("interface", format!("\"{raw}\" is not a valid choice."));
            }
            parsed
        });
        let fields = self.credential_fields();
        let credentials = match stored {
            _ if fields.is_empty() && !creating => None,
            Some(stored) => fields.over(stored, &mut v).into_credentials(&mut v),
            None => fields.into_credentials(&mut v),
        };
        let tls = self.tls_fields().over(stored_tls, &mut v);
        v.finish()?;
        if creating && credentials.is_none() {
            return Err(ApiError::field("username", REQUIRED));
        }
        Ok(CloudChanges {
            name: self.name.map(|n| n.trim().to_string()),
            auth_url,
            region: options.and_then(|o| o.region.clone()),
            interface,
            domain: options.and_then(|o| o.domain.clone()),
            shared: self.shared,
            credentials,
            sync_mode,
            discover_tenants: options.and_then(|o| o.discover_tenants),
            project_tags: options.and_then(|o| o.project_tags.clone()),
            tls,
        })
    }
}

pub fn is_http_url(raw: &str) -> bool {
    url::Url::parse(raw)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .unwrap_or(false)
}

/// A cloud to create from checked changes, with the defaults Waldur uses.
fn new_cloud(c: CloudChanges) -> Result<NewCloud, ApiError> {
    let credentials = c
        .credentials
        .ok_or_else(|| ApiError::field("username", REQUIRED))?;
    Ok(NewCloud {
        name: c.name.unwrap_or_default(),
        auth_url: c.auth_url.unwrap_or_default(),
        region: c.region.unwrap_or_default(),
        interface: c.interface.unwrap_or_default(),
        domain: c.domain.unwrap_or_else(|| "default".into()),
        shared: c.shared.unwrap_or(false),
        credentials,
        sync_mode: c.sync_mode.unwrap_or_default(),
        discover_tenants: c.discover_tenants.unwrap_or(false),
        project_tags: c.project_tags.unwrap_or_default(),
        tls: c.tls.unwrap_or_default(),
    })
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    NoContent,
}

fn shape(state: &AppState, s: Cloud) -> ServiceSettings {
    ServiceSettings {
        url: state.object_url("service-settings", &s.uuid),
        uuid: hex(&s.uuid),
        name: s.name,
        kind: s.r#type,
        state: s.state.as_str().to_string(),
        error_message: s.error_message,
        shared: s.shared,
        options: SettingsOptions {
            auth_url: s.auth_url,
            region: s.region,
            interface: s.interface.as_str().to_string(),
            domain: s.domain,
            sync_mode: s.sync_mode.as_str().to_string(),
            discover_tenants: s.discover_tenants,
            project_tags: serde_json::from_value(s.project_tags).unwrap_or_default(),
            cacert: s.tls_cacert,
            verify: s.tls_verify,
            cert: s.tls_cert,
        },
        warnings: tls::warnings(s.tls_verify),
        // A record this version cannot read is left out rather than failing the request.
        last_sweep: s.last_sweep.and_then(|r| serde_json::from_value(r).ok()),
        created: s.created,
        modified: s.modified,
    }
}

/// `GET /service-settings/`: an exact name, and the page.
pub struct CloudListQuery {
    name: Option<String>,
    page: PageRequest,
}

impl QueryParams for CloudListQuery {
    const PARAMS: &'static [&'static [ParamDoc]] = &[params![name: "Exact name."], PAGE_PARAMS];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        Ok(Self {
            name: q.all("name").first().map(|s| s.to_string()),
            page: q.page()?,
        })
    }
}

impl QueryDocs for CloudsApi {
    const QUERIES: &'static [(&'static str, &'static [&'static [ParamDoc]])] =
        &[("service_settings_list", CloudListQuery::PARAMS)];
}

async fn update(
    state: &AppState,
    uuid: Uuid,
    body: ServiceSettingsRequest,
    full: bool,
) -> Result<Json<ServiceSettings>, ErrorResponse> {
    let clouds = state.catalog.clouds();
    // An unknown cloud is 404 whatever the body says.
    clouds.find(uuid).await?.ok_or(ApiError::NotFound)?;
    // Stored credentials that cannot be opened (another key) cannot be completed: a change
    // must then give them whole.
    let stored = clouds.stored_credentials(uuid).await.ok().flatten();
    // A client key that cannot be opened is left out: a change keeping the certificate
    // must then give the key again.
    let stored_tls = clouds.stored_tls(uuid).await?;
    let changes = body.check(full, stored.as_ref(), &stored_tls, false)?;
    let cloud = clouds.update(uuid, changes).await?;
    Ok(Json(shape(state, cloud)))
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::ServiceSettings")]
impl CloudsApi {
    /// Registered clouds (a scoped token sees the clouds of its tenants).
    #[oai(
        path = "/service-settings/",
        method = "get",
        operation_id = "service_settings_list"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(q): Params<CloudListQuery>,
    ) -> Result<Paginated<ServiceSettings>, ErrorResponse> {
        let clouds = state.catalog.clouds();
        let paged = clouds
            .list(&caller.scope(), q.name.as_deref(), q.page)
            .await?;
        Ok(state.paginated(req, paged.map(|c| shape(&state, c))))
    }

    /// Register a cloud (staff).
    #[oai(
        path = "/service-settings/",
        method = "post",
        operation_id = "service_settings_create"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        body: Json<ServiceSettingsRequest>,
    ) -> Result<Created<ServiceSettings>, ErrorResponse> {
        let new = new_cloud(body.0.check(true, None, &TlsConfig::default(), true)?)?;
        let cloud = state.catalog.clouds().create(new).await?;
        Ok(Created::Created(Json(shape(&state, cloud))))
    }

    #[oai(
        path = "/service-settings/:uuid/",
        method = "get",
        operation_id = "service_settings_retrieve"
    )]
    async fn retrieve(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        uuid: Path<Uuid>,
    ) -> Result<Json<ServiceSettings>, ErrorResponse> {
        let cloud = state.catalog.clouds().get(&caller.scope(), uuid.0).await?;
        Ok(Json(shape(&state, cloud)))
    }

    /// The cloud's Glance import methods and stores as its tenants last saw them (a scoped
    /// token: as its own tenants saw them), and the tenants that saw less.
    #[oai(
        path = "/service-settings/:uuid/image_info/",
        method = "get",
        operation_id = "service_settings_image_info_retrieve"
    )]
    async fn image_info(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        uuid: Path<Uuid>,
    ) -> Result<Json<image_info::CloudImageInfo>, ErrorResponse> {
        let info = state
            .catalog
            .clouds()
            .image_info(&caller.scope(), uuid.0)
            .await?;
        Ok(Json(image_info::shape(&state, info)))
    }

    /// Replace a cloud's fields (staff). Credentials change only when given.
    #[oai(
        path = "/service-settings/:uuid/",
        method = "put",
        operation_id = "service_settings_update"
    )]
    async fn put(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
        body: Json<ServiceSettingsRequest>,
    ) -> Result<Json<ServiceSettings>, ErrorResponse> {
        update(&state, uuid.0, body.0, true).await
    }

    /// Change some of a cloud's fields (staff).
    #[oai(
        path = "/service-settings/:uuid/",
        method = "patch",
        operation_id = "service_settings_partial_update"
    )]
    async fn patch(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
        body: Json<ServiceSettingsRequest>,
    ) -> Result<Json<ServiceSettings>, ErrorResponse> {
        update(&state, uuid.0, body.0, false).await
    }

    /// Start a sync of every tenant of this cloud now (staff).
    #[oai(
        path = "/service-settings/:uuid/pull/",
        method = "post",
        operation_id = "service_settings_pull"
    )]
    async fn pull(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
    ) -> Result<PullResponse, ErrorResponse> {
        PullResponse::of(state.sync.pull_cloud(uuid.0).await)
    }

    /// Check the cloud's connection with its own credentials (staff): the login (the token's
    /// project, roles, and so the mode `auto` takes), and for identity, image, compute and
    /// volume the endpoint of the cloud's region and interface and one small request, timed.
    /// Nothing is stored. A broken cloud is a 200 whose failed parts have `ok: false` and a
    /// message saying what to fix.
    #[oai(
        path = "/service-settings/:uuid/check/",
        method = "post",
        operation_id = "service_settings_check"
    )]
    async fn check(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
    ) -> Result<Json<CloudCheckResponse>, ErrorResponse> {
        let checked = state.sync.check_cloud(uuid.0).await?;
        Ok(Json(cloud_check::shape(&state, checked)))
    }

    /// Remove a cloud with its tenants, images and instances (staff).
    #[oai(
        path = "/service-settings/:uuid/",
        method = "delete",
        operation_id = "service_settings_destroy"
    )]
    async fn destroy(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
    ) -> Result<Deleted, ErrorResponse> {
        state.catalog.clouds().delete(uuid.0).await?;
        Ok(Deleted::NoContent)
    }
}
