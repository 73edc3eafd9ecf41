//! `cloudcensus demo`: simulated clouds with realistic data, registered, synced and served,
//! so a newcomer sees a populated catalog with one command.
use std::sync::Arc;

use cloudcensus_sim::{GenSpec, Simulator, World};
use entity::service_settings;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{CliError, open_db, serve_with, sync_settings};
use crate::api::AppState;
use crate::catalog::settings::{self, SettingsInput};
use crate::catalog::tenants::{self, TenantInput};
use crate::catalog::tokens::{self, NewToken};
use crate::config::Config;
use crate::crypto::SecretBox;
use crate::sync::SyncEngine;
use crate::sync::engine::LogObserver;

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

async fn forget_previous_demo(db: &DatabaseConnection) -> Result<(), CliError> {
    service_settings::Entity::delete_many()
        .filter(service_settings::Column::Name.starts_with(PREFIX))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn run(cfg: Config) -> Result<(), CliError> {
    // The demo's credentials are the simulators' and live as long as they do.
    let secret_box = match &cfg.secret_key {
        Some(key) => SecretBox::from_passphrase(key)?,
        None => SecretBox::ephemeral(),
    };
    let db = open_db(&cfg).await?;
    forget_previous_demo(&db).await?;

    let mut sims = Vec::new();
    for (name, shared, world) in worlds() {
        let projects = world.projects.clone();
        let sim = Simulator::start(world)
            .await
            .map_err(|e| CliError::Demo(format!("cannot start the simulator: {e}")))?;
        let cloud = settings::create(
            &db,
            &secret_box,
            SettingsInput {
                name: Some(name.into()),
                shared: Some(shared),
                auth_url: Some(sim.auth_url()),
                username: Some("admin".into()),
                password: Some("admin-password".into()),
                ..Default::default()
            },
        )
        .await?;
        for p in projects {
            tenants::create(
                &db,
                &secret_box,
                TenantInput {
                    name: Some(p.name.clone()),
                    backend_id: Some(p.id.clone()),
                    service_settings: Some(cloud.uuid),
                    ..Default::default()
                },
            )
            .await?;
        }
        sims.push(sim);
    }

    let engine = SyncEngine::new(db.clone(), secret_box.clone(), sync_settings(&cfg));
    eprintln!("Syncing the demo clouds…");
    let outcomes = engine.sweep(None, None, Arc::new(LogObserver)).await?;
    eprint!("{}", super::sync::summary_table(&outcomes));

    let token_name = format!("demo-{}", uuid::Uuid::new_v4().simple());
    let (_, token) = tokens::create(
        &db,
        NewToken {
            name: token_name,
            is_staff: true,
            tenants: vec![],
            expires_in_days: Some(1),
        },
    )
    .await?;

    let (bound, public_url) = super::bind_public(&cfg).await?;
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
    let state = Arc::new(AppState {
        db,
        secret_box,
        public_url,
        sync: Some(engine.clone()),
        read_index: crate::catalog::read_index::ReadIndex::new(cfg.read_index),
    });
    let result = serve_with(bound, state, engine).await;
    for sim in sims {
        sim.stop().await;
    }
    result
}
