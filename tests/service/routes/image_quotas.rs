//! GET `/api/image-quotas/` and `/api/openstack-tenants/{uuid}/image_usage/`: Glance's image
//! quotas as the tenants last synced them, checked against the raw `/v2/info/usage` each
//! tenant stored (`image_quota_usage` on the tenant).
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::sim::SimApp;

/// Three projects owning 12, 6 and 3 images under a limit of 12: 100 %, 50 % and 25 % of
/// their image count.
async fn three_fill_levels() -> SimApp {
    let s = SimApp::generated(3, 12, 1).start().await;
    s.sim.with_world(|w| {
        for limit in &mut w.registered_limits {
            if limit.resource_name == "image_count_total" {
                limit.default_limit = 12;
            }
        }
        let projects: Vec<String> = w.projects.iter().map(|p| p.id.clone()).collect();
        for (keep, project) in [(6, &projects[1]), (3, &projects[2])] {
            let mut kept = 0;
            w.images.retain(|i| {
                if &i.owner != project {
                    return true;
                }
                kept += 1;
                kept <= keep
            });
        }
    });
    s.sweep_ok().await;
    s
}

/// (tenant uuid, resource, limit, usage, percent) rows, from the raw stored usage.
fn expected_rows(tenants: &[Value]) -> Vec<(String, String, i64, i64, Option<f64>)> {
    let mut rows = Vec::new();
    for t in tenants {
        let usage = &t["image_quota_usage"];
        for resource in [
            "image_size_total",
            "image_count_total",
            "image_stage_total",
            "image_count_uploading",
        ] {
            let limit = usage[resource]["limit"].as_i64().unwrap();
            let used = usage[resource]["usage"].as_i64().unwrap();
            let percent =
                (limit > 0).then(|| (used as f64 * 10_000.0 / limit as f64).round() / 100.0);
            rows.push((
                t["uuid"].as_str().unwrap().to_string(),
                resource.to_string(),
                limit,
                used,
                percent,
            ));
        }
    }
    rows
}

fn rows_of(reply: &crate::common::Reply) -> Vec<(String, String, i64, i64, Option<f64>)> {
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["tenant_uuid"].as_str().unwrap().to_string(),
                r["resource"].as_str().unwrap().to_string(),
                r["limit"].as_i64().unwrap(),
                r["usage"].as_i64().unwrap(),
                r["percent"].as_f64(),
            )
        })
        .collect()
}

#[tokio::test]
async fn quotas_are_listed_fullest_first_and_filtered() {
    let s = three_fill_levels().await;
    let tenants = s.app.get("/api/openstack-tenants/").await.json();
    let tenants = tenants.as_array().unwrap();
    let expected = expected_rows(tenants);

    let all = s.app.get("/api/image-quotas/?page_size=100").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.count(), 12);
    let got = rows_of(&all);
    let key = |r: &(String, String, i64, i64, Option<f64>)| (r.0.clone(), r.1.clone());
    let mut same = got.clone();
    same.sort_by_key(key);
    let mut want = expected.clone();
    want.sort_by_key(key);
    assert_eq!(same, want, "every tenant's four resources, as stored");
    let percents: Vec<f64> = got.iter().map(|r| r.4.unwrap_or(-1.0)).collect();
    assert!(
        percents.windows(2).all(|w| w[0] >= w[1]),
        "fullest first: {percents:?}"
    );
    assert_eq!(got[0].1, "image_count_total");
    assert_eq!(got[0].4, Some(100.0));

    let count = s
        .app
        .get("/api/image-quotas/?resource=image_count_total&min_percent=50")
        .await;
    let full: Vec<Option<f64>> = rows_of(&count).iter().map(|r| r.4).collect();
    assert_eq!(full, [Some(100.0), Some(50.0)]);

    let one_cloud = format!(
        "/api/image-quotas/?settings_uuid={}&page_size=2",
        s.cloud().uuid
    );
    let paged = s.app.get(&one_cloud).await;
    assert_eq!((paged.count(), rows_of(&paged).len()), (12, 2));
    assert!(paged.link("next").is_some());
    let elsewhere = s
        .app
        .get("/api/image-quotas/?settings_uuid=00000000000000000000000000000000")
        .await;
    assert_eq!(elsewhere.count(), 0);

    for bad in [
        "resource=disk",
        "min_percent=lots",
        "min_percent=NaN",
        "settings_uuid=nope",
    ] {
        let r = s.app.get(&format!("/api/image-quotas/?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        let field = bad.split('=').next().unwrap();
        assert!(r.json().get(field).is_some(), "{bad}: {}", r.text);
    }
    s.stop().await;
}

#[tokio::test]
async fn a_scoped_token_sees_its_own_tenants_quotas() {
    let s = three_fill_levels().await;
    let token = s.app.scoped_token("quota-reader", &[&s.tenants[2]]).await;
    let rows = s.app.get_as(&token, "/api/image-quotas/").await;
    assert_eq!(rows.status, StatusCode::OK);
    let tenants: Vec<String> = rows_of(&rows).into_iter().map(|r| r.0).collect();
    assert_eq!(tenants, vec![s.tenants[2].uuid.clone(); 4]);
    let own = format!("/api/openstack-tenants/{}/image_usage/", s.tenants[2].uuid);
    assert_eq!(s.app.get_as(&token, &own).await.status, StatusCode::OK);
    let other = format!("/api/openstack-tenants/{}/image_usage/", s.tenants[0].uuid);
    assert_eq!(
        s.app.get_as(&token, &other).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.app.get_anonymous("/api/image-quotas/").await.status,
        StatusCode::UNAUTHORIZED
    );
    s.stop().await;
}

#[tokio::test]
async fn a_tenants_image_usage_is_glances_as_synced() {
    let s = three_fill_levels().await;
    let tenant = &s.tenants[1];
    let path = format!("/api/openstack-tenants/{}/image_usage/", tenant.uuid);
    let usage = s.app.get(&path).await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    let usage = usage.json();
    let stored = s
        .app
        .get(&format!("/api/openstack-tenants/{}/", tenant.uuid))
        .await
        .json();
    assert_eq!(usage["usage"], stored["image_quota_usage"]);
    assert_eq!(usage["usage"]["image_count_total"]["usage"], 6);
    assert_eq!(usage["synced_at"], stored["last_success_at"]);
    assert_eq!(usage["tenant_uuid"], stored["uuid"]);
    let unknown = s
        .app
        .get("/api/openstack-tenants/00000000000000000000000000000000/image_usage/")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

/// A cloud without `/v2/info/usage` has no quota: null usage, no rows.
#[tokio::test]
async fn a_cloud_without_quotas_has_no_rows() {
    let s = SimApp::generated(1, 4, 0).start().await;
    s.sim.with_world(|w| w.info_usage_enabled = false);
    s.sweep_ok().await;
    let path = format!("/api/openstack-tenants/{}/image_usage/", s.tenants[0].uuid);
    let usage = s.app.get(&path).await.json();
    assert_eq!(usage["usage"], Value::Null);
    assert!(usage["synced_at"].is_string());
    assert_eq!(s.app.get("/api/image-quotas/").await.count(), 0);
    s.stop().await;
}

/// A cloud's import methods and stores: the union of what its tenants saw, and the tenants
/// that saw less (here the first tenant synced while the cloud had fewer of both).
#[tokio::test]
async fn a_clouds_image_info_is_the_union_and_names_who_saw_less() {
    let s = SimApp::generated(3, 4, 0).start().await;
    s.sim.with_world(|w| {
        w.import_methods = vec!["glance-direct".into()];
        w.stores[0].description = "Local disk".into();
    });
    s.sweep_tenant_ok(0).await;
    s.sim.with_world(|w| {
        w.import_methods = vec!["glance-direct".into(), "web-download".into()];
        w.stores.push(cloudcensus_sim::Store {
            id: "ceph".into(),
            description: "Ceph RBD".into(),
            default: false,
        });
    });
    s.sweep_tenant_ok(1).await;
    s.sweep_tenant_ok(2).await;
    let path = format!("/api/service-settings/{}/image_info/", s.cloud().uuid);
    let info = s.app.get(&path).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    let info = info.json();
    assert_eq!(info["service_settings_uuid"], s.cloud().uuid.as_str());
    assert_eq!(info["tenants_reporting"], 3);
    assert_eq!(
        info["import_methods"],
        serde_json::json!(["glance-direct", "web-download"])
    );
    let stores: Vec<(&str, bool)> = info["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["default"].as_bool().unwrap()))
        .collect();
    assert_eq!(stores, [("ceph", false), ("file", true)]);
    let odd = info["disagreeing_tenants"].as_array().unwrap();
    assert_eq!(odd.len(), 1, "{info}");
    assert_eq!(odd[0]["tenant_uuid"], s.tenants[0].uuid.as_str());
    assert_eq!(
        odd[0]["import_methods"],
        serde_json::json!(["glance-direct"])
    );
    assert_eq!(odd[0]["stores"], serde_json::json!(["file"]));

    // A scoped token sees its cloud as its own tenants saw it.
    let token = s.app.scoped_token("info-reader", &[&s.tenants[0]]).await;
    let mine = s.app.get_as(&token, &path).await.json();
    assert_eq!(mine["tenants_reporting"], 1);
    assert_eq!(mine["import_methods"], serde_json::json!(["glance-direct"]));
    assert_eq!(mine["disagreeing_tenants"], serde_json::json!([]));
    let unknown = s
        .app
        .get("/api/service-settings/00000000000000000000000000000000/image_info/")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

/// Clouds without the discovery documents report nothing rather than an empty agreement.
#[tokio::test]
async fn a_cloud_without_info_documents_reports_no_tenants() {
    let s = SimApp::generated(1, 2, 0).start().await;
    s.sim.with_world(|w| {
        w.info_import_enabled = false;
        w.info_stores_enabled = false;
    });
    s.sweep_ok().await;
    let path = format!("/api/service-settings/{}/image_info/", s.cloud().uuid);
    let info = s.app.get(&path).await.json();
    assert_eq!(info["tenants_reporting"], 0);
    assert_eq!(info["import_methods"], serde_json::json!([]));
    assert_eq!(info["stores"], serde_json::json!([]));
    s.stop().await;
}
