//! `/api/sync-runs/`: the record of tenant syncs (staff, read-only).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::{Object, OpenApi};

use super::auth::Caller;
use super::errors::ErrorResponse;
use super::query::RawQuery;
use super::{ApiTags, AppState, Paginated};
use crate::catalog::hex;
use crate::catalog::sync_runs::{self, RunView};
use crate::error::Validator;

pub struct SyncRunsApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
#[oai(rename = "SyncRun")]
pub struct SyncRun {
    pub uuid: String,
    pub tenant: String,
    pub tenant_uuid: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `success`, `failed` or `aborted`.
    pub outcome: String,
    pub images_seen: i64,
    /// Images newly visible to the tenant.
    pub images_added: i64,
    /// Image rows whose upstream data changed.
    pub images_updated: i64,
    /// Images the tenant no longer sees.
    pub images_removed: i64,
    pub instances_seen: i64,
    pub error_message: String,
}

impl SyncRunsApi {
    fn shape(&self, v: RunView) -> SyncRun {
        let r = v.run;
        SyncRun {
            uuid: hex(&r.uuid),
            tenant: self.state.object_url("openstack-tenants", &v.tenant_uuid),
            tenant_uuid: hex(&v.tenant_uuid),
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome,
            images_seen: r.images_seen,
            images_added: r.images_added,
            images_updated: r.images_updated,
            images_removed: r.images_removed,
            instances_seen: r.instances_seen,
            error_message: r.error_message,
        }
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::SyncRuns")]
impl SyncRunsApi {
    /// Sync runs, newest first.
    #[oai(path = "/sync-runs/", method = "get", operation_id = "sync_runs_list")]
    async fn list(
        &self,
        caller: Caller,
        req: &Request,
        #[oai(name = "tenant_uuid")] _tenant_uuid: Query<Option<String>>,
        /// URL of a tenant.
        #[oai(name = "tenant")]
        _tenant: Query<Option<String>>,
        #[oai(name = "page")] _page: Query<Option<String>>,
        #[oai(name = "page_size")] _page_size: Query<Option<String>>,
    ) -> Result<Paginated<SyncRun>, ErrorResponse> {
        caller.require_staff()?;
        let q = RawQuery::of(req);
        let mut v = Validator::default();
        let mut tenants = q.uuids("tenant_uuid", &mut v);
        tenants.extend(q.url_uuids("tenant", &mut v));
        v.finish()?;
        let paged = sync_runs::list(&self.state.db, tenants.first().copied(), q.page()?).await?;
        let items = paged.items.into_iter().map(|r| self.shape(r)).collect();
        Ok(self.state.paginated(req, items, &paged.page))
    }
}
