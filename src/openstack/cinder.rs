//! Cinder (block storage): volume listing, paged through `volumes_links`.
//!
//! Usage accounting needs the volumes because a server booted from a volume has no image in
//! Nova (`"image": ""`): its image is the boot volume's `volume_image_metadata`. Cinder is
//! optional in a cloud, so a catalog without a volume endpoint is an answer (`None`), not an
//! error: the caller records the service as unavailable and counts such servers under an
//! unknown image.
use std::collections::HashSet;

use serde_json::Value;

use super::PAGE_LIMIT;
use super::error::{OpenStackError, Service};
use super::pager::{Listing, Page, Pager};
use super::session::Session;

/// The catalog service types of Cinder, newest first: `block-storage` is the official name,
/// `volumev3`/`volumev2` what most deployed catalogs still register.
pub const SERVICE_TYPES: [&str; 3] = ["block-storage", "volumev3", "volumev2"];

/// How a cloud without Cinder is named in `unavailable_services`.
pub const UNAVAILABLE_SERVICE: &str = "volume";

/// One volume, as much of it as attribution needs.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct CinderVolume {
    pub id: String,
    pub status: String,
    /// GiB; `None` when Cinder sent no integer.
    pub size_gib: Option<i64>,
    /// Cinder sends `"true"`/`"false"` strings; a JSON bool is accepted too.
    pub bootable: bool,
    /// `volume_image_metadata.image_id`: the Glance image the volume was created from.
    pub image_id: Option<String>,
    /// `volume_image_metadata.image_name`: kept because the image may since have been deleted.
    pub image_name: Option<String>,
    pub attachments: Vec<VolumeAttachment>,
    /// The owning project (`os-vol-tenant-attr:tenant_id`, where the cloud's policy shows
    /// it): what tells the projects of a cloud-wide listing (`all_tenants`) apart.
    pub tenant_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VolumeAttachment {
    pub server_id: String,
    /// The device inside the server, e.g. `/dev/vda`; attribution compares it with the
    /// server's root device.
    pub device: Option<String>,
}

fn malformed(detail: impl Into<String>) -> OpenStackError {
    OpenStackError::MalformedBody {
        service: Service::Cinder,
        detail: detail.into(),
    }
}

/// A non-empty string value, NUL-free.
fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| super::storable(s.to_string()))
}

/// Cinder's `bootable`: a string in its API (`"true"`/`"false"`), parsed here as oslo's
/// `bool_from_string` would (any case, `1`/`yes`/`on`…), or a JSON bool from a proxy or an
/// SDK that "fixed" the type. Anything else is not bootable: a wrong `true` would move usage
/// onto an image, a wrong `false` only leaves a server unattributed.
pub fn parse_bootable(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "t" | "1" | "yes" | "y" | "on"
        ),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

fn parse_size(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl CinderVolume {
    /// A volume from its listing entry. Only a missing id makes it unusable; every other field
    /// is optional upstream data and falls back to empty.
    pub fn from_json(v: &Value) -> Result<Self, OpenStackError> {
        let id = text(v.get("id")).ok_or_else(|| malformed("a volume has no id"))?;
        let metadata = v.get("volume_image_metadata").filter(|m| m.is_object());
        let attachments = v
            .get("attachments")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|a| {
                        Some(VolumeAttachment {
                            server_id: text(a.get("server_id"))?,
                            device: text(a.get("device")),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            status: text(v.get("status")).unwrap_or_default(),
            size_gib: parse_size(v.get("size")),
            bootable: parse_bootable(v.get("bootable")),
            image_id: text(metadata.and_then(|m| m.get("image_id"))),
            image_name: text(metadata.and_then(|m| m.get("image_name"))),
            attachments,
            tenant_id: text(v.get("os-vol-tenant-attr:tenant_id")),
            id,
        })
    }
}

/// The block-storage API root from a catalog URL. Catalogs usually give `/v3/{project_id}`;
/// an unversioned URL gets the version its service type implies.
pub fn volume_base(endpoint: &str, service_type: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    let versioned = base
        .split('/')
        .skip(3)
        .any(|segment| matches!(segment, "v1" | "v2" | "v3"));
    if versioned {
        base.to_string()
    } else if service_type == "volumev2" {
        format!("{base}/v2")
    } else {
        format!("{base}/v3")
    }
}

/// The volume API root of the session's cloud, or `None` when its catalog has no volume
/// endpoint (a cloud without Cinder) for the session's interface and region.
pub async fn volume_endpoint(session: &Session) -> Result<Option<String>, OpenStackError> {
    Ok(session
        .first_endpoint(&SERVICE_TYPES)
        .await?
        .map(|(service_type, url)| volume_base(&url, &service_type)))
}

/// Pages through `{volume}/volumes/detail`, following `volumes_links` rel=next.
pub struct VolumePager<'a> {
    listing: VolumeListing<'a>,
    pager: Pager,
}

impl<'a> VolumePager<'a> {
    /// A pager over the project's volumes, or `None` when the cloud has no volume endpoint.
    pub async fn open(session: &'a Session) -> Result<Option<Self>, OpenStackError> {
        Self::open_with(session, Scope::Project).await
    }

    async fn open_with(session: &'a Session, scope: Scope) -> Result<Option<Self>, OpenStackError> {
        let Some(base) = volume_endpoint(session).await? else {
            return Ok(None);
        };
        let first_query = match scope {
            Scope::Project => format!("limit={PAGE_LIMIT}"),
            Scope::AllTenants => format!("limit={PAGE_LIMIT}&all_tenants=1"),
        };
        Ok(Some(Self {
            listing: VolumeListing {
                session,
                list_url: format!("{base}/volumes/detail"),
                first_query,
                skipped: 0,
            },
            pager: Pager::new(Service::Cinder),
        }))
    }

    /// Volumes left out so far because their entry was unusable (no id).
    pub fn skipped(&self) -> u64 {
        self.listing.skipped
    }

    /// Whether the listing started over after Cinder refused a marker (its volume was deleted
    /// while we paged): volumes already returned may then come again.
    pub fn restarted(&self) -> bool {
        self.pager.restarted()
    }

    /// The next page of volumes, or `None` when the listing is complete. A malformed volume is
    /// skipped (and counted in `skipped`) rather than failing its page: one broken record must
    /// not hide every other volume of the project.
    pub async fn next_page(&mut self) -> Result<Option<Vec<CinderVolume>>, OpenStackError> {
        self.pager.next_page(&mut self.listing).await
    }
}

/// How the pager reads `{volume}/volumes/detail`: requests are queries.
struct VolumeListing<'a> {
    session: &'a Session,
    /// `{volume}/volumes/detail`, without a query.
    list_url: String,
    /// The query of the first page (and of a restarted listing).
    first_query: String,
    /// Malformed entries left out so far.
    skipped: u64,
}

impl Listing for VolumeListing<'_> {
    type Item = CinderVolume;

    async fn first(&mut self) -> Result<String, OpenStackError> {
        Ok(self.first_query.clone())
    }

    async fn fetch(&mut self, query: &str) -> Result<Page<CinderVolume>, OpenStackError> {
        let url = format!("{}?{query}", self.list_url);
        let page: Value = self
            .session
            .get_json(Service::Cinder, &url, &[])
            .await?
            .ok_or_else(|| malformed("empty response"))?;
        let entries = page
            .get("volumes")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no `volumes` array"))?;
        let mut volumes = Vec::with_capacity(entries.len());
        for entry in entries {
            match CinderVolume::from_json(entry) {
                Ok(v) => volumes.push(v),
                Err(e) => {
                    self.skipped += 1;
                    tracing::warn!(error = %e, "skipping a malformed Cinder volume");
                }
            }
        }
        Ok(Page {
            items: volumes,
            next: next_query(&page)?,
        })
    }

    /// The marker volume was deleted while we paged: Cinder answers 400 or 404.
    fn marker_gone(&self, err: &OpenStackError) -> bool {
        matches!(err.status(), Some(400 | 404))
    }
}

/// The query of the `volumes_links` rel=next link. Only the query is kept: Cinder builds the
/// link from its own idea of its URL, which behind a TLS-terminating proxy is often `http://`
/// or an internal host, while the catalog URL is the one that works from here.
fn next_query(page: &Value) -> Result<Option<String>, OpenStackError> {
    let href = page
        .get("volumes_links")
        .and_then(Value::as_array)
        .and_then(|links| {
            links
                .iter()
                .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
        })
        .and_then(|l| l.get("href").and_then(Value::as_str));
    match href {
        None => Ok(None),
        Some(href) => match href.split_once('?').map(|(_, q)| q) {
            Some(q) if !q.is_empty() => Ok(Some(q.to_string())),
            _ => Err(malformed("a `next` link without a query")),
        },
    }
}

/// Every volume of a listing: the session's project's, or the whole cloud's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VolumeList {
    pub volumes: Vec<CinderVolume>,
    /// Malformed entries left out.
    pub skipped: u64,
}

/// Whose volumes a listing asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// The session's project's.
    Project,
    /// Every project's (`all_tenants=1`), an admin's listing.
    AllTenants,
}

/// Lists the project's volumes, or `None` when the cloud has no volume endpoint. Volumes seen
/// twice (after a restarted listing) are kept once.
pub async fn list_volumes(session: &Session) -> Result<Option<VolumeList>, OpenStackError> {
    list(session, Scope::Project).await
}

/// Lists the volumes of every project of the cloud (`all_tenants=1`), each with its
/// `tenant_id`: one listing per cloud instead of one per project; `None` when the cloud has
/// no volume endpoint. Meant for an admin token: Cinder's default policy refuses others (an
/// error), though a cloud that drops the option for them lists only the session's project,
/// which the volumes' `tenant_id` then shows.
pub async fn list_volumes_all_tenants(
    session: &Session,
) -> Result<Option<VolumeList>, OpenStackError> {
    list(session, Scope::AllTenants).await
}

async fn list(session: &Session, scope: Scope) -> Result<Option<VolumeList>, OpenStackError> {
    let Some(mut pager) = VolumePager::open_with(session, scope).await? else {
        return Ok(None);
    };
    let mut volumes = Vec::new();
    let mut ids = HashSet::new();
    while let Some(page) = pager.next_page().await? {
        volumes.extend(page.into_iter().filter(|v| ids.insert(v.id.clone())));
    }
    Ok(Some(VolumeList {
        volumes,
        skipped: pager.skipped(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bootable_is_read_from_strings_and_bools() {
        for (raw, want) in [
            (json!("true"), true),
            (json!("false"), false),
            (json!("True"), true),
            (json!(" FALSE "), false),
            (json!(true), true),
            (json!(false), false),
            (json!("yes"), true),
            (json!(""), false),
            (json!("maybe"), false),
            (json!(null), false),
            (json!(1), true),
            (json!({"x": 1}), false),
        ] {
            assert_eq!(parse_bootable(Some(&raw)), want, "{raw}");
        }
        assert!(!parse_bootable(None));
    }

    #[test]
    fn a_bootable_volume_made_from_an_image_keeps_its_metadata_and_attachments() {
        let v = CinderVolume::from_json(&json!({
            "id": "vol-1", "status": "in-use", "size": 20, "bootable": "true",
            "os-vol-tenant-attr:tenant_id": "p1",
            "volume_image_metadata": {"image_id": "img-1", "image_name": "Ubuntu\u{0} 24.04",
                                      "checksum": "c", "min_disk": "0"},
            "attachments": [
                {"server_id": "srv-1", "device": "/dev/vda", "attachment_id": "a1"},
                {"server_id": "srv-2"},
                {"device": "/dev/vdb"},
                "junk"
            ]
        }))
        .unwrap();
        assert_eq!(
            v,
            CinderVolume {
                id: "vol-1".into(),
                status: "in-use".into(),
                size_gib: Some(20),
                bootable: true,
                image_id: Some("img-1".into()),
                image_name: Some("Ubuntu 24.04".into()),
                attachments: vec![
                    VolumeAttachment {
                        server_id: "srv-1".into(),
                        device: Some("/dev/vda".into())
                    },
                    VolumeAttachment {
                        server_id: "srv-2".into(),
                        device: None
                    },
                ],
                tenant_id: Some("p1".into()),
            }
        );
    }

    #[test]
    fn missing_or_odd_fields_fall_back_and_only_a_missing_id_is_malformed() {
        let bare = CinderVolume::from_json(&json!({"id": "vol-2", "bootable": "false"})).unwrap();
        assert_eq!(
            bare,
            CinderVolume {
                id: "vol-2".into(),
                status: String::new(),
                size_gib: None,
                bootable: false,
                image_id: None,
                image_name: None,
                attachments: vec![],
                tenant_id: None,
            }
        );
        let odd = CinderVolume::from_json(&json!({
            "id": "vol-3", "size": "5", "volume_image_metadata": null,
            "attachments": {"not": "a list"}, "status": 7
        }))
        .unwrap();
        assert_eq!(
            (
                odd.size_gib,
                odd.image_id,
                odd.attachments.len(),
                odd.status
            ),
            (Some(5), None, 0, String::new())
        );
        let partial = CinderVolume::from_json(
            &json!({"id": "v", "volume_image_metadata": {"image_name": "n"}}),
        )
        .unwrap();
        assert_eq!(
            (partial.image_id, partial.image_name.as_deref()),
            (None, Some("n"))
        );
        for bad in [
            json!({"name": "no id"}),
            json!({"id": ""}),
            json!({"id": 5}),
            json!("x"),
        ] {
            assert!(CinderVolume::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volume_urls_get_a_version_only_when_they_lack_one() {
        assert_eq!(
            volume_base("http://c:8776/v3/p1/", "block-storage"),
            "http://c:8776/v3/p1"
        );
        assert_eq!(
            volume_base("http://c/volume/v2/p1", "volumev2"),
            "http://c/volume/v2/p1"
        );
        assert_eq!(volume_base("http://c:8776", "volumev3"), "http://c:8776/v3");
        assert_eq!(
            volume_base("http://c:8776/", "volumev2"),
            "http://c:8776/v2"
        );
        assert_eq!(
            volume_base("http://v3.example/volume", "block-storage"),
            "http://v3.example/volume/v3"
        );
    }

    #[test]
    fn next_links_keep_only_their_query() {
        let page = json!({"volumes": [], "volumes_links": [
            {"rel": "prev", "href": "http://x/v3/p/volumes/detail?limit=2"},
            {"rel": "next", "href": "http://internal:8776/v3/p/volumes/detail?limit=2&marker=m"}
        ]});
        assert_eq!(
            next_query(&page).unwrap().as_deref(),
            Some("limit=2&marker=m")
        );
        assert_eq!(next_query(&json!({"volumes": []})).unwrap(), None);
        let bad = json!({"volumes_links": [{"rel": "next", "href": "http://x/volumes/detail"}]});
        assert!(next_query(&bad).is_err());
    }
}
