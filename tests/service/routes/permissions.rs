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
            format!("/api/service-settings/{}/check/", b.uuid),
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

/// A scoped token that names a tenant, cloud or offering outside its scope gets exactly what an
/// unknown uuid gets: it must not learn that the tenant exists or what it shares with it.
/// (t1 and t2 share "Ubuntu 22.04"; t1's token once got it for `?tenant_uuid=<t2>`.)
#[tokio::test]
async fn out_of_scope_filters_answer_like_unknown_uuids() {
    let app = super::openstack_images::three_clouds().await;
    let (t1, t2, t3) = (app.tenant("t1"), app.tenant("t2"), app.tenant("t3"));
    let t1_only = app.scoped_token("t1-only", &[t1]).await;
    let offering_t2 = app.create_offering(&t2.url).await;
    let offering_b = app.create_offering(&app.cloud("cloud-b").url).await;
    let offering_t1 = app.create_offering(&t1.url).await;
    let unknown = uuid::Uuid::new_v4().simple().to_string();
    let answer = |query: String| {
        let (app, token) = (&app, t1_only.clone());
        async move {
            let r = app
                .get_as(&token, &format!("/api/openstack-images/?{query}"))
                .await;
            (r.status, r.header("x-result-count"), r.text)
        }
    };
    let nothing = answer(format!("tenant_uuid={unknown}")).await;
    assert_eq!(nothing.1.as_deref(), Some("0"));
    for query in [
        format!("tenant_uuid={}", t2.uuid),
        format!("tenant={}", t2.url),
        format!("tenant_uuid={}", t3.uuid),
        format!("settings_uuid={}", app.cloud("cloud-b").uuid),
        format!("offering_uuid={offering_t2}"),
        format!("offering_uuid={offering_b}"),
        format!("tenant_uuid={}&tenant_uuid={}", t1.uuid, t2.uuid),
    ] {
        assert_eq!(answer(query.clone()).await, nothing, "{query}");
        let head = app
            .head_as(&t1_only, &format!("/api/openstack-images/?{query}"))
            .await;
        assert_eq!(
            head.header("x-result-count").as_deref(),
            Some("0"),
            "{query}"
        );
    }
    // In scope, the same filters still work.
    for query in [
        format!("tenant_uuid={}", t1.uuid),
        format!("settings_uuid={}", app.cloud("cloud-a").uuid),
        format!("offering_uuid={offering_t1}"),
    ] {
        let (status, count, _) = answer(query.clone()).await;
        assert_eq!(
            (status, count.as_deref()),
            (StatusCode::OK, Some("3")),
            "{query}"
        );
    }
    app.stop().await;
}
