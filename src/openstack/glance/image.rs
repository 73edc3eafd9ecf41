//! A Glance image as the sync reads it: core fields typed, extra string properties kept,
//! anything unreadable left out rather than failing its page.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;

use crate::openstack::error::{OpenStackError, Service};

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
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub protected: bool,
    pub os_hidden: bool,
    /// String tags only, in Glance's order.
    pub tags: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Extra properties (string values only), `hw_rescue_*` included.
    pub properties: BTreeMap<String, String>,
    /// How many locations hold the image's data, when Glance showed it: the length of
    /// `locations` (with `show_multiple_locations`), else the ids in `stores` (a multi-store
    /// Glance). Glance's quota counts the size once per location.
    pub locations: Option<u32>,
}

pub(super) fn malformed(detail: impl Into<String>) -> OpenStackError {
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
                Ok(IgnoreUnlessString(Some(crate::openstack::storable(
                    v.to_string(),
                ))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(IgnoreUnlessString(Some(crate::openstack::storable(v))))
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

/// A flag kept only when it is a boolean; anything else counts as false (Glance's default).
struct IgnoreUnlessBool(bool);

impl<'de> Deserialize<'de> for IgnoreUnlessBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(IgnoreUnlessBool(matches!(
            serde_json::Value::deserialize(d)?,
            serde_json::Value::Bool(true)
        )))
    }
}

/// The length of an array; anything else counts as absent.
struct ArrayLength(Option<u32>);

impl<'de> Deserialize<'de> for ArrayLength {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ArrayLength(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Array(items) => u32::try_from(items.len()).ok(),
            _ => None,
        }))
    }
}

/// A list of tags: the non-empty strings of an array; anything else is no tags.
struct StringList(Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tags = match serde_json::Value::deserialize(d)? {
            serde_json::Value::Array(items) => items
                .into_iter()
                .filter_map(|v| match v {
                    serde_json::Value::String(s) if !s.is_empty() => {
                        Some(crate::openstack::storable(s))
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(StringList(tags))
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
pub(super) struct ListedImage(pub(super) Option<GlanceImage>);

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
                let (mut virtual_size, mut os_hash_algo, mut os_hash_value) = (None, None, None);
                let (mut protected, mut os_hidden, mut tags) = (false, false, Vec::new());
                let mut properties = BTreeMap::new();
                let (mut locations, mut stores) = (None, None);
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
                        "virtual_size" => {
                            virtual_size = map.next_value::<IgnoreUnlessInt>()?.0;
                        }
                        "os_hash_algo" => os_hash_algo = text(&mut map)?,
                        "os_hash_value" => os_hash_value = text(&mut map)?,
                        "protected" => protected = map.next_value::<IgnoreUnlessBool>()?.0,
                        "os_hidden" => os_hidden = map.next_value::<IgnoreUnlessBool>()?.0,
                        "tags" => tags = map.next_value::<StringList>()?.0,
                        "locations" => locations = map.next_value::<ArrayLength>()?.0,
                        "stores" => {
                            stores = text(&mut map)?.map(|s| {
                                s.split(',').filter(|id| !id.trim().is_empty()).count() as u32
                            });
                        }
                        k if CORE_KEYS.contains(&k) => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        _ => {
                            if let Some(value) = map.next_value::<IgnoreUnlessString>()?.0 {
                                properties.insert(crate::openstack::storable(key), value);
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
                    virtual_size,
                    checksum,
                    os_hash_algo,
                    os_hash_value,
                    disk_format,
                    container_format,
                    protected,
                    os_hidden,
                    tags,
                    created_at: parse_time(created_at),
                    updated_at: parse_time(updated_at),
                    properties,
                    locations: locations.or(stores),
                })))
            }
        }
        d.deserialize_any(V)
    }
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
        assert_eq!(img.tags, vec!["x".to_string()]);
        assert_eq!(img.owner.as_deref(), Some("p"));
        assert!(!img.protected && !img.os_hidden);
        let odd = GlanceImage::from_json(&json!({
            "id": "o", "protected": "yes", "os_hidden": true, "tags": ["", 3, "t"],
            "virtual_size": 7, "os_hash_algo": "sha512", "os_hash_value": "ff"
        }))
        .unwrap();
        assert!(!odd.protected && odd.os_hidden);
        assert_eq!(odd.tags, vec!["t".to_string()]);
        assert_eq!(odd.virtual_size, Some(7));
        assert_eq!(odd.os_hash_value.as_deref(), Some("ff"));
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
    fn locations_are_counted_from_locations_or_stores() {
        let of = |extra: serde_json::Value| {
            let mut body = json!({"id": "i"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            GlanceImage::from_json(&body).unwrap().locations
        };
        assert_eq!(of(json!({})), None);
        assert_eq!(of(json!({"stores": "fast,slow"})), Some(2));
        assert_eq!(of(json!({"stores": ""})), None);
        assert_eq!(
            of(json!({"locations": [{"url": "a"}], "stores": "fast,slow"})),
            Some(1)
        );
        assert_eq!(of(json!({"locations": []})), Some(0));
        assert_eq!(of(json!({"locations": "odd"})), None);
    }
}
