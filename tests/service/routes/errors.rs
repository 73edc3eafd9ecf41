//! Errors the framework raises (unknown paths, wrong methods) are JSON like the API's own.
use reqwest::StatusCode;

use crate::common::{Detail, TestApp};

#[tokio::test]
async fn an_unknown_path_is_404_not_found() {
    let app = TestApp::new().await;
    let r = app.get("/api/no-such-thing/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.parse::<Detail>(), Detail::new("Not found."));
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_method_is_405_with_a_detail() {
    let app = TestApp::new().await;
    let r = app
        .call(
            reqwest::Method::PUT,
            "/api/openstack-images/",
            Some(&app.staff_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.json()["detail"].is_string());
    app.stop().await;
}
