//! What a billing team signs: a report's basis (which statuses count), image names as they
//! were at the time (a rename splits an interval; closed periods keep their names), Nova's
//! `created` as the creation, and how each interval boundary was dated.
//!
//! One server `vm` scripted with both clocks (the simulator's and the engine's) from t0 =
//! Nov 20 08:00 (h0), synced at each odd hour:
//!
//! | from | to   | status        | flavor | image name | dated by (start) |
//! |------|------|---------------|--------|------------|------------------|
//! | h0   | h2   | ACTIVE        | c2     | X          | server (launched_at) |
//! | h2   | h4   | VERIFY_RESIZE | c4     | X          | action (resize)  |
//! | h4   | h6   | ACTIVE        | c4     | X          | action (confirmResize) |
//! | h6   | h9   | SHUTOFF       | c4     | X          | action (stop)    |
//! | h9   | h10  | SHUTOFF       | c4     | X2 (renamed in Glance at h8) | sync |
//! | h10  | —    | ERROR         | c4     | X2         | updated (no action) |
//!
//! and `bad`, created at h0 in `ERROR` without ever running (image Y).
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{Flavor, Image, Server, ServerAction};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::internals::{Clock, EngineOptions};
use crate::common::sim::{self, SimApp, generated_world};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn flavor(vcpus: i64) -> Flavor {
    sim::flavor(&format!("c{vcpus}"), vcpus, vcpus * 1024, 10, 5)
}

fn image(id: &str, name: &str, owner: &str) -> Image {
    sim::public_image(id, name, owner, t("2026-09-01T00:00:00Z"))
}

const T0: &str = "2026-11-20T08:00:00Z";

fn h(n: i64) -> DateTime<Utc> {
    t(T0) + Duration::hours(n)
}

/// The scripted day, synced up to h11.
async fn scripted() -> SimApp {
    let mut world = generated_world(1, 0, 0, 7);
    let project = world.projects[0].id.clone();
    world.images.push(image("img-x", "X", &project));
    world.images.push(image("img-y", "Y", &project));
    let clock = Clock::manual(h(0));
    let s = SimApp::world(world)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    s.sim.set_time(h(0));
    s.sim.boot_server(Server {
        id: "vm".into(),
        name: "vm".into(),
        project_id: project.clone(),
        image_id: Some("img-x".into()),
        flavor: flavor(2),
        ..Default::default()
    });
    s.sim.with_world(|w| {
        w.servers.push(Server {
            id: "bad".into(),
            name: "bad".into(),
            project_id: project.clone(),
            image_id: Some("img-y".into()),
            status: "ERROR".into(),
            created: h(0),
            updated: Some(h(0)),
            flavor: flavor(2),
            ..Default::default()
        })
    });
    let sync_at = |n: i64| {
        clock.set(h(n));
        s.sweep_ok()
    };
    sync_at(1).await;
    s.sim.set_time(h(2));
    assert!(s.sim.act("vm", ServerAction::Resize(flavor(4))));
    sync_at(3).await;
    s.sim.set_time(h(4));
    assert!(s.sim.act("vm", ServerAction::ConfirmResize));
    sync_at(5).await;
    s.sim.set_time(h(6));
    assert!(s.sim.act("vm", ServerAction::Stop));
    sync_at(7).await;
    s.sim.set_time(h(8));
    s.sim.with_world(|w| {
        let x = w.images.iter_mut().find(|i| i.id == "img-x").unwrap();
        x.name = Some("X2".into());
        x.updated_at = h(8);
    });
    sync_at(9).await;
    s.sim.set_time(h(10));
    assert!(s.sim.set_server_status("vm", "ERROR"));
    sync_at(11).await;
    s
}

async fn report(s: &SimApp, query: &str) -> Vec<Value> {
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?{}&{query}",
            sim::report_window(h(0), h(12))
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    r.json().as_array().unwrap().clone()
}

/// (name, created, running at end, instance-h, vCPU-h, disk GiB-h) of each row.
type Row = (String, i64, i64, f64, f64, f64);

fn rows(report: Vec<Value>) -> Vec<Row> {
    report
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("-").to_string(),
                r["instances_created"].as_i64().unwrap(),
                r["instances_running_at_end"].as_i64().unwrap(),
                r["instance_hours"].as_f64().unwrap(),
                r["vcpu_hours"].as_f64().unwrap(),
                r["disk_gib_hours"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn row(name: &str, created: i64, at_end: i64, hours: f64, vcpu: f64) -> Row {
    // Disk: the flavor's 10 GiB root plus 5 GiB ephemeral, whatever the vCPUs.
    (name.into(), created, at_end, hours, vcpu, hours * 15.0)
}

#[tokio::test]
async fn the_intervals_keep_names_sizes_and_how_they_were_dated() {
    let s = scripted().await;
    let got: Vec<_> = s
        .app
        .intervals_of("vm")
        .await
        .into_iter()
        .map(|i| {
            (
                i.status.to_string(),
                i.started_at,
                i.ended_at,
                i.vcpus,
                i.disk_gib,
                i.image_name,
                i.started_by.map(|b| b.as_str()),
                i.ended_by.map(|b| b.as_str()),
            )
        })
        .collect();
    let stint = |status: &str, from, to: Option<i64>, vcpus, name: &str, by, end_by| {
        (
            status.to_string(),
            h(from),
            to.map(h),
            Some(vcpus),
            Some(15),
            name.to_string(),
            Some(by),
            end_by,
        )
    };
    assert_eq!(
        got,
        [
            stint("ACTIVE", 0, Some(2), 2, "X", "server", Some("action")),
            stint(
                "VERIFY_RESIZE",
                2,
                Some(4),
                4,
                "X",
                "action",
                Some("action")
            ),
            stint("ACTIVE", 4, Some(6), 4, "X", "action", Some("action")),
            stint("SHUTOFF", 6, Some(9), 4, "X", "action", Some("sync")),
            stint("SHUTOFF", 9, Some(10), 4, "X2", "sync", Some("updated")),
            stint("ERROR", 10, None, 4, "X2", "updated", None),
        ]
    );
    let bad = s.app.intervals_of("bad").await;
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (
            bad[0].status.as_str(),
            bad[0].started_at,
            bad[0].image_name.as_str()
        ),
        ("ERROR", h(0), "Y"),
        "in error since its creation"
    );
    s.stop().await;
}

#[tokio::test]
async fn each_basis_counts_its_statuses() {
    let s = scripted().await;
    // ACTIVE h0–h2 at 2 vCPUs and h4–h6 at 4.
    assert_eq!(
        rows(report(&s, "").await),
        [row("X", 1, 0, 4.0, 12.0), row("Y", 1, 0, 0.0, 0.0)],
        "`active` is the default"
    );
    assert_eq!(
        rows(report(&s, "basis=active").await),
        rows(report(&s, "").await)
    );
    // Plus VERIFY_RESIZE h2–h4 at 4 vCPUs.
    assert_eq!(
        rows(report(&s, "basis=running").await),
        [row("X", 1, 0, 6.0, 20.0), row("Y", 1, 0, 0.0, 0.0)]
    );
    // Plus SHUTOFF h6–h10 (named X until h9) and ERROR after it ran, h10–h12; `bad` never
    // ran, so its ERROR holds nothing.
    assert_eq!(
        rows(report(&s, "basis=allocated").await),
        [
            row("X", 1, 0, 9.0, 4.0 + 7.0 * 4.0),
            row("X2", 0, 1, 3.0, 12.0),
            row("Y", 1, 0, 0.0, 0.0),
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn grouped_by_image_a_row_shows_the_name_the_period_ended_with() {
    let s = scripted().await;
    let by_image = report(&s, "basis=allocated&group_by=image&period=day").await;
    let shown: Vec<(&str, &str, f64)> = by_image
        .iter()
        .map(|r| {
            (
                r["image_id"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                r["instance_hours"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shown, [("img-x", "X2", 12.0), ("img-y", "Y", 0.0)]);
    // A window closed before the rename keeps the old name.
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?{}&group_by=image",
            sim::report_window(h(0), h(8))
        ))
        .await;
    assert_eq!(r.json()[0]["name"], "X");
    // Grouped by name and image, the rename is two rows.
    let both = rows(report(&s, "basis=allocated&group_by=name,image").await);
    assert_eq!(
        both.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["X", "X2", "Y"]
    );
    s.stop().await;
}

#[tokio::test]
async fn an_unknown_basis_is_a_400() {
    let s = scripted().await;
    let r = s
        .app
        .get("/api/openstack-images/usage_report/?basis=billable")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        serde_json::json!({"basis": ["\"billable\" is not a valid choice."]})
    );
    s.stop().await;
}
