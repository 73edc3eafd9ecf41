//! The sync engine schedules and fans out: sweeps over all tenants with bounded concurrency
//! (one [`CloudSweep`] per cloud), manual pulls, delta polls, the cron schedule, and a clean
//! stop. What one tenant's run does is [`Runner`]'s; how a cloud is listed, the sweep's.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use uuid::Uuid;

use super::context::RequestTally;
use super::delta::{self, DeltaOutcome};
use super::run::{Runner, TenantOutcome};
use super::runtime::spawn_into;
use super::settings::{PRUNE_CRON, SyncSettings, current_tick, parse_cron};
use super::sweep::{CloudSweep, LogObserver, SweepObserver};
use crate::catalog::sync_runs::is_syncing;
use crate::catalog::{Catalog, CatalogError, CloudId, TenantId, now};

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
    runner: Arc<Runner>,
    sweeping: AtomicBool,
    pulls: Mutex<JoinSet<()>>,
    scheduler: Mutex<Option<JobScheduler>>,
}

impl SyncEngine {
    pub fn new(catalog: Catalog, settings: SyncSettings) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        let runtime = super::runtime::handle(settings.threads);
        let holder = settings
            .holder
            .clone()
            .unwrap_or_else(|| format!("{}-{}", std::process::id(), Uuid::new_v4().simple()));
        Arc::new(Self {
            runner: Arc::new(Runner {
                catalog,
                settings,
                holder,
                shutdown,
                runtime,
            }),
            sweeping: AtomicBool::new(false),
            pulls: Mutex::new(JoinSet::new()),
            scheduler: Mutex::new(None),
        })
    }

    fn catalog(&self) -> &Catalog {
        &self.runner.catalog
    }

    /// Syncs one tenant if this process can claim it. `None` when another sync holds it or it
    /// was synced at or after `due_before`.
    pub async fn run_tenant(
        &self,
        tenant_id: TenantId,
        due_before: Option<DateTime<Utc>>,
    ) -> Result<Option<TenantOutcome>, CatalogError> {
        let tally = RequestTally::default();
        self.runner
            .claim_and_run(tenant_id, due_before, &tally)
            .await
    }

    /// Frees what this process held before a restart under the same id, and closes as
    /// `interrupted` every run whose process died. `serve` calls it at start-up, before any
    /// sync of its own runs (sweeps and pulls close dead runs at their start too).
    pub async fn recover(&self) -> Result<(), CatalogError> {
        self.runner.recover().await
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
        &self,
        only: Option<&[Uuid]>,
        due_before: Option<DateTime<Utc>>,
        observer: Arc<dyn SweepObserver>,
    ) -> Result<Vec<TenantOutcome>, CatalogError> {
        self.catalog().sync_runs().close_dead_runs(now()).await?;
        let mut clouds = self.catalog().tenants().by_cloud(only).await?;
        if only.is_none() {
            // Clouds that discover their tenants are swept before they have any.
            for cloud in self.catalog().clouds().discovering().await? {
                if !clouds.iter().any(|(c, _)| *c == cloud) {
                    clouds.push((cloud, Vec::new()));
                }
            }
        }
        observer.planned(clouds.iter().map(|(_, ids)| ids.len()).sum());
        let permits = Arc::new(Semaphore::new(self.runner.settings.concurrency));
        let mut set = JoinSet::new();
        let mut names = self.catalog().clouds().names().await?;
        for (cloud, ids) in clouds {
            let name = names.remove(&cloud).unwrap_or_default();
            let sweep = self.cloud_sweep(
                (cloud, name),
                only.is_none(),
                due_before,
                &permits,
                &observer,
            );
            spawn_into(&mut set, self.runner.runtime.as_ref(), sweep.run(ids));
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(done) => outcomes.extend(done),
                Err(e) => tracing::error!(error = %e, "a cloud's sweep panicked"),
            }
        }
        Ok(outcomes)
    }

    /// The sweep of `cloud` (its id and name).
    fn cloud_sweep(
        &self,
        (cloud, cloud_name): (CloudId, String),
        whole_cloud: bool,
        due_before: Option<DateTime<Utc>>,
        permits: &Arc<Semaphore>,
        observer: &Arc<dyn SweepObserver>,
    ) -> CloudSweep {
        CloudSweep {
            runner: self.runner.clone(),
            cloud,
            cloud_name,
            whole_cloud,
            due_before,
            permits: permits.clone(),
            observer: observer.clone(),
            tally: Arc::default(),
        }
    }

    /// Applies what changed upstream since each cursor (see [`delta::poll`]).
    pub async fn delta_poll(&self) -> Result<Vec<DeltaOutcome>, CatalogError> {
        delta::poll(&self.runner).await
    }

    /// Checks the cloud's connection with its own credentials (see [`super::check`]).
    pub async fn check_cloud(
        &self,
        cloud_uuid: Uuid,
    ) -> Result<super::check::CloudCheck, CatalogError> {
        super::check::check_cloud(self.catalog(), &self.runner.settings.session, cloud_uuid).await
    }

    /// Starts a sync of the tenant now, in the background.
    pub async fn pull_tenant(self: &Arc<Self>, tenant_uuid: Uuid) -> Result<(), PullError> {
        self.catalog().sync_runs().close_dead_runs(now()).await?;
        let tenant = self
            .catalog()
            .tenants()
            .find(tenant_uuid)
            .await?
            .ok_or(PullError::NotFound)?;
        if is_syncing(&tenant, now()) {
            return Err(PullError::AlreadySyncing);
        }
        let engine = self.clone();
        let (id, name) = (tenant.id, tenant.name);
        self.spawn_pull(async move {
            if let Err(e) = engine.run_tenant(id, None).await {
                tracing::error!(tenant = %name, error = %e, "pull failed");
            }
        })
        .await;
        Ok(())
    }

    /// Starts a sync of every tenant of the cloud now, in the background, in the cloud's mode
    /// (one listing of the whole cloud where that applies).
    pub async fn pull_cloud(self: &Arc<Self>, cloud_uuid: Uuid) -> Result<usize, PullError> {
        let cloud = self
            .catalog()
            .clouds()
            .find(cloud_uuid)
            .await?
            .ok_or(PullError::NotFound)?;
        let ids = self.catalog().tenants().ids_in_cloud(cloud_uuid).await?;
        let n = ids.len();
        let permits = Arc::new(Semaphore::new(self.runner.settings.concurrency));
        let observer: Arc<dyn SweepObserver> = Arc::new(LogObserver);
        let sweep = self.cloud_sweep((cloud.id, cloud.name), true, None, &permits, &observer);
        self.spawn_pull(async move {
            sweep.run(ids).await;
        })
        .await;
        Ok(n)
    }

    async fn spawn_pull(&self, pull: impl Future<Output = ()> + Send + 'static) {
        let mut pulls = self.pulls.lock().await;
        // Forget finished pulls so the set does not grow.
        while pulls.try_join_next().is_some() {}
        spawn_into(&mut pulls, self.runner.runtime.as_ref(), pull);
    }

    /// Runs a sweep on the cron schedule until `shutdown`.
    pub async fn start_schedule(self: &Arc<Self>) -> Result<(), JobSchedulerError> {
        if let Err(e) = self.recover().await {
            tracing::warn!(error = %e, "could not recover from an earlier process's stop");
        }
        let settings = &self.runner.settings;
        let sched = JobScheduler::new().await?;
        sched.add(self.sweep_job()?).await?;
        if let Some(cron) = &settings.delta_cron {
            let poll = self.job(cron, "delta poll", |e| async move {
                e.delta_poll().await.map(drop)
            });
            sched.add(poll?).await?;
        }
        if settings.usage_retention.is_some() {
            // Daily, off the hour most cron sweeps use; every replica may run it (a second
            // run deletes nothing).
            let prune = self.job(PRUNE_CRON, "pruning usage history", |e| async move {
                e.prune_usage().await.map(drop)
            });
            sched.add(prune?).await?;
        }
        sched.start().await?;
        *self.scheduler.lock().await = Some(sched);
        tracing::info!(cron = %settings.cron, concurrency = settings.concurrency, "sync schedule started");
        Ok(())
    }

    /// A job running `task` on the schedule `cron`; a failure is logged as `what` failed.
    fn job<F, Fut>(
        self: &Arc<Self>,
        cron: &str,
        what: &'static str,
        task: F,
    ) -> Result<Job, JobSchedulerError>
    where
        F: Fn(Arc<Self>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), CatalogError>> + Send + 'static,
    {
        let engine = self.clone();
        Job::new_async(cron, move |_id, _sched| {
            let run = task(engine.clone());
            Box::pin(async move {
                if let Err(e) = run.await {
                    tracing::error!(error = %e, "{what} failed");
                }
            })
        })
    }

    /// The sweep on the engine's cron schedule.
    fn sweep_job(self: &Arc<Self>) -> Result<Job, JobSchedulerError> {
        let cron_expr = self.runner.settings.cron.as_str();
        let cron = parse_cron(cron_expr).map_err(|_| JobSchedulerError::ParseSchedule)?;
        let engine = self.clone();
        Job::new_async(cron_expr, move |_id, _sched| {
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
        })
    }

    /// Deletes lifecycle intervals that closed longer ago than the retention; the number
    /// deleted (0 without a retention).
    pub async fn prune_usage(&self) -> Result<u64, CatalogError> {
        let settings = &self.runner.settings;
        let Some(keep) = settings.usage_retention else {
            return Ok(0);
        };
        let before = settings.clock.now() - keep;
        let pruned = self.catalog().usage_report().prune(before).await?;
        tracing::info!(pruned, %before, "usage history pruned");
        Ok(pruned)
    }

    /// Stops the schedule, tells running syncs to abort before applying anything, and waits
    /// for them up to `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        if let Some(mut sched) = self.scheduler.lock().await.take()
            && let Err(e) = sched.shutdown().await
        {
            tracing::warn!(error = %e, "stopping the schedule failed");
        }
        self.runner.shutdown.send_replace(true);
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
