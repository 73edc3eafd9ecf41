//! A cloud's TLS options in a request (`cacert`, `verify`, `cert`, write-only `key`): checked
//! as PEM and as a pair, and laid over the stored configuration, so a change names only what
//! it changes. An empty text removes: `cacert: ""` the CA bundle, `cert: ""` the client
//! certificate with its key.
use super::validate::Validator;
use crate::openstack::tls::{self, ClientIdentity, TlsConfig};

/// Longest PEM text accepted: a whole public CA bundle (about 220 KB) fits.
pub const PEM_MAX: usize = 512 * 1024;

const KEY_NEEDS_CERT: &str = "A client key needs a client certificate (cert).";
const CERT_NEEDS_KEY: &str = "A client certificate needs its private key (key).";

/// The TLS fields of a request, as given (`None`: not given).
#[derive(Clone, Default)]
pub struct TlsFields {
    pub cacert: Option<String>,
    pub verify: Option<bool>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

/// A given text: `Some(None)` removes, `Some(Some(pem))` sets.
fn given(text: &Option<String>) -> Option<Option<&str>> {
    text.as_deref()
        .map(|t| Some(t).filter(|t| !t.trim().is_empty()))
}

impl TlsFields {
    pub fn is_empty(&self) -> bool {
        self.cacert.is_none() && self.verify.is_none() && self.cert.is_none() && self.key.is_none()
    }

    /// The configuration after the change, `stored` completing what it leaves out (the
    /// default for a new cloud); `None` when it changes nothing or a field is wrong (then
    /// `v` says which).
    pub fn over(self, stored: &TlsConfig, v: &mut Validator) -> Option<TlsConfig> {
        if self.is_empty() {
            return None;
        }
        for (field, text) in [
            ("cacert", &self.cacert),
            ("cert", &self.cert),
            ("key", &self.key),
        ] {
            v.at_most(field, text.as_deref(), PEM_MAX);
        }
        let cacert = match given(&self.cacert) {
            None => stored.cacert.clone(),
            Some(None) => None,
            Some(Some(pem)) => match tls::check_cacert(pem) {
                Ok(_) => Some(pem.to_string()),
                Err(e) => {
                    v.add("cacert", e.to_string());
                    None
                }
            },
        };
        let client = self.client(stored, v);
        Some(TlsConfig {
            cacert,
            verify: self.verify.unwrap_or(stored.verify),
            client,
        })
    }

    /// The client certificate and key after the change: each given one checked alone, then
    /// the pair (a new certificate keeps the stored key only if that key is its own).
    fn client(&self, stored: &TlsConfig, v: &mut Validator) -> Option<ClientIdentity> {
        let stored_cert = stored.client.as_ref().map(|c| c.cert.as_str());
        let stored_key = stored.client.as_ref().map(|c| c.key.as_str());
        let cert = match given(&self.cert) {
            None => stored_cert,
            Some(None) => None,
            Some(Some(pem)) => {
                if let Err(e) = tls::check_cert(pem) {
                    v.add("cert", e.to_string());
                    return None;
                }
                Some(pem)
            }
        };
        let key = match given(&self.key) {
            // Removing the certificate removes its key.
            None if cert.is_none() => None,
            None => stored_key,
            Some(None) => None,
            Some(Some(pem)) => {
                if let Err(e) = tls::check_key(pem) {
                    v.add("key", e.to_string());
                    return None;
                }
                Some(pem)
            }
        };
        match (cert, key) {
            (None, None) => None,
            (None, Some(_)) => {
                v.add("key", KEY_NEEDS_CERT);
                None
            }
            (Some(_), None) => {
                v.add("key", CERT_NEEDS_KEY);
                None
            }
            (Some(cert), Some(key)) => match tls::check_identity(cert, key) {
                Ok(()) => Some(ClientIdentity {
                    cert: cert.to_string(),
                    key: key.to_string(),
                }),
                Err(e) => {
                    v.add("key", e.to_string());
                    None
                }
            },
        }
    }
}

/// What an operator should know about a cloud's TLS configuration, as shown on the cloud.
pub fn warnings(verify: bool) -> Vec<String> {
    if verify {
        Vec::new()
    } else {
        vec![
            "TLS verification is off (options.verify: false): the cloud's certificates are \
             not checked, so anyone on the path can read its credentials"
                .to_string(),
        ]
    }
}
