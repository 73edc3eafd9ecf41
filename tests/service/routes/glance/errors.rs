//! The Glance face's refusals, in Glance's shapes: 401 without a census token, 403 for every
//! write, 404 for an unknown cloud or path, 405 for other methods; HTML unless JSON is
//! preferred, as webob answers.
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{glance_call, glance_error, glance_get};
use crate::common::TestApp;

async fn two_clouds() -> TestApp {
    TestApp::init()
        .with_cloud("a")
        .with_cloud("b")
        .with_tenant("a", "ta")
        .with_tenant("b", "tb")
        .with_scoped_token("ta-reader", &["ta"])
        .start()
        .await
}

const JSON: (&str, &str) = ("Accept", "application/json");

#[tokio::test]
async fn a_census_token_is_needed_as_x_auth_token() {
    let app = two_clouds().await;
    let cloud = app.cloud("a").uuid.clone();
    let expired = app.expired_token().await;
    let staff = app.staff_token.clone();
    let denied = "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.";
    for token in [None, Some("not-a-token"), Some(expired.as_str())] {
        let r = glance_call(&app, Method::GET, &cloud, "/v2/images", token, &[JSON]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token:?}: {}", r.text);
        assert_eq!(r.json(), glance_error(401, "Unauthorized", denied));
        assert_eq!(
            r.header("www-authenticate"),
            Some(format!("Keystone uri=\"{}\"", app.base))
        );
    }
    // The Waldur face's header is not the Glance face's.
    let r = app
        .client
        .get(app.url(&format!("/image/{cloud}/v2/images")))
        .header("Authorization", format!("Token {staff}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Without a preference the answer is webob's HTML page, which glanceclient reads.
    let html = glance_call(&app, Method::GET, &cloud, "/v2/images", None, &[]).await;
    assert_eq!(
        html.header("content-type").as_deref(),
        Some("text/html; charset=UTF-8")
    );
    assert!(
        html.text.contains("<h1>401 Unauthorized</h1>"),
        "{}",
        html.text
    );
    assert_eq!(
        glance_get(&app, &cloud, "/v2/images", &staff).await.status,
        StatusCode::OK
    );
    // HEAD answers as GET, without a body.
    let head = glance_call(&app, Method::HEAD, &cloud, "/v2/images", Some(&staff), &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.text.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn every_write_is_refused_read_only() {
    let app = two_clouds().await;
    let cloud = app.cloud("a").uuid.clone();
    let staff = app.staff_token.clone();
    let scoped = app.token("ta-reader").to_string();
    let id = "6a450594-3cb2-4e13-807c-3a8bc769ce2a";
    let writes = [
        (Method::POST, "/v2/images".to_string()),
        (Method::PATCH, format!("/v2/images/{id}")),
        (Method::DELETE, format!("/v2/images/{id}")),
        (Method::PUT, format!("/v2/images/{id}/file")),
        (Method::PUT, format!("/v2/images/{id}/tags/lts")),
        (Method::POST, format!("/v2/images/{id}/members")),
        (Method::POST, format!("/v2/images/{id}/import")),
        (Method::PUT, "/v2/images".to_string()),
        (Method::DELETE, "/versions".to_string()),
        (Method::POST, "/v2/anything/at/all".to_string()),
    ];
    for token in [&staff, &scoped] {
        for (method, path) in &writes {
            let r = glance_call(&app, method.clone(), &cloud, path, Some(token), &[JSON]).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {path}: {}",
                r.text
            );
            let explanation = format!(
                "cloudcensus is a read-only census of the images of this cloud: {method} is not allowed here. Make changes in the Glance of the cloud itself."
            );
            assert_eq!(r.json(), glance_error(403, "Forbidden", &explanation));
        }
    }
    // Image data is not the census's to give either.
    let download = glance_call(
        &app,
        Method::GET,
        &cloud,
        &format!("/v2/images/{id}/file"),
        Some(&staff),
        &[],
    )
    .await;
    assert_eq!(download.status, StatusCode::FORBIDDEN);
    assert!(
        download.text.contains("keeps no image data"),
        "{}",
        download.text
    );
    // A write still needs a token first, as Glance's does.
    let anonymous = glance_call(&app, Method::POST, &cloud, "/v2/images", None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let other = glance_call(
        &app,
        Method::OPTIONS,
        &cloud,
        "/v2/images",
        Some(&staff),
        &[JSON],
    )
    .await;
    assert_eq!(other.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(other.header("allow").as_deref(), Some("GET, HEAD"));
    assert_eq!(
        other.json()["message"],
        "The method OPTIONS is not allowed for this resource. <br /><br />\n"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_clouds_and_paths_are_not_found() {
    let app = two_clouds().await;
    let a = app.cloud("a").uuid.clone();
    let b = app.cloud("b").uuid.clone();
    let staff = app.staff_token.clone();
    let scoped = app.token("ta-reader").to_string();
    let unknown = "0123456789abcdef0123456789abcdef";
    for (token, cloud) in [
        (&staff, unknown),
        (&staff, "not-a-uuid"),
        (&scoped, b.as_str()),
    ] {
        let r = glance_call(&app, Method::GET, cloud, "/v2/images", Some(token), &[JSON]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{cloud}: {}", r.text);
        let explanation = format!("No cloud {cloud} is visible to this token.");
        assert_eq!(r.json(), glance_error(404, "Not Found", &explanation));
        // Nor may a write on another tenant's cloud tell that it exists.
        let w = glance_call(
            &app,
            Method::DELETE,
            cloud,
            "/v2/images/x",
            Some(token),
            &[],
        )
        .await;
        assert_eq!(w.status, StatusCode::NOT_FOUND);
    }
    for path in [
        "/v2",
        "/v2/images/x/members",
        "/v1/images",
        "/v2/schemas/member",
    ] {
        let r = glance_call(&app, Method::GET, &a, path, Some(&scoped), &[JSON]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            r.json(),
            glance_error(404, "Not Found", "The resource could not be found.")
        );
    }
    let bare = app.client.get(app.url("/image/")).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::NOT_FOUND);
    // The scoped token's own cloud answers.
    let own = glance_get(&app, &a, "/v2/images", &scoped).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert_eq!(own.json()["images"], Value::Array(vec![]));
    app.stop().await;
}

#[tokio::test]
async fn bad_list_parameters_get_glances_400s() {
    let app = two_clouds().await;
    let cloud = app.cloud("a").uuid.clone();
    let staff = app.staff_token.clone();
    let cases = [
        ("limit=x", "limit param must be an integer"),
        ("limit=-1", "limit param must be positive"),
        ("marker=nope", "No image found with ID nope"),
        (
            "sort_key=foo",
            "Invalid sort key: foo. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.",
        ),
        ("sort_dir=up", "Invalid sort direction: up"),
        (
            "sort=name:asc&sort_dir=asc",
            "Old and new sorting syntax cannot be combined",
        ),
        ("member_status=x", "Invalid status: x"),
        ("visibility=x", "Invalid visibility value: x"),
        (
            "os_hidden=x",
            "Invalid value 'x' for 'os_hidden' filter. Valid values are 'true' or 'false'.",
        ),
        ("name=gt:a", "Unable to filter by unknown operator 'gt'."),
        (
            "size_min=x",
            "Unable to filter on a range with a non-numeric value.",
        ),
        (
            "created_at=gt:yesterday",
            "Bad \"created_at\" query filter format. Use ISO 8601 DateTime notation.",
        ),
    ];
    for (query, explanation) in cases {
        let path = format!("/v2/images?{query}");
        let r = glance_call(&app, Method::GET, &cloud, &path, Some(&staff), &[JSON]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_eq!(
            r.json(),
            glance_error(400, "Bad Request", explanation),
            "{query}"
        );
    }
    let plain = glance_call(
        &app,
        Method::GET,
        &cloud,
        "/v2/images?limit=x",
        Some(&staff),
        &[("Accept", "text/plain")],
    )
    .await;
    assert_eq!(
        plain.text,
        "400 Bad Request\n\nlimit param must be an integer\n\n   "
    );
    app.stop().await;
}
