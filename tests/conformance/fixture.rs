//! What the cases start from: two fresh Keystone projects with a member user each, the
//! catalog app with two clouds and three tenants of them, and Glance images of every kind.
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{OnceCell, Semaphore};
use tokio::task::JoinSet;

use crate::common::internals::{self, Engine};
use crate::common::{
    EngineOptions, Image, ServiceSettings, Tenant, TenantOutcome, TestApp, assert_same_ids,
};
use crate::openstack::{Cloud, Project, User};
use crate::stack::stack;

/// A short tag that makes a case's OpenStack names unique.
pub fn run_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_string()
}

/// Keystone revokes a user's or project's tokens with events of one-second precision, and a
/// token issued within the same second as such an event is revoked too: Keystone hands it
/// out (201) and then fails its validation, so Glance answers 401. Let that second pass
/// before the next sync.
pub async fn let_revocation_settle() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// Connects to the stack (starting it on first use) as its admin.
pub async fn connect() -> Cloud {
    let stack = tokio::task::block_in_place(stack);
    Cloud::connect(stack).await
}

/// A project whose member owns more than one page of Glance's maximum (1000) of private
/// images; made once per test binary and shared, read-only.
pub struct Bulk {
    pub project: Project,
    pub user: User,
    pub images: Vec<String>,
}

pub const BULK: usize = 1030;
static BULK_PROJECT: OnceCell<Bulk> = OnceCell::const_new();

/// The shared bulk project; whichever case needs it first makes it (16 creates in flight).
pub async fn bulk(os: &Cloud) -> &'static Bulk {
    BULK_PROJECT
        .get_or_init(|| async {
            let started = Instant::now();
            let tag = run_tag();
            let project = os.create_project(&format!("tenant-bulk-{tag}")).await;
            let user = os
                .create_member(&format!("user-bulk-{tag}"), &project)
                .await;
            let token = os.login(&user, &project).await;
            let gate = Arc::new(Semaphore::new(16));
            let mut set = JoinSet::new();
            for i in 0..BULK {
                let os = os.clone();
                let gate = gate.clone();
                let token = token.clone();
                let name = format!("bulk-{i:04}-{tag}");
                set.spawn(async move {
                    let _permit = gate.acquire_owned().await.unwrap();
                    os.create_image(&token, json!({"name": name, "visibility": "private"}))
                        .await
                });
            }
            let mut images = Vec::with_capacity(BULK);
            while let Some(id) = set.join_next().await {
                images.push(id.expect("create task"));
            }
            eprintln!(
                "  {BULK} bulk images created in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Bulk {
                project,
                user,
                images,
            }
        })
        .await
}

/// Projects a and b with member users; the cloud admin may act in b too (the cloud's
/// credentials are scoped to a tenant's project); user b's application credential. In the
/// catalog: cloud "real-openstack" (admin password) with tenant-a (user a's own password) and
/// tenant-b (the cloud's credentials), cloud "real-openstack-appcred" with tenant-b by the
/// application credential.
pub struct Scenario {
    pub os: Cloud,
    pub tag: String,
    pub a: Project,
    pub b: Project,
    pub user_a: User,
    pub user_b: User,
    pub adm: String,
    pub tok_a: String,
    pub tok_b: String,
    pub app_secret: String,
    pub app: TestApp,
    pub cloud: ServiceSettings,
    pub cloud_app: ServiceSettings,
    pub t_a: Tenant,
    pub t_b: Tenant,
    pub t_b_app: Tenant,
    pub engine: Engine,
}

impl Scenario {
    /// Two fresh projects.
    pub async fn start() -> Self {
        let os = connect().await;
        let tag = run_tag();
        let a = os.create_project(&format!("tenant-a-{tag}")).await;
        let user_a = os.create_member(&format!("user-a-{tag}"), &a).await;
        Self::with_project_a(os, tag, a, user_a).await
    }

    /// Project a is the shared bulk project.
    pub async fn with_bulk() -> (Self, &'static Bulk) {
        let os = connect().await;
        let bulk = bulk(&os).await;
        let s = Self::with_project_a(os, run_tag(), bulk.project.clone(), bulk.user.clone()).await;
        (s, bulk)
    }

    async fn with_project_a(os: Cloud, tag: String, a: Project, user_a: User) -> Self {
        let b = os.create_project(&format!("tenant-b-{tag}")).await;
        let user_b = os.create_member(&format!("user-b-{tag}"), &b).await;
        let admin_id = os.admin_user_id.clone();
        os.grant(&b, &admin_id, "admin").await;
        let tok_b = os.login(&user_b, &b).await;
        let (app_id, app_secret) = os.application_credential(&user_b, &tok_b).await;
        let tok_a = os.login(&user_a, &a).await;

        let app = TestApp::new().await;
        let cloud = register_cloud(&app, &os, "real-openstack", "").await;
        let cloud_app = register_cloud(&app, &os, "real-openstack-appcred", "").await;
        let t_a = register_tenant(
            &app,
            &cloud,
            &a,
            "tenant-a (own password)",
            json!({"user_username": user_a.name, "user_password": user_a.password}),
        )
        .await;
        let t_b = register_tenant(&app, &cloud, &b, "tenant-b (cloud admin)", json!({})).await;
        let t_b_app = register_tenant(
            &app,
            &cloud_app,
            &b,
            "tenant-b (application credential)",
            json!({"application_credential_id": app_id, "application_credential_secret": app_secret}),
        )
        .await;
        let engine = app.new_engine(EngineOptions::real_openstack());
        Self {
            adm: os.admin_token.clone(),
            os,
            tag,
            a,
            b,
            user_a,
            user_b,
            tok_a,
            tok_b,
            app_secret,
            app,
            cloud,
            cloud_app,
            t_a,
            t_b,
            t_b_app,
            engine,
        }
    }

    /// Two fresh projects with `create_images`, synced once (every tenant OK).
    pub async fn synced() -> (Self, Images) {
        let s = Self::start().await;
        let images = s.create_images().await;
        s.sweep_ok("first sync").await;
        (s, images)
    }

    /// A name unique to this case.
    pub fn name(&self, n: &str) -> String {
        format!("{n}-{}", self.tag)
    }

    pub async fn sweep(&self) -> Vec<TenantOutcome> {
        internals::sweep(&self.engine).await
    }

    /// A sweep in which all three tenants must succeed.
    pub async fn sweep_ok(&self, step: &str) -> Vec<TenantOutcome> {
        let outcomes = self.sweep().await;
        assert_all_ok(&outcomes, 3, step);
        for o in &outcomes {
            eprintln!(
                "    {step}: {}: {:.2} s, {:?}",
                o.tenant_name,
                o.duration.as_secs_f64(),
                o.result.as_ref().unwrap().counts
            );
        }
        outcomes
    }

    /// Checks a tenant's catalog against Glance's own listing with `token`.
    pub async fn assert_matches_glance(
        &self,
        tenant: &Tenant,
        token: &str,
        step: &str,
    ) -> BTreeSet<String> {
        let want = self.os.glance_ids(token).await;
        let got = self.app.catalog_ids(tenant).await;
        assert_same_ids(&got, &want, &format!("{step}: tenant {}", tenant.name));
        got
    }

    /// The catalog's API item for a Glance image of the (password) cloud.
    pub async fn catalog_item(&self, name: &str, backend_id: &str) -> Image {
        let r = self
            .app
            .get(&format!(
                "/api/openstack-images/?settings_uuid={}&name_exact={name}&show_duplicate_names=true&page_size=300",
                self.cloud.uuid
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.items::<Image>()
            .into_iter()
            .find(|i| i.backend_id == backend_id)
            .unwrap_or_else(|| panic!("{name} ({backend_id}) is in the catalog: {}", r.text))
    }

    /// Glance images of every kind (see `Images`).
    pub async fn create_images(&self) -> Images {
        let (os, adm, tok_a, tok_b) = (&self.os, &self.adm, &self.tok_a, &self.tok_b);
        let name = |n: &str| self.name(n);
        let public = os
            .create_image(adm, json!({"name": name("public"), "visibility": "public"}))
            .await;
        let public_hidden = os
            .create_image(
                adm,
                json!({"name": name("public-hidden"), "visibility": "public", "os_hidden": true}),
            )
            .await;
        let rescue = os
            .create_image(
                adm,
                json!({"name": name("rescue"), "visibility": "public", "min_disk": 3, "min_ram": 512,
                       "hw_rescue_device": "cdrom", "hw_rescue_bus": "ide", "os_distro": "ubuntu"}),
            )
            .await;
        let admin_private = os
            .create_image(
                adm,
                json!({"name": name("admin-private"), "visibility": "private"}),
            )
            .await;
        let admin_shared_b = os
            .create_image(
                adm,
                json!({"name": name("admin-shared-b"), "visibility": "shared"}),
            )
            .await;
        os.add_member(adm, &admin_shared_b, &self.b).await;
        os.set_member_status(tok_b, &admin_shared_b, &self.b, "accepted")
            .await;
        let a_private = os
            .create_image(
                tok_a,
                json!({"name": name("a-private"), "visibility": "private"}),
            )
            .await;
        let a_private_2 = os
            .create_image(
                tok_a,
                json!({"name": name("a-private-2"), "visibility": "private"}),
            )
            .await;
        let a_hidden = os
            .create_image(
                tok_a,
                json!({"name": name("a-hidden"), "visibility": "private", "os_hidden": true}),
            )
            .await;
        let a_community = os
            .create_image(
                tok_a,
                json!({"name": name("a-community"), "visibility": "community"}),
            )
            .await;
        let a_default = os
            .create_image(tok_a, json!({"name": name("a-default")}))
            .await;
        let mut shared = HashMap::new();
        for status in ["accepted", "pending", "rejected"] {
            let id = os
                .create_image(
                    tok_a,
                    json!({"name": name(&format!("a-shared-{status}")), "visibility": "shared"}),
                )
                .await;
            os.add_member(tok_a, &id, &self.b).await;
            if status != "pending" {
                os.set_member_status(tok_b, &id, &self.b, status).await;
            }
            shared.insert(status, id);
        }
        let a_unnamed = os
            .create_image(tok_a, json!({"visibility": "private"}))
            .await;
        let a_described = os
            .create_image(
                tok_a,
                json!({"visibility": "private", "description": "Described, but nameless"}),
            )
            .await;
        let a_props = os
            .create_image(
                tok_a,
                json!({"name": name("a-props"), "visibility": "private", "min_disk": 20,
                       "min_ram": 2048, "os_distro": "debian", "hw_rescue_device": "disk"}),
            )
            .await;
        let b_private = os
            .create_image(
                tok_b,
                json!({"name": name("b-private"), "visibility": "private"}),
            )
            .await;
        let b_shared_a = os
            .create_image(
                tok_b,
                json!({"name": name("b-shared-a"), "visibility": "shared"}),
            )
            .await;
        os.add_member(tok_b, &b_shared_a, &self.a).await;
        Images {
            public,
            public_hidden,
            rescue,
            admin_private,
            admin_shared_b,
            a_private,
            a_private_2,
            a_hidden,
            a_community,
            a_default,
            shared,
            a_unnamed,
            a_described,
            a_props,
            b_private,
            b_shared_a,
        }
    }

    pub async fn stop(self) {
        self.app.stop().await;
    }
}

/// Glance ids of the images `Scenario::create_images` makes. The admin's: a public one, a
/// hidden public one, a public rescue image (min_disk 3 GB, min_ram 512 MB, cdrom on ide,
/// os_distro ubuntu), a private one, one shared with b and accepted. Project a's: two private
/// ones, a hidden one, a community one, one of default visibility (shared, no members), three
/// shared with b (accepted, pending, rejected), a nameless one, a nameless one with a
/// description, a private rescue image with properties (min_disk 20, min_ram 2048, disk,
/// os_distro debian). Project b's: a private one, one shared with a (pending).
pub struct Images {
    pub public: String,
    pub public_hidden: String,
    pub rescue: String,
    pub admin_private: String,
    pub admin_shared_b: String,
    pub a_private: String,
    pub a_private_2: String,
    pub a_hidden: String,
    pub a_community: String,
    pub a_default: String,
    pub shared: HashMap<&'static str, String>,
    pub a_unnamed: String,
    pub a_described: String,
    pub a_props: String,
    pub b_private: String,
    pub b_shared_a: String,
}

async fn register_cloud(app: &TestApp, cloud: &Cloud, name: &str, region: &str) -> ServiceSettings {
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": name,
                   "options": {"auth_url": cloud.keystone, "region": region, "sync_mode": "per_tenant"},
                   "username": "admin", "password": cloud.admin_password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.parse()
}

/// A tenant; `credentials` are its own (user or application credential fields), or empty to
/// use the cloud's.
pub async fn register_tenant(
    app: &TestApp,
    cloud: &ServiceSettings,
    project: &Project,
    name: &str,
    credentials: Value,
) -> Tenant {
    let mut body = json!({"name": name, "backend_id": project.id, "service_settings": cloud.url});
    for (k, v) in credentials.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.post("/api/openstack-tenants/", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.parse()
}

pub async fn register_region_cloud(
    app: &TestApp,
    cloud: &Cloud,
    name: &str,
    region: &str,
) -> ServiceSettings {
    register_cloud(app, cloud, name, region).await
}

pub fn outcome<'a>(outcomes: &'a [TenantOutcome], tenant: &Tenant) -> &'a TenantOutcome {
    outcomes
        .iter()
        .find(|o| o.tenant_uuid.simple().to_string() == tenant.uuid)
        .unwrap_or_else(|| panic!("tenant {} was synced", tenant.name))
}

#[track_caller]
pub fn assert_all_ok(outcomes: &[TenantOutcome], expected: usize, step: &str) {
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
