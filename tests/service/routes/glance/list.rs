//! `GET /v2/images`: a tenant's token lists what Glance lists for its project; staff lists
//! the cloud as Glance's admin does; Glance's order, filters, markers and links.
use std::collections::BTreeSet;

use cloudcensus_sim::Image;
use reqwest::StatusCode;

use super::{glance_get, list_ids, page_ids};
use crate::common::sim::{SimApp, glance_login};

/// What the simulated Glance lists for a user of a project with `query`, all pages.
async fn upstream_ids(s: &SimApp, i: usize, query: &str) -> BTreeSet<String> {
    let (endpoint, token) = glance_login(
        &s.sim,
        &format!("user-{i}"),
        &format!("password-{i}"),
        &s.tenants[i].backend_id,
    )
    .await;
    let client = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    let mut path = format!("/v2/images?limit=50&{query}");
    loop {
        let body: serde_json::Value = client
            .get(format!("{endpoint}{path}"))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.extend(page_ids(&body));
        match body["next"].as_str() {
            Some(next) => path = next.to_string(),
            None => return ids,
        }
    }
}

/// Generated worlds share images with accepted, pending and rejected members: every
/// `member_status` is compared, the default (accepted) among them.
#[tokio::test]
async fn a_tenants_token_lists_what_glance_lists_its_project() {
    let s = SimApp::generated(3, 8, 0).start().await;
    s.sweep_ok().await;
    let cloud = s.cloud().uuid.clone();
    for (i, tenant) in s.tenants.iter().enumerate() {
        let token = s.app.scoped_token(&format!("t{i}"), &[tenant]).await;
        for members in [
            "member_status=all",
            "member_status=accepted",
            "member_status=pending",
            "member_status=rejected",
            "",
        ] {
            // The default visibility leaves out other projects' community images.
            for visibility in [
                "",
                "visibility=all",
                "visibility=all&os_hidden=true",
                "visibility=shared",
                "visibility=community",
                "visibility=private",
                "visibility=public",
            ] {
                let query = format!("{members}&{visibility}");
                let ours: BTreeSet<String> =
                    list_ids(&s.app, &cloud, &token, &format!("limit=7&{query}"))
                        .await
                        .into_iter()
                        .collect();
                let theirs = upstream_ids(&s, i, &query).await;
                assert_eq!(ours, theirs, "tenant {i}: {query}");
            }
        }
    }
    s.stop().await;
}

/// Every image id of a Glance-face listing served at `base` (the SQL twin), all pages.
async fn ids_at(base: &str, cloud: &str, token: &str, query: &str) -> BTreeSet<String> {
    let client = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    let mut path = format!("/v2/images?limit=2&{query}");
    loop {
        let body: serde_json::Value = client
            .get(format!("{base}/image/{cloud}{path}"))
            .header("X-Auth-Token", token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.extend(page_ids(&body));
        match body["next"].as_str() {
            Some(next) => path = next.to_string(),
            None => return ids,
        }
    }
}

/// Project 0 shares `shared` with 1 (accepted), 2 (pending) and 3 (rejected), and `other`
/// with 2 (rejected); `public` is everyone's.
fn shared_world() -> (cloudcensus_sim::World, Vec<String>) {
    let mut w = crate::common::sim::generated_world(4, 0, 0, 5);
    let p: Vec<String> = w.projects.iter().map(|p| p.id.clone()).collect();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let members = [
        (p[1].as_str(), "accepted"),
        (p[2].as_str(), "pending"),
        (p[3].as_str(), "rejected"),
    ];
    w.images = vec![
        Image::active("shared", &p[0], "shared", &members, at),
        Image::active("other", &p[0], "shared", &[(&p[2], "rejected")], at),
        Image::active("public", &p[0], "public", &[], at),
    ];
    (w, p)
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// A member lists another project's shared image by its membership's status, as Glance
/// does, from the index and from SQL alike; a token for several tenants when one of their
/// memberships has the status; staff as Glance's admin, whatever the members. A member
/// shows the image whatever its status. A member accepting upstream is listed after the
/// next sweep.
#[tokio::test]
async fn shared_images_list_by_the_viewers_membership_status() {
    let (world, p) = shared_world();
    let s = SimApp::world(world).start().await;
    s.sweep_ok().await;
    let cloud = s.cloud().uuid.clone();
    let twin = s.app.sql_twin().await;
    let tokens: Vec<String> = {
        let mut tokens = Vec::new();
        for (i, t) in s.tenants.iter().enumerate() {
            tokens.push(s.app.scoped_token(&format!("t{i}"), &[t]).await);
        }
        tokens
    };
    let statuses = [
        "",
        "member_status=accepted",
        "member_status=pending",
        "member_status=rejected",
        "member_status=all",
    ];
    for (i, token) in tokens.iter().enumerate().skip(1) {
        for query in statuses {
            let theirs = upstream_ids(&s, i, query).await;
            let ours: BTreeSet<String> = list_ids(&s.app, &cloud, token, query)
                .await
                .into_iter()
                .collect();
            assert_eq!(ours, theirs, "tenant {i}: {query}");
            let sql = ids_at(&twin.base, &cloud, token, query).await;
            assert_eq!(sql, theirs, "tenant {i} (SQL): {query}");
        }
    }
    assert_eq!(
        list_ids(&s.app, &cloud, &tokens[2], "").await,
        ["public"],
        "a pending membership is not listed by default"
    );

    // Tenants 1 (accepted) and 2 (pending of `shared`, rejected of `other`) together.
    let both = s
        .app
        .scoped_token("both", &[&s.tenants[1], &s.tenants[2]])
        .await;
    for (query, want) in [
        ("", set(&["public", "shared"])),
        ("member_status=pending", set(&["public", "shared"])),
        ("member_status=rejected", set(&["other", "public"])),
        ("member_status=all", set(&["other", "public", "shared"])),
    ] {
        let ours: BTreeSet<String> = list_ids(&s.app, &cloud, &both, query)
            .await
            .into_iter()
            .collect();
        assert_eq!(ours, want, "tenants 1 and 2: {query}");
        assert_eq!(
            ids_at(&twin.base, &cloud, &both, query).await,
            want,
            "SQL: {query}"
        );
    }
    // Staff lists as Glance's admin does: `member_status` changes nothing.
    let staff = s.app.staff_token.clone();
    for query in statuses {
        let ours: BTreeSet<String> = list_ids(&s.app, &cloud, &staff, query)
            .await
            .into_iter()
            .collect();
        assert_eq!(ours, set(&["other", "public", "shared"]), "staff: {query}");
    }
    // Glance shows a shared image to its member whatever the status.
    for i in [2, 3] {
        let r = glance_get(&s.app, &cloud, "/v2/images/shared", &tokens[i]).await;
        assert_eq!(r.status, StatusCode::OK, "tenant {i}: {}", r.text);
    }

    // Tenant 2 accepts upstream: listed by default after the next sweep, not before.
    assert!(s.sim.set_member_status("shared", &p[2], "accepted"));
    assert_eq!(list_ids(&s.app, &cloud, &tokens[2], "").await, ["public"]);
    s.sweep_ok().await;
    let mut after = list_ids(&s.app, &cloud, &tokens[2], "").await;
    after.sort();
    assert_eq!(after, ["public", "shared"]);
    assert_eq!(set(&["public", "shared"]), upstream_ids(&s, 2, "").await);
    twin.stop().await;
    s.stop().await;
}

/// The creation time as Glance shows it (whole seconds): what Glance and the census sort by.
fn seconds(image: &Image) -> String {
    image.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Not on its way out, nor killed: what a Glance listing can show.
fn listable(image: &Image) -> bool {
    !matches!(
        image.status.as_str(),
        "deleted" | "pending_delete" | "killed"
    )
}

/// The world's images as staff's default listing shows them: neither community, hidden nor
/// on their way out, newest first.
fn staff_default(images: &[Image]) -> Vec<String> {
    let mut listed: Vec<&Image> = images
        .iter()
        .filter(|i| i.visibility != "community" && !i.os_hidden && listable(i))
        .collect();
    listed.sort_by(|a, b| (seconds(b), &b.id).cmp(&(seconds(a), &a.id)));
    listed.into_iter().map(|i| i.id.clone()).collect()
}

#[tokio::test]
async fn staff_lists_the_cloud_in_glances_order_across_pages() {
    let s = SimApp::generated(2, 9, 0).start().await;
    s.sweep_ok().await;
    let cloud = s.cloud().uuid.clone();
    let staff = s.app.staff_token.clone();
    let world = s.sim.with_world(|w| w.images.clone());
    let want = staff_default(&world);
    assert!(want.len() > 12, "a few pages of images: {}", want.len());

    let one_page = glance_get(&s.app, &cloud, "/v2/images?limit=1000", &staff).await;
    let body = one_page.json();
    assert_eq!(page_ids(&body), want);
    assert_eq!(body["first"], "/v2/images?limit=1000");
    assert_eq!(body["schema"], "/v2/schemas/images");
    assert!(body.get("next").is_none());
    // The default page is 25 images; pages of 5 link each to the next.
    let default = glance_get(&s.app, &cloud, "/v2/images", &staff)
        .await
        .json();
    assert_eq!(page_ids(&default), want[..25.min(want.len())]);
    assert_eq!(default["first"], "/v2/images");
    assert_eq!(list_ids(&s.app, &cloud, &staff, "limit=5").await, want);

    // Sorted by name (no name first), then Glance's tie-breakers in the same direction.
    let mut by_name: Vec<&Image> = world.iter().filter(|i| want.contains(&i.id)).collect();
    by_name.sort_by(|a, b| {
        (
            a.name.as_deref().filter(|n| !n.is_empty()),
            a.created_at,
            &a.id,
        )
            .cmp(&(
                b.name.as_deref().filter(|n| !n.is_empty()),
                b.created_at,
                &b.id,
            ))
    });
    let by_name: Vec<String> = by_name.into_iter().map(|i| i.id.clone()).collect();
    for query in [
        "sort_key=name&sort_dir=asc&limit=4",
        "sort=name:asc&limit=4",
    ] {
        assert_eq!(
            list_ids(&s.app, &cloud, &staff, query).await,
            by_name,
            "{query}"
        );
    }
    let unknown = glance_get(&s.app, &cloud, "/v2/images?marker=nope", &staff).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    s.stop().await;
}

#[tokio::test]
async fn filters_select_as_glances() {
    let s = SimApp::generated(2, 6, 0).start().await;
    let (first, second) = s.sim.with_world(|w| {
        let mut ids = w
            .images
            .iter_mut()
            .filter(|i| i.visibility == "public" && !i.os_hidden && i.status == "active");
        let a = ids.next().unwrap();
        a.tags = vec!["gpu".into(), "lts".into()];
        a.protected = true;
        a.size = Some(100);
        let a_id = a.id.clone();
        let b = ids.next().unwrap();
        b.tags = vec!["gpu".into()];
        b.size = Some(300);
        (a_id, b.id.clone())
    });
    s.sweep_ok().await;
    let cloud = s.cloud().uuid.clone();
    let staff = s.app.staff_token.clone();
    let world = s.sim.with_world(|w| w.images.clone());
    let listed = staff_default(&world);
    let of = |pred: &dyn Fn(&Image) -> bool| -> BTreeSet<String> {
        world
            .iter()
            .filter(|i| listed.contains(&i.id) && pred(i))
            .map(|i| i.id.clone())
            .collect()
    };
    let ids = |query: &'static str| {
        let s = &s;
        let cloud = cloud.clone();
        let staff = staff.clone();
        async move {
            list_ids(&s.app, &cloud, &staff, query)
                .await
                .into_iter()
                .collect::<BTreeSet<String>>()
        }
    };
    let named = world
        .iter()
        .find(|i| i.id == first)
        .unwrap()
        .name
        .clone()
        .unwrap();
    let owner = world[0].owner.clone();
    let tagged = |tag: &str| {
        let tag = tag.to_string();
        move |i: &Image| i.tags.contains(&tag)
    };
    assert_eq!(ids("tag=gpu").await, of(&tagged("gpu")));
    assert_eq!(ids("tag=gpu").await.len(), 2);
    assert_eq!(
        ids("tag=gpu&tag=lts").await,
        BTreeSet::from([first.clone()])
    );
    assert_eq!(ids("protected=true").await, of(&|i| i.protected));
    assert!(ids("protected=true").await.contains(&first));
    let sized = |i: &Image, low: i64, high: i64| i.size.is_some_and(|n| (low..=high).contains(&n));
    let middle = ids("size_min=100&size_max=200").await;
    assert_eq!(middle, of(&|i| sized(i, 100, 200)));
    assert!(middle.contains(&first) && !middle.contains(&second));
    assert_eq!(ids("size_min=300").await, of(&|i| sized(i, 300, i64::MAX)));
    let by_name = list_ids(&s.app, &cloud, &staff, &format!("name={named}")).await;
    assert_eq!(
        by_name.into_iter().collect::<BTreeSet<_>>(),
        of(&|i| i.name.as_deref() == Some(named.as_str()))
    );
    let by_owner = list_ids(&s.app, &cloud, &staff, &format!("owner={owner}")).await;
    assert_eq!(
        by_owner.into_iter().collect::<BTreeSet<_>>(),
        of(&|i| i.owner == owner)
    );
    let distro = world[0]
        .properties
        .get("os_distro")
        .cloned()
        .expect("a distro");
    let by_property = list_ids(&s.app, &cloud, &staff, &format!("os_distro={distro}")).await;
    assert_eq!(
        by_property.into_iter().collect::<BTreeSet<_>>(),
        of(&|i| i.properties.get("os_distro") == Some(&distro))
    );
    assert!(ids("os_distro=no-such-distro").await.is_empty());
    let in_list = list_ids(
        &s.app,
        &cloud,
        &staff,
        &format!("id=in:{first},\"{second}\""),
    )
    .await;
    assert_eq!(
        in_list.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([first.clone(), second.clone()])
    );
    // The newest listed image's second: the filters compare whole seconds, as Glance's.
    let stamp = world
        .iter()
        .filter(|i| listed.contains(&i.id))
        .map(seconds)
        .max()
        .unwrap();
    let after = list_ids(&s.app, &cloud, &staff, &format!("created_at=gte:{stamp}")).await;
    assert_eq!(
        after.into_iter().collect::<BTreeSet<_>>(),
        of(&|i| seconds(i) >= stamp)
    );
    let before = list_ids(&s.app, &cloud, &staff, &format!("created_at=lt:{stamp}")).await;
    assert_eq!(
        before.into_iter().collect::<BTreeSet<_>>(),
        of(&|i| seconds(i) < stamp)
    );
    // Hidden images only when asked for; community ones with their visibility.
    assert_eq!(
        ids("os_hidden=true").await,
        world
            .iter()
            .filter(|i| i.os_hidden && i.visibility != "community" && listable(i))
            .map(|i| i.id.clone())
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(
        ids("visibility=community").await,
        world
            .iter()
            .filter(|i| i.visibility == "community" && !i.os_hidden && listable(i))
            .map(|i| i.id.clone())
            .collect::<BTreeSet<_>>()
    );
    // `next` keeps every filter, repeated ones included.
    let page = glance_get(&s.app, &cloud, "/v2/images?tag=gpu&tag=lts&limit=1", &staff).await;
    let next = page.json()["next"].as_str().unwrap().to_string();
    assert_eq!(
        next,
        format!("/v2/images?tag=gpu&tag=lts&limit=1&marker={first}")
    );
    s.stop().await;
}
