//! GET `/api/service-settings/` and `/api/service-settings/{uuid}/`.
use super::create_prod;
use crate::common::{ServiceSettings, TestApp};

#[tokio::test]
async fn a_cloud_reads_back_as_registered_and_is_listed() {
    let app = TestApp::new().await;
    let (_, s) = create_prod(&app).await;
    let got = app.get(app.path_of(&s.url)).await;
    assert_eq!(got.parse::<ServiceSettings>(), s);
    let list = app.get("/api/service-settings/").await;
    assert_eq!((list.count(), list.names()), (1, vec!["prod".to_string()]));
    app.stop().await;
}

#[tokio::test]
async fn a_scoped_token_lists_only_the_clouds_of_its_tenants() {
    let app = crate::routes::openstack_images::three_clouds().await;
    let settings = app
        .get_as(app.token("t3-only"), "/api/service-settings/")
        .await;
    assert_eq!(settings.names(), ["cloud-b"]);
    app.stop().await;
}
