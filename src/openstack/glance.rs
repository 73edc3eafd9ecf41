//! Glance v2: image listing (paged, both visible and hidden images) and the info endpoints.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;

use super::PAGE_LIMIT;
use super::error::{OpenStackError, Service};
use super::pager::{Listing, Page, Pager};
use super::session::Session;

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

#[derive(Clone, Debug, PartialEq, Hash)]
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

impl GlanceImage {
    pub fn from_json(value: &Value) -> Result<Self, OpenStackError> {
        GlanceImage::deserialize(value).map_err(|e| malformed(e.to_string()))
    }

    pub fn is_gone(&self) -> bool {
        GONE_STATUSES.contains(&self.status.as_str())
    }
}

fn parse_time(raw: Option<String>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.as_deref()?)
        .map(|t| t.with_timezone(&Utc))
        .ok()
}

/// A top-level value kept only when it is a non-empty string (extra properties, names).
struct StringOnly(Option<String>);

impl<'de> Deserialize<'de> for StringOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = IgnoreUnlessString::deserialize(d)?;
        Ok(StringOnly(value.0.filter(|s| !s.is_empty())))
    }
}

struct IgnoreUnlessString(Option<String>);

impl<'de> Deserialize<'de> for IgnoreUnlessString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IgnoreUnlessString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(Some(super::storable(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(Some(super::storable(v))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                IgnoreUnlessString::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(IgnoreUnlessString(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(IgnoreUnlessString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A number kept only when it is an integer; anything else counts as absent.
struct IgnoreUnlessInt(Option<i64>);

impl<'de> Deserialize<'de> for IgnoreUnlessInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Whatever the value, it is read whole; only an integer is kept.
        Ok(IgnoreUnlessInt(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        }))
    }
}

impl<'de> Deserialize<'de> for GlanceImage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ListedImage::deserialize(d)?
            .0
            .ok_or_else(|| de::Error::custom("an image has no id"))
    }
}

/// An entry of a listing: the image, or `None` when it cannot be one (no id, not an object).
/// It never fails: one unreadable entry must not fail its page, and so its tenant's sync.
struct ListedImage(Option<GlanceImage>);

/// Reads an image straight from the response body: core keys into fields, other string
/// keys into `properties`, no intermediate JSON tree (listings are the sync's hot path).
impl<'de> Deserialize<'de> for ListedImage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListedImage;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Glance image object")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ListedImage, E> {
                Ok(ListedImage(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ListedImage, E> {
                Ok(ListedImage(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ListedImage, E> {
                Ok(ListedImage(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ListedImage, E> {
                Ok(ListedImage(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ListedImage, E> {
                Ok(ListedImage(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ListedImage, E> {
                Ok(ListedImage(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ListedImage, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(ListedImage(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ListedImage, A::Error> {
                let mut id = None;
                let mut name = None;
                let (mut status, mut visibility, mut owner) = (None, None, None);
                let (mut min_disk, mut min_ram, mut size) = (None, None, None);
                let (mut checksum, mut disk_format, mut container_format) = (None, None, None);
                let (mut created_at, mut updated_at) = (None, None);
                let mut properties = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let text = |m: &mut A| m.next_value::<StringOnly>().map(|s| s.0);
                    match key.as_str() {
                        "id" => id = text(&mut map)?,
                        "name" => name = text(&mut map)?,
                        "status" => status = text(&mut map)?,
                        "visibility" => visibility = text(&mut map)?,
                        "owner" => owner = text(&mut map)?,
                        "checksum" => checksum = text(&mut map)?,
                        "disk_format" => disk_format = text(&mut map)?,
                        "container_format" => container_format = text(&mut map)?,
                        "created_at" => created_at = text(&mut map)?,
                        "updated_at" => updated_at = text(&mut map)?,
                        "min_disk" => min_disk = map.next_value::<IgnoreUnlessInt>()?.0,
                        "min_ram" => min_ram = map.next_value::<IgnoreUnlessInt>()?.0,
                        "size" => size = map.next_value::<IgnoreUnlessInt>()?.0,
                        k if CORE_KEYS.contains(&k) => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        _ => {
                            if let Some(value) = map.next_value::<IgnoreUnlessString>()?.0 {
                                properties.insert(super::storable(key), value);
                            }
                        }
                    }
                }
                let Some(id) = id else {
                    return Ok(ListedImage(None));
                };
                // Names may be null or missing: fall back to the description, then the id.
                let name = name
                    .or_else(|| {
                        properties
                            .get("description")
                            .filter(|d| !d.is_empty())
                            .cloned()
                    })
                    .unwrap_or_else(|| id.clone());
                Ok(ListedImage(Some(GlanceImage {
                    id,
                    name,
                    status: status.unwrap_or_default(),
                    visibility: visibility.unwrap_or_default(),
                    owner,
                    min_disk_gb: min_disk.unwrap_or(0),
                    min_ram_mb: min_ram.unwrap_or(0),
                    size,
                    checksum,
                    disk_format,
                    container_format,
                    created_at: parse_time(created_at),
                    updated_at: parse_time(updated_at),
                    properties,
                })))
            }
        }
        d.deserialize_any(V)
    }
}

/// One page of `GET /v2/images`.
#[derive(Deserialize)]
struct ImagesPage {
    images: Vec<ListedImage>,
    #[serde(default)]
    next: Option<String>,
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
    listing: ImageListing<'a>,
    pager: Pager,
}

/// The listing's two passes: hidden images (`os_hidden`) are only listed when asked for.
const PASSES: [&str; 2] = [
    "visibility=all&member_status=all",
    "visibility=all&member_status=all&os_hidden=true",
];

impl<'a> ImagePager<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self::with_filter(session, String::new())
    }

    /// Only the images updated after `since` (an RFC 3339 time in the cloud's own clock),
    /// oldest change first: what changed since a delta poll's cursor. Both passes.
    pub fn updated_after(session: &'a Session, since: &str) -> Self {
        let since: String = url::form_urlencoded::byte_serialize(since.as_bytes()).collect();
        Self::with_filter(
            session,
            format!("&updated_at=gt:{since}&sort_key=updated_at&sort_dir=asc"),
        )
    }

    fn with_filter(session: &'a Session, filter: String) -> Self {
        Self {
            listing: ImageListing {
                session,
                filter,
                base: None,
                pass: 0,
            },
            pager: Pager::new(Service::Glance),
        }
    }

    /// The next page of images (`deleted`/`pending_delete` ones included: the caller skips
    /// them), or `None` when both passes are complete.
    pub async fn next_page(&mut self) -> Result<Option<Vec<GlanceImage>>, OpenStackError> {
        loop {
            if let Some(images) = self.pager.next_page(&mut self.listing).await? {
                return Ok(Some(images));
            }
            if self.listing.pass + 1 >= PASSES.len() {
                return Ok(None);
            }
            self.listing.pass += 1;
            self.pager.next_pass();
        }
    }
}

/// How the pager reads `/v2/images`: requests are queries, pass by pass.
struct ImageListing<'a> {
    session: &'a Session,
    /// Added to each pass's query: the `updated_at` filter of a delta poll.
    filter: String,
    /// `{image endpoint}/v2/images`, looked up on the first page.
    base: Option<String>,
    /// The index in [`PASSES`] of the pass being read.
    pass: usize,
}

impl ImageListing<'_> {
    /// The listing's URL without a query, from the catalog the first time.
    async fn base(&mut self) -> Result<String, OpenStackError> {
        if let Some(base) = &self.base {
            return Ok(base.clone());
        }
        let base = format!(
            "{}/images",
            api_base(&self.session.endpoint("image").await?)
        );
        self.base = Some(base.clone());
        Ok(base)
    }
}

impl Listing for ImageListing<'_> {
    type Item = GlanceImage;

    async fn first(&mut self) -> Result<String, OpenStackError> {
        self.base().await?;
        Ok(format!(
            "limit={PAGE_LIMIT}&{}{}",
            PASSES[self.pass], self.filter
        ))
    }

    async fn fetch(&mut self, query: &str) -> Result<Page<GlanceImage>, OpenStackError> {
        let url = format!("{}?{query}", self.base().await?);
        let page: ImagesPage = self
            .session
            .get_json(Service::Glance, &url, &[])
            .await?
            .ok_or_else(|| malformed("empty response"))?;
        let listed = page.images.len();
        let images: Vec<GlanceImage> = page.images.into_iter().filter_map(|e| e.0).collect();
        if images.len() < listed {
            // Counted for the operator; the rest of the page is synced.
            tracing::warn!(
                skipped = listed - images.len(),
                "Glance listed entries that are not images (no id, or not an object)"
            );
        }
        Ok(Page {
            items: images,
            next: next_query(page.next.as_deref())?,
        })
    }

    /// A marker image deleted while we page: Glance answers 400.
    fn marker_gone(&self, err: &OpenStackError) -> bool {
        err.status() == Some(400)
    }
}

/// The query of a page's `next` link. The link is root-relative and lacks the endpoint's
/// path prefix: only its query is kept.
fn next_query(next: Option<&str>) -> Result<Option<String>, OpenStackError> {
    let Some(next) = next else {
        return Ok(None);
    };
    match next.split_once('?').map(|(_, q)| q) {
        Some(q) if !q.is_empty() => Ok(Some(q.to_string())),
        _ => Err(malformed("a `next` link without a query")),
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

/// One membership of a shared image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageMember {
    /// The member project's id.
    pub member_id: String,
    /// `accepted`, `pending` or `rejected`.
    pub status: String,
}

#[derive(Deserialize)]
struct MembersPage {
    members: Vec<Value>,
}

/// The memberships of a shared image, every one for its owner or an admin, only the caller's
/// own for a member. Empty when Glance refuses the listing: 403 for an image that is not
/// `shared` (Glance: "Only shared images have members"), 404 for one the caller cannot see
/// (or that is gone); either way the image has no members this caller may know of. Entries
/// without a member id are left out.
pub async fn members(
    session: &Session,
    image_id: &str,
) -> Result<Vec<ImageMember>, OpenStackError> {
    let url = format!(
        "{}/images/{image_id}/members",
        api_base(&session.endpoint("image").await?)
    );
    let Some(page) = session
        .get_json::<MembersPage>(Service::Glance, &url, &[403, 404])
        .await?
    else {
        return Ok(Vec::new());
    };
    let text = |m: &Value, key: &str| {
        m.get(key)
            .and_then(Value::as_str)
            .map(|s| super::storable(s.to_string()))
    };
    Ok(page
        .members
        .iter()
        .filter_map(|m| {
            Some(ImageMember {
                member_id: text(m, "member_id").filter(|id| !id.is_empty())?,
                status: text(m, "status").unwrap_or_default(),
            })
        })
        .collect())
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
    fn unreadable_entries_leave_the_rest_of_the_page() {
        let page: ImagesPage = serde_json::from_str(
            r#"{"images": [
                {"id": "a", "name": "fine"},
                {"name": "no id"},
                {"id": "", "name": "empty id"},
                null, 7, "text", [1, 2],
                {"id": "b", "min_disk": "ten", "min_ram": 1.5, "size": {"x": 1}},
                {"id": "c"}
            ], "next": null}"#,
        )
        .unwrap();
        let ids: Vec<String> = page
            .images
            .into_iter()
            .filter_map(|e| e.0)
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn member_pages_need_a_members_array() {
        let page: MembersPage = serde_json::from_str(
            r#"{"members": [{"member_id": "p", "status": "accepted"}, 7], "schema": "/v2/schemas/members"}"#,
        )
        .unwrap();
        assert_eq!(page.members.len(), 2);
        assert!(serde_json::from_str::<MembersPage>(r#"{"schema": "x"}"#).is_err());
    }

    #[test]
    fn next_links_keep_only_their_query() {
        assert_eq!(
            next_query(Some("/v2/images?limit=2&marker=m"))
                .unwrap()
                .as_deref(),
            Some("limit=2&marker=m")
        );
        assert_eq!(next_query(None).unwrap(), None);
        for bad in ["/v2/images", "/v2/images?"] {
            let err = next_query(Some(bad)).unwrap_err();
            assert!(
                matches!(err, OpenStackError::MalformedBody { .. }),
                "{err:?}"
            );
        }
    }

    #[test]
    fn api_base_handles_versioned_and_unversioned_endpoints() {
        assert_eq!(api_base("http://g:9292"), "http://g:9292/v2");
        assert_eq!(api_base("http://g/image/"), "http://g/image/v2");
        assert_eq!(api_base("http://g:9292/v2"), "http://g:9292/v2");
    }
}
