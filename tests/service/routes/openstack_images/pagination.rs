//! Paging `/api/openstack-images/` as Django REST framework does: `page`, `page_size`,
//! `X-Result-Count` and a `Link` header that keeps the filters.
use reqwest::StatusCode;

use crate::common::{Detail, TestApp};

/// "img-00" … "img-24" and "other" in one cloud.
async fn twenty_five_images() -> TestApp {
    let app = TestApp::init().with_cloud("cloud").start().await;
    for i in 0..25 {
        app.insert_image(
            app.cloud("cloud"),
            crate::common::ImageSpec::new(&format!("img-{i:02}")),
        )
        .await;
    }
    app.insert_image(app.cloud("cloud"), crate::common::ImageSpec::new("other"))
        .await;
    app
}

fn rels(links: &[(String, String)]) -> Vec<&str> {
    links.iter().map(|(r, _)| r.as_str()).collect()
}

#[tokio::test]
async fn the_first_page_links_first_next_and_last_keeping_the_filters() {
    let app = twenty_five_images().await;
    let base = format!("{}/api/openstack-images/", app.base);
    let first = app
        .get("/api/openstack-images/?name=img&page_size=10")
        .await;
    assert_eq!(first.count(), 25);
    assert_eq!(first.names().len(), 10);
    assert_eq!(rels(&first.links()), ["first", "next", "last"]);
    assert_eq!(
        first.link("first").unwrap(),
        format!("{base}?name=img&page_size=10")
    );
    assert_eq!(
        first.link("next").unwrap(),
        format!("{base}?name=img&page=2&page_size=10")
    );
    assert_eq!(
        first.link("last").unwrap(),
        format!("{base}?name=img&page=3&page_size=10")
    );
    app.stop().await;
}

#[tokio::test]
async fn following_next_links_walks_every_item_once_in_name_order() {
    let app = twenty_five_images().await;
    let first = app
        .get("/api/openstack-images/?name=img&page_size=10")
        .await;
    let mut seen = first.names();
    let mut next = first.link("next");
    while let Some(url) = next {
        let r = app.get(app.path_of(&url)).await;
        assert_eq!(r.status, StatusCode::OK);
        seen.extend(r.names());
        next = r.link("next");
    }
    let expected: Vec<String> = (0..25).map(|i| format!("img-{i:02}")).collect();
    assert_eq!(seen, expected);
    app.stop().await;
}

#[tokio::test]
async fn later_pages_link_back_and_page_last_is_the_last_page() {
    let app = twenty_five_images().await;
    let base = format!("{}/api/openstack-images/", app.base);
    let last = app
        .get("/api/openstack-images/?name=img&page_size=10&page=3")
        .await;
    assert_eq!(
        last.names(),
        ["img-20", "img-21", "img-22", "img-23", "img-24"]
    );
    assert_eq!(rels(&last.links()), ["first", "prev", "last"]);
    assert_eq!(
        last.link("prev").unwrap(),
        format!("{base}?name=img&page=2&page_size=10")
    );
    let second = app
        .get("/api/openstack-images/?name=img&page_size=10&page=2")
        .await;
    assert_eq!(
        second.link("prev").unwrap(),
        format!("{base}?name=img&page_size=10")
    );
    assert_eq!(
        app.get("/api/openstack-images/?name=img&page_size=10&page=last")
            .await
            .names(),
        last.names()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_page_past_the_end_or_malformed_is_an_invalid_page() {
    let app = twenty_five_images().await;
    for bad in ["4", "0", "-1", "abc", "1.5"] {
        let r = app
            .get(&format!(
                "/api/openstack-images/?name=img&page_size=10&page={bad}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "page={bad}");
        assert_eq!(r.parse::<Detail>(), Detail::new("Invalid page."));
    }
    app.stop().await;
}

#[tokio::test]
async fn the_page_size_defaults_to_10_and_zero_or_junk_fall_back_to_it() {
    let app = twenty_five_images().await;
    for size in ["", "&page_size=0", "&page_size=abc", "&page_size=-5"] {
        let r = app
            .get(&format!("/api/openstack-images/?name=img{size}"))
            .await;
        assert_eq!(r.names().len(), 10, "{size}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_empty_result_still_has_page_1_but_no_page_2() {
    let app = twenty_five_images().await;
    let empty = app.get("/api/openstack-images/?name=nothing-matches").await;
    assert_eq!(
        (empty.status, empty.count(), empty.text.as_str()),
        (StatusCode::OK, 0, "[]")
    );
    assert_eq!(
        app.get("/api/openstack-images/?name=nothing-matches&page=2")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn a_token_given_in_the_query_never_comes_back_in_a_link() {
    let app = twenty_five_images().await;
    let r = app
        .get_anonymous(&format!(
            "/api/openstack-images/?x-auth-token={}&page_size=5",
            app.staff_token
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.header("link").unwrap().contains(&app.staff_token));
    app.stop().await;
}

#[tokio::test]
async fn the_page_size_is_clamped_to_300() {
    let app = TestApp::init().with_cloud("cloud").start().await;
    app.insert_numbered_images(app.cloud("cloud"), 305).await;
    let r = app.get("/api/openstack-images/?page_size=301").await;
    assert_eq!((r.count(), r.names().len()), (305, 300));
    assert!(r.link("next").unwrap().contains("page=2"));
    let r2 = app.get("/api/openstack-images/?page_size=301&page=2").await;
    assert_eq!(r2.names(), ["n300", "n301", "n302", "n303", "n304"]);
    app.stop().await;
}
