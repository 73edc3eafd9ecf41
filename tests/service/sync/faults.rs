//! Faults: a failed sync changes nothing and makes the tenant ERRED with a readable message;
//! transient faults and Glance's paging quirks are absorbed.
use std::collections::BTreeSet;
use std::time::Duration;

use cloudcensus_sim::{Fault, FaultKind, Target};

use crate::common::assert_same_ids;
use crate::common::sim::SimApp;

/// One project of 1100 images after a good sync, then 30 images removed upstream so that a
/// half-applied sync would show; the catalog rows and the tenant's ids before the removal.
async fn synced_then_changed() -> (SimApp, (u64, u64, u64), BTreeSet<String>) {
    let s = SimApp::generated(1, 1100, 5).start().await;
    s.sweep().await;
    let good = s.app.count_rows().await;
    let ids_before = s.app.catalog_ids(&s.tenants[0]).await;
    s.sim.with_world(|w| {
        let victims: Vec<String> = w.images.iter().take(30).map(|i| i.id.clone()).collect();
        w.images.retain(|i| !victims.contains(&i.id));
    });
    (s, good, ids_before)
}

fn status(code: u16, retry_after: Option<u64>) -> FaultKind {
    FaultKind::Status { code, retry_after }
}

/// Faults that no retry overcomes, each on the call it breaks.
fn failing_faults() -> Vec<(&'static str, Target, Fault)> {
    vec![
        (
            "500 on the second page",
            Target::GlanceImages,
            Fault::new(status(500, None)).after(1),
        ),
        (
            "503 forever",
            Target::GlanceImages,
            Fault::new(status(503, Some(0))),
        ),
        (
            "connection reset",
            Target::GlanceImages,
            Fault::new(FaultKind::ResetConnection).after(1),
        ),
        (
            "malformed JSON",
            Target::GlanceImages,
            Fault::new(FaultKind::MalformedJson).after(1),
        ),
        (
            "next loop",
            Target::GlanceImages,
            Fault::new(FaultKind::NextLoop),
        ),
        (
            "timeout",
            Target::GlanceImages,
            Fault::new(FaultKind::Delay(Duration::from_secs(3))).after(1),
        ),
        (
            "429 forever",
            Target::GlanceImages,
            Fault::new(status(429, Some(0))),
        ),
        (
            "glance 401 even after re-auth",
            Target::GlanceImages,
            Fault::new(status(401, None)).after(1),
        ),
        (
            "nova 500",
            Target::NovaServers,
            Fault::new(status(500, None)),
        ),
        (
            "keystone 401",
            Target::KeystoneAuth,
            Fault::new(status(401, None)),
        ),
        (
            "glance info 500",
            Target::GlanceInfo,
            Fault::new(status(500, None)),
        ),
    ]
}

/// Each fault, injected after a good sync, fails the sync, leaves the catalog as it was and
/// the tenant ERRED with a message that names no secret.
#[tokio::test]
async fn each_fault_fails_the_sync_and_leaves_the_previous_catalog_intact() {
    let (s, good, ids_before) = synced_then_changed().await;
    for (label, target, fault) in failing_faults() {
        s.sim.clear_faults();
        s.sim.inject(target, fault);
        let outcomes = s.sweep().await;
        assert!(outcomes[0].result.is_err(), "{label}: the sync must fail");
        assert_eq!(
            s.app.count_rows().await,
            good,
            "{label}: catalog rows changed"
        );
        assert_eq!(
            s.app.catalog_ids(&s.tenants[0]).await,
            ids_before,
            "{label}: visible images changed"
        );
        let t = s.app.tenant_now(&s.tenants[0]).await;
        assert_eq!(t.state, "ERRED", "{label}");
        let msg = &t.error_message;
        assert!(
            !msg.is_empty() && !msg.contains("admin-password"),
            "{label}: {msg}"
        );
    }
    s.stop().await;
}

/// Clearing the fault brings the tenant back to OK, with the upstream change applied.
#[tokio::test]
async fn the_tenant_is_ok_again_once_the_fault_is_gone() {
    let (s, _, ids_before) = synced_then_changed().await;
    s.sim
        .inject(Target::GlanceImages, Fault::new(status(500, None)).after(1));
    assert!(s.sweep().await[0].result.is_err());
    s.sim.clear_faults();
    let outcomes = s.sweep().await;
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    let t = s.app.tenant_now(&s.tenants[0]).await;
    assert_eq!((t.state.as_str(), t.error_message.as_str()), ("OK", ""));
    assert_eq!(
        s.app.catalog_ids(&s.tenants[0]).await.len(),
        ids_before.len() - 30
    );
    s.stop().await;
}

/// Faults a sync absorbs: retried errors and Glance's paging quirks.
fn transient_faults() -> Vec<(&'static str, Target, Fault)> {
    vec![
        (
            "503 with Retry-After",
            Target::GlanceImages,
            Fault::new(status(503, Some(1))).times(1),
        ),
        (
            "429",
            Target::NovaServers,
            Fault::new(status(429, Some(0))).times(2),
        ),
        (
            "one reset",
            Target::GlanceImages,
            Fault::new(FaultKind::ResetConnection).after(1).times(1),
        ),
        (
            "duplicate ids",
            Target::GlanceImages,
            Fault::new(FaultKind::DuplicateIds),
        ),
        // Glance's answer when the marker image was deleted while we paged: restart the pass.
        (
            "vanished marker",
            Target::GlanceImages,
            Fault::new(status(400, None)).after(1).times(1),
        ),
        (
            "short pages",
            Target::GlanceImages,
            Fault::new(FaultKind::ShortPages(150)),
        ),
    ]
}

/// Each transient fault is retried (or its quirk absorbed) and the sync still lists exactly
/// what Glance shows.
#[tokio::test]
async fn transient_faults_are_retried_and_paging_quirks_are_absorbed() {
    let s = SimApp::generated(1, 1100, 5).start().await;
    let want = s.glance_ids_of(0).await;
    for (label, target, fault) in transient_faults() {
        s.sim.clear_faults();
        s.sim.inject(target, fault);
        let outcomes = s.sweep().await;
        assert!(
            outcomes[0].result.is_ok(),
            "{label}: {:?}",
            outcomes[0].result
        );
        assert_same_ids(&s.app.catalog_ids(&s.tenants[0]).await, &want, label);
    }
    s.stop().await;
}

#[tokio::test]
async fn a_token_expiring_mid_paging_is_renewed() {
    let s = SimApp::generated(1, 1100, 5).start().await;
    let want = s.glance_ids_of(0).await;
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::ExpireTokenAfter(1)),
    );
    let before_auth = s.sim.requests(Target::KeystoneAuth);
    let outcomes = s.sweep().await;
    let label = "token expiry mid-paging";
    assert!(
        outcomes[0].result.is_ok(),
        "{label}: {:?}",
        outcomes[0].result
    );
    assert_same_ids(&s.app.catalog_ids(&s.tenants[0]).await, &want, label);
    assert!(
        s.sim.requests(Target::KeystoneAuth) >= before_auth + 2,
        "re-authenticated mid-paging"
    );
    s.stop().await;
}
