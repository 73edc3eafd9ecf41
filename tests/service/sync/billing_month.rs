//! The scripted billing month: September 2026 on two clouds, every server action Nova offers,
//! synced every midnight and twice at noon with a clock the test moves, and every figure of
//! every basis (`active`, `running`, `allocated`) equal to a hand computation.
//!
//! September rather than a later month: the report cuts an `end` in the future to the real now,
//! so every window here lies wholly in the past. Actions take no time in this script (the
//! simulator's `action_event_secs` is 0): an action's start and finish are one instant.
//!
//! **Cloud A** ("log", cloud mode through the admin token): its action log is readable and its
//! clock is the service's. Projects P0, P1 (tenants A0, A1, registered from the start) and P2
//! (tenant A2, registered on Sep 19 at noon). Images `ubuntu` (img-u), `centos` (img-c, renamed
//! `rocky` in Glance on Sep 16 10:00), `debian` (img-d), `fedora` (img-f) and `old-linux`
//! (img-old), the last two deleted from Glance on Sep 12 10:00.
//!
//! **Cloud B** ("nolog", per tenant): Nova's policy forbids the action log, so changes are
//! dated by the servers' times (`launched_at`, `updated`, `terminated_at`). Its Nova clock is
//! 30 minutes *ahead* of the service's until Sep 15 12:00, then 30 minutes *behind* (an NTP
//! step). Projects Q0 (tenant B0, from the start) and Q1 (tenant B1, registered on Sep 19 at
//! noon). Images `ubuntu` (img-ub) and `alma` (img-alma).
//!
//! What the code does with skew (`Window::clamp`): a time after the sync that sees the change
//! is dated by that sync; a time before the tenant's previous sync is dated by that previous
//! sync, for a known server's change and for a server first seen after it (its listing was
//! complete: the server is new since); only a tenant's first sync keeps times before it (a
//! late-registered tenant's servers bring their history). Anything else keeps Nova's time,
//! skew included. `instances_created` counts Nova's `created` as stamped, unless the sync
//! dated the start of the recorded life: then there; `instances_deleted` counts a deletion
//! where the recorded life ends.
//!
//! Syncs: every midnight from Sep 1 to Oct 1, and Sep 10 12:00 and Sep 22 12:00. Hours are
//! counted from Sep 1 00:00 (h0): Sep d HH:MM is h = (d - 1) * 24 + HH + MM / 60; Oct 1 is
//! h720. Times below are the service's (true) time; B's stamps are shifted by its skew.
//!
//! Billed sizes (vCPUs / RAM GiB / disk GiB): S = m1.small 1 / 1 / 10 (root 10); E = m1.eph
//! 2 / 4 / 30 (root 20 + ephemeral 10, booted from an image); L = m1.large 4 / 8 / 40;
//! S50 = S booted from a 50 GiB volume (disk = the volume: 1 / 1 / 50); S80, L80 = S and L
//! booted from an 80 GiB volume.
//!
//! | server   | tenant | image (name)          | what happens (true time)                                                       |
//! |----------|--------|-----------------------|--------------------------------------------------------------------------------|
//! | a-web    | A0 | img-u ubuntu, E           | booted Aug 20; stop h58, start h62, pause h68 (one sync window); unpause h102, reboot h104, live-migration h108, suspend h114 (one window); resume h153; rescue h222 (seen by the noon sync h228), unrescue h234 |
//! | a-resize | A0 | img-u ubuntu, S → L       | created h32; resize to L h178, left in VERIFY_RESIZE 5 days; confirmResize h298; migrate h418 + revertResize h424 (one window); resize to E h560, revertResize h584 (back to L) |
//! | a-err    | A0 | img-u ubuntu, S           | created h321 in ERROR, never launched                                          |
//! | a-gone   | A0 | img-old old-linux, L      | created h198; its image leaves Glance h274; delete h445.5                     |
//! | a-shelf  | A1 | img-c centos, S           | booted Aug 1; shelve h130, shelveOffload h132 (one window); unshelve h250; image renamed h370 (seen h384); rebuild onto img-d debian h466; delete h639 |
//! | a-vol    | A1 | img-f fedora, S50         | created h78 from a 50 GiB volume; its image leaves Glance h274; stop h346; ERROR h470 (no action: dated by `updated`) |
//! | a-late   | A2 | img-d debian, S → L       | created Aug 10 10:00; stop Aug 20 10:00, start Aug 22 10:00, resize to L Aug 25 10:00, confirm Aug 26 10:00; stop h274, start h322; first seen h456 |
//! | b-img    | B0 | img-ub ubuntu, E          | created h47.75 (Nova: h48.25, after the sync at h48); stop h178 (Nova h178.5); start h227.75 (Nova h228.25, after the noon sync); suspend h384 + 20 min (Nova h383 + 50 min, before the sync h384); resume h490 (Nova h489.5); pause h536 + unpause h540 (one window: unseen) |
//! | b-vol    | B0 | img-ub ubuntu, S80 → L80  | created Aug 15 00:00 (Nova 00:30) from an 80 GiB volume; resize to L h106 (Nova h106.5); confirm h130 (Nova h130.5); delete h600 + 20 min (Nova: Sep 25 23:50, before the sync h600) |
//! | b-late   | B1 | img-alma alma, S → L      | created Aug 5 10:00, resize to L Aug 28 10:00 (Nova `launched_at` Aug 28 10:30), confirm Aug 29; stop h370 (Nova h369.5); first seen h456; start h514 (Nova h513.5) |
//! | b-dawn   | B0 | img-ub ubuntu, S          | created h432 + 10 min (Nova: Sep 18 23:40, before the sync h432 that did not list it); first seen h456 |
//!
//! Their September as the census must record it (h0–h720); `VR` is VERIFY_RESIZE, `SO`
//! SHELVED_OFFLOADED; hours per basis (active / running / allocated):
//!
//! | server   | stretches                                                                                       | active            | running                   | allocated                 |
//! |----------|-------------------------------------------------------------------------------------------------|-------------------|---------------------------|---------------------------|
//! | a-web    | ACTIVE 0–58, SHUTOFF 58–62, ACTIVE 62–68, PAUSED 68–102, ACTIVE 102–114, SUSPENDED 114–153, ACTIVE 153–222, RESCUE 222–234, ACTIVE 234–720 (E) | 58+6+12+69+486 = 631 E | 631+12 = 643 E | 720 E |
//! | a-resize | ACTIVE 32–178 (S), VR 178–298 (L), ACTIVE 298–418 (L), VR 418–424 (L), ACTIVE 424–560 (L), VR 560–584 (E), ACTIVE 584–720 (L) | 146 S, 120+136+136 = 392 L | 146 S, 392+120+6 = 518 L, 24 E | as running |
//! | a-err    | ERROR 321–720, never ran                                                                         | 0                 | 0                         | 0                         |
//! | a-gone   | ACTIVE 198–445.5 (L), ended at `terminated_at`                                                   | 247.5 L           | 247.5 L                   | 247.5 L                   |
//! | a-shelf  | centos: ACTIVE 0–130, SHELVED 130–132, SO 132–250, ACTIVE 250–384; rocky: ACTIVE 384–466; debian: ACTIVE 466–639 (S) | centos 130+134 = 264, rocky 82, debian 173 | as active | centos 266, rocky 82, debian 173 |
//! | a-vol    | ACTIVE 78–346, SHUTOFF 346–470, ERROR 470–720 (S50)                                              | 268 S50           | 268 S50                   | 268+124+250 = 642 S50     |
//! | a-late   | ACTIVE 0–274, SHUTOFF 274–322, ACTIVE 322–720 (L)                                                | 274+398 = 672 L   | 672 L                     | 720 L                     |
//! | b-img    | ACTIVE 48–178.5, SHUTOFF 178.5–228, ACTIVE 228–384, SUSPENDED 384–489.5, ACTIVE 489.5–720 (E)    | 130.5+156+230.5 = 517 E | 517 E               | 517+49.5+105.5 = 672 E    |
//! | b-vol    | ACTIVE 0–106.5 (S80), VR 106.5–130.5 (L80), ACTIVE 130.5–600 (L80)                              | 106.5 S80, 469.5 L80 | 106.5 S80, 493.5 L80   | as running                |
//! | b-late   | ACTIVE 0–369.5, SHUTOFF 369.5–513.5, ACTIVE 513.5–720 (L)                                        | 369.5+206.5 = 576 L | 576 L                   | 720 L                     |
//! | b-dawn   | ACTIVE 432–720 (S), created h432                                                                 | 288 S             | 288 S                     | 288 S                     |
//!
//! Why each boundary falls where it does:
//! - The action log (cloud A) dates every change between two syncs by its action: a-web's
//!   three changes on Sep 3 and four on Sep 5 (reboot and live-migration change no status),
//!   a-shelf's shelve and offload, a-resize's migrate and revert. A change without an action
//!   (a-vol's ERROR) is dated by `updated`. A log's actions say nothing of flavors: a resize's
//!   new flavor (the listing's) starts at the resize, a revert's at the revert.
//! - A rename in Glance is dated by the sync that sees it (a-shelf: centos until h384, not
//!   h370). A rebuild onto another image starts the new name at the rebuild.
//! - Deletions end at `terminated_at` (a-gone h445.5, a-shelf h639), found through Nova's
//!   `changes-since` listing; an image deleted from Glance keeps its name (the name recorded on
//!   the volume for a-vol, the one last seen for a-gone).
//! - First sight with the log (a-late): from the `create` request (a resize reset
//!   `launched_at`), every action replayed, at today's flavor (earlier flavors are not known:
//!   August's hours before the resize are billed at L, not S). First sight without the log
//!   (b-late): `ACTIVE` from `launched_at` (reset by the resize: Aug 28 10:30 Nova time) to its
//!   last change (`updated`), then its status now.
//! - Skew ahead (B until Sep 15 12:00): b-img's launch stamped after the sync that lists it is
//!   dated by that sync (h48, not h47.75); its stop 30 minutes late (h178.5); its start,
//!   stamped after the noon sync, by that sync (h228). Skew behind (from Sep 15 12:00):
//!   b-img's suspend stamped before the previous sync is dated by that sync (h384); its resume
//!   30 minutes early (h489.5); b-vol's end, stamped before the previous sync, by that sync
//!   (h600), and `instances_deleted` counts it there (Sep 26), not on Sep 25 as its
//!   `terminated_at` says: the sync at h600 listed it live and closed Sep 25. b-dawn, booted
//!   10 minutes after the sync h432 and stamped 20 minutes before it, is first seen by the
//!   sync h456: its life, and its creation, begin at h432 (dated by that sync), not in Sep 18,
//!   which the sync h432 closed.
//! - Without the log a change undone before the next sync is invisible: b-img's pause
//!   h536–h540 counts as `ACTIVE` (the documented fallback: `updated` dates only the last change).
//!
//! August, for the servers seen first at or after Sep 1 (all at their current size): a-web
//! ACTIVE from Aug 20 (288 h E), a-shelf from Aug 1 (744 h S), b-vol from Aug 15 00:30 Nova
//! time (407.5 h S80); a-late ACTIVE Aug 10 10:00–Aug 20 10:00 (240), SHUTOFF to Aug 22 10:00
//! (48), ACTIVE to Aug 25 10:00 (72), VR to Aug 26 10:00 (24), ACTIVE to Sep 1 (134), at L:
//! active 446, running 470, allocated 518; b-late ACTIVE from Aug 28 10:30 (85.5 h L).
use chrono::{DateTime, Duration, DurationRound, Utc};
use cloudcensus_sim::{
    Flavor, Image, Server, ServerAction, Simulator, Volume, VolumeAttachment, World,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::internals::{Clock, EngineOptions};
use crate::common::sim::{self, SimApp, generated_world};
use crate::common::{ServiceSettings, Tenant};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// Sep 1 00:00 plus `hours` (to the minute).
fn h(hours: f64) -> DateTime<Utc> {
    t("2026-09-01T00:00:00Z") + Duration::minutes((hours * 60.0).round() as i64)
}

fn small() -> Flavor {
    sim::flavor("m1.small", 1, 1024, 10, 0)
}

fn eph() -> Flavor {
    sim::flavor("m1.eph", 2, 4096, 20, 10)
}

fn large() -> Flavor {
    sim::flavor("m1.large", 4, 8192, 40, 0)
}

/// B's Nova clock against the service's at true time `at`: ahead, then behind after an NTP
/// step on Sep 15 at noon.
fn skew_b(at: DateTime<Utc>) -> Duration {
    if at < h(348.0) {
        Duration::minutes(30)
    } else {
        Duration::minutes(-30)
    }
}

fn image(id: &str, name: &str, owner: &str) -> Image {
    sim::public_image(id, name, owner, t("2026-07-01T00:00:00Z"))
}

/// Cloud A: projects P0–P2, five public images, a readable action log.
fn cloud_a() -> World {
    let mut world = generated_world(3, 0, 0, 31);
    let owner = world.projects[0].id.clone();
    world.images = vec![
        image("img-u", "ubuntu", &owner),
        image("img-c", "centos", &owner),
        image("img-d", "debian", &owner),
        image("img-f", "fedora", &owner),
        image("img-old", "old-linux", &owner),
    ];
    world
}

/// Cloud B: projects Q0 and Q1, two public images, the action log forbidden by policy.
fn cloud_b() -> World {
    let mut world = generated_world(2, 0, 0, 32);
    let owner = world.projects[0].id.clone();
    world.images = vec![
        image("img-ub", "ubuntu", &owner),
        image("img-alma", "alma", &owner),
    ];
    world.instance_actions_forbidden = true;
    world
}

/// A server to boot: from `image`, or from a volume when `None`.
fn vm(id: &str, project: &str, image: Option<&str>, flavor: Flavor) -> Server {
    Server {
        id: id.into(),
        name: id.into(),
        project_id: project.into(),
        image_id: image.map(String::from),
        flavor,
        ..Default::default()
    }
}

/// A bootable volume of `size` GiB made from `image` (id, name), the root disk of `server`.
fn root_volume(id: &str, project: &str, size: i64, image: (&str, &str), server: &str) -> Volume {
    Volume {
        id: id.into(),
        project_id: project.into(),
        name: id.into(),
        size,
        status: "in-use".into(),
        bootable: true,
        image_id: Some(image.0.into()),
        image_name: Some(image.1.into()),
        attachments: vec![VolumeAttachment {
            server_id: server.into(),
            device: Some("/dev/vda".into()),
        }],
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cloud {
    A,
    B,
}

/// What happens, at a true time (B stamps it with its skewed clock).
enum Change {
    /// Booted now (create logged, ACTIVE, launched now), with its boot volume.
    Boot(Server, Option<Volume>),
    /// Created now in ERROR, never launched, no action logged.
    Failed(Server),
    Act(&'static str, ServerAction),
    /// A status change no action stands for (ERROR): only `updated` moves.
    Status(&'static str, &'static str),
    RenameImage(&'static str, &'static str),
    DeleteImage(&'static str),
    /// The project (by index) registered as a tenant: first synced by the next sweep.
    Register(usize),
}

/// The script, in true-time order.
fn script(a: &World, b: &World) -> Vec<(DateTime<Utc>, Cloud, Change)> {
    use Change::*;
    use Cloud::{A, B};
    use ServerAction as Do;
    let p = |i: usize| a.projects[i].id.as_str();
    let q = |i: usize| b.projects[i].id.as_str();
    let aug = |s: &str| t(&format!("2026-08-{s}Z"));
    vec![
        // August: before the first sync.
        (
            aug("01T00:00:00"),
            A,
            Boot(vm("a-shelf", p(1), Some("img-c"), small()), None),
        ),
        (
            aug("05T10:00:00"),
            B,
            Boot(vm("b-late", q(1), Some("img-alma"), small()), None),
        ),
        (
            aug("10T10:00:00"),
            A,
            Boot(vm("a-late", p(2), Some("img-d"), small()), None),
        ),
        (
            aug("15T00:00:00"),
            B,
            Boot(
                vm("b-vol", q(0), None, small()),
                Some(root_volume(
                    "b-root",
                    q(0),
                    80,
                    ("img-ub", "ubuntu"),
                    "b-vol",
                )),
            ),
        ),
        (
            aug("20T00:00:00"),
            A,
            Boot(vm("a-web", p(0), Some("img-u"), eph()), None),
        ),
        (aug("20T10:00:00"), A, Act("a-late", Do::Stop)),
        (aug("22T10:00:00"), A, Act("a-late", Do::Start)),
        (aug("25T10:00:00"), A, Act("a-late", Do::Resize(large()))),
        (aug("26T10:00:00"), A, Act("a-late", Do::ConfirmResize)),
        (aug("28T10:00:00"), B, Act("b-late", Do::Resize(large()))),
        (aug("29T10:00:00"), B, Act("b-late", Do::ConfirmResize)),
        // September.
        (
            h(32.0),
            A,
            Boot(vm("a-resize", p(0), Some("img-u"), small()), None),
        ),
        (
            h(47.75),
            B,
            Boot(vm("b-img", q(0), Some("img-ub"), eph()), None),
        ),
        (h(58.0), A, Act("a-web", Do::Stop)),
        (h(62.0), A, Act("a-web", Do::Start)),
        (h(68.0), A, Act("a-web", Do::Pause)),
        (
            h(78.0),
            A,
            Boot(
                vm("a-vol", p(1), None, small()),
                Some(root_volume(
                    "a-root",
                    p(1),
                    50,
                    ("img-f", "fedora"),
                    "a-vol",
                )),
            ),
        ),
        (h(102.0), A, Act("a-web", Do::Unpause)),
        (h(104.0), A, Act("a-web", Do::Reboot)),
        (h(106.0), B, Act("b-vol", Do::Resize(large()))),
        (h(108.0), A, Act("a-web", Do::LiveMigrate)),
        (h(114.0), A, Act("a-web", Do::Suspend)),
        (h(130.0), A, Act("a-shelf", Do::Shelve)),
        (h(130.0), B, Act("b-vol", Do::ConfirmResize)),
        (h(132.0), A, Act("a-shelf", Do::ShelveOffload)),
        (h(153.0), A, Act("a-web", Do::Resume)),
        (h(178.0), A, Act("a-resize", Do::Resize(large()))),
        (h(178.0), B, Act("b-img", Do::Stop)),
        (
            h(198.0),
            A,
            Boot(vm("a-gone", p(0), Some("img-old"), large()), None),
        ),
        (h(222.0), A, Act("a-web", Do::Rescue)),
        (h(227.75), B, Act("b-img", Do::Start)),
        // The noon sync h228 sees a-web in RESCUE.
        (h(234.0), A, Act("a-web", Do::Unrescue)),
        (h(250.0), A, Act("a-shelf", Do::Unshelve)),
        (h(274.0), A, DeleteImage("img-f")),
        (h(274.0), A, DeleteImage("img-old")),
        (h(274.0), A, Act("a-late", Do::Stop)),
        (h(298.0), A, Act("a-resize", Do::ConfirmResize)),
        (
            h(321.0),
            A,
            Failed(vm("a-err", p(0), Some("img-u"), small())),
        ),
        (h(322.0), A, Act("a-late", Do::Start)),
        (h(346.0), A, Act("a-vol", Do::Stop)),
        (h(370.0), A, RenameImage("img-c", "rocky")),
        (h(370.0), B, Act("b-late", Do::Stop)),
        (h(384.0 + 20.0 / 60.0), B, Act("b-img", Do::Suspend)),
        (h(418.0), A, Act("a-resize", Do::Migrate)),
        (h(424.0), A, Act("a-resize", Do::RevertResize)),
        // Just after the midnight sync h432, stamped before it by B's clock (behind).
        (
            h(432.0 + 10.0 / 60.0),
            B,
            Boot(vm("b-dawn", q(0), Some("img-ub"), small()), None),
        ),
        (h(444.0), A, Register(2)),
        (h(444.0), B, Register(1)),
        (h(445.5), A, Act("a-gone", Do::Delete)),
        (
            h(466.0),
            A,
            Act("a-shelf", Do::Rebuild(Some("img-d".into()))),
        ),
        (h(470.0), A, Status("a-vol", "ERROR")),
        (h(490.0), B, Act("b-img", Do::Resume)),
        (h(514.0), B, Act("b-late", Do::Start)),
        (h(536.0), B, Act("b-img", Do::Pause)),
        (h(540.0), B, Act("b-img", Do::Unpause)),
        (h(560.0), A, Act("a-resize", Do::Resize(eph()))),
        (h(584.0), A, Act("a-resize", Do::RevertResize)),
        (h(600.0 + 20.0 / 60.0), B, Act("b-vol", Do::Delete)),
        (h(639.0), A, Act("a-shelf", Do::Delete)),
    ]
}

/// The clouds as the test drives them: each simulator, its registration and its tenants.
struct Clouds {
    a: SimApp,
    b: Simulator,
    cloud_a: ServiceSettings,
    cloud_b: ServiceSettings,
    /// Registered tenants by label (A0, A1, A2, B0, B1).
    tenants: Vec<(&'static str, Tenant)>,
    /// Each September day's report per tenant as the sync that closed it left it: the query,
    /// the tenants registered then, the rows.
    closed: Vec<(String, Vec<&'static str>, Vec<Row>)>,
}

impl Clouds {
    fn sim(&self, cloud: Cloud) -> &Simulator {
        match cloud {
            Cloud::A => &self.a.sim,
            Cloud::B => &self.b,
        }
    }

    /// Sets the cloud's clock to true time `at` as that cloud's Nova reads it.
    fn set_time(&self, cloud: Cloud, at: DateTime<Utc>) {
        match cloud {
            Cloud::A => self.a.sim.set_time(at),
            Cloud::B => self.b.set_time(at + skew_b(at)),
        }
    }

    async fn happen(&mut self, at: DateTime<Utc>, cloud: Cloud, change: Change) {
        self.set_time(cloud, at);
        if let Change::Register(i) = change {
            let (settings, label) = match cloud {
                Cloud::A => (self.cloud_a.clone(), ["A0", "A1", "A2"][i]),
                Cloud::B => (self.cloud_b.clone(), ["B0", "B1"][i]),
            };
            let tenant = register_tenant(&self.a, self.sim(cloud), &settings, i).await;
            self.tenants.push((label, tenant));
            return;
        }
        let sim = self.sim(cloud);
        let now = sim.now();
        match change {
            Change::Boot(mut server, volume) => {
                if let Some(volume) = volume {
                    server.volumes_attached = vec![volume.id.clone()];
                    sim.with_world(|w| w.volumes.push(volume));
                }
                sim.boot_server(server);
            }
            Change::Failed(mut server) => {
                server.status = "ERROR".into();
                server.created = now;
                server.updated = Some(now);
                sim.with_world(|w| w.servers.push(server));
            }
            Change::Act(id, action) => assert!(sim.act(id, action.clone()), "{id} {action:?}"),
            Change::Status(id, status) => assert!(sim.set_server_status(id, status), "{id}"),
            Change::RenameImage(id, name) => sim.with_world(|w| {
                let image = w.images.iter_mut().find(|i| i.id == id).expect(id);
                image.name = Some(name.into());
                image.updated_at = now;
            }),
            Change::DeleteImage(id) => sim.with_world(|w| {
                let before = w.images.len();
                w.images.retain(|i| i.id != id);
                assert!(w.images.len() < before, "{id}");
            }),
            Change::Register(_) => unreachable!("registered above"),
        }
    }
}

/// Registers a simulated cloud with its admin user.
async fn register_cloud(s: &SimApp, sim: &Simulator, name: &str, mode: &str) -> ServiceSettings {
    let r = s
        .app
        .post(
            "/api/service-settings/",
            json!({"name": name, "options": {"auth_url": sim.auth_url(), "sync_mode": mode},
                   "username": "admin", "password": "admin-password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.parse()
}

/// Registers the cloud's project `i` as a tenant.
async fn register_tenant(s: &SimApp, sim: &Simulator, cloud: &ServiceSettings, i: usize) -> Tenant {
    let p = sim.with_world(|w| w.projects[i].clone());
    let r = s
        .app
        .post(
            "/api/openstack-tenants/",
            json!({"name": p.name, "backend_id": p.id, "service_settings": cloud.url}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.parse()
}

/// Every midnight from Sep 1 to Oct 1, and two noons.
fn sync_times() -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = (0..=30).map(|d| h(24.0 * f64::from(d))).collect();
    times.extend([h(228.0), h(516.0)]);
    times.sort();
    times
}

/// The month, scripted and synced; the clouds as they are on Oct 1.
async fn scripted_month() -> Clouds {
    let (world_a, world_b) = (cloud_a(), cloud_b());
    let events = script(&world_a, &world_b);
    let first = sync_times()[0];
    let clock = Clock::manual(first);
    let a = SimApp::world(world_a)
        .unregistered()
        .engine(EngineOptions::fast().clock(clock.clone()))
        .start()
        .await;
    let b = Simulator::start(world_b).await.expect("simulator B starts");
    let cloud_a = register_cloud(&a, &a.sim, "log", "cloud").await;
    let cloud_b = register_cloud(&a, &b, "nolog", "per_tenant").await;
    let mut clouds = Clouds {
        a,
        b,
        cloud_a,
        cloud_b,
        tenants: Vec::new(),
        closed: Vec::new(),
    };
    for (label, cloud, i) in [
        ("A0", Cloud::A, 0),
        ("A1", Cloud::A, 1),
        ("B0", Cloud::B, 0),
    ] {
        let settings = match cloud {
            Cloud::A => clouds.cloud_a.clone(),
            Cloud::B => clouds.cloud_b.clone(),
        };
        let tenant = register_tenant(&clouds.a, clouds.sim(cloud), &settings, i).await;
        clouds.tenants.push((label, tenant));
    }

    let mut events = events.into_iter().peekable();
    for sync in sync_times() {
        while let Some((at, cloud, change)) = events.next_if(|(at, _, _)| *at < sync) {
            clouds.happen(at, cloud, change).await;
        }
        clouds.set_time(Cloud::A, sync);
        clouds.set_time(Cloud::B, sync);
        clock.set(sync);
        assert_eq!(
            clouds.a.sweep_ok().await.len(),
            clouds.tenants.len(),
            "{sync}"
        );
        if sync > first && sync == sync.duration_trunc(Duration::days(1)).unwrap() {
            clouds.close_day(sync - Duration::days(1)).await;
        }
    }
    assert!(events.next().is_none(), "every event happened");
    clouds
}

/// vCPUs, RAM GiB and disk GiB an hour of a size is billed at.
#[derive(Clone, Copy)]
struct Size(f64, f64, f64);

const S: Size = Size(1.0, 1.0, 10.0);
const E: Size = Size(2.0, 4.0, 30.0);
const L: Size = Size(4.0, 8.0, 40.0);
const S50: Size = Size(1.0, 1.0, 50.0);
const S80: Size = Size(1.0, 1.0, 80.0);
const L80: Size = Size(4.0, 8.0, 80.0);

/// A row's figures: (created, deleted, counted at the end, instance-h, vCPU-h, RAM GiB-h,
/// disk GiB-h).
type Figures = (i64, i64, i64, f64, f64, f64, f64);

/// The figures of instances created, deleted and counted at the end as given, and of `hours`
/// at each size.
fn fig(created: i64, deleted: i64, at_end: i64, hours: &[(f64, Size)]) -> Figures {
    let sum = |f: fn(&(f64, Size)) -> f64| hours.iter().map(f).sum::<f64>();
    (
        created,
        deleted,
        at_end,
        sum(|(h, _)| *h),
        sum(|(h, s)| h * s.0),
        sum(|(h, s)| h * s.1),
        sum(|(h, s)| h * s.2),
    )
}

const BASES: [&str; 3] = ["active", "running", "allocated"];

/// An expected row: its key, its period's start, and its figures per basis (active, running,
/// allocated).
type Want = (&'static str, &'static str, [Figures; 3]);

/// The same figures on every basis.
fn all(f: Figures) -> [Figures; 3] {
    [f, f, f]
}

fn figures(row: &Value) -> Figures {
    let f = |k: &str| row[k].as_f64().unwrap_or_else(|| panic!("{k} in {row}"));
    let i = |k: &str| row[k].as_i64().unwrap_or_else(|| panic!("{k} in {row}"));
    (
        i("instances_created"),
        i("instances_deleted"),
        i("instances_running_at_end"),
        f("instance_hours"),
        f("vcpu_hours"),
        f("ram_gib_hours"),
        f("disk_gib_hours"),
    )
}

impl Clouds {
    /// A row's key: the tenant's label, then the name and the image id, those grouped by,
    /// joined by `/`.
    fn key(&self, row: &Value) -> String {
        let mut parts = Vec::new();
        if let Some(uuid) = row["tenant_uuid"].as_str() {
            let (label, _) = self
                .tenants
                .iter()
                .find(|(_, t)| t.uuid == uuid)
                .unwrap_or_else(|| panic!("a known tenant in {row}"));
            parts.push(label.to_string());
        }
        for k in ["name", "image_id"] {
            if let Some(v) = row[k].as_str() {
                parts.push(v.to_string());
            }
        }
        parts.join("/")
    }

    /// The report for `query` on each basis equals `want`, rows sorted by key and period.
    /// The report's rows for `query`, sorted by key and period.
    async fn rows(&self, query: &str) -> Vec<Row> {
        let q = format!("{query}&page_size=300");
        let r = self
            .a
            .app
            .get(&format!("/api/openstack-images/usage_report/?{q}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
        let mut rows: Vec<Row> = r
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    self.key(row),
                    row["period_start"].as_str().unwrap().to_string(),
                    figures(row),
                )
            })
            .collect();
        rows.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
        rows
    }

    /// The report for `query` on each basis equals `want`.
    async fn assert_report(&self, query: &str, want: &[Want]) {
        for (b, basis) in BASES.iter().enumerate() {
            let q = format!("{query}&basis={basis}");
            let mut want: Vec<Row> = want
                .iter()
                .map(|(k, p, f)| (k.to_string(), p.to_string(), f[b]))
                .collect();
            want.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
            assert_eq!(self.rows(&q).await, want, "{q}");
        }
    }

    /// Each day's report per tenant, on every basis, as the midnight sync after it left it.
    async fn close_day(&mut self, day: DateTime<Utc>) {
        for basis in BASES {
            let q = format!(
                "{}&group_by=tenant&basis={basis}",
                sim::report_window(day, day + Duration::days(1))
            );
            let rows = self.rows(&q).await;
            let registered = self.tenants.iter().map(|(label, _)| *label).collect();
            self.closed.push((q, registered, rows));
        }
    }
}

/// A report row: its key, its period's start, its figures.
type Row = (String, String, Figures);

const MONTH: &str = "start=2026-09-01&end=2026-10-01";
const SEP_1: &str = "2026-09-01T00:00:00+00:00";

#[tokio::test]
async fn every_figure_of_every_basis_is_the_hand_computed_one() {
    let c = scripted_month().await;

    // By image name, the whole month.
    c.assert_report(
        &format!("{MONTH}&group_by=name"),
        &[
            // b-late.
            (
                "alma",
                SEP_1,
                [
                    fig(0, 0, 1, &[(576.0, L)]),
                    fig(0, 0, 1, &[(576.0, L)]),
                    fig(0, 0, 1, &[(720.0, L)]),
                ],
            ),
            // a-shelf until the rename was seen; not counted at the end (renamed since).
            (
                "centos",
                SEP_1,
                [
                    fig(0, 0, 0, &[(264.0, S)]),
                    fig(0, 0, 0, &[(264.0, S)]),
                    fig(0, 0, 0, &[(266.0, S)]),
                ],
            ),
            // a-shelf after its rebuild (deleted under this name), a-late.
            (
                "debian",
                SEP_1,
                [
                    fig(0, 1, 1, &[(173.0, S), (672.0, L)]),
                    fig(0, 1, 1, &[(173.0, S), (672.0, L)]),
                    fig(0, 1, 1, &[(173.0, S), (720.0, L)]),
                ],
            ),
            // a-vol, its disk its 50 GiB volume; in ERROR at the end after it ran: allocated.
            (
                "fedora",
                SEP_1,
                [
                    fig(1, 0, 0, &[(268.0, S50)]),
                    fig(1, 0, 0, &[(268.0, S50)]),
                    fig(1, 0, 1, &[(642.0, S50)]),
                ],
            ),
            // a-gone, its image deleted from Glance while it ran.
            ("old-linux", SEP_1, all(fig(1, 1, 0, &[(247.5, L)]))),
            // a-shelf between the rename and the rebuild.
            ("rocky", SEP_1, all(fig(0, 0, 0, &[(82.0, S)]))),
            // a-web, a-resize, a-err (created, never ran) on A; b-img, b-vol, b-dawn on B.
            // Created: a-resize, a-err, b-img, b-dawn; deleted: b-vol; at the end: a-web,
            // a-resize, b-img, b-dawn.
            (
                "ubuntu",
                SEP_1,
                [
                    fig(
                        4,
                        1,
                        4,
                        &[
                            (631.0, E),
                            (146.0, S),
                            (392.0, L),
                            (517.0, E),
                            (106.5, S80),
                            (469.5, L80),
                            (288.0, S),
                        ],
                    ),
                    fig(
                        4,
                        1,
                        4,
                        &[
                            (643.0, E),
                            (146.0, S),
                            (518.0, L),
                            (24.0, E),
                            (517.0, E),
                            (106.5, S80),
                            (493.5, L80),
                            (288.0, S),
                        ],
                    ),
                    fig(
                        4,
                        1,
                        4,
                        &[
                            (720.0, E),
                            (146.0, S),
                            (518.0, L),
                            (24.0, E),
                            (672.0, E),
                            (106.5, S80),
                            (493.5, L80),
                            (288.0, S),
                        ],
                    ),
                ],
            ),
        ],
    )
    .await;

    // By image: one row per Glance id, named as the image last was within the month.
    c.assert_report(
        &format!("{MONTH}&group_by=image"),
        &[
            (
                "alma/img-alma",
                SEP_1,
                [
                    fig(0, 0, 1, &[(576.0, L)]),
                    fig(0, 0, 1, &[(576.0, L)]),
                    fig(0, 0, 1, &[(720.0, L)]),
                ],
            ),
            // a-shelf as centos and as rocky: 264 + 82 (allocated 266 + 82).
            (
                "debian/img-d",
                SEP_1,
                [
                    fig(0, 1, 1, &[(173.0, S), (672.0, L)]),
                    fig(0, 1, 1, &[(173.0, S), (672.0, L)]),
                    fig(0, 1, 1, &[(173.0, S), (720.0, L)]),
                ],
            ),
            (
                "fedora/img-f",
                SEP_1,
                [
                    fig(1, 0, 0, &[(268.0, S50)]),
                    fig(1, 0, 0, &[(268.0, S50)]),
                    fig(1, 0, 1, &[(642.0, S50)]),
                ],
            ),
            ("old-linux/img-old", SEP_1, all(fig(1, 1, 0, &[(247.5, L)]))),
            (
                "rocky/img-c",
                SEP_1,
                [
                    fig(0, 0, 0, &[(264.0 + 82.0, S)]),
                    fig(0, 0, 0, &[(264.0 + 82.0, S)]),
                    fig(0, 0, 0, &[(266.0 + 82.0, S)]),
                ],
            ),
            // Cloud A's: a-web, a-resize, a-err.
            (
                "ubuntu/img-u",
                SEP_1,
                [
                    fig(2, 0, 2, &[(631.0, E), (146.0, S), (392.0, L)]),
                    fig(2, 0, 2, &[(643.0, E), (146.0, S), (518.0, L), (24.0, E)]),
                    fig(2, 0, 2, &[(720.0, E), (146.0, S), (518.0, L), (24.0, E)]),
                ],
            ),
            // Cloud B's: b-img, b-vol, b-dawn.
            (
                "ubuntu/img-ub",
                SEP_1,
                [
                    fig(
                        2,
                        1,
                        2,
                        &[(517.0, E), (106.5, S80), (469.5, L80), (288.0, S)],
                    ),
                    fig(
                        2,
                        1,
                        2,
                        &[(517.0, E), (106.5, S80), (493.5, L80), (288.0, S)],
                    ),
                    fig(
                        2,
                        1,
                        2,
                        &[(672.0, E), (106.5, S80), (493.5, L80), (288.0, S)],
                    ),
                ],
            ),
        ],
    )
    .await;

    c.assert_report(
        &format!("{MONTH}&group_by=tenant"),
        &by_tenant_in_september(),
    )
    .await;

    // August and September per tenant: the servers first seen on Sep 1, and the two first
    // seen on Sep 20, keep their August.
    let mut months: Vec<Want> = vec![
        // a-web from its launch on Aug 20.
        (
            "A0",
            "2026-08-01T00:00:00+00:00",
            all(fig(1, 0, 1, &[(288.0, E)])),
        ),
        // a-shelf all August.
        (
            "A1",
            "2026-08-01T00:00:00+00:00",
            all(fig(1, 0, 1, &[(744.0, S)])),
        ),
        // a-late from its create, replayed from its log, at L.
        (
            "A2",
            "2026-08-01T00:00:00+00:00",
            [
                fig(1, 0, 1, &[(240.0 + 72.0 + 134.0, L)]),
                fig(1, 0, 1, &[(240.0 + 72.0 + 24.0 + 134.0, L)]),
                fig(1, 0, 1, &[(240.0 + 48.0 + 72.0 + 24.0 + 134.0, L)]),
            ],
        ),
        // b-vol from its launch, Aug 15 00:30 in B's clock.
        (
            "B0",
            "2026-08-01T00:00:00+00:00",
            all(fig(1, 0, 1, &[(407.5, S80)])),
        ),
        // b-late from its `launched_at`, reset by the resize: Aug 28 10:30 in B's clock.
        (
            "B1",
            "2026-08-01T00:00:00+00:00",
            all(fig(1, 0, 1, &[(85.5, L)])),
        ),
    ];
    months.extend(by_tenant_in_september());
    c.assert_report(
        "start=2026-08-01&end=2026-10-01&group_by=tenant&period=month",
        &months,
    )
    .await;

    // Per day, ubuntu only, Sep 2–4: a-resize's creation, b-img's launch as the skewed clock
    // and the sync date it, a-web's three changes on Sep 3.
    let (sep_2, sep_3, sep_4) = (
        "2026-09-02T00:00:00+00:00",
        "2026-09-03T00:00:00+00:00",
        "2026-09-04T00:00:00+00:00",
    );
    c.assert_report(
        "start=2026-09-02&end=2026-09-05&period=day&name_exact=ubuntu",
        &[
            // a-web 24 h E, a-resize h32–h48 S (created), b-vol 24 h S80; b-img starts at the
            // sync h48, the day's end.
            (
                "ubuntu",
                sep_2,
                all(fig(1, 0, 3, &[(24.0, E), (16.0, S), (24.0, S80)])),
            ),
            // a-web ACTIVE h48–h58 and h62–h68 (16 h), SHUTOFF 4 h, PAUSED h68–h72 (4 h);
            // b-img all day (created h48.25 in B's clock); a-resize, b-vol all day.
            (
                "ubuntu",
                sep_3,
                [
                    fig(1, 0, 3, &[(16.0 + 24.0, E), (24.0, S), (24.0, S80)]),
                    fig(1, 0, 3, &[(16.0 + 24.0, E), (24.0, S), (24.0, S80)]),
                    fig(1, 0, 4, &[(24.0 + 24.0, E), (24.0, S), (24.0, S80)]),
                ],
            ),
            // a-web PAUSED all day: allocated only.
            (
                "ubuntu",
                sep_4,
                [
                    fig(0, 0, 3, &[(24.0, E), (24.0, S), (24.0, S80)]),
                    fig(0, 0, 3, &[(24.0, E), (24.0, S), (24.0, S80)]),
                    fig(0, 0, 4, &[(24.0 + 24.0, E), (24.0, S), (24.0, S80)]),
                ],
            ),
        ],
    )
    .await;

    // Per day and tenant, Sep 25–26: a-resize reverted at 08:00 on the 25th; b-vol's end
    // dated by the sync at h600, and its deletion with it.
    let (sep_25, sep_26) = ("2026-09-25T00:00:00+00:00", "2026-09-26T00:00:00+00:00");
    c.assert_report(
        "start=2026-09-25&end=2026-09-27&period=day&group_by=tenant",
        &[
            // a-web 24 h E; a-resize VR h576–h584 at E, then ACTIVE at L.
            (
                "A0",
                sep_25,
                [
                    fig(0, 0, 2, &[(24.0, E), (16.0, L)]),
                    fig(0, 0, 2, &[(24.0 + 8.0, E), (16.0, L)]),
                    fig(0, 0, 2, &[(24.0 + 8.0, E), (16.0, L)]),
                ],
            ),
            ("A0", sep_26, all(fig(0, 0, 2, &[(24.0, E), (24.0, L)]))),
            // a-shelf 24 h S; a-vol in ERROR: allocated only.
            (
                "A1",
                sep_25,
                [
                    fig(0, 0, 1, &[(24.0, S)]),
                    fig(0, 0, 1, &[(24.0, S)]),
                    fig(0, 0, 2, &[(24.0, S), (24.0, S50)]),
                ],
            ),
            (
                "A1",
                sep_26,
                [
                    fig(0, 0, 1, &[(24.0, S)]),
                    fig(0, 0, 1, &[(24.0, S)]),
                    fig(0, 0, 2, &[(24.0, S), (24.0, S50)]),
                ],
            ),
            ("A2", sep_25, all(fig(0, 0, 1, &[(24.0, L)]))),
            ("A2", sep_26, all(fig(0, 0, 1, &[(24.0, L)]))),
            // b-img and b-dawn all day; b-vol until the sync h600, the day's end, so counted
            // at it; its deletion where its hours end, on the 26th (its `terminated_at`, Sep
            // 25 23:50 in B's clock, is before the sync h600 that listed it live).
            (
                "B0",
                sep_25,
                all(fig(0, 0, 3, &[(24.0, E), (24.0, L80), (24.0, S)])),
            ),
            ("B0", sep_26, all(fig(0, 1, 2, &[(24.0, E), (24.0, S)]))),
            ("B1", sep_25, all(fig(0, 0, 1, &[(24.0, L)]))),
            ("B1", sep_26, all(fig(0, 0, 1, &[(24.0, L)]))),
        ],
    )
    .await;

    c.b.stop().await;
    c.a.stop().await;
}

/// Once every tenant has synced past a day, the day's figures never change: whatever is
/// stopped, deleted, renamed later, and whatever the skewed clock stamps (b-vol's
/// `terminated_at` before the sync that last listed it counts its deletion on the day its
/// hours end; b-dawn's `created` and `launched_at` before the sync that did not list it yet
/// count its creation and hours from that sync). Tenants registered later bring their earlier history with them: their rows
/// are left out of the days closed before they were first synced.
#[tokio::test]
async fn a_day_every_tenant_synced_past_keeps_its_figures() {
    let c = scripted_month().await;
    assert_eq!(
        c.closed.len(),
        30 * BASES.len(),
        "every September day, every basis"
    );
    for (query, registered, then) in &c.closed {
        let now: Vec<Row> = c
            .rows(query)
            .await
            .into_iter()
            .filter(|(key, _, _)| registered.contains(&key.as_str()))
            .collect();
        assert_eq!(&now, then, "{query}");
    }
    c.b.stop().await;
    c.a.stop().await;
}

/// A stretch as the test names it: status, from and to (hours since Sep 1), how its start
/// was dated.
type Stint = (String, f64, Option<f64>, &'static str);

fn stint(status: &str, from: f64, to: Option<f64>, by: &'static str) -> Stint {
    (status.into(), from, to, by)
}

impl Clouds {
    /// The recorded stretches of the server `id`.
    async fn life(&self, id: &str) -> Vec<Stint> {
        let hours = |at: DateTime<Utc>| (at - h(0.0)).num_minutes() as f64 / 60.0;
        self.a
            .app
            .intervals_of(id)
            .await
            .into_iter()
            .map(|i| {
                (
                    i.status.to_string(),
                    hours(i.started_at),
                    i.ended_at.map(hours),
                    i.started_by.map_or("-", |b| b.as_str()),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn each_boundary_is_dated_as_the_clock_and_the_log_allow() {
    let c = scripted_month().await;
    // The log dates each of a-web's changes, several between two syncs; reboot and live
    // migration change no status.
    let web = c.life("a-web").await;
    assert_eq!(
        web[1..],
        [
            stint("SHUTOFF", 58.0, Some(62.0), "action"),
            stint("ACTIVE", 62.0, Some(68.0), "action"),
            stint("PAUSED", 68.0, Some(102.0), "action"),
            stint("ACTIVE", 102.0, Some(114.0), "action"),
            stint("SUSPENDED", 114.0, Some(153.0), "action"),
            stint("ACTIVE", 153.0, Some(222.0), "action"),
            stint("RESCUE", 222.0, Some(234.0), "action"),
            stint("ACTIVE", 234.0, None, "action"),
        ]
    );
    // First seen on Sep 20 with its log: from its create (a resize reset `launched_at`).
    assert_eq!(
        c.life("a-late").await,
        [
            stint("ACTIVE", -504.0 - 14.0, Some(-264.0 - 14.0), "action"),
            stint("SHUTOFF", -278.0, Some(-230.0), "action"),
            stint("ACTIVE", -230.0, Some(-158.0), "action"),
            stint("VERIFY_RESIZE", -158.0, Some(-134.0), "action"),
            stint("ACTIVE", -134.0, Some(274.0), "action"),
            stint("SHUTOFF", 274.0, Some(322.0), "action"),
            stint("ACTIVE", 322.0, None, "action"),
        ]
    );
    // B's clock ahead: a launch and a start stamped after the sync that saw them are dated
    // by that sync, a stop 30 minutes late; behind: a suspend stamped before the previous
    // sync is dated by it, a resume 30 minutes early. The pause undone before the next sync
    // leaves no trace without the log.
    assert_eq!(
        c.life("b-img").await,
        [
            stint("ACTIVE", 48.0, Some(178.5), "sync"),
            stint("SHUTOFF", 178.5, Some(228.0), "updated"),
            stint("ACTIVE", 228.0, Some(384.0), "sync"),
            stint("SUSPENDED", 384.0, Some(489.5), "sync"),
            stint("ACTIVE", 489.5, None, "updated"),
        ]
    );
    // First seen (Sep 1) from its launch in B's clock; its end, stamped before the previous
    // sync, dated by that sync.
    let b_vol = c.life("b-vol").await;
    assert_eq!(
        b_vol,
        [
            stint("ACTIVE", -408.0 + 0.5, Some(106.5), "server"),
            stint("VERIFY_RESIZE", 106.5, Some(130.5), "updated"),
            stint("ACTIVE", 130.5, Some(600.0), "updated"),
        ]
    );
    assert_eq!(
        c.a.app.intervals_of("b-vol").await[2]
            .ended_by
            .map(|b| b.as_str()),
        Some("sync")
    );
    // First seen on Sep 20 (h456), booted after the sync h432 but stamped before it (B's
    // clock behind): from that sync, which dates it.
    assert_eq!(
        c.life("b-dawn").await,
        [stint("ACTIVE", 432.0, None, "sync")]
    );
    // First seen on Sep 20 without the log: ACTIVE from the reset `launched_at` to its last
    // change.
    assert_eq!(
        c.life("b-late").await,
        [
            stint("ACTIVE", -85.5, Some(369.5), "server"),
            stint("SHUTOFF", 369.5, Some(513.5), "updated"),
            stint("ACTIVE", 513.5, None, "updated"),
        ]
    );
    c.b.stop().await;
    c.a.stop().await;
}

/// September per tenant.
fn by_tenant_in_september() -> Vec<Want> {
    vec![
        // a-web, a-resize, a-err, a-gone. Created a-resize, a-err, a-gone; deleted a-gone; at
        // the end a-web, a-resize.
        (
            "A0",
            SEP_1,
            [
                fig(3, 1, 2, &[(631.0, E), (146.0, S), (392.0, L), (247.5, L)]),
                fig(
                    3,
                    1,
                    2,
                    &[(643.0, E), (146.0, S), (518.0, L), (24.0, E), (247.5, L)],
                ),
                fig(
                    3,
                    1,
                    2,
                    &[(720.0, E), (146.0, S), (518.0, L), (24.0, E), (247.5, L)],
                ),
            ],
        ),
        // a-shelf (264 + 82 + 173 = 519 h S, SHELVED 2 h more allocated; deleted), a-vol
        // (created; ERROR at the end: allocated).
        (
            "A1",
            SEP_1,
            [
                fig(1, 1, 0, &[(519.0, S), (268.0, S50)]),
                fig(1, 1, 0, &[(519.0, S), (268.0, S50)]),
                fig(1, 1, 1, &[(521.0, S), (642.0, S50)]),
            ],
        ),
        // a-late.
        (
            "A2",
            SEP_1,
            [
                fig(0, 0, 1, &[(672.0, L)]),
                fig(0, 0, 1, &[(672.0, L)]),
                fig(0, 0, 1, &[(720.0, L)]),
            ],
        ),
        // b-img (created), b-vol (deleted), b-dawn (created).
        (
            "B0",
            SEP_1,
            [
                fig(
                    2,
                    1,
                    2,
                    &[(517.0, E), (106.5, S80), (469.5, L80), (288.0, S)],
                ),
                fig(
                    2,
                    1,
                    2,
                    &[(517.0, E), (106.5, S80), (493.5, L80), (288.0, S)],
                ),
                fig(
                    2,
                    1,
                    2,
                    &[(672.0, E), (106.5, S80), (493.5, L80), (288.0, S)],
                ),
            ],
        ),
        // b-late.
        (
            "B1",
            SEP_1,
            [
                fig(0, 0, 1, &[(576.0, L)]),
                fig(0, 0, 1, &[(576.0, L)]),
                fig(0, 0, 1, &[(720.0, L)]),
            ],
        ),
    ]
}
