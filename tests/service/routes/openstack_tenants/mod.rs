//! `/api/openstack-tenants/`: the registered OpenStack projects.
mod create;
mod delete;
mod list;
mod pull;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Tenant, TestApp};

/// Clouds "a" and "b"; tenant "Alpha" of a (project `proj-Alpha`, the cloud's credentials).
pub async fn alpha() -> TestApp {
    TestApp::init()
        .with_cloud("a")
        .with_cloud("b")
        .with_tenant("a", "Alpha")
        .start()
        .await
}

/// Registers tenant "beta" of cloud b, naming the cloud by uuid, with its own credentials
/// (user "bob", password "tenant-pw-123"); the answer must not show the password.
pub async fn create_beta(app: &TestApp) -> Tenant {
    let t2 = app
        .post(
            "/api/openstack-tenants/",
            json!({"name": "beta", "backend_id": "p-beta", "service_settings_uuid": app.cloud("b").uuid, "user_username": "bob", "user_password": "tenant-pw-123"}),
        )
        .await;
    assert_eq!(t2.status, StatusCode::CREATED, "{}", t2.text);
    assert!(!t2.text.contains("tenant-pw-123"));
    t2.parse()
}
