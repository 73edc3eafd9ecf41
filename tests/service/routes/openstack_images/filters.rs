//! Filters of `/api/openstack-images/`: each narrows the list; they combine with AND.
use reqwest::StatusCode;

use super::{names, three_clouds};
use crate::common::FieldErrors;

#[tokio::test]
async fn name_matches_a_substring_in_any_case_and_wildcards_literally() {
    let app = three_clouds().await;
    assert_eq!(names(&app, "").await.len(), 7);
    assert_eq!(
        names(&app, "name=UBUNTU").await,
        ["Ubuntu 22.04", "ubuntu-minimal"]
    );
    // LIKE wildcards in the filter match literally.
    assert_eq!(names(&app, "name=%25_").await, ["100%_win"]);
    assert_eq!(names(&app, "name=_").await, ["100%_win"]);
    app.stop().await;
}

#[tokio::test]
async fn name_exact_matches_the_whole_name_in_its_case() {
    let app = three_clouds().await;
    assert_eq!(names(&app, "name_exact=Debian").await, ["Debian"]);
    assert!(names(&app, "name_exact=debian").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_cloud_is_given_by_uuid_in_either_form_or_by_url() {
    let app = three_clouds().await;
    let b = app.cloud("cloud-b");
    assert_eq!(
        names(&app, &format!("settings_uuid={}", b.uuid)).await,
        ["Debian", "ubuntu-minimal"]
    );
    assert_eq!(
        names(&app, &format!("settings={}", b.url)).await,
        ["Debian", "ubuntu-minimal"]
    );
    let hyphenated = uuid::Uuid::parse_str(&app.cloud("cloud-c").uuid)
        .unwrap()
        .hyphenated()
        .to_string();
    assert_eq!(
        names(&app, &format!("settings_uuid={hyphenated}")).await,
        ["orphan-c"]
    );
    app.stop().await;
}

#[tokio::test]
async fn the_tenant_is_given_by_uuid_or_by_url() {
    let app = three_clouds().await;
    assert_eq!(
        names(&app, &format!("tenant_uuid={}", app.tenant("t1").uuid)).await,
        ["100%_win", "CentOS 9", "Ubuntu 22.04"]
    );
    assert_eq!(
        names(&app, &format!("tenant={}", app.tenant("t2").url)).await,
        ["Ubuntu 22.04", "rescue-a"]
    );
    app.stop().await;
}

#[tokio::test]
async fn is_rescue_image_selects_rescue_images_or_the_others() {
    let app = three_clouds().await;
    assert_eq!(
        names(&app, "is_rescue_image=true").await,
        ["Debian", "rescue-a"]
    );
    assert_eq!(names(&app, "is_rescue_image=False").await.len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn filters_combine_with_and_repeated_ones_too() {
    let app = three_clouds().await;
    assert_eq!(
        names(
            &app,
            &format!("name=ubu&tenant_uuid={}", app.tenant("t2").uuid)
        )
        .await,
        ["Ubuntu 22.04"]
    );
    assert_eq!(
        names(&app, "name=ubuntu&name=minimal").await,
        ["ubuntu-minimal"]
    );
    assert!(
        names(
            &app,
            &format!(
                "settings_uuid={}&settings_uuid={}",
                app.cloud("cloud-a").uuid,
                app.cloud("cloud-b").uuid
            )
        )
        .await
        .is_empty()
    );
    app.stop().await;
}

#[tokio::test]
async fn empty_values_are_no_filter() {
    let app = three_clouds().await;
    assert_eq!(names(&app, "name=&settings_uuid=").await.len(), 7);
    app.stop().await;
}

/// An offering scoped to a tenant shows that tenant's images; scoped to a cloud with
/// tenants, their images; scoped to a cloud without tenants, the cloud's images.
#[tokio::test]
async fn offering_uuid_lists_what_the_offerings_scope_sees() {
    let app = three_clouds().await;
    let o_t3 = app.create_offering(&app.tenant("t3").url).await;
    assert_eq!(
        names(&app, &format!("offering_uuid={o_t3}")).await,
        ["Debian", "ubuntu-minimal"]
    );
    let o_a = app.create_offering(&app.cloud("cloud-a").url).await;
    assert_eq!(
        names(&app, &format!("offering_uuid={o_a}")).await,
        ["100%_win", "CentOS 9", "Ubuntu 22.04", "rescue-a"]
    );
    let o_c = app.create_offering(&app.cloud("cloud-c").url).await;
    assert_eq!(
        names(&app, &format!("offering_uuid={o_c}")).await,
        ["orphan-c"]
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_uuids_list_nothing_and_malformed_ones_are_400_naming_the_field() {
    let app = three_clouds().await;
    let unknown = uuid::Uuid::new_v4().simple().to_string();
    for field in ["settings_uuid", "tenant_uuid", "offering_uuid"] {
        let r = app
            .get(&format!("/api/openstack-images/?{field}={unknown}"))
            .await;
        assert_eq!((r.status, r.count()), (StatusCode::OK, 0), "{field}");
        let bad = app
            .get(&format!("/api/openstack-images/?{field}=xyz"))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{field}");
        assert!(bad.json()[field].is_array(), "{field}: {}", bad.text);
        bad.parse::<FieldErrors>();
    }
    for field in ["settings", "tenant"] {
        let r = app
            .get(&format!(
                "/api/openstack-images/?{field}=http://x/api/things/{unknown}/"
            ))
            .await;
        assert_eq!((r.status, r.count()), (StatusCode::OK, 0), "{field}");
        let bad = app
            .get(&format!(
                "/api/openstack-images/?{field}=http://x/api/things/zzz/"
            ))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.json()[field].is_array());
    }
    let bad_bool = app
        .get("/api/openstack-images/?is_rescue_image=perhaps")
        .await;
    assert_eq!(bad_bool.status, StatusCode::BAD_REQUEST);
    assert!(bad_bool.json()["is_rescue_image"].is_array());
    app.stop().await;
}
