//! `POST /api/service-settings/{uuid}/check/`: a cloud's connection checked with its own
//! credentials, against the simulator. A broken cloud is a 200 whose failed parts say what
//! to fix.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::sim::{SimApp, generated_world};

async fn sim(sync_mode: &'static str) -> SimApp {
    SimApp::world(generated_world(2, 2, 1, 3))
        .sync_mode(sync_mode)
        .serving_pulls()
        .start()
        .await
}

/// The check of the registered cloud "sim", which must answer 200.
async fn check(s: &SimApp) -> Value {
    let r = s
        .app
        .post(
            &format!("{}check/", s.app.path_of(&s.cloud().url)),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

async fn patch_cloud(s: &SimApp, body: Value) {
    let r = s.app.patch(s.app.path_of(&s.cloud().url), body).await;
    assert!(r.status.is_success(), "{}", r.text);
}

fn service<'a>(checked: &'a Value, kind: &str) -> &'a Value {
    checked["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {checked}"))
}

/// Admin credentials: the token's project and roles, cloud mode for `auto`, and each of the
/// four services found in the cloud's region, asked once, with its latency.
#[tokio::test]
async fn a_healthy_cloud_shows_its_project_roles_mode_and_services() {
    let s = sim("auto").await;
    let c = check(&s).await;
    assert_eq!(c["ok"], true, "{c}");
    assert_eq!(c["uuid"], s.cloud().uuid);
    let login = &c["login"];
    assert_eq!(login["ok"], true, "{c}");
    assert_eq!(login["message"], "");
    // The cloud's credentials name no project: a sweep scopes them to its first tenant's.
    assert_eq!(login["project"]["id"], s.tenants[0].backend_id);
    assert_eq!(login["project"]["name"], s.tenants[0].name);
    assert_eq!(login["project"]["domain"], "Default");
    assert_eq!(login["admin"], true);
    assert!(
        login["roles"].as_array().unwrap().contains(&json!("admin")),
        "{c}"
    );
    assert!(
        login["credentials"]
            .as_str()
            .unwrap()
            .contains("user \"admin\""),
        "{c}"
    );
    assert!(login["latency_ms"].as_f64().unwrap() >= 0.0);
    let mode = &c["sync_mode"];
    assert_eq!(
        (
            &mode["sync_mode"],
            &mode["mode"],
            &mode["reason"],
            &mode["ok"]
        ),
        (
            &json!("auto"),
            &json!("cloud"),
            &json!("admin_role"),
            &json!(true)
        ),
        "{c}"
    );
    let kinds: Vec<&str> = c["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["identity", "image", "compute", "volume"]);
    let base = format!("http://{}", s.sim.addr());
    for kind in kinds {
        let svc = service(&c, kind);
        assert_eq!(svc["ok"], true, "{svc}");
        assert_eq!(svc["message"], "");
        assert!(
            svc["endpoint"].as_str().unwrap().starts_with(&base),
            "{svc}"
        );
        assert!(svc["request"].as_str().unwrap().starts_with(&base), "{svc}");
        assert!(svc["latency_ms"].as_f64().unwrap() >= 0.0, "{svc}");
    }
    assert_eq!(service(&c, "image")["essential"], true);
    assert_eq!(service(&c, "identity")["essential"], false);
    assert_eq!(service(&c, "volume")["service_type"], "block-storage");
    assert!(
        service(&c, "image")["request"]
            .as_str()
            .unwrap()
            .ends_with("/image/v2/images?limit=1")
    );
    s.stop().await;
}

/// A refused password: the login fails naming the user, domain and project (never the
/// password), no service is asked, and `auto` would sync per tenant.
#[tokio::test]
async fn a_wrong_password_names_user_and_project_but_not_the_secret() {
    let s = sim("auto").await;
    let project = s.tenants[0].backend_id.clone();
    patch_cloud(
        &s,
        json!({"password": "not-the-Pa55word", "project_id": project}),
    )
    .await;
    let c = check(&s).await;
    assert_eq!(c["ok"], false, "{c}");
    let message = c["login"]["message"].as_str().unwrap();
    for part in [
        "the cloud's credentials",
        "user \"admin\" in domain \"default\"",
        &format!("project id \"{project}\""),
        "HTTP 401",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
    assert!(!c.to_string().contains("not-the-Pa55word"), "{c}");
    assert!(!c.to_string().contains("admin-password"), "{c}");
    assert_eq!(c["login"]["project"], Value::Null);
    assert_eq!(c["services"], json!([]));
    let mode = &c["sync_mode"];
    assert_eq!(
        (&mode["mode"], &mode["reason"]),
        (&json!("per_tenant"), &json!("login_failed"))
    );
    assert!(
        mode["message"].as_str().unwrap().contains("user \"admin\""),
        "{c}"
    );
    s.stop().await;
}

/// A region the catalog does not have: the login works, each endpoint is missing, and the
/// message lists the regions there are.
#[tokio::test]
async fn a_wrong_region_lists_the_regions_there_are() {
    let s = sim("auto").await;
    patch_cloud(&s, json!({"options": {"region": "RegionTwo"}})).await;
    let c = check(&s).await;
    assert_eq!(c["ok"], false, "{c}");
    assert_eq!(c["login"]["ok"], true, "{c}");
    let image = service(&c, "image");
    assert_eq!(
        (&image["ok"], &image["essential"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(image["endpoint"], Value::Null);
    assert_eq!(image["request"], Value::Null);
    let message = image["message"].as_str().unwrap();
    assert!(
        message.contains("\"RegionTwo\"") && message.contains("it has one in RegionOne"),
        "{message}"
    );
    // Cinder is looked for under each of its names; the message names the regions too.
    let volume = service(&c, "volume")["message"].as_str().unwrap();
    assert!(volume.contains("RegionOne"), "{volume}");
    s.stop().await;
}

/// An auth_url where nothing listens: the login fails saying Keystone cannot be reached.
#[tokio::test]
async fn an_unreachable_auth_url_is_told() {
    let s = sim("auto").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v3", closed.local_addr().unwrap());
    drop(closed);
    patch_cloud(&s, json!({"options": {"auth_url": url}})).await;
    let c = check(&s).await;
    assert_eq!(c["ok"], false, "{c}");
    assert_eq!(c["login"]["auth_url"], url);
    let message = c["login"]["message"].as_str().unwrap();
    assert!(message.contains("cannot reach Keystone"), "{message}");
    assert_eq!(c["sync_mode"]["reason"], "login_failed");
    s.stop().await;
}

/// A member without the admin role: everything answers, and `auto` takes per-tenant mode
/// because of the missing role; asked for `cloud` mode, the check fails saying why.
#[tokio::test]
async fn a_user_without_the_admin_role_means_per_tenant_mode() {
    let s = sim("auto").await;
    patch_cloud(&s, json!({"username": "user-0", "password": "password-0"})).await;
    let c = check(&s).await;
    assert_eq!(c["ok"], true, "{c}");
    assert_eq!(c["login"]["admin"], false);
    assert!(
        !c["login"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("admin")),
        "{c}"
    );
    assert!(!c["login"]["roles"].as_array().unwrap().is_empty(), "{c}");
    let mode = &c["sync_mode"];
    assert_eq!(
        (&mode["mode"], &mode["reason"]),
        (&json!("per_tenant"), &json!("no_admin_role"))
    );
    assert!(
        mode["detail"]
            .as_str()
            .unwrap()
            .contains("lack the admin role"),
        "{c}"
    );

    patch_cloud(&s, json!({"options": {"sync_mode": "cloud"}})).await;
    let c = check(&s).await;
    assert_eq!(c["ok"], false, "{c}");
    assert_eq!(c["sync_mode"]["ok"], false);
    assert_eq!(
        c["sync_mode"]["message"],
        "cloud mode: the cloud's credentials lack the admin role"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_unknown_cloud_is_404() {
    let s = sim("auto").await;
    let r = s
        .app
        .post(
            "/api/service-settings/0123456789abcdef0123456789abcdef/check/",
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    s.stop().await;
}
