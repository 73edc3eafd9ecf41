//! Deterministic worlds: `generate` for tests and benchmarks (N projects × M images × K
//! servers from a seed), `demo` for a newcomer's first look.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::world::{Image, Member, Project, Server, User, World};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSpec {
    pub projects: usize,
    pub images_per_project: usize,
    pub servers_per_project: usize,
    pub seed: u64,
}

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password";

const DISTROS: &[(&str, &[&str])] = &[
    ("ubuntu", &["20.04", "22.04", "24.04"]),
    ("debian", &["11", "12"]),
    ("rocky", &["8", "9"]),
    ("almalinux", &["9"]),
    ("fedora", &["39", "40"]),
    ("centos-stream", &["9"]),
    ("cirros", &["0.6.2"]),
    ("opensuse-leap", &["15.5"]),
    ("windows-server", &["2019", "2022"]),
];

const PROJECT_WORDS: &[&str] = &[
    "analytics",
    "billing",
    "ci",
    "data",
    "edge",
    "frontend",
    "genomics",
    "hpc",
    "iot",
    "ml",
];

const SERVER_STATUSES: &[(&str, u32)] = &[
    ("ACTIVE", 60),
    ("SHUTOFF", 20),
    ("ERROR", 5),
    ("PAUSED", 4),
    ("SUSPENDED", 4),
    ("BUILD", 4),
    ("SHELVED_OFFLOADED", 3),
];

fn hex_id(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .simple()
        .to_string()
}

fn glance_id(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn weighted<'a>(rng: &mut StdRng, table: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (value, weight) in table {
        if pick < *weight {
            return value;
        }
        pick -= weight;
    }
    table[0].0
}

/// Builds images with a clock that only moves forward, so listing order is unambiguous.
struct ImageFactory {
    rng: StdRng,
    clock: DateTime<Utc>,
}

impl ImageFactory {
    fn distro(&mut self) -> (&'static str, &'static str) {
        let (distro, versions) = DISTROS[self.rng.random_range(0..DISTROS.len())];
        (distro, versions[self.rng.random_range(0..versions.len())])
    }

    fn image(&mut self, owner: &str, visibility: &str, name: Option<String>) -> Image {
        self.clock += Duration::seconds(self.rng.random_range(1..600));
        let (distro, version) = self.distro();
        let mut properties = BTreeMap::new();
        properties.insert("os_distro".to_string(), distro.to_string());
        properties.insert("os_version".to_string(), version.to_string());
        if self.rng.random_bool(0.3) {
            properties.insert("hw_disk_bus".into(), "scsi".into());
        }
        let size = self.rng.random_range(12..8_000) * 1024 * 1024;
        Image {
            id: glance_id(&mut self.rng),
            name,
            owner: owner.to_string(),
            visibility: visibility.to_string(),
            members: Vec::new(),
            os_hidden: false,
            status: "active".into(),
            min_disk: [0, 1, 5, 10, 20, 40][self.rng.random_range(0..6)],
            min_ram: [0, 512, 1024, 2048, 4096][self.rng.random_range(0..5)],
            size: Some(size),
            checksum: Some(format!("{:032x}", self.rng.random::<u128>())),
            disk_format: Some(
                if distro == "windows-server" {
                    "raw"
                } else {
                    "qcow2"
                }
                .into(),
            ),
            container_format: Some("bare".into()),
            protected: false,
            tags: Vec::new(),
            created_at: self.clock,
            updated_at: self.clock + Duration::seconds(self.rng.random_range(0..3600)),
            properties,
        }
    }

    fn distro_name(&mut self) -> String {
        let (distro, version) = self.distro();
        format!("{distro}-{version}")
    }
}

impl World {
    /// `projects` projects, each owning `images_per_project` images and running
    /// `servers_per_project` servers. Users: `admin`/`admin-password` (admin on every project)
    /// and `user-<i>`/`password-<i>` (member of project i). The first images of every project
    /// cover the cases tests look for: a plain private image, a public rescue image, an image
    /// without a name, a hidden image, an image shared with the next project, a community
    /// image; the rest are drawn at random with the same mix.
    pub fn generate(spec: &GenSpec) -> World {
        let mut rng = StdRng::seed_from_u64(spec.seed);
        let mut world = World::default();
        for i in 0..spec.projects {
            let word = PROJECT_WORDS[(i + spec.seed as usize) % PROJECT_WORDS.len()];
            world.projects.push(Project {
                id: hex_id(&mut rng),
                name: format!("{word}-{i}"),
                domain_id: "default".into(),
                enabled: true,
                tags: Vec::new(),
                description: String::new(),
            });
        }
        let project_ids: Vec<String> = world.projects.iter().map(|p| p.id.clone()).collect();
        world.users.push(User {
            id: hex_id(&mut rng),
            name: ADMIN_USER.into(),
            password: ADMIN_PASSWORD.into(),
            domain_id: "default".into(),
            projects: project_ids.clone(),
            admin: true,
            enabled: true,
        });
        for (i, project) in project_ids.iter().enumerate() {
            world.users.push(User {
                id: hex_id(&mut rng),
                name: format!("user-{i}"),
                password: format!("password-{i}"),
                domain_id: "default".into(),
                projects: vec![project.clone()],
                admin: false,
                enabled: true,
            });
        }

        let mut factory = ImageFactory {
            rng: StdRng::seed_from_u64(spec.seed.wrapping_add(1)),
            clock: epoch(),
        };
        for (p, owner) in project_ids.iter().enumerate() {
            let neighbour = project_ids
                .get((p + 1) % project_ids.len())
                .filter(|n| *n != owner);
            for j in 0..spec.images_per_project {
                let image = generated_image(&mut factory, owner, neighbour, &project_ids, j);
                world.images.push(image);
            }
        }

        let mut srng = StdRng::seed_from_u64(spec.seed.wrapping_add(2));
        let mut clock = epoch() + Duration::days(30);
        for owner in &project_ids {
            let bootable: Vec<String> = world
                .images
                .iter()
                .filter(|i| i.status == "active" && (&i.owner == owner || i.visibility == "public"))
                .map(|i| i.id.clone())
                .collect();
            for k in 0..spec.servers_per_project {
                clock += Duration::seconds(srng.random_range(1..900));
                let from_volume = bootable.is_empty() || srng.random_bool(0.1);
                world.servers.push(Server {
                    id: glance_id(&mut srng),
                    name: format!("vm-{k}"),
                    project_id: owner.clone(),
                    image_id: if from_volume {
                        None
                    } else {
                        Some(bootable[srng.random_range(0..bootable.len())].clone())
                    },
                    status: weighted(&mut srng, SERVER_STATUSES).into(),
                    created: clock,
                    ..Default::default()
                });
            }
        }
        world
    }

    /// A public cloud as a newcomer would recognise it: distro images in several versions
    /// (older ones hidden), rescue images, private and shared team images, and servers.
    pub fn demo() -> World {
        let mut world = World::generate(&GenSpec {
            projects: 4,
            images_per_project: 0,
            servers_per_project: 0,
            seed: 2026,
        });
        let names = ["admin", "web-shop", "data-science", "ci-runners"];
        for (p, name) in world.projects.iter_mut().zip(names) {
            p.name = name.into();
        }
        let ids: Vec<String> = world.projects.iter().map(|p| p.id.clone()).collect();
        let mut f = ImageFactory {
            rng: StdRng::seed_from_u64(2026),
            clock: epoch(),
        };
        // Public distro images, three builds each: the older builds are hidden.
        for (distro, versions) in DISTROS {
            for version in *versions {
                for build in 0..3 {
                    let mut img = f.image(&ids[0], "public", Some(format!("{distro}-{version}")));
                    img.properties
                        .insert("os_distro".into(), distro.to_string());
                    img.properties
                        .insert("os_version".into(), version.to_string());
                    img.properties
                        .insert("build".into(), format!("2026{:02}01", 3 + build * 3));
                    img.os_hidden = build < 2 && f.rng.random_bool(0.5);
                    world.images.push(img);
                }
            }
        }
        for (name, device) in [
            ("systemrescue-11", "cdrom"),
            ("ubuntu-24.04-rescue", "disk"),
        ] {
            let mut img = f.image(&ids[0], "public", Some(name.into()));
            img.properties
                .insert("hw_rescue_device".into(), device.into());
            img.properties
                .insert("hw_rescue_bus".into(), "virtio".into());
            world.images.push(img);
        }
        let mut deleting = f.image(&ids[0], "public", Some("debian-10".into()));
        deleting.status = "deactivated".into();
        world.images.push(deleting);
        for (p, team) in ids.iter().enumerate().skip(1) {
            for n in 0..12 {
                let visibility = if n % 5 == 0 { "shared" } else { "private" };
                let name = format!("{}-app-v{}", names[p], n / 3);
                let mut img = f.image(team, visibility, Some(name));
                if visibility == "shared" {
                    let other = &ids[1 + p % (ids.len() - 1)];
                    img.members.push(Member {
                        project_id: other.clone(),
                        status: if n % 2 == 0 { "accepted" } else { "pending" }.into(),
                    });
                }
                if n == 11 {
                    img.status = "queued".into();
                }
                world.images.push(img);
            }
        }
        let mut community = f.image(&ids[2], "community", Some("jupyter-gpu".into()));
        community
            .properties
            .insert("description".into(), "JupyterLab with CUDA".into());
        world.images.push(community);
        let mut unnamed = f.image(&ids[3], "private", None);
        unnamed
            .properties
            .insert("description".into(), "runner snapshot".into());
        world.images.push(unnamed);

        let mut rng = StdRng::seed_from_u64(7);
        let mut clock = epoch() + Duration::days(60);
        for (p, project) in ids.iter().enumerate() {
            let bootable: Vec<String> = world
                .images
                .iter()
                .filter(|i| {
                    i.status == "active" && (&i.owner == project || i.visibility == "public")
                })
                .map(|i| i.id.clone())
                .collect();
            for k in 0..(6 + 4 * p) {
                clock += Duration::minutes(rng.random_range(1..600));
                world.servers.push(Server {
                    id: glance_id(&mut rng),
                    name: format!("{}-{k}", names[p]),
                    project_id: project.clone(),
                    image_id: if k % 7 == 6 {
                        None
                    } else {
                        Some(bootable[rng.random_range(0..bootable.len())].clone())
                    },
                    status: weighted(&mut rng, SERVER_STATUSES).into(),
                    created: clock,
                    ..Default::default()
                });
            }
        }
        world
    }
}

fn generated_image(
    f: &mut ImageFactory,
    owner: &str,
    neighbour: Option<&String>,
    all: &[String],
    j: usize,
) -> Image {
    // The first few images of a project are fixed cases; the rest follow a random mix.
    let case = if j < 6 { j } else { 6 };
    let named = Some(f.distro_name());
    match case {
        0 => f.image(owner, "private", named),
        1 => {
            let name = format!("rescue-{}", f.distro_name());
            rescue(f.image(owner, "public", Some(name)))
        }
        2 => {
            let mut img = f.image(owner, "private", None);
            img.properties
                .insert("description".into(), format!("snapshot {j}"));
            img
        }
        3 => {
            let mut img = f.image(owner, "private", named);
            img.os_hidden = true;
            img
        }
        4 => share(f.image(owner, "shared", named), neighbour, "accepted"),
        5 => f.image(owner, "community", named),
        _ => {
            let roll = f.rng.random_range(0..100);
            let mut img = match roll {
                0..=59 => f.image(owner, "private", named),
                60..=74 => {
                    let status =
                        ["accepted", "accepted", "pending", "rejected"][f.rng.random_range(0..4)];
                    let other = all
                        .get(f.rng.random_range(0..all.len()))
                        .filter(|o| *o != owner);
                    let img = f.image(owner, "shared", named);
                    share(img, other, status)
                }
                75..=81 => f.image(owner, "community", named),
                _ => f.image(owner, "public", named),
            };
            let extra = f.rng.random_range(0..100);
            match extra {
                0..=2 => img.os_hidden = true,
                3..=4 => {
                    img.name = None;
                    img.properties
                        .insert("description".into(), format!("snapshot {j}"));
                }
                5..=7 => img = rescue(img),
                8..=9 => img.status = "queued".into(),
                10 => img.status = "deactivated".into(),
                11 => img.status = "pending_delete".into(),
                12 => img.status = "deleted".into(),
                _ => {}
            }
            img
        }
    }
}

fn rescue(mut img: Image) -> Image {
    img.properties
        .insert("hw_rescue_device".into(), "cdrom".into());
    img.properties.insert("hw_rescue_bus".into(), "scsi".into());
    img
}

fn share(mut img: Image, with: Option<&String>, status: &str) -> Image {
    if let Some(project) = with {
        img.members.push(Member {
            project_id: project.clone(),
            status: status.into(),
        });
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_covers_the_cases() {
        let spec = GenSpec {
            projects: 3,
            images_per_project: 200,
            servers_per_project: 20,
            seed: 9,
        };
        let a = World::generate(&spec);
        assert_eq!(a, World::generate(&spec));
        assert_eq!(a.images.len(), 600);
        assert_eq!(a.servers.len(), 60);
        assert_eq!(a.users.len(), 4);
        assert!(a.images.iter().any(|i| i.name.is_none()));
        assert!(a.images.iter().any(|i| i.os_hidden));
        assert!(
            a.images
                .iter()
                .any(|i| i.properties.contains_key("hw_rescue_device"))
        );
        assert!(a.images.iter().any(|i| !i.members.is_empty()));
        assert!(a.servers.iter().any(|s| s.image_id.is_none()));
        let mut ids: Vec<_> = a.images.iter().map(|i| &i.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 600, "ids are unique");
    }

    #[test]
    fn the_demo_has_rescue_hidden_shared_and_unnamed_images() {
        let d = World::demo();
        assert_eq!(d.projects.len(), 4);
        assert!(d.images.len() > 80);
        assert!(d.images.iter().any(|i| i.os_hidden));
        assert!(
            d.images
                .iter()
                .any(|i| i.properties.contains_key("hw_rescue_device"))
        );
        assert!(d.images.iter().any(|i| i.visibility == "shared"));
        assert!(d.images.iter().any(|i| i.name.is_none()));
        assert!(d.servers.len() > 20);
    }
}
