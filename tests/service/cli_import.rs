//! `cloudcensus clouds import` as a subprocess, on real-looking clouds.yaml and secure.yaml
//! files, against the database of a running server whose API then shows what was imported.
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::cli::cloudcensus;
use crate::common::sim::{SimApp, generated_world};
use crate::common::tls::TestCa;
use crate::common::{SECRET_KEY, ServiceSettings, Tenant, TestApp};

const CLOUDS_YAML: &str = r#"# As `openstack` users keep it: secrets in secure.yaml.
clouds:
  prod:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      username: census
      project_id: 0c5d1a2b3e4f4a5b8c9d0e1f2a3b4c5d
      project_name: operations
      user_domain_name: Default
      project_domain_name: Default
    regions:
      - RegionOne
      - RegionTwo
    interface: internal
    identity_api_version: 3
  lab:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://lab.example.org:5000/v3
      application_credential_id: 6f1c2d3e4f5a4b6c8d7e9f0a1b2c3d4e
      project_id: 9a8b7c6d5e4f4a3b2c1d0e9f8a7b6c5d
      project_name: lab-team
    region_name: LabOne
    cacert: lab-ca.pem
    image_api_version: 2
  legacy:
    auth_type: token
    auth:
      auth_url: https://old.example.org:5000/v3
      token: 0123456789abcdef
"#;

const SECURE_YAML: &str = r#"clouds:
  prod:
    auth:
      password: pr0d-s3cret-pw
  lab:
    auth:
      application_credential_secret: l4b-s3cret-app
"#;

/// A directory with clouds.yaml, secure.yaml and the lab's CA file (a CA made now).
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "clouds.yaml", CLOUDS_YAML);
    write(dir.path(), "secure.yaml", SECURE_YAML);
    write(dir.path(), "lab-ca.pem", &TestCa::new("lab CA").pem);
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// `cloudcensus clouds import ARGS…` run from `dir` (where clouds.yaml is found).
fn import(db_url: &str, dir: &Path, args: &[&str]) -> Output {
    cloudcensus(db_url)
        .env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .current_dir(dir)
        .args(["clouds", "import"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", both(out));
}

/// No secret of the files ever reaches the output.
#[track_caller]
fn assert_no_secrets(out: &Output) {
    let text = both(out);
    for secret in [
        "pr0d-s3cret-pw",
        "l4b-s3cret-app",
        "0123456789abcdef",
        "n3w-pw",
    ] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
}

async fn clouds(app: &TestApp) -> Vec<ServiceSettings> {
    let r = app.get("/api/service-settings/?page_size=100").await;
    r.items()
}

async fn tenants(app: &TestApp) -> Vec<Tenant> {
    app.get("/api/openstack-tenants/?page_size=100")
        .await
        .items()
}

fn named<'a>(clouds: &'a [ServiceSettings], name: &str) -> &'a ServiceSettings {
    clouds
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no cloud {name}"))
}

fn option<'a>(cloud: &'a ServiceSettings, key: &str) -> &'a Value {
    &cloud.options[key]
}

/// clouds.yaml found in the working directory, secure.yaml merged: one cloud per region,
/// the application-credential cloud, the token cloud skipped with a note; each project a
/// tenant; the unknown key and the CA file noted; no secret printed.
#[tokio::test]
async fn import_registers_every_region_and_project_and_skips_other_auth_types() {
    let app = TestApp::new().await;
    let dir = config_dir();
    let out = import(app.database_url(), dir.path(), &[]);
    assert_ok(&out);
    assert_no_secrets(&out);
    let text = stdout(&out);
    assert!(text.contains("secure.yaml"), "{text}");
    assert!(text.contains("create     prod-RegionOne"), "{text}");
    assert!(text.contains("create     prod-RegionTwo"), "{text}");
    assert!(text.contains("create     lab"), "{text}");
    assert!(
        text.contains("skip       legacy") && text.contains("auth_type \"token\""),
        "{text}"
    );
    assert!(
        text.contains("\"image_api_version\"") && text.contains("cloud \"lab\""),
        "{text}"
    );
    assert!(text.contains("lab-ca.pem (1 certificate(s))"), "{text}");
    assert!(text.contains("password ****"), "{text}");
    assert!(
        text.contains(
            "3 created, 0 updated, 0 unchanged, 1 skipped, 0 failed; 3 tenant(s) registered."
        ),
        "{text}"
    );

    let clouds = clouds(&app).await;
    let names: Vec<&str> = clouds.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["lab", "prod-RegionOne", "prod-RegionTwo"]);
    let one = named(&clouds, "prod-RegionOne");
    assert_eq!(
        option(one, "auth_url"),
        "https://keystone.example.org:5000/v3"
    );
    assert_eq!(option(one, "region"), "RegionOne");
    assert_eq!(option(one, "interface"), "internal");
    assert_eq!(option(one, "domain"), "Default");
    assert_eq!(option(one, "discover_tenants"), false);
    assert_eq!(
        option(named(&clouds, "prod-RegionTwo"), "region"),
        "RegionTwo"
    );
    assert_eq!(option(named(&clouds, "lab"), "region"), "LabOne");
    assert_eq!(option(named(&clouds, "lab"), "interface"), "public");
    // The CA file's text is stored with the cloud; the others trust the system's roots.
    let ca = std::fs::read_to_string(dir.path().join("lab-ca.pem")).unwrap();
    assert_eq!(option(named(&clouds, "lab"), "cacert"), ca.as_str());
    assert_eq!(option(named(&clouds, "lab"), "verify"), true);
    assert_eq!(option(one, "cacert"), &Value::Null);

    let tenants = tenants(&app).await;
    assert_eq!(tenants.len(), 3);
    let of = |cloud: &str| {
        let uuid = &named(&clouds, cloud).uuid;
        tenants
            .iter()
            .filter(|t| &t.service_settings_uuid == uuid)
            .map(|t| (t.name.as_str(), t.backend_id.as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("prod-RegionOne"),
        [("operations", "0c5d1a2b3e4f4a5b8c9d0e1f2a3b4c5d")]
    );
    assert_eq!(
        of("prod-RegionTwo"),
        [("operations", "0c5d1a2b3e4f4a5b8c9d0e1f2a3b4c5d")]
    );
    assert_eq!(
        of("lab"),
        [("lab-team", "9a8b7c6d5e4f4a3b2c1d0e9f8a7b6c5d")]
    );
    app.stop().await;
}

/// A second import of the same files changes nothing; a changed file updates the clouds it
/// names (the fields that changed, a new password as "credentials changed"), and no cloud
/// or tenant is ever duplicated.
#[tokio::test]
async fn reimport_is_unchanged_then_updates_what_the_file_changed() {
    let app = TestApp::new().await;
    let dir = config_dir();
    assert_ok(&import(app.database_url(), dir.path(), &[]));
    let before = clouds(&app).await;

    let again = import(app.database_url(), dir.path(), &[]);
    assert_ok(&again);
    let text = stdout(&again);
    assert!(text.contains("unchanged  prod-RegionOne"), "{text}");
    assert!(text.contains("unchanged  lab"), "{text}");
    assert!(text.contains("\"operations\" is registered"), "{text}");
    assert!(
        text.contains(
            "0 created, 0 updated, 3 unchanged, 1 skipped, 0 failed; 0 tenant(s) registered."
        ),
        "{text}"
    );
    assert_eq!(clouds(&app).await, before, "nothing was written");
    assert_eq!(tenants(&app).await.len(), 3);

    write(
        dir.path(),
        "clouds.yaml",
        &CLOUDS_YAML.replace("interface: internal", "interface: public"),
    );
    write(
        dir.path(),
        "secure.yaml",
        &SECURE_YAML.replace("pr0d-s3cret-pw", "n3w-pw"),
    );
    let changed = import(app.database_url(), dir.path(), &[]);
    assert_ok(&changed);
    assert_no_secrets(&changed);
    let text = stdout(&changed);
    assert!(
        text.contains(
            "update     prod-RegionOne (cloud \"prod\", region \"RegionOne\"): interface (internal -> public), credentials changed"
        ),
        "{text}"
    );
    assert!(text.contains("unchanged  lab"), "{text}");
    assert!(text.contains("0 created, 2 updated, 1 unchanged"), "{text}");
    let after = clouds(&app).await;
    assert_eq!(after.len(), 3);
    let one = named(&after, "prod-RegionOne");
    assert_eq!(option(one, "interface"), "public");
    assert_eq!(
        one.uuid,
        named(&before, "prod-RegionOne").uuid,
        "updated in place"
    );
    assert_eq!(tenants(&app).await.len(), 3);

    let settled = import(app.database_url(), dir.path(), &[]);
    assert!(
        stdout(&settled).contains("0 created, 0 updated, 3 unchanged"),
        "the new password is stored: {}",
        stdout(&settled)
    );
    app.stop().await;
}

/// `--dry-run` tells what would change and writes nothing, on an empty catalog and on one
/// that an import filled.
#[tokio::test]
async fn dry_run_prints_the_changes_and_writes_nothing() {
    let app = TestApp::new().await;
    let dir = config_dir();
    let dry = import(app.database_url(), dir.path(), &["--dry-run"]);
    assert_ok(&dry);
    assert_no_secrets(&dry);
    let text = stdout(&dry);
    assert!(text.contains("create     prod-RegionOne"), "{text}");
    assert!(text.contains("would register \"operations\""), "{text}");
    assert!(text.contains("Dry run: nothing was written."), "{text}");
    assert!(clouds(&app).await.is_empty());
    assert!(tenants(&app).await.is_empty());

    assert_ok(&import(app.database_url(), dir.path(), &[]));
    let before = clouds(&app).await;
    write(
        dir.path(),
        "clouds.yaml",
        &CLOUDS_YAML.replace(
            "https://lab.example.org:5000/v3",
            "https://lab2.example.org/v3",
        ),
    );
    let dry = import(app.database_url(), dir.path(), &["--dry-run"]);
    assert_ok(&dry);
    let text = stdout(&dry);
    assert!(
        text.contains(
            "update     lab: auth_url (https://lab.example.org:5000/v3 -> https://lab2.example.org/v3)"
        ),
        "{text}"
    );
    assert!(text.contains("1 would be updated"), "{text}");
    assert_eq!(clouds(&app).await, before);
    app.stop().await;
}

/// `--cloud` imports only the clouds named; a name the file lacks is an error that lists
/// those it has, and nothing is imported.
#[tokio::test]
async fn cloud_filter_imports_only_the_named_clouds() {
    let app = TestApp::new().await;
    let dir = config_dir();
    let file = dir.path().join("clouds.yaml");
    let lab = import(
        app.database_url(),
        dir.path(),
        &[file.to_str().unwrap(), "--cloud", "lab"],
    );
    assert_ok(&lab);
    let names: Vec<String> = clouds(&app).await.into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["lab"]);

    let unknown = import(
        app.database_url(),
        dir.path(),
        &["--cloud", "prod", "--cloud", "staging"],
    );
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no cloud named \"staging\"") && err.contains("lab, legacy, prod"),
        "{err}"
    );
    assert_eq!(clouds(&app).await.len(), 1, "nothing more was imported");
    app.stop().await;
}

/// A cloud without its password is an error naming the cloud (the others are imported and
/// the command fails); a file that is not YAML is named with its line; `--discover` sets
/// discovery instead of registering the project.
#[tokio::test]
async fn errors_name_the_cloud_or_the_file_and_line() {
    let app = TestApp::new().await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "clouds.yaml",
        "clouds:\n  good:\n    auth:\n      auth_url: https://k.example.org/v3\n      username: u\n      password: pw\n      project_id: p1\n  broken:\n    auth:\n      auth_url: https://k.example.org/v3\n      username: u\n      project_name: demo\n",
    );
    let out = import(app.database_url(), dir.path(), &["--discover"]);
    assert!(!out.status.success());
    let text = both(&out);
    assert!(
        text.contains("error      broken: cloud \"broken\": no password"),
        "{text}"
    );
    assert!(text.contains("1 cloud(s) could not be imported"), "{text}");
    let imported = clouds(&app).await;
    assert_eq!(imported.len(), 1);
    assert_eq!(option(&imported[0], "discover_tenants"), true);
    assert!(
        tenants(&app).await.is_empty(),
        "--discover registers no tenant"
    );

    // A project known only by name whose Keystone cannot be reached: the cloud is
    // registered, the tenant is not, and the command says why and fails.
    write(
        dir.path(),
        "clouds.yaml",
        "clouds:\n  away:\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n      username: u\n      password: pw\n      project_name: demo\n",
    );
    let out = import(app.database_url(), dir.path(), &[]);
    assert!(!out.status.success());
    let text = both(&out);
    assert!(
        text.contains("create     away")
            && text.contains("error: no tenant registered: logging in to learn the project failed"),
        "{text}"
    );
    assert_eq!(clouds(&app).await.len(), 2);
    assert!(tenants(&app).await.is_empty());

    // A cloud named like another's region: the later entry is refused, not merged.
    write(
        dir.path(),
        "clouds.yaml",
        "clouds:\n  a:\n    auth: {auth_url: https://k.example.org/v3, username: u, password: p}\n    regions: [b, c]\n  a-b:\n    auth: {auth_url: https://other.example.org/v3, username: u, password: p}\n",
    );
    let out = import(app.database_url(), dir.path(), &["--dry-run"]);
    assert!(!out.status.success());
    let text = both(&out);
    assert!(
        text.contains(
            "error      a-b: cloud \"a-b\" gives the name \"a-b\" that cloud \"a\" gave already"
        ),
        "{text}"
    );

    let bad = tempfile::tempdir().unwrap();
    write(
        bad.path(),
        "clouds.yaml",
        "clouds:\n  a:\n    auth:\n      auth_url: https://k/v3\n    regions: [east, west\n  b: {}\n",
    );
    let out = import(app.database_url(), bad.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let file = bad.path().join("clouds.yaml");
    assert!(
        err.contains(&format!("{}:6:", file.display())) && err.contains("not valid YAML"),
        "{err}"
    );

    write(bad.path(), "clouds.yaml", CLOUDS_YAML);
    write(
        bad.path(),
        "secure.yaml",
        "clouds:\n  prod:\n    auth:\n      password: \"hunter2-s3cret\n",
    );
    let out = import(app.database_url(), bad.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secure.yaml:"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the file's text is not quoted: {err}"
    );
    app.stop().await;
}

/// Imported clouds sync: a project named only by name and an application credential without
/// a project are looked up by logging in to the simulator's Keystone, registered as
/// tenants, and a sweep lists exactly what their users see in Glance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_clouds_sync_against_the_simulator() {
    let mut world = generated_world(2, 12, 2, 41);
    let p1 = world.projects[1].clone();
    let user1 = world
        .users
        .iter()
        .find(|u| u.name == "user-1")
        .unwrap()
        .clone();
    world.app_credentials.push(cloudcensus_sim::AppCredential {
        id: "ac-census".into(),
        name: "census".into(),
        secret: "ac-s3cret".into(),
        user_id: user1.id.clone(),
        project_id: p1.id.clone(),
    });
    let s = SimApp::world(world).unregistered().start().await;
    let p0 = s.sim.with_world(|w| w.projects[0].clone());
    let dir = tempfile::tempdir().unwrap();
    let url = s.sim.auth_url();
    write(
        dir.path(),
        "clouds.yaml",
        &format!(
            "clouds:\n  sim:\n    auth:\n      auth_url: {url}\n      username: user-0\n      project_name: {}\n      user_domain_name: Default\n      project_domain_name: Default\n  sim-app:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: {url}\n      application_credential_name: census\n      username: user-1\n",
            p0.name
        ),
    );
    write(
        dir.path(),
        "secure.yaml",
        "clouds:\n  sim:\n    auth:\n      password: password-0\n  sim-app:\n    auth:\n      application_credential_secret: ac-s3cret\n",
    );
    let out = import(s.app.database_url(), dir.path(), &[]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        !text.contains("password-0") && !text.contains("ac-s3cret"),
        "{text}"
    );
    assert!(text.contains("2 tenant(s) registered"), "{text}");

    let tenants = tenants(&s.app).await;
    let mut got: Vec<(&str, &str)> = tenants
        .iter()
        .map(|t| (t.name.as_str(), t.backend_id.as_str()))
        .collect();
    got.sort();
    let mut want = vec![
        (p0.name.as_str(), p0.id.as_str()),
        (p1.name.as_str(), p1.id.as_str()),
    ];
    want.sort();
    assert_eq!(got, want);

    for o in s.sweep().await {
        assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
    }
    let by_project = |id: &str| tenants.iter().find(|t| t.backend_id == id).unwrap();
    let want0 = crate::common::sim::glance_ids(&s.sim, "user-0", "password-0", &p0.id).await;
    assert!(!want0.is_empty());
    crate::common::assert_same_ids(
        &s.app.catalog_ids(by_project(&p0.id)).await,
        &want0,
        "password cloud",
    );
    let want1 = crate::common::sim::glance_ids(&s.sim, "user-1", &user1.password, &p1.id).await;
    crate::common::assert_same_ids(
        &s.app.catalog_ids(by_project(&p1.id)).await,
        &want1,
        "application credential cloud",
    );

    // The looked-up id was kept: a re-import changes nothing and logs in nowhere.
    let again = import(s.app.database_url(), dir.path(), &[]);
    assert_ok(&again);
    assert!(
        stdout(&again).contains("0 created, 0 updated, 2 unchanged"),
        "{}",
        stdout(&again)
    );
    s.stop().await;
}

/// TLS files are read at import and stored with the cloud: the CA bundle and the client
/// certificate shown, its key (here in the certificate's own file, as requests takes it)
/// sealed and never printed; `insecure` turns verification off; a re-import compares them,
/// a new key shows as "key changed"; a file that is no certificate is refused by name.
#[tokio::test]
async fn tls_files_are_stored_with_the_cloud_and_compared_on_reimport() {
    let app = TestApp::new().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("site CA");
    let client = ca.client("census");
    write(dir.path(), "ca.pem", &ca.pem);
    write(
        dir.path(),
        "client.pem",
        &format!("{}{}", client.cert, client.key),
    );
    let yaml = "clouds:\n  site:\n    auth: {auth_url: https://k.example.org/v3, username: u, password: pw}\n    cacert: ca.pem\n    cert: client.pem\n    insecure: true\n";
    write(dir.path(), "clouds.yaml", yaml);
    let out = import(app.database_url(), dir.path(), &[]);
    assert_ok(&out);
    let text = both(&out);
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(text.contains("verify off"), "{text}");
    let site = clouds(&app).await.remove(0);
    assert_eq!(option(&site, "cacert"), ca.pem.as_str());
    assert_eq!(option(&site, "cert"), client.cert.as_str());
    assert_eq!(option(&site, "verify"), false);
    assert!(site.warnings[0].contains("TLS verification is off"));
    let (_, key) = app.stored_tls_key(&site.uuid).await.expect("a key");
    assert_eq!(key.trim(), client.key.trim());

    let again = import(app.database_url(), dir.path(), &[]);
    assert!(
        stdout(&again).contains("unchanged  site"),
        "{}",
        stdout(&again)
    );

    let rotated = ca.client("census");
    write(
        dir.path(),
        "client.pem",
        &format!("{}{}", rotated.cert, rotated.key),
    );
    let out = import(app.database_url(), dir.path(), &[]);
    assert_ok(&out);
    let text = both(&out);
    assert!(
        text.contains("update     site: cert (1 certificate(s) -> 1 certificate(s)), key changed"),
        "{text}"
    );
    assert!(!text.contains("PRIVATE KEY"), "{text}");

    write(
        dir.path(),
        "ca.pem",
        "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
    );
    let out = import(app.database_url(), dir.path(), &[]);
    assert!(!out.status.success());
    let text = both(&out);
    assert!(
        text.contains("error      site: cloud \"site\": its cacert") && text.contains("ca.pem"),
        "{text}"
    );
    app.stop().await;
}
