//! Conformance against the real OpenStack: Keystone 30 and Glance 33 from PyPI, started on
//! loopback by `tests/conformance/stack.sh` (its venv is cached under `target/`). The tests
//! are ignored by default; run them with
//!
//! ```text
//! cargo test --test conformance -- --ignored --test-threads=1
//! ```
//!
//! The first run installs the services (~45 s); later ones start them in ~10 s. One stack
//! serves every test of this binary: `stack.sh up` leaves a watchdog that stops it (and
//! removes its run directory under `target/conformance-runs/`, unless `CONFORMANCE_KEEP=1`)
//! once this process has exited. Each test makes its own projects, users and images, and
//! judges the catalog against what Glance itself lists for each tenant's user.
mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cloudcensus::openstack::retry::RetryPolicy;
use cloudcensus::sync::SyncSettings;
use cloudcensus::sync::engine::TenantOutcome;
use common::TestServer;
use common::sim::{assert_same_ids, catalog_ids, engine_with, sweep, tenant_json};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

// --- the stack ----------------------------------------------------------------------------

struct Stack {
    env: HashMap<String, String>,
}

impl Stack {
    fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the stack's env file"))
    }
}

static STACK: OnceLock<Stack> = OnceLock::new();

/// Starts Keystone and Glance once for this test binary.
fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let runs = root.join("target/conformance-runs");
        std::fs::create_dir_all(&runs).expect("create target/conformance-runs");
        let run_dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&runs)
            .expect("run directory")
            .keep();
        let keep = std::env::var("CONFORMANCE_KEEP").is_ok_and(|v| v == "1");
        let started = Instant::now();
        let status = Command::new("bash")
            .arg(root.join("tests/conformance/stack.sh"))
            .arg("up")
            .arg(&run_dir)
            .env("CONFORMANCE_OWNER_PID", std::process::id().to_string())
            .env("CONFORMANCE_REMOVE_ON_EXIT", if keep { "0" } else { "1" })
            .stdin(Stdio::null())
            .status()
            .expect("run tests/conformance/stack.sh");
        assert!(
            status.success(),
            "stack.sh up {} failed ({status}); its logs are in that directory",
            run_dir.display()
        );
        let text = std::fs::read_to_string(run_dir.join("env")).expect("RUN_DIR/env");
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        eprintln!(
            "conformance stack up in {:.1} s at {}",
            started.elapsed().as_secs_f64(),
            run_dir.display()
        );
        Stack { env }
    })
}

// --- talking to Keystone and Glance directly ------------------------------------------------

const JSON_PATCH: &str = "application/openstack-images-v2.1-json-patch";

#[derive(Clone)]
struct Cloud {
    http: reqwest::Client,
    keystone: String,
    glance: String,
    admin_password: String,
    admin_token: String,
    admin_user_id: String,
}

#[derive(Clone, Debug)]
struct Project {
    id: String,
    name: String,
}

#[derive(Clone, Debug)]
struct User {
    id: String,
    name: String,
    password: String,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Cloud {
    async fn connect(stack: &Stack) -> Self {
        cloudcensus::install_crypto_provider();
        let mut cloud = Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            keystone: stack.var("OS_AUTH_URL").trim_end_matches('/').to_string(),
            glance: stack.var("GLANCE_URL").trim_end_matches('/').to_string(),
            admin_password: stack.var("OS_ADMIN_PASSWORD").to_string(),
            admin_token: String::new(),
            admin_user_id: String::new(),
        };
        let (token, body) = cloud
            .login_scoped(
                "admin",
                stack.var("OS_ADMIN_PASSWORD"),
                json!({"name": stack.var("OS_ADMIN_PROJECT"), "domain": {"id": "default"}}),
            )
            .await
            .expect("admin logs in");
        cloud.admin_token = token;
        cloud.admin_user_id = body["token"]["user"]["id"].as_str().unwrap().to_string();
        cloud
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<(&str, Value)>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method.clone(), url)
            .header("Accept", "application/json");
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t);
        }
        if let Some((content_type, b)) = body {
            req = req
                .header("Content-Type", content_type)
                .body(serde_json::to_vec(&b).unwrap());
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// A password login scoped to `project` (a Keystone project reference); the token and body.
    async fn login_scoped(
        &self,
        user: &str,
        password: &str,
        project: Value,
    ) -> Result<(String, Value), String> {
        let a = self
            .send(
                Method::POST,
                &format!("{}/auth/tokens", self.keystone),
                None,
                Some((
                    "application/json",
                    json!({"auth": {
                        "identity": {"methods": ["password"], "password": {"user": {
                            "name": user, "domain": {"id": "default"}, "password": password}}},
                        "scope": {"project": project}
                    }}),
                )),
            )
            .await;
        if a.status != StatusCode::CREATED {
            return Err(format!("HTTP {}: {}", a.status, a.text));
        }
        let token = a.headers["X-Subject-Token"].to_str().unwrap().to_string();
        Ok((token, a.body))
    }

    async fn login(&self, user: &User, project: &Project) -> String {
        self.login_scoped(&user.name, &user.password, json!({"id": project.id}))
            .await
            .unwrap_or_else(|e| panic!("{} logs in to {}: {e}", user.name, project.name))
            .0
    }

    /// An admin call to Keystone that must succeed.
    async fn ks(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let a = self
            .send(
                method.clone(),
                &format!("{}{path}", self.keystone),
                Some(&self.admin_token),
                body.map(|b| ("application/json", b)),
            )
            .await;
        assert!(
            a.status.is_success(),
            "Keystone {method} {path}: HTTP {}: {}",
            a.status,
            a.text
        );
        a.body
    }

    async fn role_id(&self, name: &str) -> String {
        let roles = self
            .ks(Method::GET, &format!("/roles?name={name}"), None)
            .await;
        roles["roles"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("role {name} exists"))
            .to_string()
    }

    async fn create_project(&self, name: &str) -> Project {
        let p = self
            .ks(
                Method::POST,
                "/projects",
                Some(json!({"project": {"name": name, "domain_id": "default", "enabled": true}})),
            )
            .await;
        Project {
            id: p["project"]["id"].as_str().unwrap().to_string(),
            name: name.to_string(),
        }
    }

    async fn set_project_enabled(&self, project: &Project, enabled: bool) {
        self.ks(
            Method::PATCH,
            &format!("/projects/{}", project.id),
            Some(json!({"project": {"enabled": enabled}})),
        )
        .await;
    }

    async fn grant(&self, project: &Project, user_id: &str, role: &str) {
        let role_id = self.role_id(role).await;
        self.ks(
            Method::PUT,
            &format!("/projects/{}/users/{user_id}/roles/{role_id}", project.id),
            None,
        )
        .await;
    }

    /// A user with the `member` role on `project`.
    async fn create_member(&self, name: &str, project: &Project) -> User {
        let password = format!("pw-{name}-{}", uuid::Uuid::new_v4().simple());
        let u = self
            .ks(
                Method::POST,
                "/users",
                Some(
                    json!({"user": {"name": name, "domain_id": "default", "password": password,
                    "default_project_id": project.id, "enabled": true}}),
                ),
            )
            .await;
        let user = User {
            id: u["user"]["id"].as_str().unwrap().to_string(),
            name: name.to_string(),
            password,
        };
        self.grant(project, &user.id, "member").await;
        user
    }

    async fn set_password(&self, user: &User, password: &str) {
        self.ks(
            Method::PATCH,
            &format!("/users/{}", user.id),
            Some(json!({"user": {"password": password}})),
        )
        .await;
    }

    /// An application credential of `user` for the project its token is scoped to.
    async fn application_credential(&self, user: &User, token: &str) -> (String, String) {
        let a = self
            .send(
                Method::POST,
                &format!(
                    "{}/users/{}/application_credentials",
                    self.keystone, user.id
                ),
                Some(token),
                Some((
                    "application/json",
                    json!({"application_credential": {
                        "name": format!("cloudcensus-{}", user.name),
                        "description": "conformance test",
                        "roles": [{"name": "member"}]
                    }}),
                )),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        let c = &a.body["application_credential"];
        (
            c["id"].as_str().unwrap().to_string(),
            c["secret"].as_str().unwrap().to_string(),
        )
    }

    async fn glance_call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<(&str, Value)>,
    ) -> Answer {
        self.send(method, &format!("{}{path}", self.glance), Some(token), body)
            .await
    }

    /// Creates an image (no upload: it stays `queued`) and returns its id.
    async fn create_image(&self, token: &str, mut body: Value) -> String {
        body["disk_format"] = "raw".into();
        body["container_format"] = "bare".into();
        let a = self
            .glance_call(
                token,
                Method::POST,
                "/v2/images",
                Some(("application/json", body.clone())),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "create {body}: {}", a.text);
        a.body["id"].as_str().unwrap().to_string()
    }

    async fn patch_image(&self, token: &str, id: &str, ops: Value) {
        let a = self
            .glance_call(
                token,
                Method::PATCH,
                &format!("/v2/images/{id}"),
                Some((JSON_PATCH, ops.clone())),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "patch {id} {ops}: {}", a.text);
    }

    async fn delete_image(&self, token: &str, id: &str) {
        let a = self
            .glance_call(token, Method::DELETE, &format!("/v2/images/{id}"), None)
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "delete {id}: {}", a.text);
    }

    async fn add_member(&self, owner_token: &str, id: &str, project: &Project) {
        let a = self
            .glance_call(
                owner_token,
                Method::POST,
                &format!("/v2/images/{id}/members"),
                Some(("application/json", json!({"member": project.id}))),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "share {id}: {}", a.text);
    }

    async fn remove_member(&self, owner_token: &str, id: &str, project: &Project) {
        let a = self
            .glance_call(
                owner_token,
                Method::DELETE,
                &format!("/v2/images/{id}/members/{}", project.id),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "unshare {id}: {}", a.text);
    }

    async fn set_member_status(&self, member_token: &str, id: &str, project: &Project, s: &str) {
        let a = self
            .glance_call(
                member_token,
                Method::PUT,
                &format!("/v2/images/{id}/members/{}", project.id),
                Some(("application/json", json!({"status": s}))),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "member {s} {id}: {}", a.text);
    }

    /// What Glance lists for a token: visible and hidden images, every member status, all
    /// pages; images on their way out left aside.
    async fn glance_ids(&self, token: &str) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        for first in [
            "limit=200&visibility=all&member_status=all",
            "limit=200&visibility=all&member_status=all&os_hidden=true",
        ] {
            let mut query = first.to_string();
            for _ in 0..1000 {
                let a = self
                    .glance_call(token, Method::GET, &format!("/v2/images?{query}"), None)
                    .await;
                assert_eq!(a.status, StatusCode::OK, "list images: {}", a.text);
                for img in a.body["images"].as_array().expect("images array") {
                    if !matches!(img["status"].as_str(), Some("deleted" | "pending_delete")) {
                        ids.insert(img["id"].as_str().unwrap().to_string());
                    }
                }
                // `next` is root-relative ("/v2/images?…"): keep only its query.
                match a.body["next"].as_str() {
                    Some(next) => query = next.split_once('?').unwrap().1.to_string(),
                    None => break,
                }
            }
        }
        ids
    }

    async fn usage(&self, token: &str) -> Value {
        let a = self
            .glance_call(token, Method::GET, "/v2/info/usage", None)
            .await;
        assert_eq!(a.status, StatusCode::OK, "usage: {}", a.text);
        a.body["usage"].clone()
    }
}

// --- the catalog side ----------------------------------------------------------------------

/// Real Glance answers a limit=1000 page in about half a second, Keystone logins in tens of
/// milliseconds: the simulator's short timeouts would be too tight here.
fn conformance_settings() -> SyncSettings {
    let mut s = SyncSettings::new("0 0 0 1 1 *", 4);
    s.session.timeout = Duration::from_secs(30);
    s.session.connect_timeout = Duration::from_secs(5);
    s.session.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(5),
    };
    s
}

async fn register_cloud(srv: &TestServer, cloud: &Cloud, name: &str, region: &str) -> Value {
    let r = srv
        .post(
            "/api/service-settings/",
            json!({"name": name,
                   "options": {"auth_url": cloud.keystone, "region": region},
                   "username": "admin", "password": cloud.admin_password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()
}

/// A tenant; `credentials` are its own (user or application credential fields), or empty to
/// use the cloud's.
async fn register_tenant(
    srv: &TestServer,
    cloud: &Value,
    project: &Project,
    name: &str,
    credentials: Value,
) -> Value {
    let mut body =
        json!({"name": name, "backend_id": project.id, "service_settings": cloud["url"]});
    for (k, v) in credentials.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = srv.post("/api/openstack-tenants/", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()
}

fn uuid_str(v: &Value) -> &str {
    v["uuid"].as_str().unwrap()
}

/// Ids of every catalog image of a cloud (all pages).
async fn settings_ids(srv: &TestServer, cloud: &Value) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for page in 1.. {
        let r = srv
            .get(&format!(
                "/api/openstack-images/?settings_uuid={}&show_duplicate_names=true&page_size=300&page={page}",
                uuid_str(cloud)
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for item in r.json().as_array().unwrap() {
            ids.insert(item["backend_id"].as_str().unwrap().to_string());
        }
        if (page * 300) as u64 >= r.count() {
            break;
        }
    }
    ids
}

/// The catalog's API item for a Glance image of a cloud.
async fn catalog_item(srv: &TestServer, cloud: &Value, name: &str, backend_id: &str) -> Value {
    let r = srv
        .get(&format!(
            "/api/openstack-images/?settings_uuid={}&name_exact={name}&show_duplicate_names=true&page_size=300",
            uuid_str(cloud)
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["backend_id"] == backend_id)
        .cloned()
        .unwrap_or_else(|| panic!("{name} ({backend_id}) is in the catalog: {}", r.text))
}

async fn image_row(
    srv: &TestServer,
    cloud: &Value,
    backend_id: &str,
) -> Option<entity::images::Model> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let settings_id = common::db_id_of_settings(&srv.db, cloud).await;
    entity::images::Entity::find()
        .filter(entity::images::Column::BackendId.eq(backend_id))
        .filter(entity::images::Column::SettingsId.eq(settings_id))
        .one(&srv.db)
        .await
        .unwrap()
}

fn outcome<'a>(outcomes: &'a [TenantOutcome], tenant: &Value) -> &'a TenantOutcome {
    outcomes
        .iter()
        .find(|o| o.tenant_uuid == common::uuid_of(tenant))
        .unwrap_or_else(|| panic!("tenant {} was synced", tenant["name"]))
}

#[track_caller]
fn assert_all_ok(outcomes: &[TenantOutcome], expected: usize, step: &str) {
    assert_eq!(outcomes.len(), expected, "{step}: tenants synced");
    for o in outcomes {
        assert!(
            o.result.is_ok(),
            "{step}: {} failed: {:?}",
            o.tenant_name,
            o.result
        );
    }
}

/// Checks a tenant's catalog against Glance's own listing with `token`.
async fn assert_matches_glance(
    srv: &TestServer,
    cloud: &Cloud,
    tenant: &Value,
    token: &str,
    step: &str,
) -> BTreeSet<String> {
    let want = cloud.glance_ids(token).await;
    let got = catalog_ids(srv, tenant).await;
    assert_same_ids(&got, &want, &format!("{step}: tenant {}", tenant["name"]));
    got
}

struct Timer(Instant);
impl Timer {
    fn lap(&mut self, what: &str) {
        eprintln!("  [{:6.1} s] {what}", self.0.elapsed().as_secs_f64());
    }
}

/// Keystone revokes a user's or project's tokens with events of one-second precision, and a
/// token issued within the same second as such an event is revoked too: Keystone hands it
/// out (201) and then fails its validation, so Glance answers 401. Let that second pass
/// before the next sync.
async fn let_revocation_settle() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

fn run_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_string()
}

// --- the tests -----------------------------------------------------------------------------

/// Everything a tenant may see in Glance, and nothing else, ends up in the catalog, for a
/// tenant with its own password, one logged in with the cloud's admin credentials, and one
/// with an application credential; upstream changes follow; credential and project failures
/// make only the affected tenants ERRED; Glance's quota usage is carried over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn the_catalog_follows_real_keystone_and_glance() {
    let stack = tokio::task::block_in_place(stack);
    let mut clock = Timer(Instant::now());
    let os = Cloud::connect(stack).await;
    let tag = run_tag();

    // 1. Keystone: two projects, a member user each; the admin may act in tenant-b too (the
    //    cloud's credentials are scoped to a tenant's project).
    let a = os.create_project(&format!("tenant-a-{tag}")).await;
    let b = os.create_project(&format!("tenant-b-{tag}")).await;
    let user_a = os.create_member(&format!("user-a-{tag}"), &a).await;
    let user_b = os.create_member(&format!("user-b-{tag}"), &b).await;
    let admin_id = os.admin_user_id.clone();
    os.grant(&b, &admin_id, "admin").await;
    let tok_b = os.login(&user_b, &b).await;
    let (app_id, app_secret) = os.application_credential(&user_b, &tok_b).await;

    let srv = TestServer::start().await;
    let cloud = register_cloud(&srv, &os, "real-openstack", "").await;
    let cloud_app = register_cloud(&srv, &os, "real-openstack-appcred", "").await;
    let t_a = register_tenant(
        &srv,
        &cloud,
        &a,
        "tenant-a (own password)",
        json!({"user_username": user_a.name, "user_password": user_a.password}),
    )
    .await;
    let t_b = register_tenant(&srv, &cloud, &b, "tenant-b (cloud admin)", json!({})).await;
    let t_b_app = register_tenant(
        &srv,
        &cloud_app,
        &b,
        "tenant-b (application credential)",
        json!({"application_credential_id": app_id, "application_credential_secret": app_secret}),
    )
    .await;
    clock.lap("keystone projects, users, application credential; catalog clouds and tenants");

    // 2. Glance images of every kind.
    let adm = os.admin_token.clone();
    let tok_a = os.login(&user_a, &a).await;
    let name = |n: &str| format!("{n}-{tag}");
    let public = os
        .create_image(
            &adm,
            json!({"name": name("public"), "visibility": "public"}),
        )
        .await;
    let public_hidden = os
        .create_image(
            &adm,
            json!({"name": name("public-hidden"), "visibility": "public", "os_hidden": true}),
        )
        .await;
    let rescue = os
        .create_image(
            &adm,
            json!({"name": name("rescue"), "visibility": "public", "min_disk": 3, "min_ram": 512,
                   "hw_rescue_device": "cdrom", "hw_rescue_bus": "ide", "os_distro": "ubuntu"}),
        )
        .await;
    let admin_private = os
        .create_image(
            &adm,
            json!({"name": name("admin-private"), "visibility": "private"}),
        )
        .await;
    let admin_shared_b = os
        .create_image(
            &adm,
            json!({"name": name("admin-shared-b"), "visibility": "shared"}),
        )
        .await;
    os.add_member(&adm, &admin_shared_b, &b).await;
    os.set_member_status(&tok_b, &admin_shared_b, &b, "accepted")
        .await;

    let a_private = os
        .create_image(
            &tok_a,
            json!({"name": name("a-private"), "visibility": "private"}),
        )
        .await;
    let a_hidden = os
        .create_image(
            &tok_a,
            json!({"name": name("a-hidden"), "visibility": "private", "os_hidden": true}),
        )
        .await;
    let a_community = os
        .create_image(
            &tok_a,
            json!({"name": name("a-community"), "visibility": "community"}),
        )
        .await;
    let a_default = os
        .create_image(&tok_a, json!({"name": name("a-default")}))
        .await;
    let mut shared = HashMap::new();
    for status in ["accepted", "pending", "rejected"] {
        let id = os
            .create_image(
                &tok_a,
                json!({"name": name(&format!("a-shared-{status}")), "visibility": "shared"}),
            )
            .await;
        os.add_member(&tok_a, &id, &b).await;
        if status != "pending" {
            os.set_member_status(&tok_b, &id, &b, status).await;
        }
        shared.insert(status, id);
    }
    let a_unnamed = os
        .create_image(&tok_a, json!({"visibility": "private"}))
        .await;
    let a_described = os
        .create_image(
            &tok_a,
            json!({"visibility": "private", "description": "Described, but nameless"}),
        )
        .await;
    let a_props = os
        .create_image(
            &tok_a,
            json!({"name": name("a-props"), "visibility": "private", "min_disk": 20,
                   "min_ram": 2048, "os_distro": "debian", "hw_rescue_device": "disk"}),
        )
        .await;
    let b_private = os
        .create_image(
            &tok_b,
            json!({"name": name("b-private"), "visibility": "private"}),
        )
        .await;
    let b_shared_a = os
        .create_image(
            &tok_b,
            json!({"name": name("b-shared-a"), "visibility": "shared"}),
        )
        .await;
    os.add_member(&tok_b, &b_shared_a, &a).await;
    clock.lap("special images created");

    // More than one page of Glance's maximum (1000) in tenant-a, 16 creates in flight.
    const BULK: usize = 1030;
    let gate = std::sync::Arc::new(Semaphore::new(16));
    let mut set = JoinSet::new();
    for i in 0..BULK {
        let os = os.clone();
        let gate = gate.clone();
        let token = tok_a.clone();
        let name = format!("bulk-{i:04}-{tag}");
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            os.create_image(&token, json!({"name": name, "visibility": "private"}))
                .await
        });
    }
    let mut bulk = Vec::with_capacity(BULK);
    while let Some(id) = set.join_next().await {
        bulk.push(id.expect("create task"));
    }
    clock.lap(&format!("{BULK} bulk images created"));

    // 3. Sync, and compare every tenant with what its user sees in Glance.
    let engine = engine_with(srv.catalog.clone(), conformance_settings());
    let outcomes = sweep(&engine).await;
    assert_all_ok(&outcomes, 3, "first sync");
    for o in &outcomes {
        eprintln!(
            "    {}: {:.2} s, {:?}",
            o.tenant_name,
            o.duration.as_secs_f64(),
            o.result.as_ref().unwrap().counts
        );
    }
    clock.lap("first sync");
    let ids_a = assert_matches_glance(&srv, &os, &t_a, &tok_a, "first sync").await;
    let ids_b = assert_matches_glance(&srv, &os, &t_b, &tok_b, "first sync").await;
    let ids_b_app = assert_matches_glance(&srv, &os, &t_b_app, &tok_b, "first sync").await;
    assert!(ids_a.len() > 1000, "tenant-a spans pages: {}", ids_a.len());
    assert_eq!(ids_b, ids_b_app, "both tenant-b credentials see the same");
    for (id, what) in [
        (&public, "a public image"),
        (&public_hidden, "a hidden public image"),
        (&rescue, "the rescue image"),
        (&a_community, "a community image"),
        (&shared["accepted"], "an accepted shared image"),
        (
            &shared["pending"],
            "a pending shared image (member_status=all)",
        ),
        (
            &shared["rejected"],
            "a rejected shared image (member_status=all)",
        ),
        (
            &admin_shared_b,
            "an image the admin project shared with tenant-b",
        ),
        (&b_private, "its own private image"),
        (&b_shared_a, "its own shared image"),
    ] {
        assert!(ids_b.contains(id), "tenant-b sees {what} ({id})");
    }
    for (id, what) in [
        (&a_private, "tenant-a's private image"),
        (&a_hidden, "tenant-a's hidden image"),
        (
            &a_default,
            "tenant-a's image of default visibility (shared, no members)",
        ),
        (&admin_private, "the admin project's private image"),
        (&bulk[0], "tenant-a's bulk images"),
    ] {
        assert!(!ids_b.contains(id), "tenant-b must not see {what} ({id})");
    }
    for id in [
        &a_private,
        &a_hidden,
        &a_default,
        &b_shared_a,
        &a_unnamed,
        &bulk[BULK - 1],
    ] {
        assert!(ids_a.contains(id), "tenant-a sees {id}");
    }
    assert!(!ids_a.contains(&admin_private) && !ids_a.contains(&b_private));

    // Catalog filters: by cloud.
    let mut union = ids_a.clone();
    union.extend(ids_b.iter().cloned());
    assert_same_ids(
        &settings_ids(&srv, &cloud).await,
        &union,
        "settings_uuid of the cloud",
    );
    assert_same_ids(
        &settings_ids(&srv, &cloud_app).await,
        &ids_b_app,
        "settings_uuid of the application-credential cloud",
    );

    // Field mapping.
    let item = catalog_item(&srv, &cloud, &name("rescue"), &rescue).await;
    assert_eq!(item["min_disk"], 3 * 1024, "min_disk GB → MiB: {item}");
    assert_eq!(item["min_ram"], 512);
    assert_eq!(item["hw_rescue_device"], "cdrom");
    assert_eq!(item["hw_rescue_bus"], "ide");
    assert_eq!(item["is_rescue_image"], true);
    let row = image_row(&srv, &cloud, &rescue).await.expect("rescue row");
    assert_eq!(
        row.properties,
        json!({"os_distro": "ubuntu"}),
        "extra properties"
    );
    assert_eq!(row.status, "queued");
    assert_eq!(row.visibility.as_str(), "public");
    assert_eq!(row.disk_format.as_deref(), Some("raw"));
    assert_eq!(row.container_format.as_deref(), Some("bare"));
    assert!(row.backend_created_at.is_some() && row.backend_updated_at.is_some());
    let item = catalog_item(&srv, &cloud, &name("a-props"), &a_props).await;
    assert_eq!(
        (item["min_disk"].as_i64(), item["min_ram"].as_i64()),
        (Some(20 * 1024), Some(2048))
    );
    assert_eq!(item["hw_rescue_device"], "disk");
    assert_eq!(item["is_rescue_image"], true);
    let row = image_row(&srv, &cloud, &a_props).await.unwrap();
    assert_eq!(row.properties, json!({"os_distro": "debian"}));
    let row = image_row(&srv, &cloud, &a_unnamed).await.unwrap();
    assert_eq!(
        row.name, a_unnamed,
        "a null name without description falls back to the id"
    );
    let row = image_row(&srv, &cloud, &a_described).await.unwrap();
    assert_eq!(row.name, "Described, but nameless");
    let row = image_row(&srv, &cloud, &public).await.unwrap();
    assert_eq!(
        (row.min_disk, row.min_ram, row.hw_rescue_device.as_str()),
        (0, 0, "")
    );
    assert_eq!(
        row.properties,
        json!({}),
        "a plain image has no extra properties"
    );
    clock.lap("first sync checked");

    // 4. Upstream deletes, unshares and renames; then a sync with nothing to do.
    os.delete_image(&tok_a, &a_private).await;
    os.delete_image(&tok_a, &bulk[7]).await;
    os.remove_member(&tok_a, &shared["accepted"], &b).await;
    os.patch_image(
        &tok_b,
        &b_private,
        json!([{"op": "replace", "path": "/name", "value": name("b-renamed")}]),
    )
    .await;
    os.patch_image(
        &adm,
        &rescue,
        json!([{"op": "replace", "path": "/min_disk", "value": 5}]),
    )
    .await;
    let outcomes = sweep(&engine).await;
    assert_all_ok(&outcomes, 3, "sync after upstream changes");
    clock.lap("sync after upstream changes");
    let removed = |t: &Value| {
        outcome(&outcomes, t)
            .result
            .as_ref()
            .unwrap()
            .counts
            .images_removed
    };
    assert_eq!(
        removed(&t_a),
        2,
        "tenant-a: a deleted private image and a deleted bulk image"
    );
    assert_eq!(removed(&t_b), 1, "tenant-b: the unshared image");
    assert_eq!(
        removed(&t_b_app),
        1,
        "tenant-b (application credential): the unshared image"
    );
    let ids_a = assert_matches_glance(&srv, &os, &t_a, &tok_a, "after changes").await;
    let ids_b = assert_matches_glance(&srv, &os, &t_b, &tok_b, "after changes").await;
    assert_matches_glance(&srv, &os, &t_b_app, &tok_b, "after changes").await;
    assert!(
        ids_a.contains(&shared["accepted"]),
        "the owner keeps the unshared image"
    );
    assert!(!ids_b.contains(&shared["accepted"]));
    assert!(
        image_row(&srv, &cloud, &a_private).await.is_none(),
        "a deleted image leaves the catalog"
    );
    assert!(image_row(&srv, &cloud, &bulk[7]).await.is_none());
    let item = catalog_item(&srv, &cloud, &name("b-renamed"), &b_private).await;
    assert_eq!(item["backend_id"], b_private.as_str());
    let item = catalog_item(&srv, &cloud, &name("rescue"), &rescue).await;
    assert_eq!(item["min_disk"], 5 * 1024);

    let outcomes = sweep(&engine).await;
    assert_all_ok(&outcomes, 3, "sync without upstream change");
    for o in &outcomes {
        let s = o.result.as_ref().unwrap();
        assert!(
            s.applied.is_empty(),
            "{} wrote {:?} with nothing changed upstream",
            o.tenant_name,
            s.applied
        );
        assert_eq!(
            (
                s.counts.images_added,
                s.counts.images_updated,
                s.counts.images_removed
            ),
            (0, 0, 0),
            "{}",
            o.tenant_name
        );
    }
    clock.lap("sync without change writes nothing");

    // 5. A changed password makes tenant-a ERRED, a disabled project both tenant-b tenants;
    //    the others keep syncing, the catalog stays as it was, and restoring brings back OK.
    let new_password = format!("changed-{}", uuid::Uuid::new_v4().simple());
    os.set_password(&user_a, &new_password).await;
    let_revocation_settle().await;
    let outcomes = sweep(&engine).await;
    assert!(
        outcome(&outcomes, &t_a).result.is_err(),
        "tenant-a with a stale password"
    );
    assert!(outcome(&outcomes, &t_b).result.is_ok() && outcome(&outcomes, &t_b_app).result.is_ok());
    let ta = tenant_json(&srv, &t_a).await;
    assert_eq!(ta["state"], "ERRED");
    let message = ta["error_message"].as_str().unwrap().to_string();
    eprintln!("    tenant-a with a changed password: {message:?}");
    assert!(
        message.contains("Keystone") && message.contains("401"),
        "readable: {message}"
    );
    for secret in [&user_a.password, &new_password] {
        assert!(
            !message.contains(secret.as_str()),
            "no password in {message}"
        );
    }
    assert_eq!(
        catalog_ids(&srv, &t_a).await,
        ids_a,
        "an ERRED tenant keeps its catalog"
    );
    assert_eq!(tenant_json(&srv, &t_b).await["state"], "OK");

    os.set_password(&user_a, &user_a.password).await;
    let_revocation_settle().await;
    let outcomes = sweep(&engine).await;
    assert_all_ok(&outcomes, 3, "password restored");
    let ta = tenant_json(&srv, &t_a).await;
    assert_eq!(
        (ta["state"].as_str(), ta["error_message"].as_str()),
        (Some("OK"), Some(""))
    );

    os.set_project_enabled(&b, false).await;
    let_revocation_settle().await;
    let outcomes = sweep(&engine).await;
    assert!(
        outcome(&outcomes, &t_a).result.is_ok(),
        "tenant-a is not affected"
    );
    for t in [&t_b, &t_b_app] {
        assert!(
            outcome(&outcomes, t).result.is_err(),
            "{} with its project disabled",
            t["name"]
        );
        let tj = tenant_json(&srv, t).await;
        assert_eq!(tj["state"], "ERRED");
        let message = tj["error_message"].as_str().unwrap();
        eprintln!("    {} with its project disabled: {message:?}", t["name"]);
        assert!(message.contains("Keystone"), "readable: {message}");
        assert!(
            !message.contains(app_secret.as_str()) && !message.contains(os.admin_password.as_str())
        );
        assert_eq!(
            catalog_ids(&srv, t).await,
            ids_b,
            "an ERRED tenant keeps its catalog"
        );
    }
    assert_eq!(tenant_json(&srv, &t_a).await["state"], "OK");
    os.set_project_enabled(&b, true).await;
    let_revocation_settle().await;
    let outcomes = sweep(&engine).await;
    assert_all_ok(&outcomes, 3, "project enabled again");
    for t in [&t_a, &t_b, &t_b_app] {
        assert_eq!(tenant_json(&srv, t).await["state"], "OK", "{}", t["name"]);
    }
    clock.lap("credential and project failures");

    // 6. Glance's quota usage (Keystone unified limits) as each tenant sees it.
    let tok_a = os.login(&user_a, &a).await;
    let tok_b = os.login(&user_b, &b).await;
    for (t, token, owned) in [
        (&t_a, &tok_a, None),
        (&t_b, &tok_b, Some(2)),
        (&t_b_app, &tok_b, Some(2)),
    ] {
        let want = os.usage(token).await;
        let tj = tenant_json(&srv, t).await;
        assert_eq!(
            tj["image_quota_usage"], want,
            "{}: image_quota_usage",
            t["name"]
        );
        assert_eq!(
            tj["image_quota_usage"]["image_count_total"]["limit"],
            100000
        );
        if let Some(n) = owned {
            assert_eq!(
                tj["image_quota_usage"]["image_count_total"]["usage"], n,
                "{}",
                t["name"]
            );
        }
        assert!(
            tj["stores"].is_null(),
            "no multi-store Glance: {}",
            tj["stores"]
        );
        assert!(
            tj["import_methods"]["value"]
                .as_array()
                .is_some_and(|m| m.iter().any(|v| v == "glance-direct")),
            "import methods: {}",
            tj["import_methods"]
        );
    }
    let count_a = tenant_json(&srv, &t_a).await["image_quota_usage"]["image_count_total"]["usage"]
        .as_u64()
        .unwrap();
    assert!(count_a > 1000, "tenant-a's image count: {count_a}");
    clock.lap("quota usage");
    srv.stop().await;
}

/// A cloud (here: a region) whose catalog has Glance but no Nova: its images still sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn a_region_without_compute_is_a_clear_tenant_error() {
    let stack = tokio::task::block_in_place(stack);
    let os = Cloud::connect(stack).await;
    let tag = run_tag();
    let region = format!("ImageOnly-{tag}");
    os.ks(
        Method::POST,
        "/regions",
        Some(json!({"region": {"id": region}})),
    )
    .await;
    let services = os.ks(Method::GET, "/services?type=image", None).await;
    let image_service = services["services"][0]["id"].as_str().unwrap().to_string();
    for interface in ["public", "internal", "admin"] {
        os.ks(
            Method::POST,
            "/endpoints",
            Some(
                json!({"endpoint": {"service_id": image_service, "interface": interface,
                "url": os.glance, "region_id": region, "enabled": true}}),
            ),
        )
        .await;
    }
    let c = os.create_project(&format!("tenant-c-{tag}")).await;
    let user_c = os.create_member(&format!("user-c-{tag}"), &c).await;
    let tok_c = os.login(&user_c, &c).await;
    os.create_image(
        &tok_c,
        json!({"name": format!("c-private-{tag}"), "visibility": "private"}),
    )
    .await;

    let srv = TestServer::start().await;
    let cloud = register_cloud(&srv, &os, "image-only-region", &region).await;
    let t_c = register_tenant(
        &srv,
        &cloud,
        &c,
        "tenant-c",
        json!({"user_username": user_c.name, "user_password": user_c.password}),
    )
    .await;
    let engine = engine_with(srv.catalog.clone(), conformance_settings());
    let outcomes = sweep(&engine).await;
    let tj = tenant_json(&srv, &t_c).await;
    // The sync engine's contract: a service missing from the catalog is a tenant error, and a
    // failed sync applies nothing, not even the images it did list.
    assert!(outcomes[0].result.is_err(), "{:?}", outcomes[0].result);
    assert_eq!(tj["state"], "ERRED");
    let msg = tj["error_message"].as_str().unwrap();
    assert!(msg.contains("compute") && msg.contains(&region), "{msg}");
    assert!(catalog_ids(&srv, &t_c).await.is_empty());
    srv.stop().await;
}
