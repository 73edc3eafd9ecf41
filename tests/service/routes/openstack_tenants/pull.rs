//! POST `/api/openstack-tenants/{uuid}/pull/` on a server whose engine is never scheduled
//! (syncs against the simulator: see `sync::leases_and_pulls`).
use reqwest::StatusCode;

use super::alpha;
use crate::common::Detail;

#[tokio::test]
async fn pull_answers_202_and_starts_a_sync() {
    let app = alpha().await;
    let t1 = app.tenant("Alpha");
    let pull = app.pull(&t1.uuid).await;
    assert_eq!(pull.status, StatusCode::ACCEPTED, "{}", pull.text);
    pull.parse::<Detail>();
    // The sync records its run as it starts (it then fails: the cloud is not reachable).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.sync_runs_of(t1).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no sync run after pull/"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn pull_of_an_unknown_tenant_is_404() {
    let app = alpha().await;
    let pull_missing = app.pull(&uuid::Uuid::new_v4().simple().to_string()).await;
    assert_eq!(pull_missing.status, StatusCode::NOT_FOUND);
    app.stop().await;
}
