//! `cloudcensus clouds import`: registers the clouds of OpenStack's client configuration
//! (`clouds.yaml`, with `secure.yaml` merged in) as openstacksdk reads it; `clouds check`
//! checks a registered cloud's connection (`check.rs`).
//!
//! - `files.rs`: where the files are looked for;
//! - `yaml.rs`: parsing and merging them;
//! - `entry.rs`: one cloud's keys by openstacksdk's rules, into what the catalog holds;
//! - `import.rs`: the comparison with the catalog, and the writes.
mod check;
mod entry;
mod files;
mod import;
mod yaml;

use std::path::PathBuf;

use clap::Subcommand;

use self::entry::{Entry, Login, Parsed, Tls};
use self::import::{Applied, CloudAction, Options, Planned, TenantAction};
use super::{CliError, open_catalog, secret_box, sync_settings};
use crate::catalog::Catalog;
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum CloudsCommand {
    /// Register the clouds of an OpenStack clouds.yaml (secure.yaml merged in), or update
    /// those registered before (matched by name). Passwords and secrets are never printed.
    ///
    /// Without FILE, clouds.yaml is looked for as openstacksdk does: OS_CLIENT_CONFIG_FILE,
    /// then clouds.{yaml,yml,json} in the current directory, ~/.config/openstack and
    /// /etc/openstack; secure.yaml the same way (OS_CLIENT_SECURE_FILE first; beside FILE
    /// first when FILE is given). A cloud with several regions becomes one cloud per region,
    /// named <cloud>-<region>. auth_type password, v3password (the default) and
    /// v3applicationcredential are imported; other types are skipped with a note. A
    /// project-scoped entry also registers its project as a tenant of the cloud (a project
    /// named only by name is looked up by logging in), unless --discover.
    #[command(verbatim_doc_comment)]
    Import {
        /// The clouds.yaml to read (default: openstacksdk's search).
        file: Option<PathBuf>,
        /// Only this cloud (its name in the file); repeat for several.
        #[arg(long = "cloud", value_name = "NAME")]
        cloud: Vec<String>,
        /// Print what would change and write nothing (and log in nowhere).
        #[arg(long)]
        dry_run: bool,
        /// Let the clouds discover their tenants from Keystone's project list at each sweep
        /// (admin credentials needed) instead of registering each entry's project.
        #[arg(long)]
        discover: bool,
    },
    /// Check a registered cloud's connection with its own credentials: the login (the
    /// token's project and roles, and so the mode `sync_mode: auto` takes), and the identity,
    /// image, compute and volume endpoints of its region and interface, each asked one small
    /// request, timed. Exits non-zero when syncs of the cloud cannot work as configured.
    Check {
        /// The cloud's name or uuid.
        #[arg(value_name = "NAME|UUID")]
        cloud: String,
    },
}

pub use check::CheckError;

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "no clouds.yaml found; looked for {looked}. Give the file, or set OS_CLIENT_CONFIG_FILE"
    )]
    NotFound { looked: String },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: not valid YAML: {message}", .path.display())]
    Syntax {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{} cannot be read as OpenStack client configuration: {detail}", .path.display())]
    Shape { path: PathBuf, detail: String },
    #[error("{} has no cloud named {name:?}; it has: {known}", .path.display())]
    UnknownCloud {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error("{0} cloud(s) could not be imported completely (see above)")]
    Incomplete(usize),
}

pub async fn run(cmd: CloudsCommand, cfg: &Config) -> Result<(), CliError> {
    match cmd {
        CloudsCommand::Import {
            file,
            cloud,
            dry_run,
            discover,
        } => {
            let config = read_config(file)?;
            let catalog = open_catalog(cfg, secret_box(cfg)?).await?;
            let session = sync_settings(cfg).session.impatient();
            let opts = Options {
                dry_run,
                discover,
                session,
            };
            import_all(&catalog, &config, &cloud, &opts).await
        }
        CloudsCommand::Check { cloud } => {
            let catalog = open_catalog(cfg, secret_box(cfg)?).await?;
            check::run(&catalog, &sync_settings(cfg).session, &cloud).await
        }
    }
}

/// clouds.yaml (the one given, or the first found) with its secure.yaml merged in.
fn read_config(file: Option<PathBuf>) -> Result<yaml::CloudsConfig, ImportError> {
    let env = files::SearchEnv::from_env();
    let clouds_file = match &file {
        Some(f) => f.clone(),
        None => {
            let candidates = env.clouds_candidates();
            files::first_file(&candidates).ok_or_else(|| ImportError::NotFound {
                looked: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?
        }
    };
    let secure_file = files::first_file(&env.secure_candidates(file.as_deref()));
    yaml::load(clouds_file, secure_file)
}

/// Tallies for the closing line.
#[derive(Default)]
struct Tally {
    created: usize,
    updated: usize,
    unchanged: usize,
    skipped: usize,
    failed: usize,
    tenants: usize,
}

async fn import_all(
    catalog: &Catalog,
    config: &yaml::CloudsConfig,
    only: &[String],
    opts: &Options,
) -> Result<(), CliError> {
    let selected = config.select(only)?;
    match &config.secure_file {
        Some(s) => println!(
            "Reading {} (secrets merged from {}).",
            config.clouds_file.display(),
            s.display()
        ),
        None => println!("Reading {}.", config.clouds_file.display()),
    }
    if opts.dry_run {
        println!("Dry run: nothing is written.");
    }
    let mut tally = Tally::default();
    // Two entries of one name (a cloud `a-b`, and cloud `a`'s region `b`) would both write
    // the same catalog cloud: the later one is refused.
    let mut seen = std::collections::HashMap::new();
    for parsed in entry::parse_all(selected, &entry::context_from_env()) {
        if let Parsed::Entry(e) = &parsed
            && let Some(first) = seen.insert(e.name.clone(), e.source.clone())
        {
            tally.failed += 1;
            println!(
                "error      {}: cloud {:?} gives the name {:?} that cloud {first:?} gave already",
                e.name, e.source, e.name
            );
            continue;
        }
        match parsed {
            Parsed::Skipped { cloud, reason } => {
                tally.skipped += 1;
                println!("skip       {cloud}: {reason}");
            }
            Parsed::Invalid { cloud, reason } => {
                tally.failed += 1;
                println!("error      {cloud}: {reason}");
            }
            Parsed::Entry(entry) => import_one(catalog, *entry, opts, &mut tally).await?,
        }
    }
    let verb = if opts.dry_run { "would be " } else { "" };
    println!(
        "{} {verb}created, {} {verb}updated, {} unchanged, {} skipped, {} failed; {} tenant(s) {verb}registered.{}",
        tally.created,
        tally.updated,
        tally.unchanged,
        tally.skipped,
        tally.failed,
        tally.tenants,
        if opts.dry_run {
            " Dry run: nothing was written."
        } else {
            ""
        }
    );
    if tally.failed > 0 {
        return Err(ImportError::Incomplete(tally.failed).into());
    }
    Ok(())
}

async fn import_one(
    catalog: &Catalog,
    entry: Entry,
    opts: &Options,
    tally: &mut Tally,
) -> Result<(), CliError> {
    let name = entry.name.clone();
    let planned = match import::plan(catalog, entry, opts).await {
        Ok(p) => p,
        Err(import::PlanError::Catalog(e)) => return Err(e.into()),
        Err(e @ import::PlanError::Ambiguous { .. }) => {
            tally.failed += 1;
            println!("error      {name}: {e}");
            return Ok(());
        }
    };
    print_plan(&planned, opts);
    match &planned.cloud {
        CloudAction::Create => tally.created += 1,
        CloudAction::Update(_) => tally.updated += 1,
        CloudAction::Unchanged => tally.unchanged += 1,
    }
    if opts.dry_run {
        if matches!(
            planned.tenant,
            TenantAction::Register { .. } | TenantAction::LookUp { .. }
        ) {
            tally.tenants += 1;
        }
        return Ok(());
    }
    let applied = import::apply(catalog, &planned, opts).await?;
    print_applied(&applied);
    if applied.tenant_registered.is_some() {
        tally.tenants += 1;
    }
    if applied.problem.is_some() {
        tally.failed += 1;
    }
    Ok(())
}

const INDENT: &str = "           ";

fn print_plan(p: &Planned, opts: &Options) {
    let e = &p.entry;
    let origin = if e.region.is_empty() || e.name == e.source {
        String::new()
    } else {
        format!(" (cloud {:?}, region {:?})", e.source, e.region)
    };
    match &p.cloud {
        CloudAction::Create => {
            println!("create     {}{origin}", e.name);
            println!(
                "{INDENT}auth_url {}, region {}, interface {}, domain {}",
                e.auth_url,
                if e.region.is_empty() {
                    "(any)"
                } else {
                    &e.region
                },
                e.interface.as_str(),
                e.domain
            );
            println!("{INDENT}{}", describe_login(&e.login));
            if opts.discover {
                println!("{INDENT}discover_tenants: true");
            }
        }
        CloudAction::Update(changes) => {
            let shown: Vec<String> = changes
                .iter()
                .map(|c| match &c.values {
                    Some((old, new)) => format!("{} ({old} -> {new})", c.field),
                    None => format!("{} changed", c.field),
                })
                .collect();
            println!("update     {}{origin}: {}", e.name, shown.join(", "));
        }
        CloudAction::Unchanged => println!("unchanged  {}{origin}", e.name),
    }
    println!(
        "{INDENT}tenant: {}",
        describe_tenant(&p.tenant, opts.dry_run)
    );
    if e.tls.is_custom() {
        println!("{INDENT}tls: {}", describe_tls(&e.tls));
    }
    for note in &e.notes {
        println!("{INDENT}note: {note}");
    }
}

fn describe_login(login: &Login) -> String {
    match login {
        Login::Password {
            username, project, ..
        } => {
            let project = match project {
                None => "no project".to_string(),
                Some(p) => match (&p.id, &p.name) {
                    (Some(id), Some(name)) => format!("project {name:?} (id {id})"),
                    (Some(id), None) => format!("project id {id}"),
                    (None, Some(name)) => format!("project {name:?} in domain {}", p.domain),
                    (None, None) => "no project".to_string(),
                },
            };
            format!("password login: user {username:?}, password ****, {project}")
        }
        Login::AppCredential { id, name, user, .. } => {
            let which = match (id, name, user) {
                (Some(id), _, _) => format!("id {id}"),
                (None, Some(name), Some(user)) => format!("{name:?} of user {user:?}"),
                _ => String::new(),
            };
            format!("application credential {which}, secret ****")
        }
    }
}

fn describe_tenant(t: &TenantAction, dry_run: bool) -> String {
    let will = if dry_run {
        "would register"
    } else {
        "register"
    };
    match t {
        TenantAction::NoProject => {
            "none (the entry names no project; register tenants through the API, or import with --discover)".into()
        }
        TenantAction::Discover => "discovered from Keystone's projects at each sweep".into(),
        TenantAction::Exists { name } => format!("{name:?} is registered"),
        TenantAction::Register { backend_id, name } => {
            format!("{will} {name:?} (project {backend_id})")
        }
        TenantAction::LookUp { hint } => format!(
            "{will} {hint} (its id is looked up by logging in{})",
            if dry_run { " at import" } else { "" }
        ),
    }
}

fn describe_tls(tls: &Tls) -> String {
    let mut parts = Vec::new();
    if let Some(ca) = &tls.cacert {
        let n = ca.pem.matches("-----BEGIN CERTIFICATE-----").count();
        parts.push(format!("cacert {} ({n} certificate(s))", ca.path.display()));
    }
    if let Some(cert) = &tls.client_cert {
        parts.push(format!("client certificate {}", cert.path.display()));
    }
    if let Some(key) = &tls.client_key {
        parts.push(format!("client key {}", key.path.display()));
    }
    parts.push(format!("verify {}", if tls.verify { "on" } else { "off" }));
    parts.join(", ")
}

fn print_applied(a: &Applied) {
    if let Some(t) = &a.tenant_registered {
        println!("{INDENT}registered tenant {t}");
    }
    if let Some(t) = &a.tenant_found {
        println!("{INDENT}tenant {t:?} was already registered");
    }
    if let Some(problem) = &a.problem {
        println!("{INDENT}error: {problem}");
    }
}
