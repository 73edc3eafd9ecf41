//! Nova's `os-simple-tenant-usage`, as `nova/api/openstack/compute/simple_tenant_usage.py`
//! computes it: every server launched before the window's end and not terminated before its
//! start counts from `launched_at` to `terminated_at`, clamped to the window, whatever its
//! status; the window's end is clamped to now (the cloud's clock). Nova resets `launched_at`
//! on resize, revert, rescue, rebuild and unshelve, so those hours before it are lost: the
//! simulator's scripted actions reproduce that. From 2.40 both forms page (`limit`, `marker`
//! an instance id, in `(project_id, id)` order) with `tenant_usage[s]_links`; totals are then
//! per page, as in Nova.
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde_json::{Map, Value, json};

use crate::faults::Target;
use crate::http::{json_response, nova_error, query_pairs, service_call};
use crate::nova::{limit_param, next_link, requested_version, usage_time, versioned};
use crate::state::Shared;
use crate::world::Server;

/// Nova's `_parse_datetime`: only these naive forms (taken as UTC); now when absent.
fn parse_window_time(raw: Option<&str>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Some(now);
    };
    let (base, fraction) = match raw.split_once('.') {
        Some((b, f)) => (b, Some(f)),
        None => (raw, None),
    };
    let formats: &[&str] = match fraction {
        None => &["%Y-%m-%dT%H:%M:%S"],
        Some(_) => &["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
    };
    let t = formats
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(base, f).ok())?;
    let micros = match fraction {
        None => 0,
        Some(f) if (1..=6).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<6}").parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    Some(t.and_utc() + chrono::Duration::microseconds(micros))
}

/// The window and the rest of the query, checked as Nova checks them.
struct Window {
    start: DateTime<Utc>,
    stop: DateTime<Utc>,
    detailed: bool,
    limit: usize,
    marker: Option<String>,
}

fn window(pairs: &[(String, String)], now: DateTime<Utc>, paged: bool) -> Result<Window, Response> {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let invalid = || {
        nova_error(
            StatusCode::BAD_REQUEST,
            "Invalid datetime string: Datetime is in invalid format",
        )
    };
    let start = parse_window_time(get("start"), now).ok_or_else(invalid)?;
    let stop = parse_window_time(get("end"), now).ok_or_else(invalid)?;
    if start >= stop {
        return Err(nova_error(
            StatusCode::BAD_REQUEST,
            "Invalid start time. The start time cannot occur after the end time.",
        ));
    }
    let (limit, marker) = if paged {
        (limit_param(get("limit"))?, get("marker").map(String::from))
    } else {
        (crate::nova::MAX_LIMIT, None)
    };
    Ok(Window {
        start,
        // Nova charges nothing past now.
        stop: stop.min(now),
        detailed: get("detailed") == Some("1"),
        limit,
        marker,
    })
}

/// `_hours_for`: launch to termination, clamped to the window.
fn hours_for(s: &Server, w: &Window) -> f64 {
    let Some(launched) = s.launched_at else {
        return 0.0;
    };
    if s.terminated_at.is_some_and(|t| t < w.start) || launched > w.stop {
        return 0.0;
    }
    let start = launched.max(w.start);
    let stop = s.terminated_at.map_or(w.stop, |t| t.min(w.stop));
    (stop - start).num_microseconds().unwrap_or(0) as f64 / 3_600_000_000.0
}

/// One page of usage: per tenant (in `project_id` order) the totals, and every server's
/// usage (for the links).
fn usages(
    shared: &Shared,
    tenant: Option<&str>,
    w: &Window,
    detailed: bool,
) -> Result<(Vec<Value>, Vec<Value>), Response> {
    let now = shared.now();
    let idx = shared.read();
    let world = &idx.world;
    // `get_active_by_window_joined`: launched before the end, not terminated before the start.
    let mut servers: Vec<&Server> = world
        .servers
        .iter()
        .chain(&world.deleted_servers)
        .filter(|s| tenant.is_none_or(|t| s.project_id == t))
        .filter(|s| s.launched_at.is_some_and(|l| l < w.stop))
        .filter(|s| s.terminated_at.is_none_or(|t| t > w.start))
        .collect();
    servers.sort_by(|a, b| (&a.project_id, &a.id).cmp(&(&b.project_id, &b.id)));
    let skip = match &w.marker {
        None => 0,
        Some(m) => {
            let Some(marker) = world
                .servers
                .iter()
                .chain(&world.deleted_servers)
                .find(|s| &s.id == m)
            else {
                return Err(nova_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Marker {m} could not be found."),
                ));
            };
            let key = (&marker.project_id, &marker.id);
            servers
                .iter()
                .take_while(|s| (&s.project_id, &s.id) <= key)
                .count()
        }
    };
    let mut tenants: Vec<Map<String, Value>> = Vec::new();
    let mut all = Vec::new();
    for s in servers.into_iter().skip(skip).take(w.limit) {
        let hours = hours_for(s, w);
        let f = &s.flavor;
        let local_gb = f.disk + f.ephemeral;
        let state = if s.terminated_at.is_some() {
            "terminated"
        } else {
            s.vm_state()
        };
        let launched = s.launched_at.unwrap_or(now);
        let uptime = s.terminated_at.unwrap_or(now) - launched;
        let info = json!({
            "hours": hours, "flavor": f.name, "instance_id": s.id, "name": s.name,
            "tenant_id": s.project_id, "memory_mb": f.ram, "local_gb": local_gb,
            "vcpus": f.vcpus, "started_at": usage_time(s.launched_at),
            "ended_at": usage_time(s.terminated_at), "state": state,
            "uptime": uptime.num_seconds(),
        });
        if tenants
            .last()
            .is_none_or(|t| t["tenant_id"] != json!(s.project_id))
        {
            let mut summary = Map::new();
            summary.insert("tenant_id".into(), json!(s.project_id));
            if detailed {
                summary.insert("server_usages".into(), json!([]));
            }
            for total in [
                "total_local_gb_usage",
                "total_vcpus_usage",
                "total_memory_mb_usage",
                "total_hours",
            ] {
                summary.insert(total.into(), json!(0.0));
            }
            summary.insert("start".into(), usage_time(Some(w.start)));
            summary.insert("stop".into(), usage_time(Some(w.stop)));
            tenants.push(summary);
        }
        let Some(summary) = tenants.last_mut() else {
            continue;
        };
        for (total, per_hour) in [
            ("total_local_gb_usage", local_gb as f64),
            ("total_vcpus_usage", f.vcpus as f64),
            ("total_memory_mb_usage", f.ram as f64),
            ("total_hours", 1.0),
        ] {
            let sum = summary[total].as_f64().unwrap_or(0.0) + per_hour * hours;
            summary.insert(total.into(), json!(sum));
        }
        if let Some(Value::Array(usages)) = summary.get_mut("server_usages") {
            usages.push(info.clone());
        }
        all.push(info);
    }
    Ok((tenants.into_iter().map(Value::Object).collect(), all))
}

fn links(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    w: &Window,
    all: &[Value],
) -> Option<Value> {
    let last = all.last().and_then(|u| u["instance_id"].as_str());
    next_link(base, path, pairs, w.limit, all.len(), last)
}

/// `GET /v2.1/os-simple-tenant-usage`: every tenant's usage, for admins only.
#[handler]
pub async fn list(req: &Request, shared: Data<&Arc<Shared>>) -> Response {
    let (caller, _, _) = match service_call(&shared, Target::NovaUsage, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let version = match requested_version(req, &shared) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if !caller.admin {
        return nova_error(
            StatusCode::FORBIDDEN,
            "Policy doesn't allow os_compute_api:os-simple-tenant-usage:list to be performed.",
        );
    }
    let pairs = query_pairs(req);
    let paged = version >= (2, 40);
    let result = window(&pairs, shared.now(), paged)
        .and_then(|w| usages(&shared, None, &w, w.detailed).map(|u| (w, u)));
    let (w, (tenants, all)) = match result {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut body = json!({"tenant_usages": tenants});
    if paged && let Some(l) = links(&shared.base_url, "os-simple-tenant-usage", &pairs, &w, &all) {
        body["tenant_usages_links"] = l;
    }
    versioned(json_response(StatusCode::OK, &body), version)
}

/// `GET /v2.1/os-simple-tenant-usage/{tenant_id}`: one tenant's usage, always with its
/// `server_usages` (Nova's `show` ignores `detailed`); `{}` when nothing ran in the window.
#[handler]
pub async fn show(
    req: &Request,
    Path(tenant_id): Path<String>,
    shared: Data<&Arc<Shared>>,
) -> Response {
    let (caller, project, _) = match service_call(&shared, Target::NovaUsage, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let version = match requested_version(req, &shared) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if !caller.admin && tenant_id != project {
        return nova_error(
            StatusCode::FORBIDDEN,
            "Policy doesn't allow os_compute_api:os-simple-tenant-usage:show to be performed.",
        );
    }
    let pairs = query_pairs(req);
    let paged = version >= (2, 40);
    let result = window(&pairs, shared.now(), paged)
        .and_then(|w| usages(&shared, Some(&tenant_id), &w, true).map(|u| (w, u)));
    let (w, (tenants, all)) = match result {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let usage = tenants.into_iter().next().unwrap_or_else(|| json!({}));
    let mut body = json!({"tenant_usage": usage});
    let path = format!("os-simple-tenant-usage/{tenant_id}");
    if paged && let Some(l) = links(&shared.base_url, &path, &pairs, &w, &all) {
        body["tenant_usage_links"] = l;
    }
    versioned(json_response(StatusCode::OK, &body), version)
}
