//! GET (and HEAD) `/api/openstack-images/usage_stats/`: instances per visible image name.
use reqwest::StatusCode;

use super::three_clouds;
use crate::common::{TestApp, UsageStat};

/// `three_clouds` with instances: t1 runs "Ubuntu 22.04" twice, has it shut off once and
/// deleted once; t3 runs "Debian" and "gone-image" (no such image) once each.
async fn with_instances() -> TestApp {
    let app = three_clouds().await;
    let (a, b) = (app.cloud("cloud-a"), app.cloud("cloud-b"));
    let (t1, t3) = (app.tenant("t1"), app.tenant("t3"));
    for (cloud, tenant, image, status, deleted) in [
        (a, t1, "Ubuntu 22.04", "ACTIVE", false),
        (a, t1, "Ubuntu 22.04", "ACTIVE", false),
        (a, t1, "Ubuntu 22.04", "SHUTOFF", false),
        (a, t1, "Ubuntu 22.04", "ACTIVE", true),
        (b, t3, "Debian", "ACTIVE", false),
        (b, t3, "gone-image", "ACTIVE", false),
    ] {
        app.insert_instance(cloud, tenant, image, status, deleted)
            .await;
    }
    app
}

#[tokio::test]
async fn one_row_per_visible_image_name_counts_running_and_created_instances() {
    let app = with_instances().await;
    let r = app
        .get("/api/openstack-images/usage_stats/?page_size=100")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.count(),
        7,
        "one row per distinct visible image name, zeros included"
    );
    let rows: Vec<UsageStat> = r.items();
    let row = |name: &str| rows.iter().find(|x| x.name == name).cloned().unwrap();
    assert_eq!(
        row("Ubuntu 22.04"),
        UsageStat {
            name: "Ubuntu 22.04".into(),
            running_instances_count: 2,
            created_instances_count: 4
        }
    );
    assert_eq!(row("Debian").running_instances_count, 1);
    assert_eq!(
        row("CentOS 9"),
        UsageStat {
            name: "CentOS 9".into(),
            running_instances_count: 0,
            created_instances_count: 0
        }
    );
    assert!(rows.iter().all(|x| x.name != "gone-image"));
    let names: Vec<String> = rows.iter().map(|x| x.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    app.stop().await;
}

/// `shared=true`: only shared clouds (cloud-a); `service_provider`: only the given clouds.
#[tokio::test]
async fn shared_and_service_provider_narrow_the_clouds() {
    let app = with_instances().await;
    let shared = app
        .get("/api/openstack-images/usage_stats/?shared=true&page_size=100")
        .await;
    assert_eq!(
        shared.names(),
        ["100%_win", "CentOS 9", "Ubuntu 22.04", "rescue-a"]
    );
    let sp = app
        .get(&format!(
            "/api/openstack-images/usage_stats/?service_provider={}&service_provider={}",
            app.cloud("cloud-b").uuid,
            app.cloud("cloud-c").uuid
        ))
        .await;
    assert_eq!(sp.names(), ["Debian", "orphan-c", "ubuntu-minimal"]);
    app.stop().await;
}

#[tokio::test]
async fn usage_stats_page_like_lists_and_reject_a_malformed_service_provider() {
    let app = with_instances().await;
    let paged = app
        .get("/api/openstack-images/usage_stats/?page_size=3&page=3")
        .await;
    assert_eq!(paged.names().len(), 1);
    assert_eq!(
        app.get("/api/openstack-images/usage_stats/?page=5")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/openstack-images/usage_stats/?service_provider=zz")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    app.stop().await;
}

/// Only visible names, and only instances of visible tenants.
#[tokio::test]
async fn a_scoped_token_counts_only_its_tenants_instances() {
    let app = three_clouds().await;
    let tok = app.token("t3-only");
    app.insert_instance(
        app.cloud("cloud-b"),
        app.tenant("t3"),
        "Debian",
        "ACTIVE",
        false,
    )
    .await;
    app.insert_instance(
        app.cloud("cloud-a"),
        app.tenant("t1"),
        "Debian",
        "ACTIVE",
        false,
    )
    .await;
    let stats = app.get_as(tok, "/api/openstack-images/usage_stats/").await;
    assert_eq!(stats.count(), 2);
    let rows: Vec<UsageStat> = stats.items();
    assert_eq!(rows[0].name, "Debian");
    assert_eq!(
        rows[0].running_instances_count, 1,
        "t1's instance is not counted for a t3 token"
    );
    let head = app.head_as(tok, "/api/openstack-images/usage_stats/").await;
    assert_eq!(head.count(), 2);
    app.stop().await;
}
