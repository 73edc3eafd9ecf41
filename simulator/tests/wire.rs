//! The simulator speaks the OpenStack wire formats: checked over real sockets.
use std::time::Duration;

use cloudcensus_sim::{AppCredential, Fault, FaultKind, GenSpec, Member, Simulator, Target, World};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

struct Client {
    http: reqwest::Client,
    token: String,
    image: String,
    compute: String,
    body: Value,
}

fn endpoint(body: &Value, kind: &str) -> String {
    body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == kind)
        .unwrap()["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["interface"] == "public")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn auth(sim: &Simulator, body: Value) -> reqwest::Response {
    http()
        .post(format!("{}/auth/tokens", sim.auth_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn password(user: &str, pw: &str, project: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": pw}}},
                    "scope": {"project": {"id": project}}}})
}

async fn login(sim: &Simulator, user: &str, pw: &str, project: &str) -> Client {
    let resp = auth(sim, password(user, pw, project)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = resp.headers()["X-Subject-Token"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = resp.json().await.unwrap();
    Client {
        http: http(),
        token,
        image: endpoint(&body, "image"),
        compute: endpoint(&body, "compute"),
        body,
    }
}

impl Client {
    async fn get(&self, url: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(url)
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Every image id over all pages of a listing, following `next` as a client must.
    async fn list_all(&self, query: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut url = format!("{}/v2/images?{query}", self.image);
        loop {
            let (status, page) = self.get(&url).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            ids.extend(
                page["images"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_string()),
            );
            match page["next"].as_str() {
                Some(next) => {
                    assert!(
                        next.starts_with("/v2/images?"),
                        "next is root-relative: {next}"
                    );
                    url = format!(
                        "{}/v2/images?{}",
                        self.image,
                        next.split_once('?').unwrap().1
                    );
                }
                None => return ids,
            }
        }
    }
}

async fn sim(projects: usize, images: usize, servers: usize) -> Simulator {
    Simulator::start(World::generate(&GenSpec {
        projects,
        images_per_project: images,
        servers_per_project: servers,
        seed: 5,
    }))
    .await
    .unwrap()
}

#[tokio::test]
async fn keystone_issues_scoped_tokens_with_a_catalog() {
    let sim = sim(2, 3, 0).await;
    let p0 = sim.with_world(|w| w.projects[0].clone());
    let c = login(&sim, "user-0", "password-0", &p0.id).await;
    let token = &c.body["token"];
    assert_eq!(token["project"]["id"], p0.id.as_str());
    assert!(token["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(c.image.ends_with("/image") && c.compute.ends_with("/compute/v2.1"));
    for ty in ["identity", "image", "compute"] {
        let entry = token["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == ty)
            .unwrap();
        let interfaces: Vec<_> = entry["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["interface"].as_str().unwrap())
            .collect();
        assert_eq!(interfaces, ["public", "internal", "admin"]);
        assert!(
            entry["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["region_id"] == "RegionOne")
        );
    }
    // Scope by project name needs the domain.
    let by_name = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "user-0", "domain": {"id": "default"}, "password": "password-0"}}},
                                  "scope": {"project": {"name": p0.name, "domain": {"id": "default"}}}}});
    assert_eq!(auth(&sim, by_name).await.status(), StatusCode::CREATED);
    let p1 = sim.with_world(|w| w.projects[1].id.clone());
    for (label, body) in [
        ("wrong password", password("user-0", "nope", &p0.id)),
        ("unknown user", password("nobody", "x", &p0.id)),
        (
            "no role on the project",
            password("user-0", "password-0", &p1),
        ),
    ] {
        let resp = auth(&sim, body).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{label}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], 401, "{label}");
    }
    assert_eq!(
        auth(&sim, json!({"nope": 1})).await.status(),
        StatusCode::BAD_REQUEST
    );
    sim.with_world(|w| w.projects[0].enabled = false);
    assert_eq!(
        auth(&sim, password("user-0", "password-0", &p0.id))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = c.get(&format!("{}/v2/images", c.image)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a disabled project's tokens stop working"
    );
    sim.stop().await;
}

#[tokio::test]
async fn application_credentials_authenticate_without_scope() {
    let mut world = World::generate(&GenSpec {
        projects: 1,
        images_per_project: 1,
        servers_per_project: 0,
        seed: 1,
    });
    let user = world.users[1].clone();
    world.app_credentials.push(AppCredential {
        id: "ac1".into(),
        name: "sync".into(),
        secret: "s3cret".into(),
        user_id: user.id.clone(),
        project_id: world.projects[0].id.clone(),
    });
    let sim = Simulator::start(world).await.unwrap();
    let ok = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": "ac1", "secret": "s3cret"}}}});
    let resp = auth(&sim, ok).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["application_credential"]["id"], "ac1");
    assert_eq!(
        body["token"]["project"]["id"],
        sim.with_world(|w| w.projects[0].id.clone()).as_str()
    );
    let by_name = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"name": "sync", "secret": "s3cret", "user": {"id": user.id}}}}});
    assert_eq!(auth(&sim, by_name).await.status(), StatusCode::CREATED);
    let scoped = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": "ac1", "secret": "s3cret"}},
                                 "scope": {"project": {"id": "x"}}}});
    assert_eq!(auth(&sim, scoped).await.status(), StatusCode::UNAUTHORIZED);
    let bad = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": "ac1", "secret": "wrong"}}}});
    assert_eq!(auth(&sim, bad).await.status(), StatusCode::UNAUTHORIZED);
    sim.stop().await;
}

#[tokio::test]
async fn glance_pages_like_glance() {
    let sim = sim(1, 1200, 0).await;
    let p0 = sim.with_world(|w| w.projects[0].id.clone());
    let c = login(&sim, "user-0", "password-0", &p0).await;
    let (_, page) = c.get(&format!("{}/v2/images", c.image)).await;
    assert_eq!(
        page["images"].as_array().unwrap().len(),
        25,
        "default limit"
    );
    assert_eq!(page["schema"], "/v2/schemas/images");
    let (_, page) = c
        .get(&format!("{}/v2/images?limit=5000&visibility=all", c.image))
        .await;
    assert_eq!(
        page["images"].as_array().unwrap().len(),
        1000,
        "limit is capped at 1000"
    );
    let next = page["next"].as_str().unwrap();
    assert!(
        next.starts_with("/v2/images?limit=5000&visibility=all&marker="),
        "{next}"
    );
    // Newest first.
    let created: Vec<&str> = page["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["created_at"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]));
    let (status, err) = c
        .get(&format!("{}/v2/images?marker=does-not-exist", c.image))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("marker"));
    for bad in [
        "limit=-1",
        "limit=x",
        "visibility=everything",
        "member_status=maybe",
        "os_hidden=perhaps",
    ] {
        let (status, _) = c.get(&format!("{}/v2/images?{bad}", c.image)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // The pages put together are the whole listing, each image once.
    let all = c
        .list_all("limit=100&visibility=all&member_status=all")
        .await;
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(all.len(), unique.len());
    let hidden = c
        .list_all("limit=100&visibility=all&member_status=all&os_hidden=true")
        .await;
    assert!(!hidden.is_empty() && hidden.iter().all(|h| !all.contains(h)));
    let world = sim.with_world(|w| w.clone());
    let listable = world
        .images
        .iter()
        .filter(|i| i.status != "deleted")
        .count();
    assert_eq!(all.len() + hidden.len(), listable);
    // Null names and extra properties at the top level.
    let img = world
        .images
        .iter()
        .find(|i| i.name.is_none() && i.status == "active")
        .unwrap();
    let (_, shown) = c.get(&format!("{}/v2/images/{}", c.image, img.id)).await;
    assert!(shown["name"].is_null());
    assert_eq!(shown["os_distro"], img.properties["os_distro"].as_str());
    sim.stop().await;
}

#[tokio::test]
async fn visibility_follows_glance_rules_and_admins_see_everything() {
    let mut world = World::generate(&GenSpec {
        projects: 3,
        images_per_project: 0,
        servers_per_project: 0,
        seed: 2,
    });
    let [a, b, c] = [0, 1, 2].map(|i| world.projects[i].id.clone());
    let base = chrono::Utc::now();
    let mk = |id: &str, owner: &str, visibility: &str, members: Vec<Member>, hidden: bool| {
        cloudcensus_sim::Image {
            id: id.into(),
            name: Some(id.into()),
            owner: owner.into(),
            visibility: visibility.into(),
            members,
            os_hidden: hidden,
            status: "active".into(),
            min_disk: 1,
            min_ram: 0,
            size: None,
            checksum: None,
            disk_format: None,
            container_format: None,
            protected: false,
            tags: vec![],
            created_at: base,
            updated_at: base,
            properties: Default::default(),
        }
    };
    let member = |p: &str, s: &str| Member {
        project_id: p.into(),
        status: s.into(),
    };
    world.images = vec![
        mk("public-c", &c, "public", vec![], false),
        mk("private-a", &a, "private", vec![], false),
        mk("private-c", &c, "private", vec![], false),
        mk(
            "shared-c-accepted",
            &c,
            "shared",
            vec![member(&a, "accepted")],
            false,
        ),
        mk(
            "shared-c-pending",
            &c,
            "shared",
            vec![member(&a, "pending")],
            false,
        ),
        mk(
            "shared-c-b",
            &c,
            "shared",
            vec![member(&b, "accepted")],
            false,
        ),
        mk("community-c", &c, "community", vec![], false),
        mk("hidden-a", &a, "private", vec![], true),
    ];
    let sim = Simulator::start(world).await.unwrap();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let user_a = login(&sim, "user-0", "password-0", &a).await;
    assert_eq!(
        sorted(user_a.list_all("").await),
        ["private-a", "public-c", "shared-c-accepted"],
        "the default listing"
    );
    assert_eq!(
        sorted(user_a.list_all("visibility=all&member_status=all").await),
        [
            "community-c",
            "private-a",
            "public-c",
            "shared-c-accepted",
            "shared-c-pending"
        ]
    );
    assert_eq!(
        user_a.list_all("visibility=all&os_hidden=true").await,
        ["hidden-a"]
    );
    let (status, _) = user_a
        .get(&format!("{}/v2/images/private-c", user_a.image))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Membership lookups: the member itself may, others may not.
    let (status, m) = user_a
        .get(&format!(
            "{}/v2/images/shared-c-pending/members/{a}",
            user_a.image
        ))
        .await;
    assert_eq!(
        (status, m["status"].as_str()),
        (StatusCode::OK, Some("pending"))
    );
    let (status, _) = user_a
        .get(&format!(
            "{}/v2/images/shared-c-b/members/{b}",
            user_a.image
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An admin scoped to project a lists every image of the cloud, as Glance's policy does.
    let admin = login(&sim, "admin", "admin-password", &a).await;
    assert_eq!(
        admin
            .list_all("visibility=all&member_status=all")
            .await
            .len(),
        7
    );
    let (status, m) = admin
        .get(&format!("{}/v2/images/shared-c-b/members/{a}", admin.image))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{m}");
    sim.stop().await;
}

#[tokio::test]
async fn nova_lists_the_projects_servers_with_absolute_next_links() {
    let mut world = World::generate(&GenSpec {
        projects: 2,
        images_per_project: 2,
        servers_per_project: 1500,
        seed: 3,
    });
    world.servers[0].image_id = None;
    let sim = Simulator::start(world).await.unwrap();
    let p0 = sim.with_world(|w| w.projects[0].id.clone());
    let c = login(&sim, "user-0", "password-0", &p0).await;
    let (status, page) = c.get(&format!("{}/servers/detail", c.compute)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["servers"].as_array().unwrap().len(), 1000);
    let next = page["servers_links"][0]["href"].as_str().unwrap();
    assert!(
        next.starts_with("http://127.0.0.1:") && next.contains("marker="),
        "{next}"
    );
    let (_, rest) = c.get(next).await;
    assert_eq!(rest["servers"].as_array().unwrap().len(), 500);
    assert!(rest.get("servers_links").is_none());
    let all: Vec<Value> = page["servers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["servers"].as_array().unwrap())
        .cloned()
        .collect();
    assert!(all.iter().all(|s| s["tenant_id"] == p0.as_str()));
    assert!(
        all.iter().any(|s| s["image"] == ""),
        "boot-from-volume servers have image \"\""
    );
    assert!(all.iter().any(|s| s["image"]["id"].is_string()));
    let (status, err) = c
        .get(&format!("{}/servers/detail?marker=nope", c.compute))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["badRequest"]["message"].is_string());
    sim.stop().await;
}

#[tokio::test]
async fn info_endpoints_answer_or_404_when_switched_off() {
    let sim = sim(1, 10, 0).await;
    let p0 = sim.with_world(|w| w.projects[0].id.clone());
    let c = login(&sim, "user-0", "password-0", &p0).await;
    let (s, usage) = c.get(&format!("{}/v2/info/usage", c.image)).await;
    assert_eq!(s, StatusCode::OK);
    let gone = |i: &cloudcensus_sim::Image| {
        i.owner == p0 && matches!(i.status.as_str(), "deleted" | "pending_delete" | "killed")
    };
    assert_eq!(
        usage["usage"]["image_count_total"]["usage"],
        10 - sim.with_world(|w| w.images.iter().filter(|i| gone(i)).count() as i64)
    );
    let (_, stores) = c.get(&format!("{}/v2/info/stores", c.image)).await;
    assert_eq!(stores["stores"][0]["id"], "file");
    let (_, import) = c.get(&format!("{}/v2/info/import", c.image)).await;
    assert!(import["import-methods"]["value"].is_array());
    sim.with_world(|w| w.info_usage_enabled = false);
    assert_eq!(
        c.get(&format!("{}/v2/info/usage", c.image)).await.0,
        StatusCode::NOT_FOUND
    );
    sim.stop().await;
}

#[tokio::test]
async fn tokens_expire() {
    let mut world = World::generate(&GenSpec {
        projects: 1,
        images_per_project: 1,
        servers_per_project: 0,
        seed: 1,
    });
    world.token_ttl_secs = 1;
    let sim = Simulator::start(world).await.unwrap();
    let p0 = sim.with_world(|w| w.projects[0].id.clone());
    let c = login(&sim, "user-0", "password-0", &p0).await;
    assert_eq!(
        c.get(&format!("{}/v2/images", c.image)).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        c.get(&format!("{}/v2/images", c.image)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let missing = c
        .http
        .get(format!("{}/v2/images", c.image))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(missing, StatusCode::UNAUTHORIZED);
    sim.stop().await;
}

#[tokio::test]
async fn faults_are_injected_per_endpoint() {
    let sim = sim(1, 60, 3).await;
    let p0 = sim.with_world(|w| w.projects[0].id.clone());
    let c = login(&sim, "user-0", "password-0", &p0).await;
    let list = format!("{}/v2/images?limit=10", c.image);

    sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Status {
            code: 503,
            retry_after: Some(3),
        })
        .after(1)
        .times(1),
    );
    assert_eq!(c.get(&list).await.0, StatusCode::OK);
    let resp = c
        .http
        .get(&list)
        .header("X-Auth-Token", &c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["Retry-After"], "3");
    assert_eq!(c.get(&list).await.0, StatusCode::OK, "times(1) is spent");
    assert_eq!(
        c.get(&format!("{}/servers/detail", c.compute)).await.0,
        StatusCode::OK,
        "other endpoints unaffected"
    );

    sim.clear_faults();
    sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::ResetConnection).times(1),
    );
    let broken = async {
        c.http
            .get(&list)
            .header("X-Auth-Token", &c.token)
            .send()
            .await?
            .text()
            .await
    };
    let r = broken.await;
    assert!(r.is_err(), "the connection drops: {r:?}");

    sim.clear_faults();
    sim.inject(Target::GlanceImages, Fault::new(FaultKind::MalformedJson));
    let text = c
        .http
        .get(&list)
        .header("X-Auth-Token", &c.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());

    sim.clear_faults();
    sim.inject(Target::GlanceImages, Fault::new(FaultKind::NextLoop));
    let (_, page) = c.get(&list).await;
    assert_eq!(page["next"], "/v2/images?limit=10");

    sim.clear_faults();
    sim.inject(Target::GlanceImages, Fault::new(FaultKind::ShortPages(3)));
    let (_, page) = c.get(&list).await;
    assert_eq!(page["images"].as_array().unwrap().len(), 3);
    assert!(page["next"].is_string());

    sim.clear_faults();
    sim.inject(Target::GlanceImages, Fault::new(FaultKind::DuplicateIds));
    let (_, first) = c.get(&list).await;
    let next = first["next"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_string();
    let (_, second) = c.get(&format!("{}/v2/images?{next}", c.image)).await;
    assert_eq!(first["images"][9]["id"], second["images"][0]["id"]);

    sim.clear_faults();
    sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::ExpireTokenAfter(2)),
    );
    assert_eq!(c.get(&list).await.0, StatusCode::OK);
    assert_eq!(c.get(&list).await.0, StatusCode::OK);
    assert_eq!(c.get(&list).await.0, StatusCode::UNAUTHORIZED);
    sim.clear_faults();
    assert_eq!(
        c.get(&list).await.0,
        StatusCode::UNAUTHORIZED,
        "the token stays revoked"
    );

    sim.inject(
        Target::KeystoneAuth,
        Fault::new(FaultKind::Delay(Duration::from_millis(300))).times(1),
    );
    let started = std::time::Instant::now();
    login(&sim, "user-0", "password-0", &p0).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(sim.requests(Target::KeystoneAuth) >= 2);
    sim.stop().await;
}

#[test]
fn the_binary_dumps_and_loads_world_files() {
    let bin = env!("CARGO_BIN_EXE_cloudcensus-sim");
    let dump = std::process::Command::new(bin)
        .args(["--generate", "2,5,1", "--seed", "4", "--dump"])
        .output()
        .unwrap();
    assert!(dump.status.success());
    let world: World = serde_json::from_slice(&dump.stdout).unwrap();
    assert_eq!(
        world,
        World::generate(&GenSpec {
            projects: 2,
            images_per_project: 5,
            servers_per_project: 1,
            seed: 4
        })
    );
    let dir = std::env::temp_dir().join(format!("sim-world-{}.json", std::process::id()));
    std::fs::write(&dir, &dump.stdout).unwrap();
    let reloaded = std::process::Command::new(bin)
        .args(["--dump", "--world"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<World>(&reloaded.stdout).unwrap(),
        world
    );
    std::fs::write(&dir, "{\"projects\": 5}").unwrap();
    let bad = std::process::Command::new(bin)
        .args(["--world"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("error"));
    std::fs::remove_file(&dir).ok();
}

/// Keystone revokes by whole seconds: a token issued in the second of a password change is
/// born revoked, and a login a second later works.
#[tokio::test]
async fn password_changes_revoke_tokens_by_the_second() {
    let sim = sim(1, 2, 0).await;
    let p0 = sim.with_world(|w| w.projects[0].id.clone());
    let before = login(&sim, "user-0", "password-0", &p0).await;
    // Start early in a second so the change and the next login share it.
    while chrono::Utc::now().timestamp_subsec_millis() > 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.with_world(|w| {
        w.users
            .iter_mut()
            .find(|u| u.name == "user-0")
            .unwrap()
            .password = "new-password".into()
    });
    let same_second = login(&sim, "user-0", "new-password", &p0).await;
    let list = |c: &Client| format!("{}/v2/images", c.image);
    assert_eq!(
        before.get(&list(&before)).await.0,
        StatusCode::UNAUTHORIZED,
        "older tokens are revoked"
    );
    assert_eq!(
        same_second.get(&list(&same_second)).await.0,
        StatusCode::UNAUTHORIZED,
        "born revoked"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = login(&sim, "user-0", "new-password", &p0).await;
    assert_eq!(later.get(&list(&later)).await.0, StatusCode::OK);
    sim.stop().await;
}

/// Glance's `updated_at` comparison filter (`gt`, `gte`, `lt`, `lte`, `eq`, `neq`) and
/// `sort_key=updated_at` with `sort_dir`, across pages: what a delta poll asks for.
#[tokio::test]
async fn glance_filters_and_sorts_by_updated_at() {
    let sim = sim(1, 40, 0).await;
    let p0 = sim.with_world(|w| w.projects[0].id.clone());
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
        .unwrap()
        .to_utc();
    // Image i updated i minutes after 10:00, in an order unlike their creation's.
    let ids: Vec<String> = sim.with_world(|w| {
        let n = w.images.len();
        for (i, img) in w.images.iter_mut().enumerate() {
            img.updated_at = base + chrono::Duration::minutes(((i * 7) % n) as i64);
        }
        w.images.iter().map(|i| i.id.clone()).collect()
    });
    let c = login(&sim, "user-0", "password-0", &p0).await;
    let all = c
        .list_all("visibility=all&member_status=all&limit=1000")
        .await;
    let mut expected: Vec<(chrono::DateTime<chrono::Utc>, String)> = sim.with_world(|w| {
        w.images
            .iter()
            .filter(|i| all.contains(&i.id))
            .map(|i| (i.updated_at, i.id.clone()))
            .collect()
    });
    expected.sort();
    let cut = base + chrono::Duration::minutes(10);
    let stamp = "2026-11-30T10:10:00Z";
    let after: Vec<String> = expected
        .iter()
        .filter(|(t, _)| *t > cut)
        .map(|(_, id)| id.clone())
        .collect();
    let listed = c
        .list_all(&format!(
            "visibility=all&member_status=all&limit=3&sort_key=updated_at&sort_dir=asc&updated_at=gt:{stamp}"
        ))
        .await;
    assert_eq!(listed, after, "ascending by updated_at, across pages of 3");
    let descending = c
        .list_all(&format!(
            "visibility=all&member_status=all&limit=4&sort_key=updated_at&updated_at=gt:{stamp}"
        ))
        .await;
    assert_eq!(descending, after.iter().rev().cloned().collect::<Vec<_>>());
    let count = |op: &str| {
        let c = &c;
        let q = format!("visibility=all&member_status=all&limit=1000&updated_at={op}:{stamp}");
        async move { c.list_all(&q).await.len() }
    };
    let (gt, gte, lt, lte, eq, neq) = (
        count("gt").await,
        count("gte").await,
        count("lt").await,
        count("lte").await,
        count("eq").await,
        count("neq").await,
    );
    assert_eq!(eq, expected.iter().filter(|(t, _)| *t == cut).count());
    assert_eq!((gte, lte), (gt + eq, lt + eq));
    assert_eq!(gt + lt + eq, all.len());
    assert_eq!(neq, all.len() - eq);
    assert!(gt > 0 && lt > 0);
    for bad in [
        "updated_at=after:2026-11-30T10:10:00Z",
        "updated_at=gt:yesterday",
        "sort_key=colour",
        "sort_dir=sideways",
    ] {
        let (status, _) = c.get(&format!("{}/v2/images?{bad}", c.image)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert!(!ids.is_empty());
    sim.stop().await;
}

/// Nova's `changes-since`: only the servers changed at or after that time, a deleted one
/// among them when a test lists it as Nova does (`DELETED`, with `terminated_at`).
#[tokio::test]
async fn nova_lists_servers_changed_since() {
    let sim = sim(1, 2, 6).await;
    let p0 = sim.with_world(|w| w.projects[0].id.clone());
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    sim.set_time(t("2026-11-30T12:00:00Z"));
    let ids: Vec<String> = sim.with_world(|w| w.servers.iter().map(|s| s.id.clone()).collect());
    assert!(sim.set_server_status(&ids[0], "SHUTOFF"));
    sim.with_world(|w| {
        let gone = &mut w.servers[1];
        gone.status = "DELETED".into();
        gone.updated = Some(t("2026-11-30T12:30:00Z"));
        gone.terminated_at = gone.updated;
    });
    let c = login(&sim, "user-0", "password-0", &p0).await;
    let listed = |since: &str| {
        let c = &c;
        let url = format!("{}/servers/detail?changes-since={since}", c.compute);
        async move {
            let (status, page) = c.get(&url).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let mut ids: Vec<String> = page["servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut changed = vec![ids[0].clone(), ids[1].clone()];
    changed.sort();
    assert_eq!(listed("2026-11-30T11:59:00Z").await, changed);
    assert_eq!(listed("2026-11-30T12:15:00Z").await, [ids[1].clone()]);
    assert!(listed("2026-11-30T13:00:00Z").await.is_empty());
    let (status, _) = c
        .get(&format!(
            "{}/servers/detail?changes-since=yesterday",
            c.compute
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sim.stop().await;
}

/// `/v2/info/usage` counts as Glance 33 does, with limits from the unified limits Keystone
/// lists (`/v3/registered_limits`, `/v3/limits`: every project's for an admin, its own for
/// anyone else); `{}` without `use_keystone_limits`; the limits' faults answer as told.
#[tokio::test]
async fn usage_is_glances_count_against_keystones_unified_limits() {
    let sim = sim(2, 0, 0).await;
    let (p0, p1) = sim.with_world(|w| (w.projects[0].id.clone(), w.projects[1].id.clone()));
    let at = chrono::Utc::now();
    let mib = 1 << 20;
    sim.with_world(|w| {
        let mut img = |id: &str, status: &str, size: i64, props: &[(&str, &str)]| {
            let mut i = cloudcensus_sim::Image::active(id, &p0, "private", &[], at);
            i.status = status.into();
            i.size = Some(size);
            for (k, v) in props {
                i.properties.insert(k.to_string(), v.to_string());
            }
            w.images.push(i);
        };
        img("a", "active", 3 * mib, &[]);
        img("b", "active", mib, &[("stores", "fast,slow")]);
        img("c", "uploading", 2 * mib, &[]);
        img("d", "saving", mib, &[]);
        img(
            "e",
            "active",
            mib,
            &[("os_glance_importing_to_stores", "slow")],
        );
        img("f", "killed", mib, &[]);
        img("g", "deleted", mib, &[]);
        w.project_limits = vec![cloudcensus_sim::ProjectLimit::new(
            &p0,
            "image_count_total",
            7,
        )];
        w.registered_limits
            .retain(|l| l.resource_name != "image_count_uploading");
    });
    let c = login(&sim, "user-0", "password-0", &p0).await;
    let (status, usage) = c.get(&format!("{}/v2/info/usage", c.image)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        usage,
        json!({"usage": {
            // 3 + 2×1 + 1 (the active image being copied).
            "image_size_total": {"limit": 102_400_000, "usage": 6},
            "image_stage_total": {"limit": 102_400_000, "usage": 3},
            "image_count_total": {"limit": 7, "usage": 5},
            // Not registered: oslo.limit's 0.
            "image_count_uploading": {"limit": 0, "usage": 3},
        }})
    );

    let identity = sim.auth_url();
    let admin = login(
        &sim,
        cloudcensus_sim::ADMIN_USER,
        cloudcensus_sim::ADMIN_PASSWORD,
        &p1,
    )
    .await;
    let query = "service_id=glance-service&region_id=RegionOne";
    let (status, registered) = admin
        .get(&format!("{identity}/registered_limits?{query}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(registered["registered_limits"].as_array().unwrap().len(), 3);
    let (_, limits) = admin.get(&format!("{identity}/limits?{query}")).await;
    assert_eq!(limits["limits"][0]["project_id"], p0.as_str());
    assert_eq!(limits["limits"][0]["resource_limit"], 7);
    let (_, other_region) = admin
        .get(&format!(
            "{identity}/limits?service_id=glance-service&region_id=R9"
        ))
        .await;
    assert_eq!(other_region["limits"], json!([]));
    // A member of p1 sees only its own project's limits.
    let member = login(&sim, "user-1", "password-1", &p1).await;
    let (_, own) = member.get(&format!("{identity}/limits?{query}")).await;
    assert_eq!(own["limits"], json!([]));

    sim.inject(
        cloudcensus_sim::Target::KeystoneLimits,
        cloudcensus_sim::Fault::new(cloudcensus_sim::FaultKind::Status {
            code: 403,
            retry_after: None,
        }),
    );
    let (status, _) = admin.get(&format!("{identity}/limits?{query}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    sim.with_world(|w| w.glance_keystone_limits = false);
    let (_, usage) = c.get(&format!("{}/v2/info/usage", c.image)).await;
    assert_eq!(usage, json!({"usage": {}}));
    sim.stop().await;
}
