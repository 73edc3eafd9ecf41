//! A scripted month: October 2026 on two clouds, synced every day at midnight with a clock the
//! test moves, and usage reports over it that equal figures computed by hand.
//!
//! October rather than November: the report cuts an `end` in the future to the real now, so
//! every window asked for here lies wholly in the past and the figures never depend on when
//! the test runs.
//!
//! Cloud A (the SimApp's cloud "sim", with Cinder) has projects P0 and P1 (tenants T0, T1) and
//! public images `ubuntu-24.04` (img-ubuntu), `debian-12` (img-debian) and `gone-linux`
//! (img-gone, deleted from Glance on Oct 15). Cloud B (a second simulator registered with the
//! same app as "sim-without-cinder", `volume_enabled = false`) has project Q0 (tenant TB) and a
//! public image also named `ubuntu-24.04` (img-ubuntu-b). One app and one engine: every sweep
//! syncs the three tenants of both clouds.
//!
//! Flavors: small 1 vCPU / 1 GiB RAM / 10 GiB disk, medium 2 / 4 / 20, large 4 / 16 / 40.
//! Hours are counted from Oct 1 00:00 (h0); Oct d HH:MM is h = (d - 1) * 24 + HH + MM / 60;
//! Nov 1 00:00 is h744. Each server's `ACTIVE` stretches, as the script below makes them:
//!
//! | server   | cloud/tenant | counts for                    | ACTIVE stretches (flavor)                          | launched | ended |
//! |----------|--------------|-------------------------------|----------------------------------------------------|----------|-------|
//! | web      | A/T0 | ubuntu-24.04 (img-ubuntu)             | Sep 30 12:00–h102 (small), h186–h273 (small), h273– (medium) | Sep 30 12:00 | — |
//! | vol-gone | A/T1 | gone-linux (img-gone), via volume     | h6–h651 (small)                                    | h6       | h651 (terminated_at) |
//! | db       | A/T0 | debian-12 (img-debian)                | h62–h472 (large)                                   | h62      | h472 (terminated_at) |
//! | vol-web  | A/T1 | ubuntu-24.04 (img-ubuntu), via volume | h224–h588 (medium)                                 | h224     | — |
//! | batch    | A/T0 | ubuntu-24.04 (img-ubuntu)             | h337.5–h396 (small)                                | h337.5   | h420 (terminated_at) |
//! | late     | A/T1 | debian-12 (img-debian)                | h740– (small)                                      | h740     | — |
//! | b-vol    | B/TB | "" (no Cinder: no image)              | Sep 30 00:00–h468 (medium), h468– (large)          | Sep 30 00:00 | — |
//! | b-img    | B/TB | ubuntu-24.04 (img-ubuntu-b)           | h98–h202 (small)                                   | h98      | h202 (terminated_at) |
//!
//! Servers deleted with `delete_server` leave the plain listing; the first sync that misses
//! one asks Nova's `changes-since` listing, which shows it `DELETED`, so its life ends at its
//! `terminated_at` (db, batch and b-img), not at that sync.
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{Flavor, Image, Server, Simulator, Volume, VolumeAttachment, World};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::internals::{Clock, EngineOptions};
use crate::common::sim::{self, SimApp, generated_world};
use crate::common::{ServiceSettings, Tenant};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn flavor(name: &str, vcpus: i64, ram_mib: i64, disk_gib: i64) -> Flavor {
    sim::flavor(name, vcpus, ram_mib, disk_gib, 0)
}

fn small() -> Flavor {
    flavor("m1.small", 1, 1024, 10)
}

fn medium() -> Flavor {
    flavor("m1.medium", 2, 4096, 20)
}

fn large() -> Flavor {
    flavor("m1.large", 4, 16384, 40)
}

fn image(id: &str, name: &str, owner: &str) -> Image {
    sim::public_image(id, name, owner, t("2026-09-01T00:00:00Z"))
}

/// A server to boot: from `image`, or from a volume when `None`.
fn vm(id: &str, project: &str, image: Option<&str>, flavor: Flavor) -> Server {
    Server {
        id: id.into(),
        name: id.into(),
        project_id: project.into(),
        image_id: image.map(String::from),
        flavor,
        ..Default::default()
    }
}

/// A volume attached to `server` on `device`; bootable when made from `image` (id, name).
fn volume(id: &str, project: &str, image: Option<(&str, &str)>, on: (&str, &str)) -> Volume {
    Volume {
        id: id.into(),
        project_id: project.into(),
        name: id.into(),
        size: 20,
        status: "in-use".into(),
        bootable: image.is_some(),
        image_id: image.map(|(id, _)| id.to_string()),
        image_name: image.map(|(_, name)| name.to_string()),
        attachments: vec![VolumeAttachment {
            server_id: on.0.into(),
            device: Some(on.1.into()),
        }],
    }
}

/// Cloud A: projects P0 and P1, the three public images, no servers yet.
fn cloud_a() -> World {
    let mut world = generated_world(2, 0, 0, 21);
    let owner = world.projects[0].id.clone();
    world.images = vec![
        image("img-ubuntu", "ubuntu-24.04", &owner),
        image("img-debian", "debian-12", &owner),
        image("img-gone", "gone-linux", &owner),
    ];
    world
}

/// Cloud B: project Q0, its own `ubuntu-24.04`, and no Cinder endpoint.
fn cloud_b() -> World {
    let mut world = generated_world(1, 0, 0, 22);
    let owner = world.projects[0].id.clone();
    world.images = vec![image("img-ubuntu-b", "ubuntu-24.04", &owner)];
    world.volume_enabled = false;
    world
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cloud {
    A,
    B,
}

/// What happens upstream, stamped (by the simulator's clock) with the event's time.
enum Change {
    /// Booted now (ACTIVE, launched now), with the volumes it is attached to.
    Boot(Server, Vec<Volume>),
    /// Created now, still building (not launched).
    Build(Server),
    Status(&'static str, &'static str),
    Resize(&'static str, Flavor),
    /// Deleted: gone from the listing.
    Delete(&'static str),
    /// Deleted and listed as Nova lists a deleted server: `DELETED`, `terminated_at` now.
    Terminate(&'static str),
    /// An image deleted from Glance.
    DeleteImage(&'static str),
}

/// The month's events, in time order. Syncs run at every midnight from Oct 1 to Nov 1; an
/// event is seen by the first sync after it.
fn script(a: &World, b: &World) -> Vec<(&'static str, Cloud, Change)> {
    use Change::*;
    use Cloud::{A, B};
    let (p0, p1, q0) = (
        a.projects[0].id.as_str(),
        a.projects[1].id.as_str(),
        b.projects[0].id.as_str(),
    );
    vec![
        // Before the first sync: b-vol boots from a volume made from B's ubuntu image, but B
        // has no Cinder, so nothing can tell which image: it counts for "".
        (
            "2026-09-30T00:00:00Z",
            B,
            Boot(
                vm("b-vol", q0, None, medium()),
                vec![volume(
                    "b-root",
                    q0,
                    Some(("img-ubuntu-b", "ubuntu-24.04")),
                    ("b-vol", "/dev/vda"),
                )],
            ),
        ),
        (
            "2026-09-30T12:00:00Z",
            A,
            Boot(vm("web", p0, Some("img-ubuntu"), small()), vec![]),
        ),
        // Seen by the sync of Oct 2: boots from a volume made from gone-linux.
        (
            "2026-10-01T06:00:00Z",
            A,
            Boot(
                vm("vol-gone", p1, None, small()),
                vec![volume(
                    "root-gone",
                    p1,
                    Some(("img-gone", "gone-linux")),
                    ("vol-gone", "/dev/vda"),
                )],
            ),
        ),
        (
            "2026-10-03T14:00:00Z",
            A,
            Boot(vm("db", p0, Some("img-debian"), large()), vec![]),
        ),
        (
            "2026-10-05T02:00:00Z",
            B,
            Boot(vm("b-img", q0, Some("img-ubuntu-b"), small()), vec![]),
        ),
        ("2026-10-05T06:00:00Z", A, Status("web", "SHUTOFF")),
        ("2026-10-08T18:00:00Z", A, Status("web", "ACTIVE")),
        ("2026-10-09T10:00:00Z", B, Delete("b-img")),
        // A data volume beside the boot volume: the one on the root device counts.
        (
            "2026-10-10T08:00:00Z",
            A,
            Boot(
                vm("vol-web", p1, None, medium()),
                vec![
                    volume("data-web", p1, None, ("vol-web", "/dev/vdb")),
                    volume(
                        "root-web",
                        p1,
                        Some(("img-ubuntu", "ubuntu-24.04")),
                        ("vol-web", "/dev/vda"),
                    ),
                ],
            ),
        ),
        ("2026-10-12T09:00:00Z", A, Resize("web", medium())),
        (
            "2026-10-14T22:00:00Z",
            A,
            Build(vm("batch", p0, Some("img-ubuntu"), small())),
        ),
        // Launched: the first ACTIVE is dated by launched_at.
        ("2026-10-15T01:30:00Z", A, Status("batch", "ACTIVE")),
        ("2026-10-15T10:00:00Z", A, DeleteImage("img-gone")),
        ("2026-10-17T12:00:00Z", A, Status("batch", "SHUTOFF")),
        ("2026-10-18T12:00:00Z", A, Delete("batch")),
        ("2026-10-20T12:00:00Z", B, Resize("b-vol", large())),
        ("2026-10-20T16:00:00Z", A, Delete("db")),
        ("2026-10-25T12:00:00Z", A, Status("vol-web", "SHUTOFF")),
        ("2026-10-28T03:00:00Z", A, Terminate("vol-gone")),
        (
            "2026-10-31T20:00:00Z",
            A,
            Boot(vm("late", p1, Some("img-debian"), small()), vec![]),
        ),
    ]
}

fn happen(sim: &Simulator, at: DateTime<Utc>, change: Change) {
    sim.set_time(at);
    match change {
        Change::Boot(mut server, volumes) => {
            server.volumes_attached = volumes.iter().map(|v| v.id.clone()).collect();
            sim.with_world(|w| w.volumes.extend(volumes));
            sim.boot_server(server);
        }
        Change::Build(mut server) => {
            server.status = "BUILD".into();
            server.created = at;
            server.updated = Some(at);
            sim.with_world(|w| w.servers.push(server));
        }
        Change::Status(id, status) => assert!(sim.set_server_status(id, status), "{id}"),
        Change::Resize(id, flavor) => assert!(sim.resize_server(id, flavor), "{id}"),
        Change::Delete(id) => assert!(sim.delete_server(id), "{id}"),
        Change::Terminate(id) => sim.with_world(|w| {
            let server = w.servers.iter_mut().find(|v| v.id == id).expect(id);
            server.status = "DELETED".into();
            server.terminated_at = Some(at);
            server.updated = Some(at);
        }),
        Change::DeleteImage(id) => sim.with_world(|w| {
            let before = w.images.len();
            w.images.retain(|i| i.id != id);
            assert!(w.images.len() < before, "{id}");
        }),
    }
}

/// Registers a second simulated cloud with the app, and one tenant per project.
async fn register(s: &SimApp, sim: &Simulator, name: &str) -> (ServiceSettings, Vec<Tenant>) {
    let cloud = s
        .app
        .post(
            "/api/service-settings/",
            json!({"name": name, "options": {"auth_url": sim.auth_url()}, "username": "admin", "password": "admin-password"}),
        )
        .await;
    assert_eq!(cloud.status, StatusCode::CREATED, "{}", cloud.text);
    let cloud: ServiceSettings = cloud.parse();
    let mut tenants = Vec::new();
    for p in sim.with_world(|w| w.projects.clone()) {
        let r = s
            .app
            .post(
                "/api/openstack-tenants/",
                json!({"name": p.name, "backend_id": p.id, "service_settings": cloud.url}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        tenants.push(r.parse());
    }
    (cloud, tenants)
}

/// A report row's figures: (created, deleted, running at end, instance-h, vCPU-h, RAM GiB-h,
/// disk GiB-h).
type Figures = (i64, i64, i64, f64, f64, f64, f64);

/// A row as the test names it: its keys (tenant and cloud by label, then name, then image id,
/// those grouped by, joined by `/`; the empty name stays empty), its period's start, figures.
type Row = (String, String, Figures);

fn figures(row: &Value) -> Figures {
    let f = |k: &str| row[k].as_f64().unwrap_or_else(|| panic!("{k} in {row}"));
    let i = |k: &str| row[k].as_i64().unwrap_or_else(|| panic!("{k} in {row}"));
    (
        i("instances_created"),
        i("instances_deleted"),
        i("instances_running_at_end"),
        f("instance_hours"),
        f("vcpu_hours"),
        f("ram_gib_hours"),
        f("disk_gib_hours"),
    )
}

/// Tenants and clouds by label, to name rows.
struct Labels {
    tenants: Vec<(&'static str, Tenant)>,
    clouds: Vec<(&'static str, ServiceSettings)>,
}

impl Labels {
    fn key(&self, row: &Value) -> String {
        let mut parts = Vec::new();
        if let Some(uuid) = row["tenant_uuid"].as_str() {
            let (label, tenant) = self
                .tenants
                .iter()
                .find(|(_, t)| t.uuid == uuid)
                .unwrap_or_else(|| panic!("a known tenant in {row}"));
            assert_eq!(row["tenant_name"], tenant.name.as_str(), "{row}");
            parts.push(label.to_string());
        } else {
            assert!(row["tenant_name"].is_null(), "{row}");
        }
        if let Some(uuid) = row["settings_uuid"].as_str() {
            let (label, cloud) = self
                .clouds
                .iter()
                .find(|(_, c)| c.uuid == uuid)
                .unwrap_or_else(|| panic!("a known cloud in {row}"));
            assert_eq!(row["settings_name"], cloud.name.as_str(), "{row}");
            parts.push(label.to_string());
        } else {
            assert!(row["settings_name"].is_null(), "{row}");
        }
        for k in ["name", "image_id"] {
            if let Some(v) = row[k].as_str() {
                parts.push(v.to_string());
            }
        }
        parts.join("/")
    }

    fn rows(&self, json: &[Value]) -> Vec<Row> {
        json.iter()
            .map(|r| {
                (
                    self.key(r),
                    r["period_start"].as_str().unwrap().to_string(),
                    figures(r),
                )
            })
            .collect()
    }
}

/// The report's JSON rows for `query` (one page holds them all).
async fn report(s: &SimApp, query: &str) -> Vec<Value> {
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?{query}&page_size=300"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    let rows = r.json().as_array().unwrap().clone();
    assert_eq!(
        r.header("x-result-count"),
        Some(rows.len().to_string()),
        "{query}"
    );
    rows
}

fn row(key: &str, period_start: &str, f: Figures) -> Row {
    (key.to_string(), period_start.to_string(), f)
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}

/// The CSV of `query` parses, has the grouping's key columns then the figures, and its rows
/// are the JSON rows, in the same order.
async fn assert_csv_is_the_json(s: &SimApp, query: &str, key_columns: &[&str]) {
    let json = report(s, query).await;
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?{query}&format=csv&page_size=1"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    assert!(
        r.header("content-type").unwrap().starts_with("text/csv"),
        "{:?}",
        r.header("content-type")
    );
    let mut reader = csv::Reader::from_reader(r.text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let figures = [
        "instances_created",
        "instances_deleted",
        "instances_running_at_end",
        "instance_hours",
        "vcpu_hours",
        "ram_gib_hours",
        "disk_gib_hours",
    ];
    let want: Vec<&str> = key_columns
        .iter()
        .copied()
        .chain(["period_start"])
        .chain(figures)
        .collect();
    assert_eq!(header, want, "{query}");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), json.len(), "{query}: every row, not a page");
    for (record, row) in records.iter().zip(&json) {
        for (column, field) in header.iter().zip(record) {
            match &row[column] {
                Value::Number(n) => assert_eq!(
                    field.parse::<f64>().ok(),
                    n.as_f64(),
                    "{query}: {column} of {row}"
                ),
                Value::String(v) => assert_eq!(field, v, "{query}: {column} of {row}"),
                other => panic!("{query}: {column} is {other} in {row}"),
            }
        }
    }
}

#[tokio::test]
async fn a_scripted_month() {
    let (world_a, world_b) = (cloud_a(), cloud_b());
    let events = script(&world_a, &world_b);
    let first_sync = t("2026-10-01T00:00:00Z");
    let clock = Clock::manual(first_sync);
    let s = SimApp::world(world_a)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    let b = Simulator::start(world_b).await.expect("simulator B starts");
    let (cloud_b, tenants_b) = register(&s, &b, "sim-without-cinder").await;
    let labels = Labels {
        tenants: vec![
            ("T0", s.tenants[0].clone()),
            ("T1", s.tenants[1].clone()),
            ("TB", tenants_b[0].clone()),
        ],
        clouds: vec![("A", s.cloud().clone()), ("B", cloud_b.clone())],
    };

    // Oct 1 … Nov 1: what happened since the last sync, then the day's sync of all three
    // tenants.
    let mut events = events.into_iter().peekable();
    for day in 0..=31 {
        let sync = first_sync + Duration::days(day);
        while let Some((at, cloud, change)) = events.next_if(|(at, _, _)| t(at) < sync) {
            happen(if cloud == Cloud::A { &s.sim } else { &b }, t(at), change);
        }
        clock.set(sync);
        assert_eq!(s.sweep_ok().await.len(), 3, "{sync}");
    }
    assert!(events.next().is_none(), "every event happened");

    // What the volumes told, and what cloud B lacked.
    let gone = s.app.instance_row("vol-gone").await;
    assert_eq!(
        (gone.image_backend_id.as_deref(), gone.image_name.as_str()),
        (Some("img-gone"), "gone-linux"),
        "the name recorded on the volume outlives the image"
    );
    assert_eq!(
        s.app
            .instance_row("vol-web")
            .await
            .boot_volume_id
            .as_deref(),
        Some("root-web")
    );
    assert_eq!(s.app.instance_row("b-vol").await.image_name, "");
    let tb: Tenant = s
        .app
        .get(&format!("/api/openstack-tenants/{}/", tenants_b[0].uuid))
        .await
        .parse();
    assert_eq!(tb.unavailable_services, ["volume"]);

    const MONTH: &str = "start=2026-10-01&end=2026-11-01";
    const OCT_1: &str = "2026-10-01T00:00:00+00:00";

    // By image name, the whole month (h0–h744), in name order.
    let by_name = labels.rows(&report(&s, MONTH).await);
    assert_eq!(
        by_name,
        [
            // b-vol: h0–h468 medium (468 h), h468–h744 large (276 h); launched Sep 30.
            row(
                "",
                OCT_1,
                (
                    0,
                    0,
                    1,
                    468.0 + 276.0,
                    468.0 * 2.0 + 276.0 * 4.0,
                    468.0 * 4.0 + 276.0 * 16.0,
                    // No Cinder on cloud B: the boot volume's size, what its disk is billed
                    // at, is unknown.
                    0.0
                )
            ),
            // db h62–h472 large (410 h), terminated at h472 (the sync at h480 asks Nova when);
            // late h740–h744 small (4 h), runs.
            row(
                "debian-12",
                OCT_1,
                (
                    2,
                    1,
                    1,
                    410.0 + 4.0,
                    410.0 * 4.0 + 4.0,
                    410.0 * 16.0 + 4.0,
                    410.0 * 40.0 + 4.0 * 10.0
                )
            ),
            // vol-gone h6–h651 small (645 h), launched and terminated in October; its image
            // left Glance on Oct 15, its usage stays under the name on its volume. Its disk
            // is billed at its 20 GiB boot volume, not the small flavor's 10 GiB root disk.
            row(
                "gone-linux",
                OCT_1,
                (1, 1, 0, 645.0, 645.0, 645.0, 645.0 * 20.0)
            ),
            // web: h0–h102 small (102), h186–h273 small (87), h273–h744 medium (471);
            // vol-web h224–h588 medium (364); batch h337.5–h396 small (58.5); b-img (cloud B)
            // h98–h202 small (104, to its termination). Small 102 + 87 + 58.5 + 104 = 351.5 h, medium
            // 471 + 364 = 835 h. Created: vol-web, batch, b-img (web launched Sep 30);
            // deleted: batch, b-img; running at the end: web (vol-web is shut off).
            row(
                "ubuntu-24.04",
                OCT_1,
                (
                    3,
                    2,
                    1,
                    351.5 + 835.0,
                    351.5 + 835.0 * 2.0,
                    351.5 + 835.0 * 4.0,
                    351.5 * 10.0 + 835.0 * 20.0
                )
            ),
        ]
    );

    // By image name, a window cutting intervals: Oct 3 12:00 (h60) to Oct 17 18:00 (h402).
    let cut = labels.rows(
        &report(
            &s,
            "start=2026-10-03T12:00:00Z&end=2026-10-17T18:00:00Z&group_by=name",
        )
        .await,
    );
    const OCT_3_NOON: &str = "2026-10-03T12:00:00+00:00";
    assert_eq!(
        cut,
        [
            // b-vol h60–h402 medium (342 h).
            row(
                "",
                OCT_3_NOON,
                (0, 0, 1, 342.0, 342.0 * 2.0, 342.0 * 4.0, 0.0)
            ),
            // db h62–h402 large (340 h), launched at h62 inside the window; late not yet.
            row(
                "debian-12",
                OCT_3_NOON,
                (1, 0, 1, 340.0, 340.0 * 4.0, 340.0 * 16.0, 340.0 * 40.0)
            ),
            // vol-gone h60–h402 small (342 h), launched before the window.
            row(
                "gone-linux",
                OCT_3_NOON,
                (0, 0, 1, 342.0, 342.0, 342.0, 342.0 * 20.0)
            ),
            // web h60–h102 small (42), h186–h273 small (87), h273–h402 medium (129);
            // vol-web h224–h402 medium (178); batch h337.5–h396 small (58.5); b-img h98–h202
            // small (104). Small 42 + 87 + 58.5 + 104 = 291.5 h, medium 129 + 178 = 307 h.
            // Created vol-web, batch, b-img; deleted b-img (batch only at h420); running at
            // h402: web and vol-web (batch was shut off at h396).
            row(
                "ubuntu-24.04",
                OCT_3_NOON,
                (
                    3,
                    1,
                    2,
                    291.5 + 307.0,
                    291.5 + 307.0 * 2.0,
                    291.5 + 307.0 * 4.0,
                    291.5 * 10.0 + 307.0 * 20.0
                )
            ),
        ]
    );

    // Per day, one name, from mid-day Oct 3 (h60) to Oct 6 (h120): web runs until its
    // shutdown at h102, b-img from its launch at h98 (both small).
    let daily = labels.rows(
        &report(
            &s,
            "start=2026-10-03T12:00:00Z&end=2026-10-06&period=day&name_exact=ubuntu-24.04",
        )
        .await,
    );
    assert_eq!(
        daily,
        [
            // web h60–h72.
            row(
                "ubuntu-24.04",
                OCT_3_NOON,
                (0, 0, 1, 12.0, 12.0, 12.0, 120.0)
            ),
            // web h72–h96.
            row(
                "ubuntu-24.04",
                "2026-10-04T00:00:00+00:00",
                (0, 0, 1, 24.0, 24.0, 24.0, 240.0)
            ),
            // web h96–h102 (6 h), b-img h98–h120 (22 h), launched that day; at midnight only
            // b-img runs.
            row(
                "ubuntu-24.04",
                "2026-10-05T00:00:00+00:00",
                (
                    1,
                    0,
                    1,
                    6.0 + 22.0,
                    6.0 + 22.0,
                    6.0 + 22.0,
                    (6.0 + 22.0) * 10.0
                )
            ),
        ]
    );

    // By image (name and Glance id), the whole month: ubuntu-24.04 splits into cloud A's
    // img-ubuntu (web, batch, and vol-web through its boot volume) and cloud B's img-ubuntu-b.
    let by_image = labels.rows(&report(&s, &format!("{MONTH}&group_by=image")).await);
    assert_eq!(
        by_image,
        [
            // b-vol as above; no image id.
            row(
                "/",
                OCT_1,
                (
                    0,
                    0,
                    1,
                    744.0,
                    468.0 * 2.0 + 276.0 * 4.0,
                    468.0 * 4.0 + 276.0 * 16.0,
                    // No Cinder on cloud B: the boot volume's size, what its disk is billed
                    // at, is unknown.
                    0.0
                )
            ),
            row(
                "debian-12/img-debian",
                OCT_1,
                (
                    2,
                    1,
                    1,
                    410.0 + 4.0,
                    410.0 * 4.0 + 4.0,
                    410.0 * 16.0 + 4.0,
                    410.0 * 40.0 + 4.0 * 10.0
                )
            ),
            row(
                "gone-linux/img-gone",
                OCT_1,
                (1, 1, 0, 645.0, 645.0, 645.0, 12900.0)
            ),
            // web 102 + 87 small, 471 medium; vol-web 364 medium; batch 58.5 small: small
            // 247.5 h, medium 835 h. Created vol-web, batch; deleted batch; running web.
            row(
                "ubuntu-24.04/img-ubuntu",
                OCT_1,
                (
                    2,
                    1,
                    1,
                    247.5 + 835.0,
                    247.5 + 835.0 * 2.0,
                    247.5 + 835.0 * 4.0,
                    247.5 * 10.0 + 835.0 * 20.0
                )
            ),
            // b-img h98–h202 small, created and gone in October.
            row(
                "ubuntu-24.04/img-ubuntu-b",
                OCT_1,
                (1, 1, 0, 104.0, 104.0, 104.0, 1040.0)
            ),
        ]
    );

    // By tenant, the whole month.
    let by_tenant = labels.rows(&report(&s, &format!("{MONTH}&group_by=tenant")).await);
    assert_eq!(
        sorted(by_tenant),
        [
            // web 189 h small + 471 h medium; db 410 h large; batch 58.5 h small: small
            // 247.5 h. Created db, batch; deleted db, batch; running web.
            row(
                "T0",
                OCT_1,
                (
                    2,
                    2,
                    1,
                    247.5 + 471.0 + 410.0,
                    247.5 + 471.0 * 2.0 + 410.0 * 4.0,
                    247.5 + 471.0 * 4.0 + 410.0 * 16.0,
                    247.5 * 10.0 + 471.0 * 20.0 + 410.0 * 40.0
                )
            ),
            // vol-web 364 h medium; vol-gone 645 h small; late 4 h small. Created all three;
            // deleted vol-gone; running late.
            row(
                "T1",
                OCT_1,
                (
                    3,
                    1,
                    1,
                    364.0 + 645.0 + 4.0,
                    364.0 * 2.0 + 649.0,
                    364.0 * 4.0 + 649.0,
                    364.0 * 20.0 + 645.0 * 20.0 + 4.0 * 10.0
                )
            ),
            // b-vol 468 h medium + 276 h large; b-img 104 h small. Created and deleted
            // b-img; running b-vol.
            row(
                "TB",
                OCT_1,
                (
                    1,
                    1,
                    1,
                    744.0 + 104.0,
                    468.0 * 2.0 + 276.0 * 4.0 + 104.0,
                    468.0 * 4.0 + 276.0 * 16.0 + 104.0,
                    1040.0
                )
            ),
        ]
    );

    // By cloud and month, from Sep 30 (h-24): September's one day, then October.
    let monthly = labels.rows(
        &report(
            &s,
            "start=2026-09-30&end=2026-11-01&group_by=settings&period=month",
        )
        .await,
    );
    const SEP_30: &str = "2026-09-30T00:00:00+00:00";
    assert_eq!(
        sorted(monthly),
        [
            // Sep 30: web from its launch at 12:00, small, 12 h; running at midnight.
            row("A", SEP_30, (1, 0, 1, 12.0, 12.0, 12.0, 120.0)),
            // October, T0 and T1 above: small 247.5 + 649 = 896.5 h, medium 471 + 364 =
            // 835 h, large 410 h. Created db, batch, vol-web, vol-gone, late; deleted db,
            // batch, vol-gone; running web, late.
            row(
                "A",
                OCT_1,
                (
                    5,
                    3,
                    2,
                    896.5 + 835.0 + 410.0,
                    896.5 + 835.0 * 2.0 + 410.0 * 4.0,
                    896.5 + 835.0 * 4.0 + 410.0 * 16.0,
                    // vol-gone's disk is its 20 GiB volume.
                    (896.5 - 645.0) * 10.0 + 645.0 * 20.0 + 835.0 * 20.0 + 410.0 * 40.0
                )
            ),
            // Sep 30: b-vol all day, medium.
            row("B", SEP_30, (1, 0, 1, 24.0, 48.0, 96.0, 0.0)),
            // October: as TB.
            row(
                "B",
                OCT_1,
                (
                    1,
                    1,
                    1,
                    744.0 + 104.0,
                    468.0 * 2.0 + 276.0 * 4.0 + 104.0,
                    468.0 * 4.0 + 276.0 * 16.0 + 104.0,
                    1040.0
                )
            ),
        ]
    );

    // By tenant and name, the whole month.
    let by_tenant_name = labels.rows(&report(&s, &format!("{MONTH}&group_by=tenant,name")).await);
    assert_eq!(
        sorted(by_tenant_name),
        [
            // db h62–h472 large, launched and deleted in October.
            row(
                "T0/debian-12",
                OCT_1,
                (1, 1, 0, 410.0, 410.0 * 4.0, 410.0 * 16.0, 410.0 * 40.0)
            ),
            // web 189 h small + 471 h medium, running; batch 58.5 h small, created and deleted.
            row(
                "T0/ubuntu-24.04",
                OCT_1,
                (
                    1,
                    1,
                    1,
                    247.5 + 471.0,
                    247.5 + 471.0 * 2.0,
                    247.5 + 471.0 * 4.0,
                    247.5 * 10.0 + 471.0 * 20.0
                )
            ),
            // late h740–h744 small.
            row("T1/debian-12", OCT_1, (1, 0, 1, 4.0, 4.0, 4.0, 40.0)),
            row(
                "T1/gone-linux",
                OCT_1,
                (1, 1, 0, 645.0, 645.0, 645.0, 12900.0)
            ),
            // vol-web h224–h588 medium, shut off at the end.
            row(
                "T1/ubuntu-24.04",
                OCT_1,
                (1, 0, 0, 364.0, 364.0 * 2.0, 364.0 * 4.0, 364.0 * 20.0)
            ),
            row(
                "TB/",
                OCT_1,
                (
                    0,
                    0,
                    1,
                    744.0,
                    468.0 * 2.0 + 276.0 * 4.0,
                    468.0 * 4.0 + 276.0 * 16.0,
                    // No Cinder on cloud B: the boot volume's size, what its disk is billed
                    // at, is unknown.
                    0.0
                )
            ),
            row(
                "TB/ubuntu-24.04",
                OCT_1,
                (1, 1, 0, 104.0, 104.0, 104.0, 1040.0)
            ),
        ]
    );

    // By tenant and name per day over Oct 20–21: b-vol resized at 12:00 on the 20th, db
    // deleted at 16:00: the sync at midnight sees it gone and Nova's `terminated_at` dates
    // its end, so it runs until 16:00 and its deletion falls on the 20th.
    let (oct_20, oct_21) = ("2026-10-20T00:00:00+00:00", "2026-10-21T00:00:00+00:00");
    let days = labels.rows(
        &report(
            &s,
            "start=2026-10-20&end=2026-10-22&group_by=tenant,name&period=day",
        )
        .await,
    );
    assert_eq!(
        sorted(days),
        [
            // db until its termination at 16:00, large; deleted that day.
            row("T0/debian-12", oct_20, (0, 1, 0, 16.0, 64.0, 256.0, 640.0)),
            // web all day, medium, both days.
            row(
                "T0/ubuntu-24.04",
                oct_20,
                (0, 0, 1, 24.0, 48.0, 96.0, 480.0)
            ),
            row(
                "T0/ubuntu-24.04",
                oct_21,
                (0, 0, 1, 24.0, 48.0, 96.0, 480.0)
            ),
            // vol-gone all day, small, both days.
            row("T1/gone-linux", oct_20, (0, 0, 1, 24.0, 24.0, 24.0, 480.0)),
            row("T1/gone-linux", oct_21, (0, 0, 1, 24.0, 24.0, 24.0, 480.0)),
            // vol-web all day, medium, both days.
            row(
                "T1/ubuntu-24.04",
                oct_20,
                (0, 0, 1, 24.0, 48.0, 96.0, 480.0)
            ),
            row(
                "T1/ubuntu-24.04",
                oct_21,
                (0, 0, 1, 24.0, 48.0, 96.0, 480.0)
            ),
            // b-vol 12 h medium, then 12 h large.
            row(
                "TB/",
                oct_20,
                (
                    0,
                    0,
                    1,
                    24.0,
                    12.0 * 2.0 + 12.0 * 4.0,
                    12.0 * 4.0 + 12.0 * 16.0,
                    0.0
                )
            ),
            // b-vol all day, large.
            row("TB/", oct_21, (0, 0, 1, 24.0, 96.0, 384.0, 0.0)),
        ]
    );

    // CSV: parses, and its rows are the JSON rows, for two groupings.
    assert_csv_is_the_json(&s, MONTH, &["name"]).await;
    assert_csv_is_the_json(
        &s,
        "start=2026-10-20&end=2026-10-22&group_by=tenant,name&period=day",
        &["name", "tenant_uuid", "tenant_name"],
    )
    .await;

    b.stop().await;
    s.stop().await;
}
