//! Waldur's field restriction: `?fields=a,b` (or `?field=a&field=b`, Waldur's own spelling)
//! keeps only these keys of each object in the response. The schema stays the full one (as
//! Waldur's does); a name the object does not have is a 400 that lists the known ones.
use std::borrow::Cow;
use std::sync::Arc;

use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use serde_json::Value;

use super::errors::ApiError;
use super::query::RawQuery;
use super::validate::Validator;

/// The keys a response keeps; `None` in [`Restricted`]: all.
pub type FieldSet = Arc<[String]>;

/// Reads `fields` (comma lists, repeatable) and `field` (repeatable) against `known`.
pub fn parse(q: &RawQuery, known: &[&str]) -> Result<Option<FieldSet>, ApiError> {
    let asked: Vec<String> = q
        .all("fields")
        .into_iter()
        .chain(q.all("field"))
        .flat_map(|raw| raw.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect();
    if asked.is_empty() {
        return Ok(None);
    }
    let mut v = Validator::default();
    for field in asked.iter().filter(|f| !known.contains(&f.as_str())) {
        v.add(
            "fields",
            format!("\"{field}\" is not a field; known: {}.", known.join(", ")),
        );
    }
    v.finish()?;
    Ok(Some(asked.into()))
}

/// An object whose JSON keeps only the asked fields; documented as the object itself.
pub struct Restricted<T> {
    pub item: T,
    pub fields: Option<FieldSet>,
}

impl<T: Type> Type for Restricted<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.item.as_raw_value()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        self.item.raw_element_iter()
    }
}

impl<T: ToJSON> ToJSON for Restricted<T> {
    fn to_json(&self) -> Option<Value> {
        let mut value = self.item.to_json()?;
        if let (Some(fields), Value::Object(map)) = (&self.fields, &mut value) {
            map.retain(|key, _| fields.iter().any(|f| f == key));
        }
        Some(value)
    }
}
