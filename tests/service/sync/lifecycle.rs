//! Instances' lifecycle history, scripted over the simulator with a clock the test moves: each
//! sync records the intervals each server spent in each status at each flavor size, dated by
//! `launched_at`, `updated` (within the window since the last sync), `terminated_at`, or the
//! sync that no longer sees the server.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{Flavor, Server};

use crate::common::internals::{self, Clock, EngineOptions, IntervalRow};
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
        .map(|r| (r.status.to_string(), r.started_at, r.ended_at, r.vcpus))
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

/// The scripted world: servers `a` (image X, launched Oct 31 12:00) and `b` (image Y,
/// building) in project 0 of two; the clock at Nov 1 00:00. Image names X and Y.
fn scripted_world() -> (cloudcensus_sim::World, String, String) {
    let mut world = generated_world(2, 20, 0, 11);
    let project = world.projects[0].id.clone();
    let mut named = world
        .images
        .iter()
        .filter(|i| i.owner == project && i.status == "active" && i.visibility == "private")
        .filter_map(|i| Some((i.id.clone(), i.name.clone()?)));
    let (x_id, x) = named.next().expect("an image X");
    let (y_id, y) = named
        .find(|(_, n)| *n != x)
        .expect("an image Y named otherwise");
    let server = |id: &str, status: &str, created: &str, image: &str| Server {
        id: id.into(),
        name: id.into(),
        project_id: project.clone(),
        image_id: Some(image.to_string()),
        status: status.into(),
        created: t(created),
        flavor: flavor(2),
        ..Default::default()
    };
    let mut a = server("a", "ACTIVE", "2026-10-31T11:58:00Z", &x_id);
    a.launched_at = Some(t("2026-10-31T12:00:00Z"));
    world.servers.push(a);
    world
        .servers
        .push(server("b", "BUILD", "2026-10-31T23:00:00Z", &y_id));
    (world, x, y)
}

/// Five scripted days (see each step); returns the app and the image names X, Y. `check`
/// asserts the intervals after each step.
/// Asks for a report, so the server's usage history is read now and caught up after each
/// later sync rather than read whole at the end.
async fn report_now(s: &SimApp) {
    let r = s
        .app
        .get("/api/openstack-images/usage_report/?start=2026-10-01")
        .await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.text);
}

async fn five_scripted_days(check: bool) -> (SimApp, String, String) {
    let (world, x, y) = scripted_world();
    let clock = Clock::manual(t("2026-11-01T00:00:00Z"));
    let s = SimApp::world(world)
        .engine(
            EngineOptions::fast()
                .clock(clock.clone())
                .usage_retention(Duration::days(2)),
        )
        .start()
        .await;
    s.sweep_ok().await;
    if check {
        report_now(&s).await;
    }
    if check {
        assert_eq!(
            life(s.app.intervals_of("a").await),
            [stint("ACTIVE", "2026-10-31T12:00:00Z", None, 2)]
        );
        assert_eq!(
            life(s.app.intervals_of("b").await),
            [stint("BUILD", "2026-10-31T23:00:00Z", None, 2)]
        );
    }

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
    if check {
        report_now(&s).await;
    }
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

    // Day 3: a resized to 4 vCPUs and started at 12:00; b gone; c first seen, created at
    // 02:59, launched at 03:00 and shut off at 05:00 (new since the last sync: building from
    // its creation); an `updated` older than the last sync is clamped to it.
    clock.advance(Duration::days(1));
    edit("a", &|v| {
        v.status = "ACTIVE".into();
        v.flavor = flavor(4);
        v.updated = Some(t("2026-11-02T12:00:00Z"));
    });
    s.sim.with_world(|w| {
        let image = w
            .servers
            .iter()
            .find(|v| v.id == "a")
            .unwrap()
            .image_id
            .clone();
        w.servers.retain(|v| v.id != "b");
        w.servers.push(Server {
            id: "c".into(),
            name: "c".into(),
            project_id: w.projects[0].id.clone(),
            image_id: image,
            status: "SHUTOFF".into(),
            created: t("2026-11-02T02:59:00Z"),
            flavor: flavor(1),
            launched_at: Some(t("2026-11-02T03:00:00Z")),
            updated: Some(t("2026-11-02T05:00:00Z")),
            ..Default::default()
        });
    });
    s.sweep_ok().await;
    if check {
        report_now(&s).await;
    }
    if check {
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
                    "BUILD",
                    "2026-11-02T02:59:00Z",
                    Some("2026-11-02T03:00:00Z"),
                    1
                ),
                stint(
                    "ACTIVE",
                    "2026-11-02T03:00:00Z",
                    Some("2026-11-02T05:00:00Z"),
                    1
                ),
                stint("SHUTOFF", "2026-11-02T05:00:00Z", None, 1),
            ]
        );
    }

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
    if check {
        report_now(&s).await;
    }
    if check {
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
    }
    (s, x, y)
}

/// Also asks for a report after each sync: the history caught up sync by sync sums the same
/// as one read whole (the next test), and forgets a deleted tenant's instances.
#[tokio::test]
async fn each_sync_records_status_and_size_intervals() {
    let (s, x, y) = five_scripted_days(true).await;
    let rows = by_name(&s, "start=2026-11-01&end=2026-11-04").await;
    assert_eq!(figures(&rows[&x]), X_NOV_1_TO_3);
    assert_eq!(figures(&rows[&y]), Y_NOV_1_TO_3);
    let r = s.app.delete(s.app.path_of(&s.tenants[0].url)).await;
    assert!(r.status.is_success(), "{}", r.text);
    assert!(
        by_name(&s, "start=2026-11-01&end=2026-11-04")
            .await
            .is_empty()
    );
    s.stop().await;
}

/// The report's rows by image name.
async fn by_name(s: &SimApp, window: &str) -> HashMap<String, serde_json::Value> {
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?{window}&page_size=300"
        ))
        .await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.text);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["name"].as_str().unwrap().to_string(), row.clone()))
        .collect()
}

// X: a ACTIVE Nov 1 00:00–06:00 at 2 vCPUs (6 h) and Nov 2 12:00–Nov 4 at 4 (36 h);
// c ACTIVE Nov 2 03:00–05:00 at 1 (2 h), launched in the window; a runs at the end.
const X_NOV_1_TO_3: Figures = (
    1,
    0,
    1,
    44.0,
    6.0 * 2.0 + 36.0 * 4.0 + 2.0,
    6.0 * 4.0 + 36.0 * 8.0 + 2.0 * 2.0,
    44.0 * 20.0,
);
// Y: b ACTIVE from its launch Nov 1 01:00 until the sync of Nov 3 00:00 no longer saw it;
// created (Nova's `created`) Oct 31 23:00, before the window.
const Y_NOV_1_TO_3: Figures = (0, 1, 0, 47.0, 94.0, 188.0, 940.0);

/// A report row's figures: (created, deleted, running at end, instance-h, vCPU-h, RAM GiB-h,
/// disk GiB-h).
type Figures = (i64, i64, i64, f64, f64, f64, f64);

fn figures(row: &serde_json::Value) -> Figures {
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

/// The scripted days reported exactly: per image name over Nov 1–3, per day for image X,
/// per tenant, as CSV, for a scoped token, and refusals of bad parameters. Flavors have 2 GiB
/// of RAM per vCPU and 20 GiB of disk.
#[tokio::test]
async fn the_usage_report_sums_the_scripted_days_exactly() {
    let (s, x, y) = five_scripted_days(false).await;
    let window = "start=2026-11-01&end=2026-11-04";
    let get = |q: String| {
        let app = &s.app;
        async move {
            app.get(&format!("/api/openstack-images/usage_report/?{q}"))
                .await
        }
    };
    let by_name = get(format!("{window}&page_size=300")).await;
    assert_eq!(by_name.status, reqwest::StatusCode::OK, "{}", by_name.text);
    assert_eq!(by_name.header("x-result-count").as_deref(), Some("2"));
    let rows = by_name.json();
    let row_of = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {rows}"))
            .clone()
    };
    assert_eq!(figures(&row_of(&x)), X_NOV_1_TO_3);
    assert_eq!(figures(&row_of(&y)), Y_NOV_1_TO_3);
    assert_eq!(row_of(&x)["period_start"], "2026-11-01T00:00:00+00:00");
    assert!(row_of(&x)["tenant_uuid"].is_null());

    // Per day, image X only.
    let daily = get(format!("{window}&period=day&name_exact={x}"))
        .await
        .json();
    let days: Vec<(String, Figures)> = daily
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["period_start"].as_str().unwrap().to_string(), figures(r)))
        .collect();
    assert_eq!(
        days,
        [
            (
                "2026-11-01T00:00:00+00:00".to_string(),
                (0, 0, 0, 6.0, 12.0, 24.0, 120.0)
            ),
            (
                "2026-11-02T00:00:00+00:00".to_string(),
                (1, 0, 1, 14.0, 50.0, 100.0, 280.0)
            ),
            (
                "2026-11-03T00:00:00+00:00".to_string(),
                (0, 0, 1, 24.0, 96.0, 192.0, 480.0)
            ),
        ]
    );

    // Per tenant: everything in project 0's tenant.
    let tenant = &s.tenants[0];
    let per_tenant = get(format!("{window}&group_by=tenant")).await.json();
    assert_eq!(per_tenant.as_array().unwrap().len(), 1);
    assert_eq!(per_tenant[0]["tenant_uuid"], tenant.uuid.as_str());
    assert_eq!(figures(&per_tenant[0]).3, 91.0);
    assert!(per_tenant[0]["name"].is_null());

    // CSV: every row, a header line, equal to the JSON.
    let csv = get(format!("{window}&format=csv&page_size=1")).await;
    assert!(
        csv.header("content-type").unwrap().starts_with("text/csv"),
        "{:?}",
        csv.header("content-type")
    );
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[0], "name");
    assert_eq!(header[1], "period_start");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2, "all rows despite page_size=1");
    for record in &records {
        let json = row_of(&record[0]);
        assert_eq!(
            json["instance_hours"].as_f64().unwrap().to_string(),
            &record[5]
        );
        assert_eq!(json["vcpu_hours"].as_f64().unwrap().to_string(), &record[6]);
        assert_eq!(json["instances_created"].to_string(), &record[2]);
    }

    // A scoped token sees its tenant only: the other tenant's token sees nothing, and
    // naming a tenant outside its scope answers like an unknown one.
    let other = s.app.scoped_token("other", &[&s.tenants[1]]).await;
    let r = s
        .app
        .get_as(
            &other,
            &format!("/api/openstack-images/usage_report/?{window}"),
        )
        .await;
    assert_eq!(r.header("x-result-count").as_deref(), Some("0"));
    let r = s
        .app
        .get_as(
            &other,
            &format!(
                "/api/openstack-images/usage_report/?{window}&tenant_uuid={}",
                tenant.uuid
            ),
        )
        .await;
    assert_eq!(r.json(), serde_json::json!([]));
    let own = s.app.scoped_token("own", &[tenant]).await;
    let r = s
        .app
        .get_as(
            &own,
            &format!("/api/openstack-images/usage_report/?{window}&page_size=300"),
        )
        .await;
    assert_eq!(r.json(), rows);
    // As CSV too: the scoped tokens get the staff's rows (their tenant holds everything), or
    // the header line alone.
    let csv_as = |token: String| {
        let app = &s.app;
        async move {
            app.get_as(
                &token,
                &format!("/api/openstack-images/usage_report/?{window}&format=csv"),
            )
            .await
            .text
        }
    };
    assert_eq!(csv_as(own).await, csv.text);
    assert_eq!(csv_as(other).await.lines().count(), 1);

    // HEAD counts; bad parameters are 400 naming the field.
    let head = s
        .app
        .call(
            reqwest::Method::HEAD,
            &format!("/api/openstack-images/usage_report/?{window}&period=day"),
            Some(&s.app.staff_token),
            None,
        )
        .await;
    assert_eq!(head.header("x-result-count").as_deref(), Some("6"));
    // Pages cut the same rows: 4 + 2, the last page by name too, and past it a 404.
    let all = get(format!("{window}&period=day&page_size=300"))
        .await
        .json();
    let page = |n: &str| get(format!("{window}&period=day&page_size=4&page={n}"));
    let (first, second, last) = (page("1").await, page("2").await, page("last").await);
    assert_eq!(first.header("x-result-count").as_deref(), Some("6"));
    let mut joined = first.json().as_array().unwrap().clone();
    joined.extend(second.json().as_array().unwrap().iter().cloned());
    assert_eq!(serde_json::Value::Array(joined), all);
    assert_eq!(last.json(), second.json());
    assert_eq!(page("3").await.status, reqwest::StatusCode::NOT_FOUND);
    for (query, field) in [
        ("start=yesterday", "start"),
        ("start=2026-11-05&end=2026-11-01", "end"),
        ("group_by=name,colour", "group_by"),
        ("period=week", "period"),
        ("format=xml", "format"),
    ] {
        let r = get(query.to_string()).await;
        assert_eq!(r.status, reqwest::StatusCode::BAD_REQUEST, "{query}");
        assert!(r.json()[field].is_array(), "{query}: {}", r.text);
    }
    s.stop().await;
}

/// With a retention of two days, the daily pruning at Nov 5 deletes the intervals that closed
/// before Nov 3 and keeps the rest, open ones included.
#[tokio::test]
async fn closed_intervals_older_than_the_retention_are_pruned() {
    let (s, x, y) = five_scripted_days(false).await;
    let window = "start=2026-11-01&end=2026-11-04";
    assert_eq!(figures(&by_name(&s, window).await[&x]), X_NOV_1_TO_3);
    assert_eq!(internals::prune_usage(&s.engine).await, 5);
    // Reports no longer count what was pruned: a's first 6 h and c's 2 h of image X (and
    // c's building minute, which counted nothing).
    let rows = by_name(&s, window).await;
    assert_eq!(figures(&rows[&x]).3, 36.0);
    assert_eq!(figures(&rows[&y]), Y_NOV_1_TO_3);
    assert_eq!(
        life(s.app.intervals_of("a").await),
        [stint(
            "ACTIVE",
            "2026-11-02T12:00:00Z",
            Some("2026-11-04T10:00:00Z"),
            4
        )]
    );
    assert_eq!(
        life(s.app.intervals_of("b").await),
        [stint(
            "ACTIVE",
            "2026-11-01T01:00:00Z",
            Some("2026-11-03T00:00:00Z"),
            2
        )]
    );
    assert_eq!(
        life(s.app.intervals_of("c").await),
        [stint("SHUTOFF", "2026-11-02T05:00:00Z", None, 1)]
    );
    assert_eq!(internals::prune_usage(&s.engine).await, 0, "nothing more");
    s.stop().await;
}

/// Lifecycles scripted with the simulator's own clock: a server booted, shut off, resized and
/// deleted, each change stamped by the cloud as Nova would, synced hours later each time.
#[tokio::test]
async fn the_simulators_clock_scripts_a_lifecycle() {
    let world = generated_world(1, 4, 0, 5);
    let project = world.projects[0].id.clone();
    // Booted from an image: its disk is billed at the flavor's.
    let image = world.images.first().map(|i| i.id.clone());
    let t0 = t("2026-11-20T08:00:00Z");
    let clock = Clock::manual(t0);
    let s = SimApp::world(world)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    s.sim.set_time(t0);
    s.sim.boot_server(Server {
        id: "vm".into(),
        name: "vm".into(),
        project_id: project,
        image_id: image,
        flavor: flavor(2),
        ..Default::default()
    });
    let at = |h: i64| t0 + Duration::hours(h);
    let sync_at = |h: i64| {
        clock.set(at(h));
        s.sweep_ok()
    };
    sync_at(1).await;
    s.sim.set_time(at(2));
    s.sim.set_server_status("vm", "SHUTOFF");
    sync_at(3).await;
    s.sim.set_time(at(4));
    assert!(s.sim.resize_server("vm", flavor(4)));
    s.sim.set_server_status("vm", "ACTIVE");
    sync_at(5).await;
    s.sim.set_time(at(7));
    assert!(s.sim.delete_server("vm"));
    sync_at(8).await;
    let h = |n: i64| at(n).to_rfc3339();
    // The sync at 8 h misses the server and asks Nova's `changes-since` listing, which shows
    // it deleted: its life ends at its `terminated_at` (7 h), not at that sync.
    assert_eq!(
        life(s.app.intervals_of("vm").await),
        [
            stint("ACTIVE", &h(0), Some(&h(2)), 2),
            stint("SHUTOFF", &h(2), Some(&h(4)), 2),
            stint("ACTIVE", &h(4), Some(&h(7)), 4),
        ],
        "the deletion is dated by Nova"
    );
    let report = s
        .app
        .get("/api/openstack-images/usage_report/?start=2026-11-20T08:00:00Z&end=2026-11-20T18:00:00Z&group_by=tenant")
        .await
        .json();
    // Running 0–2 h at 2 vCPUs and 4–7 h at 4.
    assert_eq!(
        figures(&report[0]),
        (
            1,
            1,
            0,
            5.0,
            2.0 * 2.0 + 3.0 * 4.0,
            2.0 * 4.0 + 3.0 * 8.0,
            5.0 * 20.0
        )
    );
    s.stop().await;
}

/// Instances recorded before the lifecycle history existed start it at the next sync, as if
/// seen for the first time (ACTIVE from their launch); the sync after that writes nothing.
#[tokio::test]
async fn instances_from_before_the_history_start_it_at_the_next_sync() {
    let (world, _, _) = scripted_world();
    let clock = Clock::manual(t("2026-11-01T00:00:00Z"));
    let s = SimApp::world(world)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    s.sweep_ok().await;
    s.app.forget_intervals().await;
    clock.advance(Duration::days(1));
    s.sweep_ok().await;
    assert_eq!(
        life(s.app.intervals_of("a").await),
        [stint("ACTIVE", "2026-10-31T12:00:00Z", None, 2)]
    );
    assert_eq!(
        life(s.app.intervals_of("b").await),
        [stint("BUILD", "2026-10-31T23:00:00Z", None, 2)]
    );
    clock.advance(Duration::days(1));
    for o in s.sweep().await {
        let r = o.result.as_ref().expect("the re-sync succeeds");
        assert!(r.applied.is_empty(), "{:?}", r.applied);
    }
    s.stop().await;
}
