//! Tenant discovery (issue 12, item 3): with `discover_tenants`, each sweep makes the cloud's
//! tenants follow Keystone's projects.
use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::sim::{SimApp, generated_world, glance_ids};
use crate::common::{ServiceSettings, Tenant, assert_same_ids};

/// The cloud's tenants by project id.
pub(super) async fn tenants(s: &SimApp) -> BTreeMap<String, Tenant> {
    let r = s.app.get("/api/openstack-tenants/?page_size=300").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list: Vec<Tenant> = r.parse();
    list.into_iter()
        .map(|t| (t.backend_id.clone(), t))
        .collect()
}

pub(super) async fn register(s: &SimApp, options: Value, credentials: Value) -> ServiceSettings {
    let mut body = json!({"name": "discovering", "options": options});
    for (k, v) in credentials.as_object().unwrap() {
        body[k] = v.clone();
    }
    body["options"]["auth_url"] = json!(s.sim.auth_url());
    let r = s.app.post("/api/service-settings/", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.parse()
}

/// Tenants appear for enabled projects and sync; a renamed project renames its tenant; a
/// disabled or deleted one retires it (ERRED, saying why, no images, not swept, its instance
/// rows kept); a project enabled again brings its tenant back.
#[tokio::test]
async fn tenants_follow_keystone_projects() {
    let world = generated_world(4, 6, 2, 9);
    let projects = world.projects.clone();
    let s = SimApp::world(world).unregistered().start().await;
    register(
        &s,
        json!({"discover_tenants": true}),
        json!({"username": "admin", "password": "admin-password", "project_id": projects[0].id}),
    )
    .await;
    let outcomes = s.sweep().await;
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    let found = tenants(&s).await;
    for (i, p) in projects.iter().enumerate() {
        let t = &found[&p.id];
        assert_eq!(t.name, p.name);
        let want = glance_ids(
            &s.sim,
            &format!("user-{i}"),
            &format!("password-{i}"),
            &p.id,
        )
        .await;
        assert_same_ids(&s.app.catalog_ids(t).await, &want, &p.name);
    }
    let instances_before = s.app.count_rows().await.2;

    s.sim.with_world(|w| {
        w.projects[1].name = "renamed".into();
        w.projects[2].enabled = false;
        w.projects.remove(3);
    });
    let outcomes = s.sweep().await;
    assert_eq!(
        outcomes.len(),
        2,
        "retired tenants are not swept: {outcomes:?}"
    );
    let found = tenants(&s).await;
    assert_eq!(found[&projects[1].id].name, "renamed");
    for (p, why) in [
        (&projects[2], "project disabled"),
        (&projects[3], "project deleted"),
    ] {
        let t = &found[&p.id];
        assert_eq!((t.state.as_str(), t.error_message.as_str()), ("ERRED", why));
        assert!(s.app.catalog_ids(t).await.is_empty(), "{why}: no images");
    }
    assert_eq!(
        s.app.count_rows().await.2,
        instances_before,
        "instance rows (usage history) stay"
    );

    s.sim.with_world(|w| w.projects[2].enabled = true);
    // Like Keystone, the simulator revokes tokens issued in the second of a project's
    // change: let it pass before user-2 logs in.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let outcomes = s.sweep().await;
    assert_eq!(outcomes.len(), 3);
    let t = &tenants(&s).await[&projects[2].id];
    assert_eq!((t.state.as_str(), t.error_message.as_str()), ("OK", ""));
    let want = glance_ids(&s.sim, "user-2", "password-2", &projects[2].id).await;
    assert_same_ids(&s.app.catalog_ids(t).await, &want, "back");
    s.stop().await;
}

/// `project_tags` narrows discovery to projects with all the tags; credentials without the
/// admin role make the cloud ERRED, saying why, and create nothing.
#[tokio::test]
async fn tags_narrow_discovery_and_it_needs_the_admin_role() {
    let mut world = generated_world(3, 4, 1, 4);
    world.projects[1].tags = vec!["billing".into(), "prod".into()];
    world.projects[2].tags = vec!["billing".into()];
    let projects = world.projects.clone();
    let s = SimApp::world(world).unregistered().start().await;
    register(
        &s,
        json!({"discover_tenants": true, "project_tags": ["billing", "prod"]}),
        json!({"username": "admin", "password": "admin-password", "project_id": projects[0].id}),
    )
    .await;
    s.sweep().await;
    let found = tenants(&s).await;
    assert_eq!(found.keys().collect::<Vec<_>>(), [&projects[1].id]);

    let s2 = SimApp::world(generated_world(2, 2, 1, 4))
        .unregistered()
        .start()
        .await;
    let p0 = s2.sim.with_world(|w| w.projects[0].id.clone());
    let cloud = register(
        &s2,
        json!({"discover_tenants": true}),
        json!({"username": "user-0", "password": "password-0", "project_id": p0}),
    )
    .await;
    s2.sweep().await;
    let cloud: Value = s2.app.get(s2.app.path_of(&cloud.url)).await.json();
    assert_eq!(cloud["state"], "ERRED", "{cloud}");
    assert_eq!(
        cloud["error_message"],
        "tenant discovery: the cloud's credentials lack the admin role"
    );
    assert!(tenants(&s2).await.is_empty());
    let r = s2
        .app
        .patch(
            s2.app.path_of(cloud["url"].as_str().unwrap()),
            json!({"options": {"project_tags": ["a,b"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    s.stop().await;
    s2.stop().await;
}
