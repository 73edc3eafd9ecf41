//! Closed periods never change: once every tenant has synced past the end of a window, the
//! window's usage reports (JSON and CSV, every grouping, basis and period) are byte-identical
//! after any later syncs, whatever happens upstream meanwhile: renames, image deletions,
//! resizes and reverts, stops and starts, server deletions, new servers, re-syncs. Random
//! sequences of such events, several seeds, both clocks scripted.
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{Flavor, Image, Server, ServerAction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;

use crate::common::internals::{Clock, EngineOptions};
use crate::common::sim::{self, SimApp, generated_world};

const T0: &str = "2026-10-01T00:00:00Z";

fn at(hours: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc() + Duration::hours(hours)
}

fn flavor(vcpus: i64) -> Flavor {
    sim::flavor(&format!("c{vcpus}"), vcpus, vcpus * 1024, 10 * vcpus, vcpus)
}

fn image(id: &str, owner: &str) -> Image {
    sim::public_image(id, &format!("{id}-v1"), owner, at(-100))
}

const IMAGES: [&str; 3] = ["alpha", "beta", "gamma"];

/// One random upstream event at the simulator's current time.
fn event(s: &SimApp, rng: &mut StdRng, projects: &[String], booted: &mut usize, now: i64) {
    let servers: Vec<String> = s
        .sim
        .with_world(|w| w.servers.iter().map(|v| v.id.clone()).collect());
    let pick = |rng: &mut StdRng| {
        servers
            .get(rng.random_range(0..servers.len().max(1)))
            .cloned()
    };
    match rng.random_range(0..12) {
        0 | 1 => {
            *booted += 1;
            s.sim.boot_server(Server {
                id: format!("vm{booted}"),
                name: format!("vm{booted}"),
                project_id: projects[rng.random_range(0..projects.len())].clone(),
                image_id: Some(IMAGES[rng.random_range(0..IMAGES.len())].into()),
                flavor: flavor(rng.random_range(1..=3)),
                ..Default::default()
            });
        }
        2 => {
            // A rename in Glance.
            let id = IMAGES[rng.random_range(0..IMAGES.len())];
            s.sim.with_world(|w| {
                if let Some(i) = w.images.iter_mut().find(|i| i.id == id) {
                    i.name = Some(format!("{id}-renamed-h{now}"));
                    i.updated_at = at(now);
                }
            });
        }
        3 => {
            // An image deleted from Glance: its instances keep their name.
            let id = IMAGES[rng.random_range(0..IMAGES.len())];
            s.sim.with_world(|w| w.images.retain(|i| i.id != id));
        }
        n => {
            let Some(id) = pick(rng) else { return };
            let action = match n {
                4 => ServerAction::Stop,
                5 => ServerAction::Start,
                6 => ServerAction::Resize(flavor(rng.random_range(1..=3))),
                7 => ServerAction::ConfirmResize,
                8 => ServerAction::RevertResize,
                9 => ServerAction::Pause,
                10 => ServerAction::Unpause,
                _ => ServerAction::Delete,
            };
            // An action Nova would refuse in the server's state is simply not taken.
            s.sim.act(&id, action);
        }
    }
}

/// Every report of the window `[at(0), at(end))`, as the bytes the server sends.
async fn reports(s: &SimApp, end: i64) -> Vec<(String, String)> {
    let window = sim::report_window(at(0), at(end));
    let mut out = Vec::new();
    for group_by in ["name", "image", "tenant,name", "settings,image"] {
        for basis in ["active", "running", "allocated"] {
            for period in ["day", "none"] {
                for format in ["json", "csv"] {
                    let query = format!(
                        "{window}&group_by={group_by}&basis={basis}&period={period}&format={format}&page_size=300"
                    );
                    let r = s
                        .app
                        .get(&format!("/api/openstack-images/usage_report/?{query}"))
                        .await;
                    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
                    out.push((query, r.text));
                }
            }
        }
    }
    out
}

async fn closed_periods_stay_as_they_were(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = generated_world(2, 0, 0, seed);
    let projects: Vec<String> = world.projects.iter().map(|p| p.id.clone()).collect();
    for id in IMAGES {
        world.images.push(image(id, &projects[0]));
    }
    let clock = Clock::manual(at(0));
    let s = SimApp::world(world)
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    let mut booted = 0;
    let sync_at = |h: i64| {
        clock.set(at(h));
        s.sweep_ok()
    };
    // Three days of events, synced every six hours; the window is those three days.
    const END: i64 = 72;
    for h in 0..=END + 6 {
        s.sim.set_time(at(h));
        for _ in 0..rng.random_range(0..3) {
            event(&s, &mut rng, &projects, &mut booted, h);
        }
        if h % 6 == 0 {
            sync_at(h).await;
        }
    }
    // Every tenant has now synced past the window's end (at h78).
    let closed = reports(&s, END).await;
    assert!(
        closed
            .iter()
            .any(|(_, body)| body.contains("instance_hours")),
        "seed {seed}: the window has usage"
    );
    // Five more days of events, synced at random times, sometimes twice at once.
    let mut h = END + 6;
    while h < END + 6 + 120 {
        h += rng.random_range(1..10);
        s.sim.set_time(at(h));
        for _ in 0..rng.random_range(1..4) {
            event(&s, &mut rng, &projects, &mut booted, h);
        }
        sync_at(h).await;
        if rng.random_bool(0.2) {
            sync_at(h).await;
        }
        let again = reports(&s, END).await;
        for ((query, before), (_, after)) in closed.iter().zip(&again) {
            assert_eq!(
                before, after,
                "seed {seed}, after the sync at h{h}: {query}"
            );
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn closed_periods_never_change_seed_1() {
    closed_periods_stay_as_they_were(1).await;
}

#[tokio::test]
async fn closed_periods_never_change_seed_2() {
    closed_periods_stay_as_they_were(2).await;
}

#[tokio::test]
async fn closed_periods_never_change_seed_3() {
    closed_periods_stay_as_they_were(3).await;
}
