//! Changes dated by when their actions' events finished, where the token may read them: a
//! stop that takes ten minutes and a resize that takes an hour are billed from when they
//! were done, for the admin token of a whole-cloud sweep and for a member's own token at a
//! microversion that shows events (2.51 on). A token that may not read them, or a cloud that
//! refuses them, dates by the requests; a failed or still running action changes nothing.
//! The events are read only for the actions that date a change, and never on an idle re-sync.
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{Ending, Fault, FaultKind, Flavor, ServerAction, Target, World};

use crate::common::internals::{Clock, EngineOptions};
use crate::common::sim::{self, SimApp, generated_world};

const T0: &str = "2026-11-05T08:00:00Z";

/// `m` minutes after T0.
fn at(m: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc() + Duration::minutes(m)
}

fn h(n: i64) -> DateTime<Utc> {
    at(n * 60)
}

fn flavor(vcpus: i64) -> Flavor {
    sim::flavor(&format!("c{vcpus}"), vcpus, vcpus * 1024, 10, 0)
}

/// Who syncs: the cloud's admin for the whole cloud, or the tenant's member (no admin role)
/// at the highest microversion the simulated Nova offers (`nova` in the world).
#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    Member,
}

/// A world of one project whose server `vm` (2 vCPUs) is booted at h0 and first synced at
/// h1, by `who`, with Nova offering microversions up to `nova`.
async fn start(who: Who, nova: &str) -> (SimApp, Clock) {
    let (s, clock) = boot(who, nova).await;
    clock.set(h(1));
    s.sweep_ok().await;
    (s, clock)
}

/// [`start`] without the first sync.
async fn boot(who: Who, nova: &str) -> (SimApp, Clock) {
    let mut world: World = generated_world(1, 2, 0, 3);
    world.nova_max_microversion = nova.into();
    let clock = Clock::manual(h(0));
    let builder = SimApp::world(world).engine(EngineOptions::fast().clock(clock.clone()));
    let s = match who {
        Who::Admin => builder.sync_mode("cloud"),
        Who::Member => builder.own_logins(),
    }
    .start()
    .await;
    s.sim.set_time(h(0));
    sim::boot_vm(&s.sim, flavor(2));
    (s, clock)
}

/// `action` at minute `m`, its events taking `secs`, ending as `ending` says.
fn act(s: &SimApp, m: i64, secs: i64, action: ServerAction, ending: Ending) {
    s.sim.set_time(at(m));
    s.sim.with_world(|w| w.action_event_secs = secs);
    assert!(s.sim.act_ending("vm", action, ending));
}

/// From h2: stopped (ten minutes to power off), started at h3, resized to 4 vCPUs at h4
/// (an hour on the compute host), confirmed at h6; synced at h7.
async fn stop_and_resize(s: &SimApp, clock: &Clock) {
    act(s, 120, 600, ServerAction::Stop, Ending::Done);
    act(s, 180, 0, ServerAction::Start, Ending::Done);
    act(s, 240, 3600, ServerAction::Resize(flavor(4)), Ending::Done);
    act(s, 360, 0, ServerAction::ConfirmResize, Ending::Done);
    clock.set(h(7));
    s.sweep_ok().await;
}

type Stretch = (String, i64, Option<i64>, Option<i32>, Option<&'static str>);

/// (status, from minute, to minute, vCPUs, started by) of each interval of `vm`.
async fn life(s: &SimApp) -> Vec<Stretch> {
    let minute = |t: DateTime<Utc>| (t - h(0)).num_minutes();
    s.app
        .intervals_of("vm")
        .await
        .into_iter()
        .map(|i| {
            (
                i.status.to_string(),
                minute(i.started_at),
                i.ended_at.map(minute),
                i.vcpus,
                i.started_by.map(|b| b.as_str()),
            )
        })
        .collect()
}

fn stretch(status: &str, from: i64, to: Option<i64>, vcpus: i32, by: &'static str) -> Stretch {
    (status.into(), from, to, Some(vcpus), Some(by))
}

/// `vm`'s (instance_hours, vcpu_hours) from h0 to h8 on the `active` basis.
async fn hours(s: &SimApp) -> (f64, f64) {
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?{}",
            sim::report_window(h(0), h(8))
        ))
        .await;
    let row = &r.json()[0];
    (
        row["instance_hours"].as_f64().unwrap(),
        row["vcpu_hours"].as_f64().unwrap(),
    )
}

/// Equal to the report's six decimals.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn event_reads(s: &SimApp) -> u64 {
    s.sim.requests(Target::NovaInstanceActionEvents)
}

async fn dated_by_their_finish(who: Who) {
    let (s, clock) = start(who, "2.96").await;
    assert_eq!(
        event_reads(&s),
        0,
        "{who:?}: a new server launched as created: `launched_at` dates it"
    );
    stop_and_resize(&s, &clock).await;
    assert_eq!(
        life(&s).await,
        [
            stretch("ACTIVE", 0, Some(130), 2, "server"),
            stretch("SHUTOFF", 130, Some(180), 2, "action"),
            stretch("ACTIVE", 180, Some(300), 2, "action"),
            stretch("VERIFY_RESIZE", 300, Some(360), 4, "action"),
            stretch("ACTIVE", 360, None, 4, "action"),
        ],
        "{who:?}"
    );
    // ACTIVE 0:00–2:10 and 3:00–5:00 at 2 vCPUs, 6:00–8:00 at 4: 6 h 10 min, and
    // 2 × 4 h 10 min + 4 × 2 h vCPU-hours. By the requests it would be 2 + 1 + 2 = 5 h.
    let (instance, vcpu) = hours(&s).await;
    assert!(close(instance, 6.0 + 10.0 / 60.0), "{who:?}: {instance}");
    assert!(
        close(vcpu, 2.0 * (4.0 + 10.0 / 60.0) + 4.0 * 2.0),
        "{who:?}: {vcpu}"
    );
    assert_eq!(event_reads(&s), 4, "{who:?}: stop, start, resize, confirm");

    // Nothing changes: no log and no event is asked for.
    let logs = s.sim.requests(Target::NovaInstanceActions);
    clock.set(h(8));
    s.sweep_ok().await;
    assert_eq!(
        (s.sim.requests(Target::NovaInstanceActions), event_reads(&s)),
        (logs, 4),
        "{who:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_admin_dates_a_long_stop_and_resize_by_their_finish() {
    dated_by_their_finish(Who::Admin).await;
}

#[tokio::test]
async fn a_member_at_2_51_or_later_dates_them_by_their_finish_too() {
    dated_by_their_finish(Who::Member).await;
}

/// Dated by the requests: the stop at 2:00, the resize's flavor from 4:00.
fn dated_by_the_requests() -> [Stretch; 5] {
    [
        stretch("ACTIVE", 0, Some(120), 2, "server"),
        stretch("SHUTOFF", 120, Some(180), 2, "action"),
        stretch("ACTIVE", 180, Some(240), 2, "action"),
        stretch("VERIFY_RESIZE", 240, Some(360), 4, "action"),
        stretch("ACTIVE", 360, None, 4, "action"),
    ]
}

#[tokio::test]
async fn a_member_before_2_51_may_not_read_events_and_dates_by_the_requests() {
    let (s, clock) = start(Who::Member, "2.50").await;
    stop_and_resize(&s, &clock).await;
    assert_eq!(life(&s).await, dated_by_the_requests());
    assert!(close(hours(&s).await.0, 5.0));
    assert_eq!(
        event_reads(&s),
        0,
        "Nova's policy would not show them: not asked"
    );
    s.stop().await;
}

#[tokio::test]
async fn one_refusal_stops_the_event_reads() {
    let (s, clock) = start(Who::Admin, "2.96").await;
    s.sim.inject(
        Target::NovaInstanceActionEvents,
        Fault::new(FaultKind::Status {
            code: 403,
            retry_after: None,
        }),
    );
    stop_and_resize(&s, &clock).await;
    assert_eq!(life(&s).await, dated_by_the_requests());
    assert_eq!(
        event_reads(&s),
        1,
        "four actions, one refusal, no more asking"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_failed_resize_and_a_running_stop_change_nothing() {
    let (s, clock) = start(Who::Admin, "2.96").await;
    // Resized at 2:00, failed and rolled back after an hour: still ACTIVE at 2 vCPUs.
    act(
        &s,
        120,
        3600,
        ServerAction::Resize(flavor(4)),
        Ending::Failed,
    );
    clock.set(h(4));
    s.sweep_ok().await;
    // Stopped at 5:00, the guest not yet off at the sync: Nova still lists it ACTIVE.
    act(&s, 300, 600, ServerAction::Stop, Ending::Running);
    clock.set(h(5) + Duration::minutes(5));
    s.sweep_ok().await;
    assert_eq!(event_reads(&s), 2, "the resize's, the stop's");
    assert_eq!(
        life(&s).await,
        [stretch("ACTIVE", 0, None, 2, "server")],
        "dated by the requests, the resize would have been VERIFY_RESIZE from 2:00 to 3:00"
    );
    clock.set(h(8));
    s.sweep_ok().await;
    assert_eq!(event_reads(&s), 2, "an idle re-sync reads none");
    assert_eq!(hours(&s).await, (8.0, 16.0));
    s.stop().await;
}

#[tokio::test]
async fn a_server_first_seen_with_a_long_log_has_its_newest_steps_read() {
    let (s, clock) = boot(Who::Admin, "2.96").await;
    // Stopped and started twelve times, each taking five minutes: 24 changes.
    for i in 0..12 {
        act(&s, 60 * (1 + 2 * i), 300, ServerAction::Stop, Ending::Done);
        act(&s, 60 * (2 + 2 * i), 300, ServerAction::Start, Ending::Done);
    }
    clock.set(h(26));
    s.sweep_ok().await;
    assert_eq!(event_reads(&s), 10, "the newest ten changes");
    let starts: Vec<i64> = life(&s).await.into_iter().map(|l| l.1).collect();
    assert_eq!(starts.len(), 25);
    // The older fourteen by their requests (on the hour), the newest ten by their finish.
    let (older, newest) = starts[1..].split_at(14);
    assert!(older.iter().all(|m| m % 60 == 0), "{starts:?}");
    assert!(newest.iter().all(|m| m % 60 == 5), "{starts:?}");
    s.stop().await;
}
