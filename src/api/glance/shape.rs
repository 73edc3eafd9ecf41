//! The bodies of Glance 33's read API: the image, a page of images, the version document and
//! the discovery documents (`/v2/info/*`). Links to images, files and schemas are relative to
//! the endpoint (`/v2/images/{id}`), as Glance's are: clients join them to the URL they were
//! given, which for the census is `…/image/{cloud}`.
use serde_json::{Map, Value, json};

use super::list::{Page, glance_name, min_disk_gb};
use crate::catalog::glance_projects::StoreFact;
use crate::catalog::image_quotas::{ImageResource, QuotaFigure};
use crate::catalog::images::ImageDetail;

/// Glance's timestamps: seconds, `Z` (oslo's `isotime`).
fn isotime(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::from(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    })
}

/// An image as Glance's `GET /v2/images/{id}` shows it: its extra properties at the top level
/// beside its own fields.
pub fn image(image: &ImageDetail) -> Value {
    let mut body: Map<String, Value> = image
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let id = &image.backend_id;
    let fields = [
        ("id", Value::from(id.as_str())),
        ("name", glance_name(image).map_or(Value::Null, Value::from)),
        ("status", Value::from(image.status.as_str())),
        ("visibility", Value::from(image.visibility.as_str())),
        ("protected", Value::from(image.protected)),
        ("os_hidden", Value::from(image.os_hidden)),
        ("owner", Value::from(image.owner.clone())),
        ("checksum", Value::from(image.checksum.clone())),
        ("os_hash_algo", Value::from(image.os_hash_algo.clone())),
        ("os_hash_value", Value::from(image.os_hash_value.clone())),
        ("size", Value::from(image.size)),
        ("virtual_size", Value::from(image.virtual_size)),
        ("min_ram", Value::from(image.min_ram)),
        ("min_disk", Value::from(min_disk_gb(image))),
        ("disk_format", Value::from(image.disk_format.clone())),
        (
            "container_format",
            Value::from(image.container_format.clone()),
        ),
        ("created_at", isotime(image.backend_created_at)),
        ("updated_at", isotime(image.backend_updated_at)),
        ("tags", Value::from(image.tags.clone())),
        ("self", Value::from(format!("/v2/images/{id}"))),
        ("file", Value::from(format!("/v2/images/{id}/file"))),
        ("schema", Value::from("/v2/schemas/image")),
    ];
    for (key, value) in fields {
        body.insert(key.to_string(), value);
    }
    Value::Object(body)
}

/// A page of `GET /v2/images`: `first` is the query without its marker, `next` (on a full
/// page) the same with the last image's id as the marker. Unlike Glance, which keeps one
/// value per parameter in these links, repeated parameters (`tag`) are all kept: a client
/// following `next` gets the listing it asked for.
pub fn page(page: &Page, query: &[(String, String)]) -> Value {
    let kept: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "marker" && k != "x-auth-token")
        .collect();
    let encode = |pairs: &[&(String, String)], marker: Option<&str>| {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            serializer.append_pair(k, v);
        }
        if let Some(marker) = marker {
            serializer.append_pair("marker", marker);
        }
        serializer.finish()
    };
    let first_query = encode(&kept, None);
    let mut body = json!({
        "images": page.images.iter().map(|i| image(i)).collect::<Vec<_>>(),
        "first": if first_query.is_empty() {
            "/v2/images".to_string()
        } else {
            format!("/v2/images?{first_query}")
        },
        "schema": "/v2/schemas/images",
    });
    if let Some(marker) = page.next_marker {
        body["next"] = Value::from(format!("/v2/images?{}", encode(&kept, Some(marker))));
    }
    body
}

/// Glance 33's version list (without an image cache or several stores), each version at
/// `{root}/v2/`.
pub fn versions(root: &str) -> Value {
    const VERSIONS: [(&str, &str); 11] = [
        ("v2.15", "SUPPORTED"),
        ("v2.9", "SUPPORTED"),
        ("v2.17", "CURRENT"),
        ("v2.7", "SUPPORTED"),
        ("v2.6", "SUPPORTED"),
        ("v2.5", "SUPPORTED"),
        ("v2.4", "SUPPORTED"),
        ("v2.3", "SUPPORTED"),
        ("v2.2", "SUPPORTED"),
        ("v2.1", "SUPPORTED"),
        ("v2.0", "SUPPORTED"),
    ];
    let href = format!("{}/v2/", root.trim_end_matches('/'));
    json!({
        "versions": VERSIONS.iter().map(|(id, status)| json!({
            "id": id,
            "status": status,
            "links": [{"rel": "self", "href": href}],
        })).collect::<Vec<_>>(),
    })
}

/// `GET /v2/info/usage`: limit and usage of each resource the tenant's Glance reported.
pub fn usage(figures: &[(ImageResource, QuotaFigure)]) -> Value {
    let usage: Map<String, Value> = figures
        .iter()
        .map(|(resource, figure)| {
            (
                resource.as_str().to_string(),
                json!({"usage": figure.usage, "limit": figure.limit}),
            )
        })
        .collect();
    json!({ "usage": usage })
}

/// `GET /v2/info/import`.
pub fn import_methods(methods: &[String]) -> Value {
    json!({
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": methods,
        }
    })
}

/// `GET /v2/info/stores`: Glance writes its flags as the string `"true"`, and only when set.
pub fn stores(stores: &[StoreFact]) -> Value {
    let stores: Vec<Value> = stores
        .iter()
        .map(|s| {
            let mut store = json!({ "id": s.id });
            if let Some(description) = &s.description {
                store["description"] = Value::from(description.as_str());
            }
            if s.default {
                store["default"] = Value::from("true");
            }
            if s.read_only {
                store["read-only"] = Value::from("true");
            }
            store
        })
        .collect();
    json!({ "stores": stores })
}
