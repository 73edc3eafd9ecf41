//! POST `/api/tokens/` (and the list, which never shows a secret).
use reqwest::StatusCode;
use serde_json::json;

use super::reporting_token;
use crate::common::{ApiToken, TestApp};

#[tokio::test]
async fn a_new_token_is_shown_once_and_works() {
    let (app, body) = reporting_token().await;
    let secret = body.token.clone().expect("the secret, once");
    assert!(secret.len() >= 40, "≥ 160 bits");
    assert_eq!(body.tenants, [app.tenant("t").uuid.clone()]);
    assert!(body.expires_at.is_some());
    let list = app.get("/api/tokens/").await;
    assert!(!list.text.contains(&secret));
    assert!(list.items::<ApiToken>().iter().all(|t| t.token.is_none()));
    assert!(
        list.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );
    assert_eq!(
        app.get_as(&secret, "/api/openstack-images/").await.status,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn a_token_is_stored_only_as_its_hash() {
    let (app, body) = reporting_token().await;
    let secret = body.token.unwrap();
    let hashes = app.token_hashes().await;
    assert!(hashes.iter().all(|h| *h != secret && h.len() == 64));
    assert!(hashes.iter().any(|h| *h == TestApp::token_hash(&secret)));
    app.stop().await;
}

/// A token needs a scope, staff excludes tenants, tenants must exist, names are unique,
/// and a lifetime is at least a day.
#[tokio::test]
async fn invalid_token_requests_are_400() {
    let (app, _) = reporting_token().await;
    let t = app.tenant("t");
    for bad in [
        json!({"name": "x"}),
        json!({"name": "x", "is_staff": true, "tenants": [t.uuid]}),
        json!({"name": "x", "tenants": [uuid::Uuid::new_v4().simple().to_string()]}),
        json!({"name": "x", "tenants": ["junk"]}),
        json!({"name": "staff", "is_staff": true}),
        json!({"name": "y", "is_staff": true, "expires_in_days": 0}),
    ] {
        let r = app.post("/api/tokens/", bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    app.stop().await;
}
