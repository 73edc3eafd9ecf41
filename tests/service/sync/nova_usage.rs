//! The census against Nova's own accounting: `basis=allocated` counts what Nova's
//! `os-simple-tenant-usage` counts (launch to termination, whatever the status) for servers
//! that were never resized, shelved, rescued or rebuilt (Nova resets `launched_at` then and
//! forgets the hours before). Two projects over two days, synced every four hours:
//!
//! - P0 `a`: boots h0, stops h5, starts h9, pauses h20, unpauses h22, suspends h30, resumes
//!   h33, deleted h40: 40 h.
//! - P0 `b`: boots h10, reboots h12, stops h25, stays stopped to the window's end h48: 38 h.
//! - P1 `c`: boots h3 and runs: 45 h.
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{ADMIN_PASSWORD, ADMIN_USER, Flavor, Server, ServerAction};
use serde_json::Value;

use crate::common::internals::{Clock, EngineOptions};
use crate::common::sim::{self, SimApp, generated_world, service_login};

const T0: &str = "2026-11-02T00:00:00Z";

fn h(n: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc() + Duration::hours(n)
}

fn flavor() -> Flavor {
    sim::flavor("c1", 1, 1024, 10, 0)
}

#[tokio::test]
async fn allocated_hours_equal_novas_simple_tenant_usage() {
    let world = generated_world(2, 1, 0, 9);
    let projects: Vec<String> = world.projects.iter().map(|p| p.id.clone()).collect();
    let image = world.images.first().map(|i| i.id.clone());
    let clock = Clock::manual(h(0));
    let s = SimApp::world(world)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    let boot = |id: &str, project: &str| {
        s.sim.boot_server(Server {
            id: id.into(),
            name: id.into(),
            project_id: project.into(),
            image_id: image.clone(),
            flavor: flavor(),
            ..Default::default()
        })
    };
    use ServerAction as A;
    let script: Vec<(i64, &str, Option<A>)> = vec![
        (0, "a", None),
        (3, "c", None),
        (5, "a", Some(A::Stop)),
        (9, "a", Some(A::Start)),
        (10, "b", None),
        (12, "b", Some(A::Reboot)),
        (20, "a", Some(A::Pause)),
        (22, "a", Some(A::Unpause)),
        (25, "b", Some(A::Stop)),
        (30, "a", Some(A::Suspend)),
        (33, "a", Some(A::Resume)),
        (40, "a", Some(A::Delete)),
    ];
    let mut script = script.into_iter().peekable();
    for hour in 0..=48 {
        s.sim.set_time(h(hour));
        while let Some((_, id, action)) = script.next_if(|(at, _, _)| *at == hour) {
            let project = if id == "c" {
                &projects[1]
            } else {
                &projects[0]
            };
            match action {
                None => boot(id, project),
                Some(action) => assert!(s.sim.act(id, action), "{id} at h{hour}"),
            }
        }
        if hour % 4 == 2 || hour == 48 {
            clock.set(h(hour));
            s.sweep_ok().await;
        }
    }

    // The census, per tenant.
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?{}&group_by=tenant&basis=allocated",
            sim::report_window(h(0), h(48))
        ))
        .await;
    let rows = r.json();
    let census = |tenant: &str| -> f64 {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["tenant_name"]
                    .as_str()
                    .is_some_and(|n| n.contains(tenant))
            })
            .unwrap_or_else(|| panic!("{tenant} in {rows}"))["instance_hours"]
            .as_f64()
            .unwrap()
    };

    // Nova's, as an admin asks it.
    let (compute, token) =
        service_login(&s.sim, ADMIN_USER, ADMIN_PASSWORD, &projects[0], "compute").await;
    let nova_time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let nova = |project: String| {
        let (compute, token) = (compute.clone(), token.clone());
        let (start, end) = (nova_time(h(0)), nova_time(h(48)));
        async move {
            let usage: Value = reqwest::Client::new()
                .get(format!(
                    "{compute}/os-simple-tenant-usage/{project}?start={start}&end={end}"
                ))
                .header("X-Auth-Token", token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            usage["tenant_usage"]["total_hours"].as_f64().unwrap()
        }
    };
    let tenants = s.sim.with_world(|w| {
        w.projects
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect::<Vec<_>>()
    });
    let (p0, p1) = (&tenants[0], &tenants[1]);
    assert_eq!(nova(p0.0.clone()).await, 78.0, "Nova: a 40 h + b 38 h");
    assert_eq!(nova(p1.0.clone()).await, 45.0, "Nova: c 45 h");
    assert_eq!(census(&p0.1), 78.0);
    assert_eq!(census(&p1.1), 45.0);

    // `active` leaves out a's 4 h stopped, 2 h paused and 3 h suspended, and b's 23 h stopped.
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/usage_report/?{}&group_by=tenant",
            sim::report_window(h(0), h(48))
        ))
        .await;
    let active: f64 = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["instance_hours"].as_f64().unwrap())
        .sum();
    assert_eq!(active, 78.0 - 9.0 - 23.0 + 45.0);
    s.stop().await;
}
