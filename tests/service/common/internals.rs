//! Every use of the crate's internals by the tests, in one place: the server's state, the
//! database and its rows, the catalog's functions, the sync engine's construction. The tests
//! call these helpers; when the crate's internal API changes, only this file follows.
//!
//! Reading rows to check what a sync stored is deliberate: some facts (an encrypted column,
//! a token's hash, a staging table) are not visible through the API.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cloudcensus::api::AppState;
use cloudcensus::catalog::clouds::NewCloud;
use cloudcensus::catalog::credentials::Credentials;
use cloudcensus::catalog::tokens::{self, NewToken};
use cloudcensus::catalog::{Catalog, CloudId, ImageId, ImageVisibility, TenantId};
use cloudcensus::crypto::SecretBox;
use cloudcensus::openstack::retry::RetryPolicy;
use cloudcensus::sync::LogObserver;
use cloudcensus::sync::{SyncEngine, SyncSettings};
use entity::{
    api_tokens, image_tenants, images, instance_intervals, instances, service_settings, sync_runs,
    tenants,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{ServiceSettings, Tenant, TestApp};

pub const SECRET_KEY: &str = "test-secret-key-0123456789";

pub type TenantOutcome = cloudcensus::sync::TenantOutcome;
pub type InstanceRow = instances::Model;
pub type IntervalRow = instance_intervals::Model;
pub use cloudcensus::clock::Clock;
pub type Engine = Arc<SyncEngine>;

// --- databases ------------------------------------------------------------------------------

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

/// Opens (and migrates) a fresh database and registers a cloud straight through the catalog,
/// the first write after the migration.
pub async fn first_write_after_migrating(round: usize) -> Result<(), String> {
    let test_db = TestDb::new().await;
    let catalog = Catalog::open(&test_db.url, SecretBox::ephemeral(), true)
        .await
        .expect("open");
    let created = catalog
        .clouds()
        .create(NewCloud::with_password(
            &format!("cloud-{round}"),
            "http://127.0.0.1:9/v3",
            "u",
            "p",
        ))
        .await;
    catalog.close().await.ok();
    created.map(|_| ()).map_err(|e| format!("{e:?}"))
}

// --- servers --------------------------------------------------------------------------------

/// The real server on a free loopback port over a fresh database, with a staff token.
pub struct Server {
    pub base: String,
    pub staff_token: String,
    pub test_db: TestDb,
    catalog: Catalog,
    /// A connection of the tests' own, to seed and inspect rows directly.
    db: DatabaseConnection,
    /// The engine the test asked for (`pull/` goes to an idle one otherwise).
    engine: Option<Engine>,
    running: Running,
}

struct Running {
    shutdown: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.handle.await;
    }
}

/// Binds a free loopback port and runs the real server there until stopped.
async fn serve(catalog: Catalog, sync: Option<Engine>) -> (String, Running) {
    let bound = cloudcensus::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind");
    let base = format!("http://{}", bound.addr);
    // Without an engine of the test's, `pull/` starts syncs on one that is never scheduled.
    let sync = sync
        .unwrap_or_else(|| SyncEngine::new(catalog.clone(), SyncSettings::new("0 0 0 1 1 *", 1)));
    let state = Arc::new(AppState {
        catalog,
        public_url: base.clone(),
        sync,
        limits: Default::default(),
        metrics_token: None,
    });
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        cloudcensus::server::run(bound, state, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    (
        base,
        Running {
            shutdown: tx,
            handle,
        },
    )
}

/// The process's TLS crypto provider (ring), as `main` installs it.
pub fn install_crypto_provider() {
    cloudcensus::install_crypto_provider();
}

fn secret_box() -> SecretBox {
    SecretBox::from_passphrase(SECRET_KEY).unwrap()
}

impl Server {
    pub async fn start(engine: Option<EngineOptions>) -> Self {
        cloudcensus::install_crypto_provider();
        let test_db = TestDb::new().await;
        let catalog = Catalog::open(&test_db.url, secret_box(), true)
            .await
            .expect("open");
        let db = sea_orm::Database::connect(&test_db.url)
            .await
            .expect("connect");
        let engine = engine.map(|options| new_engine(&catalog, options));
        let (base, running) = serve(catalog.clone(), engine.clone()).await;
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
            staff_token,
            test_db,
            catalog,
            db,
            engine,
            running,
        }
    }

    pub async fn stop(self) {
        self.running.stop().await;
        self.db.close().await.ok();
        self.catalog.close().await.ok();
    }
}

/// A server on a database something else (the command line) migrated; the caller's tokens.
pub struct PlainServer {
    pub base: String,
    catalog: Catalog,
    running: Running,
}

impl PlainServer {
    pub async fn start(db_url: &str) -> Self {
        cloudcensus::install_crypto_provider();
        let catalog = Catalog::open(db_url, SecretBox::ephemeral(), true)
            .await
            .unwrap();
        let (base, running) = serve(catalog.clone(), None).await;
        Self {
            base,
            catalog,
            running,
        }
    }

    pub async fn stop(self) {
        self.running.stop().await;
        self.catalog.close().await.ok();
    }
}

/// A second server on the same database that answers every list with SQL (its listing
/// index is off): the reference the index's answers are compared with.
pub struct SqlTwin {
    pub base: String,
    running: Running,
}

impl SqlTwin {
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// The document `cloudcensus openapi` prints.
pub fn openapi_spec() -> String {
    cloudcensus::cli::spec()
}

// --- sync engines ---------------------------------------------------------------------------

/// How a test's sync engine is set up.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    real_openstack: bool,
    /// Records per staging batch (the engine's default when `None`).
    pub stage_batch: Option<usize>,
    /// Links per staging batch (the engine's default when `None`).
    pub stage_links_batch: Option<usize>,
    /// How long a claim on a tenant lives unrenewed (the engine's default when `None`).
    pub lease_ttl: Option<Duration>,
    /// When syncs observe things (the system clock when `None`).
    pub clock: Option<Clock>,
    /// How long closed lifecycle intervals are kept (forever when `None`).
    pub usage_retention: Option<chrono::Duration>,
}

impl EngineOptions {
    /// Short timeouts and quick retries so fault tests against the simulator finish fast;
    /// the schedule ticks every second.
    pub fn fast() -> Self {
        Self {
            real_openstack: false,
            stage_batch: None,
            stage_links_batch: None,
            lease_ttl: None,
            clock: None,
            usage_retention: None,
        }
    }

    /// Real Glance answers a limit=1000 page in about half a second, Keystone logins in tens
    /// of milliseconds: the simulator's short timeouts would be too tight there.
    pub fn real_openstack() -> Self {
        Self {
            real_openstack: true,
            ..Self::fast()
        }
    }

    pub fn stage_batch(mut self, n: usize) -> Self {
        self.stage_batch = Some(n);
        self
    }

    pub fn usage_retention(mut self, keep: chrono::Duration) -> Self {
        self.usage_retention = Some(keep);
        self
    }

    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = Some(ttl);
        self
    }

    pub fn stage_links_batch(mut self, n: usize) -> Self {
        self.stage_links_batch = Some(n);
        self
    }

    fn settings(self) -> SyncSettings {
        let mut s;
        if self.real_openstack {
            s = SyncSettings::new("0 0 0 1 1 *", 4);
            s.session.timeout = Duration::from_secs(30);
            s.session.connect_timeout = Duration::from_secs(5);
            s.session.retry = RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(1),
                max_retry_after: Duration::from_secs(5),
            };
        } else {
            s = SyncSettings::new("*/1 * * * * *", 4);
            s.session.timeout = Duration::from_millis(1500);
            s.session.connect_timeout = Duration::from_millis(500);
            s.session.retry = RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                max_retry_after: Duration::from_secs(2),
            };
        }
        if let Some(n) = self.stage_batch {
            s.stage_batch = n;
        }
        if let Some(n) = self.stage_links_batch {
            s.stage_links_batch = n;
        }
        if let Some(ttl) = self.lease_ttl {
            s.lease_ttl = ttl;
        }
        if let Some(clock) = self.clock {
            s.clock = clock;
        }
        s.usage_retention = self.usage_retention;
        s
    }
}

fn new_engine(catalog: &Catalog, options: EngineOptions) -> Engine {
    SyncEngine::new(catalog.clone(), options.settings())
}

/// The daily pruning of usage history, now.
pub async fn prune_usage(engine: &Engine) -> u64 {
    engine.prune_usage().await.expect("prune")
}

/// One sweep over every tenant, as the schedule runs it.
/// A delta poll of every polled cloud.
pub async fn delta_poll(engine: &Engine) -> Vec<cloudcensus::sync::delta::DeltaOutcome> {
    engine.delta_poll().await.expect("delta poll")
}

pub async fn sweep(engine: &Engine) -> Vec<TenantOutcome> {
    engine
        .sweep(None, None, Arc::new(LogObserver))
        .await
        .expect("sweep")
}

/// A sweep of only these tenants (uuids as the API shows them).
pub async fn sweep_only(engine: &Engine, tenants: &[&str]) -> Vec<TenantOutcome> {
    let uuids: Vec<uuid::Uuid> = tenants
        .iter()
        .map(|t| uuid::Uuid::parse_str(t).expect("tenant uuid"))
        .collect();
    engine
        .sweep(Some(&uuids), None, Arc::new(LogObserver))
        .await
        .expect("sweep")
}

pub async fn start_schedule(engine: &Engine) {
    engine.start_schedule().await.unwrap();
}

pub async fn shutdown(engine: &Engine, grace: Duration) {
    engine.shutdown(grace).await;
}

// --- rows -----------------------------------------------------------------------------------

/// An image to put into the catalog, as a sync would.
pub struct ImageSpec<'a> {
    pub name: &'a str,
    pub created: Option<DateTime<Utc>>,
    pub rescue_device: &'a str,
    pub tenants: Vec<Uuid>,
    /// Glance's detail: defaults to an active public 1 KiB qcow2 image of 10 GiB min disk.
    pub status: &'a str,
    pub visibility: ImageVisibility,
    pub size: Option<i64>,
    /// MiB.
    pub min_disk: i64,
    pub disk_format: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub tags: Vec<&'a str>,
    pub properties: Value,
}

impl<'a> ImageSpec<'a> {
    pub fn new(name: &'a str) -> Self {
        Self {
            name,
            created: None,
            rescue_device: "",
            tenants: vec![],
            status: "active",
            visibility: ImageVisibility::Public,
            size: Some(1024),
            min_disk: 10240,
            disk_format: Some("qcow2"),
            owner: None,
            tags: vec![],
            properties: json!({}),
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
    pub fn tenants(mut self, tenants: &[&Tenant]) -> Self {
        self.tenants = tenants.iter().map(|t| uuid(&t.uuid)).collect();
        self
    }
}

/// What a test needs to know about an image it inserted.
#[derive(Clone, Debug)]
pub struct InsertedImage {
    pub uuid: Uuid,
    pub backend_id: String,
}

/// An image row as a sync stored it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredImage {
    pub name: String,
    pub status: String,
    pub visibility: String,
    pub min_disk: i64,
    pub min_ram: i64,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub hw_rescue_device: String,
    pub properties: Value,
    pub has_backend_dates: bool,
}

impl From<images::Model> for StoredImage {
    fn from(m: images::Model) -> Self {
        Self {
            name: m.name,
            status: m.status,
            visibility: m.visibility.as_str().to_string(),
            min_disk: m.min_disk,
            min_ram: m.min_ram,
            disk_format: m.disk_format,
            container_format: m.container_format,
            hw_rescue_device: m.hw_rescue_device,
            properties: m.properties,
            has_backend_dates: m.backend_created_at.is_some() && m.backend_updated_at.is_some(),
        }
    }
}

/// The credentials stored for a cloud: the sealed column and what the key opens it to.
#[derive(Debug)]
pub struct StoredCredentials {
    pub sealed: String,
    pub opened: OpenedCredentials,
}

#[derive(Debug, PartialEq)]
pub enum OpenedCredentials {
    Password {
        username: String,
        password: String,
        project_name: Option<String>,
        project_id: Option<String>,
    },
    ApplicationCredential {
        secret: String,
    },
}

/// See [`TestApp::portable_snapshot`].
#[derive(Debug, PartialEq, Eq)]
pub struct PortableCatalog {
    pub images: BTreeMap<String, String>,
    /// (Glance id, project id, membership status).
    pub links: BTreeSet<(String, String, Option<String>)>,
    pub instances: BTreeMap<(String, String), String>,
}

/// Everything a sync writes to the catalog, for before/after comparisons.
#[derive(Debug, PartialEq)]
pub struct CatalogSnapshot {
    images: Vec<images::Model>,
    links: Vec<image_tenants::Model>,
    instances: Vec<instances::Model>,
}

fn uuid(hex: &str) -> Uuid {
    Uuid::parse_str(hex).unwrap_or_else(|e| panic!("{hex} is not a uuid: {e}"))
}

impl TestApp {
    fn db(&self) -> &DatabaseConnection {
        &self.server.db
    }

    /// The URL of this app's database (for the command line).
    pub fn database_url(&self) -> &str {
        &self.server.test_db.url
    }

    /// The engine `TestAppBuilder::with_engine` gave the server.
    pub fn engine(&self) -> Engine {
        self.server
            .engine
            .clone()
            .expect("the app was built with_engine")
    }

    /// A sync engine on this app's database (not wired to the server's `pull/`).
    pub fn new_engine(&self, options: EngineOptions) -> Engine {
        new_engine(&self.server.catalog, options)
    }

    /// A non-staff token that sees `tenants`.
    pub async fn scoped_token(&self, name: &str, tenants: &[&Tenant]) -> String {
        let catalog = &self.server.catalog;
        let uuids: Vec<Uuid> = tenants.iter().map(|t| uuid(&t.uuid)).collect();
        let ids = catalog.tenants().ids_of(&uuids).await.expect("tenant ids");
        catalog
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

    /// A staff token whose expiry passed an hour ago.
    pub async fn expired_token(&self) -> String {
        let (view, secret) = self
            .server
            .catalog
            .tokens()
            .create(NewToken {
                name: "soon".into(),
                is_staff: true,
                tenants: vec![],
                expires_in_days: Some(1),
            })
            .await
            .unwrap();
        api_tokens::Entity::update_many()
            .col_expr(
                api_tokens::Column::ExpiresAt,
                Expr::val(Utc::now() - chrono::Duration::hours(1)),
            )
            .filter(api_tokens::Column::Id.eq(view.token.id))
            .exec(self.db())
            .await
            .unwrap();
        secret
    }

    /// The stored token hashes, and the hash of a secret.
    pub async fn token_hashes(&self) -> Vec<String> {
        api_tokens::Entity::find()
            .all(self.db())
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.token_hash)
            .collect()
    }

    pub fn token_hash(secret: &str) -> String {
        tokens::hash(secret)
    }

    async fn cloud_id(&self, cloud: &ServiceSettings) -> CloudId {
        service_settings::Entity::find()
            .filter(service_settings::Column::Uuid.eq(uuid(&cloud.uuid)))
            .one(self.db())
            .await
            .unwrap()
            .expect("cloud row")
            .id
    }

    async fn tenant_id(&self, tenant_uuid: Uuid) -> TenantId {
        tenants::Entity::find()
            .filter(tenants::Column::Uuid.eq(tenant_uuid))
            .one(self.db())
            .await
            .unwrap()
            .expect("tenant row")
            .id
    }

    /// Puts an image into a cloud's catalog as a sync would (min_disk 10240, min_ram 512,
    /// rescue bus `virtio` for rescue images), linked to the spec's tenants.
    pub async fn insert_image(
        &self,
        cloud: &ServiceSettings,
        spec: ImageSpec<'_>,
    ) -> InsertedImage {
        let image = self.write_image(cloud, spec).await;
        self.rebuild_index().await;
        image
    }

    /// The same image written by another process: the server's index learns of it only
    /// through the cloud's catalog version.
    pub async fn insert_image_from_another_process(
        &self,
        cloud: &ServiceSettings,
        spec: ImageSpec<'_>,
    ) -> InsertedImage {
        self.write_image(cloud, spec).await
    }

    async fn write_image(&self, cloud: &ServiceSettings, spec: ImageSpec<'_>) -> InsertedImage {
        let cloud_id = self.cloud_id(cloud).await;
        let image = images::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            cloud_id: Set(cloud_id),
            backend_id: Set(Uuid::new_v4().to_string()),
            name: Set(spec.name.to_string()),
            min_disk: Set(spec.min_disk),
            min_ram: Set(512),
            status: Set(spec.status.into()),
            visibility: Set(spec.visibility),
            size: Set(spec.size),
            checksum: Set(None),
            disk_format: Set(spec.disk_format.map(String::from)),
            owner: Set(spec.owner.map(String::from)),
            tags: Set(json!(spec.tags)),
            container_format: Set(Some("bare".into())),
            backend_created_at: Set(spec.created),
            backend_updated_at: Set(spec.created),
            hw_rescue_device: Set(spec.rescue_device.to_string()),
            hw_rescue_bus: Set(if spec.rescue_device.is_empty() {
                String::new()
            } else {
                "virtio".into()
            }),
            properties: Set(spec.properties),
            ..Default::default()
        }
        .insert(self.db())
        .await
        .expect("insert image");
        for tenant in spec.tenants {
            image_tenants::ActiveModel {
                image_id: Set(image.id),
                tenant_id: Set(self.tenant_id(tenant).await),
                member_status: Set(None),
            }
            .insert(self.db())
            .await
            .expect("link image");
        }
        self.bump_version(cloud_id).await;
        InsertedImage {
            uuid: image.uuid,
            backend_id: image.backend_id,
        }
    }

    /// Puts `n` bare images named `n000`, `n001`, … (backend ids `b0`, `b1`, …) into a
    /// cloud's catalog in one statement.
    pub async fn insert_numbered_images(&self, cloud: &ServiceSettings, n: usize) {
        let sid = self.cloud_id(cloud).await;
        let rows: Vec<images::ActiveModel> = (0..n)
            .map(|i| images::ActiveModel {
                uuid: Set(Uuid::new_v4()),
                cloud_id: Set(sid),
                backend_id: Set(format!("b{i}")),
                name: Set(format!("n{i:03}")),
                min_disk: Set(0),
                min_ram: Set(0),
                status: Set("active".into()),
                visibility: Set(ImageVisibility::Public),
                size: Set(None),
                checksum: Set(None),
                disk_format: Set(None),
                container_format: Set(None),
                backend_created_at: Set(None),
                backend_updated_at: Set(None),
                hw_rescue_device: Set(String::new()),
                hw_rescue_bus: Set(String::new()),
                properties: Set(json!({})),
                ..Default::default()
            })
            .collect();
        images::Entity::insert_many(rows)
            .exec(self.db())
            .await
            .unwrap();
        self.touch(sid).await;
    }

    /// Raises the cloud's catalog version and refreshes the server's listing index, as the
    /// catalog's own writes do, so the next request lists rows a test wrote directly.
    async fn touch(&self, cloud: CloudId) {
        self.bump_version(cloud).await;
        self.rebuild_index().await;
    }

    /// Raises the cloud's catalog version only, as another process's write does.
    async fn bump_version(&self, cloud: CloudId) {
        service_settings::Entity::update_many()
            .col_expr(
                service_settings::Column::CatalogVersion,
                Expr::col(service_settings::Column::CatalogVersion).add(1),
            )
            .filter(service_settings::Column::Id.eq(cloud))
            .exec(self.db())
            .await
            .expect("touch");
    }

    /// An instance of a tenant booted from an image of that name, written as a sync does
    /// (the cloud's usage version raised) and indexed before this returns.
    pub async fn insert_instance(
        &self,
        cloud: &ServiceSettings,
        tenant: &Tenant,
        image_name: &str,
        status: &str,
        deleted: bool,
    ) {
        let cloud_id = self.cloud_id(cloud).await;
        instances::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            cloud_id: Set(cloud_id),
            tenant_id: Set(self.tenant_id(uuid(&tenant.uuid)).await),
            backend_id: Set(Uuid::new_v4().to_string()),
            name: Set(format!("vm-{image_name}")),
            image_backend_id: Set(None),
            image_name: Set(image_name.to_string()),
            status: Set(status.into()),
            backend_created_at: Set(None),
            deleted_at: Set(deleted.then(Utc::now)),
            ..Default::default()
        }
        .insert(self.db())
        .await
        .expect("insert instance");
        service_settings::Entity::update_many()
            .col_expr(
                service_settings::Column::UsageVersion,
                Expr::col(service_settings::Column::UsageVersion).add(1),
            )
            .filter(service_settings::Column::Id.eq(cloud_id))
            .exec(self.db())
            .await
            .expect("touch usage");
        self.rebuild_index().await;
    }

    /// The credentials stored for the (only) cloud.
    pub async fn stored_credentials(&self) -> StoredCredentials {
        let row = service_settings::Entity::find()
            .one(self.db())
            .await
            .unwrap()
            .unwrap();
        let sealed = row.credentials.expect("sealed credentials");
        let opened = match Credentials::open(&secret_box(), &sealed).unwrap() {
            Credentials::Password {
                username,
                password,
                project_name,
                project_id,
            } => OpenedCredentials::Password {
                username,
                password,
                project_name,
                project_id,
            },
            Credentials::ApplicationCredential { secret, .. } => {
                OpenedCredentials::ApplicationCredential { secret }
            }
        };
        StoredCredentials { sealed, opened }
    }

    /// The client key column of the cloud with this uuid as stored, and opened with the key.
    pub async fn stored_tls_key(&self, cloud: &str) -> Option<(String, String)> {
        let row = service_settings::Entity::find()
            .filter(service_settings::Column::Uuid.eq(uuid(cloud)))
            .one(self.db())
            .await
            .unwrap()
            .unwrap();
        let sealed = row.tls_key?;
        let opened = String::from_utf8(secret_box().open(&sealed).unwrap()).unwrap();
        Some((sealed, opened))
    }

    /// What a process that died mid-sync leaves: its claim on the tenant (live for
    /// `expires_in` more) and its run, still `running`.
    pub async fn leave_dead_claim(&self, tenant: &Tenant, holder: &str, expires_in: Duration) {
        let id = self.tenant_id(uuid(&tenant.uuid)).await;
        let runs = self.server.catalog.sync_runs();
        let ttl = chrono::Duration::from_std(expires_in).unwrap();
        assert!(
            runs.acquire_lease(id, holder, Utc::now(), ttl, None)
                .await
                .unwrap()
        );
        runs.start(id, holder, Utc::now()).await.unwrap();
    }

    /// Syncs the tenant on `engine` as a sweep's task does once it has a slot, without the
    /// closing of dead runs a sweep starts with; whether the engine could claim the tenant.
    pub async fn run_tenant(&self, engine: &Engine, tenant: &Tenant) -> bool {
        let id = self.tenant_id(uuid(&tenant.uuid)).await;
        engine
            .run_tenant(id, None)
            .await
            .expect("sync bookkeeping")
            .is_some()
    }

    /// How many sync runs the tenant has.
    pub async fn sync_runs_of(&self, tenant: &Tenant) -> u64 {
        let id = self.tenant_id(uuid(&tenant.uuid)).await;
        sync_runs::Entity::find()
            .filter(sync_runs::Column::TenantId.eq(id))
            .count(self.db())
            .await
            .unwrap()
    }

    /// The image row of a Glance id (in any cloud).
    pub async fn image_row(&self, backend_id: &str) -> Option<StoredImage> {
        images::Entity::find()
            .filter(images::Column::BackendId.eq(backend_id))
            .one(self.db())
            .await
            .unwrap()
            .map(Into::into)
    }

    /// The image row of a Glance id in one cloud.
    pub async fn image_row_in(
        &self,
        cloud: &ServiceSettings,
        backend_id: &str,
    ) -> Option<StoredImage> {
        let cloud_id = self.cloud_id(cloud).await;
        images::Entity::find()
            .filter(images::Column::BackendId.eq(backend_id))
            .filter(images::Column::CloudId.eq(cloud_id))
            .one(self.db())
            .await
            .unwrap()
            .map(Into::into)
    }

    /// (images, image-tenant links, instances) rows.
    pub async fn count_rows(&self) -> (u64, u64, u64) {
        let db = self.db();
        (
            images::Entity::find().count(db).await.unwrap(),
            image_tenants::Entity::find().count(db).await.unwrap(),
            instances::Entity::find().count(db).await.unwrap(),
        )
    }

    /// Rows left in the sync staging table.
    pub async fn staged_rows(&self) -> i64 {
        let db = self.db();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM sync_stage",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    pub async fn snapshot(&self) -> CatalogSnapshot {
        let db = self.db();
        CatalogSnapshot {
            images: images::Entity::find()
                .order_by_asc(images::Column::Id)
                .all(db)
                .await
                .unwrap(),
            links: image_tenants::Entity::find().all(db).await.unwrap(),
            instances: instances::Entity::find()
                .order_by_asc(instances::Column::Id)
                .all(db)
                .await
                .unwrap(),
        }
    }

    /// The catalog in upstream terms, comparable across databases: images by Glance id with
    /// every describing column, links as (Glance id, project id, membership status), instances
    /// by Nova id with their project and every describing column; row ids, uuids and write
    /// stamps left out.
    pub async fn portable_snapshot(&self) -> PortableCatalog {
        let db = self.db();
        let projects: HashMap<TenantId, String> = tenants::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.backend_id))
            .collect();
        let images = images::Entity::find().all(db).await.unwrap();
        let glance_ids: HashMap<_, String> = images
            .iter()
            .map(|i| (i.id, i.backend_id.clone()))
            .collect();
        PortableCatalog {
            images: images
                .into_iter()
                .map(|mut i| {
                    let key = i.backend_id.clone();
                    (i.id, i.uuid, i.cloud_id) = (ImageId(0), Uuid::nil(), CloudId(0));
                    (key, format!("{i:?}"))
                })
                .collect(),
            links: image_tenants::Entity::find()
                .all(db)
                .await
                .unwrap()
                .into_iter()
                .map(|l| {
                    (
                        glance_ids[&l.image_id].clone(),
                        projects[&l.tenant_id].clone(),
                        l.member_status.map(|s| s.as_str().to_string()),
                    )
                })
                .collect(),
            instances: instances::Entity::find()
                .all(db)
                .await
                .unwrap()
                .into_iter()
                .map(|mut i| {
                    let key = (i.backend_id.clone(), projects[&i.tenant_id].clone());
                    (i.id, i.uuid, i.cloud_id) = (0, Uuid::nil(), CloudId(0));
                    (i.tenant_id, i.usage_seq) = (TenantId(0), 0);
                    (key, format!("{i:?}"))
                })
                .collect(),
        }
    }

    /// The Glance image id an instance row refers to (`None` when booted from a volume).
    pub async fn instance_image_backend_id(&self, backend_id: &str) -> Option<String> {
        self.instance_row(backend_id).await.image_backend_id
    }

    /// Deletes every lifecycle interval, as a database from before the history existed has none.
    pub async fn forget_intervals(&self) {
        instance_intervals::Entity::delete_many()
            .exec(self.db())
            .await
            .unwrap();
    }

    /// The lifecycle intervals of the instance with this Nova id, in order.
    pub async fn intervals_of(&self, backend_id: &str) -> Vec<IntervalRow> {
        let instance = self.instance_row(backend_id).await;
        instance_intervals::Entity::find()
            .filter(instance_intervals::Column::InstanceId.eq(instance.id))
            .order_by_asc(instance_intervals::Column::StartedAt)
            .order_by_asc(instance_intervals::Column::Id)
            .all(self.db())
            .await
            .unwrap()
    }

    /// The stored row of the instance with this Nova id.
    pub async fn instance_row(&self, backend_id: &str) -> InstanceRow {
        instances::Entity::find()
            .filter(instances::Column::BackendId.eq(backend_id))
            .one(self.db())
            .await
            .unwrap()
            .expect("instance row")
    }

    /// The image names stored on instances booted from an image.
    pub async fn booted_instances_image_names(&self) -> Vec<String> {
        instances::Entity::find()
            .filter(instances::Column::ImageBackendId.is_not_null())
            .all(self.db())
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.image_name)
            .collect()
    }

    /// Every sync run with the holder that ran it (which the API does not show), oldest
    /// first.
    pub async fn runs_with_holders(&self) -> Vec<HeldRun> {
        let uuids = self.tenant_uuids().await;
        sync_runs::Entity::find()
            .order_by_asc(sync_runs::Column::StartedAt)
            .order_by_asc(sync_runs::Column::Id)
            .all(self.db())
            .await
            .unwrap()
            .into_iter()
            .map(|r| HeldRun {
                tenant_uuid: uuids[&r.tenant_id],
                holder: r.holder,
                outcome: r.outcome.as_str().to_string(),
                started_at: r.started_at,
                finished_at: r.finished_at,
            })
            .collect()
    }

    /// The live and expired claims on tenants: tenant uuid to (holder, expiry).
    pub async fn claims(&self) -> HashMap<Uuid, (String, DateTime<Utc>)> {
        tenants::Entity::find()
            .filter(tenants::Column::SyncLeaseHolder.is_not_null())
            .all(self.db())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|t| Some((t.uuid, (t.sync_lease_holder?, t.sync_lease_expires_at?))))
            .collect()
    }

    async fn tenant_uuids(&self) -> HashMap<TenantId, Uuid> {
        tenants::Entity::find()
            .all(self.db())
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.uuid))
            .collect()
    }

    /// Every sync run as (tenant row id, the second it started), oldest first.
    pub async fn sync_run_starts(&self) -> Vec<(i32, i64)> {
        sync_runs::Entity::find()
            .order_by_asc(sync_runs::Column::StartedAt)
            .all(self.db())
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.tenant_id.0, r.started_at.timestamp()))
            .collect()
    }

    // The listing index.

    /// Rebuilds the index; how many clouds it read again.
    pub async fn rebuild_index(&self) -> usize {
        self.server
            .catalog
            .rebuild_read_index()
            .await
            .expect("index")
    }

    /// How many answers the index has served.
    pub fn index_served(&self) -> u64 {
        self.server.catalog.read_index_served()
    }

    pub async fn sql_twin(&self) -> SqlTwin {
        let (base, running) = serve(self.server.catalog.with_read_index(false), None).await;
        SqlTwin { base, running }
    }

    /// Another replica on this app's database: a catalog (pools, listing index, token cache)
    /// and server of its own, as a second process would have.
    pub async fn replica(&self) -> Replica {
        let catalog = Catalog::open(&self.server.test_db.url, secret_box(), true)
            .await
            .expect("open");
        let (base, running) = serve(catalog.clone(), None).await;
        Replica {
            base,
            catalog,
            running,
        }
    }
}

/// A sync run as stored, with its holder.
#[derive(Clone, Debug)]
pub struct HeldRun {
    pub tenant_uuid: Uuid,
    pub holder: Option<String>,
    pub outcome: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A second server process on the same database (see `TestApp::replica`).
pub struct Replica {
    pub base: String,
    catalog: Catalog,
    running: Running,
}

impl Replica {
    pub async fn stop(self) {
        self.running.stop().await;
        self.catalog.close().await.ok();
    }
}

// --- OpenStack clients ----------------------------------------------------------------------

pub use cloudcensus::openstack::OpenStackError;
pub use cloudcensus::openstack::cinder::{CinderVolume, VolumeAttachment, VolumeList, VolumePager};
/// The clients of the cloud-wide listings (`sync/cloud_listings.rs`).
pub mod clients {
    pub use cloudcensus::openstack::Session;
    pub use cloudcensus::openstack::cinder::{VolumeList, list_volumes, list_volumes_all_tenants};
    pub use cloudcensus::openstack::glance::{ImageMember, info as glance_info, members};
    pub use cloudcensus::openstack::nova::ServerPager;
    pub use cloudcensus::openstack::projects::{KeystoneProject, list_projects};
}

/// A session of the crate's OpenStack client as `user` on `project_id`, public interface, with
/// the fast retries of the simulator's engines.
pub fn openstack_session(
    auth_url: &str,
    region: &str,
    user: &str,
    password: &str,
    project_id: &str,
) -> cloudcensus::openstack::Session {
    use cloudcensus::openstack::keystone::{AuthMethod, ProjectScope};
    install_crypto_provider();
    cloudcensus::openstack::Session::new(cloudcensus::openstack::SessionConfig {
        auth_url: auth_url.to_string(),
        interface: "public".into(),
        region: region.to_string(),
        auth: AuthMethod::Password {
            username: user.to_string(),
            password: password.to_string(),
            user_domain: "Default".into(),
            project: ProjectScope::Id(project_id.to_string()),
        },
        settings: cloudcensus::openstack::SessionSettings {
            connect_timeout: Duration::from_millis(500),
            timeout: Duration::from_millis(1500),
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                max_retry_after: Duration::from_secs(2),
            },
        },
        tls: Default::default(),
    })
    .expect("a session")
}

/// The Cinder client's listing of the session's project; `Ok(None)` for a cloud without Cinder.
pub async fn cinder_volumes(
    session: &cloudcensus::openstack::Session,
) -> Result<Option<VolumeList>, OpenStackError> {
    cloudcensus::openstack::cinder::list_volumes(session).await
}

/// The page sizes the Cinder pager returns, and the volumes it skipped as malformed.
pub async fn cinder_pages(
    session: &cloudcensus::openstack::Session,
) -> Result<(Vec<usize>, u64), OpenStackError> {
    let mut pager = cloudcensus::openstack::cinder::VolumePager::open(session)
        .await?
        .expect("a volume endpoint");
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await? {
        sizes.push(page.len());
    }
    Ok((sizes, pager.skipped()))
}
