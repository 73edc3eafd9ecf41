//! The management API over HTTP: clouds, tenants, offerings, tokens; validation; secrets.
mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn path_of(srv: &TestServer, v: &Value) -> String {
    v["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&srv.base)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn service_settings_crud_keeps_credentials_write_only_and_encrypted() {
    let srv = TestServer::start().await;
    let created = srv
        .post(
            "/api/service-settings/",
            json!({
                "name": "prod", "shared": true, "unknown_field": 1,
                "options": {"auth_url": "https://keystone.example.org:5000/v3", "region": "RegionOne", "interface": "internal", "domain": "corp"},
                "username": "admin", "password": "very-secret-pw", "project_name": "admin"
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let s = created.json();
    let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created",
            "error_message",
            "modified",
            "name",
            "options",
            "shared",
            "state",
            "type",
            "url",
            "uuid"
        ]
    );
    assert_eq!(s["type"], "OpenStack");
    assert_eq!(s["state"], "OK");
    assert_eq!(s["shared"], true);
    assert_eq!(
        s["options"],
        json!({"auth_url": "https://keystone.example.org:5000/v3", "region": "RegionOne", "interface": "internal", "domain": "corp"})
    );
    assert_eq!(
        s["url"],
        format!(
            "{}/api/service-settings/{}/",
            srv.base,
            s["uuid"].as_str().unwrap()
        )
    );
    assert!(!created.text.contains("very-secret-pw") && !created.text.contains("admin\""));

    // Stored encrypted: the raw column does not hold the password, but the key opens it.
    use sea_orm::EntityTrait;
    let row = entity::service_settings::Entity::find()
        .one(&srv.db)
        .await
        .unwrap()
        .unwrap();
    let sealed = row.credentials.unwrap();
    assert!(!sealed.contains("very-secret-pw"));
    let sb = cloudcensus::crypto::SecretBox::from_passphrase(SECRET_KEY).unwrap();
    let opened = cloudcensus::catalog::credentials::Credentials::open(&sb, &sealed).unwrap();
    assert!(
        matches!(opened, cloudcensus::catalog::credentials::Credentials::Password { ref password, .. } if password == "very-secret-pw")
    );

    let path = path_of(&srv, &s);
    let got = srv.get(&path).await;
    assert_eq!(got.json(), s);
    let list = srv.get("/api/service-settings/").await;
    assert_eq!((list.count(), list.names()), (1, vec!["prod".to_string()]));

    let patched = srv
        .call(
            Method::PATCH,
            &path,
            Some(&srv.staff_token.clone()),
            Some(json!({"name": "prod-2", "options": {"region": "R2"}})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json()["name"], "prod-2");
    assert_eq!(patched.json()["options"]["region"], "R2");
    assert_eq!(patched.json()["options"]["interface"], "internal");

    // PUT needs the required fields; switching to an application credential replaces the password.
    let put_bad = srv
        .call(
            Method::PUT,
            &path,
            Some(&srv.staff_token.clone()),
            Some(json!({"shared": false})),
        )
        .await;
    assert_eq!(put_bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(put_bad.json()["name"], json!(["This field is required."]));
    let put = srv
        .call(
            Method::PUT,
            &path,
            Some(&srv.staff_token.clone()),
            Some(json!({"name": "prod-3", "options": {"auth_url": "http://k:5000"}, "application_credential_id": "app-id", "application_credential_secret": "app-secret-xyz"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert!(!put.text.contains("app-secret-xyz"));
    let row = entity::service_settings::Entity::find()
        .one(&srv.db)
        .await
        .unwrap()
        .unwrap();
    let opened = cloudcensus::catalog::credentials::Credentials::open(
        &sb,
        row.credentials.as_deref().unwrap(),
    )
    .unwrap();
    assert!(
        matches!(opened, cloudcensus::catalog::credentials::Credentials::ApplicationCredential { ref secret, .. } if secret == "app-secret-xyz")
    );

    let del = srv
        .call(Method::DELETE, &path, Some(&srv.staff_token.clone()), None)
        .await;
    assert_eq!(
        (del.status, del.text.as_str()),
        (StatusCode::NO_CONTENT, "")
    );
    assert_eq!(srv.get(&path).await.status, StatusCode::NOT_FOUND);
    let again = srv
        .call(Method::DELETE, &path, Some(&srv.staff_token.clone()), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    srv.stop().await;
}

#[tokio::test]
async fn service_settings_validation_names_every_bad_field() {
    let srv = TestServer::start().await;
    let r = srv
        .post(
            "/api/service-settings/",
            json!({"type": "Azure", "options": {"auth_url": "not a url", "interface": "private"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.json();
    for field in ["name", "type", "auth_url", "interface", "non_field_errors"] {
        assert!(e[field].is_array(), "{field} missing from {e}");
    }
    let mixed = srv
        .post("/api/service-settings/", json!({"name": "x", "options": {"auth_url": "http://k"}, "username": "u", "password": "p", "application_credential_id": "a", "application_credential_secret": "s"}))
        .await;
    assert_eq!(mixed.status, StatusCode::BAD_REQUEST);
    assert!(mixed.json()["non_field_errors"].is_array());
    let half = srv
        .post(
            "/api/service-settings/",
            json!({"name": "x", "options": {"auth_url": "http://k"}, "username": "u"}),
        )
        .await;
    assert_eq!(
        half.json(),
        json!({"password": ["This field is required."]})
    );
    // Malformed JSON and wrong types are 400 with a JSON body, never 500.
    let raw = srv
        .client
        .post(srv.url("/api/service-settings/"))
        .header("Authorization", format!("Token {}", srv.staff_token))
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: Value = raw.json().await.unwrap();
    assert!(body["detail"].is_string());
    let wrong_type = srv
        .post(
            "/api/service-settings/",
            json!({"name": "x", "shared": [1]}),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert!(wrong_type.json()["detail"].is_string());
    srv.stop().await;
}

#[tokio::test]
async fn tenants_are_registered_filtered_pulled_and_deleted() {
    let srv = TestServer::start().await;
    let a = srv.create_settings("a", false).await;
    let b = srv.create_settings("b", false).await;
    let t1 = srv.create_tenant(&a, "Alpha").await;
    let mut keys: Vec<&str> = t1.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "backend_id",
            "created",
            "error_message",
            "image_quota_usage",
            "import_methods",
            "last_success_at",
            "last_sync_at",
            "modified",
            "name",
            "service_settings",
            "service_settings_uuid",
            "state",
            "stores",
            "url",
            "uuid"
        ]
    );
    assert_eq!(t1["service_settings"], a["url"]);
    assert_eq!(t1["service_settings_uuid"], a["uuid"]);
    assert!(t1["last_sync_at"].is_null());

    // By uuid, with own (write-only) credentials.
    let t2 = srv
        .post(
            "/api/openstack-tenants/",
            json!({"name": "beta", "backend_id": "p-beta", "service_settings_uuid": b["uuid"], "user_username": "bob", "user_password": "tenant-pw-123"}),
        )
        .await;
    assert_eq!(t2.status, StatusCode::CREATED, "{}", t2.text);
    assert!(!t2.text.contains("tenant-pw-123"));
    let t2 = t2.json();

    let dup = srv
        .post(
            "/api/openstack-tenants/",
            json!({"name": "again", "backend_id": "proj-Alpha", "service_settings": a["url"]}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert!(dup.json()["backend_id"].is_array());
    let unknown = srv
        .post("/api/openstack-tenants/", json!({"name": "x", "backend_id": "y", "service_settings": format!("{}/api/service-settings/{}/", srv.base, uuid::Uuid::new_v4().simple())}))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.json()["service_settings"].is_array());
    let missing = srv.post("/api/openstack-tenants/", json!({})).await;
    let e = missing.json();
    assert!(
        e["name"].is_array() && e["backend_id"].is_array() && e["service_settings"].is_array(),
        "{e}"
    );
    let half = srv.post("/api/openstack-tenants/", json!({"name": "x", "backend_id": "z", "service_settings": a["url"], "user_username": "u"})).await;
    assert_eq!(
        half.json(),
        json!({"user_password": ["This field is required."]})
    );

    let by_settings = srv
        .get(&format!(
            "/api/openstack-tenants/?service_settings_uuid={}",
            b["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_settings.names(), ["beta"]);
    assert_eq!(
        srv.get("/api/openstack-tenants/?name=ALP").await.names(),
        ["Alpha"]
    );
    assert_eq!(srv.get("/api/openstack-tenants/").await.count(), 2);
    assert_eq!(
        srv.get("/api/openstack-tenants/?service_settings_uuid=bad")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // pull/ answers 202 and starts a sync of the tenant (its run is recorded).
    let pull = srv
        .post(&format!("{}pull/", path_of(&srv, &t1)), json!({}))
        .await;
    assert_eq!(pull.status, StatusCode::ACCEPTED, "{}", pull.text);
    assert!(pull.json()["detail"].is_string());
    let runs = format!(
        "/api/sync-runs/?tenant_uuid={}",
        t1["uuid"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while srv.get(&runs).await.count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no sync run after pull/"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pull_missing = srv
        .post(
            &format!(
                "/api/openstack-tenants/{}/pull/",
                uuid::Uuid::new_v4().simple()
            ),
            json!({}),
        )
        .await;
    assert_eq!(pull_missing.status, StatusCode::NOT_FOUND);

    let del = srv
        .call(
            Method::DELETE,
            &path_of(&srv, &t2),
            Some(&srv.staff_token.clone()),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(
        srv.get(&path_of(&srv, &t2)).await.status,
        StatusCode::NOT_FOUND
    );
    srv.stop().await;
}

#[tokio::test]
async fn offerings_take_a_cloud_or_tenant_scope() {
    let srv = TestServer::start().await;
    let a = srv.create_settings("a", false).await;
    let t = srv.create_tenant(&a, "t").await;
    let o1 = srv
        .post(
            "/api/offerings/",
            json!({"name": "cloud offering", "scope": a["url"]}),
        )
        .await;
    assert_eq!(o1.status, StatusCode::CREATED, "{}", o1.text);
    assert_eq!(o1.json()["scope"], a["url"]);
    let o2 = srv
        .post(
            "/api/offerings/",
            json!({"name": "tenant offering", "scope": t["url"]}),
        )
        .await;
    assert_eq!(o2.json()["scope"], t["url"]);
    assert_eq!(o2.json()["scope_uuid"], t["uuid"]);
    let bad = srv
        .post(
            "/api/offerings/",
            json!({"name": "x", "scope": "http://h/api/customers/abc/"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["scope"].is_array());
    let gone = srv.post("/api/offerings/", json!({"name": "x", "scope": format!("{}/api/openstack-tenants/{}/", srv.base, uuid::Uuid::new_v4().simple())})).await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST);
    let list = srv.get("/api/offerings/").await;
    assert_eq!(list.names(), ["cloud offering", "tenant offering"]);
    let o1 = o1.json();
    assert_eq!(srv.get(&path_of(&srv, &o1)).await.json(), o1);
    assert_eq!(
        srv.call(
            Method::DELETE,
            &path_of(&srv, &o1),
            Some(&srv.staff_token.clone()),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(srv.get("/api/offerings/").await.count(), 1);
    srv.stop().await;
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let srv = TestServer::start().await;
    let a = srv.create_settings("a", false).await;
    let t = srv.create_tenant(&a, "t").await;
    let created = srv
        .post(
            "/api/tokens/",
            json!({"name": "reporting", "tenants": [t["url"]], "expires_in_days": 30}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let body = created.json();
    let secret = body["token"].as_str().unwrap().to_string();
    assert!(secret.len() >= 40, "≥ 160 bits");
    assert_eq!(body["tenants"], json!([t["uuid"]]));
    assert!(body["expires_at"].is_string());

    use sea_orm::EntityTrait;
    let rows = entity::api_tokens::Entity::find()
        .all(&srv.db)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.token_hash != secret && r.token_hash.len() == 64)
    );
    assert!(
        rows.iter()
            .any(|r| r.token_hash == cloudcensus::catalog::tokens::hash(&secret))
    );

    let list = srv.get("/api/tokens/").await;
    assert!(!list.text.contains(&secret));
    assert!(
        list.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );

    assert_eq!(
        srv.get_as(&secret, "/api/openstack-images/").await.status,
        StatusCode::OK
    );
    let uuid = body["uuid"].as_str().unwrap();
    let del = srv
        .call(
            Method::DELETE,
            &format!("/api/tokens/{uuid}/"),
            Some(&srv.staff_token.clone()),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let after = srv.get_as(&secret, "/api/openstack-images/").await;
    assert_eq!(after.json(), json!({"detail": "Invalid token."}));

    for bad in [
        json!({"name": "x"}),
        json!({"name": "x", "is_staff": true, "tenants": [t["uuid"]]}),
        json!({"name": "x", "tenants": [uuid::Uuid::new_v4().simple().to_string()]}),
        json!({"name": "x", "tenants": ["junk"]}),
        json!({"name": "staff", "is_staff": true}),
        json!({"name": "y", "is_staff": true, "expires_in_days": 0}),
    ] {
        let r = srv.post("/api/tokens/", bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    srv.stop().await;
}

#[tokio::test]
async fn no_response_ever_contains_a_stored_secret() {
    let srv = TestServer::start().await;
    let a = srv.create_settings("leaky", false).await;
    let t = srv
        .post(
            "/api/openstack-tenants/",
            json!({"name": "t", "backend_id": "p", "service_settings": a["url"], "application_credential_id": "ac", "application_credential_secret": "tenant-app-secret"}),
        )
        .await
        .json();
    let mut texts = Vec::new();
    for path in [
        "/api/service-settings/".to_string(),
        path_of(&srv, &a),
        "/api/openstack-tenants/".into(),
        path_of(&srv, &t),
        "/api/openapi.json".into(),
    ] {
        texts.push(srv.get(&path).await.text);
    }
    for text in texts {
        assert!(
            !text.contains("pw-leaky-secret") && !text.contains("tenant-app-secret"),
            "{text}"
        );
        assert!(!text.contains("xc1:"), "sealed blobs are not shown either");
    }
    srv.stop().await;
}

#[tokio::test]
async fn framework_errors_are_json_and_health_reports_the_database() {
    let srv = TestServer::start().await;
    let r = srv.get("/api/no-such-thing/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json(), json!({"detail": "Not found."}));
    let r = srv
        .call(
            Method::PUT,
            "/api/openstack-images/",
            Some(&srv.staff_token.clone()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.json()["detail"].is_string());
    let h = srv.call(Method::GET, "/health", None, None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json(), json!({"status": "ok", "database": "ok"}));
    let docs = srv.call(Method::GET, "/api/docs/", None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("swagger"));
    srv.stop().await;
}

/// The first write after migrating a fresh database sees the whole schema (pool connections
/// opened before a migration once returned no value for a column it added).
#[tokio::test(flavor = "multi_thread")]
async fn a_freshly_migrated_database_takes_writes_at_once() {
    use cloudcensus::catalog::clouds::NewCloud;
    use cloudcensus::catalog::credentials::Credentials;
    for round in 0..10 {
        let test_db = TestDb::new().await;
        let catalog = cloudcensus::catalog::Catalog::open(
            &test_db.url,
            cloudcensus::crypto::SecretBox::ephemeral(),
            true,
        )
        .await
        .expect("open");
        let created = catalog
            .clouds()
            .create(NewCloud {
                name: format!("cloud-{round}"),
                auth_url: "http://127.0.0.1:9/v3".into(),
                region: String::new(),
                interface: cloudcensus::catalog::Interface::Public,
                domain: "default".into(),
                shared: false,
                credentials: Credentials::Password {
                    username: "u".into(),
                    password: "p".into(),
                    project_name: None,
                    project_id: None,
                },
            })
            .await;
        assert!(created.is_ok(), "round {round}: {:?}", created.err());
        catalog.close().await.ok();
    }
}
