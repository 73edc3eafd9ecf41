//! Duplicate names: by default only the newest image per cloud and name is listed.
use crate::common::{ImageSpec, InsertedImage, TestApp};

struct Duplicates {
    app: TestApp,
    old: InsertedImage,
    newest: InsertedImage,
    other_cloud: InsertedImage,
    undated_only: InsertedImage,
}

/// Cloud a: "ubuntu" three times (2024 and linked to tenant "old-only", 2025, undated);
/// cloud b: "ubuntu" (2020) and "nodate" twice, undated. The token "old" sees "old-only".
async fn duplicates() -> Duplicates {
    let app = TestApp::init()
        .with_cloud("a")
        .with_cloud("b")
        .with_tenant("a", "old-only")
        .with_scoped_token("old", &["old-only"])
        .start()
        .await;
    let (a, b) = (app.cloud("a"), app.cloud("b"));
    let old = app
        .insert_image(
            a,
            ImageSpec::new("ubuntu")
                .created("2024-01-01T00:00:00Z")
                .tenants(&[app.tenant("old-only")]),
        )
        .await;
    let newest = app
        .insert_image(a, ImageSpec::new("ubuntu").created("2025-06-01T00:00:00Z"))
        .await;
    let _undated = app.insert_image(a, ImageSpec::new("ubuntu")).await;
    let other_cloud = app
        .insert_image(b, ImageSpec::new("ubuntu").created("2020-01-01T00:00:00Z"))
        .await;
    let undated_only = app.insert_image(b, ImageSpec::new("nodate")).await;
    let _undated_dup = app.insert_image(b, ImageSpec::new("nodate")).await;
    Duplicates {
        app,
        old,
        newest,
        other_cloud,
        undated_only,
    }
}

#[tokio::test]
async fn only_the_newest_image_per_cloud_and_name_is_listed_by_default() {
    let d = duplicates().await;
    let r = d.app.get("/api/openstack-images/").await;
    let mut got = r.uuids();
    got.sort();
    let mut want = vec![
        d.newest.uuid.simple().to_string(),
        d.other_cloud.uuid.simple().to_string(),
        d.undated_only.uuid.simple().to_string(),
    ];
    want.sort();
    assert_eq!(
        got, want,
        "newest per (settings, name); nulls last; ties broken stably"
    );
    assert_eq!(r.count(), 3);
    d.app.stop().await;
}

#[tokio::test]
async fn show_duplicate_names_lists_every_image() {
    let d = duplicates().await;
    let all = d
        .app
        .get("/api/openstack-images/?show_duplicate_names=true")
        .await;
    assert_eq!(all.count(), 6);
    assert_eq!(
        d.app
            .get("/api/openstack-images/?show_duplicate_names=false")
            .await
            .count(),
        3
    );
    d.app.stop().await;
}

/// The rule applies among the images the caller sees, and within the filters.
#[tokio::test]
async fn the_newest_is_chosen_among_the_visible_and_filtered_images() {
    let d = duplicates().await;
    // A token that sees only the old image still gets it.
    let mine = d
        .app
        .get_as(d.app.token("old"), "/api/openstack-images/")
        .await;
    assert_eq!(mine.uuids(), [d.old.uuid.simple().to_string()]);
    // Filtering to that tenant shows its image.
    let filtered = d
        .app
        .get(&format!(
            "/api/openstack-images/?tenant_uuid={}",
            d.app.tenant("old-only").uuid
        ))
        .await;
    assert_eq!(filtered.uuids(), [d.old.uuid.simple().to_string()]);
    d.app.stop().await;
}
