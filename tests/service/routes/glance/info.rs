//! `/v2/info/usage`, `/v2/info/stores` and `/v2/info/import`: what the token's tenant's
//! Glance said at its last sync, in Glance's shapes; `X-Project-Id` picks the tenant.
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{glance_call, glance_error, glance_get};
use crate::common::sim::SimApp;

#[tokio::test]
async fn a_tenants_token_reads_its_glance_facts() {
    let s = SimApp::generated(2, 3, 0).start().await;
    s.sim.with_world(|w| {
        w.stores = vec![
            cloudcensus_sim::Store {
                id: "fast".into(),
                description: "Fast store".into(),
                default: true,
            },
            cloudcensus_sim::Store {
                id: "slow".into(),
                description: "Slow store".into(),
                default: false,
            },
        ];
    });
    s.sweep_ok().await;
    let cloud = s.cloud().uuid.clone();
    let tenant = &s.tenants[1];
    let token = s.app.scoped_token("reader", &[tenant]).await;
    let stored = s.app.tenant_now(tenant).await;

    let usage = glance_get(&s.app, &cloud, "/v2/info/usage", &token).await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    let want_usage = stored.image_quota_usage.clone().expect("usage synced");
    assert_eq!(usage.json(), json!({"usage": want_usage}));
    assert!(want_usage["image_count_total"]["usage"].as_i64().unwrap() > 0);

    let import = glance_get(&s.app, &cloud, "/v2/info/import", &token).await;
    assert_eq!(
        import.json(),
        json!({"import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": ["glance-direct", "web-download", "copy-image"],
        }})
    );
    // Glance writes its flags as strings, and only when set.
    let stores = glance_get(&s.app, &cloud, "/v2/info/stores", &token).await;
    assert_eq!(
        stores.json(),
        json!({"stores": [
            {"id": "fast", "description": "Fast store", "default": "true"},
            {"id": "slow", "description": "Slow store"},
        ]})
    );

    // Staff sees every tenant of the cloud: it says which with X-Project-Id.
    let staff = s.app.staff_token.clone();
    let json_accept = ("Accept", "application/json");
    let ambiguous = glance_call(
        &s.app,
        Method::GET,
        &cloud,
        "/v2/info/usage",
        Some(&staff),
        &[json_accept],
    )
    .await;
    assert_eq!(ambiguous.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        ambiguous.json(),
        glance_error(
            400,
            "Bad Request",
            "This token sees 2 projects of this cloud: name one with the X-Project-Id header."
        )
    );
    let picked = glance_call(
        &s.app,
        Method::GET,
        &cloud,
        "/v2/info/usage",
        Some(&staff),
        &[("X-Project-Id", &tenant.backend_id)],
    )
    .await;
    assert_eq!(picked.json(), usage.json());
    // A tenant's token cannot name another project.
    let other = glance_call(
        &s.app,
        Method::GET,
        &cloud,
        "/v2/info/usage",
        Some(&token),
        &[("X-Project-Id", &s.tenants[0].backend_id), json_accept],
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(
        other.json(),
        glance_error(
            403,
            "Forbidden",
            &format!(
                "This token sees no project {} in this cloud.",
                s.tenants[0].backend_id
            )
        )
    );
    s.stop().await;
}

#[tokio::test]
async fn facts_a_cloud_did_not_report_are_glances_404s() {
    let s = SimApp::generated(1, 2, 0).start().await;
    s.sim.with_world(|w| {
        w.info_usage_enabled = false;
        w.info_stores_enabled = false;
        w.info_import_enabled = false;
    });
    s.sweep_ok().await;
    let cloud = s.cloud().uuid.clone();
    // One tenant in the cloud: staff needs no X-Project-Id.
    let staff = s.app.staff_token.clone();
    for (path, explanation) in [
        ("/v2/info/usage", "The resource could not be found."),
        ("/v2/info/import", "The resource could not be found."),
        (
            "/v2/info/stores",
            "Multi backend is not supported at this site.",
        ),
    ] {
        let r = glance_call(
            &s.app,
            Method::GET,
            &cloud,
            path,
            Some(&staff),
            &[("Accept", "application/json")],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        assert_eq!(
            r.json(),
            glance_error(404, "Not Found", explanation),
            "{path}"
        );
    }
    let none: Value = glance_get(&s.app, &cloud, "/v2/images", &staff)
        .await
        .json();
    assert!(none["images"].is_array());
    s.stop().await;
}
