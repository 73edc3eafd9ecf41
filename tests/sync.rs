//! Syncing from the OpenStack simulator over real sockets into a real database.
mod common;

use std::time::Duration;

use cloudcensus_sim::{Fault, FaultKind, GenSpec, Simulator, Target, World};
use common::sim::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn generated(projects: usize, images: usize, servers: usize) -> Simulator {
    Simulator::start(World::generate(&GenSpec {
        projects,
        images_per_project: images,
        servers_per_project: servers,
        seed: 7,
    }))
    .await
    .expect("simulator starts")
}

fn project_index(tenant: &Value) -> usize {
    // Generated projects are listed in order; their users are `user-<i>` / `password-<i>`.
    tenant["_index"].as_u64().unwrap() as usize
}

async fn with_index(tenants: Vec<Value>) -> Vec<Value> {
    tenants
        .into_iter()
        .enumerate()
        .map(|(i, mut t)| {
            t["_index"] = i.into();
            t
        })
        .collect()
}

#[tokio::test]
async fn the_catalog_holds_exactly_what_each_tenant_sees_across_pages() {
    let sim = generated(3, 1100, 20).await;
    let srv = TestServer::start().await;
    let (_cloud, tenants) = register(&srv, &sim, "sim").await;
    let tenants = with_index(tenants).await;
    let engine = engine(srv.catalog.clone());
    let outcomes = sweep(&engine).await;
    assert_eq!(outcomes.len(), 3);
    for o in &outcomes {
        assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
    }
    for t in &tenants {
        let i = project_index(t);
        let want = glance_ids(
            &sim,
            &format!("user-{i}"),
            &format!("password-{i}"),
            t["backend_id"].as_str().unwrap(),
        )
        .await;
        assert!(
            want.len() > 1000,
            "paging must cross Glance's max limit ({} images)",
            want.len()
        );
        let got = catalog_ids(&srv, t).await;
        assert_same_ids(&got, &want, &format!("tenant {}", t["name"]));
        let tj = tenant_json(&srv, t).await;
        assert_eq!(tj["state"], "OK");
        assert!(tj["last_sync_at"].is_string() && tj["last_success_at"].is_string());
    }
    // Field mapping: min_disk GB → MiB, rescue properties, null names fall back, hidden images.
    let world = sim.with_world(|w| w.clone());
    let rescue = world
        .images
        .iter()
        .find(|i| i.properties.contains_key("hw_rescue_device") && i.status == "active")
        .expect("a rescue image");
    let r = srv
        .get(&format!(
            "/api/openstack-images/?name_exact={}&show_duplicate_names=true&page_size=300",
            rescue.name.clone().unwrap_or_default()
        ))
        .await;
    let item = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["backend_id"] == rescue.id.as_str())
        .cloned()
        .expect("rescue image listed");
    assert_eq!(item["is_rescue_image"], true);
    assert_eq!(
        item["hw_rescue_device"],
        rescue.properties["hw_rescue_device"].as_str()
    );
    assert_eq!(item["min_disk"], rescue.min_disk * 1024);
    assert_eq!(item["min_ram"], rescue.min_ram);
    let unnamed = world
        .images
        .iter()
        .find(|i| i.name.is_none() && i.status == "active")
        .expect("an image without a name");
    let all = srv
        .get("/api/openstack-images/?show_duplicate_names=true&page_size=300&page=1")
        .await;
    assert!(all.count() > 3000);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = entity::images::Entity::find()
        .filter(entity::images::Column::BackendId.eq(unnamed.id.as_str()))
        .one(&srv.db)
        .await
        .unwrap()
        .expect("unnamed image synced");
    assert!(
        !row.name.is_empty(),
        "a null name falls back to the description or id"
    );
    let hidden = world
        .images
        .iter()
        .find(|i| i.os_hidden && i.status == "active")
        .expect("a hidden image");
    assert!(
        entity::images::Entity::find()
            .filter(entity::images::Column::BackendId.eq(hidden.id.as_str()))
            .one(&srv.db)
            .await
            .unwrap()
            .is_some(),
        "hidden images are synced too"
    );
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_resync_without_upstream_change_writes_nothing() {
    let sim = generated(2, 60, 10).await;
    let srv = TestServer::start().await;
    register(&srv, &sim, "sim").await;
    let engine = engine(srv.catalog.clone());
    sweep(&engine).await;
    let snapshot = |db: sea_orm::DatabaseConnection| async move {
        use sea_orm::{EntityTrait, QueryOrder};
        (
            entity::images::Entity::find()
                .order_by_asc(entity::images::Column::Id)
                .all(&db)
                .await
                .unwrap(),
            entity::image_tenants::Entity::find()
                .all(&db)
                .await
                .unwrap(),
            entity::instances::Entity::find()
                .order_by_asc(entity::instances::Column::Id)
                .all(&db)
                .await
                .unwrap(),
        )
    };
    let before = snapshot(srv.db.clone()).await;
    let outcomes = sweep(&engine).await;
    for o in &outcomes {
        let s = o.result.as_ref().expect("second sync succeeds");
        assert!(s.applied.is_empty(), "{}: {:?}", o.tenant_name, s.applied);
        assert_eq!(
            (
                s.counts.images_added,
                s.counts.images_updated,
                s.counts.images_removed
            ),
            (0, 0, 0)
        );
        assert!(s.counts.images_seen > 0);
    }
    assert_eq!(snapshot(srv.db.clone()).await, before);
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn upstream_deletes_unshares_and_renames_propagate() {
    let sim = generated(2, 40, 6).await;
    let srv = TestServer::start().await;
    let (_cloud, tenants) = register(&srv, &sim, "sim").await;
    let tenants = with_index(tenants).await;
    let engine = engine(srv.catalog.clone());
    sweep(&engine).await;

    let world = sim.with_world(|w| w.clone());
    let p0 = world.projects[0].id.clone();
    let p1 = world.projects[1].id.clone();
    let private0 = world
        .images
        .iter()
        .find(|i| {
            i.owner == p0 && i.visibility == "private" && i.status == "active" && !i.os_hidden
        })
        .unwrap()
        .id
        .clone();
    let shared = world
        .images
        .iter()
        .find(|i| {
            i.visibility == "shared"
                && i.owner == p0
                && i.members.iter().any(|m| m.project_id == p1)
        })
        .map(|i| i.id.clone());
    let renamed = world
        .images
        .iter()
        .find(|i| {
            i.owner == p1 && i.visibility == "private" && i.status == "active" && !i.os_hidden
        })
        .unwrap()
        .id
        .clone();
    sim.with_world(|w| {
        w.images.retain(|i| i.id != private0);
        if let Some(s) = &shared {
            let img = w.images.iter_mut().find(|i| &i.id == s).unwrap();
            img.members.retain(|m| m.project_id != p1);
        }
        w.images.iter_mut().find(|i| i.id == renamed).unwrap().name =
            Some("renamed-upstream".into());
    });
    let outcomes = sweep(&engine).await;
    for o in &outcomes {
        assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
    }

    for t in &tenants {
        let i = project_index(t);
        let want = glance_ids(
            &sim,
            &format!("user-{i}"),
            &format!("password-{i}"),
            t["backend_id"].as_str().unwrap(),
        )
        .await;
        assert_same_ids(&catalog_ids(&srv, t).await, &want, "after upstream changes");
    }
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let gone = entity::images::Entity::find()
        .filter(entity::images::Column::BackendId.eq(private0.as_str()))
        .one(&srv.db)
        .await
        .unwrap();
    assert!(gone.is_none(), "an image no tenant sees leaves the catalog");
    if let Some(s) = shared {
        assert!(
            catalog_ids(&srv, &tenants[0]).await.contains(&s),
            "the owner still sees the unshared image"
        );
        assert!(!catalog_ids(&srv, &tenants[1]).await.contains(&s));
    }
    let r = srv
        .get("/api/openstack-images/?name_exact=renamed-upstream")
        .await;
    assert_eq!(r.json()[0]["backend_id"], renamed.as_str());
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn instances_feed_usage_stats_and_vanished_ones_are_kept_as_deleted() {
    let mut world = World::generate(&GenSpec {
        projects: 1,
        images_per_project: 5,
        servers_per_project: 0,
        seed: 1,
    });
    let img = world
        .images
        .iter()
        .find(|i| i.status == "active" && i.name.is_some() && i.visibility == "private")
        .unwrap()
        .clone();
    let name = img.name.clone().unwrap();
    let project = world.projects[0].id.clone();
    for (n, status) in ["ACTIVE", "ACTIVE", "SHUTOFF"].iter().enumerate() {
        world.servers.push(cloudcensus_sim::Server {
            id: format!("srv-{n}"),
            name: format!("vm-{n}"),
            project_id: project.clone(),
            image_id: Some(img.id.clone()),
            status: status.to_string(),
            created: chrono::Utc::now(),
        });
    }
    world.servers.push(cloudcensus_sim::Server {
        id: "srv-volume".into(),
        name: "boot-from-volume".into(),
        project_id: project.clone(),
        image_id: None,
        status: "ACTIVE".into(),
        created: chrono::Utc::now(),
    });
    let sim = Simulator::start(world).await.unwrap();
    let srv = TestServer::start().await;
    register(&srv, &sim, "sim").await;
    let engine = engine(srv.catalog.clone());
    sweep(&engine).await;
    let stats = srv
        .get("/api/openstack-images/usage_stats/?page_size=300")
        .await
        .json();
    let row = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (
            row["running_instances_count"].as_i64(),
            row["created_instances_count"].as_i64()
        ),
        (Some(2), Some(3))
    );

    sim.with_world(|w| w.servers.retain(|s| s.id != "srv-0"));
    sweep(&engine).await;
    let stats = srv
        .get("/api/openstack-images/usage_stats/?page_size=300")
        .await
        .json();
    let row = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (
            row["running_instances_count"].as_i64(),
            row["created_instances_count"].as_i64()
        ),
        (Some(1), Some(3))
    );
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let vol = entity::instances::Entity::find()
        .filter(entity::instances::Column::BackendId.eq("srv-volume"))
        .one(&srv.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(vol.image_backend_id, None);
    srv.stop().await;
    sim.stop().await;
}

/// Each fault, injected after a good sync, leaves the catalog as it was and the tenant ERRED
/// with a readable message; clearing it brings the tenant back to OK.
#[tokio::test]
async fn faults_leave_the_previous_catalog_intact() {
    let sim = generated(1, 1100, 5).await;
    let srv = TestServer::start().await;
    let (_cloud, tenants) = register(&srv, &sim, "sim").await;
    let engine = engine(srv.catalog.clone());
    sweep(&engine).await;
    let good = count_rows(&srv.db).await;
    let ids_before = catalog_ids(&srv, &tenants[0]).await;
    // Make the next listing differ, so a half-applied sync would show.
    sim.with_world(|w| {
        let victims: Vec<String> = w.images.iter().take(30).map(|i| i.id.clone()).collect();
        w.images.retain(|i| !victims.contains(&i.id));
    });
    let cases: Vec<(&str, Target, Fault)> = vec![
        (
            "500 on the second page",
            Target::GlanceImages,
            Fault::new(FaultKind::Status {
                code: 500,
                retry_after: None,
            })
            .after(1),
        ),
        (
            "503 forever",
            Target::GlanceImages,
            Fault::new(FaultKind::Status {
                code: 503,
                retry_after: Some(0),
            }),
        ),
        (
            "connection reset",
            Target::GlanceImages,
            Fault::new(FaultKind::ResetConnection).after(1),
        ),
        (
            "malformed JSON",
            Target::GlanceImages,
            Fault::new(FaultKind::MalformedJson).after(1),
        ),
        (
            "next loop",
            Target::GlanceImages,
            Fault::new(FaultKind::NextLoop),
        ),
        (
            "timeout",
            Target::GlanceImages,
            Fault::new(FaultKind::Delay(Duration::from_secs(3))).after(1),
        ),
        (
            "429 forever",
            Target::GlanceImages,
            Fault::new(FaultKind::Status {
                code: 429,
                retry_after: Some(0),
            }),
        ),
        (
            "glance 401 even after re-auth",
            Target::GlanceImages,
            Fault::new(FaultKind::Status {
                code: 401,
                retry_after: None,
            })
            .after(1),
        ),
        (
            "nova 500",
            Target::NovaServers,
            Fault::new(FaultKind::Status {
                code: 500,
                retry_after: None,
            }),
        ),
        (
            "keystone 401",
            Target::KeystoneAuth,
            Fault::new(FaultKind::Status {
                code: 401,
                retry_after: None,
            }),
        ),
        (
            "glance info 500",
            Target::GlanceInfo,
            Fault::new(FaultKind::Status {
                code: 500,
                retry_after: None,
            }),
        ),
    ];
    for (label, target, fault) in cases {
        sim.clear_faults();
        sim.inject(target, fault);
        let outcomes = sweep(&engine).await;
        assert!(outcomes[0].result.is_err(), "{label}: the sync must fail");
        assert_eq!(
            count_rows(&srv.db).await,
            good,
            "{label}: catalog rows changed"
        );
        assert_eq!(
            catalog_ids(&srv, &tenants[0]).await,
            ids_before,
            "{label}: visible images changed"
        );
        let t = tenant_json(&srv, &tenants[0]).await;
        assert_eq!(t["state"], "ERRED", "{label}");
        let msg = t["error_message"].as_str().unwrap();
        assert!(
            !msg.is_empty() && !msg.contains("admin-password"),
            "{label}: {msg}"
        );
    }
    sim.clear_faults();
    let outcomes = sweep(&engine).await;
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    let t = tenant_json(&srv, &tenants[0]).await;
    assert_eq!(
        (t["state"].as_str(), t["error_message"].as_str()),
        (Some("OK"), Some(""))
    );
    assert_eq!(
        catalog_ids(&srv, &tenants[0]).await.len(),
        ids_before.len() - 30
    );
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn transient_faults_are_retried_and_paging_quirks_are_absorbed() {
    let sim = generated(1, 1100, 5).await;
    let srv = TestServer::start().await;
    let (_cloud, tenants) = register(&srv, &sim, "sim").await;
    let engine = engine(srv.catalog.clone());
    let want = glance_ids(
        &sim,
        "user-0",
        "password-0",
        tenants[0]["backend_id"].as_str().unwrap(),
    )
    .await;
    let cases: Vec<(&str, Target, Fault)> = vec![
        (
            "503 with Retry-After",
            Target::GlanceImages,
            Fault::new(FaultKind::Status {
                code: 503,
                retry_after: Some(1),
            })
            .times(1),
        ),
        (
            "429",
            Target::NovaServers,
            Fault::new(FaultKind::Status {
                code: 429,
                retry_after: Some(0),
            })
            .times(2),
        ),
        (
            "one reset",
            Target::GlanceImages,
            Fault::new(FaultKind::ResetConnection).after(1).times(1),
        ),
        (
            "duplicate ids",
            Target::GlanceImages,
            Fault::new(FaultKind::DuplicateIds),
        ),
        // Glance's answer when the marker image was deleted while we paged: restart the pass.
        (
            "vanished marker",
            Target::GlanceImages,
            Fault::new(FaultKind::Status {
                code: 400,
                retry_after: None,
            })
            .after(1)
            .times(1),
        ),
        (
            "short pages",
            Target::GlanceImages,
            Fault::new(FaultKind::ShortPages(150)),
        ),
        (
            "token expiry mid-paging",
            Target::GlanceImages,
            Fault::new(FaultKind::ExpireTokenAfter(1)),
        ),
    ];
    for (label, target, fault) in cases {
        sim.clear_faults();
        sim.inject(target, fault);
        let before_auth = sim.requests(Target::KeystoneAuth);
        let outcomes = sweep(&engine).await;
        assert!(
            outcomes[0].result.is_ok(),
            "{label}: {:?}",
            outcomes[0].result
        );
        assert_same_ids(&catalog_ids(&srv, &tenants[0]).await, &want, label);
        if label.starts_with("token expiry") {
            assert!(
                sim.requests(Target::KeystoneAuth) >= before_auth + 2,
                "re-authenticated mid-paging"
            );
        }
    }
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn one_failing_tenant_does_not_stop_the_others_and_app_credentials_work() {
    let mut world = World::generate(&GenSpec {
        projects: 2,
        images_per_project: 10,
        servers_per_project: 2,
        seed: 3,
    });
    let p1 = world.projects[1].clone();
    let user1 = world
        .users
        .iter()
        .find(|u| u.projects.contains(&p1.id) && u.name != "admin")
        .unwrap()
        .clone();
    world.app_credentials.push(cloudcensus_sim::AppCredential {
        id: "app-cred-1".into(),
        name: "cc".into(),
        secret: "app-secret-1".into(),
        user_id: user1.id.clone(),
        project_id: p1.id.clone(),
    });
    let sim = Simulator::start(world).await.unwrap();
    let srv = TestServer::start().await;
    let cloud = srv
        .post(
            "/api/service-settings/",
            serde_json::json!({"name": "sim", "options": {"auth_url": sim.auth_url()}, "username": "admin", "password": "wrong-password"}),
        )
        .await
        .json();
    // Tenant 0 uses the cloud's (bad) password; tenant 1 its own application credential.
    let p0 = sim.with_world(|w| w.projects[0].clone());
    let t0 = srv.post("/api/openstack-tenants/", serde_json::json!({"name": "t0", "backend_id": p0.id, "service_settings": cloud["url"]})).await.json();
    let t1 = srv
        .post(
            "/api/openstack-tenants/",
            serde_json::json!({"name": "t1", "backend_id": p1.id, "service_settings": cloud["url"],
                "application_credential_id": "app-cred-1", "application_credential_secret": "app-secret-1"}),
        )
        .await
        .json();
    // The same credential by name and user instead of id, through a second registration.
    let cloud2 = srv
        .post(
            "/api/service-settings/",
            serde_json::json!({"name": "sim-again", "options": {"auth_url": sim.auth_url()}, "username": "admin", "password": "admin-password"}),
        )
        .await
        .json();
    let nameless = srv
        .post(
            "/api/openstack-tenants/",
            serde_json::json!({"name": "t2", "backend_id": p1.id, "service_settings": cloud2["url"],
                "application_credential_name": "cc", "application_credential_secret": "app-secret-1"}),
        )
        .await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    assert!(
        nameless.json()["application_credential_user"].is_array(),
        "{}",
        nameless.text
    );
    let t2 = srv
        .post(
            "/api/openstack-tenants/",
            serde_json::json!({"name": "t2", "backend_id": p1.id, "service_settings": cloud2["url"],
                "application_credential_name": "cc", "application_credential_user": user1.name,
                "application_credential_secret": "app-secret-1"}),
        )
        .await;
    assert_eq!(t2.status, StatusCode::CREATED, "{}", t2.text);
    let t2 = t2.json();
    assert!(!t2.to_string().contains("app-secret-1"));
    // An application credential of project 1 given to project 0's tenant is refused.
    let t3 = srv
        .post(
            "/api/openstack-tenants/",
            serde_json::json!({"name": "t3", "backend_id": p0.id, "service_settings": cloud2["url"],
                "application_credential_id": "app-cred-1", "application_credential_secret": "app-secret-1"}),
        )
        .await
        .json();
    let engine = engine(srv.catalog.clone());
    let outcomes = sweep(&engine).await;
    assert_eq!(outcomes.len(), 4);
    let t3j = tenant_json(&srv, &t3).await;
    assert_eq!(t3j["state"], "ERRED");
    assert!(
        t3j["error_message"]
            .as_str()
            .unwrap()
            .contains("not to this tenant's project"),
        "{t3j}"
    );
    assert!(catalog_ids(&srv, &t3).await.is_empty());
    let t2j = tenant_json(&srv, &t2).await;
    assert_eq!(t2j["state"], "OK", "{}", t2j["error_message"]);
    let t0j = tenant_json(&srv, &t0).await;
    assert_eq!(t0j["state"], "ERRED");
    assert!(
        t0j["error_message"]
            .as_str()
            .unwrap()
            .contains("authentication failed"),
        "{}",
        t0j["error_message"]
    );
    let t1j = tenant_json(&srv, &t1).await;
    assert_eq!(t1j["state"], "OK", "{}", t1j["error_message"]);
    let want = glance_ids(&sim, &user1.name, &user1.password, &p1.id).await;
    assert_same_ids(
        &catalog_ids(&srv, &t1).await,
        &want,
        "app-credential tenant",
    );
    assert_same_ids(
        &catalog_ids(&srv, &t2).await,
        &want,
        "named app-credential tenant",
    );
    // Glance info is stored on the tenant.
    assert!(t1j["image_quota_usage"].is_object(), "{t1j}");
    assert!(t1j["stores"].is_array());
    assert!(t1j["import_methods"].is_object());
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn clouds_without_info_endpoints_are_not_an_error() {
    let mut world = World::generate(&GenSpec {
        projects: 1,
        images_per_project: 5,
        servers_per_project: 1,
        seed: 4,
    });
    world.info_usage_enabled = false;
    world.info_stores_enabled = false;
    world.info_import_enabled = false;
    let sim = Simulator::start(world).await.unwrap();
    let srv = TestServer::start().await;
    let (_c, tenants) = register(&srv, &sim, "sim").await;
    let engine = engine(srv.catalog.clone());
    assert!(sweep(&engine).await[0].result.is_ok());
    let t = tenant_json(&srv, &tenants[0]).await;
    assert_eq!(t["state"], "OK");
    assert!(
        t["image_quota_usage"].is_null() && t["stores"].is_null() && t["import_methods"].is_null()
    );
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn pull_starts_a_sync_and_answers_409_while_one_runs() {
    let sim = generated(1, 30, 2).await;
    let (srv, _engine) = TestServer::start_with_engine(engine).await;
    let (cloud, tenants) = register(&srv, &sim, "sim").await;
    let t = &tenants[0];
    // Slow Glance down so the first sync is still running at the second pull.
    sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Delay(Duration::from_millis(700))).times(1),
    );
    let pull = format!(
        "/api/openstack-tenants/{}/pull/",
        t["uuid"].as_str().unwrap()
    );
    let first = srv.post(&pull, serde_json::json!({})).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = srv.post(&pull, serde_json::json!({})).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text);
    assert!(
        second.json()["detail"]
            .as_str()
            .unwrap()
            .contains("already")
    );
    let runs = wait_for_runs(&srv, t, 1).await;
    assert_eq!(runs[0]["outcome"], "success", "{runs:?}");
    assert!(runs[0]["images_seen"].as_i64().unwrap() > 0);
    // The cloud's pull syncs all its tenants.
    let r = srv
        .post(
            &format!(
                "/api/service-settings/{}/pull/",
                cloud["uuid"].as_str().unwrap()
            ),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    wait_for_runs(&srv, t, 2).await;
    let missing = srv
        .post(
            &format!(
                "/api/openstack-tenants/{}/pull/",
                uuid::Uuid::new_v4().simple()
            ),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // sync-runs is staff-only and filters by tenant.
    let scoped = srv.scoped_token("ro", &[uuid_of(t)]).await;
    assert_eq!(
        srv.call(Method::GET, "/api/sync-runs/", Some(&scoped), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    srv.stop().await;
    sim.stop().await;
}

async fn wait_for_runs(srv: &TestServer, tenant: &Value, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let r = srv
            .get(&format!(
                "/api/sync-runs/?tenant_uuid={}",
                tenant["uuid"].as_str().unwrap()
            ))
            .await;
        let runs: Vec<Value> = r.json().as_array().unwrap().clone();
        if runs.len() >= n && runs.iter().all(|r| r["outcome"] != "running") {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {n} finished sync runs");
}

#[tokio::test]
async fn the_schedule_syncs_every_tenant_and_replicas_do_not_double_up() {
    let sim = generated(3, 10, 1).await;
    let srv = TestServer::start().await;
    let (_c, tenants) = register(&srv, &sim, "sim").await;
    // Two "replicas" on one database, both ticking every second.
    let a = engine(srv.catalog.clone());
    let b = engine(srv.catalog.clone());
    a.start_schedule().await.unwrap();
    b.start_schedule().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
    use sea_orm::{EntityTrait, QueryOrder};
    let runs = entity::sync_runs::Entity::find()
        .order_by_asc(entity::sync_runs::Column::StartedAt)
        .all(&srv.db)
        .await
        .unwrap();
    for t in &tenants {
        let t = tenant_json(&srv, t).await;
        assert_eq!(t["state"], "OK");
        assert!(t["last_sync_at"].is_string(), "scheduled sync ran");
    }
    // At most one run per tenant per one-second tick, whatever the number of replicas.
    let mut per_tick = std::collections::HashMap::new();
    for r in &runs {
        *per_tick
            .entry((r.tenant_id, r.started_at.timestamp()))
            .or_insert(0) += 1;
    }
    assert!(per_tick.values().all(|n| *n == 1), "{per_tick:?}");
    srv.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn shutdown_aborts_a_running_sync_without_applying_it() {
    let sim = generated(1, 1100, 1).await;
    let srv = TestServer::start().await;
    let (_c, tenants) = register(&srv, &sim, "sim").await;
    let engine = engine(srv.catalog.clone());
    sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Delay(Duration::from_millis(800)))
            .after(1)
            .times(1),
    );
    let e2 = engine.clone();
    let sweeping = tokio::spawn(async move { sweep(&e2).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    engine.shutdown(Duration::from_secs(10)).await;
    let outcomes = sweeping.await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].result.as_ref().unwrap_err().contains("aborted"));
    assert_eq!(count_rows(&srv.db).await, (0, 0, 0), "nothing half-applied");
    let t = tenant_json(&srv, &tenants[0]).await;
    assert_eq!(t["state"], "OK", "an abort is not the tenant's fault");
    srv.stop().await;
    sim.stop().await;
}

/// Keystone revokes by whole seconds: right after a password is restored, the first token is
/// born revoked. The sync waits that second out instead of going ERRED.
#[tokio::test]
async fn a_sync_in_the_second_of_a_password_change_still_succeeds() {
    let sim = generated(1, 20, 2).await;
    let srv = TestServer::start().await;
    let p0 = sim.with_world(|w| w.projects[0].clone());
    let cloud = srv
        .post(
            "/api/service-settings/",
            serde_json::json!({"name": "sim-user", "options": {"auth_url": sim.auth_url()}, "username": "admin", "password": "admin-password"}),
        )
        .await
        .json();
    let tenant = srv
        .post(
            "/api/openstack-tenants/",
            serde_json::json!({"name": "own-user", "backend_id": p0.id, "service_settings": cloud["url"],
                "user_username": "user-0", "user_password": "password-0"}),
        )
        .await
        .json();
    let engine = engine(srv.catalog.clone());
    while chrono::Utc::now().timestamp_subsec_millis() > 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let set_password = |pw: &'static str| {
        sim.with_world(|w| {
            w.users
                .iter_mut()
                .find(|u| u.name == "user-0")
                .unwrap()
                .password = pw.into()
        })
    };
    set_password("temporary");
    set_password("password-0");
    let outcomes = sweep(&engine).await;
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    assert_eq!(tenant_json(&srv, &tenant).await["state"], "OK");
    srv.stop().await;
    sim.stop().await;
}

async fn staged_rows(db: &sea_orm::DatabaseConnection) -> i64 {
    use sea_orm::ConnectionTrait;
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

/// With a tiny staging batch, listings go to the staging table page by page; the catalog
/// still changes only with a complete listing, and a failed sync's stage is discarded.
#[tokio::test]
async fn big_listings_are_staged_in_batches_and_applied_whole() {
    let sim = generated(2, 1100, 40).await;
    let srv = TestServer::start().await;
    let (_cloud, tenants) = register(&srv, &sim, "sim").await;
    let tenants = with_index(tenants).await;
    let mut settings = fast_settings();
    settings.stage_batch = 100;
    // Above one page (1000) and below a tenant's links: records and their links go to the
    // stage in different batches.
    settings.stage_links_batch = 1200;
    let engine = engine_with(srv.catalog.clone(), settings);
    for o in sweep(&engine).await {
        assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
    }
    assert_eq!(
        staged_rows(&srv.db).await,
        0,
        "the stage is emptied by the apply"
    );
    for t in &tenants {
        let i = project_index(t);
        let want = glance_ids(
            &sim,
            &format!("user-{i}"),
            &format!("password-{i}"),
            t["backend_id"].as_str().unwrap(),
        )
        .await;
        assert_same_ids(&catalog_ids(&srv, t).await, &want, "staged first sync");
    }
    // Instances booted from images this very sync added are named from the stage.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let booted = entity::instances::Entity::find()
        .filter(entity::instances::Column::ImageBackendId.is_not_null())
        .all(&srv.db)
        .await
        .unwrap();
    assert!(!booted.is_empty() && booted.iter().all(|i| !i.image_name.is_empty()));

    // Upstream changes, then a sync that fails after staging several batches.
    let good = count_rows(&srv.db).await;
    let before: Vec<_> = futures_ids(&srv, &tenants).await;
    sim.with_world(|w| {
        let victims: Vec<String> = w.images.iter().step_by(7).map(|i| i.id.clone()).collect();
        w.images.retain(|i| !victims.contains(&i.id));
        for img in w.images.iter_mut().step_by(5) {
            img.name = Some(format!("renamed-{}", img.id));
        }
    });
    sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Status {
            code: 500,
            retry_after: None,
        })
        .after(1),
    );
    for o in sweep(&engine).await {
        assert!(o.result.is_err());
    }
    assert_eq!(
        count_rows(&srv.db).await,
        good,
        "a failed sync applies nothing"
    );
    assert_eq!(futures_ids(&srv, &tenants).await, before);
    assert!(
        srv.get("/api/openstack-images/?name=renamed-")
            .await
            .count()
            == 0
    );

    sim.clear_faults();
    for o in sweep(&engine).await {
        let s = o.result.as_ref().expect("recovers");
        assert!(
            s.counts.images_updated > 0 && s.counts.images_removed > 0,
            "{:?}",
            s.counts
        );
    }
    assert_eq!(staged_rows(&srv.db).await, 0);
    for t in &tenants {
        let i = project_index(t);
        let want = glance_ids(
            &sim,
            &format!("user-{i}"),
            &format!("password-{i}"),
            t["backend_id"].as_str().unwrap(),
        )
        .await;
        assert_same_ids(&catalog_ids(&srv, t).await, &want, "after recovery");
    }
    assert!(
        srv.get("/api/openstack-images/?name=renamed-")
            .await
            .count()
            > 100
    );
    for o in sweep(&engine).await {
        assert!(
            o.result.as_ref().unwrap().applied.is_empty(),
            "idle re-sync writes nothing"
        );
    }
    srv.stop().await;
    sim.stop().await;
}

async fn futures_ids(
    srv: &TestServer,
    tenants: &[Value],
) -> Vec<std::collections::BTreeSet<String>> {
    let mut out = Vec::new();
    for t in tenants {
        out.push(catalog_ids(srv, t).await);
    }
    out
}

/// Tenants of one cloud share images (public ones above all): their syncs, run side by side,
/// upsert the same rows. On PostgreSQL that deadlocked until one cloud's applies were
/// serialized.
#[tokio::test]
async fn tenants_sharing_images_sync_side_by_side() {
    let sim = generated(3, 3000, 2).await;
    let srv = TestServer::start().await;
    let (_cloud, tenants) = register(&srv, &sim, "sim").await;
    let mut settings = fast_settings();
    // Staged rows are applied in key order, buffered ones in listing order: both kinds meet.
    settings.stage_batch = 1000;
    let engine = engine_with(srv.catalog.clone(), settings);
    for o in sweep(&engine).await {
        assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
    }
    // Renames of shared images, applied by every tenant that sees them.
    sim.with_world(|w| {
        for img in w.images.iter_mut().filter(|i| i.visibility == "public") {
            img.name = Some(format!("{}-v2", img.name.clone().unwrap_or_default()));
        }
    });
    for o in sweep(&engine).await {
        assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
    }
    for t in &tenants {
        assert_eq!(tenant_json(&srv, t).await["state"], "OK");
    }
    srv.stop().await;
    sim.stop().await;
}
