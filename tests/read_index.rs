//! The listing index answers exactly as SQL does: a randomized catalog (duplicate names, equal
//! and missing creation dates, rescue images, images shared by several tenants, three clouds)
//! is listed through a server with the index and through a twin server on the same database
//! that uses SQL only, for every filter, combinations, pages and scoped tokens, and for
//! `usage_stats`.
mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// What a list answer says, without the server's own base URL.
fn comparable(r: &Reply, base: &str) -> (StatusCode, Option<String>, String, Option<String>) {
    (
        r.status,
        r.header("x-result-count"),
        r.text.replace(base, "BASE"),
        r.header("link").map(|l| l.replace(base, "BASE")),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_answers_every_list_query_as_sql_does() {
    let srv = TestServer::start().await;
    let twin = srv.sql_twin().await;
    let cloud_a = srv.create_settings("cloud-a", false).await;
    let cloud_b = srv.create_settings("cloud-b", true).await;
    let cloud_c = srv.create_settings("cloud-c", false).await;
    let mut tenants = Vec::new();
    for (cloud, name) in [
        (&cloud_a, "a1"),
        (&cloud_a, "a2"),
        (&cloud_a, "a3"),
        (&cloud_b, "b1"),
    ] {
        let t = srv.create_tenant(cloud, name).await;
        let id = db_id_of_tenant(&srv.db, &t).await;
        tenants.push((t, id));
    }
    let sid = |v: &Value| {
        let db = srv.db.clone();
        let v = v.clone();
        async move { db_id_of_settings(&db, &v).await }
    };
    let (a, b, c) = (
        sid(&cloud_a).await,
        sid(&cloud_b).await,
        sid(&cloud_c).await,
    );

    let mut rng = StdRng::seed_from_u64(20261125);
    let names = [
        "ubuntu",
        "Ubuntu",
        "ubuntu-22.04",
        "debian",
        "cirros",
        "win_2022",
        "rocky%9",
        "ä-image",
    ];
    let dates = [
        None,
        Some("2025-01-01T00:00:00Z"),
        Some("2025-01-01T00:00:00Z"),
        Some("2025-06-01T12:00:00Z"),
        Some("2026-01-01T00:00:00Z"),
    ];
    for _ in 0..240 {
        let cloud = [a, a, b, c][rng.random_range(0..4)];
        let own: Vec<cloudcensus::catalog::TenantId> = match cloud {
            x if x == a => tenants[..3].iter().map(|t| t.1).collect(),
            x if x == b => vec![tenants[3].1],
            _ => vec![],
        };
        let linked: Vec<cloudcensus::catalog::TenantId> =
            own.into_iter().filter(|_| rng.random_bool(0.5)).collect();
        let mut spec = ImageSpec::new(names[rng.random_range(0..names.len())]).tenants(&linked);
        if let Some(d) = dates[rng.random_range(0..dates.len())] {
            spec = spec.created(d);
        }
        if rng.random_bool(0.2) {
            spec = spec.rescue("cdrom");
        }
        insert_image(&srv.db, cloud, spec).await;
    }
    for i in 0..30 {
        let (cloud, tenant) = if i % 3 == 0 {
            (b, tenants[3].1)
        } else {
            (a, tenants[i % 3].1)
        };
        let status = ["ACTIVE", "SHUTOFF"][i % 2];
        insert_instance(
            &srv.db,
            cloud,
            tenant,
            names[i % names.len()],
            status,
            i % 5 == 0,
        )
        .await;
    }
    let uuid = |v: &Value| v["uuid"].as_str().unwrap().to_string();
    let url = |v: &Value| v["url"].as_str().unwrap().to_string();
    let (a1, a2, b1) = (&tenants[0].0, &tenants[1].0, &tenants[3].0);
    let offer_a1 = srv.create_offering(a1).await;
    let offer_a = srv.create_offering(&cloud_a).await;
    let offer_c = srv.create_offering(&cloud_c).await;
    let one = srv.scoped_token("one", &[uuid_of(a1)]).await;
    let two = srv.scoped_token("two", &[uuid_of(a1), uuid_of(a2)]).await;
    let across = srv
        .scoped_token("across", &[uuid_of(a2), uuid_of(b1)])
        .await;

    let filters: Vec<String> = vec![
        String::new(),
        "show_duplicate_names=true".into(),
        "name=ubuntu".into(),
        "name=U&name=2".into(),
        "name=%25".into(),
        "name=Ä".into(),
        "name_exact=ubuntu".into(),
        "name_exact=ubuntu&name_exact=Ubuntu".into(),
        "name_exact=missing".into(),
        format!("settings_uuid={}", uuid(&cloud_a)),
        format!("settings={}", url(&cloud_b)),
        format!(
            "settings_uuid={}&settings_uuid={}",
            uuid(&cloud_a),
            uuid(&cloud_b)
        ),
        format!("tenant_uuid={}", uuid(a1)),
        format!("tenant={}", url(a2)),
        format!("tenant_uuid={}&tenant_uuid={}", uuid(a1), uuid(a2)),
        format!("tenant_uuid={}", uuid::Uuid::new_v4().simple()),
        format!("offering_uuid={offer_a1}"),
        format!("offering_uuid={offer_a}"),
        format!("offering_uuid={offer_c}"),
        format!("offering_uuid={}", uuid::Uuid::new_v4().simple()),
        "is_rescue_image=true".into(),
        "is_rescue_image=false".into(),
        format!("tenant_uuid={}&is_rescue_image=false&name=u", uuid(a1)),
        format!(
            "settings_uuid={}&is_rescue_image=true&show_duplicate_names=true",
            uuid(&cloud_a)
        ),
        format!("offering_uuid={offer_a}&name_exact=debian"),
    ];
    let mut paths: Vec<String> = filters
        .iter()
        .map(|f| format!("/api/openstack-images/?{f}"))
        .collect();
    for usage in [
        String::new(),
        "shared=true".into(),
        "shared=false".into(),
        format!("service_provider={}", uuid(&cloud_a)),
        format!(
            "service_provider={}&service_provider={}&shared=false",
            uuid(&cloud_a),
            uuid(&cloud_b)
        ),
    ] {
        paths.push(format!("/api/openstack-images/usage_stats/?{usage}"));
    }
    let pages = [
        "page_size=7",
        "page_size=7&page=2",
        "page_size=7&page=last",
        "page_size=300",
    ];
    let callers = [
        ("staff", srv.staff_token.clone()),
        ("one tenant", one),
        ("two tenants", two),
        ("tenants of two clouds", across),
    ];

    srv.catalog.rebuild_read_index().await.expect("index");
    let served_before = srv.catalog.read_index_served();
    let mut asked = 0;
    let mut nonempty = 0;
    for query in &paths {
        for page in pages {
            for (who, token) in &callers {
                let path = format!("{query}&{page}");
                let got = srv.get_as(token, &path).await;
                let want = srv
                    .client
                    .get(format!("{}{path}", twin.base))
                    .header("Authorization", format!("Token {token}"))
                    .send()
                    .await
                    .unwrap();
                let want = Reply::from_response(want).await;
                assert_eq!(
                    comparable(&got, &srv.base),
                    comparable(&want, &twin.base),
                    "{who}: {path}"
                );
                if got.status == StatusCode::OK && got.count() > 0 {
                    nonempty += 1;
                }
                let head = srv.call(Method::HEAD, &path, Some(token), None).await;
                assert_eq!(head.header("x-result-count"), got.header("x-result-count"));
                asked += 2;
            }
        }
    }
    // Every answer above came from the index, and most of them were not empty.
    assert_eq!(srv.catalog.read_index_served() - served_before, asked);
    assert!(nonempty > asked / 4, "{nonempty} of {asked}");
    twin.stop().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_is_listed_at_once_and_the_index_catches_up() {
    let srv = TestServer::start().await;
    let cloud = srv.create_settings("cloud", false).await;
    let sid = db_id_of_settings(&srv.db, &cloud).await;
    let tenant = srv.create_tenant(&cloud, "t").await;
    let tid = db_id_of_tenant(&srv.db, &tenant).await;
    insert_image(&srv.db, sid, ImageSpec::new("first").tenants(&[tid])).await;
    srv.catalog.rebuild_read_index().await.expect("index");
    let served = srv.catalog.read_index_served();
    assert_eq!(srv.get("/api/openstack-images/").await.names(), ["first"]);
    assert_eq!(srv.catalog.read_index_served(), served + 1);

    // A write raises the cloud's version: the next answer comes from SQL and is current.
    insert_image(&srv.db, sid, ImageSpec::new("second").tenants(&[tid])).await;
    assert_eq!(
        srv.get("/api/openstack-images/").await.names(),
        ["first", "second"]
    );
    assert_eq!(srv.catalog.read_index_served(), served + 1);
    // The rebuild that request started makes the index current again.
    let mut from_index = false;
    for _ in 0..100 {
        let before = srv.catalog.read_index_served();
        let r = srv.get("/api/openstack-images/").await;
        assert_eq!(r.names(), ["first", "second"]);
        if srv.catalog.read_index_served() > before {
            from_index = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(from_index, "the index never caught up");

    // Deleting the tenant removes its links, and the listing follows.
    let r = srv
        .call(
            Method::DELETE,
            &format!("/api/openstack-tenants/{}/", uuid_of(&tenant).simple()),
            Some(&srv.staff_token.clone()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    srv.catalog.rebuild_read_index().await.expect("index");
    let r = srv
        .get(&format!(
            "/api/openstack-images/?tenant_uuid={}",
            uuid_of(&tenant).simple()
        ))
        .await;
    assert_eq!(r.count(), 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_reads_only_the_clouds_that_changed() {
    let srv = TestServer::start().await;
    let twin = srv.sql_twin().await;
    let mut clouds = Vec::new();
    for name in ["one", "two", "three"] {
        let cloud = srv.create_settings(name, false).await;
        let id = db_id_of_settings(&srv.db, &cloud).await;
        for i in 0..5 {
            insert_image(&srv.db, id, ImageSpec::new(&format!("img-{i}"))).await;
        }
        clouds.push(id);
    }
    // The server started a build of its own; wait for it, then build again with nothing new.
    let mut reloaded = srv.catalog.rebuild_read_index().await.expect("index");
    for _ in 0..50 {
        if reloaded == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        reloaded = srv.catalog.rebuild_read_index().await.expect("index");
    }
    assert_eq!(reloaded, 0, "nothing changed, nothing is read again");

    insert_image(&srv.db, clouds[1], ImageSpec::new("img-0")).await;
    assert_eq!(srv.catalog.rebuild_read_index().await.expect("index"), 1);
    let served = srv.catalog.read_index_served();
    for query in [
        "",
        "show_duplicate_names=true",
        "name=img-0&show_duplicate_names=true",
    ] {
        let path = format!("/api/openstack-images/?page_size=100&{query}");
        let got = srv.get(&path).await;
        let want = srv
            .client
            .get(format!("{}{path}", twin.base))
            .header("Authorization", format!("Token {}", srv.staff_token))
            .send()
            .await
            .unwrap();
        let want = Reply::from_response(want).await;
        assert_eq!(got.uuids(), want.uuids(), "{query}");
    }
    assert_eq!(srv.catalog.read_index_served(), served + 3);
    assert_eq!(
        srv.get("/api/openstack-images/?name_exact=img-0&show_duplicate_names=true")
            .await
            .count(),
        4
    );
    twin.stop().await;
    srv.stop().await;
}
