//! `/api/offerings/`: offerings scoped to a cloud or a tenant (staff).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::auth::Caller;
use super::errors::ErrorResponse;
use super::query::{RawQuery, collection_and_uuid};
use super::settings::Deleted;
use super::{ApiTags, AppState, Paginated};
use crate::catalog::offerings::{self, OfferingView, ScopeRef};
use crate::catalog::{hex, parse_uuid};
use crate::error::{AppError, Validator};

pub struct OfferingsApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
#[oai(rename = "Offering")]
pub struct Offering {
    pub url: String,
    pub uuid: String,
    pub name: String,
    /// URL of the service settings or tenant this offering covers.
    pub scope: Option<String>,
    pub scope_uuid: Option<String>,
    pub created: DateTime<Utc>,
}

#[derive(Object, Default)]
#[oai(rename = "OfferingRequest")]
pub struct OfferingRequest {
    pub name: Option<String>,
    /// URL of a service settings object or of a tenant.
    pub scope: Option<String>,
}

#[derive(ApiResponse)]
pub enum OfferingResponse {
    #[oai(status = 200)]
    Ok(Json<Offering>),
    #[oai(status = 201)]
    Created(Json<Offering>),
}

impl OfferingsApi {
    fn shape(&self, v: OfferingView) -> Offering {
        let scope = match (v.tenant_uuid, v.settings_uuid) {
            (Some(t), _) => Some((self.state.object_url("openstack-tenants", &t), t)),
            (None, Some(s)) => Some((self.state.object_url("service-settings", &s), s)),
            (None, None) => None,
        };
        Offering {
            url: self.state.object_url("offerings", &v.offering.uuid),
            uuid: hex(&v.offering.uuid),
            name: v.offering.name,
            scope_uuid: scope.as_ref().map(|(_, u)| hex(u)),
            scope: scope.map(|(url, _)| url),
            created: v.offering.created,
        }
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Offerings")]
impl OfferingsApi {
    #[oai(path = "/offerings/", method = "get", operation_id = "offerings_list")]
    async fn list(
        &self,
        caller: Caller,
        req: &Request,
        #[oai(name = "page")] _page: Query<Option<String>>,
        #[oai(name = "page_size")] _page_size: Query<Option<String>>,
    ) -> Result<Paginated<Offering>, ErrorResponse> {
        caller.require_staff()?;
        let q = RawQuery::of(req);
        let paged = offerings::list(&self.state.db, q.page()?).await?;
        let items = paged.items.into_iter().map(|o| self.shape(o)).collect();
        Ok(self.state.paginated(req, items, &paged.page))
    }

    #[oai(
        path = "/offerings/",
        method = "post",
        operation_id = "offerings_create"
    )]
    async fn create(
        &self,
        caller: Caller,
        body: Json<OfferingRequest>,
    ) -> Result<OfferingResponse, ErrorResponse> {
        caller.require_staff()?;
        let mut v = Validator::default();
        let name = v.require("name", &body.0.name).cloned().unwrap_or_default();
        if body.0.name.is_some() && name.trim().is_empty() {
            v.add("name", "This field may not be blank.");
        }
        let scope = v.require("scope", &body.0.scope).and_then(|raw| {
            let scope = match collection_and_uuid(raw) {
                Some((c, u)) if c == "service-settings" => Some(ScopeRef::Settings(u)),
                Some((c, u)) if c == "openstack-tenants" => Some(ScopeRef::Tenant(u)),
                _ => None,
            };
            if scope.is_none() {
                v.add(
                    "scope",
                    "Give the URL of a service settings object or of a tenant.",
                );
            }
            scope
        });
        v.finish()?;
        let scope = scope.ok_or_else(|| AppError::field("scope", "This field is required."))?;
        let view = offerings::create(&self.state.db, name.trim(), scope).await?;
        Ok(OfferingResponse::Created(Json(self.shape(view))))
    }

    #[oai(
        path = "/offerings/:uuid/",
        method = "get",
        operation_id = "offerings_retrieve"
    )]
    async fn retrieve(
        &self,
        caller: Caller,
        uuid: Path<String>,
    ) -> Result<OfferingResponse, ErrorResponse> {
        caller.require_staff()?;
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        Ok(OfferingResponse::Ok(Json(
            self.shape(offerings::get(&self.state.db, uuid).await?),
        )))
    }

    #[oai(
        path = "/offerings/:uuid/",
        method = "delete",
        operation_id = "offerings_destroy"
    )]
    async fn destroy(&self, caller: Caller, uuid: Path<String>) -> Result<Deleted, ErrorResponse> {
        caller.require_staff()?;
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        offerings::delete(&self.state.db, uuid).await?;
        Ok(Deleted::NoContent)
    }
}
