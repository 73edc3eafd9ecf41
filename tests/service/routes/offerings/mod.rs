//! `/api/offerings/`: marketplace offerings scoped to a cloud or a tenant.
mod create;
mod delete;
mod read;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Offering, TestApp};

/// Cloud "a" with tenant "t"; "cloud offering" scoped to a, "tenant offering" to t.
pub async fn two_offerings() -> (TestApp, Offering, Offering) {
    let app = TestApp::init()
        .with_cloud("a")
        .with_tenant("a", "t")
        .start()
        .await;
    let o1 = app
        .post(
            "/api/offerings/",
            json!({"name": "cloud offering", "scope": app.cloud("a").url}),
        )
        .await;
    assert_eq!(o1.status, StatusCode::CREATED, "{}", o1.text);
    let o2 = app
        .post(
            "/api/offerings/",
            json!({"name": "tenant offering", "scope": app.tenant("t").url}),
        )
        .await;
    let (o1, o2) = (o1.parse(), o2.parse());
    (app, o1, o2)
}
