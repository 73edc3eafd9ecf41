//! Nova: `GET /v2.1/servers/detail`, the caller's project's servers, newest first, paged with
//! absolute `servers_links`.
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use serde_json::{Value, json};

use crate::faults::Target;
use crate::http::{encode, json_response, nova_error, query_pairs, service_call, truncated};
use crate::state::Shared;
use crate::world::Server;

/// Nova's `max_limit`.
pub const MAX_LIMIT: usize = 1000;

fn server_json(s: &Server, base: &str) -> Value {
    let image = match &s.image_id {
        Some(id) => {
            json!({"id": id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/images/{id}")}]})
        }
        // Boot-from-volume servers carry an empty string, not null.
        None => json!(""),
    };
    let created = s.created.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "id": s.id, "name": s.name, "status": s.status, "tenant_id": s.project_id,
        "user_id": "sim-user", "created": created, "updated": created, "image": image,
        "flavor": {"vcpus": 1, "ram": 1024, "disk": 10, "original_name": "m1.small"},
        "addresses": {}, "metadata": {}, "hostId": "",
        "OS-EXT-STS:vm_state": s.status.to_lowercase(),
        "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/servers/{}", s.id)}],
    })
}

#[handler]
pub async fn servers_detail(req: &Request, shared: Data<&Arc<Shared>>) -> Response {
    let (_, project, quirks) = match service_call(&shared, Target::NovaServers, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let pairs = query_pairs(req);
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let limit = match get("limit").map(|l| l.parse::<i64>()) {
        None => MAX_LIMIT,
        Some(Ok(n)) if n >= 0 => (n as usize).min(MAX_LIMIT),
        Some(_) => {
            return nova_error(
                StatusCode::BAD_REQUEST,
                "limit must be a non-negative integer",
            );
        }
    };
    let base = shared.base_url.clone();
    let (servers, full) = {
        let idx = shared.read();
        let start = match get("marker") {
            None => 0,
            Some(m) => match idx
                .server_pos
                .get(&m)
                .filter(|&&pos| idx.world.servers[idx.server_order[pos]].project_id == project)
            {
                Some(&pos) if quirks.duplicate_ids => pos,
                Some(&pos) => pos + 1,
                None => {
                    return nova_error(StatusCode::BAD_REQUEST, &format!("marker [{m}] not found"));
                }
            },
        };
        let page_size = quirks.short_pages.map_or(limit, |n| n.min(limit));
        let servers: Vec<Value> = idx
            .server_order
            .iter()
            .skip(start)
            .map(|&i| &idx.world.servers[i])
            .filter(|s| s.project_id == project)
            .take(page_size)
            .map(|s| server_json(s, &base))
            .collect();
        let full = page_size > 0 && servers.len() == page_size;
        (servers, full)
    };
    let mut body = json!({"servers": servers});
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
        let last = servers
            .last()
            .and_then(|s| s.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        params.push(("marker".into(), last.to_string()));
        Some(format!(
            "{base}/compute/v2.1/servers/detail?{}",
            encode(&params)
        ))
    } else {
        None
    };
    if let Some(href) = next {
        body["servers_links"] = json!([{"rel": "next", "href": href}]);
    }
    if quirks.malformed {
        return truncated(&body);
    }
    json_response(StatusCode::OK, &body)
}
