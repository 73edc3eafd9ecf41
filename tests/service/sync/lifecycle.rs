//! Instances' lifecycle history, scripted over the simulator with a clock the test moves: each
//! sync records the intervals each server spent in each status at each flavor size, dated by
//! `launched_at`, `updated` (within the window since the last sync), `terminated_at`, or the
//! sync that no longer sees the server.
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{Flavor, Server};

use crate::common::internals::{Clock, EngineOptions, IntervalRow};
use crate::common::sim::{SimApp, generated_world};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn flavor(vcpus: i64) -> Flavor {
    Flavor {
        id: format!("f{vcpus}"),
        name: format!("c{vcpus}"),
        vcpus,
        ram: vcpus * 2048,
        disk: 20,
        ephemeral: 0,
    }
}

/// (status, start, end, vcpus) of each interval.
type Life = Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>, Option<i32>)>;

fn life(rows: Vec<IntervalRow>) -> Life {
    rows.into_iter()
        .map(|r| (r.status, r.started_at, r.ended_at, r.vcpus))
        .collect()
}

fn stint(
    status: &str,
    from: &str,
    to: Option<&str>,
    vcpus: i32,
) -> (String, DateTime<Utc>, Option<DateTime<Utc>>, Option<i32>) {
    (status.to_string(), t(from), to.map(t), Some(vcpus))
}

#[tokio::test]
async fn each_sync_records_status_and_size_intervals() {
    let mut world = generated_world(1, 3, 0, 11);
    let project = world.projects[0].id.clone();
    let server = |id: &str, status: &str, created: &str| Server {
        id: id.into(),
        name: id.into(),
        project_id: project.clone(),
        image_id: None,
        status: status.into(),
        created: t(created),
        flavor: flavor(2),
        ..Default::default()
    };
    let mut a = server("a", "ACTIVE", "2026-10-31T11:58:00Z");
    a.launched_at = Some(t("2026-10-31T12:00:00Z"));
    world.servers.push(a);
    world
        .servers
        .push(server("b", "BUILD", "2026-10-31T23:00:00Z"));
    let clock = Clock::manual(t("2026-11-01T00:00:00Z"));
    let s = SimApp::world(world)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    s.sweep_ok().await;
    assert_eq!(
        life(s.app.intervals_of("a").await),
        [stint("ACTIVE", "2026-10-31T12:00:00Z", None, 2)]
    );
    assert_eq!(
        life(s.app.intervals_of("b").await),
        [stint("BUILD", "2026-10-31T23:00:00Z", None, 2)]
    );

    // Day 2: a is shut off at 06:00; b comes up at 01:00.
    clock.advance(Duration::days(1));
    let edit = |id: &str, f: &dyn Fn(&mut Server)| {
        s.sim
            .with_world(|w| f(w.servers.iter_mut().find(|v| v.id == id).unwrap()));
    };
    edit("a", &|v| {
        v.status = "SHUTOFF".into();
        v.updated = Some(t("2026-11-01T06:00:00Z"));
    });
    edit("b", &|v| {
        v.status = "ACTIVE".into();
        v.launched_at = Some(t("2026-11-01T01:00:00Z"));
        v.updated = Some(t("2026-11-01T01:00:05Z"));
    });
    s.sweep_ok().await;
    assert_eq!(
        life(s.app.intervals_of("a").await),
        [
            stint(
                "ACTIVE",
                "2026-10-31T12:00:00Z",
                Some("2026-11-01T06:00:00Z"),
                2
            ),
            stint("SHUTOFF", "2026-11-01T06:00:00Z", None, 2),
        ]
    );
    assert_eq!(
        life(s.app.intervals_of("b").await),
        [
            stint(
                "BUILD",
                "2026-10-31T23:00:00Z",
                Some("2026-11-01T01:00:00Z"),
                2
            ),
            stint("ACTIVE", "2026-11-01T01:00:00Z", None, 2),
        ]
    );

    // Day 3: a resized to 4 vCPUs and started at 12:00; b gone; c first seen, launched at
    // 03:00 and shut off at 05:00; an `updated` older than the last sync is clamped to it.
    clock.advance(Duration::days(1));
    edit("a", &|v| {
        v.status = "ACTIVE".into();
        v.flavor = flavor(4);
        v.updated = Some(t("2026-11-02T12:00:00Z"));
    });
    s.sim.with_world(|w| {
        w.servers.retain(|v| v.id != "b");
        let mut c = Server {
            id: "c".into(),
            name: "c".into(),
            project_id: w.projects[0].id.clone(),
            status: "SHUTOFF".into(),
            created: t("2026-11-02T02:59:00Z"),
            flavor: flavor(1),
            launched_at: Some(t("2026-11-02T03:00:00Z")),
            updated: Some(t("2026-11-02T05:00:00Z")),
            ..Default::default()
        };
        c.image_id = None;
        w.servers.push(c);
    });
    s.sweep_ok().await;
    assert_eq!(
        life(s.app.intervals_of("a").await),
        [
            stint(
                "ACTIVE",
                "2026-10-31T12:00:00Z",
                Some("2026-11-01T06:00:00Z"),
                2
            ),
            stint(
                "SHUTOFF",
                "2026-11-01T06:00:00Z",
                Some("2026-11-02T12:00:00Z"),
                2
            ),
            stint("ACTIVE", "2026-11-02T12:00:00Z", None, 4),
        ]
    );
    assert_eq!(
        life(s.app.intervals_of("b").await),
        [
            stint(
                "BUILD",
                "2026-10-31T23:00:00Z",
                Some("2026-11-01T01:00:00Z"),
                2
            ),
            stint(
                "ACTIVE",
                "2026-11-01T01:00:00Z",
                Some("2026-11-03T00:00:00Z"),
                2
            ),
        ],
        "ended by the sync that no longer saw it"
    );
    assert_eq!(
        life(s.app.intervals_of("c").await),
        [
            stint(
                "ACTIVE",
                "2026-11-02T03:00:00Z",
                Some("2026-11-02T05:00:00Z"),
                1
            ),
            stint("SHUTOFF", "2026-11-02T05:00:00Z", None, 1),
        ]
    );

    // Day 4: nothing changed upstream; the re-sync writes nothing.
    clock.advance(Duration::days(1));
    for o in s.sweep().await {
        let r = o.result.as_ref().expect("the re-sync succeeds");
        assert!(r.applied.is_empty(), "{:?}", r.applied);
    }

    // Day 5: a listed as deleted, terminated at 10:00 the day before.
    clock.advance(Duration::days(1));
    edit("a", &|v| {
        v.status = "DELETED".into();
        v.terminated_at = Some(t("2026-11-04T10:00:00Z"));
        v.updated = Some(t("2026-11-04T10:00:01Z"));
    });
    s.sweep_ok().await;
    assert_eq!(
        life(s.app.intervals_of("a").await).last(),
        Some(&stint(
            "ACTIVE",
            "2026-11-02T12:00:00Z",
            Some("2026-11-04T10:00:00Z"),
            4
        ))
    );
    assert_eq!(s.app.intervals_of("a").await.len(), 3);
    s.stop().await;
}
