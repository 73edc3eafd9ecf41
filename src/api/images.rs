//! `/api/openstack-images/`: list, HEAD count, retrieve, usage_stats.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::auth::Caller;
use super::errors::{ApiError, ErrorResponse};
use super::params::{PAGE_PARAMS, ParamDoc, Params, Path, QueryDocs, QueryParams};
use super::query::RawQuery;
use super::validate::Validator;
use super::{ApiTags, AppState, PageBytes, PageHeaders, Paginated};
use crate::catalog::hex;
use crate::catalog::images::{ImageFilter, ListedImage};
use crate::catalog::paging::{PageRequest, Paged};
use crate::catalog::usage::{UsageFilter, UsageGroup, UsageRow};
use crate::params;

pub struct ImagesApi;

/// An OpenStack image, as Waldur's `OpenStackImage`.
#[derive(Object)]
#[oai(rename = "OpenStackImage")]
pub struct OpenStackImage {
    pub url: String,
    pub uuid: String,
    pub name: String,
    /// Minimum disk size in MiB.
    pub min_disk: i64,
    /// Minimum memory size in MiB.
    pub min_ram: i64,
    pub settings: String,
    pub backend_id: String,
    #[oai(nullable)]
    pub backend_created_at: Option<DateTime<Utc>>,
    pub hw_rescue_device: String,
    pub hw_rescue_bus: String,
    pub is_rescue_image: bool,
}

#[derive(Object)]
#[oai(rename = "ImageUsageStats")]
pub struct ImageUsageStats {
    pub name: String,
    pub running_instances_count: i64,
    pub created_instances_count: i64,
    /// With `group_by=tenant`: the row's tenant.
    #[oai(skip_serializing_if_is_none)]
    pub tenant_uuid: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub tenant_name: Option<String>,
    /// With `group_by=settings`: the row's cloud.
    #[oai(skip_serializing_if_is_none)]
    pub settings_uuid: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub settings_name: Option<String>,
}

#[derive(ApiResponse)]
pub enum ImageResponse {
    #[oai(status = 200)]
    Ok(Json<OpenStackImage>),
}

fn shape(state: &AppState, image: ListedImage) -> OpenStackImage {
    OpenStackImage {
        url: state.object_url("openstack-images", &image.uuid),
        uuid: hex(&image.uuid),
        settings: state.object_url("service-settings", &image.cloud_uuid),
        is_rescue_image: !image.hw_rescue_device.is_empty(),
        name: image.name,
        min_disk: image.min_disk,
        min_ram: image.min_ram,
        backend_id: image.backend_id,
        backend_created_at: image.backend_created_at,
        hw_rescue_device: image.hw_rescue_device,
        hw_rescue_bus: image.hw_rescue_bus,
    }
}

fn usage_item(row: UsageRow, group: Option<UsageGroup>) -> ImageUsageStats {
    let (uuid, name) = row.group.map(|(u, n)| (hex(&u), n)).unzip();
    let (tenant, settings) = match group {
        Some(UsageGroup::Tenant) => ((uuid, name), (None, None)),
        Some(UsageGroup::Settings) => ((None, None), (uuid, name)),
        None => ((None, None), (None, None)),
    };
    ImageUsageStats {
        name: row.name,
        running_instances_count: row.running_instances_count,
        created_instances_count: row.created_instances_count,
        tenant_uuid: tenant.0,
        tenant_name: tenant.1,
        settings_uuid: settings.0,
        settings_name: settings.1,
    }
}

/// The filters of the image list. Repeated parameters combine with AND.
const IMAGE_FILTER_PARAMS: &[ParamDoc] = params![
    name: "Case-insensitive substring of the name.",
    name_exact: "Exact name.",
    settings: "URL of a service settings object.",
    settings_uuid,
    tenant: "URL of a tenant.",
    tenant_uuid,
    offering_uuid,
    is_rescue_image,
    show_duplicate_names: "List every image, not only the newest per (settings, name).",
];

/// `GET`/`HEAD /openstack-images/`: the filters and the page.
pub struct ImageListQuery {
    filter: ImageFilter,
    page: PageRequest,
}

impl QueryParams for ImageListQuery {
    const PARAMS: &'static [&'static [ParamDoc]] = &[IMAGE_FILTER_PARAMS, PAGE_PARAMS];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        let mut clouds = q.url_uuids("settings", &mut v);
        clouds.extend(q.uuids("settings_uuid", &mut v));
        let mut tenants = q.url_uuids("tenant", &mut v);
        tenants.extend(q.uuids("tenant_uuid", &mut v));
        let filter = ImageFilter {
            name_contains: q.all("name").into_iter().map(String::from).collect(),
            name_exact: q.all("name_exact").into_iter().map(String::from).collect(),
            clouds,
            tenants,
            offerings: q.uuids("offering_uuid", &mut v),
            is_rescue_image: q.bool("is_rescue_image", &mut v),
            show_duplicate_names: q.bool("show_duplicate_names", &mut v).unwrap_or(false),
        };
        v.finish()?;
        Ok(Self {
            filter,
            page: q.page()?,
        })
    }
}

/// `usage_stats/`: which clouds, the optional second key, and the page.
pub struct UsageQuery {
    filter: UsageFilter,
    group_by: Option<UsageGroup>,
    page: PageRequest,
}

impl QueryParams for UsageQuery {
    const PARAMS: &'static [&'static [ParamDoc]] = &[
        params![
            shared: "Only clouds marked shared.",
            service_provider: "Only these clouds (service settings uuids; repeatable).",
            group_by: "`tenant` or `settings`: a row per image name and tenant (with `tenant_uuid`, `tenant_name`) or cloud (`settings_uuid`, `settings_name`); by name alone by default, as Waldur.",
        ],
        PAGE_PARAMS,
    ];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        let filter = UsageFilter {
            shared: q.bool("shared", &mut v),
            service_providers: q.uuids("service_provider", &mut v),
        };
        let group_by = match q.first("group_by").map(str::trim) {
            None | Some("name") => None,
            Some("tenant") => Some(UsageGroup::Tenant),
            Some("settings") => Some(UsageGroup::Settings),
            Some(other) => {
                v.add("group_by", format!("\"{other}\" is not a valid choice."));
                None
            }
        };
        v.finish()?;
        Ok(Self {
            filter,
            group_by,
            page: q.page()?,
        })
    }
}

impl QueryDocs for ImagesApi {
    const QUERIES: &'static [(&'static str, &'static [&'static [ParamDoc]])] = &[
        ("openstack_images_list", ImageListQuery::PARAMS),
        ("openstack_images_count", ImageListQuery::PARAMS),
        ("openstack_images_usage_stats_retrieve", UsageQuery::PARAMS),
        ("openstack_images_usage_stats_count", UsageQuery::PARAMS),
    ];
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::OpenstackImages")]
impl ImagesApi {
    /// List images visible to the caller, ordered by name then uuid.
    #[oai(
        path = "/openstack-images/",
        method = "get",
        operation_id = "openstack_images_list"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(q): Params<ImageListQuery>,
    ) -> Result<PageBytes<OpenStackImage>, ErrorResponse> {
        // Rendered once per listing-index snapshot, scope and request: the same request again
        // is sent the same bytes without listing, shaping or serializing.
        let key = state.render_key(req);
        let page = state
            .catalog
            .images()
            .list_rendered(
                &caller.scope(),
                &q.filter,
                q.page,
                key.as_deref(),
                |paged| state.render_page(req, paged.map(|r| shape(&state, r))),
            )
            .await?;
        Ok(page.into())
    }

    /// The headers of the list (`X-Result-Count`, `Link`) without a body.
    #[oai(
        path = "/openstack-images/",
        method = "head",
        operation_id = "openstack_images_count"
    )]
    async fn count(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(q): Params<ImageListQuery>,
    ) -> Result<PageHeaders, ErrorResponse> {
        let total = state
            .catalog
            .images()
            .count(&caller.scope(), &q.filter)
            .await?;
        Ok(state.page_headers(req, &q.page.resolve(total)?))
    }

    /// Per image name: instances running it now, and instances ever created from it.
    #[oai(
        path = "/openstack-images/usage_stats/",
        method = "get",
        operation_id = "openstack_images_usage_stats_retrieve"
    )]
    async fn usage_stats(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(q): Params<UsageQuery>,
    ) -> Result<Paginated<ImageUsageStats>, ErrorResponse> {
        let usage = state.catalog.usage();
        let group = q.group_by;
        let paged = match group {
            None => usage.stats(&caller.scope(), &q.filter, q.page).await?,
            Some(g) => {
                let rows = usage.grouped(&caller.scope(), &q.filter, g).await?;
                let (page, items) = q.page.slice(&rows)?;
                Paged {
                    items: items.to_vec(),
                    page,
                }
            }
        };
        Ok(state.paginated(req, paged.map(|r| usage_item(r, group))))
    }

    /// The headers of usage_stats without a body.
    #[oai(
        path = "/openstack-images/usage_stats/",
        method = "head",
        operation_id = "openstack_images_usage_stats_count"
    )]
    async fn usage_stats_count(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(q): Params<UsageQuery>,
    ) -> Result<PageHeaders, ErrorResponse> {
        let usage = state.catalog.usage();
        let total = match q.group_by {
            None => usage.count(&caller.scope(), &q.filter).await?,
            Some(g) => usage.grouped(&caller.scope(), &q.filter, g).await?.len() as u64,
        };
        Ok(state.page_headers(req, &q.page.resolve(total)?))
    }

    /// One image. Unknown, malformed or invisible uuids are all 404.
    #[oai(
        path = "/openstack-images/:uuid/",
        method = "get",
        operation_id = "openstack_images_retrieve"
    )]
    async fn retrieve(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        uuid: Path<Uuid>,
    ) -> Result<ImageResponse, ErrorResponse> {
        let row = state.catalog.images().get(&caller.scope(), uuid.0).await?;
        Ok(ImageResponse::Ok(Json(shape(&state, row))))
    }
}
