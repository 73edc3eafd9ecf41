//! Glance v2: image listing (paged, both visible and hidden images) and the info endpoints.
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::{OpenStackError, Service};
use super::session::Session;

/// The server's maximum page size.
pub const PAGE_LIMIT: u32 = 1000;
/// More pages than this means a broken `next` chain, not a big cloud (10M images).
const MAX_PAGES: u32 = 10_000;

/// Keys of Glance's image schema: everything else at the top level is an extra property.
const CORE_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "owner",
    "protected",
    "os_hidden",
    "min_disk",
    "min_ram",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
    "tags",
    "file",
    "self",
    "schema",
    "locations",
    "direct_url",
    "stores",
];

/// The statuses of images on their way out; they are not part of the catalog.
pub const GONE_STATUSES: &[&str] = &["deleted", "pending_delete"];

#[derive(Clone, Debug, PartialEq)]
pub struct GlanceImage {
    pub id: String,
    pub name: String,
    pub status: String,
    pub visibility: String,
    /// The owning project's id.
    pub owner: Option<String>,
    /// GB, as Glance counts it.
    pub min_disk_gb: i64,
    pub min_ram_mb: i64,
    pub size: Option<i64>,
    pub checksum: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Extra properties (string values only), `hw_rescue_*` included.
    pub properties: BTreeMap<String, String>,
}

fn malformed(detail: impl Into<String>) -> OpenStackError {
    OpenStackError::MalformedBody {
        service: Service::Glance,
        detail: detail.into(),
    }
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(String::from)
        .filter(|s| !s.is_empty())
}

fn int(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    obj.get(key).and_then(Value::as_i64)
}

fn time(obj: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    let raw = obj.get(key)?.as_str()?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
}

impl GlanceImage {
    pub fn from_json(value: &Value) -> Result<Self, OpenStackError> {
        let obj = value
            .as_object()
            .ok_or_else(|| malformed("an image is not an object"))?;
        let id = string(obj, "id").ok_or_else(|| malformed("an image has no id"))?;
        let properties: BTreeMap<String, String> = obj
            .iter()
            .filter(|(k, _)| !CORE_KEYS.contains(&k.as_str()))
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect();
        // Names may be null or missing: fall back to the description, then the id.
        let name = string(obj, "name")
            .or_else(|| {
                properties
                    .get("description")
                    .filter(|d| !d.is_empty())
                    .cloned()
            })
            .unwrap_or_else(|| id.clone());
        Ok(Self {
            name,
            status: string(obj, "status").unwrap_or_default(),
            visibility: string(obj, "visibility").unwrap_or_default(),
            owner: string(obj, "owner"),
            min_disk_gb: int(obj, "min_disk").unwrap_or(0),
            min_ram_mb: int(obj, "min_ram").unwrap_or(0),
            size: int(obj, "size"),
            checksum: string(obj, "checksum"),
            disk_format: string(obj, "disk_format"),
            container_format: string(obj, "container_format"),
            created_at: time(obj, "created_at"),
            updated_at: time(obj, "updated_at"),
            properties,
            id,
        })
    }

    pub fn is_gone(&self) -> bool {
        GONE_STATUSES.contains(&self.status.as_str())
    }
}

/// `{image endpoint}/v2`, whether or not the catalog URL already carries the version.
pub fn api_base(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    let base = base.strip_suffix("/v2").unwrap_or(base);
    format!("{base}/v2")
}

/// Pages through `/v2/images`: first the visible images, then a second pass for the hidden
/// ones (`os_hidden=true`), following `next` until it is absent.
pub struct ImagePager<'a> {
    session: &'a Session,
    base: Option<String>,
    pass: usize,
    /// The query of the next request in this pass; `None` before the first page.
    next_query: Option<String>,
    seen_queries: HashSet<String>,
    pages: u32,
    restarted: bool,
    done: bool,
}

const PASSES: [&str; 2] = [
    "limit=1000&visibility=all&member_status=all",
    "limit=1000&visibility=all&member_status=all&os_hidden=true",
];

impl<'a> ImagePager<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self {
            session,
            base: None,
            pass: 0,
            next_query: None,
            seen_queries: HashSet::new(),
            pages: 0,
            restarted: false,
            done: false,
        }
    }

    /// The next page of images (`deleted`/`pending_delete` ones included: the caller skips
    /// them), or `None` when both passes are complete.
    pub async fn next_page(&mut self) -> Result<Option<Vec<GlanceImage>>, OpenStackError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let base = match &self.base {
                Some(b) => b.clone(),
                None => {
                    let b = format!(
                        "{}/images",
                        api_base(&self.session.endpoint("image").await?)
                    );
                    self.base = Some(b.clone());
                    b
                }
            };
            let query = self
                .next_query
                .clone()
                .unwrap_or_else(|| PASSES[self.pass].to_string());
            if !self.seen_queries.insert(query.clone()) {
                return Err(OpenStackError::Paging {
                    service: Service::Glance,
                    detail: "the `next` link points to a page already read".into(),
                });
            }
            self.pages += 1;
            if self.pages > MAX_PAGES {
                return Err(OpenStackError::Paging {
                    service: Service::Glance,
                    detail: format!("more than {MAX_PAGES} pages"),
                });
            }
            let url = format!("{base}?{query}");
            let page: Value = match self.session.get_json(Service::Glance, &url, &[]).await {
                Ok(Some(v)) => v,
                Ok(None) => return Err(malformed("empty response")),
                // A marker image deleted while we page: start this pass again, once.
                Err(e)
                    if e.status() == Some(400) && query.contains("marker=") && !self.restarted =>
                {
                    tracing::info!("Glance rejected a paging marker; restarting the listing");
                    self.restarted = true;
                    self.next_query = None;
                    self.seen_queries.clear();
                    continue;
                }
                Err(e) => return Err(e),
            };
            let images = page
                .get("images")
                .and_then(Value::as_array)
                .ok_or_else(|| malformed("no `images` array"))?
                .iter()
                .map(GlanceImage::from_json)
                .collect::<Result<Vec<_>, _>>()?;
            match page.get("next").and_then(Value::as_str) {
                // `next` is root-relative and lacks the endpoint's path prefix: keep only its query.
                Some(next) => {
                    let q = next.split_once('?').map(|(_, q)| q).unwrap_or_default();
                    if q.is_empty() {
                        return Err(malformed("a `next` link without a query"));
                    }
                    self.next_query = Some(q.to_string());
                }
                None => {
                    self.next_query = None;
                    self.pass += 1;
                    self.seen_queries.clear();
                    if self.pass >= PASSES.len() {
                        self.done = true;
                    }
                }
            }
            return Ok(Some(images));
        }
    }
}

/// The status of a project's membership of a shared image (`accepted`, `pending`,
/// `rejected`), or `None` when the project is not a member.
pub async fn member_status(
    session: &Session,
    image_id: &str,
    project_id: &str,
) -> Result<Option<String>, OpenStackError> {
    let url = format!(
        "{}/images/{image_id}/members/{project_id}",
        api_base(&session.endpoint("image").await?)
    );
    let member: Option<Value> = session.get_json(Service::Glance, &url, &[403, 404]).await?;
    Ok(member.map(|m| {
        m.get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }))
}

/// `/v2/info/usage`, `/v2/info/stores`, `/v2/info/import`; each `None` where the cloud does not
/// have it (older clouds answer 404 or 403).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GlanceInfo {
    pub usage: Option<Value>,
    pub stores: Option<Value>,
    pub import_methods: Option<Value>,
}

pub async fn info(session: &Session) -> Result<GlanceInfo, OpenStackError> {
    let base = format!("{}/info", api_base(&session.endpoint("image").await?));
    let absent = [403, 404, 501];
    let usage: Option<Value> = session
        .get_json(Service::Glance, &format!("{base}/usage"), &absent)
        .await?;
    let stores: Option<Value> = session
        .get_json(Service::Glance, &format!("{base}/stores"), &absent)
        .await?;
    let import: Option<Value> = session
        .get_json(Service::Glance, &format!("{base}/import"), &absent)
        .await?;
    Ok(GlanceInfo {
        usage: usage.and_then(|v| v.get("usage").cloned()),
        stores: stores.and_then(|v| v.get("stores").cloned()),
        import_methods: import.and_then(|v| v.get("import-methods").cloned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_parse_with_fallback_names_and_extra_properties() {
        let img = GlanceImage::from_json(&json!({
            "id": "abc", "name": null, "status": "active", "visibility": "shared",
            "min_disk": 20, "min_ram": 512, "size": null, "checksum": "c",
            "created_at": "2025-01-02T03:04:05Z", "updated_at": "2025-01-03T00:00:00Z",
            "description": "Ubuntu LTS", "hw_rescue_device": "cdrom", "os_distro": "ubuntu",
            "tags": ["x"], "os_hidden": false, "protected": false, "owner": "p", "some_number": 5
        }))
        .unwrap();
        assert_eq!(img.name, "Ubuntu LTS");
        assert_eq!(img.min_disk_gb, 20);
        assert_eq!(img.size, None);
        assert_eq!(
            img.properties.get("hw_rescue_device").map(String::as_str),
            Some("cdrom")
        );
        assert!(
            !img.properties.contains_key("owner") && !img.properties.contains_key("some_number")
        );
        let bare = GlanceImage::from_json(&json!({"id": "only-id"})).unwrap();
        assert_eq!(bare.name, "only-id");
        assert!(GlanceImage::from_json(&json!({"name": "no id"})).is_err());
    }

    #[test]
    fn api_base_handles_versioned_and_unversioned_endpoints() {
        assert_eq!(api_base("http://g:9292"), "http://g:9292/v2");
        assert_eq!(api_base("http://g/image/"), "http://g/image/v2");
        assert_eq!(api_base("http://g:9292/v2"), "http://g:9292/v2");
    }
}
