//! What the benchmarks share: knobs from the environment, this process's memory, tracing,
//! and a simulated cloud registered with one tenant per project, each logging in as its own
//! member user. Each bench compiles this module on its own and uses part of it.
#![allow(dead_code)]
use cloudcensus::catalog::clouds::{Cloud, NewCloud};
use cloudcensus::catalog::credentials::Credentials;
use cloudcensus::catalog::tenants::NewTenant;
use cloudcensus::catalog::{Catalog, SyncMode};
use cloudcensus_sim::{Project, Simulator};

pub fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of `/proc/self/status` in KiB (`VmRSS:` now, `VmHWM:` the peak); 0 where unknown.
pub fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// This process's resident memory now, in MiB (the simulator included when it runs here).
pub fn rss_mib() -> f64 {
    proc_status_kib("VmRSS:") as f64 / 1024.0
}

/// Logs to stderr at `RUST_LOG` (default `warn`), with span times:
/// `RUST_LOG=cloudcensus=debug` shows each tenant's listing and apply phases.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .init();
}

/// Registers the simulator's cloud (its admin) and a tenant per project with the project's
/// member user (`user-{i}` / `password-{i}`, as the generated worlds have them).
pub async fn register(catalog: &Catalog, sim: &Simulator, projects: &[Project]) {
    register_with_mode(catalog, sim, projects, SyncMode::Auto).await;
}

/// [`register`] with the cloud's `sync_mode`; gives the cloud back.
pub async fn register_with_mode(
    catalog: &Catalog,
    sim: &Simulator,
    projects: &[Project],
    sync_mode: SyncMode,
) -> Cloud {
    let cloud = catalog
        .clouds()
        .create(NewCloud {
            sync_mode,
            ..NewCloud::with_password("bench", &sim.auth_url(), "admin", "admin-password")
        })
        .await
        .expect("cloud");
    for (i, p) in projects.iter().enumerate() {
        let new = NewTenant {
            name: p.name.clone(),
            backend_id: p.id.clone(),
            cloud: cloud.id,
            credentials: Some(Credentials::Password {
                username: format!("user-{i}"),
                password: format!("password-{i}"),
                project_name: None,
                project_id: None,
            }),
        };
        catalog.tenants().create(new).await.expect("tenant");
    }
    cloud
}
