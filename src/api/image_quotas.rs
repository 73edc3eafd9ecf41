//! `/api/image-quotas/`: every tenant's Glance image quota as last synced, one row per tenant
//! and resource, fullest first (a scoped token sees its own tenants).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::{Object, OpenApi};

use super::auth::Caller;
use super::errors::{ApiError, ErrorResponse};
use super::params::{PAGE_PARAMS, ParamDoc, Params, QueryDocs, QueryParams};
use super::query::RawQuery;
use super::validate::Validator;
use super::{ApiTags, AppState, Paginated};
use crate::catalog::hex;
use crate::catalog::image_quotas::{ImageResource, QuotaFilter, QuotaRow};
use crate::catalog::paging::PageRequest;
use crate::params;

pub struct ImageQuotasApi;

#[derive(Object)]
#[oai(rename = "ImageQuota")]
pub struct ImageQuota {
    pub tenant: String,
    pub tenant_uuid: String,
    pub tenant_name: String,
    pub service_settings_uuid: String,
    /// `image_size_total`, `image_count_total`, `image_stage_total` or `image_count_uploading`.
    pub resource: String,
    /// Glance's limit (sizes in MiB); negative: unlimited.
    pub limit: i64,
    pub usage: i64,
    /// Usage as a percentage of the limit, to two decimals; null without a positive limit.
    #[oai(nullable)]
    pub percent: Option<f64>,
    /// When the tenant last synced successfully: the figures are as of then.
    #[oai(nullable)]
    pub synced_at: Option<DateTime<Utc>>,
}

fn shape(state: &AppState, row: QuotaRow) -> ImageQuota {
    ImageQuota {
        tenant: state.object_url("openstack-tenants", &row.tenant_uuid),
        tenant_uuid: hex(&row.tenant_uuid),
        tenant_name: row.tenant_name,
        service_settings_uuid: hex(&row.cloud_uuid),
        resource: row.resource.as_str().to_string(),
        limit: row.figure.limit,
        usage: row.figure.usage,
        percent: row.figure.percent(),
        synced_at: row.synced_at,
    }
}

pub struct QuotaListQuery {
    filter: QuotaFilter,
    page: PageRequest,
}

impl QueryParams for QuotaListQuery {
    const PARAMS: &'static [&'static [ParamDoc]] = &[
        params![
            settings_uuid: "Only tenants of this cloud.",
            resource: "Only this resource: image_size_total, image_count_total, image_stage_total or image_count_uploading.",
            min_percent: "Only rows whose usage is at least this percentage of the limit (e.g. 90).",
        ],
        PAGE_PARAMS,
    ];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        let cloud = q.uuids("settings_uuid", &mut v).first().copied();
        let resource = q.first("resource").and_then(|raw| {
            let parsed = ImageResource::parse(raw.trim());
            if parsed.is_none() {
                v.add(
                    "resource",
                    format!(
                        "Select a valid choice. {raw} is not one of the available choices: {}.",
                        ImageResource::ALL.map(ImageResource::as_str).join(", ")
                    ),
                );
            }
            parsed
        });
        let min_percent = q.first("min_percent").and_then(|raw| {
            let parsed = raw.trim().parse::<f64>().ok().filter(|p| p.is_finite());
            if parsed.is_none() {
                v.add("min_percent", "A valid number is required.");
            }
            parsed
        });
        v.finish()?;
        Ok(Self {
            filter: QuotaFilter {
                cloud,
                resource,
                min_percent,
            },
            page: q.page()?,
        })
    }
}

impl QueryDocs for ImageQuotasApi {
    const QUERIES: &'static [(&'static str, &'static [&'static [ParamDoc]])] =
        &[("image_quotas_list", QuotaListQuery::PARAMS)];
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::ImageQuotas")]
impl ImageQuotasApi {
    /// Tenants' Glance image quotas as last synced, fullest first (a scoped token sees its
    /// own tenants). Tenants whose cloud does not report quotas have no rows.
    #[oai(
        path = "/image-quotas/",
        method = "get",
        operation_id = "image_quotas_list"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(q): Params<QuotaListQuery>,
    ) -> Result<Paginated<ImageQuota>, ErrorResponse> {
        let paged = state
            .catalog
            .tenants()
            .image_quotas(&caller.scope(), &q.filter, q.page)
            .await?;
        Ok(state.paginated(req, paged.map(|r| shape(&state, r))))
    }
}
