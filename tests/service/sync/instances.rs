//! Instances: they feed `usage_stats`; vanished ones are kept as deleted.
use crate::common::UsageStat;
use crate::common::sim::{SimApp, generated_world};

/// One project whose first named private image runs as srv-0 and srv-1 (ACTIVE) and srv-2
/// (SHUTOFF); srv-volume boots from a volume. Synced once; the image's name.
async fn three_instances_of_one_image() -> (SimApp, String) {
    let mut world = generated_world(1, 5, 0, 1);
    let img = world
        .images
        .iter()
        .find(|i| i.status == "active" && i.name.is_some() && i.visibility == "private")
        .unwrap()
        .clone();
    let project = world.projects[0].id.clone();
    for (n, status) in ["ACTIVE", "ACTIVE", "SHUTOFF"].iter().enumerate() {
        world.servers.push(cloudcensus_sim::Server {
            id: format!("srv-{n}"),
            name: format!("vm-{n}"),
            project_id: project.clone(),
            image_id: Some(img.id.clone()),
            status: status.to_string(),
            created: chrono::Utc::now(),
            ..Default::default()
        });
    }
    world.servers.push(cloudcensus_sim::Server {
        id: "srv-volume".into(),
        name: "boot-from-volume".into(),
        project_id: project.clone(),
        image_id: None,
        status: "ACTIVE".into(),
        created: chrono::Utc::now(),
        ..Default::default()
    });
    let s = SimApp::world(world).start().await;
    s.sweep().await;
    (s, img.name.unwrap())
}

async fn usage_of(s: &SimApp, name: &str) -> (i64, i64) {
    let row = s
        .app
        .get("/api/openstack-images/usage_stats/?page_size=300")
        .await
        .items::<UsageStat>()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap();
    (row.running_instances_count, row.created_instances_count)
}

#[tokio::test]
async fn instances_count_as_running_and_created_in_usage_stats() {
    let (s, name) = three_instances_of_one_image().await;
    assert_eq!(usage_of(&s, &name).await, (2, 3));
    s.stop().await;
}

#[tokio::test]
async fn a_vanished_instance_is_kept_as_deleted() {
    let (s, name) = three_instances_of_one_image().await;
    s.sim.with_world(|w| w.servers.retain(|v| v.id != "srv-0"));
    s.sweep().await;
    assert_eq!(usage_of(&s, &name).await, (1, 3));
    s.stop().await;
}

#[tokio::test]
async fn an_instance_booted_from_a_volume_has_no_image() {
    let (s, _) = three_instances_of_one_image().await;
    assert_eq!(s.app.instance_image_backend_id("srv-volume").await, None);
    s.stop().await;
}

/// A server with a flavor, lifecycle times and attached volumes, in a world whose Nova offers
/// `max` as its highest microversion and may lack the version document.
async fn one_sized_server(max: &str, version_document: bool) -> SimApp {
    let mut world = generated_world(1, 2, 0, 5);
    world.nova_max_microversion = max.into();
    world.nova_version_document = version_document;
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    world.servers.push(cloudcensus_sim::Server {
        id: "srv-sized".into(),
        name: "big".into(),
        project_id: world.projects[0].id.clone(),
        image_id: None,
        status: "DELETED".into(),
        created: t("2026-11-01T08:00:00Z"),
        flavor: cloudcensus_sim::Flavor {
            id: "f-42".into(),
            name: "m1.xlarge".into(),
            vcpus: 8,
            ram: 16384,
            disk: 160,
            ephemeral: 20,
        },
        launched_at: Some(t("2026-11-01T08:00:30.123456Z")),
        terminated_at: Some(t("2026-11-20T17:45:00.5Z")),
        updated: Some(t("2026-11-20T17:45:01Z")),
        volumes_attached: vec!["vol-root".into(), "vol-data".into()],
        ..Default::default()
    });
    let s = SimApp::world(world).start().await;
    s.sweep_ok().await;
    s
}

/// Nova 2.47+ embeds the flavor with its size: kept with the launch and termination times
/// (microseconds, no offset on the wire), `updated`, the VM state and the attached volumes.
#[tokio::test]
async fn servers_keep_flavor_size_lifecycle_times_and_volumes() {
    let s = one_sized_server("2.96", true).await;
    let row = s.app.instance_row("srv-sized").await;
    assert_eq!(row.flavor_name, "m1.xlarge");
    assert_eq!(
        (row.vcpus, row.ram_mib, row.disk_gib, row.ephemeral_gib),
        (Some(8), Some(16384), Some(160), Some(20))
    );
    assert_eq!(
        row.launched_at.unwrap().to_rfc3339(),
        "2026-11-01T08:00:30.123456+00:00"
    );
    assert_eq!(
        row.terminated_at.unwrap().to_rfc3339(),
        "2026-11-20T17:45:00.500+00:00"
    );
    assert_eq!(
        row.upstream_updated_at.unwrap().to_rfc3339(),
        "2026-11-20T17:45:01+00:00"
    );
    assert_eq!(row.vm_state, "deleted");
    assert_eq!(
        row.attached_volumes,
        serde_json::json!(["vol-root", "vol-data"])
    );
    let before = s.app.snapshot().await;
    for o in s.sweep().await {
        let r = o.result.as_ref().expect("the re-sync succeeds");
        assert!(
            r.applied.is_empty(),
            "an idle re-sync writes nothing: {:?}",
            r.applied
        );
    }
    assert_eq!(s.app.snapshot().await, before);
    s.stop().await;
}

/// A cloud older than 2.47 is asked for its highest microversion and shows only the
/// flavor's id: the name is that id and the size stays unknown.
#[tokio::test]
async fn an_older_nova_gives_the_flavor_id_and_no_size() {
    let s = one_sized_server("2.25", true).await;
    let row = s.app.instance_row("srv-sized").await;
    assert_eq!(row.flavor_name, "f-42");
    assert_eq!((row.vcpus, row.ram_mib, row.disk_gib), (None, None, None));
    assert!(row.launched_at.is_some());
    s.stop().await;
}

/// Without a version document 2.47 is tried; the cloud's 406 makes the listing go on without
/// a microversion, and the sync succeeds.
#[tokio::test]
async fn a_refused_microversion_falls_back_to_none() {
    let s = one_sized_server("2.25", false).await;
    let row = s.app.instance_row("srv-sized").await;
    assert_eq!(row.flavor_name, "f-42");
    assert_eq!(row.vcpus, None);
    s.stop().await;
}

/// `group_by=tenant` gives, for each tenant, exactly the rows that tenant's own scoped token
/// gets by name; `group_by=settings` for the cloud exactly the rows filtered to that cloud.
/// HEAD counts them; an unknown `group_by` is 400 naming it.
#[tokio::test]
async fn usage_stats_group_by_tenant_or_settings_splits_the_default_rows() {
    let s = SimApp::generated(3, 12, 8).start().await;
    s.sweep_ok().await;
    let rows = |r: crate::common::Reply| -> Vec<serde_json::Value> {
        r.json().as_array().unwrap().clone()
    };
    let grouped = rows(
        s.app
            .get("/api/openstack-images/usage_stats/?group_by=tenant&page_size=300")
            .await,
    );
    assert!(
        grouped
            .iter()
            .any(|r| r["running_instances_count"].as_i64() > Some(0))
    );
    for tenant in &s.tenants {
        let token = s
            .app
            .scoped_token(&format!("t-{}", tenant.name), &[tenant])
            .await;
        let own: Vec<serde_json::Value> = rows(
            s.app
                .get_as(&token, "/api/openstack-images/usage_stats/?page_size=300")
                .await,
        );
        let mut mine: Vec<serde_json::Value> = grouped
            .iter()
            .filter(|r| r["tenant_uuid"] == tenant.uuid.as_str())
            .cloned()
            .collect();
        for r in &mut mine {
            assert_eq!(r["tenant_name"], tenant.name.as_str());
            let o = r.as_object_mut().unwrap();
            o.remove("tenant_uuid");
            o.remove("tenant_name");
        }
        assert_eq!(mine, own, "{}", tenant.name);
        // The scoped token grouping by tenant sees its own rows only.
        let scoped = rows(
            s.app
                .get_as(
                    &token,
                    "/api/openstack-images/usage_stats/?group_by=tenant&page_size=300",
                )
                .await,
        );
        assert!(
            scoped
                .iter()
                .all(|r| r["tenant_uuid"] == tenant.uuid.as_str())
        );
    }
    let cloud = s.cloud();
    let by_cloud = rows(
        s.app
            .get("/api/openstack-images/usage_stats/?group_by=settings&page_size=300")
            .await,
    );
    let plain = rows(
        s.app
            .get(&format!(
                "/api/openstack-images/usage_stats/?service_provider={}&page_size=300",
                cloud.uuid
            ))
            .await,
    );
    let stripped: Vec<serde_json::Value> = by_cloud
        .iter()
        .map(|r| {
            assert_eq!(r["settings_uuid"], cloud.uuid.as_str());
            let mut r = r.clone();
            let o = r.as_object_mut().unwrap();
            o.remove("settings_uuid");
            o.remove("settings_name");
            r
        })
        .collect();
    assert_eq!(stripped, plain);
    let head = s
        .app
        .call(
            reqwest::Method::HEAD,
            "/api/openstack-images/usage_stats/?group_by=tenant",
            Some(&s.app.staff_token),
            None,
        )
        .await;
    assert_eq!(
        head.header("x-result-count"),
        Some(grouped.len().to_string())
    );
    let bad = s
        .app
        .get("/api/openstack-images/usage_stats/?group_by=colour")
        .await;
    assert_eq!(bad.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(bad.json()["group_by"].is_array());
    s.stop().await;
}
