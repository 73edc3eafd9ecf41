//! `cloudcensus-sim`: the OpenStack simulator as a standalone server, for benchmarks and
//! manual exploration.
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use cloudcensus_sim::{ADMIN_PASSWORD, ADMIN_USER, GenSpec, Simulator, World};

#[derive(Parser)]
#[command(version, about = "A small Keystone v3 + Glance v2 + Nova simulator")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    listen: SocketAddr,
    /// A world as JSON (projects, users, app_credentials, images, servers).
    #[arg(long, conflicts_with = "generate")]
    world: Option<PathBuf>,
    /// Generated world: PROJECTS,IMAGES_PER_PROJECT,SERVERS_PER_PROJECT.
    #[arg(long, value_parser = parse_spec)]
    generate: Option<(usize, usize, usize)>,
    /// Random seed for --generate.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the world as JSON and exit (a starting point for a --world file).
    #[arg(long)]
    dump: bool,
}

fn parse_spec(raw: &str) -> Result<(usize, usize, usize), String> {
    let parts: Vec<usize> = raw
        .split(',')
        .map(|p| p.trim().parse::<usize>().map_err(|e| format!("{p:?}: {e}")))
        .collect::<Result<_, _>>()?;
    match parts.as_slice() {
        [p, i, s] => Ok((*p, *i, *s)),
        _ => Err("expected PROJECTS,IMAGES_PER_PROJECT,SERVERS_PER_PROJECT".into()),
    }
}

fn load(args: &Args) -> Result<World, String> {
    if let Some(path) = &args.world {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()));
    }
    Ok(match args.generate {
        Some((projects, images_per_project, servers_per_project)) => World::generate(&GenSpec {
            projects,
            images_per_project,
            servers_per_project,
            seed: args.seed,
        }),
        None => World::demo(),
    })
}

/// Lines shown per list; a generated world can have thousands of projects.
const SHOWN: usize = 20;

/// What a person needs to register the simulated cloud: its region, users with their
/// passwords and roles, and projects by name and id.
fn describe(world: &World) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "region: {}  ({} projects, {} images, {} servers)",
        world.region,
        world.projects.len(),
        world.images.len(),
        world.servers.len()
    );
    let _ = writeln!(out, "users (name / password, domain default):");
    for user in world.users.iter().take(SHOWN) {
        let role = if user.admin { "admin role" } else { "member" };
        let _ = writeln!(
            out,
            "  {} / {}  ({role} in {} project(s))",
            user.name,
            user.password,
            user.projects.len()
        );
    }
    more(&mut out, world.users.len());
    let _ = writeln!(out, "projects (name  id):");
    for project in world.projects.iter().take(SHOWN) {
        let _ = writeln!(out, "  {}  {}", project.name, project.id);
    }
    more(&mut out, world.projects.len());
    let _ = writeln!(
        out,
        "Register it with the admin user ({ADMIN_USER} / {ADMIN_PASSWORD}) and \
         \"discover_tenants\": true to pick up every project."
    );
    out
}

fn more(out: &mut String, total: usize) {
    use std::fmt::Write;
    if total > SHOWN {
        let _ = writeln!(out, "  … and {} more", total - SHOWN);
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let world = match load(&args) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.dump {
        match serde_json::to_string_pretty(&world) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
        return std::process::ExitCode::SUCCESS;
    }
    let listing = describe(&world);
    let sim = match Simulator::start_on(args.listen, world).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("OpenStack simulator serving (Ctrl-C to stop)");
    println!("auth_url: {}", sim.auth_url());
    print!("{listing}");
    let _ = tokio::signal::ctrl_c().await;
    sim.stop().await;
    std::process::ExitCode::SUCCESS
}
