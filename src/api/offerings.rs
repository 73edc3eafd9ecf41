//! `/api/offerings/`: offerings scoped to a cloud or a tenant (staff).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::Created;
use super::auth::Staff;
use super::clouds::Deleted;
use super::errors::{ApiError, ErrorResponse};
use super::params::{PAGE_PARAMS, ParamDoc, Params, Path, QueryDocs, QueryParams};
use super::query::{RawQuery, collection_and_uuid};
use super::validate::{BLANK, NAME_MAX, REQUIRED, TEXT_MAX, Validator};
use super::{ApiTags, AppState, Paginated};
use crate::catalog::offerings::{OfferingView, ScopeRef};
use crate::catalog::paging::PageRequest;
use crate::catalog::{CatalogError, hex};

pub struct OfferingsApi;

#[derive(Object)]
#[oai(rename = "Offering")]
pub struct Offering {
    pub url: String,
    pub uuid: String,
    pub name: String,
    /// URL of the service settings or tenant this offering covers.
    #[oai(nullable)]
    pub scope: Option<String>,
    #[oai(nullable)]
    pub scope_uuid: Option<String>,
    pub created: DateTime<Utc>,
}

#[derive(Object, Default)]
#[oai(rename = "OfferingRequest")]
pub struct OfferingRequest {
    #[oai(nullable)]
    pub name: Option<String>,
    /// URL of a service settings object or of a tenant.
    #[oai(nullable)]
    pub scope: Option<String>,
}

fn shape(state: &AppState, v: OfferingView) -> Offering {
    let scope = match (v.tenant_uuid, v.cloud_uuid) {
        (Some(t), _) => Some((state.object_url("openstack-tenants", &t), t)),
        (None, Some(s)) => Some((state.object_url("service-settings", &s), s)),
        (None, None) => None,
    };
    Offering {
        url: state.object_url("offerings", &v.offering.uuid),
        uuid: hex(&v.offering.uuid),
        name: v.offering.name,
        scope_uuid: scope.as_ref().map(|(_, u)| hex(u)),
        scope: scope.map(|(url, _)| url),
        created: v.offering.created,
    }
}

impl OfferingRequest {
    fn check(self) -> Result<(String, ScopeRef), ApiError> {
        let mut v = Validator::default();
        v.at_most("name", self.name.as_deref(), NAME_MAX);
        v.at_most("scope", self.scope.as_deref(), TEXT_MAX);
        let name = v.require("name", &self.name).cloned().unwrap_or_default();
        if self.name.is_some() && name.trim().is_empty() {
            v.add("name", BLANK);
        }
        let scope = v.require("scope", &self.scope).and_then(|raw| {
            let scope = match collection_and_uuid(raw) {
                Some((c, u)) if c == "service-settings" => Some(ScopeRef::Cloud(u)),
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
        let scope = scope.ok_or_else(|| ApiError::field("scope", REQUIRED))?;
        Ok((name.trim().to_string(), scope))
    }
}

/// `GET /offerings/`: the page.
pub struct OfferingListQuery {
    page: PageRequest,
}

impl QueryParams for OfferingListQuery {
    const PARAMS: &'static [&'static [ParamDoc]] = &[PAGE_PARAMS];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        Ok(Self { page: q.page()? })
    }
}

impl QueryDocs for OfferingsApi {
    const QUERIES: &'static [(&'static str, &'static [&'static [ParamDoc]])] =
        &[("offerings_list", OfferingListQuery::PARAMS)];
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Offerings")]
impl OfferingsApi {
    #[oai(path = "/offerings/", method = "get", operation_id = "offerings_list")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        req: &Request,
        Params(q): Params<OfferingListQuery>,
    ) -> Result<Paginated<Offering>, ErrorResponse> {
        let paged = state.catalog.offerings().list(q.page).await?;
        Ok(state.paginated(req, paged.map(|o| shape(&state, o))))
    }

    #[oai(
        path = "/offerings/",
        method = "post",
        operation_id = "offerings_create"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        body: Json<OfferingRequest>,
    ) -> Result<Created<Offering>, ErrorResponse> {
        let (name, scope) = body.0.check()?;
        let view = match state.catalog.offerings().create(&name, scope).await {
            Err(CatalogError::NotFound) => {
                return Err(ApiError::field("scope", "Object does not exist.").into());
            }
            other => other?,
        };
        Ok(Created::Created(Json(shape(&state, view))))
    }

    #[oai(
        path = "/offerings/:uuid/",
        method = "get",
        operation_id = "offerings_retrieve"
    )]
    async fn retrieve(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
    ) -> Result<Json<Offering>, ErrorResponse> {
        let view = state.catalog.offerings().get(uuid.0).await?;
        Ok(Json(shape(&state, view)))
    }

    #[oai(
        path = "/offerings/:uuid/",
        method = "delete",
        operation_id = "offerings_destroy"
    )]
    async fn destroy(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
    ) -> Result<Deleted, ErrorResponse> {
        state.catalog.offerings().delete(uuid.0).await?;
        Ok(Deleted::NoContent)
    }
}
