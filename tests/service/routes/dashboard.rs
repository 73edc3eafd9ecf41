//! GET `/` and `/assets/{name}`: the dashboard's files, open to anyone (the data behind them
//! needs a token), each with the security headers. What the page does is tested in a real
//! browser (`tests/browser`).
use reqwest::StatusCode;

use crate::common::TestApp;

#[tokio::test]
async fn dashboard_files_are_served_with_a_strict_policy() {
    let app = TestApp::new().await;
    for (path, media_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/assets/dashboard.js", "text/javascript; charset=utf-8"),
        ("/assets/dashboard.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let r = app.get_anonymous(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some(media_type),
            "{path}"
        );
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
    }
    let page = app.get_anonymous("/").await;
    assert!(
        page.text
            .contains(r#"<script src="/assets/dashboard.js" defer></script>"#)
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_asset_is_a_json_404_and_the_api_is_unchanged() {
    let app = TestApp::new().await;
    let r = app.get_anonymous("/assets/secrets.txt").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text, r#"{"detail":"Not found."}"#);
    assert_eq!(app.get_anonymous("/health").await.status, StatusCode::OK);
    assert_eq!(
        app.get_anonymous("/api/openstack-images/").await.status,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}
