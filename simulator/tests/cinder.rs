//! The simulated Cinder speaks Cinder's wire format: checked over real sockets.
use cloudcensus_sim::{
    Fault, FaultKind, GenSpec, Simulator, Target, Volume, VolumeAttachment, World,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A token of `user-<i>` on project `i`, and its catalog.
async fn login(sim: &Simulator, i: usize) -> (String, Value) {
    let project = sim.with_world(|w| w.projects[i].id.clone());
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": format!("user-{i}"), "domain": {"id": "default"}, "password": format!("password-{i}")}}},
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
    (token, body["token"]["catalog"].clone())
}

fn catalog_types(catalog: &Value) -> Vec<String> {
    catalog
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn public_url(catalog: &Value, kind: &str) -> String {
    let entry = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == kind)
        .unwrap();
    entry["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["interface"] == "public")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get(token: &str, url: &str) -> (StatusCode, Value) {
    let resp = http()
        .get(url)
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn world_with_volumes(per_project: usize) -> World {
    let mut world = World::generate(&GenSpec {
        projects: 2,
        images_per_project: 1,
        servers_per_project: 0,
        seed: 9,
    });
    let projects: Vec<String> = world.projects.iter().map(|p| p.id.clone()).collect();
    for (p, project) in projects.iter().enumerate() {
        for n in 0..per_project {
            world.volumes.push(Volume {
                id: format!("vol-{p}-{n:04}"),
                project_id: project.clone(),
                name: format!("volume {n}"),
                size: 10,
                status: "in-use".into(),
                bootable: n % 2 == 0,
                image_id: (n % 2 == 0).then(|| format!("img-{n}")),
                image_name: (n % 2 == 0).then(|| format!("image {n}")),
                attachments: vec![VolumeAttachment {
                    server_id: format!("srv-{p}-{n}"),
                    device: Some("/dev/vda".into()),
                }],
            });
        }
    }
    world
}

#[tokio::test]
async fn cinder_is_in_the_catalog_with_the_project_in_its_url() {
    let sim = Simulator::start(world_with_volumes(0)).await.unwrap();
    let project = sim.with_world(|w| w.projects[0].id.clone());
    let (_, catalog) = login(&sim, 0).await;
    assert!(catalog_types(&catalog).contains(&"block-storage".to_string()));
    let url = public_url(&catalog, "block-storage");
    assert!(url.ends_with(&format!("/volume/v3/{project}")), "{url}");

    sim.with_world(|w| w.volume_service_type = "volumev2".into());
    let (token, catalog) = login(&sim, 0).await;
    let url = public_url(&catalog, "volumev2");
    assert!(url.ends_with(&format!("/volume/v2/{project}")), "{url}");
    assert!(!catalog_types(&catalog).contains(&"block-storage".to_string()));
    let (status, _) = get(&token, &format!("{url}/volumes/detail")).await;
    assert_eq!(status, StatusCode::OK);

    sim.with_world(|w| w.volume_enabled = false);
    let (token, catalog) = login(&sim, 0).await;
    let types = catalog_types(&catalog);
    assert!(
        !types
            .iter()
            .any(|t| t.starts_with("volume") || t == "block-storage"),
        "{types:?}"
    );
    let (status, _) = get(&token, &format!("{url}/volumes/detail")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a cloud without Cinder");
    sim.stop().await;
}

#[tokio::test]
async fn volumes_page_with_absolute_next_links_and_string_bootable_flags() {
    let sim = Simulator::start(world_with_volumes(1500)).await.unwrap();
    let project = sim.with_world(|w| w.projects[0].id.clone());
    let (token, catalog) = login(&sim, 0).await;
    let url = public_url(&catalog, "block-storage");
    let (status, page) = get(&token, &format!("{url}/volumes/detail")).await;
    assert_eq!(status, StatusCode::OK);
    let first = page["volumes"].as_array().unwrap();
    assert_eq!(first.len(), 1000);
    let next = page["volumes_links"][0]["href"].as_str().unwrap();
    assert_eq!(page["volumes_links"][0]["rel"], "next");
    assert!(
        next.starts_with(&format!("{url}/volumes/detail?")) && next.contains("marker=vol-0-0999"),
        "{next}"
    );
    let (_, rest) = get(&token, next).await;
    assert_eq!(rest["volumes"].as_array().unwrap().len(), 500);
    assert!(rest.get("volumes_links").is_none());
    let all: Vec<&Value> = first
        .iter()
        .chain(rest["volumes"].as_array().unwrap())
        .collect();
    assert!(
        all.iter()
            .all(|v| v["os-vol-tenant-attr:tenant_id"] == project.as_str())
    );
    assert_eq!(all[0]["bootable"], "true");
    assert_eq!(all[1]["bootable"], "false");
    assert_eq!(
        all[0]["volume_image_metadata"]["image_id"], "img-0",
        "{}",
        all[0]
    );
    assert_eq!(all[0]["volume_image_metadata"]["image_name"], "image 0");
    assert!(all[1].get("volume_image_metadata").is_none());
    assert_eq!(all[0]["attachments"][0]["server_id"], "srv-0-0");
    assert_eq!(all[0]["attachments"][0]["device"], "/dev/vda");
    assert_eq!(all[0]["size"], 10);

    let (_, small) = get(&token, &format!("{url}/volumes/detail?limit=2")).await;
    assert_eq!(small["volumes"].as_array().unwrap().len(), 2);
    assert!(
        small["volumes_links"][0]["href"]
            .as_str()
            .unwrap()
            .contains("limit=2")
    );
    let (status, err) = get(&token, &format!("{url}/volumes/detail?marker=nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(err["itemNotFound"]["message"].is_string(), "{err}");
    let (status, _) = get(&token, &format!("{url}/volumes/detail?limit=-1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Another project's URL with this token.
    let other = sim.with_world(|w| w.projects[1].id.clone());
    let foreign = url.replace(&project, &other);
    let (status, _) = get(&token, &format!("{foreign}/volumes/detail")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get("nope", &format!("{url}/volumes/detail")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sim.stop().await;
}

#[tokio::test]
async fn faults_reach_the_volume_listing() {
    let sim = Simulator::start(world_with_volumes(3)).await.unwrap();
    let (token, catalog) = login(&sim, 0).await;
    let url = format!("{}/volumes/detail", public_url(&catalog, "block-storage"));
    sim.inject(
        Target::CinderVolumes,
        Fault::new(FaultKind::Status {
            code: 503,
            retry_after: None,
        })
        .times(1),
    );
    assert_eq!(get(&token, &url).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&token, &url).await.0, StatusCode::OK);
    sim.inject(Target::CinderVolumes, Fault::new(FaultKind::ShortPages(1)));
    let (_, page) = get(&token, &url).await;
    assert_eq!(page["volumes"].as_array().unwrap().len(), 1);
    assert!(page["volumes_links"][0]["href"].is_string());
    sim.clear_faults();
    sim.inject(Target::CinderVolumes, Fault::new(FaultKind::NextLoop));
    let (_, page) = get(&token, &url).await;
    assert_eq!(page["volumes_links"][0]["href"], url.as_str());
    assert_eq!(sim.requests(Target::CinderVolumes), 4);
    assert_eq!(sim.requests(Target::NovaServers), 0);
    sim.stop().await;
}

#[test]
fn worlds_without_volume_fields_still_load() {
    let world: World = serde_json::from_value(json!({"projects": []})).unwrap();
    assert!(world.volumes.is_empty() && world.volume_enabled);
    assert_eq!(world.volume_service_type, "block-storage");
    let volume: Volume = serde_json::from_value(json!({"id": "v", "project_id": "p"})).unwrap();
    assert_eq!(
        (volume.size, volume.status.as_str(), volume.bootable),
        (1, "available", false)
    );
}
