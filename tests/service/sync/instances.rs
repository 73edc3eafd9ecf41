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
        });
    }
    world.servers.push(cloudcensus_sim::Server {
        id: "srv-volume".into(),
        name: "boot-from-volume".into(),
        project_id: project.clone(),
        image_id: None,
        status: "ACTIVE".into(),
        created: chrono::Utc::now(),
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
