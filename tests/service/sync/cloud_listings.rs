//! The OpenStack clients' cloud-wide listings against the simulator over real sockets: Nova's
//! and Cinder's `all_tenants`, Glance's image members, Keystone's projects, and the session's
//! request counts. No database: the clients alone, as a cloud-mode sync will call them.
use std::collections::BTreeMap;

use cloudcensus_sim::{
    ADMIN_PASSWORD, ADMIN_USER, Fault, FaultKind, Image, Simulator, Target, Volume, World,
};

use crate::common::internals::clients::{
    ImageMember, KeystoneProject, ServerPager, Session, VolumeList, glance_info, list_projects,
    list_volumes, list_volumes_all_tenants, members,
};
use crate::common::internals::{OpenStackError, openstack_session};
use crate::common::sim::generated_world;

fn project_ids(world: &World) -> Vec<String> {
    world.projects.iter().map(|p| p.id.clone()).collect()
}

/// The admin's session on project 0.
fn admin_session(sim: &Simulator, world: &World) -> Session {
    openstack_session(
        &sim.auth_url(),
        &world.region,
        ADMIN_USER,
        ADMIN_PASSWORD,
        &world.projects[0].id,
    )
}

/// `user-<i>`'s session on project `i`.
fn user_session(sim: &Simulator, world: &World, i: usize) -> Session {
    openstack_session(
        &sim.auth_url(),
        &world.region,
        &format!("user-{i}"),
        &format!("password-{i}"),
        &world.projects[i].id,
    )
}

/// Every page of a server listing: the page sizes, and the servers per `tenant_id`.
async fn servers_by_tenant(
    mut pager: ServerPager<'_>,
) -> Result<(Vec<usize>, BTreeMap<Option<String>, usize>), OpenStackError> {
    let (mut sizes, mut tenants) = (Vec::new(), BTreeMap::new());
    while let Some(page) = pager.next_page().await? {
        sizes.push(page.len());
        for server in page {
            *tenants.entry(server.tenant_id).or_default() += 1;
        }
    }
    Ok((sizes, tenants))
}

#[tokio::test]
async fn all_tenants_servers_are_paged_across_the_cloud_with_their_project() {
    let world = generated_world(3, 0, 400, 21);
    let ids = project_ids(&world);
    let sim = Simulator::start(world.clone())
        .await
        .expect("simulator starts");
    let admin = admin_session(&sim, &world);

    let (sizes, tenants) = servers_by_tenant(ServerPager::all_tenants(&admin))
        .await
        .unwrap();
    assert_eq!(sizes, [1000, 200]);
    let want: BTreeMap<Option<String>, usize> =
        ids.iter().map(|id| (Some(id.clone()), 400)).collect();
    assert_eq!(tenants, want, "every server once, with its project");
    // The same admin's own listing stays its project's.
    let (sizes, tenants) = servers_by_tenant(ServerPager::new(&admin)).await.unwrap();
    assert_eq!(sizes, [400]);
    assert_eq!(tenants.keys().collect::<Vec<_>>(), [&Some(ids[0].clone())]);

    let user = user_session(&sim, &world, 1);
    let refused = servers_by_tenant(ServerPager::all_tenants(&user))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    sim.stop().await;
}

fn volumes(world: &mut World, per_project: usize) {
    for (p, project) in project_ids(world).iter().enumerate() {
        for n in 0..per_project {
            world.volumes.push(Volume {
                id: format!("vol-{p}-{n:04}"),
                project_id: project.clone(),
                name: String::new(),
                size: 1,
                status: "available".into(),
                bootable: false,
                image_id: None,
                image_name: None,
                attachments: Vec::new(),
            });
        }
    }
}

fn volumes_by_tenant(list: &VolumeList) -> BTreeMap<Option<String>, usize> {
    let mut tenants = BTreeMap::new();
    for v in &list.volumes {
        *tenants.entry(v.tenant_id.clone()).or_default() += 1;
    }
    tenants
}

#[tokio::test]
async fn all_tenants_volumes_are_listed_across_the_cloud_even_after_a_restart() {
    let mut world = generated_world(2, 0, 0, 22);
    volumes(&mut world, 600);
    let ids = project_ids(&world);
    let sim = Simulator::start(world.clone())
        .await
        .expect("simulator starts");
    let admin = admin_session(&sim, &world);
    let want: BTreeMap<Option<String>, usize> =
        ids.iter().map(|id| (Some(id.clone()), 600)).collect();

    let all = list_volumes_all_tenants(&admin)
        .await
        .unwrap()
        .expect("Cinder is there");
    assert_eq!(volumes_by_tenant(&all), want);
    assert_eq!(sim.requests(Target::CinderVolumes), 2, "two pages of 1000");
    let own = list_volumes(&admin).await.unwrap().unwrap();
    assert_eq!(
        volumes_by_tenant(&own),
        BTreeMap::from([(Some(ids[0].clone()), 600)])
    );

    // Cinder refuses the second page's marker (its volume was deleted): the listing starts
    // over, still across the cloud, and keeps each volume once.
    sim.inject(
        Target::CinderVolumes,
        Fault::new(FaultKind::Status {
            code: 404,
            retry_after: None,
        })
        .after(1)
        .times(1),
    );
    let again = list_volumes_all_tenants(&admin).await.unwrap().unwrap();
    assert_eq!(volumes_by_tenant(&again), want);
    assert_eq!(again.volumes.len(), 1200);
    sim.clear_faults();

    let user = user_session(&sim, &world, 1);
    let refused = list_volumes_all_tenants(&user).await.unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    sim.with_world(|w| w.volume_enabled = false);
    let fresh = admin_session(&sim, &world);
    assert_eq!(list_volumes_all_tenants(&fresh).await.unwrap(), None);
    sim.stop().await;
}

fn image(id: &str, owner: &str, visibility: &str, members: &[(&str, &str)]) -> Image {
    let at = "2026-10-01T00:00:00Z".parse().expect("a timestamp");
    Image::active(id, owner, visibility, members, at)
}

fn member(id: &str, status: &str) -> ImageMember {
    ImageMember {
        member_id: id.into(),
        status: status.into(),
    }
}

#[tokio::test]
async fn image_members_are_listed_and_refusals_are_no_members() {
    let mut world = generated_world(4, 0, 0, 23);
    let p = project_ids(&world);
    world.images = vec![
        image(
            "shared",
            &p[0],
            "shared",
            &[(&p[1], "accepted"), (&p[2], "rejected")],
        ),
        image("public", &p[0], "public", &[]),
        image("private", &p[0], "private", &[]),
    ];
    let sim = Simulator::start(world.clone())
        .await
        .expect("simulator starts");
    let everyone = vec![member(&p[1], "accepted"), member(&p[2], "rejected")];

    let admin = admin_session(&sim, &world);
    let owner = user_session(&sim, &world, 0);
    assert_eq!(members(&admin, "shared").await.unwrap(), everyone);
    assert_eq!(members(&owner, "shared").await.unwrap(), everyone);
    let shared_with = user_session(&sim, &world, 2);
    assert_eq!(
        members(&shared_with, "shared").await.unwrap(),
        [member(&p[2], "rejected")]
    );
    // 403 (not a shared image) and 404 (not visible, or no such image) mean no members.
    let outsider = user_session(&sim, &world, 3);
    for (session, id) in [
        (&owner, "public"),
        (&owner, "private"),
        (&outsider, "shared"),
        (&outsider, "private"),
        (&admin, "no-such-image"),
    ] {
        assert_eq!(members(session, id).await.unwrap(), Vec::new(), "{id}");
    }
    assert_eq!(sim.requests(Target::GlanceMembers), 8);
    // Any other failure is an error, not an empty list.
    sim.inject(
        Target::GlanceMembers,
        Fault::new(FaultKind::Status {
            code: 500,
            retry_after: None,
        }),
    );
    let failed = members(&owner, "shared").await.unwrap_err();
    assert_eq!(failed.status(), Some(500), "{failed}");
    sim.stop().await;
}

/// Five projects: 0 and 1 tagged `census` (0 also `gpu`), 3 `gpu` only, 4 disabled and
/// `census` in domain `other`.
fn tagged_world() -> World {
    let mut world = generated_world(5, 0, 0, 24);
    world.projects[0].tags = vec!["census".into(), "gpu".into()];
    world.projects[1].tags = vec!["census".into()];
    world.projects[3].tags = vec!["gpu".into()];
    world.projects[4].tags = vec!["census".into()];
    world.projects[4].domain_id = "other".into();
    world.projects[4].enabled = false;
    world
}

fn listed_ids(projects: &[KeystoneProject]) -> Vec<String> {
    projects.iter().map(|p| p.id.clone()).collect()
}

#[tokio::test]
async fn projects_are_listed_by_domain_and_tags() {
    let world = tagged_world();
    let p = project_ids(&world);
    let sim = Simulator::start(world.clone())
        .await
        .expect("simulator starts");
    let admin = admin_session(&sim, &world);
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let all = list_projects(&admin, None, &[]).await.unwrap();
    assert_eq!(listed_ids(&all), p);
    assert_eq!(
        all[0],
        KeystoneProject {
            id: p[0].clone(),
            name: world.projects[0].name.clone(),
            domain_id: Some("default".into()),
            enabled: true,
            tags: tags(&["census", "gpu"]),
        }
    );
    assert!(!all[4].enabled);
    assert_eq!(all[4].domain_id.as_deref(), Some("other"));

    let census = list_projects(&admin, None, &tags(&["census"]))
        .await
        .unwrap();
    assert_eq!(
        listed_ids(&census),
        [&p[0], &p[1], &p[4]].map(String::clone)
    );
    let both = list_projects(&admin, None, &tags(&["census", "gpu"]))
        .await
        .unwrap();
    assert_eq!(listed_ids(&both), [p[0].clone()]);
    let default_census = list_projects(&admin, Some("default"), &tags(&["census"]))
        .await
        .unwrap();
    assert_eq!(listed_ids(&default_census), [p[0].clone(), p[1].clone()]);
    assert_eq!(
        list_projects(&admin, Some("nowhere"), &[]).await.unwrap(),
        Vec::new()
    );

    let user = user_session(&sim, &world, 1);
    let refused = list_projects(&user, None, &[]).await.unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    sim.stop().await;
}

#[tokio::test]
async fn project_listings_follow_next_links_and_refuse_loops() {
    let world = tagged_world();
    let p = project_ids(&world);
    let sim = Simulator::start(world.clone())
        .await
        .expect("simulator starts");
    let admin = admin_session(&sim, &world);

    // Pages of two, though the client asked for no limit: it follows `links.next` as given.
    sim.inject(
        Target::KeystoneProjects,
        Fault::new(FaultKind::ShortPages(2)),
    );
    let paged = list_projects(&admin, None, &[]).await.unwrap();
    assert_eq!(listed_ids(&paged), p);
    assert_eq!(sim.requests(Target::KeystoneProjects), 3);
    let census = list_projects(&admin, None, &["census".to_string()])
        .await
        .unwrap();
    assert_eq!(
        listed_ids(&census),
        [&p[0], &p[1], &p[4]].map(String::clone)
    );
    sim.clear_faults();

    sim.inject(Target::KeystoneProjects, Fault::new(FaultKind::NextLoop));
    let looped = list_projects(&admin, None, &[]).await.unwrap_err();
    assert!(matches!(looped, OpenStackError::Paging { .. }), "{looped}");
    sim.clear_faults();

    sim.inject(
        Target::KeystoneProjects,
        Fault::new(FaultKind::MalformedJson),
    );
    let broken = list_projects(&admin, None, &[]).await.unwrap_err();
    assert!(
        matches!(broken, OpenStackError::MalformedBody { .. }),
        "{broken}"
    );
    sim.clear_faults();

    // Keystone cut the listing at its list_limit: an error, not a shorter cloud.
    sim.with_world(|w| w.keystone_list_limit = Some(3));
    let cut = list_projects(&admin, None, &[]).await.unwrap_err();
    assert!(matches!(cut, OpenStackError::Paging { .. }), "{cut}");
    let census = list_projects(&admin, None, &["census".to_string()])
        .await
        .unwrap();
    assert_eq!(
        listed_ids(&census),
        [&p[0], &p[1], &p[4]].map(String::clone)
    );
    sim.stop().await;
}

fn counts(identity: u64, image: u64, compute: u64, volume: u64) -> BTreeMap<&'static str, u64> {
    BTreeMap::from([
        ("identity", identity),
        ("image", image),
        ("compute", compute),
        ("volume", volume),
    ])
}

#[tokio::test]
async fn sessions_count_every_request_per_service() {
    let mut world = generated_world(2, 0, 3, 25);
    volumes(&mut world, 2);
    let sim = Simulator::start(world.clone())
        .await
        .expect("simulator starts");
    let session = user_session(&sim, &world, 0);
    assert_eq!(session.requests(), counts(0, 0, 0, 0));

    list_volumes(&session).await.unwrap().unwrap();
    assert_eq!(session.requests(), counts(1, 0, 0, 1), "a login, one page");
    servers_by_tenant(ServerPager::new(&session)).await.unwrap();
    assert_eq!(
        session.requests(),
        counts(1, 0, 2, 1),
        "the version document, one page"
    );

    // A retried 503 counts twice; the other two info endpoints once each.
    sim.inject(
        Target::GlanceInfo,
        Fault::new(FaultKind::Status {
            code: 503,
            retry_after: None,
        })
        .times(1),
    );
    glance_info(&session).await.unwrap();
    assert_eq!(session.requests(), counts(1, 4, 2, 1));
    assert_eq!(sim.requests(Target::GlanceInfo), 4);

    // A token revoked mid-listing: the refused page, a new login, the page again.
    sim.inject(
        Target::NovaServers,
        Fault::new(FaultKind::ExpireTokenAfter(0)).times(1),
    );
    servers_by_tenant(ServerPager::new(&session)).await.unwrap();
    assert_eq!(session.requests(), counts(2, 4, 5, 1));
    assert_eq!(sim.requests(Target::KeystoneAuth), 2);
    assert_eq!(sim.requests(Target::NovaServers), 3);
    sim.stop().await;
}

/// A delta poll's listings: the images updated after a time, oldest change first in each of
/// the two passes (hidden images in the second), across pages; and every project's servers
/// changed at or after a time. Times go out URL-encoded (`+00:00`).
#[tokio::test]
async fn delta_listings_return_only_what_changed() {
    use chrono::{DateTime, Duration, Utc};
    use cloudcensus::openstack::glance::ImagePager;
    let base: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
    let mut world = generated_world(3, 6, 2, 8);
    let n = world.images.len() as i64;
    for (i, img) in world.images.iter_mut().enumerate() {
        img.updated_at = base + Duration::minutes((i as i64 * 7) % n);
    }
    for (i, server) in world.servers.iter_mut().enumerate() {
        server.updated = Some(base + Duration::minutes(i as i64));
    }
    let cut = base + Duration::minutes(n / 2);
    let sim = Simulator::start(world.clone()).await.unwrap();
    let admin = admin_session(&sim, &world);

    let mut pager = ImagePager::updated_after(&admin, &cut.to_rfc3339());
    let mut listed = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        listed.extend(page);
    }
    let stamp = |id: &str| world.images.iter().find(|i| i.id == id).unwrap().updated_at;
    let mut want: Vec<&str> = world
        .images
        .iter()
        .filter(|i| i.updated_at > cut)
        .map(|i| i.id.as_str())
        .collect();
    want.sort_unstable();
    let mut got: Vec<&str> = listed.iter().map(|i| i.id.as_str()).collect();
    got.sort_unstable();
    assert!(!want.is_empty() && want.len() < world.images.len());
    assert_eq!(got, want);
    let hidden_upstream = |id: &str| world.images.iter().any(|i| i.id == id && i.os_hidden);
    let (shown, hidden): (Vec<_>, Vec<_>) = listed.iter().partition(|i| !hidden_upstream(&i.id));
    for pass in [shown, hidden] {
        let stamps: Vec<_> = pass.iter().map(|i| stamp(&i.id)).collect();
        assert!(stamps.is_sorted(), "oldest change first: {stamps:?}");
    }

    let cut = base + Duration::minutes(world.servers.len() as i64 / 2);
    let mut pager = ServerPager::all_tenants(&admin).changed_since(&cut.to_rfc3339());
    let mut got = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        got.extend(page.into_iter().map(|s| s.id));
    }
    got.sort_unstable();
    let mut want: Vec<String> = world
        .servers
        .iter()
        .filter(|s| s.updated.is_some_and(|u| u >= cut))
        .map(|s| s.id.clone())
        .collect();
    want.sort_unstable();
    assert!(!want.is_empty() && want.len() < world.servers.len());
    assert_eq!(got, want);
    sim.stop().await;
}
