//! Authentication: `Authorization: Token …` or `?x-auth-token=…`; errors shaped as DRF's.
use reqwest::StatusCode;

use crate::common::{Detail, TestApp};

#[tokio::test]
async fn a_missing_token_is_401_with_a_drf_detail_and_www_authenticate() {
    let app = TestApp::new().await;
    let missing = app.get_anonymous("/api/openstack-images/").await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.parse::<Detail>(),
        Detail::new("Authentication credentials were not provided.")
    );
    assert_eq!(missing.header("www-authenticate").as_deref(), Some("Token"));
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_token_is_401_invalid_token() {
    let app = TestApp::new().await;
    let bad = app.get_as("0000", "/api/openstack-images/").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.parse::<Detail>(), Detail::new("Invalid token."));
    assert_eq!(bad.header("www-authenticate").as_deref(), Some("Token"));
    app.stop().await;
}

#[tokio::test]
async fn the_token_keyword_is_case_insensitive() {
    let app = TestApp::new().await;
    for keyword in ["token", "TOKEN", "Token"] {
        let r = app
            .client
            .get(app.url("/api/openstack-images/"))
            .header("Authorization", format!("{keyword} {}", app.staff_token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{keyword}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_token_may_be_given_in_the_query_string() {
    let app = TestApp::new().await;
    let q = app
        .get_anonymous(&format!(
            "/api/openstack-images/?x-auth-token={}",
            app.staff_token
        ))
        .await;
    assert_eq!(q.status, StatusCode::OK);
    let bad_q = app
        .get_anonymous("/api/openstack-images/?x-auth-token=nope")
        .await;
    assert_eq!(bad_q.parse::<Detail>(), Detail::new("Invalid token."));
    app.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_401_token_has_expired() {
    let app = TestApp::new().await;
    let expired = app.expired_token().await;
    let r = app.get_as(&expired, "/api/openstack-images/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.parse::<Detail>(), Detail::new("Token has expired."));
    app.stop().await;
}

/// Unauthenticated calls to every protected endpoint are 401, not 500 or 404.
#[tokio::test]
async fn every_protected_endpoint_is_401_without_a_token() {
    let app = TestApp::new().await;
    for path in [
        "/api/openstack-images/usage_stats/",
        "/api/service-settings/",
        "/api/openstack-tenants/",
        "/api/offerings/",
        "/api/tokens/",
    ] {
        let r = app.get_anonymous(path).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    app.stop().await;
}
