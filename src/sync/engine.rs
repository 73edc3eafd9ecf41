//! The sync engine: sweeps over all tenants with bounded concurrency, manual pulls, the cron
//! schedule, and a clean stop. A per-tenant lease in the database keeps replicas from syncing
//! one tenant twice.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use uuid::Uuid;

use super::runtime::spawn_into;
use super::tenant::{SyncContext, SyncError, TenantSummary, sync_tenant};
use crate::catalog::sync_runs::is_syncing;
use crate::catalog::{Catalog, CatalogError, RunOutcome, TenantId, now};
use crate::clock::Clock;
use crate::openstack::SessionSettings;

#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// 6-field cron (with seconds), UTC.
    pub cron: String,
    pub concurrency: usize,
    /// How long a claim on a tenant holds if its holder dies mid-sync; a running sync renews
    /// it every third of that.
    pub lease_ttl: Duration,
    /// This process's id in tenant leases and sync runs. `serve` uses one that survives a
    /// restart (host and port), so a restarted process frees what it held at once; others get
    /// a unique one and leave their claims to expire.
    pub holder: Option<String>,
    /// Timeouts and retries for OpenStack requests.
    pub session: SessionSettings,
    /// New/changed image rows a tenant's sync holds in memory before staging them.
    pub stage_batch: usize,
    /// New links a tenant's sync holds in memory before staging them.
    pub stage_links_batch: usize,
    /// Threads the process's syncs run on, apart from the API's (see [`super::runtime`]); the
    /// first engine of a process sets it.
    pub threads: usize,
    /// When syncs observe things (runs, tenants' last sync, instances' transitions).
    pub clock: Clock,
    /// How long closed lifecycle intervals are kept (pruned daily); `None`: forever.
    pub usage_retention: Option<chrono::Duration>,
}

pub const DEFAULT_CRON: &str = "0 */10 * * * *";

/// When usage history is pruned (with a retention set): daily at 03:17 UTC.
const PRUNE_CRON: &str = "0 17 3 * * *";

/// A claim on a tenant outlives its holder by at most this long.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);

impl SyncSettings {
    pub fn new(cron: &str, concurrency: usize) -> Self {
        Self {
            cron: cron.to_string(),
            concurrency: concurrency.max(1),
            lease_ttl: DEFAULT_LEASE_TTL,
            holder: None,
            stage_batch: 5_000,
            stage_links_batch: 100_000,
            session: SessionSettings::default(),
            threads: super::runtime::default_threads(),
            clock: Clock::System,
            usage_retention: None,
        }
    }
}

pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(expr)
        .map_err(|e| {
            format!(
                "{expr:?} is not a 6-field cron expression (sec min hour day month weekday): {e}"
            )
        })
}

/// The schedule's tick at or before `now`. croner keeps `now`'s fraction of a second in the
/// occurrence it finds; cut off, every replica gets the same tick whenever in that second its
/// job fires (with the fraction, a replica firing later in the second took a tenant synced
/// earlier in it for due again).
pub fn current_tick(cron: &croner::Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tick = cron.find_previous_occurrence(&now, true).ok()?;
    Some(tick.with_nanosecond(0).unwrap_or(tick))
}

/// How one tenant's sync ended.
#[derive(Clone, Debug)]
pub struct TenantOutcome {
    pub tenant_uuid: Uuid,
    pub tenant_name: String,
    pub cloud_name: String,
    pub result: Result<TenantSummary, String>,
    pub duration: Duration,
}

/// Follows a sweep (the CLI shows a progress bar with it).
pub trait SweepObserver: Send + Sync {
    fn planned(&self, _tenants: usize) {}
    fn finished(&self, _outcome: &TenantOutcome) {}
}

pub struct LogObserver;
impl SweepObserver for LogObserver {}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("not found")]
    NotFound,
    #[error("a sync of this tenant is already in progress")]
    AlreadySyncing,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

pub struct SyncEngine {
    catalog: Catalog,
    settings: SyncSettings,
    /// Identifies this process in tenant leases.
    holder: String,
    sweeping: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    pulls: Mutex<JoinSet<()>>,
    scheduler: Mutex<Option<JobScheduler>>,
    /// Where tenant syncs run (`None`: on the caller's runtime).
    runtime: Option<tokio::runtime::Handle>,
}

impl SyncEngine {
    pub fn new(catalog: Catalog, settings: SyncSettings) -> Arc<Self> {
        let (shutdown_tx, _) = watch::channel(false);
        let runtime = super::runtime::handle(settings.threads);
        let holder = settings
            .holder
            .clone()
            .unwrap_or_else(|| format!("{}-{}", std::process::id(), Uuid::new_v4().simple()));
        Arc::new(Self {
            catalog,
            settings,
            holder,
            sweeping: AtomicBool::new(false),
            shutdown_tx,
            pulls: Mutex::new(JoinSet::new()),
            scheduler: Mutex::new(None),
            runtime,
        })
    }

    /// Syncs one tenant if this process can claim it. `None` when another sync holds it or it
    /// was synced at or after `due_before`.
    pub async fn run_tenant(
        &self,
        tenant_id: TenantId,
        due_before: Option<DateTime<Utc>>,
    ) -> Result<Option<TenantOutcome>, CatalogError> {
        let runs = self.catalog.sync_runs();
        if !runs
            .acquire_lease(tenant_id, &self.holder, now(), self.lease_ttl(), due_before)
            .await?
        {
            return Ok(None);
        }
        let outcome = self.run_claimed(tenant_id).await;
        runs.release_lease(tenant_id, &self.holder).await?;
        outcome.map(Some)
    }

    fn lease_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.lease_ttl).unwrap_or(chrono::Duration::minutes(1))
    }

    /// Renews the claim on the tenant every third of the lease's life; returns only when the
    /// claim was lost (another process took the tenant over after a stall longer than the
    /// lease).
    async fn heartbeat(&self, tenant_id: TenantId) -> SyncError {
        let every = self.settings.lease_ttl / 3;
        loop {
            tokio::time::sleep(every).await;
            match self
                .catalog
                .sync_runs()
                .renew_lease(tenant_id, &self.holder, now(), self.lease_ttl())
                .await
            {
                Ok(true) => {}
                Ok(false) => return SyncError::LeaseLost,
                // The database may be back by the next beat; the lease is good until then.
                Err(e) => {
                    tracing::warn!(tenant_id = tenant_id.0, error = %e, "lease renewal failed")
                }
            }
        }
    }

    /// Frees what this process held before a restart under the same id, and closes as
    /// `interrupted` every run whose process died. `serve` calls it at start-up, before any
    /// sync of its own runs (sweeps and pulls close dead runs at their start too).
    pub async fn recover(&self) -> Result<(), CatalogError> {
        let runs = self.catalog.sync_runs();
        let released = runs.release_leases_of(&self.holder).await?;
        let closed = runs.close_dead_runs(now()).await?;
        if released + closed > 0 {
            tracing::info!(released, closed, holder = %self.holder, "recovered from an earlier process's stop");
        }
        Ok(())
    }

    async fn run_claimed(&self, tenant_id: TenantId) -> Result<TenantOutcome, CatalogError> {
        let started = Instant::now();
        let target = self.catalog.inventory().target(tenant_id).await?;
        let runs = self.catalog.sync_runs();
        let run = runs
            .start(tenant_id, &self.holder, self.settings.clock.now())
            .await?;
        let ctx = SyncContext {
            catalog: &self.catalog,
            session: &self.settings.session,
            stage_batch: self.settings.stage_batch.max(1),
            stage_links_batch: self.settings.stage_links_batch.max(1),
            shutdown: self.shutdown_tx.subscribe(),
            clock: &self.settings.clock,
        };
        let result = tokio::select! {
            result = sync_tenant(&ctx, &target) => result,
            lost = self.heartbeat(tenant_id) => Err(lost),
        };
        let (tenant, cloud) = (target.tenant, target.cloud);
        let finished = self.settings.clock.now();
        let (outcome, counts, message) = match &result {
            Ok(summary) => (RunOutcome::Success, summary.counts, String::new()),
            Err(SyncError::Aborted) => (
                RunOutcome::Aborted,
                Default::default(),
                SyncError::Aborted.to_string(),
            ),
            Err(SyncError::LeaseLost) => (
                RunOutcome::Interrupted,
                Default::default(),
                SyncError::LeaseLost.to_string(),
            ),
            Err(e) => (RunOutcome::Failed, Default::default(), e.to_string()),
        };
        let unavailable = result.as_ref().map_or(&[][..], |s| &s.unavailable[..]);
        runs.finish(&run, outcome, counts, unavailable, &message, finished)
            .await?;
        match &result {
            Ok(s) => {
                tracing::info!(tenant = %tenant.name, cloud = %cloud.name, seen = s.counts.images_seen,
                    added = s.counts.images_added, updated = s.counts.images_updated,
                    removed = s.counts.images_removed, instances = s.counts.instances_seen, "tenant synced");
                runs.record_outcome(tenant_id, None, finished).await?;
            }
            // A stop is not the tenant's fault: leave its state as it was.
            Err(SyncError::Aborted) => {
                tracing::info!(tenant = %tenant.name, "sync aborted by shutdown")
            }
            Err(SyncError::LeaseLost) => {
                tracing::warn!(tenant = %tenant.name, "sync stopped: another process took the tenant over")
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.name, cloud = %cloud.name, error = %e, "tenant sync failed");
                runs.record_outcome(tenant_id, Some(&e.to_string()), finished)
                    .await?;
            }
        }
        Ok(TenantOutcome {
            tenant_uuid: tenant.uuid,
            tenant_name: tenant.name,
            cloud_name: cloud.name,
            result: result.map_err(|e| e.to_string()),
            duration: started.elapsed(),
        })
    }

    /// Syncs every tenant (or only `only`), at most `concurrency` at a time. A sweep asked for
    /// while another runs in this process returns at once with nothing done.
    pub async fn sweep(
        self: &Arc<Self>,
        only: Option<&[Uuid]>,
        due_before: Option<DateTime<Utc>>,
        observer: Arc<dyn SweepObserver>,
    ) -> Result<Vec<TenantOutcome>, CatalogError> {
        if self.sweeping.swap(true, Ordering::SeqCst) {
            tracing::info!("the previous sweep is still running; skipping this one");
            return Ok(Vec::new());
        }
        let result = self.sweep_inner(only, due_before, observer).await;
        self.sweeping.store(false, Ordering::SeqCst);
        result
    }

    async fn sweep_inner(
        self: &Arc<Self>,
        only: Option<&[Uuid]>,
        due_before: Option<DateTime<Utc>>,
        observer: Arc<dyn SweepObserver>,
    ) -> Result<Vec<TenantOutcome>, CatalogError> {
        self.catalog.sync_runs().close_dead_runs(now()).await?;
        let ids = self.catalog.tenants().ids(only).await?;
        observer.planned(ids.len());
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut set = JoinSet::new();
        for id in ids {
            let engine = self.clone();
            let permits = permits.clone();
            let observer = observer.clone();
            spawn_into(&mut set, self.runtime.as_ref(), async move {
                let _permit = permits.acquire_owned().await.ok()?;
                if *engine.shutdown_tx.borrow() {
                    return None;
                }
                match engine.run_tenant(id, due_before).await {
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
        Ok(outcomes)
    }

    /// Starts a sync of the tenant now, in the background.
    pub async fn pull_tenant(self: &Arc<Self>, tenant_uuid: Uuid) -> Result<(), PullError> {
        self.catalog.sync_runs().close_dead_runs(now()).await?;
        let tenant = self
            .catalog
            .tenants()
            .find(tenant_uuid)
            .await?
            .ok_or(PullError::NotFound)?;
        if is_syncing(&tenant, now()) {
            return Err(PullError::AlreadySyncing);
        }
        self.spawn_pulls(vec![tenant.id]).await;
        Ok(())
    }

    /// Starts a sync of every tenant of the cloud now, in the background.
    pub async fn pull_cloud(self: &Arc<Self>, cloud_uuid: Uuid) -> Result<usize, PullError> {
        let ids = match self.catalog.tenants().ids_in_cloud(cloud_uuid).await {
            Err(CatalogError::NotFound) => return Err(PullError::NotFound),
            other => other?,
        };
        let n = ids.len();
        self.spawn_pulls(ids).await;
        Ok(n)
    }

    async fn spawn_pulls(self: &Arc<Self>, ids: Vec<TenantId>) {
        let mut pulls = self.pulls.lock().await;
        // Forget finished pulls so the set does not grow.
        while pulls.try_join_next().is_some() {}
        for id in ids {
            let engine = self.clone();
            spawn_into(&mut pulls, self.runtime.as_ref(), async move {
                if let Err(e) = engine.run_tenant(id, None).await {
                    tracing::error!(tenant_id = id.0, error = %e, "pull failed");
                }
            });
        }
    }

    /// Runs a sweep on the cron schedule until `shutdown`.
    pub async fn start_schedule(self: &Arc<Self>) -> Result<(), JobSchedulerError> {
        if let Err(e) = self.recover().await {
            tracing::warn!(error = %e, "could not recover from an earlier process's stop");
        }
        let cron = parse_cron(&self.settings.cron).map_err(|_| JobSchedulerError::ParseSchedule)?;
        let engine = self.clone();
        let job = Job::new_async(self.settings.cron.as_str(), move |_id, _sched| {
            let engine = engine.clone();
            let cron = cron.clone();
            Box::pin(async move {
                // Every replica computes the same tick, so a tenant synced by one of them at or
                // after it is not synced again by another in this period.
                let tick = current_tick(&cron, Utc::now());
                if let Err(e) = engine.sweep(None, tick, Arc::new(LogObserver)).await {
                    tracing::error!(error = %e, "scheduled sweep failed");
                }
            })
        })?;
        let sched = JobScheduler::new().await?;
        sched.add(job).await?;
        if self.settings.usage_retention.is_some() {
            let engine = self.clone();
            // Daily, off the hour most cron sweeps use; every replica may run it (a second
            // run deletes nothing).
            let prune = Job::new_async(PRUNE_CRON, move |_id, _sched| {
                let engine = engine.clone();
                Box::pin(async move {
                    if let Err(e) = engine.prune_usage().await {
                        tracing::error!(error = %e, "pruning usage history failed");
                    }
                })
            })?;
            sched.add(prune).await?;
        }
        sched.start().await?;
        *self.scheduler.lock().await = Some(sched);
        tracing::info!(cron = %self.settings.cron, concurrency = self.settings.concurrency, "sync schedule started");
        Ok(())
    }

    /// Deletes lifecycle intervals that closed longer ago than the retention; the number
    /// deleted (0 without a retention).
    pub async fn prune_usage(&self) -> Result<u64, CatalogError> {
        let Some(keep) = self.settings.usage_retention else {
            return Ok(0);
        };
        let before = self.settings.clock.now() - keep;
        let pruned = self.catalog.usage_report().prune(before).await?;
        tracing::info!(pruned, %before, "usage history pruned");
        Ok(pruned)
    }

    /// Stops the schedule, tells running syncs to abort before applying anything, and waits
    /// for them up to `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        if let Some(mut sched) = self.scheduler.lock().await.take() {
            let _ = sched.shutdown().await;
        }
        self.shutdown_tx.send_replace(true);
        let mut pulls = self.pulls.lock().await;
        let wait = async {
            while pulls.join_next().await.is_some() {}
            while self.sweeping.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(grace, wait).await.is_err() {
            tracing::warn!(
                "syncs still running at shutdown were abandoned; their tenants are unchanged"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_firing_within_one_second_share_its_tick() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let every_second = parse_cron("*/1 * * * * *").unwrap();
        let early = current_tick(&every_second, t("2026-11-30T18:18:13.001Z"));
        let late = current_tick(&every_second, t("2026-11-30T18:18:13.902Z"));
        assert_eq!(early, Some(t("2026-11-30T18:18:13Z")));
        assert_eq!(early, late);
        let every_ten_minutes = parse_cron("0 */10 * * * *").unwrap();
        assert_eq!(
            current_tick(&every_ten_minutes, t("2026-11-30T18:17:59.503Z")),
            Some(t("2026-11-30T18:10:00Z"))
        );
    }
}
