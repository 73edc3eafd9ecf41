//! `/api/service-settings/`: the registered clouds (Waldur's service settings).
mod check;
mod create;
mod delete;
mod read;
mod tls;
mod update;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Reply, ServiceSettings, TestApp};

/// Registers "prod" (shared, region RegionOne, interface internal, domain corp, password
/// "very-secret-pw", plus a field the API does not know); the answer and the cloud.
pub async fn create_prod(app: &TestApp) -> (Reply, ServiceSettings) {
    let created = app
        .post(
            "/api/service-settings/",
            json!({
                "name": "prod", "shared": true, "unknown_field": 1,
                "options": {"auth_url": "https://keystone.example.org:5000/v3", "region": "RegionOne", "interface": "internal", "domain": "corp"},
                "username": "admin", "password": "very-secret-pw", "project_name": "admin"
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let cloud = created.parse();
    (created, cloud)
}
