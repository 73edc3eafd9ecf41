//! One cloud's part of a sweep: its tenants discovered (when it asks for that), then synced
//! per tenant or from one listing of the whole cloud, and the sweep recorded on the cloud.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::cloud::{CloudListing, Cursor, TenantView};
use super::engine::{SweepObserver, SyncEngine, TenantOutcome};
use super::runtime::spawn_into;
use super::tenant::{RequestTally, SyncError, TenantSummary};
use crate::catalog::clouds::SweepRecord;
use crate::catalog::inventory::AppliedCounts;
use crate::catalog::sync_runs::{RunCounts, UnchangedRun};
use crate::catalog::tenants::Tenant;
use crate::catalog::{CloudId, TenantId, now};
use crate::openstack::Session;

/// How a claimed tenant is synced.
pub(super) enum How<'a> {
    /// Through its own login and listing.
    Own,
    /// From its view of its cloud's one listing.
    View(TenantView<'a>),
    /// Its cloud's listing failed with this.
    Failed(&'a str),
    /// A claim was lost while its cloud was listed.
    Lost,
}

/// One cloud's part of a sweep.
pub(super) struct CloudSweep {
    pub(super) engine: Arc<SyncEngine>,
    pub(super) cloud: CloudId,
    /// Whether the sweep covers the whole cloud, so its tenants may be discovered first.
    pub(super) whole_cloud: bool,
    pub(super) due_before: Option<DateTime<Utc>>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) observer: Arc<dyn SweepObserver>,
    pub(super) tally: Arc<RequestTally>,
}

impl CloudSweep {
    /// Syncs the cloud's tenants `ids` in the mode that applies, and records the sweep on
    /// the cloud.
    pub(super) async fn run(self, mut ids: Vec<TenantId>) -> Vec<TenantOutcome> {
        let started = self.engine.settings.clock.now();
        if self.whole_cloud {
            let clouds = self.engine.catalog.clouds();
            match self.engine.discover(self.cloud, &self.tally).await {
                Ok(false) => {}
                Ok(true) => {
                    let _ = clouds.record_discovery(self.cloud, None).await;
                    match self.engine.catalog.tenants().live_of(self.cloud).await {
                        Ok(live) => ids = live.into_iter().map(|(id, _)| id).collect(),
                        Err(e) => tracing::error!(error = %e, "reading discovered tenants failed"),
                    }
                }
                Err(why) => {
                    tracing::warn!(cloud_id = self.cloud.0, error = %why, "tenant discovery failed");
                    let _ = clouds.record_discovery(self.cloud, Some(&why)).await;
                }
            }
        }
        let Some(&first) = ids.first() else {
            return Vec::new();
        };
        let session = self
            .engine
            .cloud_session(self.cloud, first, &self.tally)
            .await;
        let (mode, outcomes) = match session {
            Ok(None) => {
                // Listed per tenant: its tenants are polled through their own logins now,
                // not from a cursor of an earlier whole-cloud listing.
                let clouds = self.engine.catalog.clouds();
                if let Err(e) = clouds.set_delta_cursor(self.cloud, None).await {
                    tracing::warn!(cloud_id = self.cloud.0, error = %e, "clearing the delta cursor failed");
                }
                ("per_tenant", self.per_tenant(ids).await)
            }
            Ok(Some(session)) => ("cloud", self.with_listing(ids, Ok(session)).await),
            Err(why) => ("cloud", self.with_listing(ids, Err(why)).await),
        };
        if !outcomes.is_empty() {
            let record = SweepRecord {
                mode,
                started,
                finished: self.engine.settings.clock.now(),
                tenants: outcomes.len() as u64,
                unchanged: outcomes
                    .iter()
                    .filter(|o| o.result.as_ref().is_ok_and(|s| s.unchanged))
                    .count() as u64,
                requests: self.tally.totals(),
            };
            if let Err(e) = self
                .engine
                .catalog
                .clouds()
                .record_sweep(self.cloud, &record)
                .await
            {
                tracing::warn!(cloud_id = self.cloud.0, error = %e, "could not record the sweep");
            }
        }
        outcomes
    }

    /// Each tenant through its own login, `concurrency` at a time across the sweep.
    async fn per_tenant(&self, ids: Vec<TenantId>) -> Vec<TenantOutcome> {
        let mut set = JoinSet::new();
        for id in ids {
            let engine = self.engine.clone();
            let permits = self.permits.clone();
            let observer = self.observer.clone();
            let tally = self.tally.clone();
            let due_before = self.due_before;
            spawn_into(&mut set, self.engine.runtime.as_ref(), async move {
                let _permit = permits.acquire_owned().await.ok()?;
                if *engine.shutdown_tx.borrow() {
                    return None;
                }
                let runs = engine.catalog.sync_runs();
                let claimed = runs
                    .acquire_lease(id, &engine.holder, now(), engine.lease_ttl(), due_before)
                    .await;
                let outcome = match claimed {
                    Ok(true) => {
                        let outcome = engine.run_claimed(id, How::Own, Some(&tally)).await;
                        if let Err(e) = runs.release_lease(id, &engine.holder).await {
                            tracing::warn!(tenant_id = id.0, error = %e, "releasing a claim failed");
                        }
                        outcome.map(Some)
                    }
                    Ok(false) => Ok(None),
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(Some(outcome)) => {
                        observer.finished(&outcome);
                        Some(outcome)
                    }
                    Ok(None) => None,
                    Err(e) => {
                        tracing::error!(tenant_id = id.0, error = %e, "sync bookkeeping failed");
                        None
                    }
                }
            });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(Some(outcome)) = joined {
                outcomes.push(outcome);
            }
        }
        outcomes
    }

    /// The tenants this process can claim, from one listing of the cloud (or each failed
    /// with why there is none). Nothing is applied for a tenant unless the listing is whole.
    async fn with_listing(
        &self,
        ids: Vec<TenantId>,
        session: Result<Session, String>,
    ) -> Vec<TenantOutcome> {
        let engine = &self.engine;
        let Ok(_permit) = self.permits.clone().acquire_owned().await else {
            return Vec::new();
        };
        let runs = engine.catalog.sync_runs();
        let claimed = match runs
            .acquire_leases(
                &ids,
                &engine.holder,
                now(),
                engine.lease_ttl(),
                self.due_before,
            )
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(cloud_id = self.cloud.0, error = %e, "claiming tenants failed");
                return Vec::new();
            }
        };
        if claimed.is_empty() {
            return Vec::new();
        }
        let claimed_ids: Vec<TenantId> = claimed.iter().map(|t| t.id).collect();
        let listing = match &session {
            Ok(session) => {
                let listed = tokio::select! {
                    listed = CloudListing::fetch(session) => listed,
                    lost = engine.heartbeat(&claimed_ids) => Err(lost),
                };
                self.tally.add(&session.requests());
                listed
            }
            Err(why) => Err(SyncError::CloudListing(why.clone())),
        };
        let outcomes = match &listing {
            Ok(listing) => self.each_view(listing, claimed).await,
            Err(e) => {
                let why = e.to_string();
                let mut outcomes = Vec::new();
                for tenant in &claimed {
                    let how = match e {
                        SyncError::LeaseLost => How::Lost,
                        _ => How::Failed(&why),
                    };
                    outcomes.extend(self.run_one(tenant.id, how).await);
                }
                outcomes
            }
        };
        if let Err(e) = runs.release_leases(&claimed_ids, &engine.holder).await {
            tracing::warn!(cloud_id = self.cloud.0, error = %e, "releasing claims failed");
        }
        // Delta polls start from what this listing showed, once every tenant has it.
        if let Ok(listing) = &listing
            && outcomes.iter().all(|o| o.result.is_ok())
        {
            let cursor = serde_json::to_value(listing.cursor(&Cursor::default())).ok();
            if let Err(e) = engine
                .catalog
                .clouds()
                .set_delta_cursor(self.cloud, cursor)
                .await
            {
                tracing::warn!(cloud_id = self.cloud.0, error = %e, "storing the delta cursor failed");
            }
        }
        outcomes
    }

    /// Each claimed tenant's view of the listing: compared with the catalog and applied, or,
    /// when it is the view the tenant's last sync applied (equal fingerprints), recorded as a
    /// run that changed nothing, all such tenants at once. An idle sweep of a big cloud is
    /// then a few statements, not a compare and a transaction per tenant.
    async fn each_view(&self, listing: &CloudListing, claimed: Vec<Tenant>) -> Vec<TenantOutcome> {
        let started = self.engine.settings.clock.now();
        let views: Vec<(Tenant, TenantView<'_>)> = claimed
            .into_iter()
            .map(|t| {
                let view = listing.view(&t.backend_id);
                (t, view)
            })
            .collect();
        let names = self.names_for(&views).await;
        let unchanged = |(tenant, view): &(Tenant, TenantView<'_>)| {
            names.as_ref().is_some_and(|names| {
                tenant.view_fingerprint.as_deref() == Some(view.fingerprint_with(names).as_str())
            })
        };
        let (same, changed): (Vec<_>, Vec<_>) = views.into_iter().partition(unchanged);
        // The unchanged first: recorded in moments, while their claims are fresh.
        let mut outcomes = Vec::new();
        if !same.is_empty() {
            outcomes.extend(self.record_unchanged(&same, started).await);
        }
        for (tenant, view) in changed {
            outcomes.extend(self.run_one(tenant.id, How::View(view)).await);
        }
        outcomes
    }

    /// The catalog's names of the images the views' servers count for (part of each view's
    /// fingerprint); `None` when they cannot be read, and then every view is compared.
    async fn names_for(
        &self,
        views: &[(Tenant, TenantView<'_>)],
    ) -> Option<HashMap<String, String>> {
        let mut refs: Vec<String> = views.iter().flat_map(|(_, v)| v.image_refs()).collect();
        refs.sort_unstable();
        refs.dedup();
        match self
            .engine
            .catalog
            .inventory()
            .image_names(self.cloud, &refs)
            .await
        {
            Ok(names) => Some(names),
            Err(e) => {
                tracing::warn!(cloud_id = self.cloud.0, error = %e, "reading image names failed; comparing every view");
                None
            }
        }
    }

    /// Records the runs of tenants whose view did not change, with what they saw; their
    /// outcomes.
    async fn record_unchanged(
        &self,
        same: &[(Tenant, TenantView<'_>)],
        started: DateTime<Utc>,
    ) -> Vec<TenantOutcome> {
        let unchanged: Vec<UnchangedRun> = same
            .iter()
            .map(|(tenant, view)| UnchangedRun {
                tenant_id: tenant.id,
                counts: RunCounts {
                    images_seen: view.images.len() as i64,
                    instances_seen: view.servers.as_ref().map_or(0, Vec::len) as i64,
                    ..RunCounts::default()
                },
                unavailable: view.unavailable(),
            })
            .collect();
        let engine = &self.engine;
        let clock = Instant::now();
        let finished = engine.settings.clock.now();
        let recorded = engine
            .catalog
            .sync_runs()
            .record_unchanged(&unchanged, &engine.holder, started, finished)
            .await;
        let cloud = match recorded {
            Ok(()) => engine.catalog.clouds().with_credentials(self.cloud).await,
            Err(e) => Err(e),
        };
        let cloud = match cloud {
            Ok((cloud, _)) => cloud,
            Err(e) => {
                tracing::error!(cloud_id = self.cloud.0, error = %e, "recording unchanged tenants failed");
                return Vec::new();
            }
        };
        tracing::info!(cloud = %cloud.name, tenants = unchanged.len(), "tenants unchanged since their last sync");
        let duration = clock.elapsed() / unchanged.len().max(1) as u32;
        let mut outcomes = Vec::new();
        for (run, (tenant, _)) in unchanged.iter().zip(same) {
            let outcome = TenantOutcome {
                tenant_uuid: tenant.uuid,
                tenant_name: tenant.name.clone(),
                cloud_name: cloud.name.clone(),
                result: Ok(TenantSummary {
                    counts: run.counts,
                    applied: AppliedCounts::default(),
                    unavailable: run.unavailable.clone(),
                    unchanged: true,
                }),
                duration,
            };
            self.observer.finished(&outcome);
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Syncs one claimed tenant `how`; its outcome, told to the observer.
    async fn run_one(&self, id: TenantId, how: How<'_>) -> Option<TenantOutcome> {
        match self.engine.run_claimed(id, how, None).await {
            Ok(outcome) => {
                self.observer.finished(&outcome);
                Some(outcome)
            }
            Err(e) => {
                tracing::error!(tenant_id = id.0, error = %e, "sync bookkeeping failed");
                None
            }
        }
    }
}
