//! The Glance-compatible read API under `/image/{cloud uuid}/`: what a Glance v2 client
//! asks for, answered as Glance 33 answers it, read-only.
mod errors;
mod info;
mod list;
mod show;
mod versions;

use reqwest::Method;
use serde_json::Value;

use crate::common::{Reply, TestApp};

/// A request to the Glance face: `path` under `/image/{cloud}`, the token as `X-Auth-Token`.
pub async fn glance_call(
    app: &TestApp,
    method: Method,
    cloud: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = app
        .client
        .request(method, app.url(&format!("/image/{cloud}{path}")));
    if let Some(token) = token {
        req = req.header("X-Auth-Token", token);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    Reply::from_response(req.send().await.expect("request")).await
}

/// `GET` with a token.
pub async fn glance_get(app: &TestApp, cloud: &str, path: &str, token: &str) -> Reply {
    glance_call(app, Method::GET, cloud, path, Some(token), &[]).await
}

/// Every image id of a listing, following its `next` links (relative to the endpoint, as
/// Glance's are) from `query` on; the pages' sizes are checked against `limit`.
pub async fn list_ids(app: &TestApp, cloud: &str, token: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = format!("/v2/images?{query}");
    for _ in 0..1000 {
        let r = glance_get(app, cloud, &path, token).await;
        assert_eq!(r.status, reqwest::StatusCode::OK, "{path}: {}", r.text);
        let body = r.json();
        ids.extend(page_ids(&body));
        match body["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/v2/images?"), "{next}");
                path = next.to_string();
            }
            None => return ids,
        }
    }
    panic!("{query}: no end of pages");
}

/// The ids of one page, in order.
pub fn page_ids(body: &Value) -> Vec<String> {
    body["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no images: {body}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Glance's JSON error body (asked for with `Accept: application/json`).
pub fn glance_error(status: u16, title: &str, explanation: &str) -> Value {
    serde_json::json!({
        "message": format!("{explanation}<br /><br />\n\n\n"),
        "code": format!("{status} {title}"),
        "title": title,
    })
}
