//! The HTTP layer: handlers parse, authorize and shape responses; queries live in `catalog`.
pub mod auth;
pub mod errors;
pub mod health;
pub mod images;
pub mod links;
pub mod offerings;
pub mod query;
pub mod settings;
pub mod sync_runs;
pub mod tenants;
pub mod tokens;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, IntoEndpoint, Request, Route};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, OpenApiService, Tags};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::catalog::hex;
use crate::catalog::paging::ResolvedPage;
use crate::crypto::SecretBox;

/// Shared by every handler.
pub struct AppState {
    pub db: DatabaseConnection,
    pub secret_box: SecretBox,
    /// Base of absolute URLs, without a trailing slash.
    pub public_url: String,
    /// The sync engine that `pull/` hands work to; `None` where no syncing happens (spec
    /// generation, API-only tests).
    pub sync: Option<Arc<crate::sync::SyncEngine>>,
    /// The in-memory listing index (see `catalog::read_index`).
    pub read_index: Arc<crate::catalog::read_index::ReadIndex>,
}

impl AppState {
    /// The absolute URL of an object: `{public}/api/{collection}/{hex uuid}/`.
    pub fn object_url(&self, collection: &str, uuid: &Uuid) -> String {
        format!("{}/api/{collection}/{}/", self.public_url, hex(uuid))
    }
}

#[derive(Tags)]
pub enum ApiTags {
    /// The image catalog (Waldur-compatible).
    OpenstackImages,
    /// Registered OpenStack clouds.
    ServiceSettings,
    /// Registered OpenStack projects.
    OpenstackTenants,
    /// Offerings scoped to a cloud or a tenant.
    Offerings,
    /// API tokens.
    Tokens,
    /// The record of tenant syncs.
    SyncRuns,
    /// Liveness.
    Health,
}

/// A page of a list: the body is a bare JSON array, the total and links are headers.
#[derive(ApiResponse)]
pub enum Paginated<T: ToJSON> {
    #[oai(status = 200)]
    Ok(
        Json<Vec<T>>,
        #[oai(header = "X-Result-Count")] u64,
        #[oai(header = "Link")] String,
    ),
}

/// The answer to HEAD on a list: the headers of GET, no body.
#[derive(ApiResponse)]
pub enum PageHeaders {
    #[oai(status = 200)]
    Ok(
        #[oai(header = "X-Result-Count")] u64,
        #[oai(header = "Link")] String,
    ),
}

impl AppState {
    fn link_header(&self, req: &Request, page: &ResolvedPage) -> String {
        // Links use the canonical, slash-terminated form of the path, as Waldur's do.
        let path = format!("{}/", req.uri().path().trim_end_matches('/'));
        links::link_header(&self.public_url, &path, req.uri().query(), page)
    }

    pub fn paginated<T: ToJSON>(
        &self,
        req: &Request,
        items: Vec<T>,
        page: &ResolvedPage,
    ) -> Paginated<T> {
        Paginated::Ok(Json(items), page.total, self.link_header(req, page))
    }

    pub fn page_headers(&self, req: &Request, page: &ResolvedPage) -> PageHeaders {
        PageHeaders::Ok(page.total, self.link_header(req, page))
    }
}

type Apis = (
    images::ImagesApi,
    settings::SettingsApi,
    tenants::TenantsApi,
    offerings::OfferingsApi,
    tokens::TokensApi,
    sync_runs::SyncRunsApi,
    health::HealthApi,
);

pub fn openapi_service(state: Arc<AppState>) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            images::ImagesApi {
                state: state.clone(),
            },
            settings::SettingsApi {
                state: state.clone(),
            },
            tenants::TenantsApi {
                state: state.clone(),
            },
            offerings::OfferingsApi {
                state: state.clone(),
            },
            tokens::TokensApi {
                state: state.clone(),
            },
            sync_runs::SyncRunsApi {
                state: state.clone(),
            },
            health::HealthApi { state },
        ),
        "cloudcensus",
        env!("CARGO_PKG_VERSION"),
    )
    .description("A census of OpenStack images and instances, served with a Waldur-compatible API.")
}

/// The OpenAPI document, as committed in `openapi/openapi.json`.
pub fn spec_json(state: Arc<AppState>) -> String {
    openapi_service(state).spec()
}

/// Waldur's paths end in a slash while poem-openapi routes them without; accept both forms
/// by routing on the slash-less one.
fn without_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.starts_with("/api/")
        && path.len() > 1
        && path.ends_with('/')
        && !path.starts_with("/api/docs")
    {
        let trimmed = path.trim_end_matches('/');
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = new.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

pub fn app(state: Arc<AppState>) -> impl Endpoint {
    let service = openapi_service(state.clone());
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    Route::new()
        .at("/api/openapi.json", spec)
        .nest("/api/docs", docs)
        .nest("/", service.into_endpoint())
        .before(|req| async move { Ok(without_trailing_slash(req)) })
        .data(state)
        .catch_all_error(errors::reshape_framework_error)
}
