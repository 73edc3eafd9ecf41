//! Glance's `/v2/info/*` facts for tenants synced in cloud mode: stores and import methods
//! from the admin's answers, each project's usage derived as Glance computes it (Keystone's
//! unified limits, the images it owns). Every view of them answers as in per-tenant mode,
//! where each tenant's own token read them.
use cloudcensus_sim::{Fault, FaultKind, ProjectLimit, Store, Target, World};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::sim::{SimApp, generated_world};
use crate::routes::glance::glance_call;

/// An image's status, size and extra properties.
type State = (&'static str, i64, &'static [(&'static str, &'static str)]);

/// A change to a world, and what the test calls it.
type Variant = (&'static str, fn(&mut World));

/// A generated world whose first project's images are in every state Glance's quota tells
/// apart, with two stores, a multi-store image and limits of some projects' own.
fn varied_world(seed: u64) -> World {
    let mut w = generated_world(4, 6, 1, seed);
    w.stores = vec![
        Store {
            id: "fast".into(),
            description: "Fast store".into(),
            default: true,
        },
        Store {
            id: "slow".into(),
            description: String::new(),
            default: false,
        },
    ];
    let p0 = w.projects[0].id.clone();
    let p1 = w.projects[1].id.clone();
    let mut owned = w.images.iter_mut().filter(|i| i.owner == p0);
    let mib = 1 << 20;
    let states: [State; 6] = [
        ("uploading", 5 * mib, &[]),
        ("importing", 3 * mib, &[]),
        ("saving", 2 * mib, &[]),
        ("active", 7 * mib + 1, &[("stores", "fast,slow")]),
        ("active", mib, &[("os_glance_importing_to_stores", "slow")]),
        ("killed", mib, &[]),
    ];
    for (status, size, props) in states {
        let Some(img) = owned.next() else { break };
        img.status = status.into();
        img.size = Some(size);
        for (k, v) in props {
            img.properties.insert(k.to_string(), v.to_string());
        }
    }
    w.project_limits = vec![
        ProjectLimit::new(&p0, "image_count_total", 5),
        ProjectLimit::new(&p1, "image_size_total", -1),
        // Another region's limit is not Glance's here.
        ProjectLimit {
            region_id: Some("Elsewhere".into()),
            ..ProjectLimit::new(&p1, "image_count_total", 1)
        },
    ];
    w
}

/// Everything the census answers about each tenant's Glance facts, by project id: the
/// tenant's `image_usage`, its `image-quotas` rows, and the Glance face's `/v2/info/*` (status
/// and body); plus the cloud's `image_info`.
async fn facts_seen(s: &SimApp) -> (Vec<(String, Value)>, Value) {
    let cloud = s.cloud().uuid.clone();
    let staff = s.app.staff_token.clone();
    let mut seen = Vec::new();
    for t in &s.tenants {
        let usage = s
            .app
            .get(&format!("/api/openstack-tenants/{}/image_usage/", t.uuid))
            .await
            .json();
        let rows = s
            .app
            .get(&format!(
                "/api/image-quotas/?settings_uuid={cloud}&page_size=100"
            ))
            .await
            .json();
        let rows: Vec<Value> = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["tenant_uuid"] == t.uuid.as_str())
            .map(|r| json!([r["resource"], r["limit"], r["usage"], r["percent"]]))
            .collect();
        let mut face = Vec::new();
        for path in ["/v2/info/usage", "/v2/info/stores", "/v2/info/import"] {
            let r = glance_call(
                &s.app,
                Method::GET,
                &cloud,
                path,
                Some(&staff),
                &[
                    ("X-Project-Id", &t.backend_id),
                    ("Accept", "application/json"),
                ],
            )
            .await;
            face.push(json!([r.status.as_u16(), r.json()]));
        }
        seen.push((
            t.backend_id.clone(),
            json!({"image_usage": usage["usage"], "image_quotas": rows, "glance": face}),
        ));
    }
    let mut info = s
        .app
        .get(&format!("/api/service-settings/{cloud}/image_info/"))
        .await
        .json();
    // The cloud's own uuid differs between two registrations.
    info.as_object_mut()
        .unwrap()
        .remove("service_settings_uuid");
    (seen, info)
}

/// The same simulated cloud synced per tenant and in cloud mode: every view of the facts is
/// the same, with Keystone's limits (project limits, registered defaults), with no limit
/// registered (Glance's 0) and without `use_keystone_limits` (Glance's `{}`).
#[tokio::test]
async fn cloud_mode_facts_equal_per_tenant_facts() {
    let variants: [Variant; 3] = [
        ("limits", |_| {}),
        ("nothing registered", |w| w.registered_limits.clear()),
        ("no keystone limits", |w| w.glance_keystone_limits = false),
    ];
    for (seed, (label, change)) in [3, 11, 29].into_iter().zip(variants) {
        let mut world = varied_world(seed);
        change(&mut world);
        let per_tenant = SimApp::world(world.clone()).start().await;
        let cloud = SimApp::world(world).sync_mode("cloud").start().await;
        per_tenant.sweep_ok().await;
        cloud.sweep_ok().await;
        let (want, want_info) = facts_seen(&per_tenant).await;
        let (got, got_info) = facts_seen(&cloud).await;
        assert_eq!(got, want, "{label}");
        assert_eq!(got_info, want_info, "{label}");

        // Nothing trivially equal: the first project's usage is there, as Glance counts it.
        let first = &got[0].1;
        let face_usage = &first["glance"][0];
        if label == "no keystone limits" {
            assert_eq!(face_usage, &json!([200, {"usage": {}}]), "{label}");
        } else {
            let usage = &first["image_usage"];
            assert!(
                usage["image_stage_total"]["usage"].as_i64() >= Some(9),
                "{usage}"
            );
            assert!(
                usage["image_count_uploading"]["usage"].as_i64() >= Some(4),
                "{usage}"
            );
            // The project's own limit, whatever is registered.
            assert_eq!(usage["image_count_total"]["limit"], 5, "{usage}");
            let registered = if label == "limits" { 102_400_000 } else { 0 };
            assert_eq!(usage["image_stage_total"]["limit"], registered, "{usage}");
            assert_eq!(face_usage[1]["usage"], json!(usage), "{label}");
        }
        assert_eq!(first["glance"][1][1]["stores"][0]["id"], "fast", "{label}");
        assert_eq!(got_info["tenants_reporting"], 4, "{label}: {got_info}");
        per_tenant.stop().await;
        cloud.stop().await;
    }
}

/// A change of limits alone changes the tenants' views: the next sweep applies the new
/// figures instead of taking the views for unchanged.
#[tokio::test]
async fn a_changed_limit_reaches_the_next_cloud_mode_sweep() {
    let s = SimApp::world(varied_world(5))
        .sync_mode("cloud")
        .start()
        .await;
    s.sweep_ok().await;
    let limit = |t: &crate::common::Tenant| {
        t.image_quota_usage
            .as_ref()
            .map(|u| u["image_size_total"]["limit"].clone())
    };
    let before = s.app.tenant_now(&s.tenants[2]).await;
    assert_eq!(limit(&before), Some(json!(102_400_000)));
    let unchanged = s.sweep_ok().await;
    assert!(
        unchanged
            .iter()
            .all(|o| o.result.as_ref().unwrap().unchanged)
    );

    let p2 = s.tenants[2].backend_id.clone();
    s.sim.with_world(|w| {
        w.project_limits
            .push(ProjectLimit::new(&p2, "image_size_total", 2048));
    });
    let outcomes = s.sweep_ok().await;
    let changed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.result.as_ref().unwrap().unchanged)
        .map(|o| o.tenant_name.as_str())
        .collect();
    assert_eq!(changed, [s.tenants[2].name.as_str()]);
    let after = s.app.tenant_now(&s.tenants[2]).await;
    assert_eq!(limit(&after), Some(json!(2048)));
    s.stop().await;
}

/// Keystone refusing the limits (403 without the admin role, 404 from a Keystone without
/// unified limits) costs the tenants their usage, not their sync: stores and import methods
/// are still read.
#[tokio::test]
async fn keystone_refusing_limits_leaves_usage_unknown_and_syncs_anyway() {
    for code in [403, 404] {
        let s = SimApp::world(varied_world(7))
            .sync_mode("cloud")
            .start()
            .await;
        s.sim.inject(
            Target::KeystoneLimits,
            Fault::new(FaultKind::Status {
                code,
                retry_after: None,
            }),
        );
        for o in s.sweep_ok().await {
            assert!(o.result.is_ok(), "{code}: {o:?}");
        }
        for t in &s.tenants {
            let t = s.app.tenant_now(t).await;
            assert_eq!(t.state, "OK", "{code}");
            assert_eq!(t.image_quota_usage, None, "{code}");
            assert!(t.stores.is_some() && t.import_methods.is_some(), "{code}");
            let usage = s
                .app
                .get(&format!("/api/openstack-tenants/{}/image_usage/", t.uuid))
                .await
                .json();
            assert_eq!(usage["usage"], Value::Null, "{code}");
        }
        s.stop().await;
    }
}
