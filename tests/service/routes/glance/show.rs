//! `GET /v2/images/{id}`: the image as Glance shows it (its upstream id, min_disk in GB,
//! extra properties at the top level, relative links), to whoever sees it.
use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{glance_call, glance_error, glance_get};
use crate::common::sim::{SimApp, glance_login};
use crate::common::sorted_keys;

#[tokio::test]
async fn an_image_is_shown_in_glances_shape() {
    let s = SimApp::generated(2, 3, 0).start().await;
    let (id, owner) = s.sim.with_world(|w| {
        let image = w
            .images
            .iter_mut()
            .find(|i| i.visibility == "private")
            .expect("a private image");
        image.min_disk = 3;
        image.min_ram = 1024;
        image.size = Some(123_456);
        image.checksum = Some("0123456789abcdef0123456789abcdef".into());
        image.disk_format = Some("qcow2".into());
        image.container_format = Some("bare".into());
        image.protected = true;
        image.tags = vec!["lts".into(), "gpu".into()];
        image.properties = BTreeMap::from([
            ("os_distro".to_string(), "ubuntu".to_string()),
            ("hw_rescue_device".to_string(), "cdrom".to_string()),
            ("hw_rescue_bus".to_string(), "virtio".to_string()),
        ]);
        (image.id.clone(), image.owner.clone())
    });
    s.sweep_ok().await;
    let world = s
        .sim
        .with_world(|w| w.images.iter().find(|i| i.id == id).cloned().unwrap());
    let cloud = s.cloud().uuid.clone();
    let r = glance_get(
        &s.app,
        &cloud,
        &format!("/v2/images/{id}"),
        &s.app.staff_token,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let image = r.json();
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    assert_eq!(
        image,
        json!({
            "id": id,
            "name": world.name,
            "status": world.status,
            "visibility": "private",
            "protected": true,
            "os_hidden": false,
            "owner": owner,
            "checksum": "0123456789abcdef0123456789abcdef",
            "os_hash_algo": "sha512",
            "os_hash_value": "0123456789abcdef0123456789abcdef".repeat(4),
            "size": 123_456,
            "virtual_size": null,
            "min_ram": 1024,
            "min_disk": 3,
            "disk_format": "qcow2",
            "container_format": "bare",
            "created_at": stamp(world.created_at),
            "updated_at": stamp(world.updated_at),
            "tags": ["lts", "gpu"],
            "os_distro": "ubuntu",
            "hw_rescue_device": "cdrom",
            "hw_rescue_bus": "virtio",
            "self": format!("/v2/images/{id}"),
            "file": format!("/v2/images/{id}/file"),
            "schema": "/v2/schemas/image",
        })
    );
    // What the simulated Glance shows the owner's user, the census shows.
    let owner_index = s
        .tenants
        .iter()
        .position(|t| t.backend_id == owner)
        .unwrap();
    let (endpoint, user_token) = glance_login(
        &s.sim,
        &format!("user-{owner_index}"),
        &format!("password-{owner_index}"),
        &owner,
    )
    .await;
    let upstream: Value = reqwest::Client::new()
        .get(format!("{endpoint}/v2/images/{id}"))
        .header("X-Auth-Token", user_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(image, upstream);
    // The list shows the same object.
    let listed = glance_get(
        &s.app,
        &cloud,
        &format!("/v2/images?id={id}"),
        &s.app.staff_token,
    )
    .await
    .json();
    assert_eq!(listed["images"], json!([image]));
    assert_eq!(sorted_keys(&image).len(), 25);

    // Its owner's tenant sees it; the other tenant does not, as in Glance.
    let owner_index = s
        .tenants
        .iter()
        .position(|t| t.backend_id == owner)
        .unwrap();
    let mine = s.app.scoped_token("mine", &[&s.tenants[owner_index]]).await;
    let theirs = s
        .app
        .scoped_token("theirs", &[&s.tenants[1 - owner_index]])
        .await;
    assert_eq!(
        glance_get(&s.app, &cloud, &format!("/v2/images/{id}"), &mine)
            .await
            .json(),
        image
    );
    for (token, path) in [
        (&theirs, format!("/v2/images/{id}")),
        (&mine, "/v2/images/nope".into()),
    ] {
        let r = glance_call(
            &s.app,
            Method::GET,
            &cloud,
            &path,
            Some(token),
            &[("Accept", "application/json")],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        let asked = path.rsplit('/').next().unwrap();
        assert_eq!(
            r.json(),
            glance_error(404, "Not Found", &format!("No image found with ID {asked}"))
        );
    }
    s.stop().await;
}
