//! The listing index answers exactly as SQL does: a randomized catalog (duplicate names, equal
//! and missing creation dates, rescue images, images shared by several tenants, three clouds)
//! is listed through a server with the index and through a twin server on the same database
//! that uses SQL only, for every filter, combinations, pages and scoped tokens, and for
//! `usage_stats`.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;

use crate::common::sim::SimApp;
use crate::common::{ImageSpec, Reply, TestApp};

/// What a list answer says, without the server's own base URL.
fn comparable(r: &Reply, base: &str) -> (StatusCode, Option<String>, String, Option<String>) {
    (
        r.status,
        r.header("x-result-count"),
        r.text.replace(base, "BASE"),
        r.header("link").map(|l| l.replace(base, "BASE")),
    )
}

/// A GET of `path` from the server at `base` with `token`.
async fn get_from(client: &reqwest::Client, base: &str, token: &str, path: &str) -> Reply {
    let r = client
        .get(format!("{base}{path}"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    Reply::from_response(r).await
}

/// Three clouds (b shared), tenants a1-a3 of cloud-a and b1 of cloud-b, scoped tokens "one"
/// (a1), "two" (a1, a2) and "across" (a2, b1); 240 random images (names that differ only in
/// case or carry LIKE wildcards, equal and missing dates, rescue images, random tenant links)
/// and 30 instances.
async fn random_catalog() -> TestApp {
    let srv = TestApp::init()
        .with_cloud("cloud-a")
        .with_shared_cloud("cloud-b")
        .with_cloud("cloud-c")
        .with_tenant("cloud-a", "a1")
        .with_tenant("cloud-a", "a2")
        .with_tenant("cloud-a", "a3")
        .with_tenant("cloud-b", "b1")
        .with_scoped_token("one", &["a1"])
        .with_scoped_token("two", &["a1", "a2"])
        .with_scoped_token("across", &["a2", "b1"])
        .start()
        .await;
    let (cloud_a, cloud_b, cloud_c) = (
        srv.cloud("cloud-a"),
        srv.cloud("cloud-b"),
        srv.cloud("cloud-c"),
    );
    let tenants = [
        srv.tenant("a1"),
        srv.tenant("a2"),
        srv.tenant("a3"),
        srv.tenant("b1"),
    ];
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
        let cloud = [cloud_a, cloud_a, cloud_b, cloud_c][rng.random_range(0..4)];
        let own: Vec<_> = match cloud.name.as_str() {
            "cloud-a" => tenants[..3].to_vec(),
            "cloud-b" => vec![tenants[3]],
            _ => vec![],
        };
        let linked: Vec<_> = own.into_iter().filter(|_| rng.random_bool(0.5)).collect();
        let mut spec = ImageSpec::new(names[rng.random_range(0..names.len())]).tenants(&linked);
        if let Some(d) = dates[rng.random_range(0..dates.len())] {
            spec = spec.created(d);
        }
        if rng.random_bool(0.2) {
            spec = spec.rescue("cdrom");
        }
        spec = random_detail(&mut rng, spec);
        srv.insert_image(cloud, spec).await;
    }
    for i in 0..30 {
        let (cloud, tenant) = if i % 3 == 0 {
            (cloud_b, tenants[3])
        } else {
            (cloud_a, tenants[i % 3])
        };
        let status = ["ACTIVE", "SHUTOFF"][i % 2];
        srv.insert_instance(cloud, tenant, names[i % names.len()], status, i % 5 == 0)
            .await;
    }
    srv
}

/// Glance's detail drawn from small sets, so filters and orderings meet equal values, missing
/// ones, several tags and properties.
fn random_detail<'a>(rng: &mut StdRng, mut spec: ImageSpec<'a>) -> ImageSpec<'a> {
    use entity::types::ImageVisibility as V;
    let pick = |rng: &mut StdRng, items: &[&'a str]| items[rng.random_range(0..items.len())];
    spec.status = pick(rng, &["active", "active", "queued", "deactivated"]);
    spec.visibility = [V::Public, V::Private, V::Shared, V::Community][rng.random_range(0..4)];
    spec.size = [None, Some(1024), Some(1 << 30), Some(5 << 30)][rng.random_range(0..4)];
    spec.min_disk = [0, 1024, 10240][rng.random_range(0..3)];
    spec.disk_format = [None, Some("qcow2"), Some("raw")][rng.random_range(0..3)];
    spec.owner = [None, Some("p-1"), Some("p-2")][rng.random_range(0..3)];
    spec.tags = ["golden", "gpu", "beta"]
        .into_iter()
        .filter(|_| rng.random_bool(0.3))
        .collect();
    let mut props = serde_json::Map::new();
    if rng.random_bool(0.6) {
        props.insert("os_distro".into(), pick(rng, &["ubuntu", "debian"]).into());
    }
    if rng.random_bool(0.4) {
        props.insert(
            "hw_firmware_type".into(),
            pick(rng, &["uefi", "bios"]).into(),
        );
    }
    spec.properties = serde_json::Value::Object(props);
    spec
}

/// Every list and `usage_stats` query compared: each filter, combinations, offerings of
/// each scope, unknown uuids.
async fn queries(srv: &TestApp) -> Vec<String> {
    let (cloud_a, cloud_b, cloud_c) = (
        srv.cloud("cloud-a"),
        srv.cloud("cloud-b"),
        srv.cloud("cloud-c"),
    );
    let (a1, a2) = (srv.tenant("a1"), srv.tenant("a2"));
    let offer_a1 = srv.create_offering(&a1.url).await;
    let offer_a = srv.create_offering(&cloud_a.url).await;
    let offer_c = srv.create_offering(&cloud_c.url).await;

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
        format!("settings_uuid={}", cloud_a.uuid),
        format!("settings={}", cloud_b.url),
        format!(
            "settings_uuid={}&settings_uuid={}",
            cloud_a.uuid, cloud_b.uuid
        ),
        format!("tenant_uuid={}", a1.uuid),
        format!("tenant={}", a2.url),
        format!("tenant_uuid={}&tenant_uuid={}", a1.uuid, a2.uuid),
        format!("tenant_uuid={}", uuid::Uuid::new_v4().simple()),
        format!("offering_uuid={offer_a1}"),
        format!("offering_uuid={offer_a}"),
        format!("offering_uuid={offer_c}"),
        format!("offering_uuid={}", uuid::Uuid::new_v4().simple()),
        "is_rescue_image=true".into(),
        "is_rescue_image=false".into(),
        format!("tenant_uuid={}&is_rescue_image=false&name=u", a1.uuid),
        format!(
            "settings_uuid={}&is_rescue_image=true&show_duplicate_names=true",
            cloud_a.uuid
        ),
        format!("offering_uuid={offer_a}&name_exact=debian"),
        "visibility=private".into(),
        "visibility=public&visibility=shared".into(),
        "status=queued".into(),
        "disk_format=raw".into(),
        "os_distro=ubuntu".into(),
        "owner=p-2".into(),
        "property=hw_firmware_type:uefi&property=os_distro:debian".into(),
        "property=hw_rescue_device:cdrom".into(),
        "property=os_distro:missing".into(),
        "tag=golden".into(),
        "tag=golden&tag=gpu".into(),
        "created_after=2025-06-01".into(),
        "created_before=2025-06-01T12:00:00Z".into(),
        "created_after=2025-01-01T00:00:00Z&created_before=2026-01-01".into(),
        format!("tenant_uuid={}&tag=beta&visibility=public", a1.uuid),
        "o=-name".into(),
        "o=backend_created_at".into(),
        "o=-backend_created_at".into(),
        "o=min_disk,-size".into(),
        "o=-size&show_duplicate_names=true".into(),
        "o=size&os_distro=ubuntu".into(),
        "o=-min_disk&o=name".into(),
    ];
    let mut paths: Vec<String> = filters
        .iter()
        .map(|f| format!("/api/openstack-images/?{f}"))
        .collect();
    for usage in [
        String::new(),
        "shared=true".into(),
        "shared=false".into(),
        format!("service_provider={}", cloud_a.uuid),
        format!(
            "service_provider={}&service_provider={}&shared=false",
            cloud_a.uuid, cloud_b.uuid
        ),
    ] {
        paths.push(format!("/api/openstack-images/usage_stats/?{usage}"));
    }
    paths
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_answers_every_list_query_as_sql_does() {
    let srv = random_catalog().await;
    let twin = srv.sql_twin().await;
    let paths = queries(&srv).await;
    let pages = [
        "page_size=7",
        "page_size=7&page=2",
        "page_size=7&page=last",
        "page_size=300",
    ];
    let callers = [
        ("staff", srv.staff_token.clone()),
        ("one tenant", srv.token("one").to_string()),
        ("two tenants", srv.token("two").to_string()),
        ("tenants of two clouds", srv.token("across").to_string()),
    ];

    srv.rebuild_index().await;
    let served_before = srv.index_served();
    let mut asked = 0;
    let mut nonempty = 0;
    for query in &paths {
        for page in pages {
            for (who, token) in &callers {
                let path = format!("{query}&{page}");
                let got = srv.get_as(token, &path).await;
                let want = get_from(&srv.client, &twin.base, token, &path).await;
                assert_eq!(
                    comparable(&got, &srv.base),
                    comparable(&want, &twin.base),
                    "{who}: {path}"
                );
                if got.status == StatusCode::OK && got.count() > 0 {
                    nonempty += 1;
                }
                let head = srv.head_as(token, &path).await;
                assert_eq!(head.header("x-result-count"), got.header("x-result-count"));
                asked += 2;
            }
        }
    }
    // Retrieving each image (and an unknown uuid) as each caller.
    let all = srv
        .get("/api/openstack-images/?show_duplicate_names=true&page_size=300")
        .await;
    asked += 1;
    let mut uuids: Vec<String> = all
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["uuid"].as_str().unwrap().to_string())
        .collect();
    assert!(uuids.len() > 100, "{} images", uuids.len());
    uuids.push(uuid::Uuid::new_v4().simple().to_string());
    let mut found = 0;
    for uuid in &uuids {
        for (who, token) in &callers {
            let path = format!("/api/openstack-images/{uuid}/");
            let got = srv.get_as(token, &path).await;
            let want = get_from(&srv.client, &twin.base, token, &path).await;
            assert_eq!(
                comparable(&got, &srv.base),
                comparable(&want, &twin.base),
                "{who}: {path}"
            );
            found += usize::from(got.status == StatusCode::OK);
            asked += 1;
        }
    }
    assert!(
        found > uuids.len() && found < uuids.len() * callers.len(),
        "{found}"
    );

    // Every answer above came from the index, and most of them were not empty.
    assert_eq!(srv.index_served() - served_before, asked);
    assert!(nonempty > asked / 8, "{nonempty} of {asked}");
    twin.stop().await;
    srv.stop().await;
}

/// Another process's writes (here: rows written straight into the database) are answered from
/// the last snapshot until the background rebuild they start has read them: within 2 s.
#[tokio::test(flavor = "multi_thread")]
async fn another_process_write_is_listed_within_two_seconds() {
    let srv = TestApp::init()
        .with_cloud("cloud")
        .with_tenant("cloud", "t")
        .start()
        .await;
    let (cloud, tenant) = (srv.cloud("cloud"), srv.tenant("t"));
    srv.insert_image(cloud, ImageSpec::new("first").tenants(&[tenant]))
        .await;
    srv.rebuild_index().await;
    let served = srv.index_served();
    assert_eq!(srv.get("/api/openstack-images/").await.names(), ["first"]);
    assert_eq!(srv.index_served(), served + 1);

    srv.insert_image_from_another_process(cloud, ImageSpec::new("second").tenants(&[tenant]))
        .await;
    let written = std::time::Instant::now();
    loop {
        let before = srv.index_served();
        let names = srv.get("/api/openstack-images/").await.names();
        assert_eq!(srv.index_served(), before + 1, "answered from the index");
        if names == ["first", "second"] {
            break;
        }
        assert_eq!(names, ["first"], "the last snapshot, until the rebuild");
        assert!(
            written.elapsed() < std::time::Duration::from_secs(2),
            "not listed within 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    srv.stop().await;
}

/// The catalog's own writes are listed by the next request, from the index.
#[tokio::test(flavor = "multi_thread")]
async fn this_process_write_is_listed_at_once() {
    let srv = TestApp::init()
        .with_cloud("cloud")
        .with_tenant("cloud", "t")
        .start()
        .await;
    let (cloud, tenant) = (srv.cloud("cloud"), srv.tenant("t"));
    srv.insert_image(cloud, ImageSpec::new("first").tenants(&[tenant]))
        .await;
    srv.rebuild_index().await;
    let path = format!("/api/openstack-images/?tenant_uuid={}", tenant.uuid);
    assert_eq!(srv.get(&path).await.count(), 1);

    // Deleting the tenant removes its links, and the listing follows at once.
    let r = srv.delete(srv.path_of(&tenant.url)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let served = srv.index_served();
    let r = srv.get(&path).await;
    assert_eq!(r.count(), 0);
    assert_eq!(srv.index_served(), served + 1, "answered from the index");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_reads_only_the_clouds_that_changed() {
    let srv = TestApp::init()
        .with_cloud("one")
        .with_cloud("two")
        .with_cloud("three")
        .start()
        .await;
    let twin = srv.sql_twin().await;
    for name in ["one", "two", "three"] {
        for i in 0..5 {
            srv.insert_image(srv.cloud(name), ImageSpec::new(&format!("img-{i}")))
                .await;
        }
    }
    // The server started a build of its own; wait for it, then build again with nothing new.
    let mut reloaded = srv.rebuild_index().await;
    for _ in 0..50 {
        if reloaded == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        reloaded = srv.rebuild_index().await;
    }
    assert_eq!(reloaded, 0, "nothing changed, nothing is read again");

    srv.insert_image_from_another_process(srv.cloud("two"), ImageSpec::new("img-0"))
        .await;
    assert_eq!(srv.rebuild_index().await, 1);
    let served = srv.index_served();
    for query in [
        "",
        "show_duplicate_names=true",
        "name=img-0&show_duplicate_names=true",
    ] {
        let path = format!("/api/openstack-images/?page_size=100&{query}");
        let got = srv.get(&path).await;
        let want = get_from(&srv.client, &twin.base, &srv.staff_token, &path).await;
        assert_eq!(got.uuids(), want.uuids(), "{query}");
    }
    assert_eq!(srv.index_served(), served + 3);
    assert_eq!(
        srv.get("/api/openstack-images/?name_exact=img-0&show_duplicate_names=true")
            .await
            .count(),
        4
    );
    twin.stop().await;
    srv.stop().await;
}

/// A replica lists what another replica wrote within the bound: here a tenant deleted through
/// the first server's API disappears from the second server's lists within 2 s, answered from
/// its index all along.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_lists_another_replicas_write_within_two_seconds() {
    let srv = TestApp::init()
        .with_cloud("cloud")
        .with_tenant("cloud", "t")
        .start()
        .await;
    let (cloud, tenant) = (srv.cloud("cloud"), srv.tenant("t"));
    srv.insert_image(cloud, ImageSpec::new("linked").tenants(&[tenant]))
        .await;
    let replica = srv.replica().await;
    let path = format!(
        "{}/api/openstack-images/?tenant_uuid={}",
        replica.base, tenant.uuid
    );
    let count = |body: reqwest::Response| async move {
        let r = Reply::from_response(body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.count()
    };
    let ask = || {
        srv.client
            .get(&path)
            .header("Authorization", format!("Token {}", srv.staff_token))
            .send()
    };
    assert_eq!(count(ask().await.unwrap()).await, 1);

    let r = srv.delete(srv.path_of(&tenant.url)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let deleted = std::time::Instant::now();
    while count(ask().await.unwrap()).await != 0 {
        assert!(
            deleted.elapsed() < std::time::Duration::from_secs(2),
            "the replica still lists the deleted tenant's image after 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    replica.stop().await;
    srv.stop().await;
}

/// Answers taken while a sync runs are whole snapshots: each equals what SQL answered after
/// some number of tenant applies (never a tenant half applied, never two states mixed), and
/// a reader never sees an older state after a newer one. Tenants are synced one after the
/// other, and the SQL twin's answers are taken between them, while a reader lists through
/// the index the whole time.
#[tokio::test(flavor = "multi_thread")]
async fn answers_during_a_running_sync_are_whole_snapshots() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let s = SimApp::generated(4, 400, 10).start().await;
    let twin = s.app.sql_twin().await;
    let paths = Arc::new(vec![
        "/api/openstack-images/?page_size=50".to_string(),
        "/api/openstack-images/?page_size=10&page=3".to_string(),
        format!(
            "/api/openstack-images/?page_size=20&tenant_uuid={}",
            s.tenants[2].uuid
        ),
        "/api/openstack-images/?page_size=50&name=a".to_string(),
        "/api/openstack-images/usage_stats/?page_size=50".to_string(),
    ]);
    type Answer = (StatusCode, Option<String>, String, Option<String>);
    let twin_answers = |twin_base: String| {
        let (client, token, paths) = (
            s.app.client.clone(),
            s.app.staff_token.clone(),
            paths.clone(),
        );
        async move {
            let mut out: Vec<Answer> = Vec::new();
            for path in paths.iter() {
                let r = get_from(&client, &twin_base, &token, path).await;
                out.push(comparable(&r, &twin_base));
            }
            out
        }
    };

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (client, token, base, paths, done): (reqwest::Client, String, String, _, _) = (
            s.app.client.clone(),
            s.app.staff_token.clone(),
            s.app.base.clone(),
            paths.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let mut seen: Vec<Vec<Answer>> = vec![Vec::new(); paths.len()];
            while !done.load(Ordering::Acquire) {
                for (i, path) in paths.iter().enumerate() {
                    let r = get_from(&client, &base, &token, path).await;
                    seen[i].push(comparable(&r, &base));
                }
            }
            seen
        })
    };

    // The states the catalog passes through: before the sync, after each tenant's apply.
    let mut states = vec![twin_answers(twin.base.clone()).await];
    for i in 0..s.tenants.len() {
        s.sweep_tenant_ok(i).await;
        states.push(twin_answers(twin.base.clone()).await);
    }
    done.store(true, Ordering::Release);
    let seen = reader.await.unwrap();

    for (q, answers) in seen.iter().enumerate() {
        let mut at = 0;
        let mut states_seen = std::collections::BTreeSet::new();
        for (n, answer) in answers.iter().enumerate() {
            let found = (at..states.len()).find(|&k| &states[k][q] == answer);
            let Some(k) = found else {
                let older = (0..at).find(|&k| &states[k][q] == answer);
                panic!(
                    "{}: answer {n} is no whole snapshot at or after state {at} (an older one: {older:?}): {answer:?}",
                    paths[q]
                );
            };
            at = k;
            states_seen.insert(k);
        }
        assert!(
            states_seen.len() >= 2 && answers.len() > 10,
            "{}: the reader saw {} answers in states {states_seen:?}",
            paths[q],
            answers.len()
        );
    }
    // The sync changed what every query answers.
    for q in 0..paths.len() {
        assert_ne!(states[0][q], states[states.len() - 1][q], "{}", paths[q]);
    }
    twin.stop().await;
    s.stop().await;
}
