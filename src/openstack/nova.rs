//! Nova: server listing (paged through `servers_links`), at microversion 2.47 where the cloud
//! offers it (flavors embedded with their size), else at the highest it offers.
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use super::error::{OpenStackError, Service};
use super::pager::{Listing, Page, Pager};
use super::session::Session;

#[derive(Clone, Debug, PartialEq, Hash)]
pub struct NovaServer {
    pub id: String,
    pub name: String,
    pub status: String,
    /// `None` for boot-from-volume servers (Nova sends `"image": ""`).
    pub image_id: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub flavor: Flavor,
    /// `OS-SRV-USG:launched_at` / `terminated_at`.
    pub launched_at: Option<DateTime<Utc>>,
    pub terminated_at: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// `OS-EXT-STS:vm_state`, where the cloud's policy shows it.
    pub vm_state: Option<String>,
    /// `os-extended-volumes:volumes_attached` ids.
    pub volume_ids: Vec<String>,
    /// `OS-EXT-SRV-ATTR:root_device_name`, where the cloud's policy shows it.
    pub root_device: Option<String>,
    /// The owning project (`tenant_id`): what tells the projects of a cloud-wide listing
    /// (`all_tenants`) apart.
    pub tenant_id: Option<String>,
}

/// A server's flavor: 2.47+ embeds its name and size; older microversions give only its id
/// (kept as the name), and the size stays unknown.
#[derive(Clone, Debug, Default, PartialEq, Hash)]
pub struct Flavor {
    pub name: String,
    pub vcpus: Option<i32>,
    pub ram_mib: Option<i64>,
    pub disk_gib: Option<i64>,
    pub ephemeral_gib: Option<i64>,
}

impl Flavor {
    fn from_json(v: Option<&Value>) -> Self {
        let Some(v) = v else {
            return Self::default();
        };
        let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        let size = |key: &str| v.get(key).and_then(Value::as_i64).filter(|n| *n >= 0);
        Self {
            name: super::storable(
                text("original_name")
                    .or_else(|| text("id"))
                    .unwrap_or_default(),
            ),
            vcpus: size("vcpus").and_then(|n| i32::try_from(n).ok()),
            ram_mib: size("ram"),
            disk_gib: size("disk"),
            ephemeral_gib: size("ephemeral"),
        }
    }
}

/// A Nova timestamp: `updated` and `created` carry an offset (`…Z`), `OS-SRV-USG:*` do not
/// (UTC, with microseconds).
pub(super) fn timestamp(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    let raw = v.get(key)?.as_str()?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

pub(super) fn malformed(detail: impl Into<String>) -> OpenStackError {
    OpenStackError::MalformedBody {
        service: Service::Nova,
        detail: detail.into(),
    }
}

impl NovaServer {
    pub fn from_json(v: &Value) -> Result<Self, OpenStackError> {
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| malformed("a server has no id"))?
            .to_string();
        let text = |key: &str| {
            super::storable(
                v.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        let image_id = v
            .get("image")
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| super::storable(s.to_string()));
        let volume_ids = v
            .get("os-extended-volumes:volumes_attached")
            .and_then(Value::as_array)
            .map(|volumes| {
                volumes
                    .iter()
                    .filter_map(|vol| vol.get("id").and_then(Value::as_str))
                    .map(|id| super::storable(id.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            name: text("name"),
            status: text("status"),
            created: timestamp(v, "created"),
            image_id,
            flavor: Flavor::from_json(v.get("flavor")),
            launched_at: timestamp(v, "OS-SRV-USG:launched_at"),
            terminated_at: timestamp(v, "OS-SRV-USG:terminated_at"),
            updated: timestamp(v, "updated"),
            vm_state: v
                .get("OS-EXT-STS:vm_state")
                .and_then(Value::as_str)
                .map(|s| super::storable(s.to_string())),
            volume_ids,
            root_device: v
                .get("OS-EXT-SRV-ATTR:root_device_name")
                .and_then(Value::as_str)
                .map(|s| super::storable(s.to_string())),
            tenant_id: v
                .get("tenant_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| super::storable(s.to_string())),
            id: super::storable(id),
        })
    }
}

/// The compute API root. Catalogs usually give `/v2.1` or `/v2.1/{project_id}` already; an
/// unversioned endpoint gets `/v2.1`.
pub fn compute_base(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    let versioned = base
        .split('/')
        .skip(3)
        .any(|segment| segment == "v2" || segment == "v2.1");
    if versioned {
        base.to_string()
    } else {
        format!("{base}/v2.1")
    }
}

/// A compute API microversion, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(pub u32, pub u32);

/// The microversion asked for: the first that embeds each server's flavor with its size.
pub const WANTED: Microversion = Microversion(2, 47);

/// The request header that selects a microversion.
pub(super) const MICROVERSION_HEADER: &str = "X-OpenStack-Nova-API-Version";

impl Microversion {
    pub fn parse(raw: &str) -> Option<Self> {
        let (major, minor) = raw.trim().split_once('.')?;
        Some(Self(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for Microversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// The versioned root of a compute endpoint, where its version document is: the URL up to
/// its `v2`/`v2.1` segment (catalogs often append the project id).
pub fn version_root(base: &str) -> String {
    let segments: Vec<&str> = base.split('/').collect();
    let end = segments
        .iter()
        .enumerate()
        .skip(3)
        .find(|(_, s)| **s == "v2" || **s == "v2.1")
        .map_or(segments.len(), |(i, _)| i + 1);
    format!("{}/", segments[..end].join("/"))
}

/// The microversion to ask for, from the version document's `version` (the highest the
/// cloud offers): 2.47 where offered, else that highest; `None` for a cloud without
/// microversions (legacy v2, an empty `version`). Without a readable document, 2.47 is tried
/// and the listing falls back if the cloud refuses it.
async fn negotiate(session: &Session, base: &str) -> Option<Microversion> {
    negotiate_up_to(session, base, WANTED).await
}

/// The microversion to ask for, `wanted` at most: the highest the cloud offers up to it
/// (`wanted` itself when the version document cannot be read); `None` without microversions.
pub(super) async fn negotiate_up_to(
    session: &Session,
    base: &str,
    wanted: Microversion,
) -> Option<Microversion> {
    let doc: Option<Value> = match session
        .get_json(Service::Nova, &version_root(base), &[404])
        .await
    {
        Ok(doc) => doc,
        Err(e) => {
            tracing::debug!(error = %e, "no compute version document");
            None
        }
    };
    let Some(doc) = doc else {
        return Some(wanted);
    };
    let offered = doc
        .get("version")
        .and_then(|v| v.get("version"))
        .and_then(Value::as_str)
        .and_then(Microversion::parse)?;
    Some(offered.min(wanted))
}

/// Pages through `/servers/detail`, following `servers_links` rel=next as given.
pub struct ServerPager<'a> {
    listing: ServerListing<'a>,
    pager: Pager,
}

impl<'a> ServerPager<'a> {
    /// The servers of the session's project.
    pub fn new(session: &'a Session) -> Self {
        Self {
            listing: ServerListing {
                session,
                all_tenants: false,
                microversion: None,
                changes_since: None,
            },
            pager: Pager::new(Service::Nova),
        }
    }

    /// Only the servers changed at or after `since` (an RFC 3339 time in the cloud's own
    /// clock), deleted ones included (status `DELETED`): what a delta poll asks for.
    pub fn changed_since(mut self, since: &str) -> Self {
        self.listing.changes_since =
            Some(url::form_urlencoded::byte_serialize(since.as_bytes()).collect());
        self
    }

    /// The servers of every project of the cloud, each with its `tenant_id`: one listing per
    /// cloud instead of one per project. Nova's default policy gives it to admins only (a 403
    /// for others). Only the first page's query asks for it; the `servers_links` Nova sends
    /// carry it on and are followed as given.
    pub fn all_tenants(session: &'a Session) -> Self {
        let mut pager = Self::new(session);
        pager.listing.all_tenants = true;
        pager
    }

    /// The next page of servers, or `None` when the listing is complete. Entries without an
    /// id are skipped (with a warning) rather than failing their page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<NovaServer>>, OpenStackError> {
        self.pager.next_page(&mut self.listing).await
    }
}

/// How the pager reads `/servers/detail`: requests are whole URLs, as Nova links them.
struct ServerListing<'a> {
    session: &'a Session,
    /// The whole cloud's servers (`all_tenants=1`, an admin's listing) rather than the
    /// project's.
    all_tenants: bool,
    /// The microversion the listing asks for, settled on its first page.
    microversion: Option<Microversion>,
    /// `changes-since` of a delta poll, URL-encoded.
    changes_since: Option<String>,
}

impl Listing for ServerListing<'_> {
    type Item = NovaServer;

    /// The first page's URL, once the microversion is negotiated.
    async fn first(&mut self) -> Result<String, OpenStackError> {
        let base = compute_base(&self.session.endpoint("compute").await?);
        self.microversion = negotiate(self.session, &base).await;
        let scope = if self.all_tenants {
            "&all_tenants=1"
        } else {
            ""
        };
        let since = self
            .changes_since
            .as_ref()
            .map(|s| format!("&changes-since={s}"))
            .unwrap_or_default();
        Ok(format!(
            "{base}/servers/detail?limit={}{scope}{since}",
            super::PAGE_LIMIT
        ))
    }

    async fn fetch(&mut self, url: &str) -> Result<Page<NovaServer>, OpenStackError> {
        let page = self.get_page(url).await?;
        let entries = page
            .get("servers")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no `servers` array"))?;
        // One unreadable entry must not fail its page, and so its tenant's sync.
        let servers: Vec<NovaServer> = entries
            .iter()
            .filter_map(|v| NovaServer::from_json(v).ok())
            .collect();
        if servers.len() < entries.len() {
            tracing::warn!(
                skipped = entries.len() - servers.len(),
                "Nova listed entries that are not servers (no id)"
            );
        }
        Ok(Page {
            items: servers,
            next: next_href(&page),
        })
    }
}

/// The href of the `servers_links` rel=next link, absolute and followed as given.
fn next_href(page: &Value) -> Option<String> {
    page.get("servers_links")
        .and_then(Value::as_array)
        .and_then(|links| {
            links
                .iter()
                .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
        })
        .and_then(|l| l.get("href").and_then(Value::as_str))
        .map(String::from)
}

impl ServerListing<'_> {
    /// One page at the negotiated microversion; a cloud that refuses it (406, or 400 from
    /// some proxies) is asked again without one, and the rest of the listing follows.
    async fn get_page(&mut self, url: &str) -> Result<Value, OpenStackError> {
        let headers: Vec<(&str, String)> = self
            .microversion
            .map(|v| (MICROVERSION_HEADER, v.to_string()))
            .into_iter()
            .collect();
        let page = match self
            .session
            .get_json_with(Service::Nova, url, &[], &headers)
            .await
        {
            Err(OpenStackError::UpstreamStatus {
                status: 406 | 400, ..
            }) if self.microversion.is_some() => {
                tracing::debug!(microversion = ?self.microversion, "refused; listing without");
                self.microversion = None;
                self.session.get_json(Service::Nova, url, &[]).await?
            }
            other => other?,
        };
        page.ok_or_else(|| malformed("empty response"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compute_urls_get_a_version_only_when_they_lack_one() {
        assert_eq!(compute_base("http://n:8774/v2.1/"), "http://n:8774/v2.1");
        assert_eq!(
            compute_base("http://n:8774/v2.1/abc123"),
            "http://n:8774/v2.1/abc123"
        );
        assert_eq!(
            compute_base("http://n/compute/v2/abc"),
            "http://n/compute/v2/abc"
        );
        assert_eq!(compute_base("http://n:8774"), "http://n:8774/v2.1");
        assert_eq!(
            compute_base("http://v2.1.example/compute"),
            "http://v2.1.example/compute/v2.1"
        );
    }

    #[test]
    fn version_roots_and_microversions() {
        assert_eq!(
            version_root("http://n:8774/v2.1/abc123"),
            "http://n:8774/v2.1/"
        );
        assert_eq!(
            version_root("http://n/compute/v2.1"),
            "http://n/compute/v2.1/"
        );
        assert_eq!(Microversion::parse("2.96"), Some(Microversion(2, 96)));
        assert_eq!(Microversion::parse(""), None);
        assert!(Microversion(2, 9) < Microversion(2, 47));
        assert_eq!(Microversion(2, 47).to_string(), "2.47");
    }

    #[test]
    fn flavors_in_both_forms_and_usage_times_without_offset() {
        let s = NovaServer::from_json(&json!({
            "id": "s",
            "flavor": {"original_name": "m1.large", "vcpus": 4, "ram": 8192, "disk": 80, "ephemeral": 0},
            "OS-SRV-USG:launched_at": "2026-11-01T08:00:30.123456",
            "OS-SRV-USG:terminated_at": null,
            "updated": "2026-11-02T00:00:00Z",
            "os-extended-volumes:volumes_attached": [{"id": "v1"}, {"bad": 1}],
        }))
        .unwrap();
        assert_eq!(s.flavor.name, "m1.large");
        assert_eq!(
            (s.flavor.vcpus, s.flavor.ram_mib, s.flavor.disk_gib),
            (Some(4), Some(8192), Some(80))
        );
        assert_eq!(
            s.launched_at.unwrap().to_rfc3339(),
            "2026-11-01T08:00:30.123456+00:00"
        );
        assert_eq!(s.terminated_at, None);
        assert_eq!(s.volume_ids, ["v1"]);
        assert_eq!(s.tenant_id, None);
        let old = NovaServer::from_json(&json!({"id": "s", "flavor": {"id": "42", "links": []},
            "OS-SRV-USG:launched_at": "garbage"}))
        .unwrap();
        assert_eq!(old.flavor.name, "42");
        assert_eq!(old.flavor.vcpus, None);
        assert_eq!(old.launched_at, None);
    }

    #[test]
    fn a_server_needs_an_id() {
        assert!(NovaServer::from_json(&json!({"id": "", "name": "x"})).is_err());
        assert!(NovaServer::from_json(&json!({"name": "x"})).is_err());
        assert!(NovaServer::from_json(&json!({"id": "s", "flavor": "odd", "image": 7})).is_ok());
    }

    #[test]
    fn boot_from_volume_servers_have_no_image() {
        let s = NovaServer::from_json(&json!({"id": "s", "name": "vm", "status": "ACTIVE", "image": "", "created": "2025-01-01T00:00:00Z"})).unwrap();
        assert_eq!(s.image_id, None);
        let s = NovaServer::from_json(&json!({"id": "s", "image": {"id": "img", "links": []}}))
            .unwrap();
        assert_eq!(s.image_id.as_deref(), Some("img"));
    }

    #[test]
    fn next_links_are_followed_as_given() {
        let page = json!({"servers": [], "servers_links": [
            {"rel": "prev", "href": "http://n/v2.1/servers/detail?limit=2"},
            {"rel": "next", "href": "http://n/v2.1/servers/detail?limit=2&marker=m"}
        ]});
        assert_eq!(
            next_href(&page).as_deref(),
            Some("http://n/v2.1/servers/detail?limit=2&marker=m")
        );
        assert_eq!(next_href(&json!({"servers": []})), None);
        assert_eq!(
            next_href(&json!({"servers_links": [{"rel": "next"}]})),
            None
        );
    }

    #[test]
    fn the_owning_project_is_read_from_tenant_id() {
        let s = NovaServer::from_json(&json!({"id": "s", "tenant_id": "p1"})).unwrap();
        assert_eq!(s.tenant_id.as_deref(), Some("p1"));
        for odd in [
            json!({"id": "s", "tenant_id": ""}),
            json!({"id": "s", "tenant_id": 7}),
        ] {
            assert_eq!(
                NovaServer::from_json(&odd).unwrap().tenant_id,
                None,
                "{odd}"
            );
        }
    }
}
