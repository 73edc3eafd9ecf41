//! Changes dated by Nova's instance action log: every change between two syncs, not only the
//! last, and those before a deletion (found by a sweep or a delta poll); a server first seen
//! after a resize keeps its hours from its real launch; a log the policy forbids falls back
//! to the servers' times; an idle re-sync asks for no log. Both sync modes (per tenant, and
//! the whole cloud through the admin token).
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{Flavor, ServerAction, Target};

use crate::common::internals::{self, Clock, EngineOptions};
use crate::common::sim::{self, SimApp, generated_world};

const T0: &str = "2026-11-05T08:00:00Z";

fn h(n: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc() + Duration::hours(n)
}

fn flavor(vcpus: i64) -> Flavor {
    sim::flavor(&format!("c{vcpus}"), vcpus, vcpus * 1024, 10, 0)
}

/// A world of one project whose server `vm` (booted from an image) the test boots; the app
/// and engine at h0, in `mode`.
async fn start(mode: &'static str, forbidden: bool) -> (SimApp, Clock) {
    let mut world = generated_world(1, 2, 0, 3);
    world.instance_actions_forbidden = forbidden;
    let clock = Clock::manual(h(0));
    let s = SimApp::world(world)
        .sync_mode(mode)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    s.sim.set_time(h(0));
    sim::boot_vm(&s.sim, flavor(2));
    (s, clock)
}

/// (status, from hour, to hour, vCPUs, started by) of each interval of `vm`.
async fn life(s: &SimApp) -> Vec<(String, i64, Option<i64>, Option<i32>, Option<&'static str>)> {
    let hour = |t: DateTime<Utc>| (t - h(0)).num_minutes() / 60;
    s.app
        .intervals_of("vm")
        .await
        .into_iter()
        .map(|i| {
            (
                i.status.to_string(),
                hour(i.started_at),
                i.ended_at.map(hour),
                i.vcpus,
                i.started_by.map(|b| b.as_str()),
            )
        })
        .collect()
}

async fn active_hours(s: &SimApp, to: i64) -> f64 {
    hours(s, to, "active").await
}

/// `vm`'s instance hours from h0 to `to` on `basis`.
async fn hours(s: &SimApp, to: i64, basis: &str) -> f64 {
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?basis={basis}&{}",
            sim::report_window(h(0), h(to))
        ))
        .await;
    r.json()[0]["instance_hours"].as_f64().unwrap()
}

fn interval(
    status: &str,
    from: i64,
    to: Option<i64>,
    vcpus: i32,
    by: &'static str,
) -> (String, i64, Option<i64>, Option<i32>, Option<&'static str>) {
    (status.into(), from, to, Some(vcpus), Some(by))
}

/// Stopped at h2, started at h3, suspended at h4: the sync at h5 sees only `SUSPENDED`, the
/// log tells all three changes.
async fn every_change_between_two_syncs(mode: &'static str) {
    let (s, clock) = start(mode, false).await;
    clock.set(h(1));
    s.sweep_ok().await;
    for (at, action) in [
        (2, ServerAction::Stop),
        (3, ServerAction::Start),
        (4, ServerAction::Suspend),
    ] {
        s.sim.set_time(h(at));
        assert!(s.sim.act("vm", action));
    }
    clock.set(h(5));
    s.sweep_ok().await;
    assert_eq!(
        life(&s).await,
        [
            interval("ACTIVE", 0, Some(2), 2, "server"),
            interval("SHUTOFF", 2, Some(3), 2, "action"),
            interval("ACTIVE", 3, Some(4), 2, "action"),
            interval("SUSPENDED", 4, None, 2, "action"),
        ],
        "{mode}"
    );
    // ACTIVE h0–h2 and h3–h4: by `updated` alone it would have been h0–h4.
    assert_eq!(active_hours(&s, 6).await, 3.0, "{mode}");

    // Nothing changes: the next sweeps ask for no log.
    let asked = s.sim.requests(Target::NovaInstanceActions);
    clock.set(h(6));
    s.sweep_ok().await;
    clock.set(h(7));
    s.sweep_ok().await;
    assert_eq!(s.sim.requests(Target::NovaInstanceActions), asked, "{mode}");
    assert_eq!(life(&s).await.len(), 4, "an idle re-sync writes nothing");
    s.stop().await;
}

#[tokio::test]
async fn every_change_between_two_syncs_is_dated_by_its_action() {
    every_change_between_two_syncs("per_tenant").await;
}

#[tokio::test]
async fn a_whole_cloud_sweep_reads_the_log_through_the_admin_token() {
    every_change_between_two_syncs("cloud").await;
}

/// How the census learns of a deletion between two syncs.
#[derive(Clone, Copy, Debug)]
enum Next {
    /// A sweep misses the server in Nova's listing and finds it deleted.
    Sweep,
    /// A delta poll's `changes-since` listing shows it `DELETED`.
    DeltaPoll,
}

impl Next {
    async fn run(self, s: &SimApp) {
        match self {
            Next::Sweep => {
                s.sweep_ok().await;
            }
            Next::DeltaPoll => {
                let polled = internals::delta_poll(&s.engine).await;
                assert!(!polled.is_empty(), "a cursor to poll from");
            }
        }
    }
}

/// ACTIVE at the sweep at h1, stopped at h2 and deleted at h3: the sync at h5 learns of the
/// deletion `next`, and reads the server's log (once) for the stop; `terminated_at` closes
/// the life.
async fn stopped_then_deleted_between_two_syncs(mode: &'static str, next: Next) {
    let (s, clock) = start(mode, false).await;
    clock.set(h(1));
    s.sweep_ok().await;
    s.sim.set_time(h(2));
    assert!(s.sim.act("vm", ServerAction::Stop));
    s.sim.set_time(h(3));
    assert!(s.sim.act("vm", ServerAction::Delete));
    let asked = s.sim.requests(Target::NovaInstanceActions);
    clock.set(h(5));
    next.run(&s).await;
    assert_eq!(
        s.sim.requests(Target::NovaInstanceActions) - asked,
        1,
        "{mode} {next:?}: one log read, for the deleted server"
    );
    assert_eq!(
        life(&s).await,
        [
            interval("ACTIVE", 0, Some(2), 2, "server"),
            interval("SHUTOFF", 2, Some(3), 2, "action"),
        ],
        "{mode} {next:?}"
    );
    let ended_by = s
        .app
        .intervals_of("vm")
        .await
        .last()
        .and_then(|i| i.ended_by);
    assert_eq!(
        ended_by.map(|b| b.as_str()),
        Some("server"),
        "{mode} {next:?}"
    );
    // Without the log, ACTIVE until the deletion: 3 h.
    assert_eq!(hours(&s, 6, "active").await, 2.0, "{mode} {next:?}");
    assert_eq!(hours(&s, 6, "allocated").await, 3.0, "{mode} {next:?}");

    // Its end is recorded: the next sync asks for no log.
    let asked = s.sim.requests(Target::NovaInstanceActions);
    clock.set(h(6));
    next.run(&s).await;
    assert_eq!(
        s.sim.requests(Target::NovaInstanceActions),
        asked,
        "{mode} {next:?}"
    );
    assert_eq!(
        life(&s).await.len(),
        2,
        "{mode} {next:?}: an idle re-sync writes nothing"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_server_stopped_then_deleted_between_two_syncs_is_billed_active_until_the_stop() {
    stopped_then_deleted_between_two_syncs("per_tenant", Next::Sweep).await;
}

#[tokio::test]
async fn a_whole_cloud_sweep_reads_the_log_of_a_deleted_server() {
    stopped_then_deleted_between_two_syncs("cloud", Next::Sweep).await;
}

#[tokio::test]
async fn a_delta_poll_reads_the_log_of_a_deleted_server() {
    stopped_then_deleted_between_two_syncs("per_tenant", Next::DeltaPoll).await;
    stopped_then_deleted_between_two_syncs("cloud", Next::DeltaPoll).await;
}

/// Resized (Nova resets `launched_at`) and confirmed before the census first saw it.
async fn resized_before_first_sight(forbidden: bool) -> SimApp {
    let (s, clock) = start("per_tenant", forbidden).await;
    s.sim.set_time(h(2));
    assert!(s.sim.act("vm", ServerAction::Resize(flavor(4))));
    s.sim.set_time(h(3));
    assert!(s.sim.act("vm", ServerAction::ConfirmResize));
    clock.set(h(5));
    s.sweep_ok().await;
    s
}

#[tokio::test]
async fn a_server_first_seen_after_a_resize_keeps_its_hours_from_its_launch() {
    let s = resized_before_first_sight(false).await;
    // Its earlier flavor is not known: the whole life is at its flavor now.
    assert_eq!(
        life(&s).await,
        [
            interval("ACTIVE", 0, Some(2), 4, "action"),
            interval("VERIFY_RESIZE", 2, Some(3), 4, "action"),
            interval("ACTIVE", 3, None, 4, "action"),
        ]
    );
    assert_eq!(active_hours(&s, 5).await, 4.0);
    s.stop().await;
}

#[tokio::test]
async fn a_forbidden_log_falls_back_to_the_servers_times() {
    let s = resized_before_first_sight(true).await;
    // Without the log, the reset `launched_at` (h2, the resize) is all there is.
    assert_eq!(life(&s).await, [interval("ACTIVE", 2, None, 4, "server")]);
    assert_eq!(active_hours(&s, 5).await, 3.0);
    assert_eq!(
        s.sim.requests(Target::NovaInstanceActions),
        1,
        "one refusal, then no more asking"
    );
    s.stop().await;
}
