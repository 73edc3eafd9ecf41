//! Sync throughput from the simulator into a real database; prints figures, asserts nothing.
//!
//! `cargo bench --bench sync` (knobs: BENCH_PROJECTS, BENCH_IMAGES per project,
//! BENCH_SERVERS per project, BENCH_MODE — `auto` (the default: cloud mode, as the cloud is
//! registered with admin credentials), `cloud` or `per_tenant` — and BENCH_DATABASE_URL —
//! default a fresh SQLite file).
use std::sync::Arc;
use std::time::Instant;

use cloudcensus::catalog::{Catalog, SyncMode};
use cloudcensus::crypto::SecretBox;
use cloudcensus::sync::LogObserver;
use cloudcensus::sync::{SyncEngine, SyncSettings};
use cloudcensus_sim::{GenSpec, ServerAction, Simulator, Target, World};
use sea_orm::{EntityTrait, PaginatorTrait};

mod common;

use common::{knob, rss_mib};

// The same allocator as the service binary, so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Peak resident memory of this process (the simulator included), in MiB.
fn peak_rss_mib() -> f64 {
    common::proc_status_kib("VmHWM:") as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    cloudcensus::install_crypto_provider();
    common::init_tracing();
    let projects = knob("BENCH_PROJECTS", 10);
    let images = knob("BENCH_IMAGES", 10_000);
    let servers = knob("BENCH_SERVERS", 200);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });

    let world = World::generate(&GenSpec {
        projects,
        images_per_project: images,
        servers_per_project: servers,
        seed: 42,
    });
    let project_list = world.projects.clone();
    let sim = Simulator::start(world).await.expect("simulator");
    let catalog = Catalog::open(&url, SecretBox::ephemeral(), false)
        .await
        .expect("database");
    // Row counts are read with a connection of the bench's own.
    let db = sea_orm::Database::connect(&url).await.expect("database");
    let mode = match std::env::var("BENCH_MODE").as_deref() {
        Ok("per_tenant") => SyncMode::PerTenant,
        Ok("cloud") => SyncMode::Cloud,
        _ => SyncMode::Auto,
    };
    common::register_with_mode(&catalog, &sim, &project_list, mode).await;
    let engine = SyncEngine::new(catalog, SyncSettings::new("0 0 * * * *", 4));

    // The simulator's world is built and static from here on: what the peak adds to this is
    // the syncs' memory (and the simulator's per-request buffers).
    let baseline = rss_mib();
    println!(
        "sync benchmark: {projects} projects × {images} images, {servers} servers each, sync_mode {mode:?}, on {}",
        db.get_database_backend().as_str()
    );
    for (label, changed) in [
        ("first sync", 0),
        ("re-sync, no change", 0),
        ("1 % servers changed", 100),
    ] {
        {
            // One server in `changed` is stopped (or started again) upstream first: the
            // sweep reads those servers' action logs.
            if changed > 0 {
                let picked: Vec<(String, bool)> = sim.with_world(|w| {
                    w.servers
                        .iter()
                        .step_by(changed)
                        .map(|s| (s.id.clone(), s.status == "ACTIVE"))
                        .collect()
                });
                for (id, active) in &picked {
                    let action = if *active {
                        ServerAction::Stop
                    } else {
                        ServerAction::Start
                    };
                    sim.act(id, action);
                }
            }
            let logs_before = sim.requests(Target::NovaInstanceActions);
            let events_before = sim.requests(Target::NovaInstanceActionEvents);
            let started = Instant::now();
            let outcomes = engine
                .sweep(None, None, Arc::new(LogObserver))
                .await
                .expect("sweep");
            let secs = started.elapsed().as_secs_f64();
            let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
            let seen: i64 = outcomes
                .iter()
                .filter_map(|o| o.result.as_ref().ok())
                .map(|s| s.counts.images_seen)
                .sum();
            let written: u64 = outcomes
                .iter()
                .filter_map(|o| o.result.as_ref().ok())
                .map(|s| s.applied.rows_written())
                .sum();
            let links = entity::image_tenants::Entity::find()
                .count(&db)
                .await
                .unwrap_or(0);
            let images_rows = entity::images::Entity::find().count(&db).await.unwrap_or(0);
            println!(
                "{label:>20}: {secs:7.2} s  {:>9.0} image-tenant links/s  ({seen} links seen, {links} stored, {images_rows} images, {written} rows written, {failed} tenants failed, {} action logs and {} actions' events read)",
                seen as f64 / secs,
                sim.requests(Target::NovaInstanceActions) - logs_before,
                sim.requests(Target::NovaInstanceActionEvents) - events_before
            );
            // Figures of a sync that lost or invented links are worthless: say so loudly.
            if links != seen as u64 {
                println!(
                    "{:>20}  WRONG RESULT: {links} links stored for {seen} seen",
                    ""
                );
            }
        }
    }
    let peak = peak_rss_mib();
    println!(
        "RSS: {baseline:.0} MiB before the first sync (simulator world, empty catalog), peak {peak:.0} MiB, so the syncs added {:.0} MiB",
        peak - baseline
    );
    sim.stop().await;
}
