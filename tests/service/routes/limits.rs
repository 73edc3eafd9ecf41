//! What every request must satisfy before a handler sees it: no NUL character in the query or
//! in a JSON body's strings (400 naming the field; PostgreSQL answered 500), a bounded body
//! (413 with a JSON detail; a 100 MB name was once accepted), bounded fields (400 naming the
//! field), and a bounded, parsable request line and header block (414, 431, 400, each with a
//! JSON detail; the HTTP parser's own answers had empty bodies).
use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;

const NULL_CHARACTERS: &str = "Null characters are not allowed.";

fn no_more_than(max: usize) -> String {
    format!("Ensure this field has no more than {max} characters.")
}

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

/// Names and identifiers are at most 255 characters, URLs and secrets 4096 (characters, not
/// bytes); a longer one is 400 naming the field, and nothing is stored.
#[tokio::test]
async fn fields_over_their_length_are_400_naming_them() {
    let app = TestApp::init()
        .with_cloud("cloud")
        .with_tenant("cloud", "t")
        .start()
        .await;
    let cloud_url = app.cloud("cloud").url.clone();
    let name_255 = "é".repeat(255);
    let long = |n: usize| "x".repeat(n);
    let cloud = |name: &str, password: &str| {
        json!({"name": name, "options": {"auth_url": "http://keystone.example/v3"},
               "username": "admin", "password": password})
    };

    let r = app
        .post("/api/service-settings/", cloud(&long(256), "pw"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json(), json!({"name": [no_more_than(255)]}));
    let r = app
        .post("/api/service-settings/", cloud("c", &long(4097)))
        .await;
    assert_eq!(r.json(), json!({"password": [no_more_than(4096)]}));
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": "c", "options": {"auth_url": format!("http://k/{}", long(4096)),
                   "region": long(300)}, "username": long(256), "password": "pw"}),
        )
        .await;
    assert_eq!(
        r.json(),
        json!({"auth_url": [no_more_than(4096)], "region": [no_more_than(255)],
               "username": [no_more_than(255)]})
    );
    let r = app
        .post(
            "/api/openstack-tenants/",
            json!({"name": long(10_000), "backend_id": long(256), "service_settings": cloud_url}),
        )
        .await;
    assert_eq!(
        r.json(),
        json!({"name": [no_more_than(255)], "backend_id": [no_more_than(255)]})
    );
    let r = app
        .post(
            "/api/offerings/",
            json!({"name": long(256), "scope": cloud_url}),
        )
        .await;
    assert_eq!(r.json(), json!({"name": [no_more_than(255)]}));
    let r = app
        .post(
            "/api/tokens/",
            json!({"name": long(256), "is_staff": false, "tenants": [long(5000)]}),
        )
        .await;
    assert_eq!(
        r.json(),
        json!({"name": [no_more_than(255)], "tenants": [no_more_than(4096)]})
    );
    assert_eq!(app.get("/api/service-settings/").await.count(), 1);
    assert_eq!(app.get("/api/openstack-tenants/").await.count(), 1);

    // At the limit (counted in characters: 255 two-byte ones) is accepted.
    let r = app
        .post("/api/service-settings/", cloud(&name_255, "pw"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["name"], json!(name_255));
    app.stop().await;
}

/// Sends `raw` as the whole request on a fresh connection; returns the status and the body,
/// which must be JSON and declared so.
async fn raw_request(app: &TestApp, raw: &[u8]) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // The server may answer and close before it has read everything.
    let _ = conn.write_all(raw).await;
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole response");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {head}\n{body}"));
    (head[9..12].parse().unwrap(), body)
}

/// A request line or header block that is unparsable or too large is refused with the API's
/// JSON error shape, whether the guard refuses it or the HTTP parser does.
#[tokio::test]
async fn unparsable_or_oversized_requests_get_a_json_detail() {
    let app = TestApp::new().await;
    let request = |target: &[u8], headers: &[u8]| {
        [
            b"GET ".as_slice(),
            target,
            b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
            headers,
            b"\r\n",
        ]
        .concat()
    };
    let long_query = format!("/api/openstack-images/?name={}", "a".repeat(9_000));
    let huge_path = format!("/{}", "a".repeat(70_000));
    let header_block = format!("X-Big: {}\r\n", "a".repeat(17_000));
    let many_headers: String = (0..120).map(|i| format!("X-{i}: 1\r\n")).collect();
    for (target, headers, status) in [
        (b"/api/openstack-images/\xff".as_slice(), "", 400),
        (b"/health?name=\xff".as_slice(), "", 400),
        (long_query.as_bytes(), "", 414),
        (huge_path.as_bytes(), "", 414),
        (b"/health".as_slice(), header_block.as_str(), 431),
        (b"/health".as_slice(), many_headers.as_str(), 431),
    ] {
        let (got, body) = raw_request(&app, &request(target, headers.as_bytes())).await;
        assert_eq!(got, status, "{body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    let (got, _) = raw_request(&app, &request(b"/health", b"")).await;
    assert_eq!(got, 200, "an ordinary request still passes");
    app.stop().await;
}

/// A body that is not declared JSON is 415 with a JSON detail.
#[tokio::test]
async fn a_body_that_is_not_json_is_415_with_a_detail() {
    let app = TestApp::new().await;
    for content_type in [None, Some("text/plain")] {
        let mut req = app
            .client
            .post(app.url("/api/tokens/"))
            .header("Authorization", format!("Token {}", app.staff_token))
            .body("{\"name\": \"x\", \"is_staff\": true}");
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["detail"].is_string(), "{body}");
    }
    app.stop().await;
}

/// Hostile but legal text round-trips exactly (RTL overrides, emoji, combining marks); JSON
/// that no UTF-8 string can hold (a lone surrogate escape) and invalid UTF-8 in the query are
/// client errors or harmless, never 500.
#[tokio::test]
async fn hostile_strings_in_api_input_are_stored_exactly_or_refused_cleanly() {
    let app = TestApp::init().with_cloud("cloud").start().await;
    let hostile = "\u{202e}evil\u{202c} שלום 🐧👩‍💻 e\u{301}";
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": hostile, "options": {"auth_url": "http://keystone.example/v3",
                   "region": "🐧"}, "username": "admin", "password": "pässwörd 🔑"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let uuid = r.json()["uuid"].as_str().unwrap().to_string();
    let r = app.get(&format!("/api/service-settings/{uuid}/")).await;
    assert_eq!(r.json()["name"], json!(hostile));
    assert_eq!(r.json()["options"]["region"], json!("🐧"));
    let r = app
        .get(&format!(
            "/api/service-settings/?name={}",
            urlencode(hostile)
        ))
        .await;
    assert_eq!(r.count(), 1, "{}", r.text);

    let raw = app
        .client
        .post(app.url("/api/service-settings/"))
        .header("Authorization", format!("Token {}", app.staff_token))
        .header("Content-Type", "application/json")
        .body(r#"{"name": "\ud800x", "options": {"auth_url": "http://k/v3"}, "username": "a", "password": "b"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert!(body["detail"].is_string(), "{body}");

    for query in ["name=%ED%A0%80", "name=%FF%FE", "name_exact=%C0%AF"] {
        for path in ["/api/openstack-images/", "/api/service-settings/"] {
            let r = app.get(&format!("{path}?{query}")).await;
            assert_eq!(r.status, StatusCode::OK, "{path}?{query}: {}", r.text);
        }
    }
    assert_eq!(app.get("/api/service-settings/").await.count(), 2);
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
