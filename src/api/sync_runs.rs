//! `/api/sync-runs/`: the record of tenant syncs (staff, read-only).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::auth::Staff;
use super::errors::{ApiError, ErrorResponse};
use super::params::{PAGE_PARAMS, ParamDoc, Params, QueryDocs, QueryParams};
use super::query::RawQuery;
use super::validate::Validator;
use super::{ApiTags, AppState, Paginated};
use crate::catalog::hex;
use crate::catalog::paging::PageRequest;
use crate::catalog::sync_runs::RunView;
use crate::catalog::tenants::unavailable_services;
use crate::params;

pub struct SyncRunsApi;

#[derive(Object)]
#[oai(rename = "SyncRun")]
pub struct SyncRun {
    pub uuid: String,
    pub tenant: String,
    pub tenant_uuid: String,
    pub started_at: DateTime<Utc>,
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `success`, `failed`, `aborted` (by shutdown) or `interrupted` (its process died
    /// or lost the tenant's lease).
    pub outcome: String,
    pub images_seen: i64,
    /// Images newly visible to the tenant.
    pub images_added: i64,
    /// Image rows whose upstream data changed.
    pub images_updated: i64,
    /// Images the tenant no longer sees.
    pub images_removed: i64,
    pub instances_seen: i64,
    /// Upstream services the cloud lacked (`compute`, `volume`), which the sync went on without.
    pub unavailable_services: Vec<String>,
    pub error_message: String,
    /// Why the run did not succeed, as a stable name to group failures by (see
    /// `OpenStackTenant.error_kind` for the names); null for a success or a running sync.
    #[oai(nullable)]
    pub error_kind: Option<String>,
}

fn shape(state: &AppState, v: RunView) -> SyncRun {
    let r = v.run;
    SyncRun {
        uuid: hex(&r.uuid),
        tenant: state.object_url("openstack-tenants", &v.tenant_uuid),
        tenant_uuid: hex(&v.tenant_uuid),
        started_at: r.started_at,
        finished_at: r.finished_at,
        outcome: r.outcome.as_str().to_string(),
        images_seen: r.images_seen,
        images_added: r.images_added,
        images_updated: r.images_updated,
        images_removed: r.images_removed,
        instances_seen: r.instances_seen,
        unavailable_services: unavailable_services(&r.unavailable_services),
        error_message: r.error_message,
        error_kind: r.error_kind.map(|k| k.as_str().to_string()),
    }
}

/// `GET /sync-runs/`: a tenant (by uuid or URL), and the page.
pub struct RunListQuery {
    tenant: Option<Uuid>,
    page: PageRequest,
}

impl QueryParams for RunListQuery {
    const PARAMS: &'static [&'static [ParamDoc]] = &[
        params![tenant_uuid, tenant: "URL of a tenant."],
        PAGE_PARAMS,
    ];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        let mut tenants = q.uuids("tenant_uuid", &mut v);
        tenants.extend(q.url_uuids("tenant", &mut v));
        v.finish()?;
        Ok(Self {
            tenant: tenants.first().copied(),
            page: q.page()?,
        })
    }
}

impl QueryDocs for SyncRunsApi {
    const QUERIES: &'static [(&'static str, &'static [&'static [ParamDoc]])] =
        &[("sync_runs_list", RunListQuery::PARAMS)];
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::SyncRuns")]
impl SyncRunsApi {
    /// Sync runs, newest first.
    #[oai(path = "/sync-runs/", method = "get", operation_id = "sync_runs_list")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        req: &Request,
        Params(q): Params<RunListQuery>,
    ) -> Result<Paginated<SyncRun>, ErrorResponse> {
        let paged = state.catalog.sync_runs().list(q.tenant, q.page).await?;
        Ok(state.paginated(req, paged.map(|r| shape(&state, r))))
    }
}
