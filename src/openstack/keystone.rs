//! Keystone v3: the token request body, the token response, endpoint discovery, and the
//! unified limits a service's quotas read (`/v3/registered_limits`, `/v3/limits`).
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{OpenStackError, PagingFault, Service};
use super::session::Session;

pub use super::auth::{AppCredentialRef, AuthMethod, LoginName, ProjectScope};

/// Keystone identifies the built-in domain by id `default` (its name is `Default`).
fn domain_ref(domain: &str) -> Value {
    if domain.is_empty() || domain.eq_ignore_ascii_case("default") {
        json!({"id": "default"})
    } else {
        json!({"name": domain})
    }
}

pub fn auth_body(method: &AuthMethod) -> Value {
    match method {
        AuthMethod::Password {
            username,
            password,
            user_domain,
            project,
        } => {
            let project = match project {
                ProjectScope::Id(id) => json!({"id": id}),
                ProjectScope::Name { name, domain } => {
                    json!({"name": name, "domain": domain_ref(domain)})
                }
            };
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": username, "domain": domain_ref(user_domain), "password": password
                }}},
                "scope": {"project": project}
            }})
        }
        AuthMethod::ApplicationCredential { credential, secret } => {
            let credential = match credential {
                AppCredentialRef::Id(id) => json!({"id": id, "secret": secret}),
                AppCredentialRef::Name {
                    name,
                    user,
                    user_domain,
                } => json!({"name": name, "secret": secret,
                            "user": {"name": user, "domain": domain_ref(user_domain)}}),
            };
            json!({"auth": {"identity": {
                "methods": ["application_credential"],
                "application_credential": credential
            }}})
        }
    }
}

/// The identity v3 root of an auth URL, whether or not the configured URL ends in `/v3`.
pub fn v3_base(auth_url: &str) -> String {
    let base = auth_url.trim_end_matches('/');
    if base.ends_with("/v3") {
        base.to_string()
    } else {
        format!("{base}/v3")
    }
}

/// `{auth_url}/auth/tokens`, whether or not the configured URL ends in `/v3`.
pub fn tokens_url(auth_url: &str) -> String {
    format!("{}/auth/tokens", v3_base(auth_url))
}

#[derive(Clone, Debug, Deserialize)]
pub struct TokenResponse {
    pub token: TokenBody,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TokenBody {
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub catalog: Vec<CatalogEntry>,
    #[serde(default)]
    pub project: Option<ProjectRef>,
    #[serde(default)]
    pub roles: Vec<RoleRef>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RoleRef {
    pub name: String,
}

impl TokenBody {
    /// Glance's default policy gives the `admin` role every image of the cloud in listings,
    /// whatever project the token is scoped to.
    pub fn is_admin(&self) -> bool {
        self.roles
            .iter()
            .any(|r| r.name.eq_ignore_ascii_case("admin"))
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct ProjectRef {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub domain: Option<DomainRef>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DomainRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CatalogEntry {
    /// The service's id, which unified limits are registered under.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CatalogEndpoint {
    pub interface: String,
    #[serde(default)]
    pub region_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub url: String,
}

/// The URL of `service_type` for `interface`, in `region` when one is configured.
pub fn find_endpoint(
    catalog: &[CatalogEntry],
    service_type: &str,
    interface: &str,
    region: &str,
) -> Result<String, OpenStackError> {
    catalog
        .iter()
        .filter(|e| e.service_type == service_type)
        .flat_map(|e| e.endpoints.iter())
        .find(|ep| {
            ep.interface == interface
                && (region.is_empty()
                    || ep.region_id.as_deref() == Some(region)
                    || ep.region.as_deref() == Some(region))
        })
        .map(|ep| ep.url.trim_end_matches('/').to_string())
        .ok_or_else(|| OpenStackError::EndpointMissing {
            service_type: service_type.to_string(),
            interface: interface.to_string(),
            region: region.to_string(),
            regions: regions_of(catalog, service_type, interface),
        })
}

/// A service of the catalog as unified limits name it: its id, and the region of the endpoint
/// this session uses (oslo.limit reads a service's limits by both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRef {
    pub service_id: String,
    pub region_id: Option<String>,
}

/// The service of `service_type` whose `interface` endpoint (in `region`, when one is
/// configured) a session would use; `None` when the catalog lacks it or names no service id.
pub fn find_service(
    catalog: &[CatalogEntry],
    service_type: &str,
    interface: &str,
    region: &str,
) -> Option<ServiceRef> {
    catalog
        .iter()
        .filter(|e| e.service_type == service_type)
        .find_map(|e| {
            let ep = e.endpoints.iter().find(|ep| {
                ep.interface == interface
                    && (region.is_empty()
                        || ep.region_id.as_deref() == Some(region)
                        || ep.region.as_deref() == Some(region))
            })?;
            Some(ServiceRef {
                service_id: e.id.clone().filter(|id| !id.is_empty())?,
                region_id: ep.region_id.clone().or_else(|| ep.region.clone()),
            })
        })
}

/// One registered limit: a service's default for every project without a limit of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredLimit {
    pub resource_name: String,
    pub default_limit: i64,
}

/// One project's own limit of a resource, overriding the registered default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectLimit {
    pub project_id: String,
    pub resource_name: String,
    pub resource_limit: i64,
}

/// A service's unified limits in one region: its registered defaults and every project's own
/// limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnifiedLimits {
    pub registered: Vec<RegisteredLimit>,
    pub projects: Vec<ProjectLimit>,
}

impl UnifiedLimits {
    /// `project`'s limit of `resource` as oslo.limit's flat enforcer finds it: the project's
    /// own limit, else the registered default, else 0 (oslo.limit's "no quota").
    pub fn limit_of(&self, project: &str, resource: &str) -> i64 {
        self.projects
            .iter()
            .find(|l| l.project_id == project && l.resource_name == resource)
            .map(|l| l.resource_limit)
            .or_else(|| {
                self.registered
                    .iter()
                    .find(|l| l.resource_name == resource)
                    .map(|l| l.default_limit)
            })
            .unwrap_or(0)
    }
}

#[derive(Deserialize)]
struct RegisteredLimitsBody {
    registered_limits: Vec<Value>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct LimitsBody {
    limits: Vec<Value>,
    #[serde(default)]
    truncated: bool,
}

/// A string field of a listed limit, and an integer one; entries lacking either are left out
/// (one odd entry must not hide the others).
fn text_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| super::storable(s.to_string()))
}

/// `service`'s unified limits: `GET /v3/registered_limits` and `GET /v3/limits`, each filtered
/// by the service and its endpoint's region, as oslo.limit reads them. Keystone shows an
/// admin every project's limits in one listing (a non-admin only its own project's). Any
/// refusal is an error for the caller to judge: 403 without the rights, 404 from a Keystone
/// older than unified limits; and so is a listing cut at Keystone's `list_limit`
/// (`truncated`), which would pass for complete and leave projects at their defaults.
pub async fn unified_limits(
    session: &Session,
    service: &ServiceRef,
) -> Result<UnifiedLimits, OpenStackError> {
    // Built before any await: the serializer is not `Send`.
    let query = {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("service_id", &service.service_id);
        if let Some(region) = &service.region_id {
            query.append_pair("region_id", region);
        }
        query.finish()
    };
    let base = v3_base(session.auth_url());
    let empty = || OpenStackError::MalformedBody {
        service: Service::Keystone,
        detail: "empty response".into(),
    };
    let truncated = || OpenStackError::Paging {
        service: Service::Keystone,
        fault: PagingFault::LimitsTruncated,
    };
    let registered: RegisteredLimitsBody = session
        .get_json(
            Service::Keystone,
            &format!("{base}/registered_limits?{query}"),
            &[],
        )
        .await?
        .ok_or_else(empty)?;
    let projects: LimitsBody = session
        .get_json(Service::Keystone, &format!("{base}/limits?{query}"), &[])
        .await?
        .ok_or_else(empty)?;
    if registered.truncated || projects.truncated {
        return Err(truncated());
    }
    Ok(UnifiedLimits {
        registered: registered
            .registered_limits
            .iter()
            .filter_map(|v| {
                Some(RegisteredLimit {
                    resource_name: text_of(v, "resource_name")?,
                    default_limit: v.get("default_limit")?.as_i64()?,
                })
            })
            .collect(),
        // Domain limits (no `project_id`) do not apply to the flat model's projects.
        projects: projects
            .limits
            .iter()
            .filter_map(|v| {
                Some(ProjectLimit {
                    project_id: text_of(v, "project_id")?,
                    resource_name: text_of(v, "resource_name")?,
                    resource_limit: v.get("resource_limit")?.as_i64()?,
                })
            })
            .collect(),
    })
}

/// The regions the catalog has `service_type` endpoints of `interface` in, each once.
fn regions_of(catalog: &[CatalogEntry], service_type: &str, interface: &str) -> Vec<String> {
    let mut regions: Vec<String> = catalog
        .iter()
        .filter(|e| e.service_type == service_type)
        .flat_map(|e| e.endpoints.iter())
        .filter(|ep| ep.interface == interface)
        .filter_map(|ep| ep.region_id.clone().or_else(|| ep.region.clone()))
        .collect();
    regions.sort_unstable();
    regions.dedup();
    regions
}

/// The first of `service_types` the catalog has an endpoint of for `interface` (in `region` when
/// one is configured), with the type that matched. Services that were renamed over the years
/// (Cinder: `block-storage`, `volumev3`, `volumev2`) are found under whichever name the cloud
/// registered; `None` when it registered none, which for an optional service is not an error.
pub fn find_first_endpoint(
    catalog: &[CatalogEntry],
    service_types: &[&str],
    interface: &str,
    region: &str,
) -> Option<(String, String)> {
    service_types.iter().find_map(|service_type| {
        find_endpoint(catalog, service_type, interface, region)
            .ok()
            .map(|url| (service_type.to_string(), url))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_the_keystone_v3_shapes() {
        let pw = auth_body(&AuthMethod::Password {
            username: "u".into(),
            password: "p".into(),
            user_domain: "Default".into(),
            project: ProjectScope::Id("pid".into()),
        });
        assert_eq!(
            pw["auth"]["identity"]["password"]["user"]["domain"],
            json!({"id": "default"})
        );
        assert_eq!(pw["auth"]["scope"]["project"], json!({"id": "pid"}));
        let app = auth_body(&AuthMethod::ApplicationCredential {
            credential: AppCredentialRef::Id("a".into()),
            secret: "s".into(),
        });
        let named = auth_body(&AuthMethod::ApplicationCredential {
            credential: AppCredentialRef::Name {
                name: "sync".into(),
                user: "u".into(),
                user_domain: "Default".into(),
            },
            secret: "s".into(),
        });
        assert_eq!(
            named["auth"]["identity"]["application_credential"],
            json!({"name": "sync", "secret": "s", "user": {"name": "u", "domain": {"id": "default"}}})
        );
        assert!(app["auth"].get("scope").is_none());
        assert_eq!(
            app["auth"]["identity"]["methods"],
            json!(["application_credential"])
        );
        assert!(
            !format!(
                "{:?}",
                AuthMethod::ApplicationCredential {
                    credential: AppCredentialRef::Id("a".into()),
                    secret: "s3cr3t".into()
                }
            )
            .contains("s3cr3t")
        );
    }

    #[test]
    fn token_urls_and_endpoints() {
        assert_eq!(
            tokens_url("http://k:5000/v3/"),
            "http://k:5000/v3/auth/tokens"
        );
        assert_eq!(tokens_url("http://k:5000"), "http://k:5000/v3/auth/tokens");
        let catalog: Vec<CatalogEntry> = serde_json::from_value(json!([
            {"type": "image", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "http://g1/"},
                {"interface": "internal", "region_id": "R1", "url": "http://g1-int"},
                {"interface": "public", "region_id": "R2", "url": "http://g2"}
            ]}
        ]))
        .unwrap();
        assert_eq!(
            find_endpoint(&catalog, "image", "public", "R2").unwrap(),
            "http://g2"
        );
        assert_eq!(
            find_endpoint(&catalog, "image", "internal", "").unwrap(),
            "http://g1-int"
        );
        let missing = find_endpoint(&catalog, "compute", "public", "R1").unwrap_err();
        assert!(missing.to_string().contains("compute"));
    }

    #[test]
    fn the_first_registered_of_several_service_types_is_found() {
        let catalog: Vec<CatalogEntry> = serde_json::from_value(json!([
            {"type": "volumev2", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "http://c/v2/p"}
            ]},
            {"type": "volumev3", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "http://c/v3/p/"},
                {"interface": "internal", "region_id": "R2", "url": "http://c-int/v3/p"}
            ]}
        ]))
        .unwrap();
        let types = ["block-storage", "volumev3", "volumev2"];
        assert_eq!(
            find_first_endpoint(&catalog, &types, "public", "R1"),
            Some(("volumev3".into(), "http://c/v3/p".into()))
        );
        assert_eq!(
            find_first_endpoint(&catalog, &types, "internal", ""),
            Some(("volumev3".into(), "http://c-int/v3/p".into()))
        );
        assert_eq!(find_first_endpoint(&catalog, &types, "admin", "R1"), None);
        assert_eq!(
            find_first_endpoint(&catalog, &["block-storage"], "public", ""),
            None
        );
    }

    #[test]
    fn unified_limits_are_named_by_the_service_and_its_endpoints_region() {
        let catalog: Vec<CatalogEntry> = serde_json::from_value(json!([
            {"id": "g-old", "type": "image", "endpoints": [
                {"interface": "public", "region_id": "R2", "url": "http://g2"}
            ]},
            {"id": "g", "type": "image", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "http://g1"},
                {"interface": "internal", "region": "R3", "url": "http://g3"}
            ]},
            {"type": "compute", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "http://n"}
            ]}
        ]))
        .unwrap();
        let service = |id: &str, region: &str| {
            Some(ServiceRef {
                service_id: id.into(),
                region_id: Some(region.into()),
            })
        };
        assert_eq!(
            find_service(&catalog, "image", "public", "R1"),
            service("g", "R1")
        );
        assert_eq!(
            find_service(&catalog, "image", "public", ""),
            service("g-old", "R2")
        );
        assert_eq!(
            find_service(&catalog, "image", "internal", "R3"),
            service("g", "R3")
        );
        assert_eq!(find_service(&catalog, "compute", "public", "R1"), None);

        let limits = UnifiedLimits {
            registered: vec![RegisteredLimit {
                resource_name: "image_count_total".into(),
                default_limit: 10,
            }],
            projects: vec![ProjectLimit {
                project_id: "p".into(),
                resource_name: "image_count_total".into(),
                resource_limit: -1,
            }],
        };
        assert_eq!(limits.limit_of("p", "image_count_total"), -1);
        assert_eq!(limits.limit_of("q", "image_count_total"), 10);
        // Nothing registered: oslo.limit's "no quota".
        assert_eq!(limits.limit_of("p", "image_size_total"), 0);
    }
}
