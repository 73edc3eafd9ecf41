//! POST `/api/offerings/`.
use reqwest::StatusCode;
use serde_json::json;

use super::two_offerings;

#[tokio::test]
async fn an_offering_is_scoped_to_a_cloud_or_a_tenant() {
    let (app, o1, o2) = two_offerings().await;
    assert_eq!(o1.scope.as_deref(), Some(app.cloud("a").url.as_str()));
    assert_eq!(o2.scope.as_deref(), Some(app.tenant("t").url.as_str()));
    assert_eq!(
        o2.scope_uuid.as_deref(),
        Some(app.tenant("t").uuid.as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn a_scope_that_is_no_cloud_or_tenant_is_refused() {
    let (app, _, _) = two_offerings().await;
    let bad = app
        .post(
            "/api/offerings/",
            json!({"name": "x", "scope": "http://h/api/customers/abc/"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["scope"].is_array());
    let gone = app.post("/api/offerings/", json!({"name": "x", "scope": format!("{}/api/openstack-tenants/{}/", app.base, uuid::Uuid::new_v4().simple())})).await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST);
    app.stop().await;
}
