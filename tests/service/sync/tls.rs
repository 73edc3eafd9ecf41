//! Per-cloud TLS against the simulator served over TLS from a CA the test makes: a cloud
//! whose certificate the system does not trust fails with kind `tls` and a sentence that says
//! what is wrong and what to set; its CA in `options.cacert` makes it sync; a wrong CA, an
//! expired certificate and a hostname mismatch each say so; `verify: false` syncs with a
//! warning; a client certificate is presented, its key never shown.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::internals::Engine;
use crate::common::sim::generated_world;
use crate::common::tls::{Issued, TestCa, TlsSim};
use crate::common::{EngineOptions, ServiceSettings, Tenant, TestApp, internals};

/// The app and an engine on its database.
async fn app() -> (TestApp, Engine) {
    let app = TestApp::new().await;
    let engine = app.new_engine(EngineOptions::fast());
    (app, engine)
}

/// One small cloud behind a TLS front with `server`'s certificate, registered as `name` with
/// the TLS options `tls` (its first project a tenant).
struct TlsCloud {
    front: TlsSim,
    cloud: ServiceSettings,
    tenant: Tenant,
}

async fn tls_cloud(
    app: &TestApp,
    name: &str,
    server: &Issued,
    client_ca: Option<&TestCa>,
    tls: Value,
) -> TlsCloud {
    let front = TlsSim::start(generated_world(1, 4, 1, 11), server, client_ca).await;
    let mut options = json!({"auth_url": front.auth_url(), "sync_mode": "per_tenant"});
    options
        .as_object_mut()
        .unwrap()
        .extend(tls.as_object().unwrap().clone());
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": name, "options": options, "username": "admin", "password": "admin-password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let cloud: ServiceSettings = r.parse();
    let project = front.sim.with_world(|w| w.projects[0].clone());
    let t = app
        .post(
            "/api/openstack-tenants/",
            json!({"name": project.name, "backend_id": project.id, "service_settings": cloud.url}),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    TlsCloud {
        front,
        cloud,
        tenant: t.parse(),
    }
}

/// Syncs the cloud's tenant; the tenant afterwards.
async fn sync(app: &TestApp, engine: &Engine, c: &TlsCloud) -> Tenant {
    internals::sweep_only(engine, &[&c.tenant.uuid]).await;
    app.tenant_now(&c.tenant).await
}

#[track_caller]
fn assert_synced(t: &Tenant, label: &str) {
    assert_eq!(
        (t.state.as_str(), t.error_kind.as_deref()),
        ("OK", None),
        "{label}: {}",
        t.error_message
    );
}

/// The message of a sync that failed with kind `tls`.
#[track_caller]
fn tls_failure(t: &Tenant, label: &str) -> String {
    assert_eq!(t.state, "ERRED", "{label}");
    assert_eq!(
        t.error_kind.as_deref(),
        Some("tls"),
        "{label}: {}",
        t.error_message
    );
    t.error_message.clone()
}

#[track_caller]
fn assert_says(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} in {message}");
    }
}

/// The system's roots do not know the test CA: the login fails, saying the issuer is
/// unknown and naming the option to set; with the CA in `options.cacert` the same cloud
/// syncs its images.
#[tokio::test]
async fn an_unknown_ca_fails_with_a_readable_message_and_its_cacert_makes_the_sync_work() {
    let (app, engine) = app().await;
    let ca = TestCa::new("census test CA");
    let c = tls_cloud(
        &app,
        "internal",
        &ca.server(&["127.0.0.1"]),
        None,
        json!({}),
    )
    .await;
    assert_eq!(c.cloud.options["cacert"], Value::Null);
    assert_eq!(c.cloud.options["verify"], true);

    let failed = sync(&app, &engine, &c).await;
    let message = tls_failure(&failed, "no CA");
    assert_says(
        &message,
        &[
            "TLS with Keystone failed",
            &c.front.front.to_string(),
            "unknown issuer",
            "options.cacert",
        ],
    );

    let r = app
        .patch(
            app.path_of(&c.cloud.url),
            json!({"options": {"cacert": ca.pem}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let patched: ServiceSettings = r.parse();
    assert_eq!(patched.options["cacert"], ca.pem.as_str());
    let synced = sync(&app, &engine, &c).await;
    assert_synced(&synced, "with the CA");
    assert!(!app.catalog_ids(&c.tenant).await.is_empty());
    c.front.stop().await;
    app.stop().await;
}

/// Three ways a certificate can be wrong, each with its own sentence.
#[tokio::test]
async fn a_wrong_ca_an_expired_certificate_and_a_hostname_mismatch_each_say_what_is_wrong() {
    let (app, engine) = app().await;
    let ca = TestCa::new("census test CA");
    let other = TestCa::new("some other CA");
    let trusting = |ca: &TestCa| json!({"cacert": ca.pem});
    let cases = [
        (
            "wrong CA",
            tls_cloud(
                &app,
                "wrong-ca",
                &ca.server(&["127.0.0.1"]),
                None,
                trusting(&other),
            )
            .await,
            vec!["unknown issuer", "options.cacert"],
        ),
        (
            "expired",
            tls_cloud(
                &app,
                "expired",
                &ca.expired_server(&["127.0.0.1"]),
                None,
                trusting(&ca),
            )
            .await,
            vec!["has expired", "valid until 2020-01-01"],
        ),
        (
            "hostname mismatch",
            tls_cloud(
                &app,
                "mismatch",
                &ca.server(&["keystone.example.org"]),
                None,
                trusting(&ca),
            )
            .await,
            vec![
                "hostname mismatch",
                "does not cover the name 127.0.0.1",
                "it covers keystone.example.org",
            ],
        ),
    ];
    let mut messages = Vec::new();
    for (label, c, parts) in &cases {
        let message = tls_failure(&sync(&app, &engine, c).await, label);
        assert_says(&message, parts);
        assert!(
            message.contains(&c.front.front.to_string()),
            "{label}: {message}"
        );
        messages.push(message);
    }
    // No sentence says another's reason.
    let reasons = ["unknown issuer", "has expired", "hostname mismatch"];
    for (i, message) in messages.iter().enumerate() {
        for (j, reason) in reasons.iter().enumerate() {
            assert_eq!(message.contains(reason), i == j, "{reason:?} in {message}");
        }
    }
    for (_, c, _) in cases {
        c.front.stop().await;
    }
    app.stop().await;
}

/// `verify: false` reaches a cloud whatever its certificate, and the cloud says so.
#[tokio::test]
async fn verify_false_syncs_an_untrusted_cloud_and_shows_a_warning() {
    let (app, engine) = app().await;
    let ca = TestCa::new("census test CA");
    let c = tls_cloud(
        &app,
        "unchecked",
        &ca.server(&["keystone.example.org"]),
        None,
        json!({"verify": false}),
    )
    .await;
    assert_eq!(c.cloud.options["verify"], false);
    assert_eq!(c.cloud.warnings.len(), 1, "{:?}", c.cloud.warnings);
    assert!(c.cloud.warnings[0].contains("TLS verification is off"));
    assert_synced(&sync(&app, &engine, &c).await, "verify off");

    let r = app
        .patch(
            app.path_of(&c.cloud.url),
            json!({"options": {"verify": true}}),
        )
        .await;
    let checked: ServiceSettings = r.parse();
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    tls_failure(&sync(&app, &engine, &c).await, "verify back on");
    c.front.stop().await;
    app.stop().await;
}

/// A cloud that asks for a client certificate gets the one in the options; the certificate
/// is shown, the key never, and it is stored sealed.
#[tokio::test]
async fn a_client_certificate_is_presented_and_its_key_never_shown() {
    let (app, engine) = app().await;
    let ca = TestCa::new("census test CA");
    let clients = TestCa::new("client CA");
    let client = clients.client("cloudcensus");
    let c = tls_cloud(
        &app,
        "mtls",
        &ca.server(&["127.0.0.1"]),
        Some(&clients),
        json!({"cacert": ca.pem, "cert": client.cert, "key": client.key}),
    )
    .await;
    assert_eq!(c.cloud.options["cert"], client.cert.as_str());
    let path = app.path_of(&c.cloud.url).to_string();
    let shown = app.get(&path).await;
    for text in [
        &shown.text,
        &serde_json::to_string(&c.cloud.options).unwrap(),
    ] {
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains("\"key\""),
            "{text}"
        );
    }
    let (sealed, opened) = app.stored_tls_key(&c.cloud.uuid).await.expect("a key");
    assert!(!sealed.contains("PRIVATE KEY"));
    assert_eq!(opened, client.key);
    assert_synced(
        &sync(&app, &engine, &c).await,
        "with the client certificate",
    );

    // A change of something else keeps the pair.
    let r = app.patch(&path, json!({"options": {"region": ""}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        app.stored_tls_key(&c.cloud.uuid).await.unwrap().1,
        client.key
    );

    // Without it the cloud refuses the connection, and the message says what it may need.
    let r = app.patch(&path, json!({"options": {"cert": ""}})).await;
    let removed: ServiceSettings = r.parse();
    assert_eq!(removed.options["cert"], Value::Null);
    assert!(app.stored_tls_key(&c.cloud.uuid).await.is_none());
    let message = tls_failure(&sync(&app, &engine, &c).await, "no client certificate");
    assert_says(&message, &["client certificate", "options.cert"]);
    c.front.stop().await;
    app.stop().await;
}
