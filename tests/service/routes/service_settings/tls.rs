//! The TLS options of a cloud (`cacert`, `verify`, `cert`, write-only `key`): checked as PEM
//! and as a pair on every write, with the field named; a change keeps what it does not name.
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::create_prod;
use crate::common::tls::TestCa;
use crate::common::{FieldErrors, ServiceSettings, TestApp};

const NOT_BASE64_DER: &str = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";

/// POSTs a cloud with these options; the answer's field errors (it must be a 400).
async fn refused(app: &TestApp, options: Value) -> FieldErrors {
    let mut all = json!({"auth_url": "https://keystone.example.org/v3"});
    all.as_object_mut()
        .unwrap()
        .extend(options.as_object().unwrap().clone());
    let r = app
        .post(
            "/api/service-settings/",
            json!({"name": "c", "options": all, "username": "u", "password": "p"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{options}: {}", r.text);
    r.parse()
}

#[tokio::test]
async fn unusable_pem_and_incomplete_pairs_are_refused_with_the_field_named() {
    let app = TestApp::new().await;
    let ca = TestCa::new("CA");
    let client = ca.client("census");
    let stranger = ca.client("someone else");
    let cases = [
        (
            json!({"cacert": "not PEM at all"}),
            "cacert",
            "Enter one or more PEM certificates",
        ),
        (
            json!({"cacert": NOT_BASE64_DER}),
            "cacert",
            "Certificate 1 cannot be used",
        ),
        (
            json!({"key": client.key}),
            "key",
            "A client key needs a client certificate",
        ),
        (json!({"cert": client.cert}), "key", "needs its private key"),
        (
            json!({"cert": client.cert, "key": stranger.key}),
            "key",
            "The key does not belong to the certificate.",
        ),
        (
            json!({"cert": format!("{}{}", client.cert, client.key), "key": client.key}),
            "cert",
            "holds a private key",
        ),
        (
            json!({"cert": client.cert, "key": "nope"}),
            "key",
            "Enter a PEM private key",
        ),
    ];
    for (options, field, says) in cases {
        let errors = refused(&app, options.clone()).await;
        let messages = errors
            .get(field)
            .unwrap_or_else(|| panic!("{field} in {errors:?}"));
        assert!(
            messages.iter().any(|m| m.contains(says)),
            "{options}: {messages:?}"
        );
        // The key never comes back, not even in an error.
        assert!(!format!("{errors:?}").contains("PRIVATE KEY"), "{errors:?}");
    }
    let none: Vec<ServiceSettings> = app.get("/api/service-settings/").await.items();
    assert!(none.is_empty());
    app.stop().await;
}

/// PATCH and PUT lay the TLS options they name over the stored ones: `verify` alone keeps
/// the CA and the pair; `cacert: ""` removes the CA; a new certificate must come with its own
/// key (the stored one is checked against it); `cert: ""` removes the pair.
#[tokio::test]
async fn changes_keep_the_tls_options_they_do_not_name() {
    let app = TestApp::new().await;
    let (_, s) = create_prod(&app).await;
    let path = app.path_of(&s.url).to_string();
    let ca = TestCa::new("CA");
    let client = ca.client("census");
    let set = app
        .patch(
            &path,
            json!({"options": {"cacert": ca.pem, "cert": client.cert, "key": client.key}}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert!(!set.text.contains("PRIVATE KEY"));

    let r = app
        .patch(&path, json!({"options": {"verify": false}}))
        .await;
    let kept: ServiceSettings = r.parse();
    assert_eq!(
        (
            &kept.options["cacert"],
            &kept.options["cert"],
            &kept.options["verify"]
        ),
        (&json!(ca.pem), &json!(client.cert), &json!(false))
    );
    assert_eq!(app.stored_tls_key(&s.uuid).await.unwrap().1, client.key);

    let other = ca.client("census");
    let r = app
        .patch(&path, json!({"options": {"cert": other.cert}}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.parse::<FieldErrors>()["key"],
        ["The key does not belong to the certificate."]
    );
    let r = app
        .put(
            &path,
            json!({"name": "prod", "options": {"auth_url": "https://keystone.example.org/v3", "cert": other.cert, "key": other.key}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rotated: ServiceSettings = r.parse();
    assert_eq!(rotated.options["cert"], other.cert.as_str());
    assert_eq!(
        rotated.options["cacert"],
        ca.pem.as_str(),
        "PUT keeps what it does not name"
    );
    assert_eq!(app.stored_tls_key(&s.uuid).await.unwrap().1, other.key);

    let r = app
        .patch(&path, json!({"options": {"cacert": "", "cert": ""}}))
        .await;
    let cleared: ServiceSettings = r.parse();
    assert_eq!(cleared.options["cacert"], Value::Null);
    assert_eq!(cleared.options["cert"], Value::Null);
    assert!(app.stored_tls_key(&s.uuid).await.is_none());
    app.stop().await;
}
