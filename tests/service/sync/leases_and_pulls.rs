//! On-demand pulls through the API, the schedule, leases between replicas, and shutdown.
use std::collections::HashMap;
use std::time::Duration;

use cloudcensus_sim::{Fault, FaultKind, Target};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::internals::{self, EngineOptions};
use crate::common::sim::SimApp;
use crate::common::{Detail, SyncRun, Tenant, TenantOutcome, TestApp};

/// A server whose `pull/` syncs, with one project of 30 images.
pub(super) async fn pulling() -> SimApp {
    SimApp::generated(1, 30, 2).serving_pulls().start().await
}

/// The tenant's sync runs once at least `n` have finished.
pub(super) async fn wait_for_runs(app: &TestApp, tenant: &Tenant, n: usize) -> Vec<SyncRun> {
    for _ in 0..100 {
        let runs: Vec<SyncRun> = app
            .get(&format!("/api/sync-runs/?tenant_uuid={}", tenant.uuid))
            .await
            .items();
        if runs.len() >= n && runs.iter().all(|r| r.outcome != "running") {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {n} finished sync runs");
}

#[tokio::test]
async fn pull_starts_a_sync_and_answers_409_while_one_runs() {
    let s = pulling().await;
    let t = &s.tenants[0];
    // Slow Glance down so the first sync is still running at the second pull.
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Delay(Duration::from_millis(700))).times(1),
    );
    let first = s.app.pull(&t.uuid).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = s.app.pull(&t.uuid).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text);
    assert!(second.parse::<Detail>().detail.contains("already"));
    let runs = wait_for_runs(&s.app, t, 1).await;
    assert_eq!(runs[0].outcome, "success", "{runs:?}");
    assert!(runs[0].images_seen > 0);
    s.stop().await;
}

/// The cloud's pull syncs all its tenants.
#[tokio::test]
async fn a_clouds_pull_syncs_its_tenants() {
    let s = pulling().await;
    let r = s
        .app
        .post(
            &format!("/api/service-settings/{}/pull/", s.cloud().uuid),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    wait_for_runs(&s.app, &s.tenants[0], 1).await;
    s.stop().await;
}

#[tokio::test]
async fn pulling_an_unknown_tenant_is_404() {
    let s = pulling().await;
    let missing = s.app.pull(&uuid::Uuid::new_v4().simple().to_string()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn sync_runs_are_staff_only() {
    let s = pulling().await;
    let scoped = s.app.scoped_token("ro", &[&s.tenants[0]]).await;
    assert_eq!(
        s.app.get_as(&scoped, "/api/sync-runs/").await.status,
        StatusCode::FORBIDDEN
    );
    s.stop().await;
}

/// Two "replicas" on one database, both ticking every second: every tenant is synced, at
/// most once per tick.
#[tokio::test]
async fn the_schedule_syncs_every_tenant_and_replicas_do_not_double_up() {
    let s = SimApp::generated(3, 10, 1).start().await;
    let a = s.app.new_engine(EngineOptions::fast());
    let b = s.app.new_engine(EngineOptions::fast());
    internals::start_schedule(&a).await;
    internals::start_schedule(&b).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Both stop together: a replica still ticking would rightly sync again, in the same
    // second, a tenant whose run the other's shutdown aborted.
    tokio::join!(
        internals::shutdown(&a, Duration::from_secs(5)),
        internals::shutdown(&b, Duration::from_secs(5))
    );
    let runs = s.app.sync_run_starts().await;
    for t in &s.tenants {
        let t = s.app.tenant_now(t).await;
        assert_eq!(t.state, "OK");
        assert!(t.last_sync_at.is_some(), "scheduled sync ran");
    }
    // At most one run per tenant per one-second tick, whatever the number of replicas.
    let mut per_tick = HashMap::new();
    for tick in &runs {
        *per_tick.entry(*tick).or_insert(0) += 1;
    }
    assert!(per_tick.values().all(|n| *n == 1), "{per_tick:?}");
    s.stop().await;
}

/// One project's sweep, stopped by shutdown while Glance's second page is slow; the app and
/// the sweep's outcomes.
pub(super) async fn sweep_stopped_by_shutdown() -> (SimApp, Vec<TenantOutcome>) {
    let s = SimApp::generated(1, 1100, 1).start().await;
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Delay(Duration::from_millis(800)))
            .after(1)
            .times(1),
    );
    let e2 = s.engine.clone();
    let sweeping = tokio::spawn(async move { internals::sweep(&e2).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    internals::shutdown(&s.engine, Duration::from_secs(10)).await;
    let outcomes = sweeping.await.unwrap();
    (s, outcomes)
}

#[tokio::test]
async fn shutdown_aborts_a_running_sync_without_applying_it() {
    let (s, outcomes) = sweep_stopped_by_shutdown().await;
    assert_eq!(outcomes.len(), 1);
    assert!(
        outcomes[0]
            .result
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("aborted")
    );
    assert_eq!(s.app.count_rows().await, (0, 0, 0), "nothing half-applied");
    let t = s.app.tenant_now(&s.tenants[0]).await;
    assert_eq!(t.state, "OK", "an abort is not the tenant's fault");
    s.stop().await;
}

/// A claim whose holder stopped renewing it (the process died) holds only until it expires:
/// until then a pull is 409; then the next pull takes the tenant over, and the dead run is
/// closed as `interrupted`.
#[tokio::test]
async fn a_dead_holders_claim_is_taken_over_once_it_expires() {
    let s = pulling().await;
    let t = &s.tenants[0];
    s.app
        .leave_dead_claim(t, "a-dead-process", Duration::from_millis(800))
        .await;
    let r = s.app.pull(&t.uuid).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let r = s.app.pull(&t.uuid).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let runs = wait_for_runs(&s.app, t, 2).await;
    let outcomes: Vec<&str> = runs.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["success", "interrupted"]);
    assert!(runs[1].finished_at.is_some());
    assert!(
        runs[1].error_message.contains("stopped"),
        "{}",
        runs[1].error_message
    );
    assert_eq!(s.app.tenant_now(t).await.state, "OK");
    s.stop().await;
}

/// Taking a dead holder's tenant over closes the dead run before the new one starts: a claim
/// that expires after a sweep started (when sweeps close dead runs) never leaves the tenant
/// with two runs `running`.
#[tokio::test]
async fn a_takeover_closes_the_dead_holders_run() {
    let s = SimApp::generated(1, 20, 1).start().await;
    let t = &s.tenants[0];
    s.app
        .leave_dead_claim(t, "a-dead-process", Duration::from_millis(300))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(s.app.run_tenant(&s.engine, t).await, "the claim expired");
    let runs = wait_for_runs(&s.app, t, 2).await;
    let outcomes: Vec<&str> = runs.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["success", "interrupted"], "{runs:?}");
    assert!(runs[1].finished_at.is_some());
    s.stop().await;
}

/// A sync that runs longer than the claim's life renews it (a heartbeat every third of it):
/// the tenant stays claimed, so a pull meanwhile is 409, and the sync ends normally.
#[tokio::test]
async fn a_running_sync_keeps_its_claim_alive() {
    let s = SimApp::generated(1, 30, 2)
        .engine(EngineOptions::fast().lease_ttl(Duration::from_millis(300)))
        .serving_pulls()
        .start()
        .await;
    let t = &s.tenants[0];
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Delay(Duration::from_millis(1500))).times(1),
    );
    assert_eq!(s.app.pull(&t.uuid).await.status, StatusCode::ACCEPTED);
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let again = s.app.pull(&t.uuid).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    }
    let runs = wait_for_runs(&s.app, t, 1).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].outcome, "success", "{runs:?}");
    s.stop().await;
}
