//! Glance's detail on the Waldur face: the fields after Waldur's, `tenants_count`, `?fields=`,
//! the detail filters and `o`, and their 400s.
use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::sim::SimApp;
use crate::common::wire::Image;
use crate::common::{ImageSpec, TestApp, sorted_keys};
use entity::types::ImageVisibility;

#[tokio::test]
async fn an_image_shows_what_glance_says_of_it_and_who_sees_it() {
    let s = SimApp::generated(3, 4, 0).start().await;
    let (glance_id, owner) = s.sim.with_world(|w| {
        let img = w
            .images
            .iter_mut()
            .find(|i| i.visibility == "public")
            .expect("a public image");
        img.properties = BTreeMap::from([
            ("os_distro".to_string(), "ubuntu".to_string()),
            ("os_version".to_string(), "24.04".to_string()),
            ("architecture".to_string(), "x86_64".to_string()),
        ]);
        img.tags = vec!["golden".into(), "lts".into()];
        img.protected = true;
        img.size = Some(2_147_483_648);
        img.checksum = Some("0123456789abcdef0123456789abcdef".into());
        img.disk_format = Some("raw".into());
        img.container_format = Some("bare".into());
        (img.id.clone(), img.owner.clone())
    });
    s.sweep_ok().await;
    let listed = s.app.list_all_images("show_duplicate_names=true").await;
    let image: &Image = listed
        .iter()
        .find(|i| i.backend_id == glance_id)
        .expect("listed");
    assert_eq!(image.status, "active");
    assert_eq!(image.visibility, "public");
    assert_eq!(image.size, Some(2_147_483_648));
    assert_eq!(image.disk_format.as_deref(), Some("raw"));
    assert_eq!(image.container_format.as_deref(), Some("bare"));
    assert_eq!(
        image.checksum.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    // The simulator sends sha512 multihashes.
    assert_eq!(image.os_hash_algo.as_deref(), Some("sha512"));
    assert!(image.os_hash_value.is_some());
    assert_eq!(image.owner.as_deref(), Some(owner.as_str()));
    assert!(image.protected);
    assert!(!image.os_hidden);
    assert_eq!(image.tags, ["golden", "lts"]);
    assert_eq!(image.os_distro.as_deref(), Some("ubuntu"));
    assert_eq!(image.os_version.as_deref(), Some("24.04"));
    assert_eq!(image.architecture.as_deref(), Some("x86_64"));
    assert!(image.backend_updated_at.is_some());
    // A public image: every registered tenant sees it.
    assert_eq!(image.tenants_count, s.tenants.len() as u64);
    let retrieved = s
        .app
        .get(&format!("/api/openstack-images/{}/", image.uuid))
        .await;
    let retrieved: Image = serde_json::from_str(&retrieved.text).unwrap();
    assert_eq!(&retrieved, image);

    // A scoped token counts its own tenants only.
    let token = s.app.scoped_token("one", &[&s.tenants[0]]).await;
    let mine = s
        .app
        .get_as(&token, &format!("/api/openstack-images/{}/", image.uuid))
        .await;
    assert_eq!(mine.json()["tenants_count"], json!(1));

    // A private image: its owner's tenant only.
    let private = listed
        .iter()
        .find(|i| i.visibility == "private")
        .expect("a private image");
    assert_eq!(private.tenants_count, 1);
    s.stop().await;
}

#[tokio::test]
async fn fields_trims_lists_and_retrieves() {
    let app = TestApp::init().with_cloud("c").start().await;
    let img = app
        .insert_image(app.cloud("c"), ImageSpec::new("ubuntu"))
        .await;
    let list = app
        .get("/api/openstack-images/?fields=name,uuid,tenants_count")
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(
        sorted_keys(&list.json()[0]),
        ["name", "tenants_count", "uuid"]
    );
    let waldur = app.get("/api/openstack-images/?field=url&field=tags").await;
    assert_eq!(sorted_keys(&waldur.json()[0]), ["tags", "url"]);
    let one = app
        .get(&format!(
            "/api/openstack-images/{}/?fields=status",
            img.uuid.simple()
        ))
        .await;
    assert_eq!(one.json(), json!({"status": "active"}));
    for path in [
        "/api/openstack-images/?fields=name,nope".to_string(),
        format!("/api/openstack-images/{}/?fields=secret", img.uuid.simple()),
    ] {
        let bad = app.get(&path).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{path}");
        let message = bad.json()["fields"][0].as_str().unwrap().to_string();
        assert!(message.contains("is not a field"), "{message}");
        assert!(message.contains("tenants_count"), "{message}");
    }
    app.stop().await;
}

/// Three images with known detail: filters and orderings give hand-computed answers.
#[tokio::test]
async fn detail_filters_and_orderings() {
    let app = TestApp::init()
        .with_cloud("c")
        .with_tenant("c", "t")
        .with_scoped_token("t-only", &["t"])
        .start()
        .await;
    let (cloud, t) = (app.cloud("c"), app.tenant("t"));
    let mut a = ImageSpec::new("alpha").created("2025-01-01T00:00:00Z");
    a.size = Some(300);
    a.min_disk = 2048;
    a.tags = vec!["golden", "gpu"];
    a.owner = Some("p-1");
    a.properties = json!({"os_distro": "ubuntu", "hw_firmware_type": "uefi"});
    let mut b = ImageSpec::new("beta")
        .created("2025-06-01T00:00:00Z")
        .tenants(&[t]);
    b.size = None;
    b.min_disk = 2048;
    b.visibility = ImageVisibility::Private;
    b.status = "deactivated";
    b.disk_format = Some("raw");
    b.tags = vec!["golden"];
    b.properties = json!({"os_distro": "debian"});
    let mut c = ImageSpec::new("gamma").tenants(&[t]);
    c.size = Some(100);
    c.min_disk = 0;
    c.owner = Some("p-2");
    c.properties = json!({"os_distro": "ubuntu"});
    for spec in [a, b, c] {
        app.insert_image(cloud, spec).await;
    }
    let names = |q: &'static str| {
        let app = &app;
        async move {
            let r = app.get(&format!("/api/openstack-images/?{q}")).await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
            r.names()
        }
    };
    assert_eq!(names("visibility=private").await, ["beta"]);
    assert_eq!(names("status=active").await, ["alpha", "gamma"]);
    assert_eq!(names("disk_format=raw").await, ["beta"]);
    assert_eq!(names("os_distro=ubuntu").await, ["alpha", "gamma"]);
    assert_eq!(names("owner=p-1").await, ["alpha"]);
    assert_eq!(names("property=hw_firmware_type:uefi").await, ["alpha"]);
    assert_eq!(
        names("property=os_distro:ubuntu&property=hw_firmware_type:bios").await,
        Vec::<String>::new()
    );
    assert_eq!(names("tag=golden").await, ["alpha", "beta"]);
    assert_eq!(names("tag=golden&tag=gpu").await, ["alpha"]);
    assert_eq!(names("created_after=2025-06-01").await, ["beta"]);
    assert_eq!(
        names("created_before=2025-06-01T00:00:00Z").await,
        ["alpha"]
    );
    assert_eq!(names("o=-name").await, ["gamma", "beta", "alpha"]);
    // No creation time counts as the smallest.
    assert_eq!(
        names("o=backend_created_at").await,
        ["gamma", "alpha", "beta"]
    );
    assert_eq!(
        names("o=-backend_created_at").await,
        ["beta", "alpha", "gamma"]
    );
    // Ties go by name; no size counts as the smallest.
    assert_eq!(names("o=-min_disk").await, ["alpha", "beta", "gamma"]);
    assert_eq!(names("o=size").await, ["beta", "gamma", "alpha"]);
    assert_eq!(names("o=-min_disk,size").await, ["beta", "alpha", "gamma"]);
    // The scoped token: its tenant's two images, filtered and ordered the same way.
    let scoped = app
        .get_as(
            app.token("t-only"),
            "/api/openstack-images/?o=-size&os_distro=ubuntu",
        )
        .await;
    assert_eq!(scoped.names(), ["gamma"]);

    for (query, field) in [
        ("visibility=everyone", "visibility"),
        ("property=os_distro", "property"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2025-13-01", "created_before"),
        ("o=checksum", "o"),
    ] {
        let r = app.get(&format!("/api/openstack-images/?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(r.json()[field].is_array(), "{query}: {}", r.text);
        let head = app.head(&format!("/api/openstack-images/?{query}")).await;
        assert_eq!(head.status, StatusCode::BAD_REQUEST, "HEAD {query}");
    }
    app.stop().await;
}
