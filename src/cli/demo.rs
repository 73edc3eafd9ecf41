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

fn print_instructions(public_url: &str, token: &str, database: &DemoDatabase) {
    println!();
    println!("cloudcensus demo is serving at {public_url}  (Ctrl-C to stop)");
    println!("Staff token (valid 1 day): {token}");
    println!("Demo database: {}", database.describe());
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

/// Where the demo keeps its catalog: the given database, or a temporary SQLite file that
/// goes with the directory holding it.
struct DemoDatabase {
    url: String,
    temporary: Option<std::path::PathBuf>,
}

impl DemoDatabase {
    fn new(given: Option<String>) -> Result<Self, CliError> {
        if let Some(url) = given {
            return Ok(Self {
                url,
                temporary: None,
            });
        }
        let dir = std::env::temp_dir().join(format!(
            "cloudcensus-demo-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::Demo(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Self {
            url: format!("sqlite://{}?mode=rwc", dir.join("demo.db").display()),
            temporary: Some(dir),
        })
    }
}

impl DemoDatabase {
    /// The database for people: a password in the URL is masked.
    fn describe(&self) -> String {
        let shown = match url::Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("****"));
                url.to_string()
            }
            _ => self.url.clone(),
        };
        match self.temporary {
            Some(_) => format!("{shown} (temporary: removed when the demo stops)"),
            None => shown,
        }
    }
}

impl Drop for DemoDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.temporary {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Warns of demo clouds in a database `serve` uses: their simulators are gone, so they would
/// turn ERRED at the next sweep and their images would mix with real ones.
pub async fn warn_of_leftovers(catalog: &Catalog) {
    match catalog.clouds().names_like(PREFIX).await {
        Ok(names) if !names.is_empty() => tracing::warn!(
            clouds = %names.join(", "),
            "this database holds clouds left by an earlier `cloudcensus demo` (the demo now keeps \
             its own database); their simulated clouds are gone: delete them with \
             DELETE /api/service-settings/{{uuid}}/"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot look for leftover demo clouds"),
    }
}

pub async fn run(cfg: Config, database_url: Option<String>) -> Result<(), CliError> {
    let database = DemoDatabase::new(database_url)?;
    let cfg = Config {
        database_url: database.url.clone(),
        ..cfg
    };
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
    // From here on Ctrl-C stops the demo gracefully, removing its temporary database.
    let shutdown = crate::server::shutdown_signal();
    let (bound, public_url) = super::bind_public(&cfg).await?;
    print_instructions(&public_url, &token, &database);
    let state = Arc::new(AppState {
        catalog: catalog.clone(),
        public_url,
        sync: engine,
        limits: crate::api::guard::Limits {
            max_body_bytes: cfg.max_body_bytes,
        },
        metrics_token: cfg.metrics_token.clone(),
    });
    let result = serve_with(bound, state, shutdown).await;
    for sim in sims {
        sim.stop().await;
    }
    // Closed before its temporary directory goes: a pooled connection opened later would
    // create the file again (`mode=rwc`) and leave it behind.
    if let Err(e) = catalog.close().await {
        tracing::warn!(error = %e, "cannot close the demo database");
    }
    result
}
