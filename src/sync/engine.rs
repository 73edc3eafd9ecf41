//! The sync engine: sweeps over all tenants with bounded concurrency, manual pulls, the cron
//! schedule, and a clean stop. A per-tenant lease in the database keeps replicas from syncing
//! one tenant twice.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::{service_settings, tenants};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use uuid::Uuid;

use super::tenant::{SyncContext, SyncError, TenantSummary, sync_tenant};
use crate::catalog::now;
use crate::catalog::sync_runs::{self, ABORTED, FAILED, SUCCESS};
use crate::crypto::SecretBox;
use crate::openstack::SessionConfig;
use crate::openstack::keystone::{AppCredentialRef, AuthMethod};

#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// 6-field cron (with seconds), UTC.
    pub cron: String,
    pub concurrency: usize,
    /// How long a claim on a tenant holds if its holder dies mid-sync.
    pub lease_ttl: Duration,
    /// Timeouts and retries for OpenStack requests.
    pub session: SessionConfig,
    /// New/changed image rows a tenant's sync holds in memory before staging them.
    pub stage_batch: usize,
    /// New links a tenant's sync holds in memory before staging them.
    pub stage_links_batch: usize,
}

pub const DEFAULT_CRON: &str = "0 */10 * * * *";

impl SyncSettings {
    pub fn new(cron: &str, concurrency: usize) -> Self {
        Self {
            cron: cron.to_string(),
            concurrency: concurrency.max(1),
            lease_ttl: Duration::from_secs(15 * 60),
            stage_batch: 5_000,
            stage_links_batch: 100_000,
            session: SessionConfig::new(
                "",
                AuthMethod::ApplicationCredential {
                    credential: AppCredentialRef::Id(String::new()),
                    secret: String::new(),
                },
            ),
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

/// How one tenant's sync ended.
#[derive(Clone, Debug)]
pub struct TenantOutcome {
    pub tenant_uuid: Uuid,
    pub tenant_name: String,
    pub settings_name: String,
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
    Database(#[from] DbErr),
}

pub struct SyncEngine {
    db: DatabaseConnection,
    secret_box: SecretBox,
    settings: SyncSettings,
    /// Identifies this process in tenant leases.
    holder: String,
    sweeping: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    pulls: Mutex<JoinSet<()>>,
    scheduler: Mutex<Option<JobScheduler>>,
}

impl SyncEngine {
    pub fn new(db: DatabaseConnection, secret_box: SecretBox, settings: SyncSettings) -> Arc<Self> {
        let (shutdown_tx, _) = watch::channel(false);
        Arc::new(Self {
            db,
            secret_box,
            settings,
            holder: format!("{}-{}", std::process::id(), Uuid::new_v4().simple()),
            sweeping: AtomicBool::new(false),
            shutdown_tx,
            pulls: Mutex::new(JoinSet::new()),
            scheduler: Mutex::new(None),
        })
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Syncs one tenant if this process can claim it. `None` when another sync holds it or it
    /// was synced at or after `due_before`.
    pub async fn run_tenant(
        &self,
        tenant_id: i32,
        due_before: Option<DateTime<Utc>>,
    ) -> Result<Option<TenantOutcome>, DbErr> {
        let ttl = chrono::Duration::from_std(self.settings.lease_ttl)
            .unwrap_or(chrono::Duration::minutes(15));
        if !sync_runs::acquire_lease(&self.db, tenant_id, &self.holder, now(), ttl, due_before)
            .await?
        {
            return Ok(None);
        }
        let outcome = self.run_claimed(tenant_id).await;
        sync_runs::release_lease(&self.db, tenant_id, &self.holder).await?;
        outcome.map(Some)
    }

    async fn run_claimed(&self, tenant_id: i32) -> Result<TenantOutcome, DbErr> {
        let started = Instant::now();
        let Some((tenant, Some(settings))) = tenants::Entity::find_by_id(tenant_id)
            .find_also_related(service_settings::Entity)
            .one(&self.db)
            .await?
        else {
            return Err(DbErr::RecordNotFound(format!("tenant {tenant_id}")));
        };
        let run = sync_runs::start(&self.db, tenant_id, now()).await?;
        let ctx = SyncContext {
            db: &self.db,
            secret_box: &self.secret_box,
            session: &self.settings.session,
            stage_batch: self.settings.stage_batch.max(1),
            stage_links_batch: self.settings.stage_links_batch.max(1),
            shutdown: self.shutdown_tx.subscribe(),
        };
        let result = sync_tenant(&ctx, &settings, &tenant).await;
        let finished = now();
        let (outcome, counts, message) = match &result {
            Ok(summary) => (SUCCESS, summary.counts, String::new()),
            Err(SyncError::Aborted) => {
                (ABORTED, Default::default(), SyncError::Aborted.to_string())
            }
            Err(e) => (FAILED, Default::default(), e.to_string()),
        };
        sync_runs::finish(&self.db, &run, outcome, counts, &message, finished).await?;
        match &result {
            Ok(s) => {
                tracing::info!(tenant = %tenant.name, cloud = %settings.name, seen = s.counts.images_seen,
                    added = s.counts.images_added, updated = s.counts.images_updated,
                    removed = s.counts.images_removed, instances = s.counts.instances_seen, "tenant synced");
                sync_runs::record_outcome(&self.db, tenant_id, None, finished).await?;
            }
            // A stop is not the tenant's fault: leave its state as it was.
            Err(SyncError::Aborted) => {
                tracing::info!(tenant = %tenant.name, "sync aborted by shutdown")
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.name, cloud = %settings.name, error = %e, "tenant sync failed");
                sync_runs::record_outcome(&self.db, tenant_id, Some(&e.to_string()), finished)
                    .await?;
            }
        }
        Ok(TenantOutcome {
            tenant_uuid: tenant.uuid,
            tenant_name: tenant.name,
            settings_name: settings.name,
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
    ) -> Result<Vec<TenantOutcome>, DbErr> {
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
    ) -> Result<Vec<TenantOutcome>, DbErr> {
        let mut query = tenants::Entity::find().order_by_asc(tenants::Column::Id);
        if let Some(uuids) = only {
            query = query.filter(tenants::Column::Uuid.is_in(uuids.iter().copied()));
        }
        let ids: Vec<i32> = query
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        observer.planned(ids.len());
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut set = JoinSet::new();
        for id in ids {
            let engine = self.clone();
            let permits = permits.clone();
            let observer = observer.clone();
            set.spawn(async move {
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
                        tracing::error!(tenant_id = id, error = %e, "sync bookkeeping failed");
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
        let tenant = tenants::Entity::find()
            .filter(tenants::Column::Uuid.eq(tenant_uuid))
            .one(&self.db)
            .await?
            .ok_or(PullError::NotFound)?;
        if sync_runs::is_syncing(&tenant, now()) {
            return Err(PullError::AlreadySyncing);
        }
        self.spawn_pulls(vec![tenant.id]).await;
        Ok(())
    }

    /// Starts a sync of every tenant of the cloud now, in the background.
    pub async fn pull_settings(self: &Arc<Self>, settings_uuid: Uuid) -> Result<usize, PullError> {
        let settings = service_settings::Entity::find()
            .filter(service_settings::Column::Uuid.eq(settings_uuid))
            .one(&self.db)
            .await?
            .ok_or(PullError::NotFound)?;
        let ids: Vec<i32> = tenants::Entity::find()
            .filter(tenants::Column::SettingsId.eq(settings.id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let n = ids.len();
        self.spawn_pulls(ids).await;
        Ok(n)
    }

    async fn spawn_pulls(self: &Arc<Self>, ids: Vec<i32>) {
        let mut pulls = self.pulls.lock().await;
        // Forget finished pulls so the set does not grow.
        while pulls.try_join_next().is_some() {}
        for id in ids {
            let engine = self.clone();
            pulls.spawn(async move {
                if let Err(e) = engine.run_tenant(id, None).await {
                    tracing::error!(tenant_id = id, error = %e, "pull failed");
                }
            });
        }
    }

    /// Runs a sweep on the cron schedule until `shutdown`.
    pub async fn start_schedule(self: &Arc<Self>) -> Result<(), JobSchedulerError> {
        let cron = parse_cron(&self.settings.cron).map_err(|_| JobSchedulerError::ParseSchedule)?;
        let engine = self.clone();
        let job = Job::new_async(self.settings.cron.as_str(), move |_id, _sched| {
            let engine = engine.clone();
            let cron = cron.clone();
            Box::pin(async move {
                // Every replica computes the same tick, so a tenant synced by one of them at or
                // after it is not synced again by another in this period.
                let tick = cron.find_previous_occurrence(&Utc::now(), true).ok();
                if let Err(e) = engine.sweep(None, tick, Arc::new(LogObserver)).await {
                    tracing::error!(error = %e, "scheduled sweep failed");
                }
            })
        })?;
        let sched = JobScheduler::new().await?;
        sched.add(job).await?;
        sched.start().await?;
        *self.scheduler.lock().await = Some(sched);
        tracing::info!(cron = %self.settings.cron, concurrency = self.settings.concurrency, "sync schedule started");
        Ok(())
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

impl From<PullError> for crate::error::AppError {
    fn from(e: PullError) -> Self {
        match e {
            PullError::NotFound => Self::NotFound,
            PullError::AlreadySyncing => {
                Self::Conflict("A sync of this tenant is already in progress.".into())
            }
            PullError::Database(e) => Self::Database(e),
        }
    }
}
