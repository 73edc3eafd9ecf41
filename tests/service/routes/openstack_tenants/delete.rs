//! DELETE `/api/openstack-tenants/{uuid}/`.
use reqwest::StatusCode;

use super::{alpha, create_beta};

#[tokio::test]
async fn a_deleted_tenant_is_gone() {
    let app = alpha().await;
    let beta = create_beta(&app).await;
    let del = app.delete(app.path_of(&beta.url)).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(app.path_of(&beta.url)).await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}
