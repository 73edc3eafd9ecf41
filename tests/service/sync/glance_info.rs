//! Glance's info endpoints (`/v2/info/usage`, `stores`, `import`) are optional.
use crate::common::sim::{SimApp, generated_world};

#[tokio::test]
async fn clouds_without_info_endpoints_are_not_an_error() {
    let mut world = generated_world(1, 5, 1, 4);
    world.info_usage_enabled = false;
    world.info_stores_enabled = false;
    world.info_import_enabled = false;
    let s = SimApp::world(world).start().await;
    assert!(s.sweep().await[0].result.is_ok());
    let t = s.app.tenant_now(&s.tenants[0]).await;
    assert_eq!(t.state, "OK");
    assert!(t.image_quota_usage.is_none() && t.stores.is_none() && t.import_methods.is_none());
    s.stop().await;
}
