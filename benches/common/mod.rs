//! What the benchmarks share: knobs from the environment, and a simulated cloud registered
//! with one tenant per project, each logging in as its own member user.
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

/// Registers the simulator's cloud (its admin) and a tenant per project with the project's
/// member user (`user-{i}` / `password-{i}`, as the generated worlds have them).
#[allow(dead_code)] // Each bench compiles this module on its own; `fleet` registers by mode.
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
