//! Nova's instance action log, as `nova/api/openstack/compute/instance_actions.py` answers
//! it: `GET /v2.1/servers/{id}/os-instance-actions` (newest first; from 2.58 `updated_at`,
//! `limit`/`marker` paging with `links` and `changes-since`, from 2.66 `changes-before`) and
//! `…/os-instance-actions/{request_id}` (its `events` for admins, for everyone from 2.51
//! without the `traceback`). Deleted servers answer from 2.21, 404 before.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde_json::{Value, json};

use crate::faults::Target;
use crate::http::{json_response, nova_error, query_pairs, service_call};
use crate::nova::{limit_param, next_link, parse_time, requested_version, usage_time, versioned};
use crate::state::{Caller, Shared};
use crate::world::{InstanceAction, Server};

/// Who asks, at which microversion, about which server.
struct Call {
    caller: Caller,
    version: (u32, u32),
    server: Server,
}

/// Token, microversion, the server (404 as Nova's `get_instance`: another project's server
/// for a non-admin, a deleted one before 2.21), then the policy (`verb` is `list` or `show`).
async fn call(req: &Request, shared: &Shared, id: &str, verb: &str) -> Result<Call, Response> {
    let target = if verb == "show" {
        Target::NovaInstanceActionEvents
    } else {
        Target::NovaInstanceActions
    };
    let (caller, project, _) = service_call(shared, target, req).await?;
    let version = requested_version(req, shared)?;
    let (server, forbidden) = {
        let idx = shared.read();
        let w = &idx.world;
        let server = w
            .servers
            .iter()
            .chain(&w.deleted_servers)
            .find(|s| s.id == id)
            .filter(|s| caller.admin || s.project_id == project)
            .filter(|s| version >= (2, 21) || !s.is_deleted())
            .cloned();
        (server, w.instance_actions_forbidden)
    };
    let server = server.ok_or_else(|| {
        nova_error(
            StatusCode::NOT_FOUND,
            &format!("Instance {id} could not be found."),
        )
    })?;
    if forbidden {
        return Err(nova_error(
            StatusCode::FORBIDDEN,
            &format!(
                "Policy doesn't allow os_compute_api:os-instance-actions:{verb} to be performed."
            ),
        ));
    }
    Ok(Call {
        caller,
        version,
        server,
    })
}

fn action_json(a: &InstanceAction, server_id: &str, version: (u32, u32)) -> Value {
    let mut v = json!({
        "action": a.action, "instance_uuid": server_id, "request_id": a.request_id,
        "user_id": a.user_id, "project_id": a.project_id,
        "start_time": usage_time(Some(a.start_time)), "message": a.message,
    });
    if version >= (2, 58) {
        v["updated_at"] = usage_time(Some(a.updated_at));
    }
    v
}

/// The log newest first, as Nova's `actions_get` orders it (`created_at`, then `id`,
/// descending).
fn newest_first(server: &Server) -> Vec<&InstanceAction> {
    let mut actions: Vec<(usize, &InstanceAction)> = server.actions.iter().enumerate().collect();
    actions.sort_by(|(i, a), (j, b)| (b.start_time, j).cmp(&(a.start_time, i)));
    actions.into_iter().map(|(_, a)| a).collect()
}

/// The 2.58 query (2.66 with `changes-before`): Nova's schema allows nothing else.
struct Query {
    limit: usize,
    marker: Option<String>,
    since: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
}

fn bad(message: &str) -> Response {
    nova_error(StatusCode::BAD_REQUEST, message)
}

fn query(pairs: &[(String, String)], version: (u32, u32)) -> Result<Query, Response> {
    let mut q = Query {
        limit: crate::nova::MAX_LIMIT,
        marker: None,
        since: None,
        before: None,
    };
    // Before 2.58 Nova reads no query parameter at all.
    if version < (2, 58) {
        return Ok(q);
    }
    let time = |k: &str, raw: &str| {
        parse_time(raw).ok_or_else(|| {
            bad(&format!(
                "Invalid input for query parameters {k}. Value: {raw}. '{raw}' is not a 'date-time'"
            ))
        })
    };
    for (k, v) in pairs {
        match k.as_str() {
            "limit" => q.limit = limit_param(Some(v))?,
            "marker" => q.marker = Some(v.clone()),
            "changes-since" => q.since = Some(time(k, v)?),
            "changes-before" if version >= (2, 66) => q.before = Some(time(k, v)?),
            _ => {
                return Err(bad(&format!(
                    "Invalid input for query parameters. Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
        }
    }
    if let (Some(since), Some(before)) = (q.since, q.before)
        && since > before
    {
        return Err(bad(
            "The value of changes-since must be less than or equal to changes-before.",
        ));
    }
    Ok(q)
}

/// `GET /v2.1/servers/{id}/os-instance-actions`.
#[handler]
pub async fn list(req: &Request, Path(id): Path<String>, shared: Data<&Arc<Shared>>) -> Response {
    let c = match call(req, &shared, &id, "list").await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let pairs = query_pairs(req);
    let q = match query(&pairs, c.version) {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    let all = newest_first(&c.server);
    let start = match &q.marker {
        None => 0,
        Some(m) => match all.iter().position(|a| &a.request_id == m) {
            Some(pos) => pos + 1,
            None => return bad(&format!("Marker {m} could not be found.")),
        },
    };
    let page: Vec<&InstanceAction> = all
        .into_iter()
        .skip(start)
        .filter(|a| q.since.is_none_or(|t| a.updated_at >= t))
        .filter(|a| q.before.is_none_or(|t| a.updated_at <= t))
        .take(q.limit)
        .collect();
    let actions: Vec<Value> = page
        .iter()
        .map(|a| action_json(a, &c.server.id, c.version))
        .collect();
    let mut body = json!({"instanceActions": actions});
    if c.version >= (2, 58) {
        let path = format!("servers/{id}/os-instance-actions");
        let last = page.last().map(|a| a.request_id.as_str());
        if let Some(links) = next_link(&shared.base_url, &path, &pairs, q.limit, page.len(), last) {
            body["links"] = links;
        }
    }
    versioned(json_response(StatusCode::OK, &body), c.version)
}

/// `GET /v2.1/servers/{id}/os-instance-actions/{request_id}`.
#[handler]
pub async fn show(
    req: &Request,
    Path((id, request_id)): Path<(String, String)>,
    shared: Data<&Arc<Shared>>,
) -> Response {
    let c = match call(req, &shared, &id, "show").await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(action) = c.server.actions.iter().find(|a| a.request_id == request_id) else {
        return nova_error(
            StatusCode::NOT_FOUND,
            &format!("Action {request_id} not found"),
        );
    };
    // Nova's default policy: `…:events` (with tracebacks) for admins at every microversion;
    // from 2.51 everyone sees the events, without tracebacks.
    let admin = c.caller.admin;
    let mut body = action_json(action, &c.server.id, c.version);
    if admin || c.version >= (2, 51) {
        let events: Vec<Value> = action
            .events
            .iter()
            .rev()
            .map(|e| {
                let mut v = json!({
                    "event": e.event, "start_time": usage_time(Some(e.start_time)),
                    "finish_time": usage_time(e.finish_time), "result": e.result,
                });
                if admin {
                    v["traceback"] = json!(e.traceback);
                }
                if c.version >= (2, 62) {
                    v["hostId"] = json!("");
                    if admin {
                        v["host"] = json!("sim-compute");
                    }
                }
                if c.version >= (2, 84) && admin {
                    v["details"] = Value::Null;
                }
                v
            })
            .collect();
        body["events"] = json!(events);
    }
    versioned(
        json_response(StatusCode::OK, &json!({"instanceAction": body})),
        c.version,
    )
}
