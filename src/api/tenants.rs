//! `/api/openstack-tenants/`: registered OpenStack projects (staff writes) and `pull/`.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::auth::Caller;
use super::errors::{Detail, ErrorResponse};
use super::query::{RawQuery, uuid_from_url};
use super::settings::Deleted;
use super::{ApiTags, AppState, Paginated};
use crate::catalog::tenants::{self, TenantFilter, TenantInput, TenantView};
use crate::catalog::{hex, parse_uuid};
use crate::error::{AppError, Validator};

pub struct TenantsApi {
    pub state: Arc<AppState>,
}

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
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Glance `/v2/info/usage` as last synced (quota limits and usage); null if unsupported.
    pub image_quota_usage: Option<serde_json::Value>,
    /// Glance `/v2/info/stores`; null if unsupported.
    pub stores: Option<serde_json::Value>,
    /// Glance `/v2/info/import`; null if unsupported.
    pub import_methods: Option<serde_json::Value>,
}

/// Own credentials are optional; without them the cloud's are scoped to this project.
#[derive(Object, Default)]
#[oai(rename = "OpenStackTenantRequest")]
pub struct OpenStackTenantRequest {
    pub name: Option<String>,
    /// The OpenStack project id.
    pub backend_id: Option<String>,
    /// URL of the service settings (or give `service_settings_uuid`).
    pub service_settings: Option<String>,
    pub service_settings_uuid: Option<String>,
    #[oai(write_only)]
    pub user_username: Option<String>,
    #[oai(write_only)]
    pub user_password: Option<String>,
    #[oai(write_only)]
    pub application_credential_id: Option<String>,
    /// With `application_credential_user`, instead of the id.
    #[oai(write_only)]
    pub application_credential_name: Option<String>,
    /// The name of the user owning the named application credential (in the cloud's domain).
    #[oai(write_only)]
    pub application_credential_user: Option<String>,
    #[oai(write_only)]
    pub application_credential_secret: Option<String>,
}

#[derive(ApiResponse)]
pub enum TenantResponse {
    #[oai(status = 200)]
    Ok(Json<OpenStackTenant>),
    #[oai(status = 201)]
    Created(Json<OpenStackTenant>),
}

#[derive(ApiResponse)]
pub enum Accepted {
    #[oai(status = 202)]
    Accepted(Json<Detail>),
}

impl TenantsApi {
    fn shape(&self, v: TenantView) -> OpenStackTenant {
        let t = v.tenant;
        OpenStackTenant {
            url: self.state.object_url("openstack-tenants", &t.uuid),
            uuid: hex(&t.uuid),
            name: t.name,
            backend_id: t.backend_id,
            service_settings: self.state.object_url("service-settings", &v.settings_uuid),
            service_settings_uuid: hex(&v.settings_uuid),
            state: t.state,
            error_message: t.error_message,
            created: t.created,
            modified: t.modified,
            last_sync_at: t.last_sync_at,
            last_success_at: t.last_success_at,
            image_quota_usage: t.image_quota_usage,
            stores: t.stores,
            import_methods: t.import_methods,
        }
    }
}

fn tenant_input(body: OpenStackTenantRequest) -> Result<TenantInput, AppError> {
    let mut v = Validator::default();
    let settings = match (&body.service_settings, &body.service_settings_uuid) {
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
    };
    v.finish()?;
    Ok(TenantInput {
        name: body.name,
        backend_id: body.backend_id,
        service_settings: settings,
        user_username: body.user_username,
        user_password: body.user_password,
        application_credential_id: body.application_credential_id,
        application_credential_name: body.application_credential_name,
        application_credential_user: body.application_credential_user,
        application_credential_secret: body.application_credential_secret,
    })
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
        caller: Caller,
        req: &Request,
        #[oai(name = "service_settings_uuid")] _service_settings_uuid: Query<Option<String>>,
        /// Case-insensitive substring of the name.
        #[oai(name = "name")]
        _name: Query<Option<String>>,
        #[oai(name = "page")] _page: Query<Option<String>>,
        #[oai(name = "page_size")] _page_size: Query<Option<String>>,
    ) -> Result<Paginated<OpenStackTenant>, ErrorResponse> {
        let q = RawQuery::of(req);
        let mut v = Validator::default();
        let filter = TenantFilter {
            settings_uuid: q.uuids("service_settings_uuid", &mut v).first().copied(),
            name: q.all("name").first().map(|s| s.to_string()),
        };
        v.finish()?;
        let paged = tenants::list(&self.state.db, &caller.visibility(), &filter, q.page()?).await?;
        let items = paged.items.into_iter().map(|t| self.shape(t)).collect();
        Ok(self.state.paginated(req, items, &paged.page))
    }

    /// Register a tenant (staff).
    #[oai(
        path = "/openstack-tenants/",
        method = "post",
        operation_id = "openstack_tenants_create"
    )]
    async fn create(
        &self,
        caller: Caller,
        body: Json<OpenStackTenantRequest>,
    ) -> Result<TenantResponse, ErrorResponse> {
        caller.require_staff()?;
        let input = tenant_input(body.0)?;
        let view = tenants::create(&self.state.db, &self.state.secret_box, input).await?;
        Ok(TenantResponse::Created(Json(self.shape(view))))
    }

    #[oai(
        path = "/openstack-tenants/:uuid/",
        method = "get",
        operation_id = "openstack_tenants_retrieve"
    )]
    async fn retrieve(
        &self,
        caller: Caller,
        uuid: Path<String>,
    ) -> Result<TenantResponse, ErrorResponse> {
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        let view = tenants::get(&self.state.db, &caller.visibility(), uuid).await?;
        Ok(TenantResponse::Ok(Json(self.shape(view))))
    }

    /// Remove a tenant and its links, instances and token scopes (staff).
    #[oai(
        path = "/openstack-tenants/:uuid/",
        method = "delete",
        operation_id = "openstack_tenants_destroy"
    )]
    async fn destroy(&self, caller: Caller, uuid: Path<String>) -> Result<Deleted, ErrorResponse> {
        caller.require_staff()?;
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        tenants::delete(&self.state.db, uuid).await?;
        Ok(Deleted::NoContent)
    }

    /// Start a sync of this tenant now (staff). 409 while one is already running.
    #[oai(
        path = "/openstack-tenants/:uuid/pull/",
        method = "post",
        operation_id = "openstack_tenants_pull"
    )]
    async fn pull(&self, caller: Caller, uuid: Path<String>) -> Result<Accepted, ErrorResponse> {
        caller.require_staff()?;
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        match &self.state.sync {
            Some(engine) => engine.pull_tenant(uuid).await.map_err(AppError::from)?,
            None => {
                tenants::request_pull(&self.state.db, uuid).await?;
            }
        }
        Ok(Accepted::Accepted(Detail::json(
            "Pull operation was successfully scheduled.",
        )))
    }
}
