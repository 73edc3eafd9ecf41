//! The test application: the real server on a free loopback port over a fresh database (a
//! SQLite file, or a new PostgreSQL database when `TEST_DATABASE_URL` is set), driven over
//! HTTP. A builder registers, through the API, the clouds, tenants and scoped tokens a test
//! starts from:
//!
//! ```ignore
//! let app = TestApp::init().with_cloud("a").with_tenant("a", "t1").start().await;
//! ```
//!
//! Whatever touches the crate's internals (database rows, the catalog's functions, the
//! server's state, the sync engine) is in `internals.rs`; the tests speak HTTP, the
//! simulator and the helpers of this module.
#![allow(dead_code, unused_imports)]

pub mod internals;
pub mod sim;
pub mod tls;
pub mod wire;

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use internals::{EngineOptions, ImageSpec, InsertedImage, TenantOutcome, TestDb};
pub use wire::*;

pub const SECRET_KEY: &str = internals::SECRET_KEY;

/// What the server says before anything is registered; clouds, tenants and tokens named in
/// the builder are registered in the order given.
#[derive(Default)]
pub struct TestAppBuilder {
    clouds: Vec<(String, bool)>,
    tenants: Vec<(String, String)>,
    tokens: Vec<(String, Vec<String>)>,
    engine: Option<EngineOptions>,
}

impl TestAppBuilder {
    /// A cloud (service settings) that is not shared.
    pub fn with_cloud(mut self, name: &str) -> Self {
        self.clouds.push((name.into(), false));
        self
    }

    pub fn with_shared_cloud(mut self, name: &str) -> Self {
        self.clouds.push((name.into(), true));
        self
    }

    /// A tenant of a cloud named before; its project id is `proj-<name>`.
    pub fn with_tenant(mut self, cloud: &str, name: &str) -> Self {
        self.tenants.push((cloud.into(), name.into()));
        self
    }

    /// A non-staff token that sees the named tenants.
    pub fn with_scoped_token(mut self, name: &str, tenants: &[&str]) -> Self {
        self.tokens
            .push((name.into(), tenants.iter().map(|t| t.to_string()).collect()));
        self
    }

    /// A server whose `pull/` endpoints hand work to a sync engine (`TestApp::engine`).
    pub fn with_engine(mut self, options: EngineOptions) -> Self {
        self.engine = Some(options);
        self
    }

    pub async fn start(self) -> TestApp {
        let server = internals::Server::start(self.engine).await;
        let mut app = TestApp {
            base: server.base.clone(),
            staff_token: server.staff_token.clone(),
            client: reqwest::Client::new(),
            clouds: Vec::new(),
            tenants: Vec::new(),
            tokens: Vec::new(),
            server,
        };
        for (name, shared) in self.clouds {
            let cloud = app.create_settings(&name, shared).await;
            app.clouds.push(cloud);
        }
        for (cloud, name) in self.tenants {
            let tenant = app.create_tenant(&app.cloud(&cloud).clone(), &name).await;
            app.tenants.push(tenant);
        }
        for (name, tenants) in self.tokens {
            let tenants: Vec<Tenant> = tenants.iter().map(|t| app.tenant(t).clone()).collect();
            let secret = app
                .scoped_token(&name, &tenants.iter().collect::<Vec<_>>())
                .await;
            app.tokens.push((name, secret));
        }
        app
    }
}

pub struct TestApp {
    pub base: String,
    pub staff_token: String,
    pub client: reqwest::Client,
    clouds: Vec<ServiceSettings>,
    tenants: Vec<Tenant>,
    tokens: Vec<(String, String)>,
    server: internals::Server,
}

impl TestApp {
    pub fn init() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// A server with nothing registered but its staff token.
    pub async fn new() -> Self {
        Self::init().start().await
    }

    /// A cloud the builder registered.
    #[track_caller]
    pub fn cloud(&self, name: &str) -> &ServiceSettings {
        self.clouds
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no cloud {name} was registered"))
    }

    /// A tenant the builder registered.
    #[track_caller]
    pub fn tenant(&self, name: &str) -> &Tenant {
        self.tenants
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tenant {name} was registered"))
    }

    /// The secret of a scoped token the builder made.
    #[track_caller]
    pub fn token(&self, name: &str) -> &str {
        self.tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
            .unwrap_or_else(|| panic!("no token {name} was made"))
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The path of an object's absolute `url`.
    pub fn path_of<'a>(&self, url: &'a str) -> &'a str {
        url.strip_prefix(&self.base)
            .unwrap_or_else(|| panic!("{url} is not on {}", self.base))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Token {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::from_response(req.send().await.expect("request")).await
    }

    /// Staff calls.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Some(&self.staff_token), None)
            .await
    }

    pub async fn head(&self, path: &str) -> Reply {
        self.call(Method::HEAD, path, Some(&self.staff_token), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&self.staff_token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(&self.staff_token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(&self.staff_token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, Some(&self.staff_token), None)
            .await
    }

    /// Calls with another token.
    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn head_as(&self, token: &str, path: &str) -> Reply {
        self.call(Method::HEAD, path, Some(token), None).await
    }

    /// Calls without any token.
    pub async fn get_anonymous(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None).await
    }

    /// Registers a cloud through the API (admin password `pw-<name>-secret`).
    pub async fn create_settings(&self, name: &str, shared: bool) -> ServiceSettings {
        let r = self
            .post(
                "/api/service-settings/",
                json!({
                    "name": name,
                    "shared": shared,
                    "options": {"auth_url": "http://127.0.0.1:5000/v3"},
                    "username": "admin",
                    "password": format!("pw-{name}-secret"),
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.parse()
    }

    /// Registers a tenant through the API, its project id `proj-<name>`.
    pub async fn create_tenant(&self, cloud: &ServiceSettings, name: &str) -> Tenant {
        let r = self
            .post(
                "/api/openstack-tenants/",
                json!({"name": name, "backend_id": format!("proj-{name}"), "service_settings": cloud.url}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.parse()
    }

    /// Creates an offering scoped to a cloud's or tenant's URL and returns its uuid.
    pub async fn create_offering(&self, scope_url: &str) -> String {
        let r = self
            .post("/api/offerings/", json!({"name": "o", "scope": scope_url}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.parse::<Offering>().uuid
    }

    /// Asks for a tenant's sync (`pull/`).
    pub async fn pull(&self, tenant_uuid: &str) -> Reply {
        self.post(
            &format!("/api/openstack-tenants/{tenant_uuid}/pull/"),
            json!({}),
        )
        .await
    }

    /// A tenant as the API shows it now.
    pub async fn tenant_now(&self, tenant: &Tenant) -> Tenant {
        let r = self
            .get(&format!("/api/openstack-tenants/{}/", tenant.uuid))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.parse()
    }

    /// Every image of a listing (`query` without `page`/`page_size`), all pages of 300.
    pub async fn list_all_images(&self, query: &str) -> Vec<Image> {
        let mut items = Vec::new();
        for page in 1.. {
            let r = self
                .get(&format!(
                    "/api/openstack-images/?{query}&page_size=300&page={page}"
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            items.extend(r.items::<Image>());
            if (page * 300) as u64 >= r.count() {
                break;
            }
        }
        items
    }
}

/// An answer, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn from_response(resp: reqwest::Response) -> Self {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Self {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The body as a wire object (which checks its exact fields).
    #[track_caller]
    pub fn parse<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not a {} ({e}): {}", std::any::type_name::<T>(), self.text))
    }

    /// A list body as wire objects.
    #[track_caller]
    pub fn items<T: DeserializeOwned>(&self) -> Vec<T> {
        self.parse()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    pub fn count(&self) -> u64 {
        self.header("x-result-count")
            .expect("X-Result-Count")
            .parse()
            .unwrap()
    }

    /// Names of a list body (of any named objects), in order.
    pub fn names(&self) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Named {
            name: String,
        }
        self.items::<Named>().into_iter().map(|n| n.name).collect()
    }

    /// Uuids of a list body, in order.
    pub fn uuids(&self) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct WithUuid {
            uuid: String,
        }
        self.items::<WithUuid>()
            .into_iter()
            .map(|n| n.uuid)
            .collect()
    }

    /// The `Link` header as (rel, url) pairs, in order.
    pub fn links(&self) -> Vec<(String, String)> {
        let raw = self.header("link").expect("Link header");
        raw.split(", ")
            .map(|part| {
                let (url, rel) = part.split_once("; ").unwrap();
                (
                    rel.trim_start_matches("rel=\"")
                        .trim_end_matches('"')
                        .to_string(),
                    url.trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string(),
                )
            })
            .collect()
    }

    /// The URL of one `Link` relation.
    pub fn link(&self, rel: &str) -> Option<String> {
        self.links()
            .into_iter()
            .find(|(r, _)| r == rel)
            .map(|(_, u)| u)
    }
}

impl TestApp {
    /// Every Glance id a listing holds (`query` without paging; all pages, duplicates shown).
    pub async fn backend_ids(&self, query: &str) -> BTreeSet<String> {
        self.list_all_images(&format!("{query}&show_duplicate_names=true"))
            .await
            .into_iter()
            .map(|i| i.backend_id)
            .collect()
    }

    /// Every Glance id the catalog links to this tenant.
    pub async fn catalog_ids(&self, tenant: &Tenant) -> BTreeSet<String> {
        self.backend_ids(&format!("tenant_uuid={}", tenant.uuid))
            .await
    }

    /// Every Glance id of a cloud's catalog.
    pub async fn cloud_ids(&self, cloud: &ServiceSettings) -> BTreeSet<String> {
        self.backend_ids(&format!("settings_uuid={}", cloud.uuid))
            .await
    }
}

/// A page of Glance's `GET /v2/images`, as far as the tests read it.
#[derive(serde::Deserialize)]
struct GlancePage {
    images: Vec<GlanceImage>,
    next: Option<String>,
}

#[derive(serde::Deserialize)]
struct GlanceImage {
    id: String,
    status: String,
}

/// What Glance (`image_endpoint`, without `/v2`) lists for a token: visible and hidden
/// images, every member status, all pages; images on their way out left aside.
pub async fn glance_ids_for_token(
    client: &reqwest::Client,
    image_endpoint: &str,
    token: &str,
) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for first in [
        "limit=200&visibility=all&member_status=all",
        "limit=200&visibility=all&member_status=all&os_hidden=true",
    ] {
        let mut query = first.to_string();
        for _ in 0..1000 {
            let r = client
                .get(format!("{image_endpoint}/v2/images?{query}"))
                .header("X-Auth-Token", token)
                .header("Accept", "application/json")
                .send()
                .await
                .expect("Glance answers");
            let r = Reply::from_response(r).await;
            assert_eq!(r.status, StatusCode::OK, "list images: {}", r.text);
            let page: GlancePage = r.parse();
            for img in page.images {
                if !matches!(img.status.as_str(), "deleted" | "pending_delete") {
                    ids.insert(img.id);
                }
            }
            // `next` is root-relative ("/v2/images?…"): keep only its query.
            match page.next {
                Some(next) => query = next.split_once('?').unwrap().1.to_string(),
                None => break,
            }
        }
    }
    ids
}

/// The keys of a JSON object, sorted: a wire object's exact set of fields.
pub fn sorted_keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
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
