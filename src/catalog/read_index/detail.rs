//! What the index keeps of an image beyond the listing's sort keys: the detail a list and the
//! Glance-compatible API show, and the keys of the detail filters. Repeated strings (statuses,
//! formats, owners, tags, property keys and values) are numbered once per cloud, so an image
//! costs a few small numbers plus its own checksums.
use std::collections::{BTreeMap, HashMap};

use entity::images;

use crate::catalog::ImageVisibility;
use crate::catalog::images::DetailFilter;

/// Numbers distinct strings; 0 stands for "none".
#[derive(Debug)]
pub struct Dict {
    values: Vec<Box<str>>,
    codes: HashMap<Box<str>, u32>,
}

impl Default for Dict {
    fn default() -> Self {
        Self {
            values: vec![Box::from("")],
            codes: HashMap::new(),
        }
    }
}

impl Dict {
    /// The number of `value` (new ones are added); 0 for none.
    pub fn intern(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value else { return 0 };
        if let Some(&code) = self.codes.get(value) {
            return code;
        }
        let code = self.values.len() as u32;
        self.values.push(Box::from(value));
        self.codes.insert(Box::from(value), code);
        code
    }

    /// The number of a value known to the dictionary.
    pub fn find(&self, value: &str) -> Option<u32> {
        self.codes.get(value).copied()
    }

    /// The value of a number; `None` for 0.
    pub fn get(&self, code: u32) -> Option<&str> {
        (code != 0).then(|| self.values.get(code as usize).map(AsRef::as_ref))?
    }
}

/// A cloud's dictionaries.
#[derive(Debug, Default)]
pub struct Dicts {
    pub status: Dict,
    pub disk_format: Dict,
    pub container_format: Dict,
    pub owner: Dict,
    pub hash_algo: Dict,
    pub tag: Dict,
    pub prop_key: Dict,
    pub prop_value: Dict,
}

/// One image's detail, its strings numbered in the cloud's [`Dicts`].
#[derive(Debug)]
pub struct Extra {
    pub status: u32,
    pub disk_format: u32,
    pub container_format: u32,
    pub owner: u32,
    pub hash_algo: u32,
    pub visibility: ImageVisibility,
    pub protected: bool,
    pub os_hidden: bool,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    /// Microseconds since the epoch; `i64::MIN` for none.
    pub updated: i64,
    pub checksum: Option<Box<str>>,
    pub hash_value: Option<Box<str>>,
    pub tags: Box<[u32]>,
    /// (key, value) numbers, sorted by key number.
    pub properties: Box<[(u32, u32)]>,
}

impl Extra {
    /// Numbers the row's strings in `dicts`. The rescue fields, kept in columns of their own,
    /// count as properties here (as Glance and Nova show them) when set.
    pub fn of(row: &images::Model, dicts: &mut Dicts) -> Self {
        let tags: Vec<u32> = stored_tags(row)
            .map(|t| dicts.tag.intern(Some(t)))
            .collect();
        let mut properties: Vec<(u32, u32)> = stored_properties(row)
            .iter()
            .map(|(k, v)| {
                (
                    dicts.prop_key.intern(Some(k)),
                    dicts.prop_value.intern(Some(v)),
                )
            })
            .collect();
        properties.sort_unstable();
        Self {
            status: dicts.status.intern(Some(&row.status)),
            disk_format: dicts.disk_format.intern(row.disk_format.as_deref()),
            container_format: dicts
                .container_format
                .intern(row.container_format.as_deref()),
            owner: dicts.owner.intern(row.owner.as_deref()),
            hash_algo: dicts.hash_algo.intern(row.os_hash_algo.as_deref()),
            visibility: row.visibility,
            protected: row.protected,
            os_hidden: row.os_hidden,
            size: row.size,
            virtual_size: row.virtual_size,
            updated: row
                .backend_updated_at
                .map_or(i64::MIN, |t| t.timestamp_micros()),
            checksum: row.checksum.as_deref().map(Box::from),
            hash_value: row.os_hash_value.as_deref().map(Box::from),
            tags: tags.into(),
            properties: properties.into(),
        }
    }

    /// The value of property `key`, if the image has it.
    pub fn property(&self, key: u32) -> Option<u32> {
        self.properties
            .binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|i| self.properties[i].1)
    }
}

/// An image's tags as stored (a JSON array; anything but a string is left out).
pub fn stored_tags(row: &images::Model) -> impl Iterator<Item = &str> {
    row.tags
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
}

/// An image's extra properties as stored, with the rescue fields when set: string values as
/// they are, others as JSON text.
pub fn stored_properties(row: &images::Model) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = row
        .properties
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key.clone(), text)
        })
        .collect();
    for (key, value) in [
        ("hw_rescue_device", &row.hw_rescue_device),
        ("hw_rescue_bus", &row.hw_rescue_bus),
    ] {
        if !value.is_empty() {
            out.insert(key.to_string(), value.clone());
        }
    }
    out
}

/// The detail filters in a cloud's numbers. `None` from [`DetailRule::compile`] when a
/// required value is unknown to the cloud: none of its images can match.
#[derive(Debug, Default)]
pub struct DetailRule {
    visibility: Vec<ImageVisibility>,
    status: Vec<u32>,
    disk_format: Vec<u32>,
    owner: Vec<u32>,
    tags: Vec<u32>,
    properties: Vec<(u32, u32)>,
    created_after: Option<i64>,
    created_before: Option<i64>,
}

impl DetailRule {
    pub fn compile(filter: &DetailFilter, dicts: &Dicts) -> Option<Self> {
        let all = |values: &[String], dict: &Dict| -> Option<Vec<u32>> {
            values.iter().map(|v| dict.find(v)).collect()
        };
        Some(Self {
            visibility: filter.visibility.clone(),
            status: all(&filter.status, &dicts.status)?,
            disk_format: all(&filter.disk_format, &dicts.disk_format)?,
            owner: all(&filter.owner, &dicts.owner)?,
            tags: all(&filter.tags, &dicts.tag)?,
            properties: filter
                .properties
                .iter()
                .map(|(k, v)| Some((dicts.prop_key.find(k)?, dicts.prop_value.find(v)?)))
                .collect::<Option<_>>()?,
            created_after: filter.created_after,
            created_before: filter.created_before,
        })
    }

    /// Whether an image created at `created` (microseconds, `i64::MIN` for never) with this
    /// detail passes.
    pub fn passes(&self, extra: &Extra, created: i64) -> bool {
        self.visibility.iter().all(|v| *v == extra.visibility)
            && self.status.iter().all(|s| *s == extra.status)
            && self.disk_format.iter().all(|f| *f == extra.disk_format)
            && self.owner.iter().all(|o| *o == extra.owner)
            && self.tags.iter().all(|t| extra.tags.contains(t))
            && self
                .properties
                .iter()
                .all(|&(k, v)| extra.property(k) == Some(v))
            && self
                .created_after
                .is_none_or(|t| created != i64::MIN && created >= t)
            && self
                .created_before
                .is_none_or(|t| created != i64::MIN && created < t)
    }
}
