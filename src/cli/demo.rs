//! `cloudcensus demo`: simulated clouds with realistic data, registered, synced and served,
//! so a newcomer sees a populated catalog with one command.
use std::sync::Arc;

use cloudcensus_sim::{GenSpec, Simulator, World};

use super::{CliError, open_catalog, serve_with, sync_settings};
use crate::api::AppState;
use crate::catalog::Catalog;
use crate::catalog::clouds::NewCloud;
use crate::catalog::tenants::NewTenant;
use crate::catalog::tokens::NewToken;
use crate::config::Config;
use crate::crypto::SecretBox;
use crate::sync::LogObserver;
use crate::sync::SyncEngine;

/// Demo clouds are recognised (and replaced on the next run) by this name prefix.
const PREFIX: &str = "demo-";

fn worlds() -> Vec<(&'static str, bool, World)> {
    let generated = |projects, images, servers, seed| {
        World::generate(&GenSpec {
            projects,
            images_per_project: images,
            servers_per_project: servers,
            seed,
        })
    };
    vec![
        ("demo-public-cloud", true, World::demo()),
        ("demo-research", false, generated(3, 60, 12, 11)),
        ("demo-edge", false, generated(3, 40, 6, 12)),
    ]
}

/// Starts a simulator per demo world and registers its cloud and projects (replacing the
/// demo clouds of an earlier run).
async fn start_clouds(catalog: &Catalog) -> Result<Vec<Simulator>, CliError> {
    catalog.clouds().delete_named_like(PREFIX).await?;
    let mut sims = Vec::new();
    for (name, shared, world) in worlds() {
        let projects = world.projects.clone();
        let sim = Simulator::start(world)
            .await
            .map_err(|e| CliError::Demo(format!("cannot start the simulator: {e}")))?;
        let cloud = catalog
            .clouds()
            .create(NewCloud {
                shared,
                ..NewCloud::with_password(name, &sim.auth_url(), "admin", "admin-password")
            })
            .await?;
        for p in projects {
            let new = NewTenant {
                name: p.name.clone(),
                backend_id: p.id.clone(),
                cloud: cloud.id,
                credentials: None,
            };
            catalog.tenants().create(new).await?;
        }
        sims.push(sim);
    }
    Ok(sims)
}

/// A staff token for the demo, valid for a day.
async fn demo_token(catalog: &Catalog) -> Result<String, CliError> {
    let (_, secret) = catalog
        .tokens()
        .create(NewToken {
            name: format!("demo-{}", uuid::Uuid::new_v4().simple()),
            is_staff: true,
            tenants: vec![],
            expires_in_days: Some(1),
        })
        .await?;
    Ok(secret)
}

fn print_instructions(public_url: &str, token: &str) {
    println!();
    println!("cloudcensus demo is serving at {public_url}  (Ctrl-C to stop)");
    println!("Staff token (valid 1 day): {token}");
    println!();
    println!("Try:");
    println!(
        "  curl -s '{public_url}/api/openstack-images/?page_size=5' -H 'Authorization: Token {token}'"
    );
    println!(
        "  curl -s '{public_url}/api/openstack-images/?name=ubuntu&is_rescue_image=false' -H 'Authorization: Token {token}'"
    );
    println!(
        "  curl -s '{public_url}/api/openstack-images/usage_stats/' -H 'Authorization: Token {token}'"
    );
    println!();
    println!("API docs: {public_url}/api/docs/");
}

pub async fn run(cfg: Config) -> Result<(), CliError> {
    // The demo's credentials are the simulators' and live as long as they do.
    let secret_box = match &cfg.secret_key {
        Some(key) => SecretBox::from_passphrase(key)?,
        None => SecretBox::ephemeral(),
    };
    let catalog = open_catalog(&cfg, secret_box).await?;
    let sims = start_clouds(&catalog).await?;

    let engine = SyncEngine::new(catalog.clone(), sync_settings(&cfg));
    eprintln!("Syncing the demo clouds…");
    let outcomes = engine.sweep(None, None, Arc::new(LogObserver)).await?;
    eprint!("{}", super::sync::summary_table(&outcomes));

    let token = demo_token(&catalog).await?;
    let (bound, public_url) = super::bind_public(&cfg).await?;
    print_instructions(&public_url, &token);
    let state = Arc::new(AppState {
        catalog,
        public_url,
        sync: engine,
        limits: crate::api::guard::Limits {
            max_body_bytes: cfg.max_body_bytes,
        },
    });
    let result = serve_with(bound, state).await;
    for sim in sims {
        sim.stop().await;
    }
    result
}
