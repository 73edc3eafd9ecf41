//! Helpers for sync tests against the OpenStack simulator over real sockets.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use cloudcensus::catalog::Catalog;
use cloudcensus::openstack::retry::RetryPolicy;
use cloudcensus::sync::engine::{LogObserver, TenantOutcome};
use cloudcensus::sync::{SyncEngine, SyncSettings};
use cloudcensus_sim::Simulator;
use serde_json::{Value, json};

use super::TestServer;

/// Short timeouts and quick retries so fault tests finish fast.
pub fn fast_settings() -> SyncSettings {
    let mut s = SyncSettings::new("*/1 * * * * *", 4);
    s.session.timeout = Duration::from_millis(1500);
    s.session.connect_timeout = Duration::from_millis(500);
    s.session.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
    };
    s
}

pub fn engine(catalog: Catalog) -> Arc<SyncEngine> {
    engine_with(catalog, fast_settings())
}

pub fn engine_with(catalog: Catalog, settings: SyncSettings) -> Arc<SyncEngine> {
    SyncEngine::new(catalog, settings)
}

pub async fn sweep(engine: &Arc<SyncEngine>) -> Vec<TenantOutcome> {
    engine
        .sweep(None, None, Arc::new(LogObserver))
        .await
        .expect("sweep")
}

/// Registers the simulated cloud with its admin user, and one tenant per project.
pub async fn register(srv: &TestServer, sim: &Simulator, name: &str) -> (Value, Vec<Value>) {
    let cloud = srv
        .post(
            "/api/service-settings/",
            json!({"name": name, "options": {"auth_url": sim.auth_url()}, "username": "admin", "password": "admin-password"}),
        )
        .await;
    assert_eq!(cloud.status, reqwest::StatusCode::CREATED, "{}", cloud.text);
    let cloud = cloud.json();
    let projects = sim.with_world(|w| w.projects.clone());
    let mut tenants = Vec::new();
    for p in projects {
        let t = srv
            .post(
                "/api/openstack-tenants/",
                json!({"name": p.name, "backend_id": p.id, "service_settings": cloud["url"]}),
            )
            .await;
        assert_eq!(t.status, reqwest::StatusCode::CREATED, "{}", t.text);
        tenants.push(t.json());
    }
    (cloud, tenants)
}

/// Every Glance id the catalog links to this tenant (all pages, duplicates shown).
pub async fn catalog_ids(srv: &TestServer, tenant: &Value) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut page = 1;
    loop {
        let r = srv
            .get(&format!(
                "/api/openstack-images/?tenant_uuid={}&show_duplicate_names=true&page_size=300&page={page}",
                tenant["uuid"].as_str().unwrap()
            ))
            .await;
        assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.text);
        for item in r.json().as_array().unwrap() {
            ids.insert(item["backend_id"].as_str().unwrap().to_string());
        }
        if (page * 300) as u64 >= r.count() {
            return ids;
        }
        page += 1;
    }
}

/// What Glance itself lists for a user of a project: every visible and hidden image that is
/// not on its way out, read with that user's own token.
pub async fn glance_ids(
    sim: &Simulator,
    user: &str,
    password: &str,
    project_id: &str,
) -> BTreeSet<String> {
    let client = reqwest::Client::new();
    let auth = client
        .post(format!("{}/auth/tokens", sim.auth_url()))
        .json(&json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"id": project_id}}
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(auth.status(), reqwest::StatusCode::CREATED);
    let token = auth.headers()["X-Subject-Token"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = auth.json().await.unwrap();
    let image_url = body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "image")
        .unwrap()["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["interface"] == "public")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let mut ids = BTreeSet::new();
    for first in [
        "limit=200&visibility=all&member_status=all",
        "limit=200&visibility=all&member_status=all&os_hidden=true",
    ] {
        let mut query = first.to_string();
        loop {
            let page: Value = client
                .get(format!("{image_url}/v2/images?{query}"))
                .header("X-Auth-Token", &token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for img in page["images"].as_array().unwrap() {
                if !matches!(img["status"].as_str(), Some("deleted" | "pending_delete")) {
                    ids.insert(img["id"].as_str().unwrap().to_string());
                }
            }
            match page["next"].as_str() {
                Some(next) => query = next.split_once('?').unwrap().1.to_string(),
                None => break,
            }
        }
    }
    ids
}

pub async fn tenant_json(srv: &TestServer, tenant: &Value) -> Value {
    srv.get(&format!(
        "/api/openstack-tenants/{}/",
        tenant["uuid"].as_str().unwrap()
    ))
    .await
    .json()
}

/// Compares two id sets and, when they differ, names a few ids of each difference instead
/// of printing thousands.
#[track_caller]
pub fn assert_same_ids(got: &BTreeSet<String>, want: &BTreeSet<String>, label: &str) {
    if got == want {
        return;
    }
    let extra: Vec<_> = got.difference(want).take(5).collect();
    let missing: Vec<_> = want.difference(got).take(5).collect();
    panic!(
        "{label}: catalog has {} ids, Glance {}; {} extra (e.g. {extra:?}), {} missing (e.g. {missing:?})",
        got.len(),
        want.len(),
        got.difference(want).count(),
        want.difference(got).count(),
    );
}
