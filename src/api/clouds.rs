//! `/api/service-settings/`: the registered OpenStack clouds (staff writes).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::service_settings;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::auth::Caller;
use super::errors::ErrorResponse;
use super::query::RawQuery;
use super::{ApiTags, AppState, Paginated};
use crate::catalog::settings::{self, SettingsInput};
use crate::catalog::{hex, parse_uuid};
use crate::error::AppError;

pub struct SettingsApi {
    pub state: Arc<AppState>,
}

#[derive(Object, Default)]
pub struct SettingsOptions {
    /// Keystone URL, e.g. `https://keystone.example.org:5000/v3`.
    pub auth_url: String,
    pub region: String,
    /// Endpoint interface: `public`, `internal` or `admin`.
    pub interface: String,
    /// Keystone domain of the user and project.
    pub domain: String,
}

#[derive(Object, Default)]
pub struct SettingsOptionsRequest {
    pub auth_url: Option<String>,
    pub region: Option<String>,
    pub interface: Option<String>,
    pub domain: Option<String>,
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
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

/// Credentials are write-only: they are encrypted at rest and never returned.
#[derive(Object, Default)]
#[oai(rename = "ServiceSettingsRequest")]
pub struct ServiceSettingsRequest {
    pub name: Option<String>,
    #[oai(rename = "type")]
    pub kind: Option<String>,
    pub shared: Option<bool>,
    pub options: Option<SettingsOptionsRequest>,
    #[oai(write_only)]
    pub username: Option<String>,
    #[oai(write_only)]
    pub password: Option<String>,
    #[oai(write_only)]
    pub project_name: Option<String>,
    #[oai(write_only)]
    pub project_id: Option<String>,
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

impl From<ServiceSettingsRequest> for SettingsInput {
    fn from(r: ServiceSettingsRequest) -> Self {
        let options = r.options.unwrap_or_default();
        SettingsInput {
            name: r.name,
            r#type: r.kind,
            shared: r.shared,
            auth_url: options.auth_url,
            region: options.region,
            interface: options.interface,
            domain: options.domain,
            username: r.username,
            password: r.password,
            project_name: r.project_name,
            project_id: r.project_id,
            application_credential_id: r.application_credential_id,
            application_credential_name: r.application_credential_name,
            application_credential_user: r.application_credential_user,
            application_credential_secret: r.application_credential_secret,
        }
    }
}

#[derive(ApiResponse)]
pub enum SettingsResponse {
    #[oai(status = 200)]
    Ok(Json<ServiceSettings>),
    #[oai(status = 201)]
    Created(Json<ServiceSettings>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    NoContent,
}

impl SettingsApi {
    fn shape(&self, s: service_settings::Model) -> ServiceSettings {
        ServiceSettings {
            url: self.state.object_url("service-settings", &s.uuid),
            uuid: hex(&s.uuid),
            name: s.name,
            kind: s.r#type,
            state: s.state,
            error_message: s.error_message,
            shared: s.shared,
            options: SettingsOptions {
                auth_url: s.auth_url,
                region: s.region,
                interface: s.interface,
                domain: s.domain,
            },
            created: s.created,
            modified: s.modified,
        }
    }

    async fn update(
        &self,
        caller: Caller,
        uuid: &str,
        body: ServiceSettingsRequest,
        full: bool,
    ) -> Result<SettingsResponse, ErrorResponse> {
        caller.require_staff()?;
        let uuid = parse_uuid(uuid).ok_or(AppError::NotFound)?;
        let s = settings::update(
            &self.state.db,
            &self.state.secret_box,
            uuid,
            body.into(),
            full,
        )
        .await?;
        Ok(SettingsResponse::Ok(Json(self.shape(s))))
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::ServiceSettings")]
impl SettingsApi {
    /// Registered clouds (a scoped token sees the clouds of its tenants).
    #[oai(
        path = "/service-settings/",
        method = "get",
        operation_id = "service_settings_list"
    )]
    async fn list(
        &self,
        caller: Caller,
        req: &Request,
        /// Exact name.
        #[oai(name = "name")]
        _name: Query<Option<String>>,
        #[oai(name = "page")] _page: Query<Option<String>>,
        #[oai(name = "page_size")] _page_size: Query<Option<String>>,
    ) -> Result<Paginated<ServiceSettings>, ErrorResponse> {
        let q = RawQuery::of(req);
        let paged = settings::list(
            &self.state.db,
            &caller.visibility(),
            q.all("name").first().copied(),
            q.page()?,
        )
        .await?;
        let items = paged.items.into_iter().map(|s| self.shape(s)).collect();
        Ok(self.state.paginated(req, items, &paged.page))
    }

    /// Register a cloud (staff).
    #[oai(
        path = "/service-settings/",
        method = "post",
        operation_id = "service_settings_create"
    )]
    async fn create(
        &self,
        caller: Caller,
        body: Json<ServiceSettingsRequest>,
    ) -> Result<SettingsResponse, ErrorResponse> {
        caller.require_staff()?;
        let s = settings::create(&self.state.db, &self.state.secret_box, body.0.into()).await?;
        Ok(SettingsResponse::Created(Json(self.shape(s))))
    }

    #[oai(
        path = "/service-settings/:uuid/",
        method = "get",
        operation_id = "service_settings_retrieve"
    )]
    async fn retrieve(
        &self,
        caller: Caller,
        uuid: Path<String>,
    ) -> Result<SettingsResponse, ErrorResponse> {
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        let s = settings::get(&self.state.db, &caller.visibility(), uuid).await?;
        Ok(SettingsResponse::Ok(Json(self.shape(s))))
    }

    /// Replace a cloud's fields (staff). Credentials change only when given.
    #[oai(
        path = "/service-settings/:uuid/",
        method = "put",
        operation_id = "service_settings_update"
    )]
    async fn put(
        &self,
        caller: Caller,
        uuid: Path<String>,
        body: Json<ServiceSettingsRequest>,
    ) -> Result<SettingsResponse, ErrorResponse> {
        self.update(caller, &uuid.0, body.0, true).await
    }

    /// Change some of a cloud's fields (staff).
    #[oai(
        path = "/service-settings/:uuid/",
        method = "patch",
        operation_id = "service_settings_partial_update"
    )]
    async fn patch(
        &self,
        caller: Caller,
        uuid: Path<String>,
        body: Json<ServiceSettingsRequest>,
    ) -> Result<SettingsResponse, ErrorResponse> {
        self.update(caller, &uuid.0, body.0, false).await
    }

    /// Start a sync of every tenant of this cloud now (staff).
    #[oai(
        path = "/service-settings/:uuid/pull/",
        method = "post",
        operation_id = "service_settings_pull"
    )]
    async fn pull(
        &self,
        caller: Caller,
        uuid: Path<String>,
    ) -> Result<super::tenants::Accepted, ErrorResponse> {
        caller.require_staff()?;
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        match &self.state.sync {
            Some(engine) => {
                engine.pull_settings(uuid).await.map_err(AppError::from)?;
            }
            None => {
                settings::get(&self.state.db, &crate::catalog::Visibility::All, uuid).await?;
            }
        }
        Ok(super::tenants::Accepted::Accepted(
            super::errors::Detail::json("Pull operation was successfully scheduled."),
        ))
    }

    /// Remove a cloud with its tenants, images and instances (staff).
    #[oai(
        path = "/service-settings/:uuid/",
        method = "delete",
        operation_id = "service_settings_destroy"
    )]
    async fn destroy(&self, caller: Caller, uuid: Path<String>) -> Result<Deleted, ErrorResponse> {
        caller.require_staff()?;
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        settings::delete(&self.state.db, uuid).await?;
        Ok(Deleted::NoContent)
    }
}
