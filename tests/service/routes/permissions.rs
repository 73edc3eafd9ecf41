//! What a scoped (non-staff) token may not do: write anything, or manage tokens and offerings.
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::openstack_images::three_clouds;
use crate::common::Detail;

#[tokio::test]
async fn a_scoped_token_may_not_write_or_manage() {
    let app = three_clouds().await;
    let tok = app.token("t3-only");
    let (b, t3) = (app.cloud("cloud-b"), app.tenant("t3"));
    for (method, path, body) in [
        (
            Method::POST,
            "/api/service-settings/".to_string(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::PATCH,
            format!("/api/service-settings/{}/", b.uuid),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/service-settings/{}/", b.uuid),
            None,
        ),
        (
            Method::POST,
            "/api/openstack-tenants/".to_string(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/openstack-tenants/{}/", t3.uuid),
            None,
        ),
        (
            Method::POST,
            format!("/api/openstack-tenants/{}/pull/", t3.uuid),
            None,
        ),
        (
            Method::POST,
            "/api/offerings/".to_string(),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, "/api/tokens/".to_string(), None),
        (Method::GET, "/api/offerings/".to_string(), None),
        (
            Method::POST,
            "/api/tokens/".to_string(),
            Some(json!({"name": "x", "is_staff": true})),
        ),
    ] {
        let r = app.call(method.clone(), &path, Some(tok), body).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(
            r.parse::<Detail>(),
            Detail::new("You do not have permission to perform this action.")
        );
    }
    app.stop().await;
}
