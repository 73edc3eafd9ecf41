//! No answer ever contains a stored secret, in clear or sealed.
use serde_json::json;

use crate::common::{Tenant, TestApp};

#[tokio::test]
async fn no_response_ever_contains_a_stored_secret() {
    let app = TestApp::init().with_cloud("leaky").start().await;
    let a = app.cloud("leaky");
    let t: Tenant = app
        .post(
            "/api/openstack-tenants/",
            json!({"name": "t", "backend_id": "p", "service_settings": a.url, "application_credential_id": "ac", "application_credential_secret": "tenant-app-secret"}),
        )
        .await
        .parse();
    let mut texts = Vec::new();
    for path in [
        "/api/service-settings/",
        app.path_of(&a.url),
        "/api/openstack-tenants/",
        app.path_of(&t.url),
        "/api/openapi.json",
    ] {
        texts.push(app.get(path).await.text);
    }
    for text in texts {
        assert!(
            !text.contains("pw-leaky-secret") && !text.contains("tenant-app-secret"),
            "{text}"
        );
        assert!(!text.contains("xc1:"), "sealed blobs are not shown either");
    }
    app.stop().await;
}
