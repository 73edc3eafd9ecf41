//! Deletions dated by Nova: a server deleted between two sweeps leaves Nova's plain listing,
//! and the sweep that misses it asks Nova's `changes-since` listing (once, paged, only when
//! something vanished), which shows it `DELETED` with `terminated_at`. Its life ends then,
//! dated `server`, not at the sweep; a server that listing does not explain, or every
//! vanished server when Nova refuses it, ends at the sweep's time, dated `sync`.
//!
//! The script, in both modes: servers booted at 09:05 and synced at 09:30; `vm` deleted at
//! 10:05 (and `purged` dropped from Nova without a trace, as if its record were archived);
//! the sweep at 10:10; an idle sweep at 10:20.
use chrono::{DateTime, Utc};
use cloudcensus_sim::{Fault, FaultKind, Server, Target};

use crate::common::internals::{self, Clock, EngineOptions, IntervalRow};
use crate::common::sim::{SimApp, generated_world};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// (status, start, end, how the end was dated) of each interval.
type Life = Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>, Option<String>)>;

fn life(rows: Vec<IntervalRow>) -> Life {
    rows.into_iter()
        .map(|r| {
            let by = r.ended_by.map(|b| b.as_str().to_string());
            (r.status.to_string(), r.started_at, r.ended_at, by)
        })
        .collect()
}

fn active(from: &str, to: &str, by: &str) -> Life {
    vec![("ACTIVE".into(), t(from), Some(t(to)), Some(by.into()))]
}

/// `projects` projects, each with the servers `names` (suffixed with the project's index
/// after the first), booted at 09:05 and synced at 09:30 in `mode`.
async fn synced(mode: &'static str, projects: usize, names: &[&str]) -> (SimApp, Clock) {
    let world = generated_world(projects, 2, 0, 31);
    let clock = Clock::manual(t("2026-11-20T09:30:00Z"));
    let s = SimApp::world(world.clone())
        .sync_mode(mode)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    s.sim.set_time(t("2026-11-20T09:05:00Z"));
    for (p, project) in world.projects.iter().enumerate() {
        for name in names {
            s.sim.boot_server(Server {
                id: server_id(name, p),
                name: server_id(name, p),
                project_id: project.id.clone(),
                image_id: world.images.first().map(|i| i.id.clone()),
                ..Default::default()
            });
        }
    }
    s.sweep_ok().await;
    (s, clock)
}

fn server_id(name: &str, project: usize) -> String {
    match project {
        0 => name.to_string(),
        p => format!("{name}-{p}"),
    }
}

/// Requests to Nova's server listing made by a sweep, which must succeed.
async fn nova_listings(s: &SimApp) -> u64 {
    let before = s.sim.requests(Target::NovaServers);
    s.sweep_ok().await;
    s.sim.requests(Target::NovaServers) - before
}

/// An idle sweep at 10:20 asks Nova once per listing and writes nothing.
async fn assert_idle(s: &SimApp, clock: &Clock, listings: u64) {
    clock.set(t("2026-11-20T10:20:00Z"));
    let before = s.sim.requests(Target::NovaServers);
    for o in s.sweep_ok().await {
        let applied = o.result.as_ref().unwrap().applied;
        assert!(applied.is_empty(), "{}: {applied:?}", o.tenant_name);
    }
    assert_eq!(
        s.sim.requests(Target::NovaServers) - before,
        listings,
        "no listing of deleted servers when nothing vanished"
    );
}

/// The report's instance hours of the tenant's row over 09:00–11:00 (all its servers).
async fn instance_hours(s: &SimApp) -> f64 {
    let report = s
        .app
        .get("/api/openstack-images/usage_report/?start=2026-11-20T09:00:00Z&end=2026-11-20T11:00:00Z&group_by=tenant")
        .await
        .json();
    let rows = report.as_array().unwrap();
    let tenant = &s.tenants[0].uuid;
    let row = rows
        .iter()
        .find(|r| r["tenant_uuid"].as_str() == Some(tenant.as_str()))
        .unwrap_or_else(|| panic!("the tenant's row in {report}"));
    row["instance_hours"]
        .as_f64()
        .unwrap_or_else(|| panic!("{row}"))
}

/// `vm` deleted at 10:05 and `purged` dropped from Nova's records, both seen gone by the
/// sweep at 10:10, which asks Nova once more than the `listings` of an idle sweep.
async fn deletions_are_dated_by_nova(mode: &'static str, listings: u64) {
    let (s, clock) = synced(mode, 1, &["vm", "purged", "keeps"]).await;
    s.sim.set_time(t("2026-11-20T10:05:00Z"));
    assert!(s.sim.delete_server("vm"));
    s.sim
        .with_world(|w| w.servers.retain(|server| server.id != "purged"));
    clock.set(t("2026-11-20T10:10:00Z"));
    assert_eq!(
        nova_listings(&s).await,
        listings + 1,
        "one listing of deleted servers"
    );

    assert_eq!(
        life(s.app.intervals_of("vm").await),
        active("2026-11-20T09:05:00Z", "2026-11-20T10:05:00Z", "server"),
        "ended when Nova terminated it"
    );
    assert_eq!(
        life(s.app.intervals_of("purged").await),
        active("2026-11-20T09:05:00Z", "2026-11-20T10:10:00Z", "sync"),
        "not in Nova's listing of deleted servers: ended when the sweep missed it"
    );
    // As a delta poll records a deleted server: Nova's status and termination, deleted as
    // of the sync that learned it.
    let vm = s.app.instance_row("vm").await;
    assert_eq!(vm.status.as_str(), "DELETED");
    assert_eq!(vm.terminated_at, Some(t("2026-11-20T10:05:00Z")));
    assert_eq!(vm.deleted_at, Some(t("2026-11-20T10:10:00Z")));
    let purged = s.app.instance_row("purged").await;
    assert_eq!(purged.status.as_str(), "ACTIVE", "as last listed");
    assert_eq!(purged.deleted_at, Some(t("2026-11-20T10:10:00Z")));
    // keeps 09:05–11:00 (the report's end), vm 09:05–10:05, purged 09:05–10:10.
    let hours = instance_hours(&s).await;
    let want = (115.0 + 60.0 + 65.0) / 60.0;
    assert!((hours - want).abs() < 1e-9, "{hours} h, not {want} h");

    assert_idle(&s, &clock, listings).await;
    s.stop().await;
}

#[tokio::test]
async fn a_tenants_sweep_dates_deletions_by_nova() {
    deletions_are_dated_by_nova("per_tenant", 1).await;
}

#[tokio::test]
async fn a_cloud_sweep_dates_deletions_by_nova() {
    deletions_are_dated_by_nova("cloud", 1).await;
}

/// In cloud mode, servers vanished from several tenants take one `all_tenants` listing of
/// deleted servers for the whole sweep, not one per tenant.
#[tokio::test]
async fn a_cloud_sweep_asks_once_for_all_its_tenants() {
    let (s, clock) = synced("cloud", 3, &["vm", "keeps"]).await;
    s.sim.set_time(t("2026-11-20T10:05:00Z"));
    for p in 0..3 {
        assert!(s.sim.delete_server(&server_id("vm", p)));
    }
    clock.set(t("2026-11-20T10:10:00Z"));
    assert_eq!(
        nova_listings(&s).await,
        2,
        "the listing, and one of deleted servers"
    );
    for p in 0..3 {
        assert_eq!(
            life(s.app.intervals_of(&server_id("vm", p)).await),
            active("2026-11-20T09:05:00Z", "2026-11-20T10:05:00Z", "server"),
            "project {p}"
        );
    }
    assert_idle(&s, &clock, 1).await;
    s.stop().await;
}

/// When Nova refuses or fails the listing of deleted servers, the sweep still succeeds and
/// the vanished servers end as before, at its time, dated `sync`.
#[tokio::test]
async fn a_failed_listing_of_deleted_servers_falls_back_to_the_sweeps_time() {
    let faults = [
        (
            "per_tenant",
            FaultKind::Status {
                code: 403,
                retry_after: None,
            },
        ),
        ("cloud", FaultKind::MalformedJson),
    ];
    for (mode, fault) in faults {
        let (s, clock) = synced(mode, 1, &["vm", "keeps"]).await;
        s.sim.set_time(t("2026-11-20T10:05:00Z"));
        assert!(s.sim.delete_server("vm"));
        clock.set(t("2026-11-20T10:10:00Z"));
        // The sweep's own listing passes; the next request, for deleted servers, fails.
        s.sim.inject(
            Target::NovaServers,
            Fault::new(fault.clone()).after(1).times(1),
        );
        assert_eq!(nova_listings(&s).await, 2, "{mode}");
        assert_eq!(
            life(s.app.intervals_of("vm").await),
            active("2026-11-20T09:05:00Z", "2026-11-20T10:10:00Z", "sync"),
            "{mode}"
        );
        let vm = s.app.instance_row("vm").await;
        assert_eq!(vm.deleted_at, Some(t("2026-11-20T10:10:00Z")), "{mode}");
        assert_idle(&s, &clock, 1).await;
        s.stop().await;
    }
}

/// A deletion a delta poll saw first is recorded as the sweep records one it explains, and the
/// next sweep, which no longer lists the server, has nothing to ask Nova.
#[tokio::test]
async fn a_deletion_seen_by_a_delta_poll_needs_no_question_at_the_sweep() {
    let (s, clock) = synced("cloud", 1, &["vm", "keeps"]).await;
    s.sim.set_time(t("2026-11-20T10:05:00Z"));
    assert!(s.sim.delete_server("vm"));
    clock.set(t("2026-11-20T10:07:00Z"));
    let polled = internals::delta_poll(&s.engine).await;
    assert!(polled[0].rows_written > 0, "{polled:?}");
    let vm = s.app.instance_row("vm").await;
    assert_eq!(
        (vm.status.as_str(), vm.terminated_at, vm.deleted_at),
        (
            "DELETED",
            Some(t("2026-11-20T10:05:00Z")),
            Some(t("2026-11-20T10:07:00Z"))
        )
    );
    assert_eq!(
        life(s.app.intervals_of("vm").await),
        active("2026-11-20T09:05:00Z", "2026-11-20T10:05:00Z", "server")
    );
    clock.set(t("2026-11-20T10:10:00Z"));
    assert_eq!(nova_listings(&s).await, 1, "nothing vanished unexplained");
    let after = s.app.instance_row("vm").await;
    assert_eq!(after, vm, "the sweep leaves the row as the poll wrote it");
    s.stop().await;
}
