//! The command line and the committed OpenAPI document.
mod common;

use std::process::Command;

use common::*;
use reqwest::StatusCode;

fn cloudcensus(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudcensus"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir());
    cmd
}

#[test]
fn committed_openapi_matches_the_generated_one() {
    let generated = cloudcensus::cli::spec();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    assert!(
        generated.trim() == committed.trim(),
        "openapi/openapi.json is stale: regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn the_spec_declares_waldur_operation_ids_and_the_token_scheme() {
    let spec: serde_json::Value = serde_json::from_str(&cloudcensus::cli::spec()).unwrap();
    let mut ids = Vec::new();
    for (_, ops) in spec["paths"].as_object().unwrap() {
        for (_, op) in ops.as_object().unwrap() {
            ids.push(op["operationId"].as_str().unwrap().to_string());
        }
    }
    for id in [
        "openstack_images_list",
        "openstack_images_count",
        "openstack_images_retrieve",
        "openstack_images_usage_stats_retrieve",
        "openstack_images_usage_stats_count",
        "service_settings_list",
        "service_settings_create",
        "service_settings_partial_update",
        "openstack_tenants_list",
        "openstack_tenants_pull",
    ] {
        assert!(ids.iter().any(|i| i == id), "missing {id}");
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["Token"]["type"],
        "apiKey"
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["Token"]["name"],
        "Authorization"
    );
    let list = &spec["paths"]["/api/openstack-images"]["get"];
    for status in ["200", "400", "401", "403", "404"] {
        assert!(list["responses"][status].is_object(), "list lacks {status}");
    }
    assert!(
        list["responses"]["200"]["headers"]["X-RESULT-COUNT"].is_object()
            || list["responses"]["200"]["headers"]["X-Result-Count"].is_object()
    );
    let usage = &spec["paths"]["/api/openstack-images/usage_stats"]["get"]["responses"]["200"];
    assert_eq!(
        usage["content"]["application/json; charset=utf-8"]["schema"]["type"],
        "array"
    );
}

#[tokio::test]
async fn token_commands_create_list_and_revoke() {
    let db = TestDb::new().await;
    let migrate = cloudcensus(&db.url).arg("migrate").output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let out = cloudcensus(&db.url)
        .args(["token", "create", "--name", "ops", "--staff"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let secret = stdout.lines().last().unwrap().to_string();
    assert_eq!(secret.len(), 40);
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));

    // The printed secret works against a server on the same database.
    cloudcensus::install_crypto_provider();
    let catalog = cloudcensus::catalog::Catalog::open(
        &db.url,
        cloudcensus::crypto::SecretBox::ephemeral(),
        true,
    )
    .await
    .unwrap();
    let bound = cloudcensus::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", bound.addr);
    let engine = cloudcensus::sync::SyncEngine::new(
        catalog.clone(),
        cloudcensus::sync::SyncSettings::new("0 0 0 1 1 *", 1),
    );
    let state = std::sync::Arc::new(cloudcensus::api::AppState {
        catalog: catalog.clone(),
        public_url: base.clone(),
        sync: engine,
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cloudcensus::server::run(bound, state, async {
        let _ = rx.await;
    }));
    let r = reqwest::Client::new()
        .get(format!("{base}/api/openstack-images/"))
        .header("Authorization", format!("Token {secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let list = cloudcensus(&db.url)
        .args(["token", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(listed.contains("ops") && listed.contains("staff"));
    assert!(!listed.contains(&secret), "list never shows secrets");

    // A scoped token needs existing tenants; a token needs a scope at all.
    let bad = cloudcensus(&db.url)
        .args([
            "token",
            "create",
            "--name",
            "x",
            "--tenant",
            &uuid::Uuid::new_v4().simple().to_string(),
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("does not exist"));
    let no_scope = cloudcensus(&db.url)
        .args(["token", "create", "--name", "x"])
        .output()
        .unwrap();
    assert!(!no_scope.status.success());

    let revoke = cloudcensus(&db.url)
        .args(["token", "revoke", "ops"])
        .output()
        .unwrap();
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    let r = reqwest::Client::new()
        .get(format!("{base}/api/openstack-images/"))
        .header("Authorization", format!("Token {secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let missing = cloudcensus(&db.url)
        .args(["token", "revoke", "ops"])
        .output()
        .unwrap();
    assert!(!missing.status.success());

    let _ = tx.send(());
    let _ = server.await;
    catalog.close().await.ok();
}

#[tokio::test]
async fn serve_without_a_secret_key_is_a_clear_error() {
    let db = TestDb::new().await;
    let out = cloudcensus(&db.url)
        .env("CLOUDCENSUS_BIND", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CLOUDCENSUS_SECRET_KEY"), "{err}");
    let short = cloudcensus(&db.url)
        .env("CLOUDCENSUS_BIND", "127.0.0.1:0")
        .env("CLOUDCENSUS_SECRET_KEY", "short")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 16"));
    let bad_bind = cloudcensus(&db.url)
        .env("CLOUDCENSUS_BIND", "nowhere")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!bad_bind.status.success());
    assert!(String::from_utf8_lossy(&bad_bind.stderr).contains("CLOUDCENSUS_BIND"));
}

// Several threads: the simulator must answer while this thread waits for the subprocess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_command_syncs_in_the_foreground_and_prints_a_summary() {
    use cloudcensus_sim::{GenSpec, Simulator, World};
    let sim = Simulator::start(World::generate(&GenSpec {
        projects: 2,
        images_per_project: 30,
        servers_per_project: 3,
        seed: 21,
    }))
    .await
    .unwrap();
    let srv = TestServer::start().await;
    let (_cloud, tenants) = common::sim::register(&srv, &sim, "sim").await;
    let first = tenants[0]["uuid"].as_str().unwrap().to_string();

    let one = cloudcensus(&srv.test_db.url)
        .env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .args(["sync", "--tenant", &first])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&one.stdout);
    assert!(
        one.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert!(stdout.contains("1 tenant(s) synced, 0 failed"), "{stdout}");
    assert_eq!(
        common::sim::tenant_json(&srv, &tenants[0]).await["state"],
        "OK"
    );
    assert!(common::sim::tenant_json(&srv, &tenants[1]).await["last_sync_at"].is_null());

    // A tenant that fails makes the command fail, after syncing the others.
    sim.with_world(|w| w.projects[1].enabled = false);
    let all = cloudcensus(&srv.test_db.url)
        .env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .arg("sync")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&all.stdout);
    assert!(!all.status.success());
    assert!(stdout.contains("1 tenant(s) synced, 1 failed"), "{stdout}");
    assert!(stdout.contains("ERRED"), "{stdout}");
    assert!(
        !stdout.contains("admin-password")
            && !String::from_utf8_lossy(&all.stderr).contains("admin-password")
    );
    let bad = cloudcensus(&srv.test_db.url)
        .env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .args(["sync", "--tenant", "not-a-uuid"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn demo_serves_a_populated_catalog() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::new().await;
    let mut child = cloudcensus(&db.url)
        .env("CLOUDCENSUS_BIND", "127.0.0.1:0")
        .arg("demo")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut token) = (None, None);
    while url.is_none() || token.is_none() {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the demo prints its URL and token");
        if let Some(rest) = line.strip_prefix("cloudcensus demo is serving at ") {
            url = rest.split_whitespace().next().map(String::from);
        }
        if let Some(rest) = line.strip_prefix("Staff token (valid 1 day): ") {
            token = Some(rest.trim().to_string());
        }
    }
    let (url, token) = (url.unwrap(), token.unwrap());
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{url}{path}"))
            .header("Authorization", format!("Token {token}"))
            .send()
    };
    let images = get("/api/openstack-images/?show_duplicate_names=true")
        .await
        .unwrap();
    assert_eq!(images.status(), StatusCode::OK);
    let count: u64 = images.headers()["x-result-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(count > 200, "{count} images");
    let rescue = get("/api/openstack-images/?is_rescue_image=true")
        .await
        .unwrap();
    assert!(rescue.headers()["x-result-count"].to_str().unwrap() != "0");
    let tenants: serde_json::Value = get("/api/openstack-tenants/?page_size=50")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenants = tenants.as_array().unwrap();
    assert_eq!(tenants.len(), 10);
    assert!(tenants.iter().all(|t| t["state"] == "OK"));
    let stats: serde_json::Value = get("/api/openstack-images/usage_stats/?page_size=300")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        stats
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["running_instances_count"].as_i64() > Some(0))
    );
    child.kill().ok();
    child.wait().ok();
}
