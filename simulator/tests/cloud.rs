//! The simulator's cloud-wide endpoints speak the OpenStack wire formats: Nova's and Cinder's
//! `all_tenants` listings, Glance's image members and Keystone's project listing, each for
//! admins and refused to others as the services' default policies do. Over real sockets.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cloudcensus_sim::{ADMIN_PASSWORD, ADMIN_USER, GenSpec, Image, Simulator, Volume, World};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A token scoped to `project`, with its catalog's public URLs.
struct Login {
    token: String,
    catalog: Value,
}

impl Login {
    fn url(&self, kind: &str) -> String {
        self.catalog
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("{kind} in the catalog"))["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["interface"] == "public")
            .unwrap()["url"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn get(&self, url: &str) -> (StatusCode, Value) {
        let resp = http()
            .get(url)
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

async fn login(sim: &Simulator, user: &str, password: &str, project: &str) -> Login {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"id": project}}}});
    let resp = http()
        .post(format!("{}/auth/tokens", sim.auth_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = resp.headers()["X-Subject-Token"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = resp.json().await.unwrap();
    Login {
        token,
        catalog: body["token"]["catalog"].clone(),
    }
}

/// `user-<i>` on project `i`.
async fn member_of(sim: &Simulator, i: usize) -> Login {
    let project = sim.with_world(|w| w.projects[i].id.clone());
    login(
        sim,
        &format!("user-{i}"),
        &format!("password-{i}"),
        &project,
    )
    .await
}

/// The admin, scoped to project 0.
async fn admin(sim: &Simulator) -> Login {
    let project = sim.with_world(|w| w.projects[0].id.clone());
    login(sim, ADMIN_USER, ADMIN_PASSWORD, &project).await
}

fn world(projects: usize, servers: usize) -> World {
    World::generate(&GenSpec {
        projects,
        images_per_project: 0,
        servers_per_project: servers,
        seed: 11,
    })
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of a listing whose next link is absolute: the page sizes and the entries.
async fn follow(
    c: &Login,
    first: String,
    key: &str,
    next_of: impl Fn(&Value) -> Option<String>,
) -> (Vec<usize>, Vec<Value>) {
    let (mut sizes, mut all) = (Vec::new(), Vec::new());
    let mut url = Some(first);
    while let Some(u) = url {
        let (status, page) = c.get(&u).await;
        assert_eq!(status, StatusCode::OK, "{u}: {page}");
        let entries = page[key].as_array().unwrap();
        sizes.push(entries.len());
        all.extend(entries.iter().cloned());
        url = next_of(&page);
        if let Some(next) = &url {
            assert!(next.starts_with("http://127.0.0.1:"), "{next}");
        }
        assert!(sizes.len() < 20, "the listing ends");
    }
    (sizes, all)
}

fn rel_next(key: &'static str) -> impl Fn(&Value) -> Option<String> {
    move |page| {
        page[key].as_array().and_then(|links| {
            links
                .iter()
                .find(|l| l["rel"] == "next")
                .and_then(|l| l["href"].as_str())
                .map(String::from)
        })
    }
}

#[tokio::test]
async fn nova_all_tenants_lists_every_projects_servers_to_admins_only() {
    let sim = Simulator::start(world(3, 5)).await.unwrap();
    let projects: Vec<String> =
        sim.with_world(|w| w.projects.iter().map(|p| p.id.clone()).collect());
    let admin = admin(&sim).await;
    let compute = admin.url("compute");

    let (status, page) = admin
        .get(&format!("{compute}/servers/detail?all_tenants=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let servers = page["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 15);
    let tenants: BTreeSet<&str> = servers
        .iter()
        .map(|s| s["tenant_id"].as_str().unwrap())
        .collect();
    assert_eq!(tenants, projects.iter().map(String::as_str).collect());
    // Without the flag an admin lists its own project's, as Nova does.
    let (_, own) = admin.get(&format!("{compute}/servers/detail")).await;
    assert_eq!(own["servers"].as_array().unwrap().len(), 5);
    let (_, off) = admin
        .get(&format!("{compute}/servers/detail?all_tenants=false"))
        .await;
    assert_eq!(off["servers"].as_array().unwrap().len(), 5);
    let (_, empty) = admin
        .get(&format!("{compute}/servers/detail?all_tenants="))
        .await;
    assert_eq!(
        empty["servers"].as_array().unwrap().len(),
        15,
        "empty means true"
    );
    let (status, _) = admin
        .get(&format!("{compute}/servers/detail?all_tenants=maybe"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let user = member_of(&sim, 1).await;
    let (status, err) = user
        .get(&format!(
            "{}/servers/detail?all_tenants=1",
            user.url("compute")
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(err["forbidden"]["message"].is_string(), "{err}");
    let (status, own) = user
        .get(&format!(
            "{}/servers/detail?all_tenants=0",
            user.url("compute")
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        own["servers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["tenant_id"] == projects[1].as_str())
    );
    sim.stop().await;
}

#[tokio::test]
async fn nova_all_tenants_pages_across_projects_and_filters_changes_since() {
    let sim = Simulator::start(world(3, 5)).await.unwrap();
    let admin = admin(&sim).await;
    let compute = admin.url("compute");
    let want: BTreeSet<String> =
        sim.with_world(|w| w.servers.iter().map(|s| s.id.clone()).collect());

    // Markers from other projects than the token's are servers of this listing.
    let (sizes, all) = follow(
        &admin,
        format!("{compute}/servers/detail?all_tenants=1&limit=4"),
        "servers",
        |page| {
            let next = rel_next("servers_links")(page)?;
            assert!(
                next.contains("all_tenants=1"),
                "next keeps the scope: {next}"
            );
            Some(next)
        },
    )
    .await;
    assert_eq!(sizes, [4, 4, 4, 3]);
    let listed = ids(&Value::Array(all));
    assert_eq!(listed.len(), 15, "no server twice");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), want);

    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let changed: BTreeSet<String> = sim.with_world(|w| {
        for s in &mut w.servers {
            s.updated = Some(t("2026-11-01T00:00:00Z"));
        }
        let p0 = w.projects[0].id.clone();
        let mut changed = BTreeSet::new();
        for s in w
            .servers
            .iter_mut()
            .filter(|s| s.project_id != p0)
            .step_by(4)
        {
            s.updated = Some(t("2026-11-30T12:00:00Z"));
            changed.insert(s.id.clone());
        }
        changed
    });
    assert_eq!(changed.len(), 3);
    let (sizes, all) = follow(
        &admin,
        format!(
            "{compute}/servers/detail?all_tenants=1&limit=2&changes-since=2026-11-30T00:00:00Z"
        ),
        "servers",
        rel_next("servers_links"),
    )
    .await;
    assert_eq!(sizes, [2, 1]);
    assert_eq!(
        ids(&Value::Array(all)).into_iter().collect::<BTreeSet<_>>(),
        changed
    );
    sim.stop().await;
}

/// Nova's `changes-since` lists the servers deleted since then too (`DELETED`, with
/// `terminated_at` and `updated` at the deletion), merged into the listing's order, per
/// project or for admins across the cloud, paged by `limit` and `marker` across live and
/// deleted servers; a deleted server's id is a marker only there. A plain listing shows
/// only live servers.
#[tokio::test]
async fn nova_changes_since_lists_deleted_servers_paged_with_the_live_ones() {
    let sim = Simulator::start(world(2, 5)).await.unwrap();
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let (p0, p1) = sim.with_world(|w| {
        for s in &mut w.servers {
            s.updated = Some(t("2026-11-01T00:00:00Z"));
        }
        (w.projects[0].id.clone(), w.projects[1].id.clone())
    });
    let of = |p: &str| -> Vec<String> {
        sim.with_world(|w| {
            w.servers
                .iter()
                .filter(|s| s.project_id == p)
                .map(|s| s.id.clone())
                .collect()
        })
    };
    let (mine, theirs) = (of(&p0), of(&p1));
    sim.set_time(t("2026-11-30T10:05:00Z"));
    for id in [&mine[0], &mine[2], &mine[4], &theirs[1]] {
        assert!(sim.delete_server(id), "{id}");
    }
    sim.set_time(t("2026-11-30T10:06:00Z"));
    assert!(sim.set_server_status(&mine[1], "SHUTOFF"));

    // What each listing should show, in Nova's order (newest `created`, then id, first).
    let expected = |project: Option<&str>| -> Vec<String> {
        sim.with_world(|w| {
            let mut changed: Vec<(DateTime<Utc>, String)> = w
                .servers
                .iter()
                .chain(&w.deleted_servers)
                .filter(|s| project.is_none_or(|p| s.project_id == p))
                .filter(|s| s.updated.unwrap() >= t("2026-11-30T10:00:00Z"))
                .map(|s| (s.created, s.id.clone()))
                .collect();
            changed.sort_by(|a, b| b.cmp(a));
            changed.into_iter().map(|(_, id)| id).collect()
        })
    };
    let member = member_of(&sim, 0).await;
    let compute = member.url("compute");
    let since = "changes-since=2026-11-30T10:00:00Z";
    let (sizes, all) = follow(
        &member,
        format!("{compute}/servers/detail?limit=1&{since}"),
        "servers",
        rel_next("servers_links"),
    )
    .await;
    let want = expected(Some(&p0));
    assert_eq!(want.len(), 4, "three deleted and one stopped");
    assert_eq!(
        ids(&Value::Array(all.clone())),
        want,
        "pages of one: {sizes:?}"
    );
    for s in &all {
        let id = s["id"].as_str().unwrap();
        if id == mine[1] {
            assert_eq!(s["status"], "SHUTOFF");
            assert_eq!(s["OS-SRV-USG:terminated_at"], Value::Null);
        } else {
            assert_eq!(s["status"], "DELETED", "{s}");
            assert_eq!(s["OS-SRV-USG:terminated_at"], "2026-11-30T10:05:00.000000");
            assert_eq!(s["updated"], "2026-11-30T10:05:00Z");
        }
    }
    // After the deletions: only the stop.
    let (_, later) = member
        .get(&format!(
            "{compute}/servers/detail?changes-since=2026-11-30T10:05:30Z"
        ))
        .await;
    assert_eq!(ids(&later["servers"]), [mine[1].clone()]);
    // A plain listing shows the live servers only, and knows no deleted marker.
    let (_, plain) = member.get(&format!("{compute}/servers/detail")).await;
    let live: BTreeSet<String> = ids(&plain["servers"]).into_iter().collect();
    assert_eq!(live, [&mine[1], &mine[3]].map(String::clone).into());
    let (status, _) = member
        .get(&format!("{compute}/servers/detail?marker={}", mine[0]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A deleted marker continues the listing after it; another project's is unknown.
    let k = want.iter().position(|id| *id != mine[1]).unwrap();
    let (status, rest) = member
        .get(&format!(
            "{compute}/servers/detail?{since}&marker={}",
            want[k]
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(ids(&rest["servers"]), want[k + 1..]);
    let (status, _) = member
        .get(&format!(
            "{compute}/servers/detail?{since}&marker={}",
            theirs[1]
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The admin's listing of the whole cloud, two at a time.
    let admin = admin(&sim).await;
    let (sizes, all) = follow(
        &admin,
        format!("{compute}/servers/detail?all_tenants=1&limit=2&{since}"),
        "servers",
        rel_next("servers_links"),
    )
    .await;
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(ids(&Value::Array(all)), expected(None));
    sim.stop().await;
}

fn volumes(world: &mut World, per_project: usize) {
    let projects: Vec<String> = world.projects.iter().map(|p| p.id.clone()).collect();
    for (p, project) in projects.iter().enumerate() {
        for n in 0..per_project {
            world.volumes.push(Volume {
                id: format!("vol-{p}-{n}"),
                project_id: project.clone(),
                name: format!("volume {n}"),
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

#[tokio::test]
async fn cinder_all_tenants_lists_every_projects_volumes_to_admins_only() {
    let mut w = world(2, 0);
    volumes(&mut w, 3);
    let sim = Simulator::start(w).await.unwrap();
    let projects: Vec<String> =
        sim.with_world(|w| w.projects.iter().map(|p| p.id.clone()).collect());
    let admin = admin(&sim).await;
    let volume = admin.url("block-storage");

    let (status, page) = admin
        .get(&format!("{volume}/volumes/detail?all_tenants=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let listed = page["volumes"].as_array().unwrap();
    assert_eq!(listed.len(), 6);
    for v in listed {
        let id = v["id"].as_str().unwrap();
        let p: usize = id[4..5].parse().unwrap();
        assert_eq!(
            v["os-vol-tenant-attr:tenant_id"],
            projects[p].as_str(),
            "{id}"
        );
    }
    let (_, own) = admin.get(&format!("{volume}/volumes/detail")).await;
    assert_eq!(ids(&own["volumes"]), ["vol-0-0", "vol-0-1", "vol-0-2"]);

    let (sizes, all) = follow(
        &admin,
        format!("{volume}/volumes/detail?all_tenants=1&limit=4"),
        "volumes",
        |page| {
            let next = rel_next("volumes_links")(page)?;
            assert!(
                next.contains("all_tenants=1"),
                "next keeps the scope: {next}"
            );
            Some(next)
        },
    )
    .await;
    assert_eq!(sizes, [4, 2]);
    assert_eq!(
        ids(&Value::Array(all)),
        [
            "vol-0-0", "vol-0-1", "vol-0-2", "vol-1-0", "vol-1-1", "vol-1-2"
        ]
    );
    let (status, _) = admin
        .get(&format!("{volume}/volumes/detail?all_tenants=perhaps"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let user = member_of(&sim, 1).await;
    let url = user.url("block-storage");
    let (status, err) = user
        .get(&format!("{url}/volumes/detail?all_tenants=1"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, own) = user
        .get(&format!("{url}/volumes/detail?all_tenants=0"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&own["volumes"]), ["vol-1-0", "vol-1-1", "vol-1-2"]);
    sim.stop().await;
}

fn image(id: &str, owner: &str, visibility: &str, members: &[(&str, &str)]) -> Image {
    let at = "2026-10-01T00:00:00Z".parse().expect("a timestamp");
    Image::active(id, owner, visibility, members, at)
}

fn member_ids(page: &Value) -> Vec<(String, String)> {
    page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["member_id"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn glance_lists_an_images_members_as_glance_does() {
    let mut w = world(4, 0);
    let p: Vec<String> = w.projects.iter().map(|p| p.id.clone()).collect();
    w.images = vec![
        image(
            "shared",
            &p[0],
            "shared",
            &[(&p[1], "accepted"), (&p[2], "pending")],
        ),
        image("public", &p[0], "public", &[]),
        image("private", &p[0], "private", &[]),
        image("community", &p[0], "community", &[]),
    ];
    let sim = Simulator::start(w).await.unwrap();
    let members = |c: &Login, id: &str| format!("{}/v2/images/{id}/members", c.url("image"));
    let everyone = vec![
        (p[1].clone(), "accepted".to_string()),
        (p[2].clone(), "pending".to_string()),
    ];

    let owner = member_of(&sim, 0).await;
    let (status, page) = owner.get(&members(&owner, "shared")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(member_ids(&page), everyone);
    assert_eq!(page["schema"], "/v2/schemas/members");
    let first = &page["members"][0];
    assert_eq!(first["image_id"], "shared");
    assert_eq!(first["schema"], "/v2/schemas/member");
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(first["updated_at"].is_string());

    let admin = admin(&sim).await;
    let admin_on_3 = login(&sim, ADMIN_USER, ADMIN_PASSWORD, &p[3]).await;
    for c in [&admin, &admin_on_3] {
        let (status, page) = c.get(&members(c, "shared")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(member_ids(&page), everyone);
    }
    // A member sees its own membership only, whatever its status.
    for i in [1, 2] {
        let c = member_of(&sim, i).await;
        let (status, page) = c.get(&members(&c, "shared")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(member_ids(&page), [everyone[i - 1].clone()]);
    }
    // Only shared images have members: 403 for the others the caller can see.
    let outsider = member_of(&sim, 3).await;
    for id in ["public", "community"] {
        for c in [&owner, &outsider, &admin] {
            let (status, err) = c.get(&members(c, id)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{id}");
            assert!(
                err["message"]
                    .as_str()
                    .unwrap()
                    .contains("Only shared images"),
                "{err}"
            );
        }
    }
    let (status, _) = owner.get(&members(&owner, "private")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An image the caller cannot see is not found, shared or not.
    for id in ["shared", "private", "no-such-image"] {
        let (status, _) = outsider.get(&members(&outsider, id)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
    sim.stop().await;
}

/// Four projects: 0 tagged prod+billing, 1 prod, 2 dev, 3 disabled in domain `other`.
fn tagged_world() -> World {
    let mut w = world(4, 0);
    w.projects[0].tags = vec!["prod".into(), "billing".into()];
    w.projects[0].description = "the shop".into();
    w.projects[1].tags = vec!["prod".into()];
    w.projects[2].tags = vec!["dev".into()];
    w.projects[3].enabled = false;
    w.projects[3].domain_id = "other".into();
    w
}

async fn project_ids(c: &Login, sim: &Simulator, query: &str) -> Vec<String> {
    let (status, page) = c.get(&format!("{}/projects?{query}", sim.auth_url())).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    assert!(page["links"]["next"].is_null(), "{query}: one page");
    ids(&page["projects"])
}

#[tokio::test]
async fn keystone_lists_projects_to_admins_only_with_its_filters() {
    let sim = Simulator::start(tagged_world()).await.unwrap();
    let p: Vec<String> = sim.with_world(|w| w.projects.iter().map(|p| p.id.clone()).collect());
    let admin = admin(&sim).await;
    let url = format!("{}/projects", sim.auth_url());

    let (status, page) = admin.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page["projects"]), p);
    let first = &page["projects"][0];
    assert_eq!(
        first["name"],
        sim.with_world(|w| w.projects[0].name.clone()).as_str()
    );
    assert_eq!(first["domain_id"], "default");
    assert_eq!(first["enabled"], true);
    assert_eq!(first["tags"], json!(["prod", "billing"]));
    assert_eq!(first["description"], "the shop");
    assert_eq!(first["parent_id"], "default");
    assert_eq!(first["is_domain"], false);
    assert_eq!(first["links"]["self"], format!("{url}/{}", p[0]).as_str());
    assert_eq!(page["projects"][3]["enabled"], false);
    assert_eq!(page["links"]["self"], url.as_str());
    assert!(page["links"]["next"].is_null() && page["links"]["previous"].is_null());

    let want = |i: &[usize]| i.iter().map(|&i| p[i].clone()).collect::<Vec<_>>();
    assert_eq!(
        project_ids(&admin, &sim, "domain_id=default").await,
        want(&[0, 1, 2])
    );
    assert_eq!(
        project_ids(&admin, &sim, "domain_id=other").await,
        want(&[3])
    );
    assert_eq!(project_ids(&admin, &sim, "enabled=false").await, want(&[3]));
    assert_eq!(
        project_ids(&admin, &sim, "enabled=true").await,
        want(&[0, 1, 2])
    );
    assert_eq!(project_ids(&admin, &sim, "tags=prod").await, want(&[0, 1]));
    assert_eq!(
        project_ids(&admin, &sim, "tags=prod,billing").await,
        want(&[0])
    );
    assert_eq!(project_ids(&admin, &sim, "tags=prod,dev").await, want(&[]));
    assert_eq!(
        project_ids(&admin, &sim, "tags-any=billing,dev").await,
        want(&[0, 2])
    );
    assert_eq!(
        project_ids(&admin, &sim, "not-tags-any=prod").await,
        want(&[2, 3])
    );
    assert_eq!(
        project_ids(
            &admin,
            &sim,
            "tags-any=prod,dev&domain_id=default&enabled=1"
        )
        .await,
        want(&[0, 1, 2])
    );

    let user = member_of(&sim, 0).await;
    let (status, err) = user.get(&url).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(err["error"]["code"], 403);
    let anonymous = http().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    sim.stop().await;
}

#[tokio::test]
async fn keystone_pages_projects_with_limit_and_marker() {
    let sim = Simulator::start(tagged_world()).await.unwrap();
    let p: Vec<String> = sim.with_world(|w| w.projects.iter().map(|p| p.id.clone()).collect());
    let admin = admin(&sim).await;
    let url = format!("{}/projects", sim.auth_url());
    let next = |page: &Value| page["links"]["next"].as_str().map(String::from);

    let (sizes, all) = follow(&admin, format!("{url}?limit=3"), "projects", next).await;
    assert_eq!(sizes, [3, 1]);
    assert_eq!(ids(&Value::Array(all)), p);
    let (sizes, all) = follow(
        &admin,
        format!("{url}?tags-any=prod,dev&limit=1"),
        "projects",
        |page| {
            let n = next(page)?;
            assert!(
                n.contains("tags-any=prod%2Cdev"),
                "next keeps the filter: {n}"
            );
            Some(n)
        },
    )
    .await;
    assert_eq!(sizes, [1, 1, 1]);
    assert_eq!(ids(&Value::Array(all)), p[..3].to_vec());
    // The last full page of an exact multiple has no next link.
    let (_, page) = admin.get(&format!("{url}?limit=4")).await;
    assert_eq!(page["projects"].as_array().unwrap().len(), 4);
    assert!(page["links"]["next"].is_null());

    for bad in ["limit=0", "limit=x", "marker=nope"] {
        let (status, _) = admin.get(&format!("{url}?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert!(page.get("truncated").is_none());

    // Keystone's own limit cuts the listing and says so, without a next link.
    sim.with_world(|w| w.keystone_list_limit = Some(3));
    let (_, page) = admin.get(&url).await;
    assert_eq!(ids(&page["projects"]), p[..3].to_vec());
    assert_eq!(page["truncated"], true);
    assert!(page["links"]["next"].is_null());
    let (_, page) = admin.get(&format!("{url}?domain_id=default")).await;
    assert_eq!(ids(&page["projects"]), p[..3].to_vec());
    assert!(page.get("truncated").is_none(), "three fit");
    sim.stop().await;
}

/// The image ids a listing's first page shows (sorted).
async fn listed(c: &Login, query: &str) -> Vec<String> {
    let (status, page) = c
        .get(&format!("{}/v2/images?limit=100&{query}", c.url("image")))
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    let mut ids = ids(&page["images"]);
    ids.sort();
    ids
}

/// Glance's `member_status` on a member's listing (accepted by default, a status, or `all`;
/// the owner always lists its own; admins list everything), and a member changing its status
/// with `PUT …/members/{member}` as Glance's policy lets it.
#[tokio::test]
async fn members_list_by_status_and_set_their_own() {
    let mut w = world(4, 0);
    let p: Vec<String> = w.projects.iter().map(|p| p.id.clone()).collect();
    let members = [
        (p[1].as_str(), "accepted"),
        (p[2].as_str(), "pending"),
        (p[3].as_str(), "rejected"),
    ];
    w.images = vec![
        image("shared", &p[0], "shared", &members),
        image("other", &p[0], "shared", &[(&p[2], "rejected")]),
        image("public", &p[0], "public", &[]),
    ];
    let sim = Simulator::start(w).await.unwrap();
    let owner = member_of(&sim, 0).await;
    let pending = member_of(&sim, 2).await;
    let rejected = member_of(&sim, 3).await;
    assert_eq!(listed(&pending, "").await, ["public"]);
    assert_eq!(
        listed(&pending, "member_status=pending").await,
        ["public", "shared"]
    );
    assert_eq!(
        listed(&pending, "member_status=rejected").await,
        ["other", "public"]
    );
    assert_eq!(
        listed(&pending, "member_status=all").await,
        ["other", "public", "shared"]
    );
    assert_eq!(
        listed(&pending, "visibility=shared&member_status=pending").await,
        ["shared"]
    );
    assert_eq!(
        listed(&rejected, "member_status=rejected").await,
        ["public", "shared"]
    );
    for query in ["", "member_status=pending", "member_status=rejected"] {
        assert_eq!(
            listed(&owner, query).await,
            ["other", "public", "shared"],
            "the owner: {query}"
        );
        assert_eq!(
            listed(&admin(&sim).await, query).await,
            ["other", "public", "shared"],
            "an admin: {query}"
        );
    }

    let put = |c: &Login, image: &str, member: &str, body: Value| {
        let url = format!("{}/v2/images/{image}/members/{member}", c.url("image"));
        let token = c.token.clone();
        async move {
            let resp = http()
                .put(url)
                .header("X-Auth-Token", token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let before = sim.with_world(|w| w.images[0].updated_at);
    let (status, m) = put(&pending, "shared", &p[2], json!({"status": "accepted"})).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(
        (m["member_id"].as_str(), m["status"].as_str()),
        (Some(p[2].as_str()), Some("accepted"))
    );
    assert_eq!(listed(&pending, "").await, ["public", "shared"]);
    assert_eq!(listed(&pending, "member_status=pending").await, ["public"]);
    assert_eq!(
        sim.with_world(|w| w.images[0].updated_at),
        before,
        "a membership change does not move the image's updated_at"
    );
    // Only the member (or an admin) sets a status; the owner and others may not.
    let (status, _) = put(&owner, "shared", &p[2], json!({"status": "rejected"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put(&rejected, "shared", &p[2], json!({"status": "rejected"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put(
        &admin(&sim).await,
        "shared",
        &p[3],
        json!({"status": "pending"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = put(&pending, "shared", &p[2], json!({"status": "maybe"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, _) = put(&pending, "shared", &p[2], json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = put(&pending, "public", &p[2], json!({"status": "accepted"})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only shared images have members"
    );
    let (status, _) = put(
        &member_of(&sim, 1).await,
        "other",
        &p[1],
        json!({"status": "accepted"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not a member: the image is not visible"
    );

    // The scripting method does what the member's PUT does.
    assert!(sim.set_member_status("shared", &p[3], "accepted"));
    assert_eq!(listed(&rejected, "").await, ["public", "shared"]);
    assert!(!sim.set_member_status("shared", "nobody", "accepted"));
    sim.stop().await;
}
