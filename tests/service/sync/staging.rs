//! Big listings go to the staging table in batches; the catalog changes only with a complete
//! listing, and a failed sync's stage is discarded. Tenants of one cloud sync side by side.
use std::collections::BTreeSet;

use cloudcensus_sim::{Fault, FaultKind, Target};

use crate::common::EngineOptions;
use crate::common::sim::SimApp;

/// Two projects of 1100 images and 40 servers, a staging batch of 100 records and 1200 links
/// (above one page of 1000 and below a tenant's links: records and their links go to the
/// stage in different batches), synced once.
async fn staged() -> SimApp {
    let s = SimApp::generated(2, 1100, 40)
        .engine(
            EngineOptions::fast()
                .stage_batch(100)
                .stage_links_batch(1200),
        )
        .start()
        .await;
    s.sweep_ok().await;
    s
}

/// After `staged`: upstream deletes every 7th image and renames every 5th, then a sync fails
/// after staging several batches. The catalog rows and catalogs before that sync.
async fn staged_then_failed() -> (SimApp, (u64, u64, u64), Vec<BTreeSet<String>>) {
    let s = staged().await;
    let good = s.app.count_rows().await;
    let before = s.catalogs().await;
    s.sim.with_world(|w| {
        let victims: Vec<String> = w.images.iter().step_by(7).map(|i| i.id.clone()).collect();
        w.images.retain(|i| !victims.contains(&i.id));
        for img in w.images.iter_mut().step_by(5) {
            img.name = Some(format!("renamed-{}", img.id));
        }
    });
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Status {
            code: 500,
            retry_after: None,
        })
        .after(1),
    );
    for o in s.sweep().await {
        assert!(o.result.is_err());
    }
    (s, good, before)
}

#[tokio::test]
async fn a_staged_sync_matches_glance_and_empties_the_stage() {
    let s = staged().await;
    assert_eq!(
        s.app.staged_rows().await,
        0,
        "the stage is emptied by the apply"
    );
    s.assert_catalogs_match_glance("staged first sync").await;
    s.stop().await;
}

/// Instances booted from images this very sync added are named from the stage.
#[tokio::test]
async fn instances_of_images_added_by_the_same_sync_are_named_from_the_stage() {
    let s = staged().await;
    let booted = s.app.booted_instances_image_names().await;
    assert!(!booted.is_empty() && booted.iter().all(|name| !name.is_empty()));
    s.stop().await;
}

#[tokio::test]
async fn a_sync_failing_after_staged_batches_applies_nothing() {
    let (s, good, before) = staged_then_failed().await;
    assert_eq!(
        s.app.count_rows().await,
        good,
        "a failed sync applies nothing"
    );
    assert_eq!(s.catalogs().await, before);
    assert!(
        s.app
            .get("/api/openstack-images/?name=renamed-")
            .await
            .count()
            == 0
    );
    s.stop().await;
}

#[tokio::test]
async fn the_next_staged_sync_applies_the_changes_and_then_idles() {
    let (s, _, _) = staged_then_failed().await;
    s.sim.clear_faults();
    for o in s.sweep().await {
        let r = o.result.as_ref().expect("recovers");
        assert!(
            r.counts.images_updated > 0 && r.counts.images_removed > 0,
            "{:?}",
            r.counts
        );
    }
    assert_eq!(s.app.staged_rows().await, 0);
    s.assert_catalogs_match_glance("after recovery").await;
    assert!(
        s.app
            .get("/api/openstack-images/?name=renamed-")
            .await
            .count()
            > 100
    );
    for o in s.sweep().await {
        assert!(
            o.result.as_ref().unwrap().applied.is_empty(),
            "idle re-sync writes nothing"
        );
    }
    s.stop().await;
}

/// Tenants of one cloud share images (public ones above all): their syncs, run side by side,
/// upsert the same rows. On PostgreSQL that deadlocked until one cloud's applies were
/// serialized.
#[tokio::test]
async fn tenants_sharing_images_sync_side_by_side() {
    // Staged rows are applied in key order, buffered ones in listing order: both kinds meet.
    let s = SimApp::generated(3, 3000, 2)
        .engine(EngineOptions::fast().stage_batch(1000))
        .start()
        .await;
    s.sweep_ok().await;
    // Renames of shared images, applied by every tenant that sees them.
    s.sim.with_world(|w| {
        for img in w.images.iter_mut().filter(|i| i.visibility == "public") {
            img.name = Some(format!("{}-v2", img.name.clone().unwrap_or_default()));
        }
    });
    s.sweep_ok().await;
    for t in &s.tenants {
        assert_eq!(s.app.tenant_now(t).await.state, "OK");
    }
    s.stop().await;
}
