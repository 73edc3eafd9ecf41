//! The census's Glance face against the real Glance 33: for a tenant's token, the same
//! listings (in the same order), the same image objects and the same errors, byte for byte,
//! as Glance gives that tenant's user.
use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::fixture::Scenario;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn the_glance_face_answers_a_tenant_as_glance_does() {
    // Glance's timestamps are whole seconds: everything this case creates is at or after it.
    let start = (chrono::Utc::now() - chrono::Duration::seconds(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (s, _) = Scenario::synced().await;
    let census_token = s.app.scoped_token("face-b", &[&s.t_b]).await;
    let face = format!("{}/image/{}", s.app.base, s.cloud.uuid);
    let ask = |path: String| {
        let (s, face, census_token) = (&s, &face, &census_token);
        async move {
            let ours =
                s.os.send(
                    Method::GET,
                    &format!("{face}{path}"),
                    Some(census_token),
                    None,
                )
                .await;
            let theirs = s.os.glance_call(&s.tok_b, Method::GET, &path, None).await;
            (ours, theirs)
        }
    };
    // Tenant b is a member of shared images in each status (accepted, pending, rejected):
    // the default listing (accepted ones), each status and `all` are compared.
    let mut listed = Vec::new();
    for query in [
        "",
        "visibility=shared",
        "member_status=accepted&visibility=all",
        "member_status=pending&visibility=all",
        "member_status=rejected&visibility=all",
        "member_status=pending&visibility=shared&os_hidden=true",
        "member_status=all",
        "member_status=all&visibility=all",
        "member_status=all&visibility=shared",
        "member_status=all&visibility=community",
        "member_status=all&visibility=private",
        "member_status=all&visibility=all&os_hidden=true",
        "member_status=all&visibility=all&sort=name:asc,status:desc",
        "member_status=all&visibility=all&sort_key=disk_format&sort_key=name&sort_dir=asc",
        "member_status=all&visibility=all&os_distro=ubuntu",
        "member_status=all&visibility=all&name=in:\"zzz\",\"also-not\"",
    ] {
        let path = format!("/v2/images?{query}&created_at=gte:{start}&limit=1000");
        let (ours, theirs) = ask(path.clone()).await;
        assert_eq!(
            theirs.status,
            StatusCode::OK,
            "Glance {path}: {}",
            theirs.text
        );
        assert_eq!(ours.status, StatusCode::OK, "census {path}: {}", ours.text);
        // Glance orders by creation times finer than the seconds it shows (and the census
        // keeps): images of one second may come in another order, so the default order is
        // compared as a set; orders by name are compared as they are.
        if query.contains("name:asc") || query.contains("sort_key=name") {
            assert_eq!(ours.body["images"], theirs.body["images"], "{query}");
        } else {
            assert_eq!(by_id(&ours.body), by_id(&theirs.body), "{query}");
        }
        // Glance keeps one value per parameter in its links (so following its `next` after
        // two `sort_key`s sorts by one); the census keeps them all.
        let repeats = query.matches("sort_key=").count() > 1;
        if repeats {
            assert_eq!(
                ours.body["first"],
                format!("/v2/images?{}", path[11..].replace(':', "%3A")),
                "{query}"
            );
        } else {
            assert_eq!(ours.body["first"], theirs.body["first"], "{query}");
        }
        if query == "member_status=all&visibility=all" {
            listed = theirs.body["images"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
    }
    assert!(listed.len() > 5, "the scenario's images: {listed:?}");
    // Pages of two: the same images and the same `next` links.
    let mut path = format!(
        "/v2/images?member_status=all&visibility=all&created_at=gte:{start}&sort=name:asc&limit=2"
    );
    for _ in 0..listed.len() {
        let (ours, theirs) = ask(path.clone()).await;
        assert_eq!(ours.body, theirs.body, "{path}");
        match theirs.body["next"].as_str() {
            Some(next) => path = next.to_string(),
            None => break,
        }
    }
    for image in &listed {
        let id = image["id"].as_str().unwrap();
        let (ours, theirs) = ask(format!("/v2/images/{id}")).await;
        assert_eq!(ours.body, theirs.body, "image {id}");
    }
    // Tenant a syncs with its member's own token, whose listing does not say statuses: its
    // pending membership of b's image is learnt from Glance's `member_status=pending`.
    let token_a = s.app.scoped_token("face-a", &[&s.t_a]).await;
    for query in [
        "",
        "member_status=pending",
        "member_status=rejected",
        "member_status=all",
    ] {
        let path = format!("/v2/images?{query}&created_at=gte:{start}&limit=1000");
        let ours =
            s.os.send(Method::GET, &format!("{face}{path}"), Some(&token_a), None)
                .await;
        let theirs = s.os.glance_call(&s.tok_a, Method::GET, &path, None).await;
        assert_eq!(
            theirs.status,
            StatusCode::OK,
            "Glance {path}: {}",
            theirs.text
        );
        assert_eq!(by_id(&ours.body), by_id(&theirs.body), "tenant a: {query}");
    }
    for bad in [
        "/v2/images?limit=x",
        "/v2/images?limit=-3",
        "/v2/images?marker=no-such-image",
        "/v2/images?sort_key=owner",
        "/v2/images?sort_dir=sideways",
        "/v2/images?sort=name&sort_key=name",
        "/v2/images?sort_key=name&sort_key=size&sort_key=id&sort_dir=asc&sort_dir=desc",
        "/v2/images?member_status=maybe",
        "/v2/images?visibility=everyone",
        "/v2/images?os_hidden=perhaps",
        "/v2/images?protected=yes",
        "/v2/images?name=like:x",
        "/v2/images?name=in:\"unclosed",
        "/v2/images?name=in:a\"b\"",
        "/v2/images?size_min=big",
        "/v2/images?created_at=gt:yesterday",
        "/v2/images?updated_at=around:2024-01-01T00:00:00Z",
        "/v2/images?changes-since=2024-01-01T00:00:00Z",
        "/v2/images/no-such-image",
        "/v2/no-such-thing",
    ] {
        let (ours, theirs) = ask(bad.to_string()).await;
        assert_eq!(
            (ours.status, &ours.text),
            (theirs.status, &theirs.text),
            "{bad}"
        );
    }
    s.stop().await;
}

/// A page's images by id.
fn by_id(page: &Value) -> BTreeMap<String, Value> {
    page["images"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| (i["id"].as_str().unwrap_or_default().to_string(), i.clone()))
        .collect()
}
