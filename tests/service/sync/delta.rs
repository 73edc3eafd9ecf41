//! Delta polls (issue 12, item 4): between full sweeps, a cloud listed whole is asked only for
//! what changed since its cursor (Glance's `updated_at` filter, Nova's `changes-since`), and
//! that is applied at once; deletions of images wait for the next full sweep.
use chrono::Duration;

use crate::common::internals;
use crate::common::sim::{SimApp, generated_world};

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
        let later = w.images.iter().map(|i| i.updated_at).max().unwrap() + Duration::hours(1);
        let server_later = w
            .servers
            .iter()
            .filter_map(|s| s.updated.or(Some(s.created)))
            .max()
            .unwrap()
            + Duration::hours(1);
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
    assert_eq!(s.app.instance_row(&off_id).await.status, "SHUTOFF");
    assert_eq!(s.app.instance_row(&deleted_id).await.status, "DELETED");

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

/// Per-tenant clouds are not polled: their listings are per tenant.
#[tokio::test]
async fn per_tenant_clouds_are_not_polled() {
    let s = SimApp::world(generated_world(2, 3, 1, 12)).start().await;
    s.sweep_ok().await;
    assert!(internals::delta_poll(&s.engine).await.is_empty());
    s.stop().await;
}
