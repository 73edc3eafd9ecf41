//! GET `/api/openstack-tenants/` and `/api/openstack-tenants/{uuid}/`.
use reqwest::StatusCode;

use super::{alpha, create_beta};

#[tokio::test]
async fn tenants_filter_by_cloud_and_by_name() {
    let app = alpha().await;
    create_beta(&app).await;
    let by_settings = app
        .get(&format!(
            "/api/openstack-tenants/?service_settings_uuid={}",
            app.cloud("b").uuid
        ))
        .await;
    assert_eq!(by_settings.names(), ["beta"]);
    assert_eq!(
        app.get("/api/openstack-tenants/?name=ALP").await.names(),
        ["Alpha"]
    );
    assert_eq!(app.get("/api/openstack-tenants/").await.count(), 2);
    assert_eq!(
        app.get("/api/openstack-tenants/?service_settings_uuid=bad")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    app.stop().await;
}

#[tokio::test]
async fn a_scoped_token_lists_and_reads_only_its_tenants() {
    let app = crate::routes::openstack_images::three_clouds().await;
    let tok = app.token("t3-only");
    let tenants = app.get_as(tok, "/api/openstack-tenants/").await;
    assert_eq!(tenants.names(), ["t3"]);
    let t1_path = format!("/api/openstack-tenants/{}/", app.tenant("t1").uuid);
    assert_eq!(
        app.get_as(tok, &t1_path).await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}
