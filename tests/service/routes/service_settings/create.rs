//! POST `/api/service-settings/`: registering a cloud; credentials are write-only and
//! encrypted at rest.
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::create_prod;
use crate::common::internals::OpenedCredentials;
use crate::common::{FieldErrors, TestApp, sorted_keys};

#[tokio::test]
async fn a_registered_cloud_has_exactly_the_waldur_fields_and_no_credentials() {
    let app = TestApp::new().await;
    let (created, s) = create_prod(&app).await;
    let raw = created.json();
    assert_eq!(
        sorted_keys(&raw),
        [
            "created",
            "error_message",
            "last_sweep",
            "modified",
            "name",
            "options",
            "shared",
            "state",
            "type",
            "url",
            "uuid",
            "warnings"
        ]
    );
    assert_eq!(s.kind, "OpenStack");
    assert_eq!(s.state, "OK");
    assert!(s.shared);
    assert_eq!(
        s.options,
        json!({"auth_url": "https://keystone.example.org:5000/v3", "region": "RegionOne", "interface": "internal", "domain": "corp",
            "sync_mode": "auto", "discover_tenants": false, "project_tags": [],
            "cacert": null, "verify": true, "cert": null})
    );
    assert_eq!(s.warnings, Vec::<String>::new());
    assert_eq!(raw["last_sweep"], Value::Null, "no sweep yet");
    assert_eq!(
        s.url,
        format!("{}/api/service-settings/{}/", app.base, s.uuid)
    );
    assert!(!created.text.contains("very-secret-pw") && !created.text.contains("admin\""));
    app.stop().await;
}

/// The raw column does not hold the password, but the key opens it.
#[tokio::test]
async fn credentials_are_stored_encrypted() {
    let app = TestApp::new().await;
    create_prod(&app).await;
    let stored = app.stored_credentials().await;
    assert!(!stored.sealed.contains("very-secret-pw"));
    assert!(
        matches!(stored.opened, OpenedCredentials::Password { ref password, .. } if password == "very-secret-pw")
    );
    app.stop().await;
}

#[tokio::test]
async fn validation_names_every_bad_field() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/api/service-settings/",
            json!({"type": "Azure", "options": {"auth_url": "not a url", "interface": "private"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.json();
    for field in ["name", "type", "auth_url", "interface", "non_field_errors"] {
        assert!(e[field].is_array(), "{field} missing from {e}");
    }
    r.parse::<FieldErrors>();
    app.stop().await;
}

#[tokio::test]
async fn a_password_and_an_application_credential_exclude_each_other() {
    let app = TestApp::new().await;
    let mixed = app
        .post("/api/service-settings/", json!({"name": "x", "options": {"auth_url": "http://k"}, "username": "u", "password": "p", "application_credential_id": "a", "application_credential_secret": "s"}))
        .await;
    assert_eq!(mixed.status, StatusCode::BAD_REQUEST);
    assert!(mixed.json()["non_field_errors"].is_array());
    app.stop().await;
}

#[tokio::test]
async fn a_username_needs_a_password() {
    let app = TestApp::new().await;
    let half = app
        .post(
            "/api/service-settings/",
            json!({"name": "x", "options": {"auth_url": "http://k"}, "username": "u"}),
        )
        .await;
    assert_eq!(
        half.parse::<FieldErrors>(),
        FieldErrors::from([("password".into(), vec!["This field is required.".into()])])
    );
    app.stop().await;
}

/// Malformed JSON and wrong types are 400 with a JSON body, never 500.
#[tokio::test]
async fn malformed_json_and_wrong_types_are_400_with_a_detail() {
    let app = TestApp::new().await;
    let raw = app
        .client
        .post(app.url("/api/service-settings/"))
        .header("Authorization", format!("Token {}", app.staff_token))
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: Value = raw.json().await.unwrap();
    assert!(body["detail"].is_string());
    let wrong_type = app
        .post(
            "/api/service-settings/",
            json!({"name": "x", "shared": [1]}),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert!(wrong_type.json()["detail"].is_string());
    app.stop().await;
}
