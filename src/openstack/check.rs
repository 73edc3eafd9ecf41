//! A connection check of one session: the login (the token's project and roles), then for
//! identity, image, compute and volume the catalog endpoint of the session's region and
//! interface and one small request to it, timed. Failures are kept as the typed errors, whose
//! messages say what to fix (the regions a catalog does have, whose login Keystone refused).
use std::time::{Duration, Instant};

use super::error::{OpenStackError, Service};
use super::session::{Session, TokenScope};
use super::{cinder, glance, keystone, nova};

/// What logging in showed.
pub struct Login {
    pub latency: Duration,
    pub result: Result<TokenScope, OpenStackError>,
}

/// One service: its endpoint and how one small request to it went.
pub struct Probe {
    pub service: Service,
    /// The catalog type the endpoint was found under (Cinder has had several names), or the
    /// type looked for when none was found.
    pub service_type: String,
    /// The catalog URL; `None` when the catalog has none for the region and interface.
    pub endpoint: Option<String>,
    /// The URL asked (a GET), when there was an endpoint to ask.
    pub request: Option<String>,
    pub latency: Option<Duration>,
    /// `Err(EndpointMissing)` when there was no endpoint; else how the request went.
    pub result: Result<(), OpenStackError>,
}

pub struct Check {
    pub login: Login,
    /// Identity, image, compute, volume, in that order; empty when the login failed.
    pub probes: Vec<Probe>,
}

/// Logs `session` in and, when that works, probes each service once, one after the other.
pub async fn run(session: &Session) -> Check {
    let started = Instant::now();
    let result = session.scope().await;
    let login = Login {
        latency: started.elapsed(),
        result,
    };
    let mut probes = Vec::new();
    if login.result.is_ok() {
        for service in [
            Service::Keystone,
            Service::Glance,
            Service::Nova,
            Service::Cinder,
        ] {
            probes.push(probe(session, service).await);
        }
    }
    Check { login, probes }
}

/// The catalog types a service is registered under, the preferred first.
fn service_types(service: Service) -> &'static [&'static str] {
    match service {
        Service::Keystone => &["identity"],
        Service::Glance => &["image"],
        Service::Nova => &["compute"],
        Service::Cinder => &cinder::SERVICE_TYPES,
    }
}

/// The small request that shows a service answers: the identity version document, and a
/// one-item listing of images, servers and volumes (which the token must be allowed).
fn probe_url(service: Service, endpoint: &str, service_type: &str) -> String {
    match service {
        Service::Keystone => keystone::v3_base(endpoint),
        Service::Glance => format!("{}/images?limit=1", glance::api_base(endpoint)),
        Service::Nova => format!("{}/servers/detail?limit=1", nova::compute_base(endpoint)),
        Service::Cinder => format!(
            "{}/volumes/detail?limit=1",
            cinder::volume_base(endpoint, service_type)
        ),
    }
}

async fn probe(session: &Session, service: Service) -> Probe {
    let (service_type, endpoint) = match find_endpoint(session, service).await {
        Ok(found) => found,
        Err((service_type, e)) => {
            return Probe {
                service,
                service_type,
                endpoint: None,
                request: None,
                latency: None,
                result: Err(e),
            };
        }
    };
    let url = probe_url(service, &endpoint, &service_type);
    let started = Instant::now();
    let answered = session
        .get_json::<serde_json::Value>(service, &url, &[])
        .await;
    Probe {
        service,
        service_type,
        endpoint: Some(endpoint),
        request: Some(url),
        latency: Some(started.elapsed()),
        result: answered.map(drop),
    }
}

/// The endpoint of the first of the service's types the catalog has, with that type; else
/// the failure that tells the most (the first naming regions the catalog does have).
async fn find_endpoint(
    session: &Session,
    service: Service,
) -> Result<(String, String), (String, OpenStackError)> {
    let names_regions = |e: &OpenStackError| matches!(e, OpenStackError::EndpointMissing { regions, .. } if !regions.is_empty());
    let (first, others) = match service_types(service) {
        [first, others @ ..] => (*first, others),
        [] => ("", &[][..]),
    };
    let mut best = match session.endpoint(first).await {
        Ok(url) => return Ok((first.to_string(), url)),
        Err(e) => (first.to_string(), e),
    };
    for service_type in others {
        match session.endpoint(service_type).await {
            Ok(url) => return Ok((service_type.to_string(), url)),
            Err(e) if names_regions(&e) && !names_regions(&best.1) => {
                best = (service_type.to_string(), e);
            }
            Err(_) => {}
        }
    }
    Err(best)
}
