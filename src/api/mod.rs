//! The HTTP layer: handlers parse, authorize and shape responses; the catalog answers.
//! Access is a type (`auth::Caller`, `auth::Staff`), parameters are types (`params`), and
//! `errors` is the one place that knows status codes and error bodies.
pub mod auth;
mod cloud_check;
mod clouds;
mod credentials;
mod dashboard;
pub mod errors;
mod fields;
mod glance;
pub mod guard;
mod health;
mod image_info;
mod image_metadata;
mod image_quotas;
mod images;
mod links;
mod metrics;
mod offerings;
pub mod params;
mod query;
mod spec;
mod sync_runs;
mod tenants;
mod tls;
mod tokens;
mod usage_report;
mod validate;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock};

use poem::http::HeaderValue;
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, OpenApiService, Tags};
use uuid::Uuid;

use crate::catalog::CatalogError;
use crate::catalog::paging::{Paged, ResolvedPage};
use crate::catalog::{Catalog, hex};
use crate::sync::SyncEngine;
use errors::ApiError;
use params::Documented;

/// The rules a cloud registered by `clouds import` meets too, as the API checks them.
pub use clouds::is_http_url;
pub use validate::{NAME_MAX, TEXT_MAX};

/// Shared by every handler (attached to every request; handlers take it as `Data`).
pub struct AppState {
    pub catalog: Catalog,
    /// Base of absolute URLs, without a trailing slash.
    pub public_url: String,
    /// The sync engine that `pull/` hands work to.
    pub sync: Arc<SyncEngine>,
    /// Request size limits.
    pub limits: guard::Limits,
    /// The bearer token `/metrics` asks for; `None`: open.
    pub metrics_token: Option<String>,
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
    /// Tenants' Glance image quotas.
    ImageQuotas,
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

/// A page of a list rendered once, the body's bytes exactly as [`Paginated`] writes them, with
/// its headers: answers kept with the listing index (`Images::list_rendered`) are sent again
/// as they are (no shaping, no JSON tree, no link building).
pub struct RenderedPage {
    body: bytes::Bytes,
    total: u64,
    link: Option<HeaderValue>,
}

impl RenderedPage {
    /// About how much memory the page holds.
    pub fn size(&self) -> usize {
        self.body.len() + self.link.as_ref().map_or(0, HeaderValue::len)
    }
}

/// A [`Paginated`] page sent from its [`RenderedPage`]: the same response, documented the
/// same (its OpenAPI description is `Paginated<T>`'s).
pub struct PageBytes<T>(Arc<RenderedPage>, PhantomData<fn() -> T>);

impl<T> From<Arc<RenderedPage>> for PageBytes<T> {
    fn from(page: Arc<RenderedPage>) -> Self {
        Self(page, PhantomData)
    }
}

impl<T: ToJSON> ApiResponse for PageBytes<T> {
    fn meta() -> MetaResponses {
        Paginated::<T>::meta()
    }

    fn register(registry: &mut Registry) {
        Paginated::<T>::register(registry);
    }
}

impl<T> IntoResponse for PageBytes<T> {
    /// Headers in `Paginated`'s order: content type, count, link.
    fn into_response(self) -> Response {
        let page = &self.0;
        let mut resp = Response::builder()
            .content_type(Json::<Vec<serde_json::Value>>::CONTENT_TYPE)
            .header("X-Result-Count", page.total)
            .body(page.body.clone());
        if let Some(link) = &page.link {
            resp.headers_mut().insert("Link", link.clone());
        }
        resp
    }
}

/// A newly created object.
#[derive(ApiResponse)]
pub enum Created<T: ToJSON> {
    #[oai(status = 201)]
    Created(Json<T>),
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

    /// What names a list request's rendering among those kept with the listing index: its
    /// path and whole query (every parameter may change the bytes). `None` when the query
    /// carries a token: a secret is never kept as a key, and the key would be one per token.
    pub fn render_key(&self, req: &Request) -> Option<String> {
        let query = req.uri().query().unwrap_or_default();
        if links::has_secret(query) {
            return None;
        }
        Some(format!("{}?{query}", req.uri().path()))
    }

    pub fn paginated<T: ToJSON>(&self, req: &Request, paged: Paged<T>) -> Paginated<T> {
        let link = self.link_header(req, &paged.page);
        Paginated::Ok(Json(paged.items), paged.page.total, link)
    }

    /// The page as [`Paginated`] would send it, rendered once (see [`RenderedPage`]), and
    /// about how many bytes it holds.
    pub fn render_page<T: ToJSON>(
        &self,
        req: &Request,
        paged: Paged<T>,
    ) -> Result<(RenderedPage, usize), ApiError> {
        // What `Json<Vec<T>>` writes: the same tree, serialized the same way.
        let body = serde_json::to_vec(&paged.items.to_json())
            .map_err(|e| ApiError::Internal(CatalogError::Computation(e.to_string())))?;
        let page = RenderedPage {
            body: body.into(),
            total: paged.page.total,
            // As `Paginated`'s header: left out when it is not a valid header value.
            link: HeaderValue::from_str(&self.link_header(req, &paged.page)).ok(),
        };
        let size = page.size();
        Ok((page, size))
    }

    pub fn page_headers(&self, req: &Request, page: &ResolvedPage) -> PageHeaders {
        PageHeaders::Ok(page.total, self.link_header(req, page))
    }
}

type Apis = spec::BeforeHandlers<(
    Documented<images::ImagesApi>,
    image_metadata::ImageMetadataApi,
    Documented<usage_report::UsageReportApi>,
    Documented<clouds::CloudsApi>,
    Documented<tenants::TenantsApi>,
    Documented<offerings::OfferingsApi>,
    tokens::TokensApi,
    Documented<sync_runs::SyncRunsApi>,
    Documented<image_quotas::ImageQuotasApi>,
    health::HealthApi,
)>;

fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        spec::BeforeHandlers((
            Documented(images::ImagesApi),
            image_metadata::ImageMetadataApi,
            Documented(usage_report::UsageReportApi),
            Documented(clouds::CloudsApi),
            Documented(tenants::TenantsApi),
            Documented(offerings::OfferingsApi),
            tokens::TokensApi,
            Documented(sync_runs::SyncRunsApi),
            Documented(image_quotas::ImageQuotasApi),
            health::HealthApi,
        )),
        "cloudcensus",
        env!("CARGO_PKG_VERSION"),
    )
    .description("A census of OpenStack images and instances, served with a Waldur-compatible API.")
}

/// How metrics name the route poem matched: its path in the OpenAPI document, with the
/// parameters' names (`/api/openstack-images/:uuid`), rather than poem-openapi's form of it
/// (`/api/openstack-images/:param0`); routes outside the document as matched, and
/// `unmatched` when none was. (Not `{uuid}`: some Prometheus text parsers refuse braces in
/// label values.)
pub fn route_label(matched: Option<&str>) -> String {
    static DOCUMENTED: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
        let spec: serde_json::Value = serde_json::from_str(&spec_json()).unwrap_or_default();
        let paths = spec["paths"].as_object().cloned().unwrap_or_default();
        paths
            .keys()
            .map(|path| (poem_form(path), named_form(path)))
            .collect()
    });
    match matched {
        None | Some("") => "unmatched".to_string(),
        Some(pattern) => DOCUMENTED
            .get(pattern)
            .cloned()
            .unwrap_or_else(|| pattern.to_string()),
    }
}

/// `/a/{x}/b/{y}` as poem-openapi routes it: `/a/:param0/b/:param1`.
fn poem_form(path: &str) -> String {
    let mut params = 0;
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                params += 1;
                format!(":param{}", params - 1)
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `/a/{x}/b/{y}` as `/a/:x/b/:y`.
fn named_form(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => segment.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// The OpenAPI document, as committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    openapi_service().spec()
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
    let limits = state.limits;
    let service = openapi_service();
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    Route::new()
        .at("/api/openapi.json", spec)
        .at("/metrics", poem::get(metrics::scrape))
        .nest("/api/docs", docs)
        // The dashboard is outside the OpenAPI document. Its page is served by a wrapper of
        // the API's endpoint: poem routes `/` to an endpoint nested at `/`, before `at("/")`.
        .nest("/", dashboard::WithIndex(service.into_endpoint()))
        .at("/assets/:name", poem::get(dashboard::asset))
        // Glance's API, not ours: outside the document, answering in Glance's shapes.
        .nest(glance::PREFIX, glance::GlanceFace)
        .before(|req| async move { Ok(without_trailing_slash(req)) })
        .around(move |next, req| guard::guard(next, req, limits))
        .data(state)
        .catch_all_error(errors::reshape_framework_error)
}
