//! DELETE `/api/service-settings/{uuid}/`.
use reqwest::StatusCode;

use super::create_prod;
use crate::common::TestApp;

#[tokio::test]
async fn a_deleted_cloud_is_204_then_gone_and_deleting_again_is_404() {
    let app = TestApp::new().await;
    let (_, s) = create_prod(&app).await;
    let path = app.path_of(&s.url);
    let del = app.delete(path).await;
    assert_eq!(
        (del.status, del.text.as_str()),
        (StatusCode::NO_CONTENT, "")
    );
    assert_eq!(app.get(path).await.status, StatusCode::NOT_FOUND);
    let again = app.delete(path).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    app.stop().await;
}
