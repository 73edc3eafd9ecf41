//! A fleet of small tenants swept per tenant and in cloud mode; prints figures, asserts nothing.
//!
//! `cargo bench --bench fleet` (knobs: BENCH_PROJECTS, default 1,000; BENCH_PUBLIC images,
//! 300; BENCH_PRIVATE images per project, 20; BENCH_SERVERS per project, 5; BENCH_CONCURRENCY,
//! 4 tenants at a time; BENCH_MODES, `per_tenant,cloud`; BENCH_DATABASE_URL, default a fresh
//! SQLite file per mode — a given database is shared, each mode's cloud deleted after its run).
//!
//! The world: `World::generate` with BENCH_PRIVATE images and BENCH_SERVERS servers per
//! project (seed 42), then every generated image made private to its owner (no members: the
//! generator's public, community and shared images are private here, its hidden, unnamed and
//! non-active ones stay as they are), plus BENCH_PUBLIC public images owned by the first
//! project; a server that booted from an image of another project boots from a public image
//! instead. No volumes. So each tenant sees BENCH_PUBLIC + BENCH_PRIVATE images.
//!
//! For each mode, with a fresh database: registers the simulator's cloud with its admin
//! (`admin`/`admin-password`) and that `sync_mode`, one tenant per project with the project's
//! member user, then times a first sweep and an idle sweep (no upstream change). Per sweep:
//! wall time, upstream requests by service as the cloud's `last_sweep` records them and as the
//! simulator counted them, image-tenant links stored and links per second, and the resident
//! memory the sweep added (VmRSS sampled every 5 ms, peak minus before). Then the ratios
//! per tenant / cloud.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cloudcensus::catalog::{Catalog, SyncMode};
use cloudcensus::crypto::SecretBox;
use cloudcensus::sync::LogObserver;
use cloudcensus::sync::{SyncEngine, SyncSettings};
use cloudcensus_sim::{GenSpec, Image, Simulator, Target, World};
use sea_orm::{EntityTrait, PaginatorTrait};

mod common;

use common::knob;

// The same allocator as the service binary, so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVICES: [&str; 4] = ["identity", "image", "compute", "volume"];

/// The simulator's endpoints, by the service the sync counts them under.
const TARGETS: [(&str, Target); 7] = [
    ("identity", Target::KeystoneAuth),
    ("identity", Target::KeystoneProjects),
    ("image", Target::GlanceImages),
    ("image", Target::GlanceMembers),
    ("image", Target::GlanceInfo),
    ("compute", Target::NovaServers),
    ("volume", Target::CinderVolumes),
];

fn rss_kib() -> u64 {
    common::proc_status_kib("VmRSS:")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Samples VmRSS until dropped; `peak` is the highest sample.
struct RssSampler {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start() -> Self {
        let peak = Arc::new(AtomicU64::new(rss_kib()));
        let sampled = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                sampled.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Self { peak, task }
    }

    fn stop(self) -> u64 {
        self.task.abort();
        self.peak.load(Ordering::Relaxed).max(rss_kib())
    }
}

fn fleet_world(projects: usize, public: usize, private: usize, servers: usize) -> World {
    let mut world = World::generate(&GenSpec {
        projects,
        images_per_project: private,
        servers_per_project: servers,
        seed: 42,
    });
    for image in &mut world.images {
        image.visibility = "private".into();
        image.members.clear();
    }
    let owner = world.projects.first().map(|p| p.id.clone());
    let epoch = Utc
        .with_ymd_and_hms(2023, 6, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let distros = [
        "ubuntu-24.04",
        "debian-12",
        "rocky-9",
        "fedora-40",
        "cirros",
    ];
    let mut public_ids = Vec::new();
    for k in 0..public {
        let id = format!("00000000-0000-4000-8000-{k:012x}");
        let distro = distros[k % distros.len()];
        let (os, version) = distro.split_once('-').unwrap_or((distro, "0.6.2"));
        let created_at = epoch + chrono::Duration::minutes(k as i64);
        public_ids.push(id.clone());
        world.images.push(Image {
            id,
            name: Some(format!("{distro}-build-{k}")),
            owner: owner.clone().unwrap_or_default(),
            visibility: "public".into(),
            members: Vec::new(),
            os_hidden: false,
            status: "active".into(),
            min_disk: 10,
            min_ram: 512,
            size: Some((300 + k as i64) * 1024 * 1024),
            checksum: Some(format!("{:032x}", k as u128 * 7919)),
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            protected: false,
            tags: Vec::new(),
            created_at,
            updated_at: created_at,
            properties: BTreeMap::from([
                ("os_distro".to_string(), os.to_string()),
                ("os_version".to_string(), version.to_string()),
            ]),
        });
    }
    let owners: HashMap<String, String> = world
        .images
        .iter()
        .map(|i| (i.id.clone(), i.owner.clone()))
        .collect();
    for (n, server) in world.servers.iter_mut().enumerate() {
        let foreign = server
            .image_id
            .as_ref()
            .is_some_and(|id| owners.get(id) != Some(&server.project_id));
        if foreign {
            server.image_id =
                (!public_ids.is_empty()).then(|| public_ids[n % public_ids.len()].clone());
        }
    }
    world
}

fn sim_requests(sim: &Simulator) -> BTreeMap<&'static str, u64> {
    let mut by = BTreeMap::new();
    for (service, target) in TARGETS {
        *by.entry(service).or_insert(0) += sim.requests(target);
    }
    by
}

struct SweepFigures {
    secs: f64,
    /// As the cloud's `last_sweep` has them.
    requests: BTreeMap<String, u64>,
    /// As the simulator counted them during the sweep.
    sim: BTreeMap<&'static str, u64>,
    mode: String,
    tenants: u64,
    failed: usize,
    links: u64,
    added_mib: f64,
}

impl SweepFigures {
    fn total(&self) -> u64 {
        self.requests.values().sum()
    }
    fn sim_total(&self) -> u64 {
        self.sim.values().sum()
    }
}

async fn run_mode(
    mode: SyncMode,
    url: &str,
    sim: &Simulator,
    world: &World,
    concurrency: usize,
) -> Vec<(&'static str, SweepFigures)> {
    let catalog = Catalog::open(url, SecretBox::ephemeral(), false)
        .await
        .expect("database");
    // Row counts are read with a connection of the bench's own.
    let db = sea_orm::Database::connect(url).await.expect("database");
    let cloud = common::register_with_mode(&catalog, sim, &world.projects, mode).await;
    let engine = SyncEngine::new(
        catalog.clone(),
        SyncSettings::new("0 0 * * * *", concurrency),
    );
    let mut figures = Vec::new();
    for label in ["first sweep", "idle sweep"] {
        let sim_before = sim_requests(sim);
        let before = rss_kib();
        let sampler = RssSampler::start();
        let started = Instant::now();
        let outcomes = engine
            .sweep(None, None, Arc::new(LogObserver))
            .await
            .expect("sweep");
        let secs = started.elapsed().as_secs_f64();
        let peak = sampler.stop();
        let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
        let sim_after = sim_requests(sim);
        let record = catalog
            .clouds()
            .find(cloud.uuid)
            .await
            .expect("cloud")
            .and_then(|c| c.last_sweep)
            .unwrap_or_default();
        let requests = record["requests"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        let links = entity::image_tenants::Entity::find()
            .count(&db)
            .await
            .unwrap_or(0);
        figures.push((
            label,
            SweepFigures {
                secs,
                requests,
                sim: sim_after
                    .iter()
                    .map(|(k, v)| (*k, v - sim_before.get(k).copied().unwrap_or(0)))
                    .collect(),
                mode: record["mode"].as_str().unwrap_or("?").to_string(),
                tenants: record["tenants"].as_u64().unwrap_or(0),
                failed,
                links,
                added_mib: mib(peak.saturating_sub(before)),
            },
        ));
    }
    // A shared database starts the next mode without this one's cloud, tenants and images.
    catalog
        .clouds()
        .delete(cloud.uuid)
        .await
        .expect("delete cloud");
    figures
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}×", a / b)
    } else {
        "n/a".into()
    }
}

#[tokio::main]
async fn main() {
    cloudcensus::install_crypto_provider();
    common::init_tracing();
    let projects = knob("BENCH_PROJECTS", 1_000);
    let public = knob("BENCH_PUBLIC", 300);
    let private = knob("BENCH_PRIVATE", 20);
    let servers = knob("BENCH_SERVERS", 5);
    let concurrency = knob("BENCH_CONCURRENCY", 4);
    let modes: Vec<(&str, SyncMode)> = std::env::var("BENCH_MODES")
        .unwrap_or_else(|_| "per_tenant,cloud".into())
        .split(',')
        .filter_map(|m| match m.trim() {
            "per_tenant" => Some(("per_tenant", SyncMode::PerTenant)),
            "cloud" => Some(("cloud", SyncMode::Cloud)),
            _ => None,
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let given_url = std::env::var("BENCH_DATABASE_URL").ok();

    let world = fleet_world(projects, public, private, servers);
    println!(
        "fleet benchmark: {projects} projects, {public} public images, {private} private images and {servers} servers per project ({} images, {} servers), {concurrency} tenants at a time",
        world.images.len(),
        world.servers.len()
    );
    let sim = Simulator::start(world.clone()).await.expect("simulator");

    let mut results = Vec::new();
    for (name, mode) in modes {
        let url = given_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join(format!("fleet-{name}.db")).display()
            )
        });
        let figures = run_mode(mode, &url, &sim, &world, concurrency).await;
        for (label, f) in &figures {
            let by = |m: &BTreeMap<String, u64>| {
                SERVICES
                    .iter()
                    .map(|s| format!("{s} {}", m.get(*s).copied().unwrap_or(0)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let sim_by = SERVICES
                .iter()
                .map(|s| format!("{s} {}", f.sim.get(s).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ");
            println!(
                "{name:>10} {label:<11}: {:8.2} s  {:>9.0} links/s  {} links  +{:.0} MiB RSS  ({} tenants, {} failed, recorded mode {})",
                f.secs,
                f.links as f64 / f.secs,
                f.links,
                f.added_mib,
                f.tenants,
                f.failed,
                f.mode
            );
            println!(
                "{:>23} upstream requests {} ({}); simulator counted {} ({sim_by})",
                "",
                f.total(),
                by(&f.requests),
                f.sim_total()
            );
        }
        results.push((name, figures));
    }

    println!();
    println!(
        "| mode | sweep | wall time | upstream requests (identity / image / compute / volume) | image-tenant links/s | peak RSS added |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, figures) in &results {
        for (label, f) in figures {
            let by = SERVICES
                .iter()
                .map(|s| f.requests.get(*s).copied().unwrap_or(0).to_string())
                .collect::<Vec<_>>()
                .join(" / ");
            let rate = if *label == "first sweep" {
                format!("{:.0}", f.links as f64 / f.secs)
            } else {
                "—".into()
            };
            println!(
                "| {name} | {label} | {:.2} s | {} ({by}) | {rate} | {:.0} MiB |",
                f.secs,
                f.total(),
                f.added_mib
            );
        }
    }
    let find = |mode: &str, sweep: usize| {
        results
            .iter()
            .find(|(n, _)| *n == mode)
            .and_then(|(_, f)| f.get(sweep))
            .map(|(_, f)| f)
    };
    if let (Some(pt_first), Some(pt_idle), Some(c_first), Some(c_idle)) = (
        find("per_tenant", 0),
        find("per_tenant", 1),
        find("cloud", 0),
        find("cloud", 1),
    ) {
        println!();
        println!(
            "per tenant / cloud: upstream requests {} (first sweep), {} (idle sweep), target ≥ 50×",
            ratio(pt_first.total() as f64, c_first.total() as f64),
            ratio(pt_idle.total() as f64, c_idle.total() as f64)
        );
        println!(
            "per tenant / cloud: wall time {} (first sweep), {} (idle sweep, target ≥ 10×)",
            ratio(pt_first.secs, c_first.secs),
            ratio(pt_idle.secs, c_idle.secs)
        );
    }
    sim.stop().await;
}
