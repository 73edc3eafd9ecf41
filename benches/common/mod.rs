//! What the benchmarks share: knobs from the environment, and a simulated cloud registered
//! with one tenant per project, each logging in as its own member user.
use cloudcensus::catalog::Catalog;
use cloudcensus::catalog::clouds::NewCloud;
use cloudcensus::catalog::credentials::Credentials;
use cloudcensus::catalog::tenants::NewTenant;
use cloudcensus_sim::{Project, Simulator};

pub fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Registers the simulator's cloud (its admin) and a tenant per project with the project's
/// member user (`user-{i}` / `password-{i}`, as the generated worlds have them).
pub async fn register(catalog: &Catalog, sim: &Simulator, projects: &[Project]) {
    let cloud = catalog
        .clouds()
        .create(NewCloud::with_password(
            "bench",
            &sim.auth_url(),
            "admin",
            "admin-password",
        ))
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
}
