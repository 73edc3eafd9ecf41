//! POST `/api/openstack-tenants/`.
use reqwest::StatusCode;
use serde_json::json;

use super::{alpha, create_beta};
use crate::common::{FieldErrors, TestApp, sorted_keys};

#[tokio::test]
async fn a_registered_tenant_has_exactly_the_waldur_fields() {
    let app = TestApp::init().with_cloud("a").start().await;
    let a = app.cloud("a");
    let r = app
        .post(
            "/api/openstack-tenants/",
            json!({"name": "Alpha", "backend_id": "proj-Alpha", "service_settings": a.url}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let raw = r.json();
    assert_eq!(
        sorted_keys(&raw),
        [
            "backend_id",
            "created",
            "error_kind",
            "error_message",
            "image_quota_usage",
            "import_methods",
            "last_success_at",
            "last_sync_at",
            "modified",
            "name",
            "service_settings",
            "service_settings_uuid",
            "state",
            "stores",
            "unavailable_services",
            "url",
            "uuid"
        ]
    );
    let t1: crate::common::Tenant = r.parse();
    assert_eq!(t1.service_settings, a.url);
    assert_eq!(t1.service_settings_uuid, a.uuid);
    assert!(t1.last_sync_at.is_none());
    assert!(raw["last_sync_at"].is_null());
    app.stop().await;
}

/// By the cloud's uuid instead of its URL, with the tenant's own (write-only) credentials.
#[tokio::test]
async fn a_tenant_may_name_its_cloud_by_uuid_and_bring_its_own_credentials() {
    let app = alpha().await;
    let beta = create_beta(&app).await;
    assert_eq!(beta.service_settings_uuid, app.cloud("b").uuid);
    app.stop().await;
}

#[tokio::test]
async fn a_project_is_registered_once_per_cloud() {
    let app = alpha().await;
    let dup = app
        .post(
            "/api/openstack-tenants/",
            json!({"name": "again", "backend_id": "proj-Alpha", "service_settings": app.cloud("a").url}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert!(dup.json()["backend_id"].is_array());
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_cloud_is_a_field_error() {
    let app = alpha().await;
    let unknown = app
        .post("/api/openstack-tenants/", json!({"name": "x", "backend_id": "y", "service_settings": format!("{}/api/service-settings/{}/", app.base, uuid::Uuid::new_v4().simple())}))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.json()["service_settings"].is_array());
    app.stop().await;
}

#[tokio::test]
async fn missing_fields_are_named() {
    let app = alpha().await;
    let missing = app.post("/api/openstack-tenants/", json!({})).await;
    let e = missing.json();
    assert!(
        e["name"].is_array() && e["backend_id"].is_array() && e["service_settings"].is_array(),
        "{e}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_username_needs_a_password() {
    let app = alpha().await;
    let half = app.post("/api/openstack-tenants/", json!({"name": "x", "backend_id": "z", "service_settings": app.cloud("a").url, "user_username": "u"})).await;
    assert_eq!(
        half.parse::<FieldErrors>(),
        FieldErrors::from([(
            "user_password".into(),
            vec!["This field is required.".into()]
        )])
    );
    app.stop().await;
}
