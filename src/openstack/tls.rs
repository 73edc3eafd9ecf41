//! A cloud's TLS: which CAs its certificates are checked against, whether they are checked at
//! all, and the client certificate it may ask for. One HTTP client per distinct configuration,
//! shared by every session that uses it (building one loads the system's roots, and a shared
//! client keeps its connections), and readable words for a refused handshake.
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CertificateError, Error as TlsError};
use sha2::{Digest, Sha256};

use super::error::{OpenStackError, Service};
use super::session::SessionSettings;

/// How sessions reach a cloud over TLS. The default trusts the system's roots and checks.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM CA certificates trusted beside the system's roots.
    pub cacert: Option<String>,
    /// `false`: certificates are not checked at all (names, dates, issuers).
    pub verify: bool,
    pub client: Option<ClientIdentity>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cacert: None,
            verify: true,
            client: None,
        }
    }
}

/// A client certificate (chain) and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub cert: String,
    pub key: String,
}

/// Never prints the key, so a stray `{:?}` in a log line cannot leak it.
impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cacert", &self.cacert.as_ref().map(|p| certificates_in(p)))
            .field("verify", &self.verify)
            .field("client_cert", &self.client.is_some())
            .finish()
    }
}

fn certificates_in(pem: &str) -> usize {
    pem.matches("-----BEGIN CERTIFICATE-----").count()
}

/// Why a PEM text cannot serve: the sentence a 400 puts under its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("Enter one or more PEM certificates (-----BEGIN CERTIFICATE-----).")]
    NoCertificate,
    #[error("Not a readable PEM text: {0}.")]
    Unreadable(String),
    #[error("Certificate {index} cannot be used: {reason}.")]
    BadCertificate { index: usize, reason: String },
    #[error("The certificate text holds a private key: give the key in `key` alone.")]
    KeyInCertificate,
    #[error("Enter a PEM private key (PKCS#8, PKCS#1 or SEC1).")]
    NoKey,
    #[error("The key cannot be used: {0}.")]
    BadKey(String),
    #[error("The key does not belong to the certificate.")]
    KeyMismatch,
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Unreadable(e.to_string()))?;
    if certs.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(certs)
}

/// The PEM sections of a text whose label matches `wanted` (`CERTIFICATE`, `PRIVATE KEY`,
/// `RSA PRIVATE KEY`, …), each with its BEGIN and END lines, joined: how a combined
/// certificate-and-key file is split so that the key never travels as part of the
/// certificate.
pub fn sections(text: &str, wanted: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let mut inside: Option<&str> = None;
    for line in text.lines() {
        let line = line.trim_end();
        match inside {
            None => {
                if let Some(label) = line
                    .strip_prefix("-----BEGIN ")
                    .and_then(|l| l.strip_suffix("-----"))
                    && wanted(label)
                {
                    inside = Some(label);
                    out.push_str(line);
                    out.push('\n');
                }
            }
            Some(label) => {
                out.push_str(line);
                out.push('\n');
                if line == format!("-----END {label}-----") {
                    inside = None;
                }
            }
        }
    }
    out
}

pub fn is_certificate(label: &str) -> bool {
    label == "CERTIFICATE"
}

pub fn is_private_key(label: &str) -> bool {
    label.ends_with("PRIVATE KEY")
}

/// Checks a CA bundle the way the client will load it: each certificate must make a trust
/// anchor. Returns how many there are.
pub fn check_cacert(pem: &str) -> Result<usize, PemError> {
    let certs = certificates(pem)?;
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store
            .add(cert.clone())
            .map_err(|e| PemError::BadCertificate {
                index: i + 1,
                reason: e.to_string(),
            })?;
    }
    Ok(certs.len())
}

/// Checks a client certificate alone (a PATCH may change it while the stored key stays). It
/// must not carry its key: a certificate is shown, a key never.
pub fn check_cert(pem: &str) -> Result<(), PemError> {
    if !sections(pem, is_private_key).is_empty() {
        return Err(PemError::KeyInCertificate);
    }
    let certs = certificates(pem)?;
    for (i, cert) in certs.iter().enumerate() {
        webpki_parse(cert).map_err(|reason| PemError::BadCertificate {
            index: i + 1,
            reason,
        })?;
    }
    Ok(())
}

/// A certificate as a trust anchor parses it: enough to tell garbage from a certificate.
fn webpki_parse(cert: &CertificateDer<'_>) -> Result<(), String> {
    rustls::RootCertStore::empty()
        .add(cert.clone().into_owned())
        .map_err(|e| e.to_string())
}

/// Checks a private key alone.
pub fn check_key(pem: &str) -> Result<(), PemError> {
    private_key(pem).map(|_| ())
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, PemError> {
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => PemError::NoKey,
        other => PemError::Unreadable(other.to_string()),
    })?;
    rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| PemError::BadKey(e.to_string()))?;
    Ok(key)
}

/// Checks that the key signs for the certificate and that the client will take the pair.
pub fn check_identity(cert: &str, key: &str) -> Result<(), PemError> {
    let certs = certificates(cert)?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&private_key(key)?)
        .map_err(|e| PemError::BadKey(e.to_string()))?;
    rustls::sign::CertifiedKey::new(certs, signing)
        .keys_match()
        .map_err(|_| PemError::KeyMismatch)?;
    reqwest::Identity::from_pem(identity_pem(cert, key).as_bytes())
        .map_err(|e| PemError::BadKey(e.to_string()))?;
    Ok(())
}

fn identity_pem(cert: &str, key: &str) -> String {
    format!("{}\n{}\n", cert.trim_end(), key.trim_end())
}

/// Clients kept at once; past this the cache starts over (configurations only pile up when
/// clouds' TLS settings change, and a dropped client only costs a new handshake).
const MAX_CLIENTS: usize = 64;

type ClientKey = [u8; 32];

static CLIENTS: LazyLock<Mutex<HashMap<ClientKey, reqwest::Client>>> =
    LazyLock::new(Default::default);

/// The configuration's identity in the cache: a hash, so the map keeps no key material.
fn cache_key(settings: &SessionSettings, tls: &TlsConfig) -> ClientKey {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(tls.cacert.as_deref().unwrap_or_default().as_bytes());
    field(&[u8::from(tls.cacert.is_some()), u8::from(tls.verify)]);
    let (cert, key) = tls
        .client
        .as_ref()
        .map_or(("", ""), |c| (c.cert.as_str(), c.key.as_str()));
    field(cert.as_bytes());
    field(key.as_bytes());
    field(&settings.connect_timeout.as_nanos().to_le_bytes());
    field(&settings.timeout.as_nanos().to_le_bytes());
    h.finalize().into()
}

/// The client for this TLS configuration (and the process's timeouts), built on first use.
pub fn client(
    settings: &SessionSettings,
    tls: &TlsConfig,
) -> Result<reqwest::Client, OpenStackError> {
    let key = cache_key(settings, tls);
    let mut clients = CLIENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    let client = build(settings, tls)?;
    if clients.len() >= MAX_CLIENTS {
        clients.clear();
    }
    clients.insert(key, client.clone());
    Ok(client)
}

fn build(settings: &SessionSettings, tls: &TlsConfig) -> Result<reqwest::Client, OpenStackError> {
    // Settings are checked when stored; one that fails here (stored by an older version, or
    // edited in the database) fails the sessions that need it, with the reason.
    let invalid = |detail: String| OpenStackError::Tls {
        service: Service::Keystone,
        detail,
    };
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .user_agent(concat!("cloudcensus/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &tls.cacert {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| invalid(format!("the cloud's cacert cannot be used: {e}")))?;
        builder = builder.tls_certs_merge(certs);
    }
    if let Some(id) = &tls.client {
        let identity = reqwest::Identity::from_pem(identity_pem(&id.cert, &id.key).as_bytes())
            .map_err(|e| {
                invalid(format!(
                    "the cloud's client certificate cannot be used: {e}"
                ))
            })?;
        builder = builder.identity(identity);
    }
    if !tls.verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| OpenStackError::Connect {
        service: Service::Keystone,
        detail: e.to_string(),
    })
}

/// A refused handshake in words an operator can act on: which host, what was wrong with its
/// certificate, and which option fixes it.
pub fn describe(error: &TlsError, host: &str) -> String {
    match error {
        TlsError::InvalidCertificate(cert) => describe_certificate(cert, host),
        TlsError::AlertReceived(alert) => {
            use rustls::AlertDescription as A;
            match alert {
                A::CertificateRequired
                | A::BadCertificate
                | A::UnknownCA
                | A::CertificateUnknown
                | A::HandshakeFailure => format!(
                    "{host} refused the handshake ({alert:?}): it may require a client \
                     certificate (options.cert and options.key), or refuse the one given"
                ),
                other => format!("{host} ended the handshake with the alert {other:?}"),
            }
        }
        TlsError::InvalidMessage(_) => format!(
            "{host} did not answer with TLS ({error}): is it an http:// service behind an \
             https:// URL?"
        ),
        other => format!("the handshake with {host} failed: {other}"),
    }
}

fn describe_certificate(error: &CertificateError, host: &str) -> String {
    match error {
        CertificateError::UnknownIssuer => format!(
            "the certificate of {host} is not signed by a trusted CA (unknown issuer): give \
             the CA that signed it in the cloud's options.cacert (PEM)"
        ),
        CertificateError::BadSignature => format!(
            "the certificate of {host} does not match the CA it names (bad signature): check \
             the cloud's options.cacert"
        ),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the certificate of {host} has expired: valid until {}, {} ago",
            unix_time(not_after.as_secs()),
            ago(time.as_secs().saturating_sub(not_after.as_secs()))
        ),
        CertificateError::Expired => format!("the certificate of {host} has expired"),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "the certificate of {host} is not valid yet: valid from {} (is this machine's \
             clock right?)",
            unix_time(not_before.as_secs())
        ),
        CertificateError::NotValidYet => format!("the certificate of {host} is not valid yet"),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let covers = if presented.is_empty() {
                "no names at all".to_string()
            } else {
                presented
                    .iter()
                    .map(|n| bare_name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "the certificate of {host} does not cover the name {} (hostname mismatch): it \
                 covers {covers}; use an auth_url with one of those names",
                expected.to_str()
            )
        }
        CertificateError::NotValidForName => {
            format!("the certificate of {host} does not cover that name (hostname mismatch)")
        }
        CertificateError::Revoked => format!("the certificate of {host} has been revoked"),
        other => format!("the certificate of {host} was refused: {other}"),
    }
}

/// A name as webpki presents it (`DnsName("a.example")`, `IpAddress(10.0.0.1)`), bare.
fn bare_name(presented: &str) -> &str {
    presented
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map_or(presented, |inner| inner.trim_matches('"'))
}

fn unix_time(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || format!("{secs} (UNIX)"),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

fn ago(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

/// A shared cache of clients must never hand a client built for other settings to a
/// session; the hash covers every input of [`build`].
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_that_differ_in_anything_get_their_own_client() {
        let s = SessionSettings::default();
        let base = TlsConfig::default();
        let variants = [
            TlsConfig {
                verify: false,
                ..base.clone()
            },
            TlsConfig {
                cacert: Some(String::new()),
                ..base.clone()
            },
            TlsConfig {
                client: Some(ClientIdentity {
                    cert: "c".into(),
                    key: "k".into(),
                }),
                ..base.clone()
            },
            TlsConfig {
                client: Some(ClientIdentity {
                    cert: "ck".into(),
                    key: String::new(),
                }),
                ..base.clone()
            },
        ];
        let mut keys = vec![cache_key(&s, &base)];
        keys.extend(variants.iter().map(|v| cache_key(&s, v)));
        let slower = SessionSettings {
            timeout: s.timeout * 2,
            ..s.clone()
        };
        keys.push(cache_key(&slower, &base));
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        assert_eq!(cache_key(&s, &base), cache_key(&s, &base.clone()));
    }

    #[test]
    fn a_configuration_gets_its_client_once() {
        crate::install_crypto_provider();
        // Timeouts no other test uses, so the entry is this test's own.
        let s = SessionSettings {
            timeout: std::time::Duration::from_millis(98_765),
            ..SessionSettings::default()
        };
        let tls = TlsConfig::default();
        let cached = || {
            CLIENTS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(&cache_key(&s, &tls))
        };
        assert!(!cached());
        client(&s, &tls).unwrap();
        assert!(cached());
        client(&s, &tls).unwrap();
        assert!(cached());
    }

    #[test]
    fn presented_names_are_shown_bare() {
        assert_eq!(bare_name("DnsName(\"a.example\")"), "a.example");
        assert_eq!(bare_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(bare_name("plain"), "plain");
    }

    #[test]
    fn debug_output_hides_the_key() {
        let t = TlsConfig {
            client: Some(ClientIdentity {
                cert: "cert".into(),
                key: "very-secret-key".into(),
            }),
            ..TlsConfig::default()
        };
        assert!(!format!("{t:?}").contains("very-secret-key"));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(check_cacert("hello"), Err(PemError::NoCertificate));
        let bad = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            check_cacert(bad),
            Err(PemError::BadCertificate { index: 1, .. })
        ));
        assert_eq!(check_key("hello"), Err(PemError::NoKey));
    }
}
