//! GET `/api/users/me/`: what the calling token may do, for any valid token.
use reqwest::StatusCode;
use serde_json::json;

use super::reporting_token;

#[tokio::test]
async fn me_tells_staff_from_a_scoped_token() {
    let (app, scoped) = reporting_token().await;
    let staff = app.get("/api/users/me/").await;
    assert_eq!(staff.status, StatusCode::OK, "{}", staff.text);
    assert_eq!(staff.json(), json!({"is_staff": true, "tenants_count": 0}));
    let secret = scoped
        .token
        .as_deref()
        .expect("the secret, shown at creation");
    let mine = app.get_as(secret, "/api/users/me").await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert_eq!(mine.json(), json!({"is_staff": false, "tenants_count": 1}));
    assert_eq!(
        app.get_anonymous("/api/users/me/").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_as("0000000000000000000000000000000000000000", "/api/users/me/")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}
