//! `/api/openstack-images/`: the Waldur-compatible image catalog.
mod authentication;
mod detail;
mod duplicates;
mod filters;
mod head;
mod list;
mod metadata;
mod pagination;
mod rendered;
mod retrieve;
mod usage_stats;

use crate::common::{ImageSpec, TestApp};

/// cloud-a (shared) has tenants t1, t2; cloud-b has t3; cloud-c has no tenants. Images:
/// cloud-a "Ubuntu 22.04" (t1, t2), "CentOS 9" (t1), "rescue-a" (cdrom, t2), "100%_win" (t1);
/// cloud-b "ubuntu-minimal" (t3), "Debian" (disk rescue, t3); cloud-c "orphan-c".
/// The token "t3-only" sees t3.
pub async fn three_clouds() -> TestApp {
    let app = TestApp::init()
        .with_shared_cloud("cloud-a")
        .with_cloud("cloud-b")
        .with_cloud("cloud-c")
        .with_tenant("cloud-a", "t1")
        .with_tenant("cloud-a", "t2")
        .with_tenant("cloud-b", "t3")
        .with_scoped_token("t3-only", &["t3"])
        .start()
        .await;
    let (a, b, c) = (
        app.cloud("cloud-a"),
        app.cloud("cloud-b"),
        app.cloud("cloud-c"),
    );
    let (t1, t2, t3) = (app.tenant("t1"), app.tenant("t2"), app.tenant("t3"));
    for (cloud, spec) in [
        (a, ImageSpec::new("Ubuntu 22.04").tenants(&[t1, t2])),
        (a, ImageSpec::new("CentOS 9").tenants(&[t1])),
        (a, ImageSpec::new("rescue-a").rescue("cdrom").tenants(&[t2])),
        (a, ImageSpec::new("100%_win").tenants(&[t1])),
        (b, ImageSpec::new("ubuntu-minimal").tenants(&[t3])),
        (b, ImageSpec::new("Debian").rescue("disk").tenants(&[t3])),
        (c, ImageSpec::new("orphan-c")),
    ] {
        app.insert_image(cloud, spec).await;
    }
    app
}

/// Names of a staff listing with `query` (page size 100).
pub async fn names(app: &TestApp, query: &str) -> Vec<String> {
    app.get(&format!("/api/openstack-images/?page_size=100&{query}"))
        .await
        .names()
}
