//! A tenant sync's life as one recorded run: claim the tenant (a lease row, so replicas never
//! sync one tenant twice), start its run record, keep the claim alive while the work runs,
//! record how it ended on the run and the tenant, release the claim. Sweeps, pulls and the
//! engine go through [`Runner`]; what the work is — which source, which view — they say with
//! [`How`].
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use uuid::Uuid;

use super::context::{RequestTally, SyncContext};
use super::error::Error;
use super::listing::{Extent, View};
use super::reconcile::{TenantSummary, reconcile};
use super::settings::SyncSettings;
use super::source::own;
use crate::catalog::inventory::SyncTarget;
use crate::catalog::sync_runs::{RunEnd, SyncRun};
use crate::catalog::tenants::Tenant;
use crate::catalog::{Catalog, CatalogError, RunOutcome, TenantId, now};

/// How one tenant's sync ended.
#[derive(Debug)]
pub struct TenantOutcome {
    pub tenant_uuid: Uuid,
    pub tenant_name: String,
    pub cloud_name: String,
    pub result: Result<TenantSummary, Error>,
    pub duration: Duration,
}

/// How a claimed tenant is synced.
pub enum How<'v> {
    /// Through its own login and listing.
    OwnLogin,
    /// From its view of its cloud's one listing.
    View(Box<View<'v>>),
    /// Its cloud's listing failed with this: every tenant it would have served records it.
    Failed(Arc<Error>),
    /// A claim was lost while its cloud was listed.
    Lost,
}

impl How<'_> {
    /// The sync mode a run `how` is in, as metrics and the API name it.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::OwnLogin => "per_tenant",
            Self::View(_) | Self::Failed(_) | Self::Lost => "cloud",
        }
    }
}

/// How a run that ended with `result` is recorded.
fn outcome_of(result: &Result<TenantSummary, Error>) -> RunOutcome {
    match result {
        Ok(_) => RunOutcome::Success,
        Err(Error::Cancelled) => RunOutcome::Aborted,
        Err(Error::LeaseLost) => RunOutcome::Interrupted,
        Err(_) => RunOutcome::Failed,
    }
}

/// Counts a finished run in the metrics.
pub fn count_run(
    cloud: &str,
    mode: &'static str,
    result: &Result<TenantSummary, Error>,
    took: Duration,
) {
    crate::metrics::get().sync_run(
        crate::metrics::SyncRunLabels {
            cloud: cloud.to_string(),
            mode,
            outcome: outcome_of(result).as_str(),
            error_kind: result.as_ref().err().map_or("", |e| e.kind().as_str()),
        },
        took,
    );
}

/// What every sync of a process shares: the catalog, the settings, this process's id in
/// leases, the shutdown signal and the runtime syncs run on.
pub struct Runner {
    pub catalog: Catalog,
    pub settings: SyncSettings,
    /// Identifies this process in tenant leases and runs.
    pub holder: String,
    pub shutdown: watch::Sender<bool>,
    /// Where tenant syncs run (`None`: on the caller's runtime).
    pub runtime: Option<tokio::runtime::Handle>,
}

impl Runner {
    /// What a tenant's sync needs of the runner; its requests go to `tally`.
    pub fn context<'a>(&'a self, tally: Option<&'a RequestTally>) -> SyncContext<'a> {
        SyncContext {
            catalog: &self.catalog,
            session: &self.settings.session,
            stage_batch: self.settings.stage_batch.max(1),
            stage_links_batch: self.settings.stage_links_batch.max(1),
            shutdown: self.shutdown.subscribe(),
            clock: &self.settings.clock,
            tally,
        }
    }

    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn lease_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.lease_ttl).unwrap_or(chrono::Duration::minutes(1))
    }

    /// Claims the tenant unless another sync holds it or it was synced at or after
    /// `due_before`.
    pub async fn claim(
        &self,
        tenant: TenantId,
        due_before: Option<DateTime<Utc>>,
    ) -> Result<bool, CatalogError> {
        self.catalog
            .sync_runs()
            .acquire_lease(tenant, &self.holder, now(), self.lease_ttl(), due_before)
            .await
    }

    /// Frees the claims this process's id held before a restart, and closes as `interrupted`
    /// every run whose process died.
    pub async fn recover(&self) -> Result<(), CatalogError> {
        let runs = self.catalog.sync_runs();
        let released = runs.release_leases_of(&self.holder).await?;
        let closed = runs.close_dead_runs(now()).await?;
        if released + closed > 0 {
            tracing::info!(released, closed, holder = %self.holder, "recovered from an earlier process's stop");
        }
        Ok(())
    }

    /// Claims every tenant of `ids` that no other sync holds and that is due; the claimed.
    pub async fn claim_due(
        &self,
        ids: &[TenantId],
        due_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<Tenant>, CatalogError> {
        self.catalog
            .sync_runs()
            .acquire_leases(ids, &self.holder, now(), self.lease_ttl(), due_before)
            .await
    }

    /// Claims the tenant and syncs it through its own login, as one recorded run; `Ok(None)`
    /// when it cannot be claimed (another sync holds it, or it is not due).
    pub async fn claim_and_run(
        &self,
        id: TenantId,
        due_before: Option<DateTime<Utc>>,
        tally: &RequestTally,
    ) -> Result<Option<TenantOutcome>, CatalogError> {
        if !self.claim(id, due_before).await? {
            return Ok(None);
        }
        let outcome = self.run_claimed(id, How::OwnLogin, Some(tally)).await;
        self.release(&[id]).await;
        outcome.map(Some)
    }

    /// Drops this process's claims; a failure is logged (the claims then expire by themselves).
    pub async fn release(&self, tenants: &[TenantId]) {
        let released = self
            .catalog
            .sync_runs()
            .release_leases(tenants, &self.holder)
            .await;
        if let Err(e) = released {
            tracing::warn!(tenants = tenants.len(), error = %e, "releasing claims failed");
        }
    }

    /// Syncs a claimed tenant `how`, as one recorded run. `Err` only when the bookkeeping
    /// itself fails; the sync's own failure is in the outcome.
    pub async fn run_claimed(
        &self,
        tenant_id: TenantId,
        how: How<'_>,
        tally: Option<&RequestTally>,
    ) -> Result<TenantOutcome, CatalogError> {
        let started = Instant::now();
        let target = self.catalog.inventory().target(tenant_id).await?;
        let run = self
            .catalog
            .sync_runs()
            .start(tenant_id, &self.holder, self.settings.clock.now())
            .await?;
        let ctx = self.context(tally);
        let mode = how.mode();
        let work = async {
            match how {
                How::OwnLogin => {
                    let listing = own::fetch(&ctx, &target, Extent::Complete).await?;
                    reconcile(&ctx, &target, &listing.whole()).await
                }
                How::View(view) => reconcile(&ctx, &target, &view).await,
                How::Failed(why) => Err(Error::CloudListing(why)),
                How::Lost => Err(Error::LeaseLost),
            }
        };
        let claimed = [tenant_id];
        let result = tokio::select! {
            result = work => result,
            lost = self.heartbeat(&claimed) => Err(lost),
        };
        self.record(&run, &target, &result).await?;
        let duration = started.elapsed();
        count_run(&target.cloud.name, mode, &result, duration);
        Ok(TenantOutcome {
            tenant_uuid: target.tenant.uuid,
            tenant_name: target.tenant.name,
            cloud_name: target.cloud.name,
            result,
            duration,
        })
    }

    /// Records how a run ended: on the run, and (unless the process stopped or lost the
    /// tenant, which is not the tenant's fault) as the tenant's state.
    async fn record(
        &self,
        run: &SyncRun,
        target: &SyncTarget,
        result: &Result<TenantSummary, Error>,
    ) -> Result<(), CatalogError> {
        let (tenant, cloud) = (&target.tenant, &target.cloud);
        let runs = self.catalog.sync_runs();
        let finished = self.settings.clock.now();
        let end = match result {
            Ok(summary) => RunEnd {
                outcome: RunOutcome::Success,
                counts: summary.counts,
                unavailable: summary.unavailable.clone(),
                failure: None,
            },
            Err(e) => RunEnd {
                outcome: outcome_of(result),
                counts: Default::default(),
                unavailable: Vec::new(),
                failure: Some(e.failure()),
            },
        };
        runs.finish(run, &end, finished).await?;
        match result {
            Ok(s) => {
                tracing::info!(tenant = %tenant.name, cloud = %cloud.name, seen = s.counts.images_seen,
                    added = s.counts.images_added, updated = s.counts.images_updated,
                    removed = s.counts.images_removed, instances = s.counts.instances_seen, "tenant synced");
                runs.record_outcome(tenant.id, None, finished).await?;
            }
            Err(Error::Cancelled) => {
                tracing::info!(tenant = %tenant.name, "sync aborted by shutdown")
            }
            Err(Error::LeaseLost) => {
                tracing::warn!(tenant = %tenant.name, "sync stopped: another process took the tenant over")
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.name, cloud = %cloud.name, kind = e.kind().as_str(),
                    error = %e, "tenant sync failed");
                runs.record_outcome(tenant.id, end.failure.as_ref(), finished)
                    .await?;
            }
        }
        Ok(())
    }

    /// Renews the claims on these tenants every third of the lease's life (while they sync,
    /// or one listing serves them); returns only when one was lost (another process took a
    /// tenant over after a stall longer than the lease).
    pub async fn heartbeat(&self, tenants: &[TenantId]) -> Error {
        let every = self.settings.lease_ttl / 3;
        loop {
            tokio::time::sleep(every).await;
            for &tenant_id in tenants {
                match self
                    .catalog
                    .sync_runs()
                    .renew_lease(tenant_id, &self.holder, now(), self.lease_ttl())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => return Error::LeaseLost,
                    // The database may be back by the next beat; the lease is good until then.
                    Err(e) => {
                        tracing::warn!(tenant_id = tenant_id.0, error = %e, "lease renewal failed")
                    }
                }
            }
        }
    }
}
