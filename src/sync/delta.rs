//! Delta polls: between full sweeps, each cloud listed whole is asked only for what changed
//! since its cursor, and each tenant synced through its own login only for what changed
//! since its own; that is applied at once. Polls record no runs: a poll that fails keeps its
//! cursor, and the next poll or sweep tries again.
use futures_util::{StreamExt, stream};

use super::admin;
use super::context::RequestTally;
use super::cursor::Cursor;
use super::error::Error;
use super::listing::Extent;
use super::reconcile::reconcile;
use super::run::Runner;
use super::source::cloud::CloudListing;
use super::source::own;
use crate::catalog::clouds::Cloud;
use crate::catalog::{CatalogError, CloudId, TenantId};
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

/// Applies what changed upstream since each cloud's cursor (clouds listed whole, not in
/// per-tenant mode): new and changed images and servers, to every tenant that sees them;
/// and, for tenants synced through their own login, what their token lists as changed
/// since theirs (`concurrency` tenants at a time). A cloud with a tenant another sync
/// holds, or such a tenant, waits for the next poll. Deleted images and membership
/// changes (a member accepting or rejecting included) do not move `updated_at`: the next
/// full sweep catches them. An image a poll does list carries its memberships' current
/// statuses, so a poll never records a stale one.
pub async fn poll(runner: &Runner) -> Result<Vec<DeltaOutcome>, CatalogError> {
    let mut done = Vec::new();
    for cloud in runner.catalog.clouds().polled().await? {
        match poll_cloud(runner, &cloud).await {
            Ok(Some(outcome)) => {
                count_poll(false, Some(&outcome));
                done.push(outcome);
            }
            Ok(None) => {}
            Err(why) => {
                count_poll(false, None);
                tracing::warn!(cloud = %cloud.name, kind = why.kind().as_str(), error = %why, "delta poll failed")
            }
        }
    }
    let own = runner.catalog.tenants().polled_own().await?;
    let polls = own.into_iter().map(|(id, cursor)| async move {
        (id, poll_tenant(runner, id, Cursor::from_json(cursor)).await)
    });
    let mut polls = stream::iter(polls).buffer_unordered(runner.settings.concurrency.max(1));
    while let Some((id, polled)) = polls.next().await {
        match polled {
            Ok(Some(outcome)) => {
                count_poll(true, Some(&outcome));
                done.push(outcome);
            }
            Ok(None) => {}
            Err(why) => {
                count_poll(true, None);
                tracing::warn!(tenant_id = id.0, kind = why.kind().as_str(), error = %why, "delta poll failed")
            }
        }
    }
    Ok(done)
}

/// Counts a poll of a tenant (or a cloud) in the metrics: what it found, or that it failed.
fn count_poll(tenant: bool, outcome: Option<&DeltaOutcome>) {
    crate::metrics::get().delta_poll(tenant, outcome.map(|o| (o.images, o.servers)));
}

/// One tenant's poll through its own login, if this process can claim it.
async fn poll_tenant(
    runner: &Runner,
    id: TenantId,
    since: Cursor,
) -> Result<Option<DeltaOutcome>, Error> {
    if !runner.claim(id, None).await? {
        return Ok(None);
    }
    let tally = RequestTally::default();
    let polled = async {
        let target = runner.catalog.inventory().target(id).await?;
        let ctx = runner.context(Some(&tally));
        let listing = own::fetch(&ctx, &target, Extent::ChangesSince(since)).await?;
        let summary = reconcile(&ctx, &target, &listing.whole()).await?;
        Ok::<_, Error>((target.cloud.id, summary))
    }
    .await;
    runner.release(&[id]).await;
    let (cloud, summary) = polled?;
    Ok(Some(DeltaOutcome {
        cloud,
        tenant: Some(id),
        images: summary.counts.images_seen as usize,
        servers: summary.counts.instances_seen as usize,
        rows_written: summary.applied.rows_written(),
        requests: tally.totals(),
    }))
}

/// One cloud's poll through an admin login, when this process can claim all its tenants.
async fn poll_cloud(runner: &Runner, cloud: &Cloud) -> Result<Option<DeltaOutcome>, Error> {
    let since = cloud
        .delta_cursor
        .clone()
        .map(Cursor::from_json)
        .unwrap_or_default();
    let live = runner.catalog.tenants().live_of(cloud.id).await?;
    let ids: Vec<TenantId> = live.iter().map(|(id, _)| *id).collect();
    let (_, credentials) = runner.catalog.clouds().with_credentials(cloud.id).await?;
    let tally = RequestTally::default();
    let first = live.first().map(|(_, p)| p.as_str());
    let session = admin::admin_login(runner, cloud, credentials, first, &tally).await?;
    let mut claimed = Vec::new();
    for &id in &ids {
        match runner.claim(id, None).await {
            Ok(true) => claimed.push(id),
            Ok(false) => {}
            Err(e) => tracing::warn!(tenant_id = id.0, error = %e, "claiming a tenant failed"),
        }
    }
    let result = if claimed.len() == ids.len() {
        apply_changes(runner, &session, cloud.id, since, &claimed)
            .await
            .map(Some)
    } else {
        Ok(None)
    };
    runner.release(&claimed).await;
    let Some((listing, rows_written)) = result? else {
        return Ok(None);
    };
    if let Some(next) = listing.listing.next_cursor() {
        runner
            .catalog
            .clouds()
            .set_delta_cursor(cloud.id, Some(next.to_json()))
            .await?;
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

/// Lists the changes and applies them to each claimed tenant; `Err` when one failed (the
/// cursor then stays where it was).
async fn apply_changes(
    runner: &Runner,
    session: &Session,
    cloud: CloudId,
    since: Cursor,
    tenants: &[TenantId],
) -> Result<(CloudListing, u64), Error> {
    let ctx = runner.context(None);
    let listing = CloudListing::fetch(&ctx, session, cloud, Extent::ChangesSince(since)).await?;
    let mut rows = 0;
    if listing.listing.is_empty() {
        return Ok((listing, rows));
    }
    for &id in tenants {
        let target = runner.catalog.inventory().target(id).await?;
        let view = listing.view(&target.tenant.backend_id);
        let summary = reconcile(&ctx, &target, &view).await?;
        rows += summary.applied.rows_written();
    }
    Ok((listing, rows))
}
