//! `/api/openstack-images/`: list, HEAD count, retrieve, usage_stats.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::auth::Caller;
use super::errors::ErrorResponse;
use super::query::RawQuery;
use super::{ApiTags, AppState, PageHeaders, Paginated};
use crate::catalog::images::{self, ImageFilter, ImageRow};
use crate::catalog::usage::{self, UsageFilter, UsageRow};
use crate::catalog::{hex, parse_uuid};
use crate::error::{AppError, AppResult, Validator};

pub struct ImagesApi {
    pub state: Arc<AppState>,
}

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
}

#[derive(ApiResponse)]
pub enum ImageResponse {
    #[oai(status = 200)]
    Ok(Json<OpenStackImage>),
}

impl ImagesApi {
    fn shape(&self, row: ImageRow) -> OpenStackImage {
        let ImageRow {
            image,
            settings_uuid,
        } = row;
        OpenStackImage {
            url: self.state.object_url("openstack-images", &image.uuid),
            uuid: hex(&image.uuid),
            settings: self.state.object_url("service-settings", &settings_uuid),
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
}

fn image_filter(q: &RawQuery) -> AppResult<ImageFilter> {
    let mut v = Validator::default();
    let mut settings = q.url_uuids("settings", &mut v);
    settings.extend(q.uuids("settings_uuid", &mut v));
    let mut tenants = q.url_uuids("tenant", &mut v);
    tenants.extend(q.uuids("tenant_uuid", &mut v));
    let filter = ImageFilter {
        name_contains: q.all("name").into_iter().map(String::from).collect(),
        name_exact: q.all("name_exact").into_iter().map(String::from).collect(),
        settings,
        tenants,
        offerings: q.uuids("offering_uuid", &mut v),
        is_rescue_image: q.bool("is_rescue_image", &mut v),
        show_duplicate_names: q.bool("show_duplicate_names", &mut v).unwrap_or(false),
    };
    v.finish()?;
    Ok(filter)
}

fn usage_filter(q: &RawQuery) -> AppResult<UsageFilter> {
    let mut v = Validator::default();
    let filter = UsageFilter {
        shared: q.bool("shared", &mut v),
        service_providers: q.uuids("service_provider", &mut v),
    };
    v.finish()?;
    Ok(filter)
}

fn usage_item(row: UsageRow) -> ImageUsageStats {
    ImageUsageStats {
        name: row.name,
        running_instances_count: row.running_instances_count,
        created_instances_count: row.created_instances_count,
    }
}

/// The filters are read from the raw query (so repeated ones combine with AND); the typed
/// arguments below exist to describe them in the OpenAPI document.
#[OpenApi(prefix_path = "/api", tag = "ApiTags::OpenstackImages")]
impl ImagesApi {
    /// List images visible to the caller, ordered by name then uuid.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/openstack-images/",
        method = "get",
        operation_id = "openstack_images_list"
    )]
    async fn list(
        &self,
        caller: Caller,
        req: &Request,
        /// Case-insensitive substring of the name.
        #[oai(name = "name")]
        _name: Query<Option<String>>,
        /// Exact name.
        #[oai(name = "name_exact")]
        _name_exact: Query<Option<String>>,
        /// URL of a service settings object.
        #[oai(name = "settings")]
        _settings: Query<Option<String>>,
        #[oai(name = "settings_uuid")] _settings_uuid: Query<Option<String>>,
        /// URL of a tenant.
        #[oai(name = "tenant")]
        _tenant: Query<Option<String>>,
        #[oai(name = "tenant_uuid")] _tenant_uuid: Query<Option<String>>,
        #[oai(name = "offering_uuid")] _offering_uuid: Query<Option<String>>,
        #[oai(name = "is_rescue_image")] _is_rescue_image: Query<Option<String>>,
        /// List every image, not only the newest per (settings, name).
        #[oai(name = "show_duplicate_names")]
        _show_duplicate_names: Query<Option<String>>,
        /// 1-based page number.
        #[oai(name = "page")]
        _page: Query<Option<String>>,
        /// Items per page (default 10, at most 300).
        #[oai(name = "page_size")]
        _page_size: Query<Option<String>>,
    ) -> Result<Paginated<OpenStackImage>, ErrorResponse> {
        let q = RawQuery::of(req);
        let filter = image_filter(&q)?;
        let paged = images::list(
            &self.state.db,
            &self.state.read_index,
            &caller.visibility(),
            &filter,
            q.page()?,
        )
        .await?;
        let items = paged.items.into_iter().map(|r| self.shape(r)).collect();
        Ok(self.state.paginated(req, items, &paged.page))
    }

    /// The headers of the list (`X-Result-Count`, `Link`) without a body.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/openstack-images/",
        method = "head",
        operation_id = "openstack_images_count"
    )]
    async fn count(
        &self,
        caller: Caller,
        req: &Request,
        #[oai(name = "name")] _name: Query<Option<String>>,
        #[oai(name = "name_exact")] _name_exact: Query<Option<String>>,
        #[oai(name = "settings")] _settings: Query<Option<String>>,
        #[oai(name = "settings_uuid")] _settings_uuid: Query<Option<String>>,
        #[oai(name = "tenant")] _tenant: Query<Option<String>>,
        #[oai(name = "tenant_uuid")] _tenant_uuid: Query<Option<String>>,
        #[oai(name = "offering_uuid")] _offering_uuid: Query<Option<String>>,
        #[oai(name = "is_rescue_image")] _is_rescue_image: Query<Option<String>>,
        #[oai(name = "show_duplicate_names")] _show_duplicate_names: Query<Option<String>>,
        #[oai(name = "page")] _page: Query<Option<String>>,
        #[oai(name = "page_size")] _page_size: Query<Option<String>>,
    ) -> Result<PageHeaders, ErrorResponse> {
        let q = RawQuery::of(req);
        let filter = image_filter(&q)?;
        let total = images::count(
            &self.state.db,
            &self.state.read_index,
            &caller.visibility(),
            &filter,
        )
        .await?;
        let page = q
            .page()?
            .resolve(total)
            .map_err(|_| AppError::InvalidPage)?;
        Ok(self.state.page_headers(req, &page))
    }

    /// Per image name: instances running it now, and instances ever created from it.
    #[oai(
        path = "/openstack-images/usage_stats/",
        method = "get",
        operation_id = "openstack_images_usage_stats_retrieve"
    )]
    async fn usage_stats(
        &self,
        caller: Caller,
        req: &Request,
        /// Only clouds marked shared.
        #[oai(name = "shared")]
        _shared: Query<Option<String>>,
        /// Only these clouds (service settings uuids; repeatable).
        #[oai(name = "service_provider")]
        _service_provider: Query<Option<String>>,
        #[oai(name = "page")] _page: Query<Option<String>>,
        #[oai(name = "page_size")] _page_size: Query<Option<String>>,
    ) -> Result<Paginated<ImageUsageStats>, ErrorResponse> {
        let q = RawQuery::of(req);
        let filter = usage_filter(&q)?;
        let paged = usage::stats(
            &self.state.db,
            &self.state.read_index,
            &caller.visibility(),
            &filter,
            q.page()?,
        )
        .await?;
        let items = paged.items.into_iter().map(usage_item).collect();
        Ok(self.state.paginated(req, items, &paged.page))
    }

    /// The headers of usage_stats without a body.
    #[oai(
        path = "/openstack-images/usage_stats/",
        method = "head",
        operation_id = "openstack_images_usage_stats_count"
    )]
    async fn usage_stats_count(
        &self,
        caller: Caller,
        req: &Request,
        #[oai(name = "shared")] _shared: Query<Option<String>>,
        #[oai(name = "service_provider")] _service_provider: Query<Option<String>>,
        #[oai(name = "page")] _page: Query<Option<String>>,
        #[oai(name = "page_size")] _page_size: Query<Option<String>>,
    ) -> Result<PageHeaders, ErrorResponse> {
        let q = RawQuery::of(req);
        let filter = usage_filter(&q)?;
        let total = usage::count(
            &self.state.db,
            &self.state.read_index,
            &caller.visibility(),
            &filter,
        )
        .await?;
        let page = q
            .page()?
            .resolve(total)
            .map_err(|_| AppError::InvalidPage)?;
        Ok(self.state.page_headers(req, &page))
    }

    /// One image. Unknown, malformed or invisible uuids are all 404.
    #[oai(
        path = "/openstack-images/:uuid/",
        method = "get",
        operation_id = "openstack_images_retrieve"
    )]
    async fn retrieve(
        &self,
        caller: Caller,
        uuid: Path<String>,
    ) -> Result<ImageResponse, ErrorResponse> {
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        let row = images::get(&self.state.db, &caller.visibility(), uuid).await?;
        Ok(ImageResponse::Ok(Json(self.shape(row))))
    }
}
