//! `/api/openstack-images/`: list, HEAD count, retrieve, usage_stats.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::auth::Caller;
use super::errors::{ApiError, ErrorResponse};
use super::fields::{self, FieldSet, Restricted};
use super::params::{PAGE_PARAMS, ParamDoc, Params, Path, QueryDocs, QueryParams};
use super::query::{RawQuery, parse_time};
use super::validate::Validator;
use super::{ApiTags, AppState, PageBytes, PageHeaders, Paginated};
use crate::catalog::images::{DetailFilter, ImageDetail, ImageFilter, ImageOrder, SortKey};
use crate::catalog::paging::{PageRequest, Paged};
use crate::catalog::usage::{UsageFilter, UsageGroup, UsageRow};
use crate::catalog::{ImageVisibility, hex};
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
    // Beyond Waldur's fields: Glance's detail (clients generated from Waldur's spec keep
    // these as additional properties).
    /// Glance's status: `active`, `queued`, `deactivated`, ...
    pub status: String,
    pub visibility: Visibility,
    /// Bytes.
    #[oai(nullable)]
    pub size: Option<i64>,
    #[oai(nullable)]
    pub disk_format: Option<String>,
    #[oai(nullable)]
    pub container_format: Option<String>,
    /// MD5 of the data, where Glance computed one.
    #[oai(nullable)]
    pub checksum: Option<String>,
    #[oai(nullable)]
    pub os_hash_algo: Option<String>,
    #[oai(nullable)]
    pub os_hash_value: Option<String>,
    /// The owning project's id.
    #[oai(nullable)]
    pub owner: Option<String>,
    pub protected: bool,
    pub os_hidden: bool,
    pub tags: Vec<String>,
    #[oai(nullable)]
    pub os_distro: Option<String>,
    #[oai(nullable)]
    pub os_version: Option<String>,
    #[oai(nullable)]
    pub architecture: Option<String>,
    #[oai(nullable)]
    pub backend_updated_at: Option<DateTime<Utc>>,
    /// Registered tenants that see the image (of the caller's own, for a scoped token).
    pub tenants_count: u64,
}

/// Who can see an image in Glance.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Community,
    Shared,
    Private,
}

impl From<ImageVisibility> for Visibility {
    fn from(v: ImageVisibility) -> Self {
        match v {
            ImageVisibility::Public => Self::Public,
            ImageVisibility::Community => Self::Community,
            ImageVisibility::Shared => Self::Shared,
            ImageVisibility::Private => Self::Private,
        }
    }
}

/// The keys of an `OpenStackImage`, for `?fields=` (a test checks them against the JSON).
pub const IMAGE_FIELDS: &[&str] = &[
    "url",
    "uuid",
    "name",
    "min_disk",
    "min_ram",
    "settings",
    "backend_id",
    "backend_created_at",
    "hw_rescue_device",
    "hw_rescue_bus",
    "is_rescue_image",
    "status",
    "visibility",
    "size",
    "disk_format",
    "container_format",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "protected",
    "os_hidden",
    "tags",
    "os_distro",
    "os_version",
    "architecture",
    "backend_updated_at",
    "tenants_count",
];

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
    Ok(Json<Restricted<OpenStackImage>>),
}

fn shape(state: &AppState, image: ImageDetail) -> OpenStackImage {
    let property = |key: &str| image.properties.get(key).cloned();
    OpenStackImage {
        url: state.object_url("openstack-images", &image.uuid),
        uuid: hex(&image.uuid),
        settings: state.object_url("service-settings", &image.cloud_uuid),
        is_rescue_image: !image.hw_rescue_device.is_empty(),
        os_distro: property("os_distro"),
        os_version: property("os_version"),
        architecture: property("architecture"),
        name: image.name,
        min_disk: image.min_disk,
        min_ram: image.min_ram,
        backend_id: image.backend_id,
        backend_created_at: image.backend_created_at,
        hw_rescue_device: image.hw_rescue_device,
        hw_rescue_bus: image.hw_rescue_bus,
        status: image.status,
        visibility: image.visibility.into(),
        size: image.size,
        disk_format: image.disk_format,
        container_format: image.container_format,
        checksum: image.checksum,
        os_hash_algo: image.os_hash_algo,
        os_hash_value: image.os_hash_value,
        owner: image.owner,
        protected: image.protected,
        os_hidden: image.os_hidden,
        tags: image.tags,
        backend_updated_at: image.backend_updated_at,
        tenants_count: image.tenants_count,
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
    visibility: "`public`, `community`, `shared` or `private`.",
    status: "Glance's status, e.g. `active`.",
    disk_format: "E.g. `qcow2`, `raw`.",
    os_distro: "The `os_distro` property, e.g. `ubuntu`.",
    owner: "The owning project's id.",
    property: "`key:value`: the extra property `key` is `value` (repeatable).",
    tag: "Has this tag (repeatable: every one).",
    created_after: "Created at or after this instant (RFC 3339, or a date: midnight UTC).",
    created_before: "Created before this instant (RFC 3339, or a date: midnight UTC).",
];

/// Waldur's ordering and field restriction.
const SHAPE_PARAMS: &[ParamDoc] = params![
    o: "Order: `name`, `backend_created_at`, `min_disk`, `size`, each with `-` for descending; comma-separated keys apply in turn. Ties go by name, then uuid; images without a creation time or size come first ascending. Default `name`.",
    fields: "Comma-separated fields to keep in each image (Waldur's `field`, repeatable, works too).",
];

const FIELD_PARAMS: &[ParamDoc] = params![
    fields: "Comma-separated fields to keep (Waldur's `field`, repeatable, works too).",
];

/// `GET`/`HEAD /openstack-images/`: the filters, the order, the fields and the page.
pub struct ImageListQuery {
    filter: ImageFilter,
    order: ImageOrder,
    fields: Option<FieldSet>,
    page: PageRequest,
}

/// The detail filters of the image list.
fn detail_filter(q: &RawQuery, v: &mut Validator) -> DetailFilter {
    let visibility = q
        .all("visibility")
        .into_iter()
        .filter_map(|raw| {
            let parsed = ImageVisibility::parse(raw.trim());
            if parsed.is_none() {
                v.add("visibility", format!("\"{raw}\" is not a valid choice."));
            }
            parsed
        })
        .collect();
    let strings = |key: &str| -> Vec<String> {
        q.all(key)
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect()
    };
    let mut properties: Vec<(String, String)> = strings("os_distro")
        .into_iter()
        .map(|d| ("os_distro".to_string(), d))
        .collect();
    for raw in q.all("property") {
        match raw.split_once(':') {
            Some((key, value)) if !key.trim().is_empty() => {
                properties.push((key.trim().to_string(), value.to_string()));
            }
            _ => v.add("property", format!("\"{raw}\" is not key:value.")),
        }
    }
    let mut time = |key: &str| {
        let raw = q.first(key)?;
        let parsed = parse_time(raw).map(|t| t.timestamp_micros());
        if parsed.is_none() {
            v.add(
                key,
                format!("\"{raw}\" is not an RFC 3339 instant or a date."),
            );
        }
        parsed
    };
    let created_after = time("created_after");
    let created_before = time("created_before");
    DetailFilter {
        visibility,
        status: strings("status"),
        disk_format: strings("disk_format"),
        owner: strings("owner"),
        tags: q.all("tag").into_iter().map(String::from).collect(),
        properties,
        created_after,
        created_before,
    }
}

/// Waldur's `o`: comma-separated keys, `-` for descending.
fn order(q: &RawQuery, v: &mut Validator) -> ImageOrder {
    let mut keys = Vec::new();
    for raw in q.all("o").into_iter().flat_map(|o| o.split(',')) {
        let raw = raw.trim();
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let key = match name {
            "name" => SortKey::Name,
            "backend_created_at" => SortKey::Created,
            "min_disk" => SortKey::MinDisk,
            "size" => SortKey::Size,
            _ => {
                v.add(
                    "o",
                    format!("\"{raw}\" is not an ordering: name, backend_created_at, min_disk or size, with - for descending."),
                );
                continue;
            }
        };
        keys.push((key, descending));
    }
    ImageOrder(keys)
}

impl QueryParams for ImageListQuery {
    const PARAMS: &'static [&'static [ParamDoc]] =
        &[IMAGE_FILTER_PARAMS, SHAPE_PARAMS, PAGE_PARAMS];

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
            detail: detail_filter(q, &mut v),
            show_duplicate_names: q.bool("show_duplicate_names", &mut v).unwrap_or(false),
        };
        let order = order(q, &mut v);
        v.finish()?;
        Ok(Self {
            filter,
            order,
            fields: fields::parse(q, IMAGE_FIELDS)?,
            page: q.page()?,
        })
    }
}

/// `GET /openstack-images/{uuid}/`: the fields to keep.
pub struct ImageFieldsQuery {
    fields: Option<FieldSet>,
}

impl QueryParams for ImageFieldsQuery {
    const PARAMS: &'static [&'static [ParamDoc]] = &[FIELD_PARAMS];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        Ok(Self {
            fields: fields::parse(q, IMAGE_FIELDS)?,
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
        ("openstack_images_retrieve", ImageFieldsQuery::PARAMS),
    ];
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::OpenstackImages")]
impl ImagesApi {
    /// List images visible to the caller, ordered by name then uuid unless `o` says otherwise.
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
    ) -> Result<PageBytes<Restricted<OpenStackImage>>, ErrorResponse> {
        // Rendered once per listing-index snapshot, scope and request: the same request again
        // is sent the same bytes without listing, shaping or serializing.
        let key = state.render_key(req);
        let fields = q.fields;
        let page = state
            .catalog
            .images()
            .list_rendered(
                &caller.scope(),
                &q.filter,
                &q.order,
                q.page,
                key.as_deref(),
                |paged| {
                    state.render_page(
                        req,
                        paged.map(|r| Restricted {
                            item: shape(&state, r),
                            fields: fields.clone(),
                        }),
                    )
                },
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
        Params(q): Params<ImageFieldsQuery>,
    ) -> Result<ImageResponse, ErrorResponse> {
        let row = state.catalog.images().get(&caller.scope(), uuid.0).await?;
        Ok(ImageResponse::Ok(Json(Restricted {
            item: shape(&state, row),
            fields: q.fields,
        })))
    }
}
