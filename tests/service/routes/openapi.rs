//! The OpenAPI document: committed, Waldur's operation ids, the token scheme, and the docs.
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;
use crate::common::internals::openapi_spec;

#[test]
fn the_committed_openapi_matches_the_generated_one() {
    let generated = openapi_spec();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    assert!(
        generated.trim() == committed.trim(),
        "openapi/openapi.json is stale: regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn the_spec_declares_waldur_operation_ids_and_the_token_scheme() {
    let spec: Value = serde_json::from_str(&openapi_spec()).unwrap();
    let mut ids = Vec::new();
    for (_, ops) in spec["paths"].as_object().unwrap() {
        for (_, op) in ops.as_object().unwrap() {
            ids.push(op["operationId"].as_str().unwrap().to_string());
        }
    }
    for id in [
        "openstack_images_list",
        "openstack_images_count",
        "openstack_images_retrieve",
        "openstack_images_usage_stats_retrieve",
        "openstack_images_usage_stats_count",
        "service_settings_list",
        "service_settings_create",
        "service_settings_partial_update",
        "openstack_tenants_list",
        "openstack_tenants_pull",
    ] {
        assert!(ids.iter().any(|i| i == id), "missing {id}");
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["Token"]["type"],
        "apiKey"
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["Token"]["name"],
        "Authorization"
    );
    let list = &spec["paths"]["/api/openstack-images"]["get"];
    for status in ["200", "400", "401", "403", "404"] {
        assert!(list["responses"][status].is_object(), "list lacks {status}");
    }
    assert!(
        list["responses"]["200"]["headers"]["X-RESULT-COUNT"].is_object()
            || list["responses"]["200"]["headers"]["X-Result-Count"].is_object()
    );
    let usage = &spec["paths"]["/api/openstack-images/usage_stats"]["get"]["responses"]["200"];
    assert_eq!(
        usage["content"]["application/json; charset=utf-8"]["schema"]["type"],
        "array"
    );
}

#[tokio::test]
async fn the_docs_page_is_served_without_a_token() {
    let app = TestApp::new().await;
    let docs = app.get_anonymous("/api/docs/").await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("swagger"));
    app.stop().await;
}
