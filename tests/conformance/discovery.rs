//! Tenant discovery against the real Keystone: a cloud with `discover_tenants` and a
//! `project_tags` filter gets a tenant for each tagged project, follows a rename, and retires
//! the tenants of a disabled and of a deleted project.
use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;

use crate::common::{EngineOptions, ServiceSettings, Tenant, TestApp, internals};
use crate::fixture::{connect, let_revocation_settle, run_tag};

async fn tenants(app: &TestApp) -> BTreeMap<String, Tenant> {
    let list: Vec<Tenant> = app
        .get("/api/openstack-tenants/?page_size=300")
        .await
        .parse();
    list.into_iter()
        .map(|t| (t.backend_id.clone(), t))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn discovered_tenants_follow_the_real_keystones_projects() {
    let os = connect().await;
    let tag = format!("cc-{}", run_tag());
    let mut projects = Vec::new();
    for i in 0..3 {
        let p = os.create_project(&format!("disc-{i}-{tag}")).await;
        os.ks(Method::PUT, &format!("/projects/{}/tags/{tag}", p.id), None)
            .await;
        projects.push(p);
    }
    let untagged = os.create_project(&format!("disc-untagged-{tag}")).await;
    // The cloud's admin logs in to the first project; cloud mode lists them all from there.
    os.grant(&projects[0], &os.admin_user_id, "admin").await;
    let app = TestApp::new().await;
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": "real-openstack-discovering",
                   "options": {"auth_url": os.keystone, "sync_mode": "cloud",
                               "discover_tenants": true, "project_tags": [tag]},
                   "username": "admin", "password": os.admin_password, "project_id": projects[0].id}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let cloud: ServiceSettings = r.parse();
    let engine = app.new_engine(EngineOptions::real_openstack());
    let outcomes = internals::sweep(&engine).await;
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    let found = tenants(&app).await;
    assert_eq!(found.len(), 3);
    assert!(!found.contains_key(&untagged.id));
    for p in &projects {
        assert_eq!(found[&p.id].name, p.name);
    }

    os.ks(
        Method::PATCH,
        &format!("/projects/{}", projects[1].id),
        Some(json!({"project": {"name": format!("renamed-{tag}")}})),
    )
    .await;
    os.set_project_enabled(&projects[2], false).await;
    let_revocation_settle().await;
    internals::sweep(&engine).await;
    let found = tenants(&app).await;
    assert_eq!(found[&projects[1].id].name, format!("renamed-{tag}"));
    let t = &found[&projects[2].id];
    assert_eq!(
        (t.state.as_str(), t.error_message.as_str()),
        ("ERRED", "project disabled")
    );

    os.ks(
        Method::DELETE,
        &format!("/projects/{}", projects[2].id),
        None,
    )
    .await;
    let_revocation_settle().await;
    internals::sweep(&engine).await;
    let t = &tenants(&app).await[&projects[2].id];
    assert_eq!(
        (t.state.as_str(), t.error_message.as_str()),
        ("ERRED", "project deleted")
    );
    let cloud = app.get(app.path_of(&cloud.url)).await.json();
    assert_eq!(cloud["state"], "OK", "{cloud}");
    app.stop().await;
}
