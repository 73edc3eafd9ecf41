//! A failed sync says what kind of failure it was: each fault the simulator can inject gives
//! the tenant and its run a stable `error_kind` beside the sentence in `error_message`, and a
//! success clears it.
use std::time::Duration;

use cloudcensus_sim::{Fault, FaultKind, Target};
use serde_json::json;

use super::leases_and_pulls::{pulling, sweep_stopped_by_shutdown, wait_for_runs};
use crate::common::SyncRun;
use crate::common::sim::SimApp;

/// One project, synced per tenant with the cloud's credentials.
async fn one_tenant() -> SimApp {
    SimApp::generated(1, 30, 2).start().await
}

/// Syncs once, which must fail; the tenant's and its newest run's kind and message.
async fn failed_kind(s: &SimApp) -> (String, String) {
    let outcomes = s.sweep().await;
    assert!(outcomes[0].result.is_err(), "{:?}", outcomes[0].result);
    let tenant = s.app.tenant_now(&s.tenants[0]).await;
    assert_eq!(tenant.state, "ERRED");
    let runs: Vec<SyncRun> = s
        .app
        .get(&format!(
            "/api/sync-runs/?tenant_uuid={}",
            s.tenants[0].uuid
        ))
        .await
        .items();
    assert_eq!(runs[0].outcome, "failed");
    assert_eq!(
        runs[0].error_kind, tenant.error_kind,
        "run and tenant agree"
    );
    assert_eq!(runs[0].error_message, tenant.error_message);
    let kind = tenant.error_kind.expect("an ERRED tenant has a kind");
    (kind, tenant.error_message)
}

/// A fault on one upstream call, each with the kind it must be recorded as.
#[tokio::test]
async fn injected_upstream_faults_are_recorded_with_their_kind() {
    let s = one_tenant().await;
    let cases = [
        (
            "500 forever",
            Target::GlanceImages,
            FaultKind::Status {
                code: 500,
                retry_after: None,
            },
            "upstream_status",
            "Glance answered HTTP 500",
        ),
        (
            "malformed JSON",
            Target::GlanceImages,
            FaultKind::MalformedJson,
            "malformed",
            "Glance sent a malformed response",
        ),
        (
            "a next link back to a page already read",
            Target::GlanceImages,
            FaultKind::NextLoop,
            "malformed",
            "the next link points to a page already read",
        ),
        (
            "no Nova answer at all",
            Target::NovaServers,
            FaultKind::ResetConnection,
            "unreachable",
            "cannot reach Nova",
        ),
    ];
    for (label, target, fault, kind, says) in cases {
        s.sim.clear_faults();
        s.sim.inject(target, Fault::new(fault));
        let (got, message) = failed_kind(&s).await;
        assert_eq!(got, kind, "{label}: {message}");
        assert!(message.contains(says), "{label}: {message}");
    }
    s.sim.clear_faults();
    s.sweep_ok().await;
    let tenant = s.app.tenant_now(&s.tenants[0]).await;
    assert_eq!((tenant.state.as_str(), tenant.error_kind), ("OK", None));
    s.stop().await;
}

/// A changed password is `authentication`, and the message says whose credentials, which
/// user and which project.
#[tokio::test]
async fn a_wrong_password_is_an_authentication_failure_naming_whose_credentials() {
    let s = one_tenant().await;
    s.sim.with_world(|w| {
        for u in w.users.iter_mut().filter(|u| u.name == "admin") {
            u.password = "changed".into();
        }
    });
    let (kind, message) = failed_kind(&s).await;
    assert_eq!(kind, "authentication", "{message}");
    let project = &s.tenants[0].backend_id;
    for part in [
        "Keystone authentication failed with the cloud's credentials",
        "user \"admin\"",
        &format!("project id \"{project}\""),
        "401",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert!(!message.contains("changed") && !message.contains("admin-password"));
    s.stop().await;
}

/// A region the catalog has no image endpoint in is `endpoint_missing`, and the message
/// names the regions it does have.
#[tokio::test]
async fn a_region_without_an_image_endpoint_is_endpoint_missing() {
    let s = one_tenant().await;
    let region = s.sim.with_world(|w| w.region.clone());
    let r = s
        .app
        .patch(
            s.app.path_of(&s.cloud().url),
            json!({"options": {"region": "Elsewhere"}}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let (kind, message) = failed_kind(&s).await;
    assert_eq!(kind, "endpoint_missing", "{message}");
    assert!(
        message.contains("no image endpoint") && message.contains("\"Elsewhere\""),
        "{message}"
    );
    assert!(
        message.contains(&format!("it has one in {region}")),
        "{message}"
    );
    s.stop().await;
}

/// Speaking TLS to a server that does not is `tls`; nothing listening is `unreachable`.
#[tokio::test]
async fn tls_and_connection_failures_have_kinds_of_their_own() {
    let s = one_tenant().await;
    let plain = s.sim.auth_url();
    for (auth_url, kind) in [
        (plain.replacen("http://", "https://", 1), "tls"),
        ("http://127.0.0.1:9/v3".to_string(), "unreachable"),
    ] {
        let r = s
            .app
            .patch(
                s.app.path_of(&s.cloud().url),
                json!({"options": {"auth_url": auth_url}}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        let (got, message) = failed_kind(&s).await;
        assert_eq!(got, kind, "{auth_url}: {message}");
    }
    s.stop().await;
}

/// In cloud mode a failed listing fails every tenant it would have served, each with the
/// listing's own kind.
#[tokio::test]
async fn a_failed_cloud_listing_gives_every_tenant_its_kind() {
    let s = SimApp::generated(3, 20, 1).sync_mode("cloud").start().await;
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::MalformedJson).after(1),
    );
    let outcomes = s.sweep().await;
    assert_eq!(outcomes.len(), 3);
    for t in &s.tenants {
        let t = s.app.tenant_now(t).await;
        assert_eq!(t.state, "ERRED");
        assert_eq!(
            t.error_kind.as_deref(),
            Some("malformed"),
            "{}",
            t.error_message
        );
        assert!(
            t.error_message
                .starts_with("cloud listing: Glance sent a malformed response"),
            "{}",
            t.error_message
        );
    }
    s.stop().await;
}

/// A sync stopped by shutdown is `cancelled` on its run and leaves the tenant OK without a
/// kind; a run whose process died is closed as `lease_lost`.
#[tokio::test]
async fn stops_and_lost_claims_have_kinds_on_the_run_only() {
    let (s, outcomes) = sweep_stopped_by_shutdown().await;
    assert_eq!(outcomes.len(), 1);
    let runs = wait_for_runs(&s.app, &s.tenants[0], 1).await;
    assert_eq!(
        (runs[0].outcome.as_str(), runs[0].error_kind.as_deref()),
        ("aborted", Some("cancelled"))
    );
    let t = s.app.tenant_now(&s.tenants[0]).await;
    assert_eq!((t.state.as_str(), t.error_kind), ("OK", None));
    s.stop().await;

    let s = pulling().await;
    let t = &s.tenants[0];
    s.app
        .leave_dead_claim(t, "a-dead-process", Duration::from_millis(300))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = s.app.pull(&t.uuid).await;
    assert!(r.status.is_success(), "{}", r.text);
    let runs = wait_for_runs(&s.app, t, 2).await;
    assert_eq!(
        (runs[1].outcome.as_str(), runs[1].error_kind.as_deref()),
        ("interrupted", Some("lease_lost"))
    );
    assert_eq!(runs[0].error_kind, None, "the pull succeeded");
    s.stop().await;
}
