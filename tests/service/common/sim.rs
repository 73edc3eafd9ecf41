//! Sync tests against the OpenStack simulator over real sockets: a simulated cloud, the test
//! app with that cloud and one tenant per project registered, and a sync engine.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cloudcensus_sim::{Flavor, GenSpec, Image, Server, Simulator, World};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::internals::{self, Engine};
use super::{
    EngineOptions, ServiceSettings, Tenant, TenantOutcome, TestApp, assert_same_ids,
    glance_ids_for_token,
};

/// A public, active qcow2 image of 1 GiB named `name`, created and last updated `at`.
pub fn public_image(id: &str, name: &str, owner: &str, at: DateTime<Utc>) -> Image {
    Image {
        id: id.into(),
        name: Some(name.into()),
        owner: owner.into(),
        visibility: "public".into(),
        members: Vec::new(),
        os_hidden: false,
        status: "active".into(),
        min_disk: 0,
        min_ram: 0,
        size: Some(1 << 30),
        checksum: None,
        disk_format: Some("qcow2".into()),
        container_format: Some("bare".into()),
        protected: false,
        tags: Vec::new(),
        created_at: at,
        updated_at: at,
        properties: Default::default(),
    }
}

/// A usage report's `start` and `end` query parameters, URL-safe.
pub fn report_window(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let q = |t: DateTime<Utc>| t.to_rfc3339().replace('+', "%2B");
    format!("start={}&end={}", q(start), q(end))
}

/// A flavor whose id is its name.
pub fn flavor(name: &str, vcpus: i64, ram_mib: i64, disk_gib: i64, ephemeral_gib: i64) -> Flavor {
    Flavor {
        id: name.into(),
        name: name.into(),
        vcpus,
        ram: ram_mib,
        disk: disk_gib,
        ephemeral: ephemeral_gib,
    }
}

/// A generated world: `projects` projects with `user-<i>` / `password-<i>` members, their
/// images and servers.
/// Boots the server `vm` in the world's first project, from an image that project owns, on
/// `flavor` (at the simulator's time).
pub fn boot_vm(sim: &Simulator, flavor: Flavor) {
    let (project, image) = sim.with_world(|w| {
        let project = w.projects[0].id.clone();
        let image = w
            .images
            .iter()
            .find(|i| i.owner == project)
            .map(|i| i.id.clone());
        (project, image)
    });
    sim.boot_server(Server {
        id: "vm".into(),
        name: "vm".into(),
        project_id: project,
        image_id: image,
        flavor,
        ..Default::default()
    });
}

pub fn generated_world(projects: usize, images: usize, servers: usize, seed: u64) -> World {
    World::generate(&GenSpec {
        projects,
        images_per_project: images,
        servers_per_project: servers,
        seed,
    })
}

pub struct SimAppBuilder {
    world: World,
    register: bool,
    sync_mode: &'static str,
    engine: EngineOptions,
    serving_pulls: bool,
    own_logins: bool,
}

impl SimAppBuilder {
    /// Each tenant is registered with the credentials of its project's generated user
    /// (`user-<i>`, no admin role): per tenant, it syncs with a member's own token.
    pub fn own_logins(mut self) -> Self {
        self.own_logins = true;
        self
    }

    /// Registers nothing: the test registers its own cloud and tenants.
    pub fn unregistered(mut self) -> Self {
        self.register = false;
        self
    }

    /// The registered cloud's `sync_mode` (`per_tenant` unless set: most tests are about a
    /// tenant's own listing).
    pub fn sync_mode(mut self, mode: &'static str) -> Self {
        self.sync_mode = mode;
        self
    }

    pub fn engine(mut self, options: EngineOptions) -> Self {
        self.engine = options;
        self
    }

    /// The engine is the server's, so `pull/` starts syncs.
    pub fn serving_pulls(mut self) -> Self {
        self.serving_pulls = true;
        self
    }

    pub async fn start(self) -> SimApp {
        let sim = Simulator::start(self.world)
            .await
            .expect("simulator starts");
        let (app, engine) = if self.serving_pulls {
            let app = TestApp::init().with_engine(self.engine).start().await;
            let engine = app.engine();
            (app, engine)
        } else {
            let app = TestApp::new().await;
            let engine = app.new_engine(self.engine);
            (app, engine)
        };
        let mut s = SimApp {
            sim,
            app,
            engine,
            cloud: None,
            tenants: Vec::new(),
            sync_mode: self.sync_mode,
            own_logins: self.own_logins,
        };
        if self.register {
            let (cloud, tenants) = s.register("sim").await;
            s.cloud = Some(cloud);
            s.tenants = tenants;
        }
        s
    }
}

/// The simulator, the app, and (unless unregistered) the cloud "sim" with admin
/// `admin`/`admin-password` and one tenant per project, in project order.
pub struct SimApp {
    pub sim: Simulator,
    pub app: TestApp,
    pub engine: Engine,
    cloud: Option<ServiceSettings>,
    pub tenants: Vec<Tenant>,
    sync_mode: &'static str,
    own_logins: bool,
}

impl SimApp {
    /// A generated world (seed 7).
    pub fn generated(projects: usize, images: usize, servers: usize) -> SimAppBuilder {
        Self::world(generated_world(projects, images, servers, 7))
    }

    pub fn world(world: World) -> SimAppBuilder {
        SimAppBuilder {
            world,
            register: true,
            sync_mode: "per_tenant",
            engine: EngineOptions::fast(),
            serving_pulls: false,
            own_logins: false,
        }
    }

    #[track_caller]
    pub fn cloud(&self) -> &ServiceSettings {
        self.cloud.as_ref().expect("registered")
    }

    pub async fn sweep(&self) -> Vec<TenantOutcome> {
        internals::sweep(&self.engine).await
    }

    /// A sweep of tenant `i` alone, which must succeed.
    pub async fn sweep_tenant_ok(&self, i: usize) {
        for o in internals::sweep_only(&self.engine, &[&self.tenants[i].uuid]).await {
            assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
        }
    }

    /// A sweep in which every tenant must succeed.
    pub async fn sweep_ok(&self) -> Vec<TenantOutcome> {
        let outcomes = self.sweep().await;
        for o in &outcomes {
            assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
        }
        outcomes
    }

    /// Registers the simulated cloud with its admin user, and one tenant per project.
    pub async fn register(&self, name: &str) -> (ServiceSettings, Vec<Tenant>) {
        let cloud = self
            .app
            .post(
                "/api/service-settings/",
                json!({"name": name, "options": {"auth_url": self.sim.auth_url(), "sync_mode": self.sync_mode}, "username": "admin", "password": "admin-password"}),
            )
            .await;
        assert_eq!(cloud.status, StatusCode::CREATED, "{}", cloud.text);
        let cloud: ServiceSettings = cloud.parse();
        let projects = self.sim.with_world(|w| w.projects.clone());
        let mut tenants = Vec::new();
        for (i, p) in projects.into_iter().enumerate() {
            let mut body =
                json!({"name": p.name, "backend_id": p.id, "service_settings": cloud.url});
            if self.own_logins {
                body["user_username"] = json!(format!("user-{i}"));
                body["user_password"] = json!(format!("password-{i}"));
            }
            let t = self.app.post("/api/openstack-tenants/", body).await;
            assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
            tenants.push(t.parse());
        }
        (cloud, tenants)
    }

    /// What Glance lists for the generated user of tenant `i` (`user-<i>`).
    pub async fn glance_ids_of(&self, i: usize) -> BTreeSet<String> {
        glance_ids(
            &self.sim,
            &format!("user-{i}"),
            &format!("password-{i}"),
            &self.tenants[i].backend_id,
        )
        .await
    }

    /// Every registered tenant's catalog holds exactly what its generated user sees in Glance.
    pub async fn assert_catalogs_match_glance(&self, label: &str) {
        for (i, t) in self.tenants.iter().enumerate() {
            let want = self.glance_ids_of(i).await;
            assert_same_ids(
                &self.app.catalog_ids(t).await,
                &want,
                &format!("{label}: tenant {}", t.name),
            );
        }
    }

    /// Every registered tenant's catalog, in tenant order.
    pub async fn catalogs(&self) -> Vec<BTreeSet<String>> {
        let mut out = Vec::new();
        for t in &self.tenants {
            out.push(self.app.catalog_ids(t).await);
        }
        out
    }

    pub async fn stop(self) {
        self.app.stop().await;
        self.sim.stop().await;
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
    let (image_url, token) = glance_login(sim, user, password, project_id).await;
    glance_ids_for_token(&reqwest::Client::new(), &image_url, &token).await
}

/// A user's token for a project and the Glance endpoint (without `/v2`) its catalog names.
pub async fn glance_login(
    sim: &Simulator,
    user: &str,
    password: &str,
    project_id: &str,
) -> (String, String) {
    service_login(sim, user, password, project_id, "image").await
}

/// A user's token for a project and the public endpoint its catalog names for
/// `service_type`, without a trailing slash.
pub async fn service_login(
    sim: &Simulator,
    user: &str,
    password: &str,
    project_id: &str,
    service_type: &str,
) -> (String, String) {
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
    assert_eq!(auth.status(), StatusCode::CREATED);
    let token = auth.headers()["X-Subject-Token"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = auth.json().await.unwrap();
    let image_url = body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == service_type)
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
    (image_url, token)
}
