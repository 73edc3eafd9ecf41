//! `/api/openstack-images/` over HTTP: shape, pagination, filters, duplicates, retrieve, HEAD.
mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const HEX32: fn(&str) -> bool = |s| {
    s.len() == 32
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
};

#[tokio::test]
async fn items_have_exactly_the_waldur_fields_with_absolute_urls() {
    let srv = TestServer::start().await;
    let cloud = srv.create_settings("cloud-a", false).await;
    let sid = db_id_of_settings(&srv.db, &cloud).await;
    let img = insert_image(
        &srv.db,
        sid,
        ImageSpec::new("rescue-img")
            .created("2025-01-02T03:04:05Z")
            .rescue("cdrom"),
    )
    .await;
    insert_image(&srv.db, sid, ImageSpec::new("plain-img")).await;

    let r = srv.get("/api/openstack-images/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.count(), 2);
    let body = r.json();
    let items = body.as_array().unwrap();
    assert_eq!(r.names(), ["plain-img", "rescue-img"]);
    let rescue = &items[1];
    let mut keys: Vec<&str> = rescue
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "backend_created_at",
            "backend_id",
            "hw_rescue_bus",
            "hw_rescue_device",
            "is_rescue_image",
            "min_disk",
            "min_ram",
            "name",
            "settings",
            "url",
            "uuid"
        ]
    );
    let hex = rescue["uuid"].as_str().unwrap();
    assert!(HEX32(hex), "{hex}");
    assert_eq!(hex, img.uuid.simple().to_string());
    assert_eq!(
        rescue["url"],
        format!("{}/api/openstack-images/{hex}/", srv.base)
    );
    assert_eq!(rescue["settings"], cloud["url"]);
    assert_eq!(
        rescue["settings"],
        format!(
            "{}/api/service-settings/{}/",
            srv.base,
            cloud["uuid"].as_str().unwrap()
        )
    );
    assert_eq!(rescue["min_disk"], 10240);
    assert_eq!(rescue["min_ram"], 512);
    assert_eq!(rescue["backend_id"], img.backend_id.as_str());
    assert_eq!(rescue["is_rescue_image"], true);
    assert_eq!(rescue["hw_rescue_device"], "cdrom");
    assert_eq!(rescue["hw_rescue_bus"], "virtio");
    let created =
        chrono::DateTime::parse_from_rfc3339(rescue["backend_created_at"].as_str().unwrap())
            .unwrap();
    assert_eq!(created.timestamp(), 1735787045);
    let plain = &items[0];
    assert_eq!(plain["is_rescue_image"], false);
    assert_eq!(plain["hw_rescue_device"], "");
    assert_eq!(plain["hw_rescue_bus"], "");
    assert!(plain["backend_created_at"].is_null());

    // Retrieve by either uuid form, with or without the trailing slash.
    for path in [
        format!("/api/openstack-images/{hex}/"),
        format!("/api/openstack-images/{hex}"),
        format!("/api/openstack-images/{}/", img.uuid.hyphenated()),
    ] {
        let one = srv.get(&path).await;
        assert_eq!(one.status, StatusCode::OK, "{path}: {}", one.text);
        assert_eq!(one.json(), *rescue);
    }
    for missing in [
        format!("/api/openstack-images/{}/", uuid::Uuid::new_v4().simple()),
        "/api/openstack-images/not-a-uuid/".into(),
    ] {
        let r = srv.get(&missing).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.json(), serde_json::json!({"detail": "Not found."}));
    }
    srv.stop().await;
}

fn links(r: &Reply) -> Vec<(String, String)> {
    let raw = r.header("link").expect("Link header");
    raw.split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; ").unwrap();
            (
                rel.trim_start_matches("rel=\"")
                    .trim_end_matches('"')
                    .to_string(),
                url.trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
            )
        })
        .collect()
}

fn link<'a>(l: &'a [(String, String)], rel: &str) -> Option<&'a str> {
    l.iter().find(|(r, _)| r == rel).map(|(_, u)| u.as_str())
}

#[tokio::test]
async fn pagination_follows_drf_rules_and_links_keep_filters() {
    let srv = TestServer::start().await;
    let cloud = srv.create_settings("cloud", false).await;
    let sid = db_id_of_settings(&srv.db, &cloud).await;
    for i in 0..25 {
        insert_image(&srv.db, sid, ImageSpec::new(&format!("img-{i:02}"))).await;
    }
    insert_image(&srv.db, sid, ImageSpec::new("other")).await;

    let base = format!("{}/api/openstack-images/", srv.base);
    let first = srv
        .get("/api/openstack-images/?name=img&page_size=10")
        .await;
    assert_eq!(first.count(), 25);
    assert_eq!(first.names().len(), 10);
    let l = links(&first);
    assert_eq!(
        l.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(),
        ["first", "next", "last"]
    );
    assert_eq!(
        link(&l, "first").unwrap(),
        format!("{base}?name=img&page_size=10")
    );
    assert_eq!(
        link(&l, "next").unwrap(),
        format!("{base}?name=img&page=2&page_size=10")
    );
    assert_eq!(
        link(&l, "last").unwrap(),
        format!("{base}?name=img&page=3&page_size=10")
    );

    // Following the links walks every item exactly once, in name order.
    let mut seen = first.names();
    let mut next = link(&l, "next").map(String::from);
    while let Some(url) = next {
        let r = srv.get(url.strip_prefix(&srv.base).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK);
        seen.extend(r.names());
        next = link(&links(&r), "next").map(String::from);
    }
    let expected: Vec<String> = (0..25).map(|i| format!("img-{i:02}")).collect();
    assert_eq!(seen, expected);

    let last = srv
        .get("/api/openstack-images/?name=img&page_size=10&page=3")
        .await;
    assert_eq!(
        last.names(),
        ["img-20", "img-21", "img-22", "img-23", "img-24"]
    );
    let l = links(&last);
    assert_eq!(
        l.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(),
        ["first", "prev", "last"]
    );
    assert_eq!(
        link(&l, "prev").unwrap(),
        format!("{base}?name=img&page=2&page_size=10")
    );
    let second = srv
        .get("/api/openstack-images/?name=img&page_size=10&page=2")
        .await;
    assert_eq!(
        link(&links(&second), "prev").unwrap(),
        format!("{base}?name=img&page_size=10")
    );
    assert_eq!(
        srv.get("/api/openstack-images/?name=img&page_size=10&page=last")
            .await
            .names(),
        last.names()
    );

    for bad in ["4", "0", "-1", "abc", "1.5"] {
        let r = srv
            .get(&format!(
                "/api/openstack-images/?name=img&page_size=10&page={bad}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "page={bad}");
        assert_eq!(r.json(), serde_json::json!({"detail": "Invalid page."}));
    }
    // Default size 10; 0 and junk fall back to it.
    for size in ["", "&page_size=0", "&page_size=abc", "&page_size=-5"] {
        let r = srv
            .get(&format!("/api/openstack-images/?name=img{size}"))
            .await;
        assert_eq!(r.names().len(), 10, "{size}");
    }
    // An empty result still has page 1, but no page 2.
    let empty = srv.get("/api/openstack-images/?name=nothing-matches").await;
    assert_eq!(
        (empty.status, empty.count(), empty.text.as_str()),
        (StatusCode::OK, 0, "[]")
    );
    assert_eq!(
        srv.get("/api/openstack-images/?name=nothing-matches&page=2")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The token in the query never comes back in a link.
    let r = srv
        .call(
            Method::GET,
            &format!(
                "/api/openstack-images/?x-auth-token={}&page_size=5",
                srv.staff_token
            ),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.header("link").unwrap().contains(&srv.staff_token));
    srv.stop().await;
}

#[tokio::test]
async fn page_size_is_clamped_to_300() {
    let srv = TestServer::start().await;
    let cloud = srv.create_settings("cloud", false).await;
    let sid = db_id_of_settings(&srv.db, &cloud).await;
    use sea_orm::EntityTrait;
    let rows: Vec<entity::images::ActiveModel> = (0..305)
        .map(|i| {
            use sea_orm::Set;
            entity::images::ActiveModel {
                uuid: Set(uuid::Uuid::new_v4()),
                settings_id: Set(sid),
                backend_id: Set(format!("b{i}")),
                name: Set(format!("n{i:03}")),
                min_disk: Set(0),
                min_ram: Set(0),
                status: Set("active".into()),
                visibility: Set(cloudcensus::catalog::ImageVisibility::Public),
                size: Set(None),
                checksum: Set(None),
                disk_format: Set(None),
                container_format: Set(None),
                backend_created_at: Set(None),
                backend_updated_at: Set(None),
                hw_rescue_device: Set(String::new()),
                hw_rescue_bus: Set(String::new()),
                properties: Set(serde_json::json!({})),
                ..Default::default()
            }
        })
        .collect();
    entity::images::Entity::insert_many(rows)
        .exec(&srv.db)
        .await
        .unwrap();
    touch(&srv.db, sid).await;
    let r = srv.get("/api/openstack-images/?page_size=301").await;
    assert_eq!((r.count(), r.names().len()), (305, 300));
    let l = links(&r);
    assert!(link(&l, "next").unwrap().contains("page=2"));
    let r2 = srv.get("/api/openstack-images/?page_size=301&page=2").await;
    assert_eq!(r2.names(), ["n300", "n301", "n302", "n303", "n304"]);
    srv.stop().await;
}

#[tokio::test]
async fn head_returns_the_headers_without_a_body() {
    let srv = TestServer::start().await;
    let cloud = srv.create_settings("cloud", false).await;
    let sid = db_id_of_settings(&srv.db, &cloud).await;
    for name in ["a", "b", "c"] {
        insert_image(&srv.db, sid, ImageSpec::new(name)).await;
    }
    let token = srv.staff_token.clone();
    let r = srv
        .call(
            Method::HEAD,
            "/api/openstack-images/?page_size=2",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.count(), 3);
    assert!(r.text.is_empty());
    assert!(link(&links(&r), "next").is_some());
    let filtered = srv
        .call(
            Method::HEAD,
            "/api/openstack-images?name=b",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(filtered.count(), 1);
    let past = srv
        .call(
            Method::HEAD,
            "/api/openstack-images/?page=9",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(past.status, StatusCode::NOT_FOUND);
    let anon = srv
        .call(Method::HEAD, "/api/openstack-images/", None, None)
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    srv.stop().await;
}

struct Fixture {
    srv: TestServer,
    cloud_a: Value,
    cloud_b: Value,
    cloud_c: Value,
    t1: Value,
    t2: Value,
    t3: Value,
}

/// cloud-a has tenants t1, t2; cloud-b has t3; cloud-c has no tenants.
async fn fixture() -> Fixture {
    let srv = TestServer::start().await;
    let cloud_a = srv.create_settings("cloud-a", true).await;
    let cloud_b = srv.create_settings("cloud-b", false).await;
    let cloud_c = srv.create_settings("cloud-c", false).await;
    let t1 = srv.create_tenant(&cloud_a, "t1").await;
    let t2 = srv.create_tenant(&cloud_a, "t2").await;
    let t3 = srv.create_tenant(&cloud_b, "t3").await;
    let (a, b, c) = (
        db_id_of_settings(&srv.db, &cloud_a).await,
        db_id_of_settings(&srv.db, &cloud_b).await,
        db_id_of_settings(&srv.db, &cloud_c).await,
    );
    let (i1, i2, i3) = (
        db_id_of_tenant(&srv.db, &t1).await,
        db_id_of_tenant(&srv.db, &t2).await,
        db_id_of_tenant(&srv.db, &t3).await,
    );
    insert_image(
        &srv.db,
        a,
        ImageSpec::new("Ubuntu 22.04").tenants(&[i1, i2]),
    )
    .await;
    insert_image(&srv.db, a, ImageSpec::new("CentOS 9").tenants(&[i1])).await;
    insert_image(
        &srv.db,
        a,
        ImageSpec::new("rescue-a").rescue("cdrom").tenants(&[i2]),
    )
    .await;
    insert_image(&srv.db, a, ImageSpec::new("100%_win").tenants(&[i1])).await;
    insert_image(&srv.db, b, ImageSpec::new("ubuntu-minimal").tenants(&[i3])).await;
    insert_image(
        &srv.db,
        b,
        ImageSpec::new("Debian").rescue("disk").tenants(&[i3]),
    )
    .await;
    insert_image(&srv.db, c, ImageSpec::new("orphan-c")).await;
    Fixture {
        srv,
        cloud_a,
        cloud_b,
        cloud_c,
        t1,
        t2,
        t3,
    }
}

#[tokio::test]
async fn every_filter_narrows_the_list() {
    let f = fixture().await;
    let srv = &f.srv;
    let names = |q: String| async move {
        srv.get(&format!("/api/openstack-images/?page_size=100&{q}"))
            .await
            .names()
    };
    let uuid = |v: &Value| v["uuid"].as_str().unwrap().to_string();
    let url = |v: &Value| v["url"].as_str().unwrap().to_string();

    assert_eq!(names(String::new()).await.len(), 7);
    assert_eq!(
        names("name=UBUNTU".into()).await,
        ["Ubuntu 22.04", "ubuntu-minimal"]
    );
    // LIKE wildcards in the filter match literally.
    assert_eq!(names("name=%25_".into()).await, ["100%_win"]);
    assert_eq!(names("name=_".into()).await, ["100%_win"]);
    assert_eq!(names("name_exact=Debian".into()).await, ["Debian"]);
    assert!(names("name_exact=debian".into()).await.is_empty());
    assert_eq!(
        names(format!("settings_uuid={}", uuid(&f.cloud_b))).await,
        ["Debian", "ubuntu-minimal"]
    );
    assert_eq!(
        names(format!("settings={}", url(&f.cloud_b))).await,
        ["Debian", "ubuntu-minimal"]
    );
    let hyphenated = uuid::Uuid::parse_str(&uuid(&f.cloud_c))
        .unwrap()
        .hyphenated()
        .to_string();
    assert_eq!(
        names(format!("settings_uuid={hyphenated}")).await,
        ["orphan-c"]
    );
    assert_eq!(
        names(format!("tenant_uuid={}", uuid(&f.t1))).await,
        ["100%_win", "CentOS 9", "Ubuntu 22.04"]
    );
    assert_eq!(
        names(format!("tenant={}", url(&f.t2))).await,
        ["Ubuntu 22.04", "rescue-a"]
    );
    assert_eq!(
        names("is_rescue_image=true".into()).await,
        ["Debian", "rescue-a"]
    );
    assert_eq!(names("is_rescue_image=False".into()).await.len(), 5);
    // Filters combine with AND, repeated ones too.
    assert_eq!(
        names(format!("name=ubu&tenant_uuid={}", uuid(&f.t2))).await,
        ["Ubuntu 22.04"]
    );
    assert_eq!(
        names("name=ubuntu&name=minimal".into()).await,
        ["ubuntu-minimal"]
    );
    assert!(
        names(format!(
            "settings_uuid={}&settings_uuid={}",
            uuid(&f.cloud_a),
            uuid(&f.cloud_b)
        ))
        .await
        .is_empty()
    );
    // Empty values are no filter.
    assert_eq!(names("name=&settings_uuid=".into()).await.len(), 7);

    // offering_uuid: tenant scope; settings scope with tenants; settings scope without.
    let o_t3 = srv.create_offering(&f.t3).await;
    assert_eq!(
        names(format!("offering_uuid={o_t3}")).await,
        ["Debian", "ubuntu-minimal"]
    );
    let o_a = srv.create_offering(&f.cloud_a).await;
    assert_eq!(
        names(format!("offering_uuid={o_a}")).await,
        ["100%_win", "CentOS 9", "Ubuntu 22.04", "rescue-a"]
    );
    let o_c = srv.create_offering(&f.cloud_c).await;
    assert_eq!(names(format!("offering_uuid={o_c}")).await, ["orphan-c"]);

    // Unknown uuids give an empty list; malformed ones a 400 naming the field.
    let unknown = uuid::Uuid::new_v4().simple().to_string();
    for field in ["settings_uuid", "tenant_uuid", "offering_uuid"] {
        let r = srv
            .get(&format!("/api/openstack-images/?{field}={unknown}"))
            .await;
        assert_eq!((r.status, r.count()), (StatusCode::OK, 0), "{field}");
        let bad = srv
            .get(&format!("/api/openstack-images/?{field}=xyz"))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{field}");
        assert!(bad.json()[field].is_array(), "{field}: {}", bad.text);
    }
    for field in ["settings", "tenant"] {
        let r = srv
            .get(&format!(
                "/api/openstack-images/?{field}=http://x/api/things/{unknown}/"
            ))
            .await;
        assert_eq!((r.status, r.count()), (StatusCode::OK, 0), "{field}");
        let bad = srv
            .get(&format!(
                "/api/openstack-images/?{field}=http://x/api/things/zzz/"
            ))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.json()[field].is_array());
    }
    let bad_bool = srv
        .get("/api/openstack-images/?is_rescue_image=perhaps")
        .await;
    assert_eq!(bad_bool.status, StatusCode::BAD_REQUEST);
    assert!(bad_bool.json()["is_rescue_image"].is_array());
    f.srv.stop().await;
}

#[tokio::test]
async fn only_the_newest_image_per_cloud_and_name_is_listed_by_default() {
    let srv = TestServer::start().await;
    let a = srv.create_settings("a", false).await;
    let b = srv.create_settings("b", false).await;
    let t_old = srv.create_tenant(&a, "old-only").await;
    let (sa, sb) = (
        db_id_of_settings(&srv.db, &a).await,
        db_id_of_settings(&srv.db, &b).await,
    );
    let t_old_id = db_id_of_tenant(&srv.db, &t_old).await;
    let old = insert_image(
        &srv.db,
        sa,
        ImageSpec::new("ubuntu")
            .created("2024-01-01T00:00:00Z")
            .tenants(&[t_old_id]),
    )
    .await;
    let newest = insert_image(
        &srv.db,
        sa,
        ImageSpec::new("ubuntu").created("2025-06-01T00:00:00Z"),
    )
    .await;
    let _undated = insert_image(&srv.db, sa, ImageSpec::new("ubuntu")).await;
    let other_cloud = insert_image(
        &srv.db,
        sb,
        ImageSpec::new("ubuntu").created("2020-01-01T00:00:00Z"),
    )
    .await;
    let undated_only = insert_image(&srv.db, sb, ImageSpec::new("nodate")).await;
    let _undated_dup = insert_image(&srv.db, sb, ImageSpec::new("nodate")).await;

    let r = srv.get("/api/openstack-images/").await;
    let mut got = r.uuids();
    got.sort();
    let mut want = vec![
        newest.uuid.simple().to_string(),
        other_cloud.uuid.simple().to_string(),
        undated_only.uuid.simple().to_string(),
    ];
    want.sort();
    assert_eq!(
        got, want,
        "newest per (settings, name); nulls last; ties broken stably"
    );
    assert_eq!(r.count(), 3);

    let all = srv
        .get("/api/openstack-images/?show_duplicate_names=true")
        .await;
    assert_eq!(all.count(), 6);
    assert_eq!(
        srv.get("/api/openstack-images/?show_duplicate_names=false")
            .await
            .count(),
        3
    );

    // A token that sees only the old image still gets it: the rule applies among visible images.
    let scoped = srv.scoped_token("old", &[uuid_of(&t_old)]).await;
    let mine = srv.get_as(&scoped, "/api/openstack-images/").await;
    assert_eq!(mine.uuids(), [old.uuid.simple().to_string()]);
    // And within filters: filtering to that tenant shows its image.
    let filtered = srv
        .get(&format!(
            "/api/openstack-images/?tenant_uuid={}",
            t_old["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(filtered.uuids(), [old.uuid.simple().to_string()]);
    srv.stop().await;
}

#[tokio::test]
async fn a_scoped_token_sees_only_its_tenants_everywhere() {
    let f = fixture().await;
    let srv = &f.srv;
    let tok = srv.scoped_token("t3-only", &[uuid_of(&f.t3)]).await;

    let list = srv.get_as(&tok, "/api/openstack-images/").await;
    assert_eq!(list.names(), ["Debian", "ubuntu-minimal"]);
    assert_eq!(list.count(), 2);
    let head = srv
        .call(Method::HEAD, "/api/openstack-images/", Some(&tok), None)
        .await;
    assert_eq!(head.count(), 2);
    // Filters cannot widen the view.
    let widened = srv
        .get_as(
            &tok,
            &format!(
                "/api/openstack-images/?settings_uuid={}",
                f.cloud_a["uuid"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(widened.count(), 0);

    // Retrieve: visible → 200, invisible → 404.
    let all = srv.get("/api/openstack-images/?page_size=100").await.json();
    for item in all.as_array().unwrap() {
        let r = srv
            .get_as(
                &tok,
                &format!("/api/openstack-images/{}/", item["uuid"].as_str().unwrap()),
            )
            .await;
        let visible = ["Debian", "ubuntu-minimal"].contains(&item["name"].as_str().unwrap());
        assert_eq!(
            r.status,
            if visible {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            },
            "{}",
            item["name"]
        );
    }

    // usage_stats: only visible names, only instances of visible tenants.
    let (a, b) = (
        db_id_of_settings(&srv.db, &f.cloud_a).await,
        db_id_of_settings(&srv.db, &f.cloud_b).await,
    );
    let (i1, i3) = (
        db_id_of_tenant(&srv.db, &f.t1).await,
        db_id_of_tenant(&srv.db, &f.t3).await,
    );
    insert_instance(&srv.db, b, i3, "Debian", "ACTIVE", false).await;
    insert_instance(&srv.db, a, i1, "Debian", "ACTIVE", false).await;
    let stats = srv.get_as(&tok, "/api/openstack-images/usage_stats/").await;
    assert_eq!(stats.count(), 2);
    let body = stats.json();
    assert_eq!(body[0]["name"], "Debian");
    assert_eq!(
        body[0]["running_instances_count"], 1,
        "t1's instance is not counted for a t3 token"
    );
    let head = srv
        .call(
            Method::HEAD,
            "/api/openstack-images/usage_stats/",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(head.count(), 2);

    // Management: scoped reads are limited, writes are 403.
    let tenants = srv.get_as(&tok, "/api/openstack-tenants/").await;
    assert_eq!(tenants.names(), ["t3"]);
    let t1_path = format!("/api/openstack-tenants/{}/", f.t1["uuid"].as_str().unwrap());
    assert_eq!(
        srv.get_as(&tok, &t1_path).await.status,
        StatusCode::NOT_FOUND
    );
    let settings = srv.get_as(&tok, "/api/service-settings/").await;
    assert_eq!(settings.names(), ["cloud-b"]);
    let forbidden =
        serde_json::json!({"detail": "You do not have permission to perform this action."});
    for (method, path, body) in [
        (
            Method::POST,
            "/api/service-settings/".to_string(),
            Some(serde_json::json!({"name": "x"})),
        ),
        (
            Method::PATCH,
            format!(
                "/api/service-settings/{}/",
                f.cloud_b["uuid"].as_str().unwrap()
            ),
            Some(serde_json::json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!(
                "/api/service-settings/{}/",
                f.cloud_b["uuid"].as_str().unwrap()
            ),
            None,
        ),
        (
            Method::POST,
            "/api/openstack-tenants/".to_string(),
            Some(serde_json::json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/openstack-tenants/{}/", f.t3["uuid"].as_str().unwrap()),
            None,
        ),
        (
            Method::POST,
            format!(
                "/api/openstack-tenants/{}/pull/",
                f.t3["uuid"].as_str().unwrap()
            ),
            None,
        ),
        (
            Method::POST,
            "/api/offerings/".to_string(),
            Some(serde_json::json!({"name": "x"})),
        ),
        (Method::GET, "/api/tokens/".to_string(), None),
        (Method::GET, "/api/offerings/".to_string(), None),
        (
            Method::POST,
            "/api/tokens/".to_string(),
            Some(serde_json::json!({"name": "x", "is_staff": true})),
        ),
    ] {
        let r = srv.call(method.clone(), &path, Some(&tok), body).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(r.json(), forbidden);
    }
    f.srv.stop().await;
}

#[tokio::test]
async fn usage_stats_count_running_and_created_instances_per_name() {
    let f = fixture().await;
    let srv = &f.srv;
    let (a, b) = (
        db_id_of_settings(&srv.db, &f.cloud_a).await,
        db_id_of_settings(&srv.db, &f.cloud_b).await,
    );
    let (i1, i3) = (
        db_id_of_tenant(&srv.db, &f.t1).await,
        db_id_of_tenant(&srv.db, &f.t3).await,
    );
    insert_instance(&srv.db, a, i1, "Ubuntu 22.04", "ACTIVE", false).await;
    insert_instance(&srv.db, a, i1, "Ubuntu 22.04", "ACTIVE", false).await;
    insert_instance(&srv.db, a, i1, "Ubuntu 22.04", "SHUTOFF", false).await;
    insert_instance(&srv.db, a, i1, "Ubuntu 22.04", "ACTIVE", true).await;
    insert_instance(&srv.db, b, i3, "Debian", "ACTIVE", false).await;
    insert_instance(&srv.db, b, i3, "gone-image", "ACTIVE", false).await;

    let r = srv
        .get("/api/openstack-images/usage_stats/?page_size=100")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.count(),
        7,
        "one row per distinct visible image name, zeros included"
    );
    let rows = r.json();
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        row("Ubuntu 22.04"),
        serde_json::json!({"name": "Ubuntu 22.04", "running_instances_count": 2, "created_instances_count": 4})
    );
    assert_eq!(row("Debian")["running_instances_count"], 1);
    assert_eq!(
        row("CentOS 9"),
        serde_json::json!({"name": "CentOS 9", "running_instances_count": 0, "created_instances_count": 0})
    );
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|x| x["name"] != "gone-image")
    );
    let names: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // shared=true: only cloud-a (shared); service_provider: only the given clouds.
    let shared = srv
        .get("/api/openstack-images/usage_stats/?shared=true&page_size=100")
        .await;
    assert_eq!(
        shared.names(),
        ["100%_win", "CentOS 9", "Ubuntu 22.04", "rescue-a"]
    );
    let sp = srv
        .get(&format!(
            "/api/openstack-images/usage_stats/?service_provider={}&service_provider={}",
            f.cloud_b["uuid"].as_str().unwrap(),
            f.cloud_c["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sp.names(), ["Debian", "orphan-c", "ubuntu-minimal"]);
    let paged = srv
        .get("/api/openstack-images/usage_stats/?page_size=3&page=3")
        .await;
    assert_eq!(paged.names().len(), 1);
    assert_eq!(
        srv.get("/api/openstack-images/usage_stats/?page=5")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        srv.get("/api/openstack-images/usage_stats/?service_provider=zz")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let _ = &f.t2;
    f.srv.stop().await;
}

#[tokio::test]
async fn authentication_errors_are_drf_shaped() {
    let srv = TestServer::start().await;
    let missing = srv
        .call(Method::GET, "/api/openstack-images/", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.json(),
        serde_json::json!({"detail": "Authentication credentials were not provided."})
    );
    assert_eq!(missing.header("www-authenticate").as_deref(), Some("Token"));

    let bad = srv
        .call(Method::GET, "/api/openstack-images/", Some("0000"), None)
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.json(), serde_json::json!({"detail": "Invalid token."}));
    assert_eq!(bad.header("www-authenticate").as_deref(), Some("Token"));

    for keyword in ["token", "TOKEN", "Token"] {
        let r = srv
            .client
            .get(srv.url("/api/openstack-images/"))
            .header("Authorization", format!("{keyword} {}", srv.staff_token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{keyword}");
    }
    let q = srv
        .call(
            Method::GET,
            &format!("/api/openstack-images/?x-auth-token={}", srv.staff_token),
            None,
            None,
        )
        .await;
    assert_eq!(q.status, StatusCode::OK);
    let bad_q = srv
        .call(
            Method::GET,
            "/api/openstack-images/?x-auth-token=nope",
            None,
            None,
        )
        .await;
    assert_eq!(
        bad_q.json(),
        serde_json::json!({"detail": "Invalid token."})
    );

    // An expired token.
    let expiring = expired_token(&srv).await;
    let r = srv
        .call(Method::GET, "/api/openstack-images/", Some(&expiring), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json(),
        serde_json::json!({"detail": "Token has expired."})
    );

    // Unauthenticated calls to every protected endpoint are 401, not 500 or 404.
    for path in [
        "/api/openstack-images/usage_stats/",
        "/api/service-settings/",
        "/api/openstack-tenants/",
        "/api/offerings/",
        "/api/tokens/",
    ] {
        let r = srv.call(Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    srv.stop().await;
}

async fn expired_token(srv: &TestServer) -> String {
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let (view, secret) = srv
            .catalog
            .tokens()
            .create(cloudcensus::catalog::tokens::NewToken {
                name: "soon".into(),
                is_staff: true,
                tenants: vec![],
                expires_in_days: Some(1),
            })
            .await
            .unwrap();
        entity::api_tokens::Entity::update_many()
            .col_expr(
                entity::api_tokens::Column::ExpiresAt,
                Expr::val(chrono::Utc::now() - chrono::Duration::hours(1)),
            )
            .filter(entity::api_tokens::Column::Id.eq(view.token.id))
            .exec(&srv.db)
            .await
            .unwrap();
        secret
    }
}
