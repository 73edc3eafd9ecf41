//! The version document (`/` and `/versions`, without a token, as Glance serves them) and
//! Glance 33's schemas.
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{glance_call, glance_get};
use crate::common::TestApp;

#[tokio::test]
async fn the_version_document_links_back_to_the_clouds_endpoint() {
    let app = TestApp::init().with_cloud("a").start().await;
    let cloud = app.cloud("a").uuid.clone();
    let href = format!("{}/image/{cloud}/v2/", app.base);
    for (path, status) in [
        ("", StatusCode::MULTIPLE_CHOICES),
        ("/", StatusCode::MULTIPLE_CHOICES),
        ("/versions", StatusCode::OK),
    ] {
        let r = glance_call(&app, Method::GET, &cloud, path, None, &[]).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        let versions = r.json()["versions"].as_array().unwrap().clone();
        assert_eq!(versions.len(), 11);
        let current: Vec<&Value> = versions
            .iter()
            .filter(|v| v["status"] == "CURRENT")
            .collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["id"], "v2.17");
        for v in &versions {
            assert_eq!(
                v["links"],
                serde_json::json!([{"rel": "self", "href": href}])
            );
        }
    }
    let unknown = glance_call(
        &app,
        Method::GET,
        "0123456789abcdef0123456789abcdef",
        "/versions",
        None,
        &[],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn the_schemas_are_glances() {
    let app = TestApp::init().with_cloud("a").start().await;
    let cloud = app.cloud("a").uuid.clone();
    let image = glance_get(&app, &cloud, "/v2/schemas/image", &app.staff_token).await;
    assert_eq!(image.status, StatusCode::OK);
    let image = image.json();
    assert_eq!(image["name"], "image");
    assert_eq!(
        image["additionalProperties"],
        serde_json::json!({"type": "string"})
    );
    for field in [
        "id",
        "name",
        "status",
        "visibility",
        "os_hidden",
        "min_disk",
        "tags",
    ] {
        assert!(image["properties"][field].is_object(), "{field}");
    }
    let images = glance_get(&app, &cloud, "/v2/schemas/images", &app.staff_token).await;
    let images = images.json();
    assert_eq!(images["name"], "images");
    assert_eq!(images["properties"]["images"]["items"], image);
    app.stop().await;
}
