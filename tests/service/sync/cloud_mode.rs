//! Cloud mode (issue 12): one admin listing per cloud and sweep, each tenant's view derived
//! with Glance's rules, applied per tenant as before.
use serde_json::{Value, json};

use crate::common::sim::{SimApp, generated_world};

/// The requests the cloud's last sweep made, by service, and its mode.
async fn last_sweep(s: &SimApp) -> Value {
    let cloud = s.app.get(s.app.path_of(&s.cloud().url)).await.json();
    cloud["last_sweep"].clone()
}

/// For generated worlds (shared images with pending, accepted and rejected members,
/// community, hidden and unnamed images, servers, boot volumes), the catalog after a
/// cloud-mode sweep is the catalog after per-tenant sweeps, row for row.
#[tokio::test]
async fn a_cloud_mode_sweep_equals_per_tenant_sweeps() {
    for seed in [1, 2, 3, 11, 29] {
        let world = generated_world(6, 12, 3, seed);
        let per_tenant = SimApp::world(world.clone()).start().await;
        let cloud = SimApp::world(world).sync_mode("cloud").start().await;
        per_tenant.sweep_ok().await;
        cloud.sweep_ok().await;
        let (want, got) = (
            per_tenant.app.portable_snapshot().await,
            cloud.app.portable_snapshot().await,
        );
        assert!(
            !want.links.is_empty(),
            "seed {seed}: an empty catalog proves nothing"
        );
        assert_eq!(want, got, "seed {seed}");
        cloud
            .assert_catalogs_match_glance(&format!("seed {seed}"))
            .await;

        // The record of each sweep: one login and far fewer image requests in cloud mode.
        let (a, b) = (last_sweep(&per_tenant).await, last_sweep(&cloud).await);
        assert_eq!(a["mode"], "per_tenant");
        assert_eq!(b["mode"], "cloud");
        assert_eq!(b["tenants"], 6);
        // One login, and Glance's registered and project limits for the tenants' usage.
        assert_eq!(b["requests"]["identity"], 3, "{b}");
        assert_eq!(a["requests"]["identity"], 6, "{a}");
        let images = |r: &Value| r["requests"]["image"].as_u64().unwrap();
        assert!(images(&b) < images(&a), "{a} vs {b}");

        // An idle cloud-mode sweep writes nothing.
        let before = cloud.app.portable_snapshot().await;
        for o in cloud.sweep_ok().await {
            let applied = o.result.unwrap().applied;
            assert_eq!(applied.rows_written(), 0, "{}: {applied:?}", o.tenant_name);
        }
        assert_eq!(cloud.app.portable_snapshot().await, before);
        per_tenant.stop().await;
        cloud.stop().await;
    }
}

/// `auto` lists the whole cloud with admin credentials, and falls back to per-tenant
/// listings without the admin role; `cloud` without it fails each tenant's run, saying why.
#[tokio::test]
async fn auto_picks_cloud_mode_by_the_admin_role() {
    let s = SimApp::world(generated_world(3, 5, 2, 5))
        .sync_mode("auto")
        .start()
        .await;
    s.sweep_ok().await;
    assert_eq!(last_sweep(&s).await["mode"], "cloud");

    // The cloud's credentials become those of a member of one project only.
    let path = s.app.path_of(&s.cloud().url).to_string();
    let r = s
        .app
        .patch(
            &path,
            json!({"username": "user-0", "password": "password-0"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    for o in s.sweep().await {
        // Per tenant, with user-0's credentials: its own project syncs, the others fail.
        assert_eq!(
            o.result.is_ok(),
            o.tenant_name == s.tenants[0].name,
            "{o:?}"
        );
    }
    assert_eq!(last_sweep(&s).await["mode"], "per_tenant");

    let r = s
        .app
        .patch(&path, json!({"options": {"sync_mode": "cloud"}}))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let outcomes = s.sweep().await;
    assert_eq!(outcomes.len(), 3);
    for o in outcomes {
        let err = o.result.unwrap_err().to_string();
        assert!(err.contains("admin role"), "{err}");
    }
    let r = s
        .app
        .patch(&path, json!({"options": {"sync_mode": "sometimes"}}))
        .await;
    assert_eq!(r.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(r.json()["sync_mode"].is_array(), "{}", r.text);
    s.stop().await;
}

/// `auto` records why it took its mode; when the cloud's own login fails the cloud is ERRED
/// saying whose login (never the secret), its tenants still sync with their own credentials,
/// and the next sweep that logs in clears it.
#[tokio::test]
async fn auto_records_why_and_a_failed_own_login_errs_the_cloud_until_it_works() {
    let s = SimApp::world(generated_world(2, 3, 1, 8))
        .unregistered()
        .start()
        .await;
    let r = s
        .app
        .post(
            "/api/service-settings/",
            json!({"name": "sim", "options": {"auth_url": s.sim.auth_url(), "sync_mode": "auto"},
                   "username": "admin", "password": "admin-password"}),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.text);
    let path = s.app.path_of(r.json()["url"].as_str().unwrap()).to_string();
    let projects = s.sim.with_world(|w| w.projects.clone());
    for (i, p) in projects.iter().enumerate() {
        let r = s
            .app
            .post(
                "/api/openstack-tenants/",
                json!({"name": p.name, "backend_id": p.id, "service_settings": s.app.url(&path),
                       "user_username": format!("user-{i}"), "user_password": format!("password-{i}")}),
            )
            .await;
        assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.text);
    }
    let why = |c: &Value| {
        (
            c["last_sweep"]["mode"].as_str().unwrap().to_string(),
            c["last_sweep"]["mode_reason"].as_str().unwrap().to_string(),
        )
    };
    s.sweep_ok().await;
    let c = s.app.get(&path).await.json();
    assert_eq!(why(&c), ("cloud".into(), "admin_role".into()), "{c}");
    assert_eq!(
        (&c["state"], &c["error_message"]),
        (&json!("OK"), &json!(""))
    );

    let r = s
        .app
        .patch(&path, json!({"password": "Wr0ng-admin-pw"}))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    // Per tenant, each with its own credentials: every tenant syncs.
    assert_eq!(s.sweep_ok().await.len(), 2);
    let c = s.app.get(&path).await.json();
    assert_eq!(why(&c), ("per_tenant".into(), "login_failed".into()), "{c}");
    assert_eq!(c["state"], "ERRED", "{c}");
    let message = c["error_message"].as_str().unwrap();
    assert!(
        message.starts_with("the cloud's own login failed (its tenants sync per tenant meanwhile): Keystone authentication failed with the cloud's credentials (user \"admin\" in domain \"default\", project id"),
        "{message}"
    );
    assert!(
        c["last_sweep"]["mode_detail"]
            .as_str()
            .unwrap()
            .contains("user \"admin\""),
        "{c}"
    );
    assert!(!c.to_string().contains("Wr0ng-admin-pw"), "{c}");

    // Credentials without the admin role are no error: per tenant, and OK.
    let r = s
        .app
        .patch(
            &path,
            json!({"username": "user-0", "password": "password-0"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    s.sweep_ok().await;
    let c = s.app.get(&path).await.json();
    assert_eq!(
        why(&c),
        ("per_tenant".into(), "no_admin_role".into()),
        "{c}"
    );
    assert_eq!(
        (&c["state"], &c["error_message"]),
        (&json!("OK"), &json!(""))
    );

    // The wrong password again, then the right one: back to cloud mode, and OK.
    let r = s
        .app
        .patch(
            &path,
            json!({"username": "admin", "password": "Wr0ng-admin-pw"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    s.sweep_ok().await;
    assert_eq!(s.app.get(&path).await.json()["state"], "ERRED");
    let r = s
        .app
        .patch(&path, json!({"password": "admin-password"}))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    s.sweep_ok().await;
    let c = s.app.get(&path).await.json();
    assert_eq!(why(&c), ("cloud".into(), "admin_role".into()), "{c}");
    assert_eq!(
        (&c["state"], &c["error_message"]),
        (&json!("OK"), &json!(""))
    );
    s.stop().await;
}

/// A per-tenant cloud records that its `sync_mode` chose.
#[tokio::test]
async fn per_tenant_mode_is_recorded_as_asked_for() {
    let s = SimApp::generated(1, 2, 1).start().await;
    s.sweep_ok().await;
    let sweep = last_sweep(&s).await;
    assert_eq!(
        (&sweep["mode"], &sweep["mode_reason"]),
        (&json!("per_tenant"), &json!("sync_mode"))
    );
    s.stop().await;
}
