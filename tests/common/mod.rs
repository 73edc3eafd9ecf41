//! Test harness: a real server on a free loopback port over a fresh database — a SQLite file
//! by default, or a new PostgreSQL database when `TEST_DATABASE_URL` is set.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cloudcensus::api::AppState;
use cloudcensus::catalog::tokens::NewToken;
use cloudcensus::catalog::{Catalog, CloudId, ImageVisibility, TenantId};
use cloudcensus::crypto::SecretBox;
use cloudcensus::sync::{SyncEngine, SyncSettings};
use entity::{image_tenants, images, instances, service_settings, tenants};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, Set};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

pub mod sim;

pub const SECRET_KEY: &str = "test-secret-key-0123456789";

/// A database made for one test and removed after it.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("cc_test_{}", Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(&admin_url);
                Self {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg_drop: Some((admin_url.clone(), name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg_drop: None,
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_drop.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_drop.take() {
            // Drop runs inside the test's runtime; use a fresh one on another thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let admin = sea_orm::Database::connect(&admin_url).await.ok()?;
                    admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

pub struct TestServer {
    pub base: String,
    /// A connection of the test's own, for seeding and inspecting the database directly.
    pub db: DatabaseConnection,
    /// The server's catalog.
    pub catalog: Catalog,
    pub staff_token: String,
    pub client: reqwest::Client,
    pub engine: Arc<SyncEngine>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    pub test_db: TestDb,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A server whose `pull/` endpoints hand work to a sync engine built by `engine`.
    pub async fn start_with_engine(
        engine: impl FnOnce(Catalog) -> Arc<SyncEngine>,
    ) -> (Self, Arc<SyncEngine>) {
        let srv = Self::start_with(Some(Box::new(engine))).await;
        let engine = srv.engine.clone();
        (srv, engine)
    }

    async fn start_with(engine: Option<Box<dyn FnOnce(Catalog) -> Arc<SyncEngine> + '_>>) -> Self {
        cloudcensus::install_crypto_provider();
        let test_db = TestDb::new().await;
        let secrets = SecretBox::from_passphrase(SECRET_KEY).unwrap();
        let catalog = Catalog::open(&test_db.url, secrets, true)
            .await
            .expect("open");
        let db = sea_orm::Database::connect(&test_db.url)
            .await
            .expect("connect");
        let bound = cloudcensus::server::bind("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind");
        let base = format!("http://{}", bound.addr);
        // Without an engine of the test's, pulls go to one that is never scheduled.
        let sync_engine = match engine {
            Some(build) => build(catalog.clone()),
            None => SyncEngine::new(catalog.clone(), SyncSettings::new("0 0 0 1 1 *", 1)),
        };
        let state = Arc::new(AppState {
            catalog: catalog.clone(),
            public_url: base.clone(),
            sync: sync_engine.clone(),
        });
        let (tx, handle) = spawn_server(bound, state);
        let (_, staff_token) = catalog
            .tokens()
            .create(NewToken {
                name: "staff".into(),
                is_staff: true,
                tenants: vec![],
                expires_in_days: None,
            })
            .await
            .expect("staff token");
        Self {
            base,
            db,
            catalog,
            staff_token,
            client: reqwest::Client::new(),
            engine: sync_engine,
            shutdown: Some(tx),
            handle: Some(handle),
            test_db,
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        self.db.clone().close().await.ok();
        self.catalog.clone().close().await.ok();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A second server on the same database that answers every list with SQL (its listing
    /// index is off): the reference the index's answers are compared with.
    pub async fn sql_twin(&self) -> SqlTwin {
        let bound = cloudcensus::server::bind("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind");
        let base = format!("http://{}", bound.addr);
        let state = Arc::new(AppState {
            catalog: self.catalog.with_read_index(false),
            public_url: base.clone(),
            sync: self.engine.clone(),
        });
        let (tx, handle) = spawn_server(bound, state);
        SqlTwin {
            base,
            shutdown: tx,
            handle,
        }
    }

    pub async fn scoped_token(&self, name: &str, tenants: &[Uuid]) -> String {
        let ids = self.catalog.tenants().ids_of(tenants).await.expect("ids");
        self.catalog
            .tokens()
            .create(NewToken {
                name: name.into(),
                is_staff: false,
                tenants: ids.into_values().collect(),
                expires_in_days: None,
            })
            .await
            .expect("scoped token")
            .1
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
        Reply::from(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Some(&self.staff_token.clone()), None)
            .await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(
            Method::POST,
            path,
            Some(&self.staff_token.clone()),
            Some(body),
        )
        .await
    }

    /// Registers a cloud through the API and returns its JSON.
    pub async fn create_settings(&self, name: &str, shared: bool) -> Value {
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
        r.json()
    }

    /// Creates an offering scoped to a cloud or tenant (given as its JSON) and returns its uuid.
    pub async fn create_offering(&self, scope: &Value) -> String {
        let r = self
            .post(
                "/api/offerings/",
                json!({"name": "o", "scope": scope["url"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()["uuid"].as_str().unwrap().to_string()
    }

    /// Registers a tenant through the API and returns its JSON.
    pub async fn create_tenant(&self, settings: &Value, name: &str) -> Value {
        let r = self
            .post(
                "/api/openstack-tenants/",
                json!({"name": name, "backend_id": format!("proj-{name}"), "service_settings": settings["url"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }
}

/// Runs the real server in the background until the returned sender is used or dropped.
fn spawn_server(
    bound: cloudcensus::server::Bound,
    state: Arc<AppState>,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        cloudcensus::server::run(bound, state, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    (tx, handle)
}

pub struct SqlTwin {
    pub base: String,
    shutdown: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl SqlTwin {
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.handle.await;
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn from_response(resp: reqwest::Response) -> Self {
        Self::from(resp).await
    }

    async fn from(resp: reqwest::Response) -> Self {
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

    /// Names of a list body, in order.
    pub fn names(&self) -> Vec<String> {
        self.json()
            .as_array()
            .expect("array body")
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn uuids(&self) -> Vec<String> {
        self.json()
            .as_array()
            .expect("array body")
            .iter()
            .map(|i| i["uuid"].as_str().unwrap().to_string())
            .collect()
    }
}

pub fn uuid_of(v: &Value) -> Uuid {
    Uuid::parse_str(v["uuid"].as_str().unwrap()).unwrap()
}

pub async fn db_id_of_settings(db: &DatabaseConnection, v: &Value) -> CloudId {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    service_settings::Entity::find()
        .filter(service_settings::Column::Uuid.eq(uuid_of(v)))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id
}

pub async fn db_id_of_tenant(db: &DatabaseConnection, v: &Value) -> TenantId {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    tenants::Entity::find()
        .filter(tenants::Column::Uuid.eq(uuid_of(v)))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// An image to put into the catalog, as a sync would.
pub struct ImageSpec<'a> {
    pub name: &'a str,
    pub created: Option<DateTime<Utc>>,
    pub rescue_device: &'a str,
    pub tenants: Vec<TenantId>,
}

impl<'a> ImageSpec<'a> {
    pub fn new(name: &'a str) -> Self {
        Self {
            name,
            created: None,
            rescue_device: "",
            tenants: vec![],
        }
    }
    pub fn created(mut self, rfc3339: &str) -> Self {
        self.created = Some(
            DateTime::parse_from_rfc3339(rfc3339)
                .unwrap()
                .with_timezone(&Utc),
        );
        self
    }
    pub fn rescue(mut self, device: &'a str) -> Self {
        self.rescue_device = device;
        self
    }
    pub fn tenants(mut self, ids: &[TenantId]) -> Self {
        self.tenants = ids.to_vec();
        self
    }
}

pub async fn insert_image(
    db: &DatabaseConnection,
    settings_id: CloudId,
    spec: ImageSpec<'_>,
) -> images::Model {
    let image = images::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        settings_id: Set(settings_id),
        backend_id: Set(Uuid::new_v4().to_string()),
        name: Set(spec.name.to_string()),
        min_disk: Set(10240),
        min_ram: Set(512),
        status: Set("active".into()),
        visibility: Set(ImageVisibility::Public),
        size: Set(Some(1024)),
        checksum: Set(None),
        disk_format: Set(Some("qcow2".into())),
        container_format: Set(Some("bare".into())),
        backend_created_at: Set(spec.created),
        backend_updated_at: Set(spec.created),
        hw_rescue_device: Set(spec.rescue_device.to_string()),
        hw_rescue_bus: Set(if spec.rescue_device.is_empty() {
            String::new()
        } else {
            "virtio".into()
        }),
        properties: Set(json!({})),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert image");
    for tenant_id in spec.tenants {
        image_tenants::ActiveModel {
            image_id: Set(image.id),
            tenant_id: Set(tenant_id),
        }
        .insert(db)
        .await
        .expect("link image");
    }
    touch(db, settings_id).await;
    image
}

/// Raises the cloud's catalog version, as the catalog's own writes do, so the listing index
/// sees rows a test wrote directly.
pub async fn touch(db: &DatabaseConnection, cloud: CloudId) {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, QueryFilter};
    service_settings::Entity::update_many()
        .col_expr(
            service_settings::Column::CatalogVersion,
            Expr::col(service_settings::Column::CatalogVersion).add(1),
        )
        .filter(service_settings::Column::Id.eq(cloud))
        .exec(db)
        .await
        .expect("touch");
}

/// Row counts of the tables a sync writes: images, links, instances.
pub async fn count_rows(db: &DatabaseConnection) -> (u64, u64, u64) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    (
        images::Entity::find().count(db).await.expect("count"),
        image_tenants::Entity::find()
            .count(db)
            .await
            .expect("count"),
        instances::Entity::find().count(db).await.expect("count"),
    )
}

pub async fn insert_instance(
    db: &DatabaseConnection,
    settings_id: CloudId,
    tenant_id: TenantId,
    image_name: &str,
    status: &str,
    deleted: bool,
) {
    instances::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        settings_id: Set(settings_id),
        tenant_id: Set(tenant_id),
        backend_id: Set(Uuid::new_v4().to_string()),
        name: Set(format!("vm-{image_name}")),
        image_backend_id: Set(None),
        image_name: Set(image_name.to_string()),
        status: Set(status.to_string()),
        backend_created_at: Set(None),
        deleted_at: Set(deleted.then(Utc::now)),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert instance");
}
