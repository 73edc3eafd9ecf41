//! What every request must satisfy before a handler sees it: no NUL character in the query or
//! in a JSON body's strings (400 naming the field; PostgreSQL answered 500), and a bounded body
//! (413 with a JSON detail; a 100 MB name was once accepted).
use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;

const NULL_CHARACTERS: &str = "Null characters are not allowed.";

#[tokio::test]
async fn nul_in_a_body_field_is_400_naming_it() {
    let app = TestApp::init().with_cloud("cloud").start().await;
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": "evil\u{0}cloud", "options": {"auth_url": "http://keystone.example/v3"},
                   "username": "admin", "password": "secret"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json(), json!({"name": [NULL_CHARACTERS]}));
    let r = app
        .post(
            "/api/openstack-tenants/",
            json!({"name": "t", "backend_id": "p\u{0}", "service_settings": app.cloud("cloud").url}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json(), json!({"backend_id": [NULL_CHARACTERS]}));
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": "c", "options": {"auth_url": "http://k/v3", "region": "r\u{0}"},
                   "username": "admin", "password": "secret"}),
        )
        .await;
    assert_eq!(r.json(), json!({"options.region": [NULL_CHARACTERS]}));
    // Nothing was stored, and the server answers as before.
    assert_eq!(app.get("/api/service-settings/").await.count(), 1);
    app.stop().await;
}

#[tokio::test]
async fn nul_in_a_query_parameter_is_400_naming_it() {
    let app = TestApp::init().with_cloud("cloud").start().await;
    for (query, field) in [
        ("name=%00", "name"),
        ("name_exact=a%00b", "name_exact"),
        ("page_size=10&name=x%00", "name"),
    ] {
        for path in ["/api/openstack-images/", "/api/service-settings/"] {
            let r = app.get(&format!("{path}?{query}")).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{path}?{query}: {}",
                r.text
            );
            assert_eq!(r.json(), json!({field: [NULL_CHARACTERS]}));
        }
    }
    assert_eq!(
        app.get("/api/openstack-images/?name=%C3%A4").await.status,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_a_detail() {
    let app = TestApp::new().await;
    let big = "x".repeat(2 << 20);
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": big, "options": {"auth_url": "http://k/v3"},
                   "username": "admin", "password": "secret"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        &r.text[..r.text.len().min(200)]
    );
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("1048576 bytes")
    );
    // Sent without a length up front (chunked), it is cut off at the limit all the same.
    let status = chunked_post(&app, "/api/service-settings/", 2 << 20).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert_eq!(app.get("/api/service-settings/").await.count(), 0);
    app.stop().await;
}

/// POSTs a JSON body of about `size` bytes in chunks of 64 KiB, with no Content-Length;
/// returns the response's status line.
async fn chunked_post(app: &TestApp, path: &str, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Token {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.staff_token
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut body = b"{\"name\": \"".to_vec();
    body.resize(size, b'y');
    body.extend_from_slice(b"\"}");
    for chunk in body.chunks(64 << 10) {
        // The server may answer and close before it has read everything.
        if conn
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
            || conn.write_all(chunk).await.is_err()
            || conn.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 512];
    let n = conn.read(&mut answer).await.unwrap_or(0);
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
