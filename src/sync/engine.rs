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

use super::credentials;
use super::runtime::spawn_into;
use super::sweep::{CloudSweep, How};
use super::tenant::{
    RequestTally, SyncContext, SyncError, TenantSummary, Upstream, sync_from, sync_tenant,
};
use crate::catalog::clouds::Cloud;
use crate::catalog::credentials::Credentials;
use crate::catalog::discovery::SeenProject;
use crate::catalog::sync_runs::is_syncing;
use crate::catalog::{Catalog, CatalogError, CloudId, RunOutcome, SyncMode, TenantId, now};
use crate::clock::Clock;
use crate::openstack::{Session, SessionConfig, SessionSettings, projects};

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
    /// When delta polls run between sweeps (6-field cron); `None`: never.
    pub delta_cron: Option<String>,
}

pub const DEFAULT_CRON: &str = "0 */10 * * * *";

/// Delta polls: every minute, at second 30 (sweeps usually start on the minute).
pub const DEFAULT_DELTA_CRON: &str = "30 * * * * *";

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
            delta_cron: None,
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
    pub(super) catalog: Catalog,
    pub(super) settings: SyncSettings,
    /// Identifies this process in tenant leases.
    pub(super) holder: String,
    sweeping: AtomicBool,
    pub(super) shutdown_tx: watch::Sender<bool>,
    pulls: Mutex<JoinSet<()>>,
    scheduler: Mutex<Option<JobScheduler>>,
    /// Where tenant syncs run (`None`: on the caller's runtime).
    pub(super) runtime: Option<tokio::runtime::Handle>,
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
        let outcome = self.run_claimed(tenant_id, How::Own, None).await;
        runs.release_lease(tenant_id, &self.holder).await?;
        outcome.map(Some)
    }

    /// What a tenant's sync needs of the engine; its requests go to `tally`.
    pub(super) fn sync_context<'a>(&'a self, tally: Option<&'a RequestTally>) -> SyncContext<'a> {
        SyncContext {
            catalog: &self.catalog,
            session: &self.settings.session,
            stage_batch: self.settings.stage_batch.max(1),
            stage_links_batch: self.settings.stage_links_batch.max(1),
            shutdown: self.shutdown_tx.subscribe(),
            clock: &self.settings.clock,
            tally,
        }
    }

    pub(super) fn lease_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.lease_ttl).unwrap_or(chrono::Duration::minutes(1))
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

    pub(super) async fn run_claimed(
        &self,
        tenant_id: TenantId,
        how: How<'_>,
        tally: Option<&RequestTally>,
    ) -> Result<TenantOutcome, CatalogError> {
        let started = Instant::now();
        let target = self.catalog.inventory().target(tenant_id).await?;
        let runs = self.catalog.sync_runs();
        let run = runs
            .start(tenant_id, &self.holder, self.settings.clock.now())
            .await?;
        let ctx = self.sync_context(tally);
        let work = async {
            match how {
                How::Own => sync_tenant(&ctx, &target).await,
                How::View(view) => sync_from(&ctx, &target, &Upstream::Cloud(view)).await,
                How::Failed(message) => Err(SyncError::CloudListing(message.to_string())),
                How::Lost => Err(SyncError::LeaseLost),
            }
        };
        let claimed = [tenant_id];
        let result = tokio::select! {
            result = work => result,
            lost = self.heartbeat(&claimed) => Err(lost),
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
        let mut clouds = self.catalog.tenants().by_cloud(only).await?;
        if only.is_none() {
            // Clouds that discover their tenants are swept before they have any.
            for cloud in self.catalog.clouds().discovering().await? {
                if !clouds.iter().any(|(c, _)| *c == cloud) {
                    clouds.push((cloud, Vec::new()));
                }
            }
        }
        observer.planned(clouds.iter().map(|(_, ids)| ids.len()).sum());
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut set = JoinSet::new();
        for (cloud, ids) in clouds {
            let sweep = CloudSweep {
                engine: self.clone(),
                cloud,
                whole_cloud: only.is_none(),
                due_before,
                permits: permits.clone(),
                observer: observer.clone(),
                tally: Arc::default(),
            };
            spawn_into(&mut set, self.runtime.as_ref(), sweep.run(ids));
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(done) = joined {
                outcomes.extend(done);
            }
        }
        Ok(outcomes)
    }

    /// Renews the claims on these tenants every third of the lease's life (while they sync,
    /// or one listing serves them); returns only when one was lost (another process took a
    /// tenant over after a stall longer than the lease).
    pub(super) async fn heartbeat(&self, tenants: &[TenantId]) -> SyncError {
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
                    Ok(false) => return SyncError::LeaseLost,
                    // The database may be back by the next beat; the lease is good until then.
                    Err(e) => {
                        tracing::warn!(tenant_id = tenant_id.0, error = %e, "lease renewal failed")
                    }
                }
            }
        }
    }

    /// A session listing the whole cloud when cloud mode applies to it: `Ok(None)` for per
    /// tenant mode (chosen, or `auto` without admin credentials), `Err` when cloud mode is
    /// asked for and cannot be had.
    pub(super) async fn cloud_session(
        &self,
        cloud: CloudId,
        first_tenant: TenantId,
        tally: &RequestTally,
    ) -> Result<Option<Session>, String> {
        let (cloud, credentials) = self
            .catalog
            .clouds()
            .with_credentials(cloud)
            .await
            .map_err(|e| e.to_string())?;
        let forced = match cloud.sync_mode {
            SyncMode::PerTenant => return Ok(None),
            SyncMode::Cloud => true,
            SyncMode::Auto => false,
        };
        let first = self
            .catalog
            .inventory()
            .target(first_tenant)
            .await
            .map_err(|e| e.to_string())?;
        match self
            .admin_login(&cloud, credentials, Some(&first.tenant.backend_id), tally)
            .await
        {
            Ok(session) => Ok(Some(session)),
            Err(why) if forced => Err(format!("cloud mode: {why}")),
            Err(_) => Ok(None),
        }
    }

    /// A session logged in with the cloud's own credentials that carries the admin role,
    /// scoped to the project they name, else to `fallback_project`. A refusal's requests go
    /// to `tally` (a session handed out adds its own when it is done).
    pub(super) async fn admin_login(
        &self,
        cloud: &Cloud,
        credentials: Option<Credentials>,
        fallback_project: Option<&str>,
        tally: &RequestTally,
    ) -> Result<Session, String> {
        let credentials = credentials.ok_or("the cloud has no credentials of its own")?;
        let names_project = match &credentials {
            Credentials::Password {
                project_id,
                project_name,
                ..
            } => project_id.is_some() || project_name.is_some(),
            Credentials::ApplicationCredential { .. } => true,
        };
        let fallback = match fallback_project {
            Some(p) => p,
            None if names_project => "",
            None => {
                return Err("the cloud's credentials name no project (project_id or \
                            project_name) and it has no tenant to log in to"
                    .into());
            }
        };
        let auth = credentials::cloud_auth_method(cloud, credentials, fallback)
            .map_err(|e| e.to_string())?;
        let session = Session::new(SessionConfig {
            auth_url: cloud.auth_url.clone(),
            interface: cloud.interface.as_str().to_string(),
            region: cloud.region.clone(),
            auth,
            settings: self.settings.session.clone(),
        })
        .map_err(|e| e.to_string())?;
        let admin = async {
            session.login().await?;
            Ok::<_, crate::openstack::OpenStackError>(session.scope().await?.admin)
        }
        .await;
        let refused = match admin {
            Ok(true) => return Ok(session),
            Ok(false) => "the cloud's credentials lack the admin role".to_string(),
            Err(e) => format!("the cloud's login failed: {e}"),
        };
        tally.add(&session.requests());
        Err(refused)
    }

    /// Brings the cloud's tenants in line with its Keystone projects when it asks for that
    /// (`discover_tenants`); `Ok(false)` when it does not.
    pub(super) async fn discover(
        &self,
        cloud: CloudId,
        tally: &RequestTally,
    ) -> Result<bool, String> {
        let (cloud, credentials) = self
            .catalog
            .clouds()
            .with_credentials(cloud)
            .await
            .map_err(|e| e.to_string())?;
        if !cloud.discover_tenants {
            return Ok(false);
        }
        let first = self
            .catalog
            .tenants()
            .live_of(cloud.id)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .next();
        let session = self
            .admin_login(
                &cloud,
                credentials,
                first.as_ref().map(|(_, p)| p.as_str()),
                tally,
            )
            .await?;
        // Keystone's default domain has the id `default`; another domain is known here by
        // name only, and its projects are not narrowed by domain (tags can narrow them).
        let domain = (cloud.domain.is_empty() || cloud.domain.eq_ignore_ascii_case("default"))
            .then_some("default");
        let tags: Vec<String> =
            serde_json::from_value(cloud.project_tags.clone()).unwrap_or_default();
        let listed = projects::list_projects(&session, domain, &tags).await;
        tally.add(&session.requests());
        let seen: Vec<SeenProject> = listed
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|p| SeenProject {
                id: p.id,
                name: p.name,
                enabled: p.enabled,
            })
            .collect();
        let done = self
            .catalog
            .discovery()
            .reconcile(cloud.id, &seen)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(cloud = %cloud.name, projects = seen.len(), created = done.created,
            renamed = done.renamed, retired = done.retired, restored = done.restored, "tenants discovered");
        Ok(true)
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

    /// Starts a sync of every tenant of the cloud now, in the background, in the cloud's mode
    /// (one listing of the whole cloud where that applies).
    pub async fn pull_cloud(self: &Arc<Self>, cloud_uuid: Uuid) -> Result<usize, PullError> {
        let cloud = self
            .catalog
            .clouds()
            .find(cloud_uuid)
            .await?
            .ok_or(PullError::NotFound)?;
        let ids = self.catalog.tenants().ids_in_cloud(cloud_uuid).await?;
        let n = ids.len();
        let sweep = CloudSweep {
            engine: self.clone(),
            cloud: cloud.id,
            whole_cloud: true,
            due_before: None,
            permits: Arc::new(Semaphore::new(self.settings.concurrency)),
            observer: Arc::new(LogObserver),
            tally: Arc::default(),
        };
        let mut pulls = self.pulls.lock().await;
        // Forget finished pulls so the set does not grow.
        while pulls.try_join_next().is_some() {}
        spawn_into(&mut pulls, self.runtime.as_ref(), async move {
            sweep.run(ids).await;
        });
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
        if let Some(cron) = &self.settings.delta_cron {
            let engine = self.clone();
            let delta = Job::new_async(cron.as_str(), move |_id, _sched| {
                let engine = engine.clone();
                Box::pin(async move {
                    if let Err(e) = engine.delta_poll().await {
                        tracing::error!(error = %e, "delta poll failed");
                    }
                })
            })?;
            sched.add(delta).await?;
        }
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
