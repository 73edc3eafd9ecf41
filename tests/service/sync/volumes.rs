//! The Cinder client against the simulator over real sockets: the volume endpoint by any of
//! its catalog names (or none), paging, `bootable` strings, image metadata, attachments, and
//! untrusted entries. No database: the client alone, as the sync will call it.
use cloudcensus_sim::{Fault, FaultKind, Simulator, Target, Volume, World};

use crate::common::internals::{
    CinderVolume, OpenStackError, VolumeAttachment, VolumePager, cinder_pages, cinder_volumes,
    openstack_session,
};
use crate::common::sim::generated_world;

fn volume(id: &str, project: &str) -> Volume {
    Volume {
        id: id.into(),
        project_id: project.into(),
        name: format!("name of {id}"),
        size: 10,
        status: "available".into(),
        bootable: false,
        image_id: None,
        image_name: None,
        attachments: Vec::new(),
    }
}

/// Two projects (`user-0`, `user-1`); project 0 gets `volumes`, project 1 one volume of its own.
fn world_with(volumes: impl IntoIterator<Item = Volume>) -> World {
    let mut world = generated_world(2, 1, 0, 3);
    let p1 = world.projects[1].id.clone();
    world.volumes.extend(volumes);
    world.volumes.push(volume("other-project", &p1));
    world
}

fn project0(world: &World) -> String {
    world.projects[0].id.clone()
}

/// A simulator on `world` and a session of `user-0` on project 0.
async fn start(world: World) -> (Simulator, cloudcensus::openstack::Session) {
    let project = project0(&world);
    let region = world.region.clone();
    let sim = Simulator::start(world).await.expect("simulator starts");
    let session = openstack_session(&sim.auth_url(), &region, "user-0", "password-0", &project);
    (sim, session)
}

fn many(project: &str, n: usize) -> Vec<Volume> {
    (0..n)
        .map(|i| volume(&format!("vol-{i:05}"), project))
        .collect()
}

#[tokio::test]
async fn volumes_are_listed_across_pages_of_the_project_only() {
    let mut world = world_with([]);
    let p0 = project0(&world);
    world.volumes.extend(many(&p0, 2500));
    let (sim, session) = start(world).await;
    assert_eq!(
        cinder_pages(&session).await.unwrap(),
        (vec![1000, 1000, 500], 0)
    );
    let listed = cinder_volumes(&session)
        .await
        .unwrap()
        .expect("Cinder is there");
    assert_eq!(listed.skipped, 0);
    let ids: Vec<&str> = listed.volumes.iter().map(|v| v.id.as_str()).collect();
    let want: Vec<String> = (0..2500).map(|i| format!("vol-{i:05}")).collect();
    assert_eq!(ids, want, "every volume once, in Cinder's order");
    assert_eq!(sim.requests(Target::CinderVolumes), 6);
    sim.stop().await;
}

#[tokio::test]
async fn bootable_strings_image_metadata_and_attachments_are_read() {
    let p0 = project0(&world_with([]));
    let mut from_image = volume("boot", &p0);
    from_image.bootable = true;
    from_image.status = "in-use".into();
    from_image.size = 20;
    from_image.image_id = Some("img-1".into());
    from_image.image_name = Some("Debian 13\u{0}".into());
    from_image.attachments = vec![cloudcensus_sim::VolumeAttachment {
        server_id: "srv-1".into(),
        device: Some("/dev/vda".into()),
    }];
    let mut data = volume("data", &p0);
    data.attachments = vec![
        cloudcensus_sim::VolumeAttachment {
            server_id: "srv-1".into(),
            device: Some("/dev/vdb".into()),
        },
        cloudcensus_sim::VolumeAttachment {
            server_id: "srv-2".into(),
            device: None,
        },
    ];
    // Bootable but made from no image (e.g. uploaded raw): no metadata at all.
    let mut bare_boot = volume("bare-boot", &p0);
    bare_boot.bootable = true;
    let (sim, session) = start(world_with([from_image, data, bare_boot])).await;
    let listed = cinder_volumes(&session).await.unwrap().unwrap().volumes;
    assert_eq!(
        listed,
        [
            CinderVolume {
                id: "boot".into(),
                status: "in-use".into(),
                size_gib: Some(20),
                bootable: true,
                image_id: Some("img-1".into()),
                image_name: Some("Debian 13".into()),
                attachments: vec![VolumeAttachment {
                    server_id: "srv-1".into(),
                    device: Some("/dev/vda".into()),
                }],
                tenant_id: Some(p0.clone()),
            },
            CinderVolume {
                id: "data".into(),
                status: "available".into(),
                size_gib: Some(10),
                bootable: false,
                image_id: None,
                image_name: None,
                attachments: vec![
                    VolumeAttachment {
                        server_id: "srv-1".into(),
                        device: Some("/dev/vdb".into()),
                    },
                    VolumeAttachment {
                        server_id: "srv-2".into(),
                        device: None,
                    },
                ],
                tenant_id: Some(p0.clone()),
            },
            CinderVolume {
                id: "bare-boot".into(),
                status: "available".into(),
                size_gib: Some(10),
                bootable: true,
                image_id: None,
                image_name: None,
                attachments: vec![],
                tenant_id: Some(p0.clone()),
            },
        ]
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_cloud_without_cinder_is_unavailable_not_an_error() {
    let mut world = world_with([]);
    world.volume_enabled = false;
    let (sim, session) = start(world).await;
    assert_eq!(cinder_volumes(&session).await.unwrap(), None);
    assert!(VolumePager::open(&session).await.unwrap().is_none());
    assert_eq!(sim.requests(Target::CinderVolumes), 0);
    sim.stop().await;
}

#[tokio::test]
async fn older_catalog_names_volumev3_and_volumev2_are_found() {
    let mut world = world_with([]);
    let p0 = project0(&world);
    world.volumes.extend(many(&p0, 3));
    for service_type in ["volumev3", "volumev2"] {
        world.volume_service_type = service_type.into();
        let (sim, session) = start(world.clone()).await;
        let listed = cinder_volumes(&session).await.unwrap();
        assert_eq!(listed.map(|l| l.volumes.len()), Some(3), "{service_type}");
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_malformed_volume_is_skipped_and_counted() {
    let mut world = world_with([]);
    let p0 = project0(&world);
    let mut volumes = many(&p0, 1500);
    // The simulator sends an empty id as is: an entry no client can identify.
    volumes[1200].id = String::new();
    world.volumes.extend(volumes);
    let (sim, session) = start(world).await;
    let listed = cinder_volumes(&session).await.unwrap().unwrap();
    assert_eq!((listed.volumes.len(), listed.skipped), (1499, 1));
    assert!(listed.volumes.iter().all(|v| !v.id.is_empty()));
    sim.stop().await;
}

#[tokio::test]
async fn broken_paging_and_bodies_are_typed_errors_and_transient_ones_are_retried() {
    let mut world = world_with([]);
    let p0 = project0(&world);
    world.volumes.extend(many(&p0, 5));
    let (sim, session) = start(world).await;

    sim.inject(Target::CinderVolumes, Fault::new(FaultKind::NextLoop));
    let err = cinder_volumes(&session).await.unwrap_err();
    assert!(matches!(err, OpenStackError::Paging { .. }), "{err:?}");
    assert!(err.to_string().contains("Cinder"), "{err}");
    sim.clear_faults();

    sim.inject(Target::CinderVolumes, Fault::new(FaultKind::MalformedJson));
    let err = cinder_volumes(&session).await.unwrap_err();
    assert!(
        matches!(err, OpenStackError::MalformedBody { .. }),
        "{err:?}"
    );
    sim.clear_faults();

    sim.inject(
        Target::CinderVolumes,
        Fault::new(FaultKind::Status {
            code: 503,
            retry_after: None,
        })
        .times(2),
    );
    let listed = cinder_volumes(&session).await.unwrap().unwrap();
    assert_eq!(listed.volumes.len(), 5, "two 503s are retried");

    sim.inject(
        Target::CinderVolumes,
        Fault::new(FaultKind::Status {
            code: 403,
            retry_after: None,
        }),
    );
    let err = cinder_volumes(&session).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err:?}");
    sim.clear_faults();

    // Short pages: `next` keeps going until the listing is complete.
    sim.inject(Target::CinderVolumes, Fault::new(FaultKind::ShortPages(2)));
    assert_eq!(cinder_pages(&session).await.unwrap(), (vec![2, 2, 1], 0));
    sim.stop().await;
}

#[tokio::test]
async fn a_marker_deleted_while_paging_restarts_the_listing_once() {
    let mut world = world_with([]);
    let p0 = project0(&world);
    world.volumes.extend(many(&p0, 2500));
    let (sim, session) = start(world).await;
    let mut pager = VolumePager::open(&session).await.unwrap().unwrap();
    let first = pager.next_page().await.unwrap().unwrap();
    assert_eq!(first.len(), 1000);
    // The page's last volume, the next request's marker, goes away.
    sim.with_world(|w| w.volumes.retain(|v| v.id != "vol-00999"));
    let again = pager.next_page().await.unwrap().unwrap();
    assert!(pager.restarted());
    assert_eq!(
        again.first().map(|v| v.id.as_str()),
        Some("vol-00000"),
        "the listing starts over"
    );
    let mut total = again.len();
    while let Some(page) = pager.next_page().await.unwrap() {
        total += page.len();
    }
    assert_eq!(total, 2499);
    // A fresh listing sees every remaining volume once.
    let listed = cinder_volumes(&session).await.unwrap().unwrap();
    assert_eq!(listed.volumes.len(), 2499);
    sim.stop().await;
}
