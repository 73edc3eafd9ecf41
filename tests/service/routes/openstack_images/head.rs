//! HEAD `/api/openstack-images/`: the list's headers without its body.
use reqwest::StatusCode;

use crate::common::{ImageSpec, TestApp};

#[tokio::test]
async fn head_returns_the_headers_without_a_body() {
    let app = TestApp::init().with_cloud("cloud").start().await;
    for name in ["a", "b", "c"] {
        app.insert_image(app.cloud("cloud"), ImageSpec::new(name))
            .await;
    }
    let r = app.head("/api/openstack-images/?page_size=2").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.count(), 3);
    assert!(r.text.is_empty());
    assert!(r.link("next").is_some());
    let filtered = app.head("/api/openstack-images?name=b").await;
    assert_eq!(filtered.count(), 1);
    let past = app.head("/api/openstack-images/?page=9").await;
    assert_eq!(past.status, StatusCode::NOT_FOUND);
    let anon = app
        .call(reqwest::Method::HEAD, "/api/openstack-images/", None, None)
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
