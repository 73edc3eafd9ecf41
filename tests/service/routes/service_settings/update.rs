//! PATCH and PUT `/api/service-settings/{uuid}/`.
use reqwest::StatusCode;
use serde_json::json;

use super::create_prod;
use crate::common::internals::OpenedCredentials;
use crate::common::{FieldErrors, ServiceSettings, TestApp};

#[tokio::test]
async fn patch_changes_only_the_fields_given() {
    let app = TestApp::new().await;
    let (_, s) = create_prod(&app).await;
    let patched = app
        .patch(
            app.path_of(&s.url),
            json!({"name": "prod-2", "options": {"region": "R2"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let patched: ServiceSettings = patched.parse();
    assert_eq!(patched.name, "prod-2");
    assert_eq!(patched.options["region"], "R2");
    assert_eq!(patched.options["interface"], "internal");
    app.stop().await;
}

#[tokio::test]
async fn put_needs_the_required_fields() {
    let app = TestApp::new().await;
    let (_, s) = create_prod(&app).await;
    let put_bad = app.put(app.path_of(&s.url), json!({"shared": false})).await;
    assert_eq!(put_bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        put_bad.parse::<FieldErrors>()["name"],
        ["This field is required."]
    );
    app.stop().await;
}

/// Switching to an application credential replaces the password; the secret is not shown.
#[tokio::test]
async fn put_with_an_application_credential_replaces_the_password() {
    let app = TestApp::new().await;
    let (_, s) = create_prod(&app).await;
    let put = app
        .put(
            app.path_of(&s.url),
            json!({"name": "prod-3", "options": {"auth_url": "http://k:5000"}, "application_credential_id": "app-id", "application_credential_secret": "app-secret-xyz"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert!(!put.text.contains("app-secret-xyz"));
    assert!(matches!(
        app.stored_credentials().await.opened,
        OpenedCredentials::ApplicationCredential { ref secret } if secret == "app-secret-xyz"
    ));
    app.stop().await;
}
