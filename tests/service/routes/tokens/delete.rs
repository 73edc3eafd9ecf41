//! DELETE `/api/tokens/{uuid}/`: revoking a token.
use reqwest::StatusCode;

use super::reporting_token;
use crate::common::Detail;

#[tokio::test]
async fn a_revoked_token_is_invalid_at_once() {
    let (app, body) = reporting_token().await;
    let secret = body.token.unwrap();
    let del = app.delete(&format!("/api/tokens/{}/", body.uuid)).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let after = app.get_as(&secret, "/api/openstack-images/").await;
    assert_eq!(after.parse::<Detail>(), Detail::new("Invalid token."));
    app.stop().await;
}

/// Verified tokens are cached for a moment; a revocation through the API clears that at once.
#[tokio::test]
async fn a_token_used_just_before_its_revocation_is_refused_at_once() {
    let (app, body) = reporting_token().await;
    let secret = body.token.unwrap();
    let before = app.get_as(&secret, "/api/openstack-images/").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    let del = app.delete(&format!("/api/tokens/{}/", body.uuid)).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let after = app.get_as(&secret, "/api/openstack-images/").await;
    assert_eq!(after.parse::<Detail>(), Detail::new("Invalid token."));
    app.stop().await;
}

/// By uuid means by uuid: a token named after another token's uuid is not the one revoked.
#[tokio::test]
async fn a_token_named_like_another_tokens_uuid_is_not_revoked_in_its_place() {
    let (app, reporting) = reporting_token().await;
    let lookalike = app
        .post(
            "/api/tokens/",
            serde_json::json!({"name": reporting.uuid, "is_staff": true}),
        )
        .await;
    assert_eq!(lookalike.status, StatusCode::CREATED, "{}", lookalike.text);
    let lookalike: crate::common::ApiToken = lookalike.parse();
    let del = app
        .delete(&format!("/api/tokens/{}/", reporting.uuid))
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let secret = |t: &crate::common::ApiToken| t.token.clone().unwrap();
    let revoked = app
        .get_as(&secret(&reporting), "/api/openstack-images/")
        .await;
    assert_eq!(revoked.parse::<Detail>(), Detail::new("Invalid token."));
    let kept = app
        .get_as(&secret(&lookalike), "/api/openstack-images/")
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    app.stop().await;
}
