//! One cloud's part of a sweep: its tenants discovered (when it asks for that), then synced
//! per tenant or from one listing of the whole cloud, and the sweep recorded on the cloud.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::action_log::{self, ActionLogs};
use super::admin::{self, ModeChoice};
use super::context::RequestTally;
use super::cursor::Cursor;
use super::error::Error;
use super::listing::{Extent, View};
use super::reconcile::TenantSummary;
use super::run::{How, Runner, TenantOutcome};
use super::runtime::spawn_into;
use super::source::cloud::CloudListing;
use super::source::deletions::{self, Reach};
use crate::catalog::clouds::SweepRecord;
use crate::catalog::inventory::AppliedCounts;
use crate::catalog::sync_runs::{RunCounts, UnchangedRun};
use crate::catalog::tenants::Tenant;
use crate::catalog::{CloudId, TenantId};
use crate::openstack::Session;
use crate::openstack::nova::NovaServer;

/// Follows a sweep (the CLI shows a progress bar with it).
pub trait SweepObserver: Send + Sync {
    fn planned(&self, _tenants: usize) {}
    fn finished(&self, _outcome: &TenantOutcome) {}
}

pub struct LogObserver;
impl SweepObserver for LogObserver {}

/// What a sweep's tenant discovery came to.
enum Discovered {
    /// The cloud does not discover its tenants (or they could not be read after).
    NotAsked,
    /// The cloud's live tenants after discovery.
    Live(Vec<TenantId>),
    Failed(String),
}

/// One cloud's part of a sweep.
pub struct CloudSweep {
    pub runner: Arc<Runner>,
    pub cloud: CloudId,
    /// What log lines call the cloud.
    pub cloud_name: String,
    /// Whether the sweep covers the whole cloud, so its tenants may be discovered first.
    pub whole_cloud: bool,
    pub due_before: Option<DateTime<Utc>>,
    pub permits: Arc<Semaphore>,
    pub observer: Arc<dyn SweepObserver>,
    pub tally: Arc<RequestTally>,
}

impl CloudSweep {
    /// Syncs the cloud's tenants `ids` in the mode that applies, and records the sweep (its
    /// mode and why) and the cloud's state on the cloud.
    pub async fn run(self, mut ids: Vec<TenantId>) -> Vec<TenantOutcome> {
        let started = self.runner.settings.clock.now();
        let mut discovery_failed = None;
        if self.whole_cloud {
            match self.discover().await {
                Discovered::NotAsked => {}
                Discovered::Live(live) => ids = live,
                Discovered::Failed(why) => discovery_failed = Some(why),
            }
        }
        let Some(&first) = ids.first() else {
            if self.whole_cloud {
                self.record_state(discovery_failed, None).await;
            }
            return Vec::new();
        };
        let login = admin::cloud_session(&self.runner, self.cloud, first, &self.tally).await;
        let login = match login {
            Ok(login) => login,
            Err(why) => {
                tracing::error!(cloud = %self.cloud_name, error = %why, "reading the cloud failed");
                return self.with_listing(ids, Err(why)).await;
            }
        };
        // A partial sweep (`sync --tenant`) did not discover: it leaves the cloud's state as
        // the last whole sweep set it, unless its own login failed.
        if self.whole_cloud || login.choice.problem.is_some() {
            self.record_state(discovery_failed, login.choice.problem.as_deref())
                .await;
        }
        if let Some(problem) = &login.choice.problem {
            tracing::warn!(cloud = %self.cloud_name, error = %problem, "the cloud's own login failed");
        }
        let outcomes = match login.session {
            None => self.per_tenant(ids).await,
            Some(session) => self.with_listing(ids, session).await,
        };
        if !outcomes.is_empty() {
            self.record(&login.choice, started, &outcomes).await;
        }
        outcomes
    }

    /// Discovers the cloud's tenants when it asks for that.
    async fn discover(&self) -> Discovered {
        let catalog = &self.runner.catalog;
        match admin::discover(&self.runner, self.cloud, &self.tally).await {
            Ok(false) => Discovered::NotAsked,
            Ok(true) => match catalog.tenants().live_of(self.cloud).await {
                Ok(live) => Discovered::Live(live.into_iter().map(|(id, _)| id).collect()),
                Err(e) => {
                    tracing::error!(error = %e, "reading discovered tenants failed");
                    Discovered::NotAsked
                }
            },
            Err(why) => {
                tracing::warn!(cloud = %self.cloud_name, kind = why.kind().as_str(), error = %why, "tenant discovery failed");
                Discovered::Failed(why.to_string())
            }
        }
    }

    /// Records the cloud's state: ERRED with what went wrong with its own credentials in
    /// this sweep (discovery, the login for its mode), else OK. A discovery that failed for
    /// the reason the login did is told once.
    async fn record_state(&self, discovery_failed: Option<String>, login_problem: Option<&str>) {
        let discovery = discovery_failed
            .filter(|why| !login_problem.is_some_and(|p| p.contains(why.as_str())))
            .map(|why| format!("tenant discovery: {why}"));
        let problems: Vec<String> = discovery
            .into_iter()
            .chain(login_problem.map(String::from))
            .collect();
        let message = (!problems.is_empty()).then(|| problems.join("; "));
        let recorded = self
            .runner
            .catalog
            .clouds()
            .record_state(self.cloud, message.as_deref())
            .await;
        if let Err(e) = recorded {
            tracing::warn!(cloud = %self.cloud_name, error = %e, "recording the cloud's state failed");
        }
    }

    /// Records the sweep on the cloud: its mode and why, when, how many tenants, requests
    /// made.
    async fn record(
        &self,
        choice: &ModeChoice,
        started: DateTime<Utc>,
        outcomes: &[TenantOutcome],
    ) {
        let record = SweepRecord {
            mode: choice.mode.as_str(),
            mode_reason: choice.reason.as_str(),
            mode_detail: choice.detail.clone(),
            started,
            finished: self.runner.settings.clock.now(),
            tenants: outcomes.len() as u64,
            unchanged: outcomes
                .iter()
                .filter(|o| o.result.as_ref().is_ok_and(|s| s.unchanged))
                .count() as u64,
            requests: self.tally.totals(),
        };
        let recorded = self
            .runner
            .catalog
            .clouds()
            .record_sweep(self.cloud, &record)
            .await;
        if let Err(e) = recorded {
            tracing::warn!(cloud = %self.cloud_name, error = %e, "could not record the sweep");
        }
    }

    /// Each tenant through its own login, `concurrency` at a time across the sweep. Its
    /// tenants are polled through their own logins afterwards, not from a cursor of an
    /// earlier whole-cloud listing.
    async fn per_tenant(&self, ids: Vec<TenantId>) -> Vec<TenantOutcome> {
        let clouds = self.runner.catalog.clouds();
        if let Err(e) = clouds.set_delta_cursor(self.cloud, None).await {
            tracing::warn!(cloud = %self.cloud_name, error = %e, "clearing the delta cursor failed");
        }
        let mut set = JoinSet::new();
        for id in ids {
            let runner = self.runner.clone();
            let permits = self.permits.clone();
            let observer = self.observer.clone();
            let tally = self.tally.clone();
            let due_before = self.due_before;
            spawn_into(&mut set, self.runner.runtime.as_ref(), async move {
                let _permit = permits.acquire_owned().await.ok()?;
                if runner.stopping() {
                    return None;
                }
                let outcome = runner.claim_and_run(id, due_before, &tally).await;
                report(&*observer, id, outcome)
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
        session: Result<Session, Error>,
    ) -> Vec<TenantOutcome> {
        let runner = &self.runner;
        let Ok(_permit) = self.permits.clone().acquire_owned().await else {
            return Vec::new();
        };
        let claimed = runner.claim_due(&ids, self.due_before).await;
        let claimed = match claimed {
            Ok(claimed) if claimed.is_empty() => return Vec::new(),
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(cloud = %self.cloud_name, error = %e, "claiming tenants failed");
                return Vec::new();
            }
        };
        let claimed_ids: Vec<TenantId> = claimed.iter().map(|t| t.id).collect();
        let fetched = self.fetch(session, &claimed_ids).await;
        let outcomes = match &fetched {
            Ok((listing, session)) => {
                let outcomes = self.each_view(listing, session, claimed).await;
                self.tally.add(&session.requests());
                outcomes
            }
            Err(e) => self.each_failed(e, &claimed).await,
        };
        runner.release(&claimed_ids).await;
        // Delta polls start from what this listing showed, once every tenant has it.
        if let Ok((listing, _)) = &fetched
            && outcomes.iter().all(|o| o.result.is_ok())
        {
            let cursor = listing.listing.next_cursor().map(|c| c.to_json());
            let stored = runner
                .catalog
                .clouds()
                .set_delta_cursor(self.cloud, cursor)
                .await;
            if let Err(e) = stored {
                tracing::warn!(cloud = %self.cloud_name, error = %e, "storing the delta cursor failed");
            }
        }
        outcomes
    }

    /// The cloud's whole listing, while the claims on its tenants are kept alive, with the
    /// session that listed it (its requests are tallied once the views are done). Its
    /// failure is shared by every tenant it would have served.
    async fn fetch(
        &self,
        session: Result<Session, Error>,
        claimed: &[TenantId],
    ) -> Result<(CloudListing, Session), Arc<Error>> {
        let session = session?;
        let ctx = self.runner.context(None);
        let listed = tokio::select! {
            listed = CloudListing::fetch(&ctx, &session, self.cloud, Extent::Complete) => listed,
            lost = self.runner.heartbeat(claimed) => Err(lost),
        };
        let problem: Option<&dyn std::error::Error> = match &listed {
            Ok(listing) => match &listing.facts {
                Ok(facts) => facts.problem.as_ref().map(|p| p as _),
                Err(why) => Some(why),
            },
            Err(_) => None,
        };
        if let Some(problem) = problem {
            tracing::warn!(cloud = %self.cloud_name, reason = %problem, "Glance facts incomplete; the sync goes on");
        }
        match listed {
            Ok(listing) => Ok((listing, session)),
            Err(e) => {
                self.tally.add(&session.requests());
                Err(Arc::new(e))
            }
        }
    }

    /// Every claimed tenant fails with the listing's failure (as interrupted when a claim
    /// was lost while listing).
    async fn each_failed(&self, why: &Arc<Error>, claimed: &[Tenant]) -> Vec<TenantOutcome> {
        let mut outcomes = Vec::new();
        for tenant in claimed {
            let how = match **why {
                Error::LeaseLost => How::Lost,
                _ => How::Failed(why.clone()),
            };
            outcomes.extend(self.run_one(tenant.id, how).await);
        }
        outcomes
    }

    /// Each claimed tenant's view of the listing: compared with the catalog and applied, or,
    /// when it is the view the tenant's last sync applied (equal fingerprints), recorded as a
    /// run that changed nothing, all such tenants at once. An idle sweep of a big cloud is
    /// then a few statements, not a compare and a transaction per tenant.
    async fn each_view(
        &self,
        listing: &CloudListing,
        session: &Session,
        claimed: Vec<Tenant>,
    ) -> Vec<TenantOutcome> {
        let started = self.runner.settings.clock.now();
        let views: Vec<(Tenant, View<'_>)> = claimed
            .into_iter()
            .map(|t| {
                let view = listing.view(&t.backend_id);
                (t, view)
            })
            .collect();
        let names = self.names_for(&views).await;
        let unchanged = |(tenant, view): &(Tenant, View<'_>)| {
            names.as_ref().is_some_and(|names| {
                tenant.view_fingerprint.is_some()
                    && tenant.view_fingerprint == view.fingerprint_with(names)
            })
        };
        let (same, changed): (Vec<_>, Vec<_>) = views.into_iter().partition(unchanged);
        // The unchanged first: recorded in moments, while their claims are fresh.
        let mut outcomes = Vec::new();
        if !same.is_empty() {
            outcomes.extend(self.record_unchanged(&same, started).await);
        }
        let (deleted, logs) = self.deleted(listing, session, &changed).await;
        for (tenant, mut view) in changed {
            view.deleted = deleted.of(&tenant.backend_id);
            view.deleted_actions = Some(&logs);
            outcomes.extend(self.run_one(tenant.id, How::View(Box::new(view))).await);
        }
        outcomes
    }

    /// The servers Nova lists as deleted since the cloud's last whole listing (its stored
    /// cursor) that explain instances of the changed views' tenants this listing no longer
    /// shows: one `all_tenants` listing for the cloud, only when one vanished. (A view equal
    /// to the one last applied shows every instance its tenant holds as live.) With their
    /// action logs, read as a delta poll reads a deleted server's.
    async fn deleted(
        &self,
        listing: &CloudListing,
        session: &Session,
        changed: &[(Tenant, View<'_>)],
    ) -> (deletions::ByProject, ActionLogs) {
        let Some(servers) = &listing.listing.servers else {
            return Default::default();
        };
        let catalog = &self.runner.catalog;
        let since = match catalog.clouds().delta_cursor(self.cloud).await {
            Ok(cursor) => cursor.map(Cursor::from_json),
            Err(e) => {
                tracing::warn!(cloud = %self.cloud_name, error = %e, "reading the delta cursor failed");
                None
            }
        };
        let listed: HashSet<&str> = servers.iter().map(|s| s.id.as_str()).collect();
        let tenants: Vec<TenantId> = changed.iter().map(|(t, _)| t.id).collect();
        let ctx = self.runner.context(None);
        let explain = async {
            let found =
                deletions::explain(catalog, session, Reach::Cloud, &tenants, &listed, since).await;
            let asked: Vec<&NovaServer> = found.iter().collect();
            let logs = match action_log::read(&ctx, session, self.cloud, &asked).await {
                Ok(logs) => logs,
                Err(e) => {
                    // Their ends are still dated by `terminated_at`, as without a log.
                    tracing::warn!(cloud = %self.cloud_name, error = %e, "reading the deleted servers' action logs failed");
                    ActionLogs::default()
                }
            };
            (found, logs)
        };
        let (found, logs) = tokio::select! {
            found = explain => found,
            lost = self.runner.heartbeat(&tenants) => {
                tracing::warn!(cloud = %self.cloud_name, error = %lost, "a claim was lost while listing deleted servers");
                Default::default()
            }
        };
        (deletions::ByProject::new(found), logs)
    }

    /// The catalog's names of the images the views' servers count for (part of each view's
    /// fingerprint); `None` when they cannot be read, and then every view is compared.
    async fn names_for(&self, views: &[(Tenant, View<'_>)]) -> Option<HashMap<String, String>> {
        let mut refs: Vec<String> = views.iter().flat_map(|(_, v)| v.image_refs()).collect();
        refs.sort_unstable();
        refs.dedup();
        let inventory = self.runner.catalog.inventory();
        match inventory.image_names(self.cloud, &refs).await {
            Ok(names) => Some(names),
            Err(e) => {
                tracing::warn!(cloud = %self.cloud_name, error = %e, "reading image names failed; comparing every view");
                None
            }
        }
    }

    /// Records the runs of tenants whose view did not change, with what they saw; their
    /// outcomes.
    async fn record_unchanged(
        &self,
        same: &[(Tenant, View<'_>)],
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
        let runner = &self.runner;
        let clock = Instant::now();
        let finished = runner.settings.clock.now();
        let recorded = runner
            .catalog
            .sync_runs()
            .record_unchanged(&unchanged, &runner.holder, started, finished)
            .await;
        let cloud = match recorded {
            Ok(()) => runner.catalog.clouds().with_credentials(self.cloud).await,
            Err(e) => Err(e),
        };
        let cloud = match cloud {
            Ok((cloud, _)) => cloud,
            Err(e) => {
                tracing::error!(cloud = %self.cloud_name, error = %e, "recording unchanged tenants failed");
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
            super::run::count_run(&outcome.cloud_name, "cloud", &outcome.result, duration);
            self.observer.finished(&outcome);
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Syncs one claimed tenant `how`; its outcome, told to the observer.
    async fn run_one(&self, id: TenantId, how: How<'_>) -> Option<TenantOutcome> {
        let outcome = self.runner.run_claimed(id, how, None).await;
        report(&*self.observer, id, outcome)
    }
}

/// Tells the observer of a finished run; a failure of the bookkeeping itself is logged.
fn report(
    observer: &dyn SweepObserver,
    id: TenantId,
    outcome: Result<impl Into<Option<TenantOutcome>>, crate::catalog::CatalogError>,
) -> Option<TenantOutcome> {
    match outcome.map(Into::into) {
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
}
