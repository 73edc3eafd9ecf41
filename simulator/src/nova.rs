//! Nova: `GET /v2.1/servers/detail`, the caller's project's servers (every project's with
//! `all_tenants`, for admins only), newest first, paged with absolute `servers_links`, with
//! `changes-since` only those changed since then, deleted ones among them, at the
//! microversion asked for (`X-OpenStack-Nova-API-Version`; 2.1 without one, 406 above the
//! world's maximum); and the version document at `/v2.1/`.
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use serde_json::{Value, json};

use crate::faults::Target;
use crate::http::{
    bool_param, encode, json_response, nova_error, query_pairs, service_call, truncated,
};
use crate::state::{Indexed, Shared};
use crate::world::Server;

/// Nova's `max_limit`.
pub const MAX_LIMIT: usize = 1000;

/// A microversion `(major, minor)`; `latest` is the world's maximum.
fn microversion(raw: &str, max: (u32, u32)) -> Option<(u32, u32)> {
    if raw.trim() == "latest" {
        return Some(max);
    }
    let (major, minor) = raw.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The microversion a request asks for: `OpenStack-API-Version: compute X` (which Nova reads
/// first) or `X-OpenStack-Nova-API-Version: X`; 2.1 without either; 406 outside 2.1 to the
/// world's maximum, as Nova answers.
pub fn requested_version(req: &Request, shared: &Shared) -> Result<(u32, u32), Response> {
    let max = {
        let idx = shared.read();
        microversion(&idx.world.nova_max_microversion, (2, 1)).unwrap_or((2, 1))
    };
    let modern = req
        .headers()
        .get_all("OpenStack-API-Version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|v| {
            let (service, version) = v.trim().split_once(' ')?;
            (service == "compute").then(|| version.trim().to_string())
        });
    let Some(raw) = modern.or_else(|| req.header("X-OpenStack-Nova-API-Version").map(String::from))
    else {
        return Ok((2, 1));
    };
    match microversion(&raw, max) {
        Some(v) if v <= max && v >= (2, 1) => Ok(v),
        _ => Err(nova_error(
            StatusCode::NOT_ACCEPTABLE,
            &format!(
                "Version {raw} is not supported by the API. Minimum is 2.1 and maximum is {}.{}.",
                max.0, max.1
            ),
        )),
    }
}

/// Nova's query-time forms (`changes-since`, a usage window's `start`): ISO 8601 with an
/// offset, or without one as UTC, with or without fractions of a second.
pub fn parse_time(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(t.to_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(raw, f).ok())
        .map(|t| t.and_utc())
}

/// The next link of a Nova collection (`_get_collection_links`): present when the page is
/// full (`limit`, or `max_limit` without one); the request's query with `marker` set to the
/// page's last item.
pub fn next_link(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    limit: usize,
    items: usize,
    last: Option<&str>,
) -> Option<Value> {
    let last = last.filter(|_| limit > 0 && items == limit)?;
    let mut params: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    params.push(("marker".into(), last.to_string()));
    Some(
        json!([{"rel": "next", "href": format!("{base}/compute/v2.1/{path}?{}", encode(&params))}]),
    )
}

/// `limit` as Nova reads it: a non-negative integer, capped at `max_limit`.
pub fn limit_param(raw: Option<&str>) -> Result<usize, Response> {
    match raw.map(|l| l.parse::<i64>()) {
        None => Ok(MAX_LIMIT),
        Some(Ok(n)) if n >= 0 => Ok((n as usize).min(MAX_LIMIT)),
        Some(_) => Err(nova_error(
            StatusCode::BAD_REQUEST,
            "limit must be a non-negative integer",
        )),
    }
}

/// Nova's response headers naming the microversion it answered at.
pub fn versioned(mut resp: Response, version: (u32, u32)) -> Response {
    let v = format!("{}.{}", version.0, version.1);
    for (name, value) in [
        ("OpenStack-API-Version", format!("compute {v}")),
        ("X-OpenStack-Nova-API-Version", v),
        (
            "Vary",
            "OpenStack-API-Version, X-OpenStack-Nova-API-Version".into(),
        ),
    ] {
        if let Ok(value) = value.parse() {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

/// `GET /compute/v2.1/`: the version document, with the world's maximum microversion.
#[handler]
pub async fn version_document(shared: Data<&Arc<Shared>>) -> Response {
    let (enabled, max) = {
        let idx = shared.read();
        (
            idx.world.nova_version_document,
            idx.world.nova_max_microversion.clone(),
        )
    };
    if !enabled {
        return nova_error(StatusCode::NOT_FOUND, "Not found");
    }
    let base = &shared.base_url;
    json_response(
        StatusCode::OK,
        &json!({"version": {
            "id": "v2.1", "status": "CURRENT", "version": max, "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/")}],
        }}),
    )
}

/// Nova's `OS-SRV-USG:*` form: UTC without an offset, with microseconds.
pub fn usage_time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
    })
}

fn server_json(s: &Server, base: &str, version: (u32, u32)) -> Value {
    let image = match &s.image_id {
        Some(id) => {
            json!({"id": id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/images/{id}")}]})
        }
        // Boot-from-volume servers carry an empty string, not null.
        None => json!(""),
    };
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let f = &s.flavor;
    let flavor = if version >= (2, 47) {
        json!({"original_name": f.name, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk,
               "ephemeral": f.ephemeral, "swap": 0, "extra_specs": {}})
    } else {
        json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/flavors/{}", f.id)}]})
    };
    let volumes: Vec<Value> = s
        .volumes_attached
        .iter()
        .map(|id| json!({"id": id, "delete_on_termination": false}))
        .collect();
    json!({
        "id": s.id, "name": s.name, "status": s.status, "tenant_id": s.project_id,
        "user_id": "sim-user", "created": stamp(s.created),
        "updated": stamp(s.updated.unwrap_or(s.created)), "image": image, "flavor": flavor,
        "addresses": {}, "metadata": {}, "hostId": "",
        "OS-EXT-STS:vm_state": s.status.to_lowercase(),
        "OS-SRV-USG:launched_at": usage_time(s.launched_at),
        "OS-SRV-USG:terminated_at": usage_time(s.terminated_at),
        "os-extended-volumes:volumes_attached": volumes,
        "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/servers/{}", s.id)}],
    })
}

/// Where a server sorts in Nova's default order: newest `created` first, then id descending.
fn sort_key(s: &Server) -> (chrono::DateTime<chrono::Utc>, &str) {
    (s.created, s.id.as_str())
}

/// One page of `/servers/detail`: the live servers in listing order and, with
/// `changes-since`, the deleted ones changed since then merged in by the same order, from
/// after `marker` (a live server's id, or with `changes-since` a deleted one's; at it with the
/// duplicate-ids quirk). 400 for a marker the caller cannot list, as Nova answers.
fn page<'a>(
    idx: &'a Indexed,
    listed: &dyn Fn(&Server) -> bool,
    since: Option<chrono::DateTime<chrono::Utc>>,
    marker: Option<&str>,
    at_marker: bool,
    page_size: usize,
) -> Result<Vec<&'a Server>, Response> {
    let live = &idx.world.servers;
    let changed = |s: &Server| since.is_none_or(|t| s.updated.unwrap_or(s.created) >= t);
    let mut deleted: Vec<&Server> = match since {
        Some(_) => idx
            .world
            .deleted_servers
            .iter()
            .filter(|s| listed(s) && changed(s))
            .collect(),
        None => Vec::new(),
    };
    deleted.sort_by(|a, b| sort_key(b).cmp(&sort_key(a)));
    let (live_start, after) = match marker {
        None => (0, None),
        Some(m) => {
            let at_live = idx
                .server_pos
                .get(m)
                .filter(|&&pos| listed(&live[idx.server_order[pos]]));
            let at_deleted = || {
                since?;
                idx.world
                    .deleted_servers
                    .iter()
                    .find(|s| s.id == m && listed(s))
            };
            match (at_live, at_deleted()) {
                (Some(&pos), _) => {
                    let key = sort_key(&live[idx.server_order[pos]]);
                    (if at_marker { pos } else { pos + 1 }, Some(key))
                }
                (None, Some(gone)) => {
                    let key = sort_key(gone);
                    let start = idx
                        .server_order
                        .partition_point(|&i| sort_key(&live[i]) > key);
                    (start, Some(key))
                }
                (None, None) => {
                    return Err(nova_error(
                        StatusCode::BAD_REQUEST,
                        &format!("marker [{m}] not found"),
                    ));
                }
            }
        }
    };
    // Deleted servers after the marker in the listing's order (at it, with the quirk).
    deleted.retain(|s| {
        after.is_none_or(|key| {
            let k = sort_key(s);
            k < key || (at_marker && k == key)
        })
    });
    let mut live = idx.server_order[live_start..]
        .iter()
        .map(|&i| &live[i])
        .filter(|s| listed(s) && changed(s))
        .peekable();
    let mut deleted = deleted.into_iter().peekable();
    let mut page = Vec::with_capacity(page_size.min(MAX_LIMIT));
    while page.len() < page_size {
        let next = match (live.peek(), deleted.peek()) {
            (Some(l), Some(d)) if sort_key(d) > sort_key(l) => deleted.next(),
            (Some(_), _) => live.next(),
            (None, _) => deleted.next(),
        };
        match next {
            Some(s) => page.push(s),
            None => break,
        }
    }
    Ok(page)
}

#[handler]
pub async fn servers_detail(req: &Request, shared: Data<&Arc<Shared>>) -> Response {
    let (caller, project, quirks) = match service_call(&shared, Target::NovaServers, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let version = match requested_version(req, &shared) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let pairs = query_pairs(req);
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    // Nova's `changes-since`: servers changed at or after that time, deleted ones included
    // (Nova reads deleted instances then; a plain listing shows only live ones).
    let changes_since = match get("changes-since") {
        None => None,
        Some(raw) => match chrono::DateTime::parse_from_rfc3339(&raw) {
            Ok(t) => Some(t.to_utc()),
            Err(_) => {
                return nova_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid input for query parameters changes-since. Value: {raw}."),
                );
            }
        },
    };
    // Nova reads an empty `all_tenants` as true; its default policy keeps the whole cloud's
    // listing to admins and answers others 403 rather than quietly narrowing it.
    let all_tenants = match get("all_tenants") {
        None => false,
        Some(raw) if raw.is_empty() => true,
        Some(raw) => match bool_param(&raw) {
            Some(b) => b,
            None => {
                return nova_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid input for query parameters all_tenants. Value: {raw}."),
                );
            }
        },
    };
    if all_tenants && !caller.admin {
        return nova_error(
            StatusCode::FORBIDDEN,
            "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed.",
        );
    }
    let listed = |s: &Server| all_tenants || s.project_id == project;
    let limit = match limit_param(get("limit").as_deref()) {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let base = shared.base_url.clone();
    let (servers, full) = {
        let idx = shared.read();
        let page_size = quirks.short_pages.map_or(limit, |n| n.min(limit));
        let page = match page(
            &idx,
            &listed,
            changes_since,
            get("marker").as_deref(),
            quirks.duplicate_ids,
            page_size,
        ) {
            Ok(page) => page,
            Err(resp) => return resp,
        };
        let servers: Vec<Value> = page
            .into_iter()
            .map(|s| server_json(s, &base, version))
            .collect();
        let full = page_size > 0 && servers.len() == page_size;
        (servers, full)
    };
    let mut servers = servers;
    if quirks.junk_entries {
        servers.splice(
            0..0,
            [
                json!({"name": "no id"}),
                Value::Null,
                json!(7),
                json!({"id": ""}),
            ],
        );
    }
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
