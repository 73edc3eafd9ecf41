//! The catalog against the real Keystone and Glance, one behaviour per case: everything a
//! tenant may see in Glance and nothing else ends up in the catalog (for a tenant with its own
//! password, one logged in with the cloud's admin credentials, and one with an application
//! credential); fields are mapped; upstream changes follow; credential and project failures
//! make only the affected tenants ERRED; Glance's quota usage is carried over.
use reqwest::Method;
use serde_json::json;

use crate::common::{EngineOptions, assert_same_ids, internals};
use crate::fixture::{
    BULK, Scenario, connect, let_revocation_settle, outcome, register_region_cloud,
    register_tenant, run_tag,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn each_tenant_sees_exactly_what_its_user_lists_in_glance() {
    let (s, img) = Scenario::synced().await;
    let ids_a = s
        .assert_matches_glance(&s.t_a, &s.tok_a, "first sync")
        .await;
    let ids_b = s
        .assert_matches_glance(&s.t_b, &s.tok_b, "first sync")
        .await;
    for (id, what) in [
        (&img.public, "a public image"),
        (&img.public_hidden, "a hidden public image"),
        (&img.rescue, "the rescue image"),
        (&img.a_community, "a community image"),
        (&img.shared["accepted"], "an accepted shared image"),
        (
            &img.shared["pending"],
            "a pending shared image (member_status=all)",
        ),
        (
            &img.shared["rejected"],
            "a rejected shared image (member_status=all)",
        ),
        (
            &img.admin_shared_b,
            "an image the admin project shared with tenant-b",
        ),
        (&img.b_private, "its own private image"),
        (&img.b_shared_a, "its own shared image"),
    ] {
        assert!(ids_b.contains(id), "tenant-b sees {what} ({id})");
    }
    for (id, what) in [
        (&img.a_private, "tenant-a's private image"),
        (&img.a_hidden, "tenant-a's hidden image"),
        (
            &img.a_default,
            "tenant-a's image of default visibility (shared, no members)",
        ),
        (&img.admin_private, "the admin project's private image"),
    ] {
        assert!(!ids_b.contains(id), "tenant-b must not see {what} ({id})");
    }
    for id in [
        &img.a_private,
        &img.a_hidden,
        &img.a_default,
        &img.b_shared_a,
        &img.a_unnamed,
    ] {
        assert!(ids_a.contains(id), "tenant-a sees {id}");
    }
    assert!(!ids_a.contains(&img.admin_private) && !ids_a.contains(&img.b_private));
    s.stop().await;
}

/// Cloud mode against the real services: one admin listing of the whole Keystone and Glance
/// (every project's images, each shared image's members) gives each tenant exactly what its
/// own user lists, as the per-tenant listings do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn a_cloud_mode_sweep_gives_each_tenant_what_its_user_lists() {
    let (s, img) = Scenario::synced().await;
    let app = crate::common::TestApp::new().await;
    // The admin holds the admin role on project b: the cloud's credentials are scoped there.
    let cloud: crate::common::ServiceSettings = app
        .post(
            "/api/service-settings/",
            json!({"name": "real-openstack-cloud-mode",
                   "options": {"auth_url": s.os.keystone, "sync_mode": "cloud"},
                   "username": "admin", "password": s.os.admin_password, "project_id": s.b.id}),
        )
        .await
        .parse();
    let t_a = register_tenant(&app, &cloud, &s.a, "tenant-a (cloud mode)", json!({})).await;
    let t_b = register_tenant(&app, &cloud, &s.b, "tenant-b (cloud mode)", json!({})).await;
    let engine = app.new_engine(EngineOptions::real_openstack());
    let outcomes = internals::sweep(&engine).await;
    assert_eq!(outcomes.len(), 2);
    for o in &outcomes {
        assert!(o.result.is_ok(), "{}: {:?}", o.tenant_name, o.result);
    }
    for (tenant, token, per_tenant) in [(&t_a, &s.tok_a, &s.t_a), (&t_b, &s.tok_b, &s.t_b)] {
        let want = s.os.glance_ids(token).await;
        let got = app.catalog_ids(tenant).await;
        assert_same_ids(&got, &want, &format!("cloud mode: {}", tenant.name));
        assert_same_ids(&got, &s.app.catalog_ids(per_tenant).await, "as per tenant");
    }
    let cloud_path = app.path_of(&cloud.url).to_string();
    let last_sweep = || async { app.get(&cloud_path).await.json()["last_sweep"].clone() };
    let sweep = last_sweep().await;
    assert_eq!(sweep["mode"], "cloud", "{sweep}");
    // One login, and Glance's registered and project limits.
    assert_eq!(sweep["requests"]["identity"], 3, "{sweep}");
    assert_eq!(sweep["unchanged"], 0, "{sweep}");
    // Each tenant's Glance facts are what the real Glance tells its own token: usage derived
    // from Keystone's unified limits and the images the project owns, stores and import
    // methods from the admin's answers.
    for (tenant, token) in [(&t_a, &s.tok_a), (&t_b, &s.tok_b)] {
        let got = app.tenant_now(tenant).await;
        assert_eq!(
            got.image_quota_usage,
            Some(s.os.usage(token).await),
            "cloud mode: {}",
            tenant.name
        );
        let own =
            s.os.glance_call(token, Method::GET, "/v2/info/import", None)
                .await;
        assert_eq!(
            got.import_methods.as_ref(),
            Some(&own.body["import-methods"])
        );
        assert_eq!(got.stores, None, "not a multi-store Glance");
    }

    // Nothing changed in Glance: both views are the ones their syncs applied, so neither is
    // compared with the catalog.
    for o in internals::sweep(&engine).await {
        let summary = o.result.expect("idle sweep");
        assert!(summary.unchanged, "{}", o.tenant_name);
    }
    assert_eq!(last_sweep().await["unchanged"], 2);

    // Delta polls against the real Glance: an idle poll writes nothing; a new image of
    // tenant-a and a renamed public image are applied at once.
    let idle = internals::delta_poll(&engine).await;
    assert_eq!(idle.len(), 1, "{idle:?}");
    assert_eq!(idle[0].rows_written, 0, "{idle:?}");
    let fresh =
        s.os.create_image(&s.tok_a, json!({"name": s.name("delta-new")}))
            .await;
    s.os.patch_image(
        &s.adm,
        &img.public,
        json!([{"op": "replace", "path": "/name", "value": s.name("delta-renamed")}]),
    )
    .await;
    let polled = internals::delta_poll(&engine).await;
    assert!(polled[0].rows_written > 0, "{polled:?}");
    assert!(app.catalog_ids(&t_a).await.contains(&fresh));
    for (tenant, token) in [(&t_a, &s.tok_a), (&t_b, &s.tok_b)] {
        let want = s.os.glance_ids(token).await;
        assert_same_ids(
            &app.catalog_ids(tenant).await,
            &want,
            "after the delta poll",
        );
    }
    let names = app.get("/api/openstack-images/?page_size=300").await.json();
    assert!(
        names
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == s.name("delta-renamed")),
        "the rename is applied"
    );

    // The rows the poll wrote make the next sweep compare both views again; then they idle.
    internals::sweep(&engine).await;
    assert_eq!(last_sweep().await["unchanged"], 0);
    internals::sweep(&engine).await;
    assert_eq!(last_sweep().await["unchanged"], 2);

    // The scenario's own cloud is synced per tenant: its tenants are polled through their
    // own logins, each from its own cursor.
    let own = internals::delta_poll(&s.engine).await;
    assert_eq!(own.len(), 3, "{own:?}");
    assert!(own.iter().all(|o| o.tenant.is_some()), "{own:?}");
    for (tenant, token) in [(&s.t_a, &s.tok_a), (&s.t_b, &s.tok_b)] {
        assert_same_ids(
            &s.app.catalog_ids(tenant).await,
            &s.os.glance_ids(token).await,
            "after a per-tenant delta poll",
        );
    }
    // Idle: a login, the compute version document and listing, the two image passes, and,
    // while the overlap still lists a shared image of another project, the two listings of
    // pending and rejected memberships.
    for o in internals::delta_poll(&s.engine).await {
        assert_eq!(o.rows_written, 0, "{o:?}");
        assert!(o.requests.values().sum::<u64>() <= 7, "{o:?}");
    }
    app.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn an_application_credential_tenant_sees_what_its_user_sees() {
    let (s, _) = Scenario::synced().await;
    let ids_b = s
        .assert_matches_glance(&s.t_b, &s.tok_b, "first sync")
        .await;
    let ids_b_app = s
        .assert_matches_glance(&s.t_b_app, &s.tok_b, "first sync")
        .await;
    assert_eq!(ids_b, ids_b_app, "both tenant-b credentials see the same");
    assert_same_ids(
        &s.app.cloud_ids(&s.cloud_app).await,
        &ids_b_app,
        "settings_uuid of the application-credential cloud",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn more_than_1000_images_are_read_across_glance_pages() {
    let (s, bulk) = Scenario::with_bulk().await;
    s.sweep_ok("first sync").await;
    let ids_a = s
        .assert_matches_glance(&s.t_a, &s.tok_a, "first sync")
        .await;
    let ids_b = s
        .assert_matches_glance(&s.t_b, &s.tok_b, "first sync")
        .await;
    assert!(ids_a.len() > 1000, "tenant-a spans pages: {}", ids_a.len());
    assert!(
        ids_a.contains(&bulk.images[BULK - 1]),
        "tenant-a sees {}",
        bulk.images[BULK - 1]
    );
    assert!(
        !ids_b.contains(&bulk.images[0]),
        "tenant-b must not see tenant-a's bulk images ({})",
        bulk.images[0]
    );
    s.stop().await;
}

/// An image deleted upstream from a listing of more than one page leaves the catalog (the
/// case adds and deletes an image of its own: the bulk images are shared).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn an_image_deleted_from_a_multi_page_listing_leaves_the_catalog() {
    let (s, _) = Scenario::with_bulk().await;
    let extra =
        s.os.create_image(
            &s.tok_a,
            json!({"name": s.name("bulk-extra"), "visibility": "private"}),
        )
        .await;
    s.sweep_ok("first sync").await;
    assert!(s.app.image_row_in(&s.cloud, &extra).await.is_some());
    s.os.delete_image(&s.tok_a, &extra).await;
    let outcomes = s.sweep_ok("sync after the delete").await;
    let removed = outcome(&outcomes, &s.t_a)
        .result
        .as_ref()
        .unwrap()
        .counts
        .images_removed;
    assert_eq!(removed, 1, "tenant-a: the deleted image");
    assert!(s.app.image_row_in(&s.cloud, &extra).await.is_none());
    s.assert_matches_glance(&s.t_a, &s.tok_a, "after the delete")
        .await;
    s.stop().await;
}

/// By cloud: the union of its tenants' catalogs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn the_cloud_filter_lists_the_union_of_its_tenants_images() {
    let (s, _) = Scenario::synced().await;
    let mut union = s
        .assert_matches_glance(&s.t_a, &s.tok_a, "first sync")
        .await;
    union.extend(
        s.assert_matches_glance(&s.t_b, &s.tok_b, "first sync")
            .await,
    );
    assert_same_ids(
        &s.app.cloud_ids(&s.cloud).await,
        &union,
        "settings_uuid of the cloud",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn min_disk_is_converted_from_gb_to_mib_and_min_ram_kept() {
    let (s, img) = Scenario::synced().await;
    let item = s.catalog_item(&s.name("rescue"), &img.rescue).await;
    assert_eq!(item.min_disk, 3 * 1024, "min_disk GB → MiB: {item:?}");
    assert_eq!(item.min_ram, 512);
    let item = s.catalog_item(&s.name("a-props"), &img.a_props).await;
    assert_eq!((item.min_disk, item.min_ram), (20 * 1024, 2048));
    let row = s.app.image_row_in(&s.cloud, &img.public).await.unwrap();
    assert_eq!(
        (row.min_disk, row.min_ram, row.hw_rescue_device.as_str()),
        (0, 0, "")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn rescue_and_extra_properties_are_mapped() {
    let (s, img) = Scenario::synced().await;
    let item = s.catalog_item(&s.name("rescue"), &img.rescue).await;
    assert_eq!(item.hw_rescue_device, "cdrom");
    assert_eq!(item.hw_rescue_bus, "ide");
    assert!(item.is_rescue_image);
    let row = s
        .app
        .image_row_in(&s.cloud, &img.rescue)
        .await
        .expect("rescue row");
    assert_eq!(
        row.properties,
        json!({"os_distro": "ubuntu"}),
        "extra properties"
    );
    assert_eq!(row.status, "queued");
    assert_eq!(row.visibility, "public");
    assert_eq!(row.disk_format.as_deref(), Some("raw"));
    assert_eq!(row.container_format.as_deref(), Some("bare"));
    assert!(row.has_backend_dates);
    let item = s.catalog_item(&s.name("a-props"), &img.a_props).await;
    assert_eq!(item.hw_rescue_device, "disk");
    assert!(item.is_rescue_image);
    let row = s.app.image_row_in(&s.cloud, &img.a_props).await.unwrap();
    assert_eq!(row.properties, json!({"os_distro": "debian"}));
    let row = s.app.image_row_in(&s.cloud, &img.public).await.unwrap();
    assert_eq!(
        row.properties,
        json!({}),
        "a plain image has no extra properties"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn a_nameless_image_is_named_by_its_description_or_id() {
    let (s, img) = Scenario::synced().await;
    let row = s.app.image_row_in(&s.cloud, &img.a_unnamed).await.unwrap();
    assert_eq!(
        row.name, img.a_unnamed,
        "a null name without description falls back to the id"
    );
    let row = s
        .app
        .image_row_in(&s.cloud, &img.a_described)
        .await
        .unwrap();
    assert_eq!(row.name, "Described, but nameless");
    s.stop().await;
}

/// Upstream deletes, unshares and renames, and a changed min_disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn upstream_deletes_unshares_and_renames_follow() {
    let (s, img) = Scenario::synced().await;
    s.os.delete_image(&s.tok_a, &img.a_private).await;
    s.os.delete_image(&s.tok_a, &img.a_private_2).await;
    s.os.remove_member(&s.tok_a, &img.shared["accepted"], &s.b)
        .await;
    s.os.patch_image(
        &s.tok_b,
        &img.b_private,
        json!([{"op": "replace", "path": "/name", "value": s.name("b-renamed")}]),
    )
    .await;
    s.os.patch_image(
        &s.adm,
        &img.rescue,
        json!([{"op": "replace", "path": "/min_disk", "value": 5}]),
    )
    .await;
    let outcomes = s.sweep_ok("sync after upstream changes").await;
    let removed = |t| {
        outcome(&outcomes, t)
            .result
            .as_ref()
            .unwrap()
            .counts
            .images_removed
    };
    assert_eq!(removed(&s.t_a), 2, "tenant-a: two deleted private images");
    assert_eq!(removed(&s.t_b), 1, "tenant-b: the unshared image");
    assert_eq!(
        removed(&s.t_b_app),
        1,
        "tenant-b (application credential): the unshared image"
    );
    let ids_a = s
        .assert_matches_glance(&s.t_a, &s.tok_a, "after changes")
        .await;
    let ids_b = s
        .assert_matches_glance(&s.t_b, &s.tok_b, "after changes")
        .await;
    s.assert_matches_glance(&s.t_b_app, &s.tok_b, "after changes")
        .await;
    assert!(
        ids_a.contains(&img.shared["accepted"]),
        "the owner keeps the unshared image"
    );
    assert!(!ids_b.contains(&img.shared["accepted"]));
    assert!(
        s.app.image_row_in(&s.cloud, &img.a_private).await.is_none(),
        "a deleted image leaves the catalog"
    );
    assert!(
        s.app
            .image_row_in(&s.cloud, &img.a_private_2)
            .await
            .is_none()
    );
    let item = s.catalog_item(&s.name("b-renamed"), &img.b_private).await;
    assert_eq!(item.backend_id, img.b_private);
    let item = s.catalog_item(&s.name("rescue"), &img.rescue).await;
    assert_eq!(item.min_disk, 5 * 1024);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn a_sync_without_upstream_change_writes_nothing() {
    let (s, _) = Scenario::synced().await;
    let outcomes = s.sweep_ok("sync without upstream change").await;
    for o in &outcomes {
        let r = o.result.as_ref().unwrap();
        assert!(
            r.applied.is_empty(),
            "{} wrote {:?} with nothing changed upstream",
            o.tenant_name,
            r.applied
        );
        assert_eq!(
            (
                r.counts.images_added,
                r.counts.images_updated,
                r.counts.images_removed
            ),
            (0, 0, 0),
            "{}",
            o.tenant_name
        );
    }
    s.stop().await;
}

/// A changed password makes tenant-a ERRED with a readable message and no password in it;
/// the others keep syncing, its catalog stays, and restoring the password brings back OK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn a_changed_password_makes_only_its_tenant_erred_until_restored() {
    let (s, _) = Scenario::synced().await;
    let ids_a = s.app.catalog_ids(&s.t_a).await;
    let new_password = format!("changed-{}", uuid::Uuid::new_v4().simple());
    s.os.set_password(&s.user_a, &new_password).await;
    let_revocation_settle().await;
    let outcomes = s.sweep().await;
    assert!(
        outcome(&outcomes, &s.t_a).result.is_err(),
        "tenant-a with a stale password"
    );
    assert!(
        outcome(&outcomes, &s.t_b).result.is_ok() && outcome(&outcomes, &s.t_b_app).result.is_ok()
    );
    let ta = s.app.tenant_now(&s.t_a).await;
    assert_eq!(ta.state, "ERRED");
    let message = ta.error_message;
    eprintln!("    tenant-a with a changed password: {message:?}");
    assert!(
        message.contains("Keystone") && message.contains("401"),
        "readable: {message}"
    );
    for secret in [&s.user_a.password, &new_password] {
        assert!(
            !message.contains(secret.as_str()),
            "no password in {message}"
        );
    }
    assert_eq!(
        s.app.catalog_ids(&s.t_a).await,
        ids_a,
        "an ERRED tenant keeps its catalog"
    );
    assert_eq!(s.app.tenant_now(&s.t_b).await.state, "OK");

    s.os.set_password(&s.user_a, &s.user_a.password).await;
    let_revocation_settle().await;
    s.sweep_ok("password restored").await;
    let ta = s.app.tenant_now(&s.t_a).await;
    assert_eq!((ta.state.as_str(), ta.error_message.as_str()), ("OK", ""));
    s.stop().await;
}

/// A disabled project makes both tenant-b tenants ERRED (no secret in the message), keeps
/// their catalogs, leaves tenant-a alone; enabling it again brings back OK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn a_disabled_project_makes_its_tenants_erred_until_enabled_again() {
    let (s, _) = Scenario::synced().await;
    let ids_b = s.app.catalog_ids(&s.t_b).await;
    s.os.set_project_enabled(&s.b, false).await;
    let_revocation_settle().await;
    let outcomes = s.sweep().await;
    assert!(
        outcome(&outcomes, &s.t_a).result.is_ok(),
        "tenant-a is not affected"
    );
    for t in [&s.t_b, &s.t_b_app] {
        assert!(
            outcome(&outcomes, t).result.is_err(),
            "{} with its project disabled",
            t.name
        );
        let tj = s.app.tenant_now(t).await;
        assert_eq!(tj.state, "ERRED");
        let message = &tj.error_message;
        eprintln!("    {} with its project disabled: {message:?}", t.name);
        assert!(message.contains("Keystone"), "readable: {message}");
        assert!(
            !message.contains(s.app_secret.as_str())
                && !message.contains(s.os.admin_password.as_str())
        );
        assert_eq!(
            s.app.catalog_ids(t).await,
            ids_b,
            "an ERRED tenant keeps its catalog"
        );
    }
    assert_eq!(s.app.tenant_now(&s.t_a).await.state, "OK");
    s.os.set_project_enabled(&s.b, true).await;
    let_revocation_settle().await;
    s.sweep_ok("project enabled again").await;
    for t in [&s.t_a, &s.t_b, &s.t_b_app] {
        assert_eq!(s.app.tenant_now(t).await.state, "OK", "{}", t.name);
    }
    s.stop().await;
}

/// Glance's quota usage (Keystone unified limits) as each tenant sees it; tenant-a owns the
/// bulk images, tenant-b two images.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn glance_quota_usage_is_carried_over_per_tenant() {
    let (s, _) = Scenario::with_bulk().await;
    for (n, visibility) in [("b-private", "private"), ("b-shared-a", "shared")] {
        s.os.create_image(
            &s.tok_b,
            json!({"name": s.name(n), "visibility": visibility}),
        )
        .await;
    }
    s.sweep_ok("first sync").await;
    let tok_a = s.os.login(&s.user_a, &s.a).await;
    let tok_b = s.os.login(&s.user_b, &s.b).await;
    for (t, token, owned) in [
        (&s.t_a, &tok_a, None),
        (&s.t_b, &tok_b, Some(2)),
        (&s.t_b_app, &tok_b, Some(2)),
    ] {
        let want = s.os.usage(token).await;
        let tj = s.app.tenant_now(t).await;
        let usage = tj.image_quota_usage.clone().unwrap_or_default();
        assert_eq!(usage, want, "{}: image_quota_usage", t.name);
        // The two quota views say what Glance said.
        let view = s
            .app
            .get(&format!("/api/openstack-tenants/{}/image_usage/", t.uuid))
            .await
            .json();
        assert_eq!(view["usage"], want, "{}: image_usage", t.name);
        let rows = s.app.get("/api/image-quotas/?page_size=300").await.json();
        let rows: Vec<&serde_json::Value> = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["tenant_uuid"] == t.uuid.as_str())
            .collect();
        assert_eq!(rows.len(), 4, "{}: {rows:?}", t.name);
        for r in rows {
            let resource = r["resource"].as_str().unwrap();
            assert_eq!(
                r["limit"], want[resource]["limit"],
                "{}: {resource}",
                t.name
            );
            assert_eq!(
                r["usage"], want[resource]["usage"],
                "{}: {resource}",
                t.name
            );
        }
        assert_eq!(usage["image_count_total"]["limit"], 100000);
        if let Some(n) = owned {
            assert_eq!(usage["image_count_total"]["usage"], n, "{}", t.name);
        }
        assert!(
            tj.stores.is_none(),
            "no multi-store Glance: {:?}",
            tj.stores
        );
        assert!(
            tj.import_methods
                .as_ref()
                .and_then(|m| m["value"].as_array())
                .is_some_and(|m| m.iter().any(|v| v == "glance-direct")),
            "import methods: {:?}",
            tj.import_methods
        );
    }
    let count_a = s
        .app
        .tenant_now(&s.t_a)
        .await
        .image_quota_usage
        .and_then(|u| u["image_count_total"]["usage"].as_u64())
        .unwrap();
    assert!(count_a > 1000, "tenant-a's image count: {count_a}");
    // The cloud's import methods as Glance offers them; no stores (not a multi-store Glance).
    let offered =
        s.os.glance_call(&tok_a, Method::GET, "/v2/info/import", None)
            .await;
    let mut offered: Vec<String> = offered.body["import-methods"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    offered.sort();
    let info = s
        .app
        .get(&format!(
            "/api/service-settings/{}/image_info/",
            s.cloud.uuid
        ))
        .await
        .json();
    assert_eq!(info["import_methods"], json!(offered), "{info}");
    assert_eq!(info["stores"], json!([]), "{info}");
    assert_eq!(info["tenants_reporting"], 2, "{info}");
    assert_eq!(info["disagreeing_tenants"], json!([]), "{info}");
    s.stop().await;
}

/// A cloud (here: a region) whose catalog has Glance but no Nova: an image census does not
/// need Nova, so the images sync, the tenant is OK and says compute was unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn an_image_only_region_syncs_its_images_and_says_compute_is_missing() {
    let os = connect().await;
    let tag = run_tag();
    let region = format!("ImageOnly-{tag}");
    os.ks(
        Method::POST,
        "/regions",
        Some(json!({"region": {"id": region}})),
    )
    .await;
    let services = os.ks(Method::GET, "/services?type=image", None).await;
    let image_service = services["services"][0]["id"].as_str().unwrap().to_string();
    for interface in ["public", "internal", "admin"] {
        os.ks(
            Method::POST,
            "/endpoints",
            Some(
                json!({"endpoint": {"service_id": image_service, "interface": interface,
                "url": os.glance, "region_id": region, "enabled": true}}),
            ),
        )
        .await;
    }
    let c = os.create_project(&format!("tenant-c-{tag}")).await;
    let user_c = os.create_member(&format!("user-c-{tag}"), &c).await;
    let tok_c = os.login(&user_c, &c).await;
    let private = os
        .create_image(
            &tok_c,
            json!({"name": format!("c-private-{tag}"), "visibility": "private"}),
        )
        .await;

    let app = crate::common::TestApp::new().await;
    let cloud = register_region_cloud(&app, &os, "image-only-region", &region).await;
    let t_c = register_tenant(
        &app,
        &cloud,
        &c,
        "tenant-c",
        json!({"user_username": user_c.name, "user_password": user_c.password}),
    )
    .await;
    let engine = app.new_engine(EngineOptions::real_openstack());
    let outcomes = internals::sweep(&engine).await;
    let tj = app.tenant_now(&t_c).await;
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    assert_eq!(tj.state, "OK", "{}", tj.error_message);
    assert_eq!(tj.unavailable_services, ["compute"]);
    assert!(app.catalog_ids(&t_c).await.contains(&private));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real Keystone and Glance: cargo test --test conformance -- --ignored --test-threads=1"]
async fn the_image_detail_is_what_glance_shows() {
    let (s, img) = Scenario::synced().await;
    // Tags and the protected flag, set in Glance itself after the first sync.
    s.os.patch_image(
        &s.tok_a,
        &img.a_props,
        json!([
            {"op": "add", "path": "/tags", "value": ["golden", "lts"]},
            {"op": "add", "path": "/os_version", "value": "12"},
        ]),
    )
    .await;
    s.sweep_ok("after tagging").await;
    for (label, id) in [
        ("rescue", &img.rescue),
        ("a-props", &img.a_props),
        ("a-private", &img.a_private),
    ] {
        let glance =
            s.os.glance_call(&s.tok_a, Method::GET, &format!("/v2/images/{id}"), None)
                .await;
        assert_eq!(glance.status, reqwest::StatusCode::OK, "{label}");
        let g = &glance.body;
        let name = g["name"].as_str().unwrap();
        let item = s.catalog_item(name, id).await;
        assert_eq!(item.status, g["status"].as_str().unwrap(), "{label}");
        assert_eq!(
            item.visibility,
            g["visibility"].as_str().unwrap(),
            "{label}"
        );
        assert_eq!(item.owner.as_deref(), g["owner"].as_str(), "{label}");
        assert_eq!(item.size, g["size"].as_i64(), "{label}");
        assert_eq!(item.checksum.as_deref(), g["checksum"].as_str(), "{label}");
        assert_eq!(
            item.os_hash_algo.as_deref(),
            g["os_hash_algo"].as_str(),
            "{label}"
        );
        assert_eq!(
            item.disk_format.as_deref(),
            g["disk_format"].as_str(),
            "{label}"
        );
        assert_eq!(
            item.container_format.as_deref(),
            g["container_format"].as_str(),
            "{label}"
        );
        assert_eq!(item.protected, g["protected"].as_bool().unwrap(), "{label}");
        assert_eq!(item.os_hidden, g["os_hidden"].as_bool().unwrap(), "{label}");
        let tags: Vec<&str> = g["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let mut listed = item.tags.clone();
        listed.sort();
        let mut want: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        want.sort();
        assert_eq!(listed, want, "{label}: tags (Glance keeps no order)");
        assert_eq!(
            item.os_distro.as_deref(),
            g["os_distro"].as_str(),
            "{label}"
        );
        assert_eq!(
            item.os_version.as_deref(),
            g["os_version"].as_str(),
            "{label}"
        );
        let updated =
            chrono::DateTime::parse_from_rfc3339(g["updated_at"].as_str().unwrap()).unwrap();
        let ours = chrono::DateTime::parse_from_rfc3339(
            item.backend_updated_at.as_deref().expect("updated_at"),
        )
        .unwrap();
        assert_eq!(ours, updated, "{label}: updated_at");
    }
    let props = s.catalog_item(&s.name("a-props"), &img.a_props).await;
    assert_eq!(props.os_version.as_deref(), Some("12"));
    assert!(!props.tags.is_empty());
    s.stop().await;
}
