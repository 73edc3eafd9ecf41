//! `/api/openstack-tenants/`: registered OpenStack projects (staff writes) and `pull/`.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::Created;
use super::auth::{Caller, Staff};
use super::clouds::Deleted;
use super::credentials::{AppCredentialFields, CredentialFields};
use super::errors::{ApiError, ErrorResponse, PullResponse};
use super::params::{PAGE_PARAMS, ParamDoc, Params, Path, QueryDocs, QueryParams};
use super::query::{RawQuery, uuid_from_url};
use super::validate::{NAME_MAX, TEXT_MAX, Validator};
use super::{ApiTags, AppState, Paginated};
use crate::catalog::image_quotas::{self, ImageResource};
use crate::catalog::paging::PageRequest;
use crate::catalog::tenants::{NewTenant, TenantFilter, TenantView, unavailable_services};
use crate::catalog::{CatalogError, hex, parse_uuid};
use crate::params;

pub struct TenantsApi;

#[derive(Object)]
#[oai(rename = "OpenStackTenant")]
pub struct OpenStackTenant {
    pub url: String,
    pub uuid: String,
    pub name: String,
    /// The OpenStack project id.
    pub backend_id: String,
    pub service_settings: String,
    pub service_settings_uuid: String,
    pub state: String,
    pub error_message: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    #[oai(nullable)]
    pub last_sync_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub last_success_at: Option<DateTime<Utc>>,
    /// Glance `/v2/info/usage` as last synced (quota limits and usage); null if unsupported.
    #[oai(nullable)]
    pub image_quota_usage: Option<serde_json::Value>,
    /// Glance `/v2/info/stores`; null if unsupported.
    #[oai(nullable)]
    pub stores: Option<serde_json::Value>,
    /// Glance `/v2/info/import`; null if unsupported.
    #[oai(nullable)]
    pub import_methods: Option<serde_json::Value>,
    /// Upstream services the cloud lacked at the last sync (`compute`, `volume`): the sync
    /// went on without them (no instances listed; boot-from-volume servers count for no image).
    pub unavailable_services: Vec<String>,
    /// Why the last sync failed, while the tenant is ERRED, as a stable name to group failures
    /// by: `authentication` (Keystone refused the credentials), `authorization` (they lack the
    /// admin role, or are scoped to another project), `credentials` (none stored, or they
    /// cannot be opened), `endpoint_missing`, `tls`, `unreachable` (no connection or no answer
    /// in time), `upstream_status` (an HTTP error from a service), `malformed` (unusable
    /// upstream data or paging), `database`, `lease_lost`, `cancelled`. New names may be added.
    /// Null when OK, and for a tenant retired by discovery (its message says why).
    #[oai(nullable)]
    pub error_kind: Option<String>,
}

/// Own credentials are optional; without them the cloud's are scoped to this project.
#[derive(Object, Default)]
#[oai(rename = "OpenStackTenantRequest")]
pub struct OpenStackTenantRequest {
    #[oai(nullable)]
    pub name: Option<String>,
    /// The OpenStack project id.
    #[oai(nullable)]
    pub backend_id: Option<String>,
    /// URL of the service settings (or give `service_settings_uuid`).
    #[oai(nullable)]
    pub service_settings: Option<String>,
    #[oai(nullable)]
    pub service_settings_uuid: Option<String>,
    #[oai(write_only, nullable)]
    pub user_username: Option<String>,
    #[oai(write_only, nullable)]
    pub user_password: Option<String>,
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

/// A tenant's Glance `/v2/info/usage` as last synced, in Glance's shape.
#[derive(Object)]
#[oai(rename = "TenantImageUsage")]
pub struct TenantImageUsage {
    pub tenant_uuid: String,
    /// Null when the tenant's cloud does not report image quotas (or it never synced).
    #[oai(nullable)]
    pub usage: Option<ImageUsageFigures>,
    /// When the tenant last synced successfully: the figures are as of then.
    #[oai(nullable)]
    pub synced_at: Option<DateTime<Utc>>,
}

/// Glance's resources; a resource the cloud did not report is null.
#[derive(Object, Default)]
#[oai(rename = "ImageUsageFigures")]
pub struct ImageUsageFigures {
    #[oai(nullable)]
    pub image_size_total: Option<QuotaLimit>,
    #[oai(nullable)]
    pub image_count_total: Option<QuotaLimit>,
    #[oai(nullable)]
    pub image_stage_total: Option<QuotaLimit>,
    #[oai(nullable)]
    pub image_count_uploading: Option<QuotaLimit>,
}

#[derive(Object)]
#[oai(rename = "QuotaLimit")]
pub struct QuotaLimit {
    /// Sizes in MiB; negative: unlimited.
    pub limit: i64,
    pub usage: i64,
}

fn image_usage(v: TenantView) -> TenantImageUsage {
    let t = v.tenant;
    let usage = t.image_quota_usage.as_ref().map(|stored| {
        let mut figures = ImageUsageFigures::default();
        for (resource, f) in image_quotas::figures(stored) {
            let slot = match resource {
                ImageResource::SizeTotal => &mut figures.image_size_total,
                ImageResource::CountTotal => &mut figures.image_count_total,
                ImageResource::StageTotal => &mut figures.image_stage_total,
                ImageResource::CountUploading => &mut figures.image_count_uploading,
            };
            *slot = Some(QuotaLimit {
                limit: f.limit,
                usage: f.usage,
            });
        }
        figures
    });
    TenantImageUsage {
        tenant_uuid: hex(&t.uuid),
        usage,
        synced_at: t.last_success_at,
    }
}

fn shape(state: &AppState, v: TenantView) -> OpenStackTenant {
    let t = v.tenant;
    OpenStackTenant {
        url: state.object_url("openstack-tenants", &t.uuid),
        uuid: hex(&t.uuid),
        name: t.name,
        backend_id: t.backend_id,
        service_settings: state.object_url("service-settings", &v.cloud_uuid),
        service_settings_uuid: hex(&v.cloud_uuid),
        state: t.state.as_str().to_string(),
        error_message: t.error_message,
        created: t.created,
        modified: t.modified,
        last_sync_at: t.last_sync_at,
        last_success_at: t.last_success_at,
        image_quota_usage: t.image_quota_usage,
        stores: t.stores,
        import_methods: t.import_methods,
        unavailable_services: unavailable_services(&t.unavailable_services),
        error_kind: t.error_kind.map(|k| k.as_str().to_string()),
    }
}

const DUPLICATE_PROJECT: &str =
    "A tenant with this backend_id is already registered for these service settings.";
const NO_SUCH_OBJECT: &str = "Invalid hyperlink - Object does not exist.";

impl OpenStackTenantRequest {
    fn credential_fields(&self) -> CredentialFields<'static> {
        CredentialFields {
            username: ("user_username", self.user_username.clone()),
            password: ("user_password", self.user_password.clone()),
            project_name: None,
            project_id: None,
            app: AppCredentialFields {
                id: self.application_credential_id.clone(),
                name: self.application_credential_name.clone(),
                user: self.application_credential_user.clone(),
                secret: self.application_credential_secret.clone(),
            },
        }
    }

    /// The cloud the request names, by URL or uuid (`None` when neither is given).
    fn cloud_uuid(&self, v: &mut Validator) -> Option<uuid::Uuid> {
        match (&self.service_settings, &self.service_settings_uuid) {
            (Some(url), _) => {
                let parsed = uuid_from_url(url);
                if parsed.is_none() {
                    v.add("service_settings", "Invalid hyperlink - No URL match.");
                }
                parsed
            }
            (None, Some(raw)) => {
                let parsed = parse_uuid(raw);
                if parsed.is_none() {
                    v.add(
                        "service_settings_uuid",
                        format!("“{raw}” is not a valid UUID."),
                    );
                }
                parsed
            }
            (None, None) => None,
        }
    }

    /// Checks every field (the cloud must exist) and reports all errors at once.
    async fn check(self, state: &AppState) -> Result<NewTenant, ApiError> {
        let mut v = Validator::default();
        v.at_most("name", self.name.as_deref(), NAME_MAX);
        v.at_most("backend_id", self.backend_id.as_deref(), NAME_MAX);
        v.at_most(
            "service_settings",
            self.service_settings.as_deref(),
            TEXT_MAX,
        );
        v.at_most(
            "service_settings_uuid",
            self.service_settings_uuid.as_deref(),
            NAME_MAX,
        );
        v.finish()?;
        let mut v = Validator::default();
        let cloud_uuid = self.cloud_uuid(&mut v);
        v.finish()?;
        let mut v = Validator::default();
        let name = v.required_text("name", &self.name);
        let backend_id = v.required_text("backend_id", &self.backend_id);
        let cloud_uuid = v.require("service_settings", &cloud_uuid).copied();
        let fields = self.credential_fields();
        // Own credentials are optional: without them the cloud's are scoped to this project.
        let credentials = if fields.is_empty() {
            None
        } else {
            fields.into_credentials(&mut v)
        };
        let cloud = match cloud_uuid {
            Some(uuid) => {
                let found = state.catalog.clouds().find(uuid).await?;
                if found.is_none() {
                    v.add("service_settings", NO_SUCH_OBJECT);
                }
                found
            }
            None => None,
        };
        v.finish()?;
        let (Some(name), Some(backend_id), Some(cloud)) = (name, backend_id, cloud) else {
            return Err(ApiError::field(
                "service_settings",
                super::validate::REQUIRED,
            ));
        };
        Ok(NewTenant {
            name,
            backend_id,
            cloud: cloud.id,
            credentials,
        })
    }
}

/// `GET /openstack-tenants/`: a cloud, a name substring, and the page.
pub struct TenantListQuery {
    filter: TenantFilter,
    page: PageRequest,
}

impl QueryParams for TenantListQuery {
    const PARAMS: &'static [&'static [ParamDoc]] = &[
        params![
            service_settings_uuid,
            name: "Case-insensitive substring of the name.",
        ],
        PAGE_PARAMS,
    ];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        let filter = TenantFilter {
            cloud: q.uuids("service_settings_uuid", &mut v).first().copied(),
            name: q.all("name").first().map(|s| s.to_string()),
        };
        v.finish()?;
        Ok(Self {
            filter,
            page: q.page()?,
        })
    }
}

impl QueryDocs for TenantsApi {
    const QUERIES: &'static [(&'static str, &'static [&'static [ParamDoc]])] =
        &[("openstack_tenants_list", TenantListQuery::PARAMS)];
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::OpenstackTenants")]
impl TenantsApi {
    /// Registered tenants (a scoped token sees its own).
    #[oai(
        path = "/openstack-tenants/",
        method = "get",
        operation_id = "openstack_tenants_list"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(q): Params<TenantListQuery>,
    ) -> Result<Paginated<OpenStackTenant>, ErrorResponse> {
        let tenants = state.catalog.tenants();
        let paged = tenants.list(&caller.scope(), &q.filter, q.page).await?;
        Ok(state.paginated(req, paged.map(|t| shape(&state, t))))
    }

    /// Register a tenant (staff).
    #[oai(
        path = "/openstack-tenants/",
        method = "post",
        operation_id = "openstack_tenants_create"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        body: Json<OpenStackTenantRequest>,
    ) -> Result<Created<OpenStackTenant>, ErrorResponse> {
        let new = body.0.check(&state).await?;
        let view = match state.catalog.tenants().create(new).await {
            Err(CatalogError::Conflict(_)) => {
                return Err(ApiError::field("backend_id", DUPLICATE_PROJECT).into());
            }
            Err(CatalogError::NotFound) => {
                return Err(ApiError::field("service_settings", NO_SUCH_OBJECT).into());
            }
            other => other?,
        };
        Ok(Created::Created(Json(shape(&state, view))))
    }

    #[oai(
        path = "/openstack-tenants/:uuid/",
        method = "get",
        operation_id = "openstack_tenants_retrieve"
    )]
    async fn retrieve(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        uuid: Path<Uuid>,
    ) -> Result<Json<OpenStackTenant>, ErrorResponse> {
        let view = state.catalog.tenants().get(&caller.scope(), uuid.0).await?;
        Ok(Json(shape(&state, view)))
    }

    /// The tenant's Glance image quota (`/v2/info/usage`) as last synced.
    #[oai(
        path = "/openstack-tenants/:uuid/image_usage/",
        method = "get",
        operation_id = "openstack_tenants_image_usage_retrieve"
    )]
    async fn image_usage(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        uuid: Path<Uuid>,
    ) -> Result<Json<TenantImageUsage>, ErrorResponse> {
        let view = state.catalog.tenants().get(&caller.scope(), uuid.0).await?;
        Ok(Json(image_usage(view)))
    }

    /// Remove a tenant and its links, instances and token scopes (staff).
    #[oai(
        path = "/openstack-tenants/:uuid/",
        method = "delete",
        operation_id = "openstack_tenants_destroy"
    )]
    async fn destroy(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
    ) -> Result<Deleted, ErrorResponse> {
        state.catalog.tenants().delete(uuid.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Start a sync of this tenant now (staff). 409 while one is already running.
    #[oai(
        path = "/openstack-tenants/:uuid/pull/",
        method = "post",
        operation_id = "openstack_tenants_pull"
    )]
    async fn pull(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
    ) -> Result<PullResponse, ErrorResponse> {
        PullResponse::of(state.sync.pull_tenant(uuid.0).await)
    }
}
