//! Images: the catalog holds exactly what each tenant sees in Glance, mapped to Waldur's
//! fields, and follows upstream changes.
use cloudcensus_sim::World;

use crate::common::sim::SimApp;
use crate::common::{Image, assert_same_ids};

/// Three projects of 1100 images and 20 servers each, synced once.
async fn three_big_projects() -> SimApp {
    let s = SimApp::generated(3, 1100, 20).start().await;
    let outcomes = s.sweep_ok().await;
    assert_eq!(outcomes.len(), 3);
    s
}

#[tokio::test]
async fn each_tenant_holds_exactly_what_it_sees_in_glance_across_pages() {
    let s = three_big_projects().await;
    for (i, t) in s.tenants.iter().enumerate() {
        let want = s.glance_ids_of(i).await;
        assert!(
            want.len() > 1000,
            "paging must cross Glance's max limit ({} images)",
            want.len()
        );
        let got = s.app.catalog_ids(t).await;
        assert_same_ids(&got, &want, &format!("tenant {}", t.name));
        let tj = s.app.tenant_now(t).await;
        assert_eq!(tj.state, "OK");
        assert!(tj.last_sync_at.is_some() && tj.last_success_at.is_some());
    }
    s.stop().await;
}

/// min_disk GB → MiB; rescue properties.
#[tokio::test]
async fn rescue_properties_and_sizes_are_mapped_to_waldur_fields() {
    let s = three_big_projects().await;
    let world: World = s.sim.with_world(|w| w.clone());
    let rescue = world
        .images
        .iter()
        .find(|i| i.properties.contains_key("hw_rescue_device") && i.status == "active")
        .expect("a rescue image");
    let r = s
        .app
        .get(&format!(
            "/api/openstack-images/?name_exact={}&show_duplicate_names=true&page_size=300",
            rescue.name.clone().unwrap_or_default()
        ))
        .await;
    let item = r
        .items::<Image>()
        .into_iter()
        .find(|i| i.backend_id == rescue.id)
        .expect("rescue image listed");
    assert!(item.is_rescue_image);
    assert_eq!(item.hw_rescue_device, rescue.properties["hw_rescue_device"]);
    assert_eq!(item.min_disk, rescue.min_disk * 1024);
    assert_eq!(item.min_ram, rescue.min_ram);
    s.stop().await;
}

/// Null names fall back; hidden images are synced too.
#[tokio::test]
async fn nameless_and_hidden_images_are_synced() {
    let s = three_big_projects().await;
    let world: World = s.sim.with_world(|w| w.clone());
    let unnamed = world
        .images
        .iter()
        .find(|i| i.name.is_none() && i.status == "active")
        .expect("an image without a name");
    let all = s
        .app
        .get("/api/openstack-images/?show_duplicate_names=true&page_size=300&page=1")
        .await;
    assert!(all.count() > 3000);
    let row = s
        .app
        .image_row(&unnamed.id)
        .await
        .expect("unnamed image synced");
    assert!(
        !row.name.is_empty(),
        "a null name falls back to the description or id"
    );
    let hidden = world
        .images
        .iter()
        .find(|i| i.os_hidden && i.status == "active")
        .expect("a hidden image");
    assert!(
        s.app.image_row(&hidden.id).await.is_some(),
        "hidden images are synced too"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_resync_without_upstream_change_writes_nothing() {
    let s = SimApp::generated(2, 60, 10).start().await;
    s.sweep().await;
    let before = s.app.snapshot().await;
    let outcomes = s.sweep().await;
    for o in &outcomes {
        let r = o.result.as_ref().expect("second sync succeeds");
        assert!(r.applied.is_empty(), "{}: {:?}", o.tenant_name, r.applied);
        assert_eq!(
            (
                r.counts.images_added,
                r.counts.images_updated,
                r.counts.images_removed
            ),
            (0, 0, 0)
        );
        assert!(r.counts.images_seen > 0);
    }
    assert_eq!(s.app.snapshot().await, before);
    s.stop().await;
}

/// What `upstream_changes` changed: a private image of project 0 deleted, an image project 0
/// shared with project 1 unshared (if the world has one), a private image of project 1
/// renamed to "renamed-upstream".
struct Changes {
    deleted: String,
    unshared: Option<String>,
    renamed: String,
}

/// Two projects synced, then changed upstream and synced again.
async fn upstream_changes() -> (SimApp, Changes) {
    let s = SimApp::generated(2, 40, 6).start().await;
    s.sweep().await;
    let world: World = s.sim.with_world(|w| w.clone());
    let p0 = world.projects[0].id.clone();
    let p1 = world.projects[1].id.clone();
    let private_active = |owner: &str| {
        world
            .images
            .iter()
            .find(|i| {
                i.owner == owner
                    && i.visibility == "private"
                    && i.status == "active"
                    && !i.os_hidden
            })
            .unwrap()
            .id
            .clone()
    };
    let deleted = private_active(&p0);
    let renamed = private_active(&p1);
    let unshared = world
        .images
        .iter()
        .find(|i| {
            i.visibility == "shared"
                && i.owner == p0
                && i.members.iter().any(|m| m.project_id == p1)
        })
        .map(|i| i.id.clone());
    s.sim.with_world(|w| {
        w.images.retain(|i| i.id != deleted);
        if let Some(id) = &unshared {
            let img = w.images.iter_mut().find(|i| &i.id == id).unwrap();
            img.members.retain(|m| m.project_id != p1);
        }
        w.images.iter_mut().find(|i| i.id == renamed).unwrap().name =
            Some("renamed-upstream".into());
    });
    s.sweep_ok().await;
    (
        s,
        Changes {
            deleted,
            unshared,
            renamed,
        },
    )
}

#[tokio::test]
async fn after_upstream_deletes_unshares_and_renames_each_catalog_matches_glance() {
    let (s, _) = upstream_changes().await;
    s.assert_catalogs_match_glance("after upstream changes")
        .await;
    s.stop().await;
}

#[tokio::test]
async fn an_image_no_tenant_sees_leaves_the_catalog() {
    let (s, changes) = upstream_changes().await;
    assert!(
        s.app.image_row(&changes.deleted).await.is_none(),
        "an image no tenant sees leaves the catalog"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_unshared_image_stays_with_its_owner_only() {
    let (s, changes) = upstream_changes().await;
    if let Some(id) = changes.unshared {
        assert!(
            s.app.catalog_ids(&s.tenants[0]).await.contains(&id),
            "the owner still sees the unshared image"
        );
        assert!(!s.app.catalog_ids(&s.tenants[1]).await.contains(&id));
    }
    s.stop().await;
}

#[tokio::test]
async fn an_image_renamed_upstream_is_listed_under_its_new_name() {
    let (s, changes) = upstream_changes().await;
    let r = s
        .app
        .get("/api/openstack-images/?name_exact=renamed-upstream")
        .await;
    assert_eq!(r.items::<Image>()[0].backend_id, changes.renamed);
    s.stop().await;
}

/// Upstream text is untrusted: an image named with a NUL character (which PostgreSQL cannot
/// store), NUL in a property's key and value, a server named with one, a 10,000-character
/// name, right-to-left text and emoji. Every tenant still syncs, on both databases; NUL is
/// dropped, everything else kept as sent.
#[tokio::test]
async fn hostile_upstream_strings_never_stop_a_cloud() {
    let s = SimApp::generated(2, 20, 2).start().await;
    let long = "x".repeat(10_000);
    let (evil, props, server) = s.sim.with_world(|w| {
        let owner = w.projects[0].id.clone();
        let mut imgs = w.images.iter_mut().filter(|i| i.owner == owner);
        let evil = imgs.next().unwrap();
        evil.name = Some("evil\u{0}name".into());
        let evil_id = evil.id.clone();
        let props = imgs.next().unwrap();
        props.properties.insert(
            "key\u{0}x".into(),
            "value\u{0}y \u{202e}rtl\u{202c} שלום 🐧".into(),
        );
        let props_id = props.id.clone();
        imgs.next().unwrap().name = Some(long.clone());
        let server = w
            .servers
            .iter_mut()
            .find(|v| v.project_id == owner)
            .unwrap();
        server.name = "vm\u{0}1".into();
        (evil_id, props_id, server.id.clone())
    });
    s.sweep_ok().await;
    s.assert_catalogs_match_glance("hostile strings").await;
    let evil_row = s.app.image_row(&evil).await.expect("stored");
    assert_eq!(evil_row.name, "evilname");
    let props_row = s.app.image_row(&props).await.expect("stored");
    assert_eq!(
        props_row.properties["keyx"],
        "valuey \u{202e}rtl\u{202c} שלום 🐧"
    );
    let names = s
        .app
        .get("/api/openstack-images/?show_duplicate_names=true&page_size=300")
        .await
        .names();
    assert!(names.contains(&long) && names.contains(&"evilname".to_string()));
    let (_, _, instances) = s.app.count_rows().await;
    assert!(
        instances >= 4,
        "the servers are stored, {server} too: {instances}"
    );
    s.stop().await;
}

/// A lone UTF-16 surrogate escape in an upstream name (`"\ud800…"`: JSON syntax that no UTF-8
/// string holds, which serde_json refuses) is stored as U+FFFD; the page, and the tenant's
/// sync, go on.
#[tokio::test]
async fn lone_surrogates_in_upstream_json_become_replacement_characters() {
    use cloudcensus_sim::{Fault, FaultKind, Target};
    let s = SimApp::generated(1, 12, 1).start().await;
    s.sim
        .inject(Target::GlanceImages, Fault::new(FaultKind::LoneSurrogates));
    s.sweep_ok().await;
    let upstream: Vec<String> = s
        .sim
        .with_world(|w| w.images.iter().filter_map(|i| i.name.clone()).collect());
    let names = s
        .app
        .get("/api/openstack-images/?show_duplicate_names=true&page_size=300")
        .await
        .names();
    // Unnamed images are listed under a fallback the fault does not touch.
    let replaced: Vec<&String> = names.iter().filter(|n| n.starts_with('\u{fffd}')).collect();
    assert!(!replaced.is_empty(), "{names:?}");
    for name in replaced {
        assert!(
            upstream.contains(&name['\u{fffd}'.len_utf8()..].to_string()),
            "{name}"
        );
    }
    assert!(names.iter().all(|n| !upstream.contains(n)), "{names:?}");
    s.stop().await;
}

/// Entries in Glance's and Nova's lists that are no image or server (no id, `null`, a
/// number, integers sent as text) are left out; the rest of their pages is synced.
#[tokio::test]
async fn unreadable_list_entries_never_stop_a_cloud() {
    use cloudcensus_sim::{Fault, FaultKind, Target};
    let s = SimApp::generated(2, 30, 3).start().await;
    for target in [Target::GlanceImages, Target::NovaServers] {
        s.sim.inject(target, Fault::new(FaultKind::JunkEntries));
    }
    s.sweep_ok().await;
    // Compared with what Glance lists without the junk.
    s.sim.clear_faults();
    s.assert_catalogs_match_glance("junk entries").await;
    let (_, _, instances) = s.app.count_rows().await;
    assert_eq!(instances, 6, "every server, none of the junk");
    s.stop().await;
}
