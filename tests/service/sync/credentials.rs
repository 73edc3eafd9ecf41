//! Credentials: the cloud's, a tenant's own password, application credentials by id or by
//! name and user; a failing tenant does not stop the others.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::sim::{SimApp, generated_world, glance_ids};
use crate::common::{FieldErrors, ServiceSettings, Tenant, TenantOutcome, assert_same_ids};

/// Two projects; project 1's member has the application credential "cc" (id
/// `app-cred-1`). Cloud "sim" has a wrong admin password, cloud "sim-again" the right one.
struct Credentialed {
    s: SimApp,
    user1: cloudcensus_sim::User,
    p1: String,
    /// Project 0 with the cloud's (bad) password.
    t0: Tenant,
    /// Project 1 with the application credential by id.
    t1: Tenant,
    /// Project 1 through "sim-again" with the credential by name and user.
    t2: Tenant,
    /// Project 0 through "sim-again" with project 1's credential.
    t3: Tenant,
    outcomes: Vec<TenantOutcome>,
}

/// A cloud whose tenants log in themselves (these tests are about their credentials).
async fn register_cloud(s: &SimApp, name: &str, password: &str) -> ServiceSettings {
    s.app
        .post(
            "/api/service-settings/",
            json!({"name": name, "options": {"auth_url": s.sim.auth_url(), "sync_mode": "per_tenant"},
                "username": "admin", "password": password}),
        )
        .await
        .parse()
}

async fn register_tenant(s: &SimApp, body: serde_json::Value) -> Tenant {
    let r = s.app.post("/api/openstack-tenants/", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.parse()
}

/// Registers the four tenants and syncs them once.
async fn credentialed() -> Credentialed {
    let mut world = generated_world(2, 10, 2, 3);
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
    let s = SimApp::world(world).unregistered().start().await;
    let cloud = register_cloud(&s, "sim", "wrong-password").await;
    let p0 = s.sim.with_world(|w| w.projects[0].clone());
    let t0 = register_tenant(
        &s,
        json!({"name": "t0", "backend_id": p0.id, "service_settings": cloud.url}),
    )
    .await;
    let t1 = register_tenant(
        &s,
        json!({"name": "t1", "backend_id": p1.id, "service_settings": cloud.url,
            "application_credential_id": "app-cred-1", "application_credential_secret": "app-secret-1"}),
    )
    .await;
    let cloud2 = register_cloud(&s, "sim-again", "admin-password").await;
    let t2 = s
        .app
        .post(
            "/api/openstack-tenants/",
            json!({"name": "t2", "backend_id": p1.id, "service_settings": cloud2.url,
                "application_credential_name": "cc", "application_credential_user": user1.name,
                "application_credential_secret": "app-secret-1"}),
        )
        .await;
    assert_eq!(t2.status, StatusCode::CREATED, "{}", t2.text);
    assert!(!t2.text.contains("app-secret-1"));
    let t2 = t2.parse();
    let t3 = register_tenant(
        &s,
        json!({"name": "t3", "backend_id": p0.id, "service_settings": cloud2.url,
            "application_credential_id": "app-cred-1", "application_credential_secret": "app-secret-1"}),
    )
    .await;
    let outcomes = s.sweep().await;
    Credentialed {
        s,
        user1,
        p1: p1.id,
        t0,
        t1,
        t2,
        t3,
        outcomes,
    }
}

#[tokio::test]
async fn a_named_application_credential_needs_its_users_name() {
    let s = SimApp::world(generated_world(2, 10, 2, 3))
        .unregistered()
        .start()
        .await;
    let cloud2 = register_cloud(&s, "sim-again", "admin-password").await;
    let p1 = s.sim.with_world(|w| w.projects[1].clone());
    let nameless = s
        .app
        .post(
            "/api/openstack-tenants/",
            json!({"name": "t2", "backend_id": p1.id, "service_settings": cloud2.url,
                "application_credential_name": "cc", "application_credential_secret": "app-secret-1"}),
        )
        .await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    assert!(
        nameless
            .parse::<FieldErrors>()
            .contains_key("application_credential_user"),
        "{}",
        nameless.text
    );
    s.stop().await;
}

#[tokio::test]
async fn application_credentials_by_id_or_by_name_see_what_their_user_sees() {
    let c = credentialed().await;
    assert_eq!(c.outcomes.len(), 4);
    let t1j = c.s.app.tenant_now(&c.t1).await;
    assert_eq!(t1j.state, "OK", "{}", t1j.error_message);
    let t2j = c.s.app.tenant_now(&c.t2).await;
    assert_eq!(t2j.state, "OK", "{}", t2j.error_message);
    let want = glance_ids(&c.s.sim, &c.user1.name, &c.user1.password, &c.p1).await;
    assert_same_ids(
        &c.s.app.catalog_ids(&c.t1).await,
        &want,
        "app-credential tenant",
    );
    assert_same_ids(
        &c.s.app.catalog_ids(&c.t2).await,
        &want,
        "named app-credential tenant",
    );
    c.s.stop().await;
}

/// An application credential of project 1 given to project 0's tenant is refused.
#[tokio::test]
async fn an_application_credential_of_another_project_is_refused() {
    let c = credentialed().await;
    let t3j = c.s.app.tenant_now(&c.t3).await;
    assert_eq!(t3j.state, "ERRED");
    assert!(
        t3j.error_message.contains("not to this tenant's project"),
        "{t3j:?}"
    );
    assert!(c.s.app.catalog_ids(&c.t3).await.is_empty());
    c.s.stop().await;
}

#[tokio::test]
async fn a_tenant_failing_to_authenticate_does_not_stop_the_others() {
    let c = credentialed().await;
    let t0j = c.s.app.tenant_now(&c.t0).await;
    assert_eq!(t0j.state, "ERRED");
    assert!(
        t0j.error_message.contains("authentication failed"),
        "{}",
        t0j.error_message
    );
    let t1j = c.s.app.tenant_now(&c.t1).await;
    assert_eq!(t1j.state, "OK", "{}", t1j.error_message);
    c.s.stop().await;
}

#[tokio::test]
async fn glance_info_is_stored_on_the_tenant() {
    let c = credentialed().await;
    let t1j = c.s.app.tenant_now(&c.t1).await;
    assert!(
        t1j.image_quota_usage
            .as_ref()
            .is_some_and(|v| v.is_object()),
        "{t1j:?}"
    );
    assert!(t1j.stores.as_ref().is_some_and(|v| v.is_array()));
    assert!(t1j.import_methods.as_ref().is_some_and(|v| v.is_object()));
    c.s.stop().await;
}

/// Keystone revokes by whole seconds: right after a password is restored, the first token is
/// born revoked. The sync waits that second out instead of going ERRED.
#[tokio::test]
async fn a_sync_in_the_second_of_a_password_change_still_succeeds() {
    let s = SimApp::generated(1, 20, 2).unregistered().start().await;
    let p0 = s.sim.with_world(|w| w.projects[0].clone());
    let cloud = register_cloud(&s, "sim-user", "admin-password").await;
    let tenant = register_tenant(
        &s,
        json!({"name": "own-user", "backend_id": p0.id, "service_settings": cloud.url,
            "user_username": "user-0", "user_password": "password-0"}),
    )
    .await;
    while chrono::Utc::now().timestamp_subsec_millis() > 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let set_password = |pw: &'static str| {
        s.sim.with_world(|w| {
            w.users
                .iter_mut()
                .find(|u| u.name == "user-0")
                .unwrap()
                .password = pw.into()
        })
    };
    set_password("temporary");
    set_password("password-0");
    let outcomes = s.sweep().await;
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    assert_eq!(s.app.tenant_now(&tenant).await.state, "OK");
    s.stop().await;
}
