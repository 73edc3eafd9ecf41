//! One cloud's part of a sweep: its tenants discovered (when it asks for that), then synced
//! per tenant or from one listing of the whole cloud, and the sweep recorded on the cloud.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::cloud::{CloudListing, Cursor};
use super::engine::{SweepObserver, SyncEngine, TenantOutcome};
use super::runtime::spawn_into;
use super::tenant::{RequestTally, SyncError};
use crate::catalog::clouds::SweepRecord;
use crate::catalog::{CloudId, TenantId, now};
use crate::openstack::Session;

/// How a claimed tenant is synced.
pub(super) enum How<'a> {
    /// Through its own login and listing.
    Own,
    /// From its cloud's one listing.
    Listing(&'a CloudListing),
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
            Ok(None) => ("per_tenant", self.per_tenant(ids).await),
            Ok(Some(session)) => ("cloud", self.with_listing(ids, Ok(session)).await),
            Err(why) => ("cloud", self.with_listing(ids, Err(why)).await),
        };
        if !outcomes.is_empty() {
            let record = SweepRecord {
                mode,
                started,
                finished: self.engine.settings.clock.now(),
                tenants: outcomes.len() as u64,
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
                        let outcome = engine.run_claimed(id, &How::Own, Some(&tally)).await;
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
        let mut claimed = Vec::new();
        for id in ids {
            match runs
                .acquire_lease(
                    id,
                    &engine.holder,
                    now(),
                    engine.lease_ttl(),
                    self.due_before,
                )
                .await
            {
                Ok(true) => claimed.push(id),
                Ok(false) => {}
                Err(e) => tracing::error!(tenant_id = id.0, error = %e, "claiming a tenant failed"),
            }
        }
        if claimed.is_empty() {
            return Vec::new();
        }
        let listing = match &session {
            Ok(session) => {
                let listed = tokio::select! {
                    listed = CloudListing::fetch(session) => listed,
                    lost = engine.heartbeat(&claimed) => Err(lost),
                };
                self.tally.add(&session.requests());
                listed
            }
            Err(why) => Err(SyncError::CloudListing(why.clone())),
        };
        let failure = listing.as_ref().err().map(ToString::to_string);
        let how = match (&listing, &failure) {
            (Ok(listing), _) => How::Listing(listing),
            (Err(SyncError::LeaseLost), _) => How::Lost,
            (Err(_), Some(why)) => How::Failed(why),
            (Err(_), None) => How::Lost,
        };
        let mut outcomes = Vec::new();
        for id in claimed {
            match engine.run_claimed(id, &how, None).await {
                Ok(outcome) => {
                    self.observer.finished(&outcome);
                    outcomes.push(outcome);
                }
                Err(e) => tracing::error!(tenant_id = id.0, error = %e, "sync bookkeeping failed"),
            }
            if let Err(e) = runs.release_lease(id, &engine.holder).await {
                tracing::warn!(tenant_id = id.0, error = %e, "releasing a claim failed");
            }
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
}
