//! Boot-from-volume servers count for the image their boot volume was made from; clouds
//! without Cinder or without Nova still sync, and say which service they lacked.
use cloudcensus_sim::{Server, Volume, VolumeAttachment, World};

use crate::common::sim::{SimApp, generated_world};
use crate::common::{SyncRun, Tenant, UsageStat};

/// One project; its first named private image (`name`) boots `vm-image`; `vm-volume` boots
/// from volume `root` made from that image (on /dev/vda, a data volume beside it);
/// `vm-gone` from a volume whose image Glance no longer has ("gone-image"); `vm-two` has
/// two bootable volumes, neither on the root device; `vm-bare` no volume at all.
fn world_with_volumes() -> (World, String) {
    let mut world = generated_world(1, 5, 0, 3);
    let image = world
        .images
        .iter()
        .find(|i| i.status == "active" && i.name.is_some() && i.visibility == "private")
        .expect("a named private image")
        .clone();
    let project = world.projects[0].id.clone();
    let server = |id: &str, image_id: Option<String>| Server {
        id: id.into(),
        name: id.into(),
        project_id: project.clone(),
        image_id,
        status: "ACTIVE".into(),
        created: chrono::Utc::now(),
        ..Default::default()
    };
    let volume = |id: &str, bootable: bool, image: Option<(&str, &str)>, on: (&str, &str)| Volume {
        id: id.into(),
        project_id: project.clone(),
        name: id.into(),
        size: 20,
        status: "in-use".into(),
        bootable,
        image_id: image.map(|(id, _)| id.to_string()),
        image_name: image.map(|(_, name)| name.to_string()),
        attachments: vec![VolumeAttachment {
            server_id: on.0.into(),
            device: Some(on.1.into()),
        }],
    };
    let name = image.name.clone().expect("named");
    world.servers.extend([
        server("vm-image", Some(image.id.clone())),
        server("vm-volume", None),
        server("vm-gone", None),
        server("vm-two", None),
        server("vm-bare", None),
    ]);
    world.volumes.extend([
        volume("data", false, None, ("vm-volume", "/dev/vdb")),
        volume(
            "root",
            true,
            Some((&image.id, &name)),
            ("vm-volume", "/dev/vda"),
        ),
        volume(
            "gone",
            true,
            Some(("deleted-image-id", "gone-image")),
            ("vm-gone", "/dev/vda"),
        ),
        volume(
            "two-a",
            true,
            Some((&image.id, &name)),
            ("vm-two", "/dev/vdb"),
        ),
        volume(
            "two-b",
            true,
            Some((&image.id, &name)),
            ("vm-two", "/dev/vdc"),
        ),
    ]);
    (world, name)
}

async fn running_of(s: &SimApp, name: &str) -> i64 {
    s.app
        .get("/api/openstack-images/usage_stats/?page_size=300")
        .await
        .items::<UsageStat>()
        .into_iter()
        .find(|r| r.name == name)
        .map_or(0, |r| r.running_instances_count)
}

async fn tenant_and_last_run(s: &SimApp) -> (Tenant, SyncRun) {
    let tenant: Tenant = s
        .app
        .get(&format!("/api/openstack-tenants/{}/", s.tenants[0].uuid))
        .await
        .parse();
    let runs = s
        .app
        .get(&format!(
            "/api/sync-runs/?tenant_uuid={}",
            s.tenants[0].uuid
        ))
        .await
        .items::<SyncRun>();
    (tenant, runs.into_iter().next().expect("a run"))
}

#[tokio::test]
async fn boot_from_volume_servers_count_for_their_boot_volumes_image() {
    let (world, name) = world_with_volumes();
    let s = SimApp::world(world).start().await;
    s.sweep_ok().await;
    assert_eq!(running_of(&s, &name).await, 2, "vm-image and vm-volume");
    let row = s.app.instance_row("vm-volume").await;
    assert_eq!(row.image_name, name);
    assert_eq!(row.boot_volume_id.as_deref(), Some("root"));
    // The image is gone from Glance: the name the volume recorded keeps its usage.
    let row = s.app.instance_row("vm-gone").await;
    assert_eq!(
        (row.image_backend_id.as_deref(), row.image_name.as_str()),
        (Some("deleted-image-id"), "gone-image")
    );
    for unattributed in ["vm-two", "vm-bare"] {
        let row = s.app.instance_row(unattributed).await;
        assert_eq!((row.image_name.as_str(), row.boot_volume_id), ("", None));
    }
    let (tenant, run) = tenant_and_last_run(&s).await;
    assert!(tenant.unavailable_services.is_empty());
    assert!(run.unavailable_services.is_empty());
    // Nothing changed upstream: the re-sync writes nothing.
    for o in s.sweep().await {
        let r = o.result.as_ref().expect("the re-sync succeeds");
        assert!(r.applied.is_empty(), "{:?}", r.applied);
    }
    s.stop().await;
}

#[tokio::test]
async fn a_cloud_without_cinder_syncs_and_says_so() {
    let (mut world, name) = world_with_volumes();
    world.volume_enabled = false;
    let s = SimApp::world(world).start().await;
    s.sweep_ok().await;
    assert_eq!(running_of(&s, &name).await, 1, "only vm-image");
    assert_eq!(s.app.instance_row("vm-volume").await.image_name, "");
    let (tenant, run) = tenant_and_last_run(&s).await;
    assert_eq!(tenant.state, "OK");
    assert_eq!(tenant.unavailable_services, ["volume"]);
    assert_eq!(run.unavailable_services, ["volume"]);
    assert_eq!(run.outcome, "success");
    s.stop().await;
}

/// An image-only cloud (no compute endpoint) syncs its images and is OK; instances recorded
/// while it had Nova stay as they were rather than being marked deleted.
#[tokio::test]
async fn a_cloud_without_nova_syncs_its_images() {
    let (world, name) = world_with_volumes();
    let s = SimApp::world(world).start().await;
    s.sweep_ok().await;
    s.sim.with_world(|w| w.compute_enabled = false);
    s.sweep_ok().await;
    s.assert_catalogs_match_glance("without nova").await;
    let (tenant, run) = tenant_and_last_run(&s).await;
    assert_eq!(tenant.state, "OK");
    assert_eq!(tenant.unavailable_services, ["compute"]);
    assert_eq!(run.unavailable_services, ["compute"]);
    assert_eq!(run.instances_seen, 0);
    assert_eq!(
        running_of(&s, &name).await,
        2,
        "the recorded instances stay"
    );
    // Nova back: the tenant no longer reports it missing.
    s.sim.with_world(|w| w.compute_enabled = true);
    s.sweep_ok().await;
    let (tenant, _) = tenant_and_last_run(&s).await;
    assert!(tenant.unavailable_services.is_empty());
    s.stop().await;
}

/// The usage report counts boot-from-volume servers for their boot volume's image too, and
/// keeps the name a volume recorded for an image Glance no longer has. Without Cinder they
/// count for no image (an empty name).
#[tokio::test]
async fn the_usage_report_attributes_boot_from_volume_hours() {
    use crate::common::internals::{Clock, EngineOptions};
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    for cinder in [true, false] {
        let (mut world, name) = world_with_volumes();
        world.volume_enabled = cinder;
        for server in &mut world.servers {
            server.launched_at = Some(at("2026-11-10T00:00:00Z"));
        }
        let clock = Clock::manual(at("2026-11-11T00:00:00Z"));
        let s = SimApp::world(world)
            .engine(EngineOptions::fast().clock(clock))
            .start()
            .await;
        s.sweep_ok().await;
        let rows = s
            .app
            .get(
                "/api/openstack-images/usage_report/?start=2026-11-10&end=2026-11-11&page_size=300",
            )
            .await
            .json();
        let hours = |n: &str| {
            rows.as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == n)
                .map_or(0.0, |r| r["instance_hours"].as_f64().unwrap())
        };
        // Five servers running all day: vm-image; vm-volume and vm-gone through their
        // volumes (with Cinder); vm-two and vm-bare (and without Cinder all three) for none.
        if cinder {
            assert_eq!(
                (hours(&name), hours("gone-image"), hours("")),
                (48.0, 24.0, 48.0),
                "{rows}"
            );
        } else {
            assert_eq!(
                (hours(&name), hours("gone-image"), hours("")),
                (24.0, 0.0, 96.0),
                "{rows}"
            );
        }
        s.stop().await;
    }
}
