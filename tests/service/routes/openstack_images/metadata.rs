//! GET `/api/openstack-images/{uuid}/metadata/` and `…/metadata/{key}/`: an image's extra
//! Glance properties in Nova's image-metadata shapes; writes answer 405.
use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::sim::SimApp;

/// The catalog uuid of the image whose Glance id is `id`, as the tenant sees it.
async fn image_uuid(s: &SimApp, glance_id: &str) -> String {
    let images = s.app.list_all_images("show_duplicate_names=true").await;
    images
        .into_iter()
        .find(|i| i.backend_id == glance_id)
        .map(|i| i.uuid)
        .expect("the image is in the catalog")
}

#[tokio::test]
async fn metadata_is_glances_extra_properties_read_only() {
    let s = SimApp::generated(2, 3, 0).start().await;
    let props = BTreeMap::from([
        ("os_distro".to_string(), "ubuntu".to_string()),
        ("os_version".to_string(), "24.04".to_string()),
        ("hw_firmware_type".to_string(), "uefi".to_string()),
    ]);
    let (glance_id, owner) = s.sim.with_world(|w| {
        let img = w
            .images
            .iter_mut()
            .find(|i| i.visibility == "private")
            .expect("a private image");
        img.properties = props.clone();
        (img.id.clone(), img.owner.clone())
    });
    s.sweep_ok().await;
    let uuid = image_uuid(&s, &glance_id).await;

    let all = s
        .app
        .get(&format!("/api/openstack-images/{uuid}/metadata/"))
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.json(), json!({ "metadata": props }));
    let one = s
        .app
        .get(&format!("/api/openstack-images/{uuid}/metadata/os_distro/"))
        .await;
    assert_eq!(one.json(), json!({"meta": {"os_distro": "ubuntu"}}));
    let missing = s
        .app
        .get(&format!(
            "/api/openstack-images/{uuid}/metadata/no_such_key/"
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json(), json!({"detail": "Not found."}));

    for (method, path) in [
        (
            Method::POST,
            format!("/api/openstack-images/{uuid}/metadata/"),
        ),
        (
            Method::PUT,
            format!("/api/openstack-images/{uuid}/metadata/"),
        ),
        (
            Method::PUT,
            format!("/api/openstack-images/{uuid}/metadata/os_distro/"),
        ),
        (
            Method::DELETE,
            format!("/api/openstack-images/{uuid}/metadata/os_distro/"),
        ),
    ] {
        let r = s
            .app
            .call(
                method.clone(),
                &path,
                Some(&s.app.staff_token),
                Some(json!({"meta": {"a": "b"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            r.json()["detail"].as_str().unwrap().contains("read-only"),
            "{}",
            r.text
        );
        assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
    }
    let after = s
        .app
        .get(&format!("/api/openstack-images/{uuid}/metadata/"))
        .await;
    assert_eq!(
        after.json(),
        json!({ "metadata": props }),
        "nothing changed"
    );

    // Invisible to another tenant's token: 404, as the image itself.
    let other = s
        .tenants
        .iter()
        .find(|t| t.backend_id != owner)
        .expect("another tenant");
    let token = s.app.scoped_token("other", &[other]).await;
    let hidden = s
        .app
        .get_as(&token, &format!("/api/openstack-images/{uuid}/metadata/"))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    s.stop().await;
}
