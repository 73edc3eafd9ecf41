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

/// A project alone re-scopes the stored user: the password is not asked for again, and the
/// new project replaces the old one (name and id together).
#[tokio::test]
async fn patch_of_the_project_alone_keeps_the_stored_user() {
    let app = TestApp::new().await;
    let (_, s) = create_prod(&app).await;
    let patched = app
        .patch(app.path_of(&s.url), json!({"project_id": "p-123"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(
        app.stored_credentials().await.opened,
        OpenedCredentials::Password {
            username: "admin".into(),
            password: "very-secret-pw".into(),
            project_name: None,
            project_id: Some("p-123".into()),
        }
    );
    // A password alone rotates it and keeps the user and the project.
    let rotated = app
        .patch(app.path_of(&s.url), json!({"password": "rotated-pw"}))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    assert!(!rotated.text.contains("rotated-pw"));
    assert_eq!(
        app.stored_credentials().await.opened,
        OpenedCredentials::Password {
            username: "admin".into(),
            password: "rotated-pw".into(),
            project_name: None,
            project_id: Some("p-123".into()),
        }
    );
    app.stop().await;
}

/// Changing the kind of credentials needs the new kind whole; an application credential
/// cannot be given a project.
#[tokio::test]
async fn patch_changing_the_kind_of_credentials_needs_them_whole() {
    let app = TestApp::new().await;
    let (_, s) = create_prod(&app).await;
    let half = app
        .patch(
            app.path_of(&s.url),
            json!({"application_credential_id": "app-id"}),
        )
        .await;
    assert_eq!(half.status, StatusCode::BAD_REQUEST, "{}", half.text);
    assert_eq!(
        half.parse::<FieldErrors>()["application_credential_secret"],
        ["This field is required."]
    );
    let whole = app
        .patch(
            app.path_of(&s.url),
            json!({"application_credential_id": "app-id", "application_credential_secret": "s3cret-app"}),
        )
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.text);
    // The secret alone now rotates the application credential.
    let rotated = app
        .patch(
            app.path_of(&s.url),
            json!({"application_credential_secret": "rotated-app"}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    assert_eq!(
        app.stored_credentials().await.opened,
        OpenedCredentials::ApplicationCredential {
            secret: "rotated-app".into()
        }
    );
    let scoped = app
        .patch(app.path_of(&s.url), json!({"project_name": "ops"}))
        .await;
    assert_eq!(scoped.status, StatusCode::BAD_REQUEST, "{}", scoped.text);
    assert!(
        scoped.parse::<FieldErrors>()["project_name"][0].contains("its own project"),
        "{}",
        scoped.text
    );
    app.stop().await;
}
