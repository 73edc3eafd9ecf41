//! Delta polls: between full sweeps, each cloud listed whole is asked only for what changed
//! since its cursor, and each tenant synced through its own login only for what changed
//! since its own; that is applied at once.
use futures_util::{StreamExt, stream};

use super::cloud::{CloudListing, Cursor};
use super::engine::SyncEngine;
use super::tenant::{RequestTally, Upstream, poll_tenant, sync_from};
use crate::catalog::clouds::Cloud;
use crate::catalog::{CatalogError, CloudId, TenantId, now};
use crate::openstack::Session;

/// What one cloud's delta poll did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaOutcome {
    pub cloud: CloudId,
    /// The tenant polled through its own login; `None` for a cloud listed whole.
    pub tenant: Option<TenantId>,
    /// Images and servers that changed since the cursor.
    pub images: usize,
    pub servers: usize,
    /// Rows written across the cloud's tenants.
    pub rows_written: u64,
    /// Upstream requests by service.
    pub requests: std::collections::BTreeMap<String, u64>,
}

impl SyncEngine {
    /// Applies what changed upstream since each cloud's cursor (clouds listed whole, not in
    /// per-tenant mode): new and changed images and servers, to every tenant that sees them;
    /// and, for tenants synced through their own login, what their token lists as changed
    /// since theirs (`concurrency` tenants at a time). A cloud with a tenant another sync
    /// holds, or such a tenant, waits for the next poll. Deleted images and membership
    /// changes do not move `updated_at`: the next full sweep catches them.
    pub async fn delta_poll(&self) -> Result<Vec<DeltaOutcome>, CatalogError> {
        let mut done = Vec::new();
        for cloud in self.catalog.clouds().polled().await? {
            match self.delta_poll_cloud(&cloud).await {
                Ok(Some(outcome)) => done.push(outcome),
                Ok(None) => {}
                Err(why) => {
                    tracing::warn!(cloud = %cloud.name, error = %why, "delta poll failed")
                }
            }
        }
        let own = self.catalog.tenants().polled_own().await?;
        let polls = own
            .into_iter()
            .map(|(id, cursor)| async move { (id, self.delta_poll_tenant(id, cursor).await) });
        let mut polls = stream::iter(polls).buffer_unordered(self.settings.concurrency.max(1));
        while let Some((id, polled)) = polls.next().await {
            match polled {
                Ok(Some(outcome)) => done.push(outcome),
                Ok(None) => {}
                Err(why) => tracing::warn!(tenant_id = id.0, error = %why, "delta poll failed"),
            }
        }
        Ok(done)
    }

    /// One tenant's poll through its own login, if this process can claim it; a failed one
    /// keeps the cursor.
    async fn delta_poll_tenant(
        &self,
        id: TenantId,
        cursor: serde_json::Value,
    ) -> Result<Option<DeltaOutcome>, String> {
        let since: Cursor = serde_json::from_value(cursor).unwrap_or_default();
        let runs = self.catalog.sync_runs();
        let claimed = runs
            .acquire_lease(id, &self.holder, now(), self.lease_ttl(), None)
            .await
            .map_err(|e| e.to_string())?;
        if !claimed {
            return Ok(None);
        }
        let tally = RequestTally::default();
        let polled = async {
            let target = self.catalog.inventory().target(id).await?;
            let ctx = self.sync_context(Some(&tally));
            Ok::<_, super::tenant::SyncError>((
                target.cloud.id,
                poll_tenant(&ctx, &target, since).await?,
            ))
        }
        .await;
        if let Err(e) = runs.release_lease(id, &self.holder).await {
            tracing::warn!(tenant_id = id.0, error = %e, "releasing a claim failed");
        }
        let (cloud, summary) = polled.map_err(|e| e.to_string())?;
        Ok(Some(DeltaOutcome {
            cloud,
            tenant: Some(id),
            images: summary.counts.images_seen as usize,
            servers: summary.counts.instances_seen as usize,
            rows_written: summary.applied.rows_written(),
            requests: tally.totals(),
        }))
    }

    async fn delta_poll_cloud(&self, cloud: &Cloud) -> Result<Option<DeltaOutcome>, String> {
        let cursor: Cursor = cloud
            .delta_cursor
            .clone()
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default();
        let live = self
            .catalog
            .tenants()
            .live_of(cloud.id)
            .await
            .map_err(|e| e.to_string())?;
        let ids: Vec<TenantId> = live.iter().map(|(id, _)| *id).collect();
        let (_, credentials) = self
            .catalog
            .clouds()
            .with_credentials(cloud.id)
            .await
            .map_err(|e| e.to_string())?;
        let tally = RequestTally::default();
        let session = self
            .admin_login(
                cloud,
                credentials,
                live.first().map(|(_, p)| p.as_str()),
                &tally,
            )
            .await?;
        let runs = self.catalog.sync_runs();
        let mut claimed = Vec::new();
        let mut all = true;
        for &id in &ids {
            match runs
                .acquire_lease(id, &self.holder, now(), self.lease_ttl(), None)
                .await
            {
                Ok(true) => claimed.push(id),
                _ => all = false,
            }
        }
        let result = if all {
            self.apply_changes(&session, &cursor, &claimed).await
        } else {
            Ok(None)
        };
        for &id in &claimed {
            let _ = runs.release_lease(id, &self.holder).await;
        }
        let Some((listing, rows_written)) = result? else {
            return Ok(None);
        };
        let next = listing.cursor(&cursor);
        if next != cursor {
            let value = serde_json::to_value(next).ok();
            self.catalog
                .clouds()
                .set_delta_cursor(cloud.id, value)
                .await
                .map_err(|e| e.to_string())?;
        }
        tally.add(&session.requests());
        let (images, servers, _) = listing.sizes();
        Ok(Some(DeltaOutcome {
            cloud: cloud.id,
            tenant: None,
            images,
            servers,
            rows_written,
            requests: tally.totals(),
        }))
    }

    /// Lists the changes and applies them to each claimed tenant; `Err` when one failed
    /// (the cursor then stays where it was).
    async fn apply_changes(
        &self,
        session: &Session,
        cursor: &Cursor,
        tenants: &[TenantId],
    ) -> Result<Option<(CloudListing, u64)>, String> {
        let listing = CloudListing::fetch_changes(session, cursor)
            .await
            .map_err(|e| e.to_string())?;
        let mut rows = 0;
        if listing.is_empty() {
            return Ok(Some((listing, rows)));
        }
        let ctx = self.sync_context(None);
        for &id in tenants {
            let target = self
                .catalog
                .inventory()
                .target(id)
                .await
                .map_err(|e| e.to_string())?;
            let view = listing.view(&target.tenant.backend_id);
            let summary = sync_from(&ctx, &target, &Upstream::Cloud(view))
                .await
                .map_err(|e| format!("{}: {e}", target.tenant.name))?;
            rows += summary.applied.rows_written();
        }
        Ok(Some((listing, rows)))
    }
}
