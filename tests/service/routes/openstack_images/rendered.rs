//! A list page is rendered once per listing-index snapshot, caller scope and request, and
//! sent again as it was: the same bytes and headers as a fresh rendering (a twin server on
//! the same database lists by SQL and renders every answer), a page of its own for each
//! scope and query, and a new page once a sync changes what the page shows.
use reqwest::StatusCode;

use crate::common::Reply;
use crate::common::sim::SimApp;

/// Status, body and the list's headers, with the server's base URL taken out.
fn answer(r: &Reply, base: &str) -> (StatusCode, String, Vec<Option<String>>) {
    let headers = ["content-type", "x-result-count", "link"]
        .iter()
        .map(|h| r.header(h).map(|v| v.replace(base, "BASE")))
        .collect();
    (r.status, r.text.replace(base, "BASE"), headers)
}

async fn get_from(base: &str, token: &str, path: &str) -> Reply {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    Reply::from_response(r).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_sent_again_is_the_page_rendered_afresh_until_a_sync_changes_it() {
    let s = SimApp::generated(2, 6, 0).start().await;
    s.sweep_ok().await;
    let app = &s.app;
    let twin = app.sql_twin().await;
    let scoped = app.scoped_token("first-tenant", &[&s.tenants[0]]).await;
    let staff = app.staff_token.clone();
    let paths = [
        "/api/openstack-images/",
        "/api/openstack-images/?page_size=3",
        "/api/openstack-images/?page_size=3&page=2",
        "/api/openstack-images/?page=2&page_size=3",
        "/api/openstack-images/?page_size=3&show_duplicate_names=true",
    ];

    let mut first = Vec::new();
    for token in [&staff, &scoped] {
        for path in paths {
            let once = app.get_as(token, path).await;
            assert_eq!(once.status, StatusCode::OK, "{path}: {}", once.text);
            let again = app.get_as(token, path).await;
            let fresh = get_from(&twin.base, token, path).await;
            assert_eq!(
                answer(&again, &app.base),
                answer(&once, &app.base),
                "{path}"
            );
            assert_eq!(
                answer(&again, &app.base),
                answer(&fresh, &twin.base),
                "{path}"
            );
            first.push(answer(&once, &app.base));
        }
    }
    // Each scope and query has its own page: the scoped token sees fewer images than staff.
    assert_ne!(first[0], first[paths.len()]);
    assert_ne!(first[1], first[2]);

    // Upstream, the first image of the default page gets a new name; a sync brings it in.
    let listed = app.get("/api/openstack-images/").await;
    let backend_id = listed.json()[0]["backend_id"].as_str().unwrap().to_string();
    s.sim.with_world(|w| {
        let image = w.images.iter_mut().find(|i| i.id == backend_id).unwrap();
        image.name = Some("0-renamed-upstream".into());
        image.updated_at += chrono::Duration::hours(1);
    });
    s.sweep_ok().await;
    let renamed = app.get("/api/openstack-images/").await;
    assert_ne!(answer(&renamed, &app.base), first[0]);
    assert_eq!(renamed.json()[0]["name"], "0-renamed-upstream");
    assert_eq!(renamed.json()[0]["backend_id"], backend_id.as_str());
    for token in [&staff, &scoped] {
        for path in paths {
            let now = app.get_as(token, path).await;
            let fresh = get_from(&twin.base, token, path).await;
            assert_eq!(
                answer(&now, &app.base),
                answer(&fresh, &twin.base),
                "{path}"
            );
        }
    }
    twin.stop().await;
    s.stop().await;
}
