//! GET `/api/openstack-images/{uuid}/`.
use reqwest::StatusCode;

use super::three_clouds;
use crate::common::{Detail, Image, ImageSpec, TestApp};

#[tokio::test]
async fn an_image_is_retrieved_by_either_uuid_form_with_or_without_the_slash() {
    let app = TestApp::init().with_cloud("cloud-a").start().await;
    let img = app
        .insert_image(
            app.cloud("cloud-a"),
            ImageSpec::new("rescue-img")
                .created("2025-01-02T03:04:05Z")
                .rescue("cdrom"),
        )
        .await;
    let listed: Vec<Image> = app.get("/api/openstack-images/").await.items();
    let hex = img.uuid.simple().to_string();
    for path in [
        format!("/api/openstack-images/{hex}/"),
        format!("/api/openstack-images/{hex}"),
        format!("/api/openstack-images/{}/", img.uuid.hyphenated()),
    ] {
        let one = app.get(&path).await;
        assert_eq!(one.status, StatusCode::OK, "{path}: {}", one.text);
        assert_eq!(one.parse::<Image>(), listed[0]);
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_or_malformed_uuid_is_not_found() {
    let app = TestApp::init().with_cloud("cloud-a").start().await;
    app.insert_image(app.cloud("cloud-a"), ImageSpec::new("img"))
        .await;
    for missing in [
        format!("/api/openstack-images/{}/", uuid::Uuid::new_v4().simple()),
        "/api/openstack-images/not-a-uuid/".into(),
    ] {
        let r = app.get(&missing).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.parse::<Detail>(), Detail::new("Not found."));
    }
    app.stop().await;
}

#[tokio::test]
async fn a_scoped_token_retrieves_only_the_images_it_sees() {
    let app = three_clouds().await;
    let tok = app.token("t3-only");
    let all: Vec<Image> = app
        .get("/api/openstack-images/?page_size=100")
        .await
        .items();
    for item in &all {
        let r = app
            .get_as(tok, &format!("/api/openstack-images/{}/", item.uuid))
            .await;
        let visible = ["Debian", "ubuntu-minimal"].contains(&item.name.as_str());
        assert_eq!(
            r.status,
            if visible {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            },
            "{}",
            item.name
        );
    }
    app.stop().await;
}
