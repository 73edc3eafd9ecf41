//! GET `/api/openstack-images/`: the items' shape and who sees what.
use reqwest::StatusCode;

use super::three_clouds;
use crate::common::{Image, ImageSpec, TestApp, sorted_keys};

fn is_lower_hex32(s: &str) -> bool {
    s.len() == 32
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

#[tokio::test]
async fn items_have_exactly_the_waldur_fields_with_absolute_urls() {
    let app = TestApp::init().with_cloud("cloud-a").start().await;
    let cloud = app.cloud("cloud-a");
    let img = app
        .insert_image(
            cloud,
            ImageSpec::new("rescue-img")
                .created("2025-01-02T03:04:05Z")
                .rescue("cdrom"),
        )
        .await;
    app.insert_image(cloud, ImageSpec::new("plain-img")).await;

    let r = app.get("/api/openstack-images/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.count(), 2);
    assert_eq!(r.names(), ["plain-img", "rescue-img"]);
    // The exact set of keys, on the raw JSON: Waldur's, then Glance's detail after them (so
    // clients generated from Waldur's spec find theirs first and keep the rest as extras).
    let raw = r.json();
    let waldur = [
        "url",
        "uuid",
        "name",
        "min_disk",
        "min_ram",
        "settings",
        "backend_id",
        "backend_created_at",
        "hw_rescue_device",
        "hw_rescue_bus",
        "is_rescue_image",
    ];
    let detail = [
        "status",
        "visibility",
        "size",
        "disk_format",
        "container_format",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "owner",
        "protected",
        "os_hidden",
        "tags",
        "os_distro",
        "os_version",
        "architecture",
        "backend_updated_at",
        "tenants_count",
    ];
    let mut all: Vec<&str> = waldur.iter().chain(&detail).copied().collect();
    all.sort_unstable();
    assert_eq!(sorted_keys(&raw[1]), all);
    // The document lists them in that order (the raw text: parsed objects sort their keys).
    let spec = app.get("/api/openapi.json").await.text;
    let schema = &spec[spec.find("\"OpenStackImage\"").unwrap()..];
    let properties = &schema[schema.find("\"properties\"").unwrap()..];
    let at = |key: &str| {
        properties
            .find(&format!("\"{key}\""))
            .unwrap_or_else(|| panic!("{key} documented"))
    };
    let ordered: Vec<&str> = waldur.iter().chain(&detail).copied().collect();
    for pair in ordered.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} before {}", pair[0], pair[1]);
    }
    let items: Vec<Image> = r.items();
    let rescue = &items[1];
    assert!(is_lower_hex32(&rescue.uuid), "{}", rescue.uuid);
    assert_eq!(rescue.uuid, img.uuid.simple().to_string());
    assert_eq!(
        rescue.url,
        format!("{}/api/openstack-images/{}/", app.base, rescue.uuid)
    );
    assert_eq!(rescue.settings, cloud.url);
    assert_eq!(
        rescue.settings,
        format!("{}/api/service-settings/{}/", app.base, cloud.uuid)
    );
    assert_eq!(rescue.min_disk, 10240);
    assert_eq!(rescue.min_ram, 512);
    assert_eq!(rescue.backend_id, img.backend_id);
    assert!(rescue.is_rescue_image);
    assert_eq!(rescue.hw_rescue_device, "cdrom");
    assert_eq!(rescue.hw_rescue_bus, "virtio");
    let created =
        chrono::DateTime::parse_from_rfc3339(rescue.backend_created_at.as_deref().unwrap())
            .unwrap();
    assert_eq!(created.timestamp(), 1735787045);
    let plain = &items[0];
    assert!(!plain.is_rescue_image);
    assert_eq!(plain.hw_rescue_device, "");
    assert_eq!(plain.hw_rescue_bus, "");
    assert!(plain.backend_created_at.is_none());
    assert!(raw[0]["backend_created_at"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn a_scoped_token_lists_only_its_tenants_images() {
    let app = three_clouds().await;
    let tok = app.token("t3-only");
    let list = app.get_as(tok, "/api/openstack-images/").await;
    assert_eq!(list.names(), ["Debian", "ubuntu-minimal"]);
    assert_eq!(list.count(), 2);
    let head = app.head_as(tok, "/api/openstack-images/").await;
    assert_eq!(head.count(), 2);
    // Filters cannot widen the view.
    let widened = app
        .get_as(
            tok,
            &format!(
                "/api/openstack-images/?settings_uuid={}",
                app.cloud("cloud-a").uuid
            ),
        )
        .await;
    assert_eq!(widened.count(), 0);
    app.stop().await;
}
