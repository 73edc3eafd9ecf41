//! Each link to another project's shared image keeps its membership's status, whichever way
//! the cloud is listed: the whole cloud with the member lists, per tenant with an admin token
//! (one lookup per candidate), or per tenant with the member's own token (two listings of
//! its pending and rejected images). A member changing its mind upstream is seen by the next
//! sweep.
use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use cloudcensus_sim::{Image, World};

use crate::common::sim::{SimApp, SimAppBuilder, generated_world};

/// The three ways a sweep lists a cloud.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Cloud,
    AdminPerTenant,
    OwnLogins,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Cloud, Mode::AdminPerTenant, Mode::OwnLogins];

    fn app(self, world: World) -> SimAppBuilder {
        match self {
            Mode::Cloud => SimApp::world(world).sync_mode("cloud"),
            Mode::AdminPerTenant => SimApp::world(world),
            Mode::OwnLogins => SimApp::world(world).own_logins(),
        }
    }
}

/// Five projects. Project 0 shares `shared` with 1 (accepted), 2 (pending) and 3 (rejected),
/// the hidden `hidden` with 1 (pending); project 1 shares `back` with 0 (accepted) and `mine`
/// with nobody; `public` is everyone's. Project 4 is no member of anything.
fn world() -> (World, Vec<String>) {
    let mut w = generated_world(5, 0, 0, 3);
    let p: Vec<String> = w.projects.iter().map(|p| p.id.clone()).collect();
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let mut hidden = Image::active("hidden", &p[0], "shared", &[(&p[1], "pending")], at);
    hidden.os_hidden = true;
    w.images = vec![
        Image::active(
            "shared",
            &p[0],
            "shared",
            &[(&p[1], "accepted"), (&p[2], "pending"), (&p[3], "rejected")],
            at,
        ),
        hidden,
        Image::active("back", &p[1], "shared", &[(&p[0], "accepted")], at),
        Image::active("mine", &p[1], "shared", &[], at),
        Image::active("public", &p[0], "public", &[], at),
    ];
    (w, p)
}

type Link = (String, String, Option<String>);

fn link(image: &str, project: &str, status: Option<&str>) -> Link {
    (image.into(), project.into(), status.map(String::from))
}

/// The links of the membership images (not `public`).
async fn memberships(s: &SimApp) -> BTreeSet<Link> {
    let links = s.app.portable_snapshot().await.links;
    links
        .into_iter()
        .filter(|(i, _, _)| i != "public")
        .collect()
}

#[tokio::test]
async fn every_mode_records_the_same_statuses_and_sees_them_change() {
    let (w, p) = world();
    let mut want: BTreeSet<Link> = [
        // The owner's links to its own shared images are no memberships.
        link("shared", &p[0], None),
        link("hidden", &p[0], None),
        link("mine", &p[1], None),
        link("back", &p[1], None),
        link("shared", &p[1], Some("accepted")),
        link("shared", &p[2], Some("pending")),
        link("shared", &p[3], Some("rejected")),
        link("hidden", &p[1], Some("pending")),
        link("back", &p[0], Some("accepted")),
    ]
    .into();
    let mut apps = Vec::new();
    for mode in Mode::ALL {
        let s = mode.app(w.clone()).start().await;
        s.sweep_ok().await;
        assert_eq!(memberships(&s).await, want, "{mode:?}");
        apps.push((mode, s));
    }
    let (_, first) = &apps[0];
    let catalog = first.app.portable_snapshot().await;
    for (mode, s) in &apps[1..] {
        assert_eq!(s.app.portable_snapshot().await, catalog, "{mode:?}");
    }

    // Members change their minds upstream; no image's `updated_at` moves.
    for (mode, s) in &apps {
        assert!(s.sim.set_member_status("shared", &p[2], "accepted"));
        assert!(s.sim.set_member_status("shared", &p[1], "rejected"));
        assert!(s.sim.set_member_status("hidden", &p[1], "accepted"));
        s.sweep_ok().await;
        let mut changed = want.clone();
        for (image, project, status) in [
            ("shared", &p[2], "accepted"),
            ("shared", &p[1], "rejected"),
            ("hidden", &p[1], "accepted"),
        ] {
            changed.retain(|(i, q, _)| !(i == image && q == project));
            changed.insert(link(image, project, Some(status)));
        }
        assert_eq!(memberships(s).await, changed, "{mode:?}");
        // An idle sweep then writes nothing.
        for o in s.sweep_ok().await {
            let applied = o.result.unwrap().applied;
            assert_eq!(
                applied.rows_written(),
                0,
                "{mode:?} {}: {applied:?}",
                o.tenant_name
            );
        }
        want = changed;
    }
    let (_, first) = &apps[0];
    let catalog = first.app.portable_snapshot().await;
    for (mode, s) in &apps[1..] {
        assert_eq!(s.app.portable_snapshot().await, catalog, "{mode:?}");
    }
    for (_, s) in apps {
        s.stop().await;
    }
}

/// A member's own token asks Glance for its pending and rejected images only when its
/// listing held another project's shared image, and only for the passes that did.
#[tokio::test]
async fn a_member_pays_for_status_listings_only_when_it_has_memberships() {
    let (w, _) = world();
    let s = Mode::OwnLogins.app(w).start().await;
    let image_requests = || s.sim.requests(cloudcensus_sim::Target::GlanceImages);
    let mut per_tenant = Vec::new();
    for i in 0..5 {
        let before = image_requests();
        s.sweep_tenant_ok(i).await;
        per_tenant.push(image_requests() - before);
    }
    // Two passes each; project 1 is a member of a visible and a hidden image (two listings
    // in two passes), 0, 2 and 3 of visible ones only (two listings in one pass), 4 of none.
    assert_eq!(per_tenant, [4, 6, 4, 4, 2]);
    s.stop().await;
}
