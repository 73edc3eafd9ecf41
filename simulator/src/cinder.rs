//! Cinder: `GET /v3/{project_id}/volumes/detail`, the caller's project's volumes (every
//! project's with `all_tenants`, for admins only) in the world's order, paged with
//! `limit`/`marker` and absolute `volumes_links`.
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde_json::{Value, json};

use crate::faults::Target;
use crate::http::{
    bool_param, encode, json_response, nova_error, query_pairs, service_call, truncated,
};
use crate::state::Shared;
use crate::world::Volume;

/// Cinder's `osapi_max_limit`.
pub const MAX_LIMIT: usize = 1000;

/// Cinder answers errors in Nova's shape (the fault name is the key).
fn cinder_error(status: StatusCode, message: &str) -> Response {
    nova_error(status, message)
}

fn volume_json(v: &Volume, base: &str, version: &str) -> Value {
    let attachments: Vec<Value> = v
        .attachments
        .iter()
        .enumerate()
        .map(|(n, a)| {
            json!({"id": v.id, "volume_id": v.id, "server_id": a.server_id,
                   "attachment_id": format!("{}-attachment-{n}", v.id),
                   "device": a.device, "host_name": null,
                   "attached_at": "2025-01-01T00:00:00.000000"})
        })
        .collect();
    let mut body = json!({
        "id": v.id, "name": v.name, "status": v.status, "size": v.size,
        "availability_zone": "nova", "created_at": "2025-01-01T00:00:00.000000",
        "updated_at": null, "description": null, "volume_type": "lvmdriver-1",
        "snapshot_id": null, "source_volid": null, "metadata": {}, "user_id": "sim-user",
        // Cinder sends the flag as a string, not a JSON bool.
        "bootable": if v.bootable { "true" } else { "false" },
        "encrypted": false, "multiattach": false, "replication_status": null,
        "consistencygroup_id": null, "os-vol-tenant-attr:tenant_id": v.project_id,
        "attachments": attachments,
        "links": [{"rel": "self",
                   "href": format!("{base}/volume/{version}/{}/volumes/{}", v.project_id, v.id)}],
    });
    // Only volumes created from an image have the key at all.
    if v.image_id.is_some() || v.image_name.is_some() {
        let mut meta = serde_json::Map::new();
        if let Some(id) = &v.image_id {
            meta.insert("image_id".into(), json!(id));
        }
        if let Some(name) = &v.image_name {
            meta.insert("image_name".into(), json!(name));
        }
        // Cinder copies Glance's core properties as strings, numbers included.
        meta.insert("min_disk".into(), json!("0"));
        meta.insert("container_format".into(), json!("bare"));
        body["volume_image_metadata"] = Value::Object(meta);
    }
    body
}

#[handler]
pub async fn volumes_detail(
    req: &Request,
    Path((version, url_project)): Path<(String, String)>,
    shared: Data<&Arc<Shared>>,
) -> Response {
    let (caller, project, quirks) = match service_call(&shared, Target::CinderVolumes, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let (enabled, service_type) = {
        let idx = shared.read();
        (
            idx.world.volume_enabled,
            idx.world.volume_service_type.clone(),
        )
    };
    let served = if service_type == "volumev2" {
        "v2"
    } else {
        "v3"
    };
    if !enabled || version != served {
        return cinder_error(StatusCode::NOT_FOUND, "The resource could not be found.");
    }
    // As Cinder's WSGI layer does: the URL's project must be the token's.
    if url_project != project {
        return cinder_error(StatusCode::BAD_REQUEST, "Malformed request url");
    }
    let pairs = query_pairs(req);
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let all_tenants = match get("all_tenants") {
        None => false,
        Some(raw) => match bool_param(&raw) {
            Some(b) => b,
            None => {
                return cinder_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Invalid value '{raw}' for all_tenants, accepted values: true, false."
                    ),
                );
            }
        },
    };
    // The whole cloud's listing is for admins. (A Cinder may instead drop the option for
    // others, as it drops the filters they may not use, and list their project's volumes: a
    // client must not count on the 403.)
    if all_tenants && !caller.admin {
        return cinder_error(
            StatusCode::FORBIDDEN,
            "Policy doesn't allow volume:get_all_tenants to be performed.",
        );
    }
    let limit = match get("limit").map(|l| l.parse::<i64>()) {
        None => MAX_LIMIT,
        Some(Ok(n)) if n >= 0 => (n as usize).min(MAX_LIMIT),
        Some(_) => {
            return cinder_error(
                StatusCode::BAD_REQUEST,
                "limit param must be an integer and positive",
            );
        }
    };
    let base = shared.base_url.clone();
    let (volumes, full) = {
        let idx = shared.read();
        let mine: Vec<&Volume> = idx
            .world
            .volumes
            .iter()
            .filter(|v| all_tenants || v.project_id == project)
            .collect();
        let start = match get("marker") {
            None => 0,
            Some(m) => match mine.iter().position(|v| v.id == m) {
                Some(pos) if quirks.duplicate_ids => pos,
                Some(pos) => pos + 1,
                // Cinder's MarkerNotFound is a NotFound.
                None => {
                    return cinder_error(
                        StatusCode::NOT_FOUND,
                        &format!("Marker {m} could not be found."),
                    );
                }
            },
        };
        let page_size = quirks.short_pages.map_or(limit, |n| n.min(limit));
        let volumes: Vec<Value> = mine
            .iter()
            .skip(start)
            .take(page_size)
            .map(|v| volume_json(v, &base, served))
            .collect();
        let full = page_size > 0 && volumes.len() == page_size;
        (volumes, full)
    };
    let mut body = json!({"volumes": volumes});
    let next = if quirks.next_loop {
        Some(format!("{base}{}", req.uri()))
    } else if full {
        let mut params: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "marker")
            .cloned()
            .collect();
        if !params.iter().any(|(k, _)| k == "limit") {
            params.push(("limit".into(), limit.to_string()));
        }
        let last = volumes
            .last()
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        params.push(("marker".into(), last.to_string()));
        Some(format!(
            "{base}/volume/{served}/{project}/volumes/detail?{}",
            encode(&params)
        ))
    } else {
        None
    };
    if let Some(href) = next {
        body["volumes_links"] = json!([{"rel": "next", "href": href}]);
    }
    if quirks.malformed {
        return truncated(&body);
    }
    json_response(StatusCode::OK, &body)
}
