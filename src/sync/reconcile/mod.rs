//! The one reconcile: a tenant's [`View`] of any source's listing is compared with the catalog
//! (images, then servers with their lifecycle) and the difference applied in one transaction.
//! Only a complete view may take what it does not list for gone; a view of changes (a delta
//! poll) with nothing in it writes nothing.
mod images;
mod servers;

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::context::SyncContext;
use super::error::Error;
use super::lifecycle::Window;
use super::listing::View;
use crate::catalog::inventory::{AppliedCounts, SyncTarget, TenantChanges, TenantFacts, ViewMark};
use crate::catalog::sync_runs::RunCounts;
use crate::catalog::tenants::MissingService;

/// What one tenant's sync found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantSummary {
    pub counts: RunCounts,
    pub applied: AppliedCounts,
    /// Services the cloud lacks, which the sync went on without.
    pub unavailable: Vec<MissingService>,
    /// The tenant's view was the one its last sync applied: nothing was compared.
    pub unchanged: bool,
}

/// Compares what the tenant sees in `view` with the catalog and applies the difference.
#[instrument(level = "debug", skip_all, fields(tenant = %target.tenant.name))]
pub async fn reconcile(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    view: &View<'_>,
) -> Result<TenantSummary, Error> {
    let tenant = &target.tenant;
    // What is listed now is as of now: one time for the whole sync.
    let observed = ctx.clock.now();
    let mut changes = TenantChanges::default();
    let mut counts = RunCounts::default();
    // What an interrupted earlier sync of this tenant staged is stale.
    ctx.catalog.inventory().clear_stage(tenant.id).await?;
    images::compare(ctx, target, view, &mut changes, &mut counts).await?;
    let window = Window {
        since: tenant.last_success_at,
        until: observed,
    };
    let names = servers::compare(ctx, target, view, window, &mut changes, &mut counts).await?;
    changes.delta_cursor = view.cursor.map(|c| c.to_json());
    if !view.complete {
        return apply_changes_only(ctx, target, view, changes, counts, observed).await;
    }
    changes.servers_unlisted = view.servers.is_none();
    if let Some(fingerprint) = view.fingerprint_with(&names) {
        changes.view = ViewMark::Set(fingerprint);
    }
    let unavailable = view.unavailable();
    let facts = facts_of(view, target, &unavailable);
    if facts != TenantFacts::stored(tenant) {
        changes.facts = Some(facts);
    }
    ctx.check_shutdown()?;
    let applied = apply(ctx, target, view, &changes, observed).await?;
    counts.images_removed = applied.images_unlinked as i64;
    Ok(TenantSummary {
        counts,
        applied,
        unavailable,
        unchanged: false,
    })
}

/// A view of changes only (a delta poll): what was not listed did not change, and the
/// tenant's facts stay. With nothing listed and the cursor where it was, nothing is written.
async fn apply_changes_only(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    view: &View<'_>,
    mut changes: TenantChanges,
    counts: RunCounts,
    observed: DateTime<Utc>,
) -> Result<TenantSummary, Error> {
    changes.images_partial = true;
    changes.servers_unlisted = true;
    let idle = changes.seen_images.is_empty()
        && changes.seen_instances.is_empty()
        && changes.delta_cursor.is_none();
    if idle {
        return Ok(TenantSummary {
            counts,
            applied: AppliedCounts::default(),
            unavailable: view.unavailable(),
            unchanged: true,
        });
    }
    ctx.check_shutdown()?;
    let applied = apply(ctx, target, view, &changes, observed).await?;
    Ok(TenantSummary {
        counts,
        applied,
        unavailable: Vec::new(),
        unchanged: false,
    })
}

/// Glance's `/v2/info/*` answer for the tenant's project: where the view cannot tell them (a
/// delta, a whole-cloud listing whose facts could not be read), the tenant keeps what it has.
fn facts_of(view: &View<'_>, target: &SyncTarget, unavailable: &[MissingService]) -> TenantFacts {
    let unavailable_services = MissingService::json(unavailable);
    match view.facts.as_deref() {
        Some(info) => TenantFacts {
            image_quota_usage: info.usage.clone(),
            stores: info.stores.clone(),
            import_methods: info.import_methods.clone(),
            unavailable_services,
        },
        None => TenantFacts {
            unavailable_services,
            ..TenantFacts::stored(&target.tenant)
        },
    }
}

/// Applies the tenant's changes; what it applied from a whole-cloud listing, the next
/// tenant's compare need not read back.
async fn apply(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    view: &View<'_>,
    changes: &TenantChanges,
    observed: DateTime<Utc>,
) -> Result<AppliedCounts, Error> {
    let applied = ctx
        .catalog
        .inventory()
        .apply(target.cloud.id, target.tenant.id, changes, observed)
        .await?;
    if let Some(shared) = &view.shared {
        shared
            .applied
            .record(view.images.iter().map(|i| i.id.as_str()), &applied);
    }
    Ok(applied.counts)
}
