//! DELETE `/api/offerings/{uuid}/`.
use reqwest::StatusCode;

use super::two_offerings;

#[tokio::test]
async fn a_deleted_offering_leaves_the_list() {
    let (app, o1, _) = two_offerings().await;
    assert_eq!(
        app.delete(app.path_of(&o1.url)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get("/api/offerings/").await.count(), 1);
    app.stop().await;
}
