//! `/api/tokens/`: API tokens, staff or scoped to tenants.
mod create;
mod delete;
mod me;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{ApiToken, TestApp};

/// Cloud "a" with tenant "t", and a token "reporting" scoped to t, valid 30 days.
pub async fn reporting_token() -> (TestApp, ApiToken) {
    let app = TestApp::init()
        .with_cloud("a")
        .with_tenant("a", "t")
        .start()
        .await;
    let created = app
        .post(
            "/api/tokens/",
            json!({"name": "reporting", "tenants": [app.tenant("t").url], "expires_in_days": 30}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let token = created.parse();
    (app, token)
}
