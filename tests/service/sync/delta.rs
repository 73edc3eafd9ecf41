//! Delta polls (issue 12, item 4): between full sweeps, a cloud listed whole is asked only for
//! what changed since its cursor (Glance's `updated_at` filter, Nova's `changes-since`), and
//! that is applied at once; deletions of images wait for the next full sweep.
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::World;
use serde_json::json;

use crate::common::internals;
use crate::common::sim::{SimApp, generated_world};

/// An hour after the newest image change and the newest server change of the world.
fn an_hour_after_the_newest(w: &World) -> (DateTime<Utc>, DateTime<Utc>) {
    let images = w.images.iter().map(|i| i.updated_at).max().unwrap();
    let servers = w
        .servers
        .iter()
        .filter_map(|s| s.updated.or(Some(s.created)))
        .max()
        .unwrap();
    (images + Duration::hours(1), servers + Duration::hours(1))
}

#[tokio::test]
async fn delta_polls_apply_what_changed_since_the_cursor() {
    let s = SimApp::world(generated_world(3, 5, 2, 12))
        .sync_mode("cloud")
        .start()
        .await;
    assert!(
        internals::delta_poll(&s.engine).await.is_empty(),
        "no cursor before a whole-cloud listing"
    );
    s.sweep_ok().await;
    let before = s.app.portable_snapshot().await;

    // Idle: nothing written, at most five requests (login, two image passes, compute).
    let idle = internals::delta_poll(&s.engine).await;
    assert_eq!(idle.len(), 1);
    assert_eq!(idle[0].rows_written, 0, "{idle:?}");
    let requests: u64 = idle[0].requests.values().sum();
    assert!(requests <= 5, "{idle:?}");
    assert_eq!(s.app.portable_snapshot().await, before);

    // Upstream: a new public image, a renamed one, a shut-off server, a deleted server and a
    // deleted image, all after the newest change the sweep saw.
    let (new_id, renamed_id, gone_id, off_id, deleted_id) = s.sim.with_world(|w| {
        let (later, server_later) = an_hour_after_the_newest(w);
        let public: Vec<usize> = (0..w.images.len())
            .filter(|&i| w.images[i].visibility == "public" && w.images[i].status == "active")
            .collect();
        let mut fresh = w.images[public[0]].clone();
        fresh.id = "00000000-0000-4000-8000-00000000d1a7".into();
        fresh.name = Some("delta-new".into());
        fresh.updated_at = later;
        let renamed = &mut w.images[public[1]];
        renamed.name = Some("delta-renamed".into());
        renamed.updated_at = later;
        let renamed_id = renamed.id.clone();
        let gone_id = w.images[public[2]].id.clone();
        w.images.remove(public[2]);
        let new_id = fresh.id.clone();
        w.images.push(fresh);
        let off = &mut w.servers[0];
        off.status = "SHUTOFF".into();
        off.updated = Some(server_later);
        let off_id = off.id.clone();
        let deleted = &mut w.servers[1];
        deleted.status = "DELETED".into();
        deleted.terminated_at = Some(server_later);
        deleted.updated = Some(server_later);
        (new_id, renamed_id, gone_id, off_id, deleted.id.clone())
    });
    let polled = internals::delta_poll(&s.engine).await;
    // The two changes of each, and what the overlap before the cursor lists again.
    assert!(
        polled[0].images >= 2 && polled[0].servers >= 2,
        "{polled:?}"
    );
    assert!(polled[0].rows_written > 0);
    for t in &s.tenants {
        let ids = s.app.catalog_ids(t).await;
        assert!(ids.contains(&new_id), "{}: the new public image", t.name);
        assert!(
            ids.contains(&gone_id),
            "{}: deletions wait for a sweep",
            t.name
        );
    }
    let renamed = s.app.image_row(&renamed_id).await.unwrap();
    assert_eq!(renamed.name, "delta-renamed");
    assert_eq!(s.app.instance_row(&off_id).await.status.as_str(), "SHUTOFF");
    assert_eq!(
        s.app.instance_row(&deleted_id).await.status.as_str(),
        "DELETED"
    );

    // The next poll from the advanced cursor writes nothing; a full sweep removes the
    // deleted image.
    let again = internals::delta_poll(&s.engine).await;
    assert_eq!(again[0].rows_written, 0, "{again:?}");
    s.sweep_ok().await;
    for t in &s.tenants {
        assert!(!s.app.catalog_ids(t).await.contains(&gone_id));
    }
    s.assert_catalogs_match_glance("after the sweep").await;
    s.stop().await;
}

/// Clouds synced per tenant are polled tenant by tenant, each through its own login and
/// from its own cursor: at most five requests a tenant when nothing changed, and what its
/// token lists as changed applied at once.
#[tokio::test]
async fn per_tenant_clouds_are_polled_through_each_tenants_login() {
    let s = SimApp::world(generated_world(3, 5, 2, 14)).start().await;
    assert!(
        internals::delta_poll(&s.engine).await.is_empty(),
        "no cursor before a tenant's first sync"
    );
    s.sweep_ok().await;
    let before = s.app.portable_snapshot().await;
    let idle = internals::delta_poll(&s.engine).await;
    assert_eq!(idle.len(), 3, "{idle:?}");
    for outcome in &idle {
        assert!(outcome.tenant.is_some(), "{outcome:?}");
        assert_eq!(outcome.rows_written, 0, "{outcome:?}");
        let requests: u64 = outcome.requests.values().sum();
        assert!(requests <= 5, "{outcome:?}");
    }
    assert_eq!(s.app.portable_snapshot().await, before);

    // A new image private to project 0, a renamed public image, a shut-off server and a
    // deleted one.
    let owner = s.tenants[0].backend_id.clone();
    let (new_id, renamed_id, off_id, deleted_id) = s.sim.with_world(|w| {
        let (later, server_later) = an_hour_after_the_newest(w);
        let public = w
            .images
            .iter()
            .position(|i| i.visibility == "public" && i.status == "active")
            .unwrap();
        let mut fresh = w.images[public].clone();
        fresh.id = "00000000-0000-4000-8000-00000000d1a8".into();
        fresh.name = Some("mine-only".into());
        fresh.visibility = "private".into();
        fresh.owner = owner.clone();
        fresh.updated_at = later;
        let new_id = fresh.id.clone();
        w.images.push(fresh);
        let renamed = &mut w.images[public];
        renamed.name = Some("delta-renamed".into());
        renamed.updated_at = later;
        let renamed_id = renamed.id.clone();
        let off = &mut w.servers[0];
        off.status = "SHUTOFF".into();
        off.updated = Some(server_later);
        let off_id = off.id.clone();
        let deleted = &mut w.servers[1];
        deleted.status = "DELETED".into();
        deleted.terminated_at = Some(server_later);
        deleted.updated = Some(server_later);
        (new_id, renamed_id, off_id, deleted.id.clone())
    });
    let polled = internals::delta_poll(&s.engine).await;
    assert_eq!(polled.len(), 3, "{polled:?}");
    assert!(polled.iter().any(|o| o.rows_written > 0), "{polled:?}");
    for (i, t) in s.tenants.iter().enumerate() {
        let ids = s.app.catalog_ids(t).await;
        assert_eq!(
            ids.contains(&new_id),
            i == 0,
            "{}: the new private image",
            t.name
        );
        assert!(ids.contains(&renamed_id), "{}", t.name);
    }
    assert_eq!(
        s.app.image_row(&renamed_id).await.unwrap().name,
        "delta-renamed"
    );
    assert_eq!(s.app.instance_row(&off_id).await.status.as_str(), "SHUTOFF");
    assert_eq!(
        s.app.instance_row(&deleted_id).await.status.as_str(),
        "DELETED"
    );

    // The cursors moved on: the next poll writes nothing; a sweep agrees with Glance.
    for outcome in internals::delta_poll(&s.engine).await {
        assert_eq!(outcome.rows_written, 0, "{outcome:?}");
    }
    s.sweep_ok().await;
    s.assert_catalogs_match_glance("after the sweep").await;
    s.stop().await;
}

/// A cloud listed whole is polled from its own cursor, not tenant by tenant; once it is
/// listed per tenant, its tenants are.
#[tokio::test]
async fn a_cloud_is_polled_one_way_at_a_time() {
    let s = SimApp::world(generated_world(2, 3, 1, 15))
        .sync_mode("cloud")
        .start()
        .await;
    s.sweep_ok().await;
    let polled = internals::delta_poll(&s.engine).await;
    assert_eq!(polled.len(), 1, "{polled:?}");
    assert_eq!(polled[0].tenant, None);

    let path = s.app.path_of(&s.cloud().url).to_string();
    let r = s
        .app
        .patch(&path, json!({"options": {"sync_mode": "per_tenant"}}))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    s.sweep_ok().await;
    let polled = internals::delta_poll(&s.engine).await;
    assert_eq!(polled.len(), 2, "{polled:?}");
    assert!(polled.iter().all(|o| o.tenant.is_some()), "{polled:?}");
    s.stop().await;
}
