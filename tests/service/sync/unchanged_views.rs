//! Unchanged views (issue 12's idle sweep): a cloud-mode sweep records a tenant whose view of
//! the listing is the one its last sync applied without comparing it with the catalog; every
//! other view, and every tenant an outside write may have made stale, is compared as before.
use std::collections::BTreeMap;

use chrono::Duration;
use cloudcensus_sim::World;
use serde_json::{Value, json};

use crate::common::assert_same_ids;
use crate::common::internals;
use crate::common::sim::{SimApp, generated_world, glance_ids};

async fn last_sweep(s: &SimApp) -> Value {
    let cloud = s.app.get(s.app.path_of(&s.cloud().url)).await.json();
    cloud["last_sweep"].clone()
}

/// Tenants a sweep recorded as unchanged, by name.
fn unchanged(outcomes: &[cloudcensus::sync::TenantOutcome]) -> Vec<String> {
    let mut names: Vec<String> = outcomes
        .iter()
        .filter(|o| o.result.as_ref().is_ok_and(|s| s.unchanged))
        .map(|o| o.tenant_name.clone())
        .collect();
    names.sort();
    names
}

/// The catalog with the time each app saw a server vanish (its own clock) blanked.
async fn portable(s: &SimApp) -> internals::PortableCatalog {
    let mut catalog = s.app.portable_snapshot().await;
    for row in catalog.instances.values_mut() {
        if let Some(at) = row.find("deleted_at: Some(") {
            let end = at + row[at..].find(')').unwrap();
            row.replace_range(at..=end, "deleted_at: Some(..)");
        }
    }
    catalog
}

/// A small deterministic generator for the mutations.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// One random change of the kinds a cloud sees: a renamed image, a visibility change, a
/// member added or its status changed (which does not move `updated_at`), a hidden image, a
/// deleted image, a shut-off or deleted server.
fn mutate(w: &mut World, dice: &mut Dice) -> String {
    let later = w.images.iter().map(|i| i.updated_at).max().unwrap() + Duration::minutes(5);
    let i = dice.below(w.images.len());
    let projects: Vec<String> = w.projects.iter().map(|p| p.id.clone()).collect();
    match dice.below(7) {
        0 => {
            w.images[i].name = Some(format!("renamed-{}", dice.below(1000)));
            w.images[i].updated_at = later;
            format!("rename {}", w.images[i].id)
        }
        1 => {
            let to = ["private", "shared", "public", "community"][dice.below(4)];
            w.images[i].visibility = to.into();
            w.images[i].updated_at = later;
            format!("{} becomes {to}", w.images[i].id)
        }
        2 => {
            let project = projects[dice.below(projects.len())].clone();
            let status = ["accepted", "pending", "rejected"][dice.below(3)];
            let img = &mut w.images[i];
            img.visibility = "shared".into();
            img.members.retain(|m| m.project_id != project);
            img.members.push(cloudcensus_sim::Member {
                project_id: project.clone(),
                status: status.into(),
            });
            format!("{} shared with {project} ({status})", img.id)
        }
        3 => {
            w.images[i].os_hidden = !w.images[i].os_hidden;
            w.images[i].updated_at = later;
            format!("{} hidden: {}", w.images[i].id, w.images[i].os_hidden)
        }
        4 => format!("delete {}", w.images.remove(i).id),
        _ if w.servers.is_empty() => "nothing".into(),
        5 => {
            let s = dice.below(w.servers.len());
            w.servers[s].status = "SHUTOFF".into();
            w.servers[s].updated = Some(later);
            format!("shut off {}", w.servers[s].id)
        }
        _ => {
            let s = dice.below(w.servers.len());
            format!("delete server {}", w.servers.remove(s).id)
        }
    }
}

/// For generated worlds changed a little at a time, a cloud-mode catalog that skips unchanged
/// views stays the catalog per-tenant sweeps make, and the views that did not change are
/// recorded as runs that saw what the last run saw.
#[tokio::test]
async fn skipping_unchanged_views_keeps_the_catalog_per_tenant_sweeps_make() {
    let mut skipped_some = false;
    let mut compared_some = false;
    for seed in [4, 8, 15] {
        let world = generated_world(6, 10, 2, seed);
        let per_tenant = SimApp::world(world.clone()).start().await;
        let cloud = SimApp::world(world).sync_mode("cloud").start().await;
        per_tenant.sweep_ok().await;
        let first = cloud.sweep_ok().await;
        assert!(
            unchanged(&first).is_empty(),
            "seed {seed}: a first sweep compares"
        );

        // Idle: every view unchanged, the same counts, the catalog untouched.
        let before = cloud.app.portable_snapshot().await;
        let idle = cloud.sweep_ok().await;
        assert_eq!(unchanged(&idle).len(), 6, "seed {seed}");
        assert_eq!(last_sweep(&cloud).await["unchanged"], 6);
        let counts = |o: &[cloudcensus::sync::TenantOutcome]| -> BTreeMap<String, (i64, i64)> {
            o.iter()
                .map(|o| {
                    let c = o.result.as_ref().unwrap().counts;
                    (o.tenant_name.clone(), (c.images_seen, c.instances_seen))
                })
                .collect()
        };
        assert_eq!(counts(&idle), counts(&first), "seed {seed}");
        assert_eq!(cloud.app.portable_snapshot().await, before);

        let mut dice = Dice(seed);
        for round in 0..6 {
            let change = cloud.sim.with_world(|w| mutate(w, &mut Dice(dice.0)));
            per_tenant.sim.with_world(|w| mutate(w, &mut dice));
            // Twice: the name of an image a server counts for comes from the catalog, which
            // the sweep itself updates (in either mode the second sweep has it).
            for _ in 0..2 {
                per_tenant.sweep_ok().await;
                let outcomes = cloud.sweep_ok().await;
                let skipped = unchanged(&outcomes).len();
                skipped_some |= skipped > 0;
                compared_some |= skipped < outcomes.len();
            }
            let label = format!("seed {seed}, round {round}: {change}");
            assert_eq!(
                portable(&per_tenant).await,
                portable(&cloud).await,
                "{label}"
            );
            cloud.assert_catalogs_match_glance(&label).await;
        }
        per_tenant.stop().await;
        cloud.stop().await;
    }
    assert!(skipped_some && compared_some);
}

/// A view's image changes: the tenants that see it are compared, the rest are not.
#[tokio::test]
async fn only_the_tenants_that_see_a_change_are_compared() {
    let s = SimApp::world(generated_world(4, 6, 1, 21))
        .sync_mode("cloud")
        .start()
        .await;
    s.sweep_ok().await;
    let owner = s.tenants[2].backend_id.clone();
    let id = s.sim.with_world(|w| {
        let later = w.images.iter().map(|i| i.updated_at).max().unwrap() + Duration::minutes(5);
        let img = w
            .images
            .iter_mut()
            .find(|i| i.owner == owner && i.visibility == "private" && i.status == "active")
            .expect("a private image");
        img.name = Some("only-mine".into());
        img.updated_at = later;
        img.id.clone()
    });
    let outcomes = s.sweep_ok().await;
    let mut others: Vec<String> = s
        .tenants
        .iter()
        .filter(|t| t.backend_id != owner)
        .map(|t| t.name.clone())
        .collect();
    others.sort();
    assert_eq!(unchanged(&outcomes), others);
    assert_eq!(s.app.image_row(&id).await.unwrap().name, "only-mine");
    s.stop().await;
}

/// Image rows are shared by the tenants that see them: a row written by a per-tenant sync or
/// a delta poll makes every tenant linked to it compare its next view, even a view that is
/// the one it applied last (the image changed and changed back).
#[tokio::test]
async fn rows_written_outside_a_cloud_view_are_compared_again() {
    let mut world = generated_world(3, 5, 1, 33);
    let (owner, member) = (world.projects[0].id.clone(), world.projects[1].id.clone());
    // An image of project 0 shared with project 1 only.
    let shared = world
        .images
        .iter_mut()
        .find(|i| i.owner == owner && i.status == "active")
        .expect("an image of project 0");
    shared.visibility = "shared".into();
    shared.members = vec![cloudcensus_sim::Member {
        project_id: member.clone(),
        status: "accepted".into(),
    }];
    let (id, original) = (shared.id.clone(), shared.clone());
    let s = SimApp::world(world).sync_mode("cloud").start().await;
    s.sweep_ok().await;
    let path = s.app.path_of(&s.cloud().url).to_string();
    let set_mode = |mode: &'static str| {
        let (app, path) = (&s.app, path.clone());
        async move {
            let r = app
                .patch(&path, json!({"options": {"sync_mode": mode}}))
                .await;
            assert!(r.status.is_success(), "{}", r.text);
        }
    };
    let change = |name: &str, members: bool| {
        let (name, id) = (name.to_string(), id.clone());
        s.sim.with_world(move |w| {
            let later = w.images.iter().map(|i| i.updated_at).max().unwrap() + Duration::minutes(5);
            let img = w.images.iter_mut().find(|i| i.id == id).unwrap();
            img.name = Some(name);
            img.updated_at = later;
            if !members {
                img.members.clear();
            }
        })
    };
    let restore = |members: bool| {
        let original = original.clone();
        s.sim.with_world(move |w| {
            let img = w.images.iter_mut().find(|i| i.id == original.id).unwrap();
            *img = original;
            if !members {
                img.members.clear();
            }
        })
    };
    let name = || async { s.app.image_row(&id).await.unwrap().name };
    let original_name = original.name.clone().unwrap_or_default();

    // The member's own sync writes the renamed row; the image then changes back and stops
    // being shared. The owner's view is the one it applied last, but the row it sees changed.
    set_mode("per_tenant").await;
    change("per-tenant-name", true);
    s.sweep_tenant_ok(1).await;
    assert_eq!(name().await, "per-tenant-name");
    restore(false);
    set_mode("cloud").await;
    s.sweep_ok().await;
    assert_eq!(name().await, original_name);
    s.assert_catalogs_match_glance("after the per-tenant write")
        .await;

    // A delta poll writes the renamed row; the image then changes back.
    s.sweep_ok().await;
    change("delta-name", false);
    let polled = internals::delta_poll(&s.engine).await;
    assert!(polled[0].rows_written > 0, "{polled:?}");
    assert_eq!(name().await, "delta-name");
    restore(false);
    let outcomes = s.sweep_ok().await;
    assert!(!unchanged(&outcomes).contains(&s.tenants[0].name));
    assert_eq!(name().await, original_name);
    s.stop().await;
}

/// A tenant retired by discovery loses its links; when its project comes back its view is
/// the one it applied before, and it is compared again, not skipped.
#[tokio::test]
async fn a_tenant_back_from_retirement_is_compared() {
    // No servers: nothing but the view itself in the fingerprint.
    let world = generated_world(3, 4, 0, 10);
    let projects = world.projects.clone();
    let s = SimApp::world(world).unregistered().start().await;
    super::discovery::register(
        &s,
        json!({"discover_tenants": true}),
        json!({"username": "admin", "password": "admin-password", "project_id": projects[0].id}),
    )
    .await;
    s.sweep_ok().await;
    s.sim.with_world(|w| w.projects[2].enabled = false);
    s.sweep_ok().await;
    let t = &super::discovery::tenants(&s).await[&projects[2].id];
    assert!(s.app.catalog_ids(t).await.is_empty());

    s.sim.with_world(|w| w.projects[2].enabled = true);
    // Tokens issued in the second of a project's change are revoked (as Keystone does).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let outcomes = s.sweep_ok().await;
    assert!(!unchanged(&outcomes).contains(&t.name), "{outcomes:?}");
    let want = glance_ids(&s.sim, "user-2", "password-2", &projects[2].id).await;
    assert!(!want.is_empty());
    assert_same_ids(&s.app.catalog_ids(t).await, &want, "back");
    s.stop().await;
}
