//! Keystone v3: `POST /v3/auth/tokens` with password or application-credential auth,
//! `GET /v3/projects` for admins, and Glance's unified limits (`GET /v3/registered_limits`,
//! `GET /v3/limits`).
use std::sync::Arc;

use chrono::{Duration, SecondsFormat, Utc};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use rand::Rng;
use serde_json::{Value, json};

use crate::faults::Target;
use crate::http::{
    apply_faults, bool_param, encode, json_response, keystone_error, query_pairs, token_of,
    truncated, unauthorized as unauthenticated,
};
use crate::state::{Caller, Shared};
use crate::world::{Project, User, World};

fn unauthorized(message: &str) -> Response {
    keystone_error(StatusCode::UNAUTHORIZED, message)
}

fn bad_request(message: &str) -> Response {
    keystone_error(StatusCode::BAD_REQUEST, message)
}

fn domain_matches(domain: &Value, domain_id: &str) -> bool {
    match (domain.get("id"), domain.get("name")) {
        (Some(id), _) => id.as_str() == Some(domain_id),
        (None, Some(name)) => name.as_str().is_some_and(|n| {
            n.eq_ignore_ascii_case(domain_id) || (n == "Default" && domain_id == "default")
        }),
        (None, None) => false,
    }
}

/// A user named by id, or by name within a domain.
fn find_user<'a>(world: &'a World, user: &Value) -> Result<&'a User, Response> {
    if let Some(id) = user.get("id").and_then(Value::as_str) {
        return world
            .users
            .iter()
            .find(|u| u.id == id)
            .ok_or_else(|| unauthorized("The request you have made requires authentication."));
    }
    let name = user
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("A user needs an id, or a name and a domain."))?;
    let domain = user
        .get("domain")
        .ok_or_else(|| bad_request("A user named without its domain."))?;
    world
        .users
        .iter()
        .find(|u| u.name == name && domain_matches(domain, &u.domain_id))
        .ok_or_else(|| unauthorized("The request you have made requires authentication."))
}

fn find_project<'a>(world: &'a World, scope: &Value) -> Result<&'a Project, Response> {
    let project = scope
        .get("project")
        .ok_or_else(|| bad_request("Only project scope is simulated."))?;
    let found = if let Some(id) = project.get("id").and_then(Value::as_str) {
        world.projects.iter().find(|p| p.id == id)
    } else {
        let name = project
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_request("A project needs an id, or a name and a domain."))?;
        let domain = project
            .get("domain")
            .ok_or_else(|| bad_request("A project named without its domain."))?;
        world
            .projects
            .iter()
            .find(|p| p.name == name && domain_matches(domain, &p.domain_id))
    };
    found.ok_or_else(|| unauthorized("The request you have made requires authentication."))
}

struct Grant {
    user: User,
    project: Option<Project>,
    method: &'static str,
    app_credential: Option<(String, String)>,
}

fn password_grant(world: &World, auth: &Value) -> Result<Grant, Response> {
    let user_req = auth
        .pointer("/identity/password/user")
        .ok_or_else(|| bad_request("Expecting to find password.user in the request."))?;
    let user = find_user(world, user_req)?;
    let password = user_req.get("password").and_then(Value::as_str);
    if !user.enabled || password != Some(user.password.as_str()) {
        return Err(unauthorized(
            "The request you have made requires authentication.",
        ));
    }
    let project = match auth.get("scope") {
        None => None,
        Some(scope) => {
            let project = find_project(world, scope)?;
            if !project.enabled || !user.projects.contains(&project.id) {
                return Err(unauthorized(&format!(
                    "User {} has no access to project {}",
                    user.id, project.id
                )));
            }
            Some(project.clone())
        }
    };
    Ok(Grant {
        user: user.clone(),
        project,
        method: "password",
        app_credential: None,
    })
}

fn app_credential_grant(world: &World, auth: &Value) -> Result<Grant, Response> {
    if auth.get("scope").is_some() {
        return Err(unauthorized(
            "Application credentials cannot request a scope.",
        ));
    }
    let cred_req = auth
        .pointer("/identity/application_credential")
        .ok_or_else(|| bad_request("Expecting to find application_credential in the request."))?;
    let secret = cred_req.get("secret").and_then(Value::as_str);
    let cred = if let Some(id) = cred_req.get("id").and_then(Value::as_str) {
        world.app_credentials.iter().find(|c| c.id == id)
    } else {
        let name = cred_req.get("name").and_then(Value::as_str);
        let user = cred_req
            .get("user")
            .ok_or_else(|| bad_request("An application credential named without its user."))?;
        let user = find_user(world, user)?;
        world
            .app_credentials
            .iter()
            .find(|c| Some(c.name.as_str()) == name && c.user_id == user.id)
    };
    let cred = cred
        .filter(|c| Some(c.secret.as_str()) == secret)
        .ok_or_else(|| unauthorized("The request you have made requires authentication."))?;
    let user = world
        .users
        .iter()
        .find(|u| u.id == cred.user_id && u.enabled)
        .ok_or_else(|| unauthorized("The request you have made requires authentication."))?;
    let project = world
        .projects
        .iter()
        .find(|p| p.id == cred.project_id && p.enabled)
        .ok_or_else(|| unauthorized("The application credential's project is unavailable."))?;
    Ok(Grant {
        user: user.clone(),
        project: Some(project.clone()),
        method: "application_credential",
        app_credential: Some((cred.id.clone(), cred.name.clone())),
    })
}

/// The catalog of a project-scoped token. Cinder's URL carries the project id (Keystone
/// substitutes `$(project_id)s` per token); `volume` is its service type, `None` for a cloud
/// without Cinder.
/// The services a token's catalog lists beyond identity and image.
struct Optional<'a> {
    compute: bool,
    /// Cinder's service type, when the cloud has Cinder.
    volume: Option<&'a str>,
}

fn catalog(base: &str, region: &str, project_id: &str, optional: Optional<'_>) -> Value {
    let service = |kind: &str, name: &str, url: String| {
        let endpoints: Vec<Value> = ["public", "internal", "admin"]
            .iter()
            .map(|interface| {
                json!({"id": format!("{name}-{interface}"), "interface": interface,
                       "region_id": region, "region": region, "url": url})
            })
            .collect();
        // `glance-service` for Glance: GLANCE_SERVICE_ID, which its limits are registered under.
        json!({"id": format!("{name}-service"), "type": kind, "name": name, "endpoints": endpoints})
    };
    let mut services = vec![
        service("identity", "keystone", format!("{base}/identity")),
        service("image", "glance", format!("{base}/image")),
    ];
    if optional.compute {
        services.push(service("compute", "nova", format!("{base}/compute/v2.1")));
    }
    if let Some(kind) = optional.volume {
        let version = if kind == "volumev2" { "v2" } else { "v3" };
        services.push(service(
            kind,
            "cinder",
            format!("{base}/volume/{version}/{project_id}"),
        ));
    }
    Value::Array(services)
}

#[handler]
pub async fn issue_token(req: &Request, body: Body, shared: Data<&Arc<Shared>>) -> Response {
    if let Err(resp) = apply_faults(&shared, Target::KeystoneAuth, req, None).await {
        return resp;
    }
    let Ok(bytes) = body.into_vec().await else {
        return bad_request("Unreadable request body.");
    };
    let Ok(request) = serde_json::from_slice::<Value>(&bytes) else {
        return bad_request("The request body is not valid JSON.");
    };
    let Some(auth) = request.get("auth") else {
        return bad_request("Expecting to find auth in the request.");
    };
    let methods: Vec<&str> = auth
        .pointer("/identity/methods")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let (grant, region, ttl, compute, volume) = {
        let world = &shared.read().world;
        let grant = match methods.as_slice() {
            ["password"] => password_grant(world, auth),
            ["application_credential"] => app_credential_grant(world, auth),
            _ => Err(unauthorized("Unsupported authentication method.")),
        };
        let volume = world
            .volume_enabled
            .then(|| world.volume_service_type.clone());
        let compute = world.compute_enabled;
        (
            grant,
            world.region.clone(),
            world.token_ttl_secs,
            compute,
            volume,
        )
    };
    let grant = match grant {
        Ok(g) => g,
        Err(resp) => return resp,
    };
    let now = Utc::now();
    let expires_at = now + Duration::seconds(ttl);
    let token: String = {
        let mut rng = rand::rng();
        (0..4)
            .map(|_| format!("{:016x}", rng.random::<u64>()))
            .collect()
    };
    let is_admin = grant.user.admin && grant.project.is_some();
    shared.issue_token(
        token.clone(),
        Caller {
            user_id: grant.user.id.clone(),
            project_id: grant.project.as_ref().map(|p| p.id.clone()),
            admin: is_admin,
            expires_at,
            issued_secs: now.timestamp(),
        },
    );
    let mut body = json!({"token": {
        "methods": [grant.method],
        "user": {"id": grant.user.id, "name": grant.user.name,
                 "domain": {"id": grant.user.domain_id, "name": if grant.user.domain_id == "default" { "Default".to_string() } else { grant.user.domain_id.clone() }},
                 "password_expires_at": null},
        "audit_ids": [&token[..22]],
        "issued_at": now.to_rfc3339_opts(SecondsFormat::Micros, true),
        "expires_at": expires_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    }});
    if let Some(project) = &grant.project {
        let mut roles = vec![
            json!({"id": "member-role", "name": "member"}),
            json!({"id": "reader-role", "name": "reader"}),
        ];
        if is_admin {
            roles.push(json!({"id": "admin-role", "name": "admin"}));
        }
        body["token"]["project"] = json!({"id": project.id, "name": project.name,
            "domain": {"id": project.domain_id, "name": "Default"}});
        body["token"]["is_domain"] = json!(false);
        body["token"]["roles"] = json!(roles);
        let optional = Optional {
            compute,
            volume: volume.as_deref(),
        };
        body["token"]["catalog"] = catalog(&shared.base_url, &region, &project.id, optional);
    }
    if let Some((id, name)) = grant.app_credential {
        body["token"]["application_credential"] =
            json!({"id": id, "name": name, "restricted": true});
    }
    let mut resp = json_response(StatusCode::CREATED, &body);
    if let Ok(v) = token.parse() {
        resp.headers_mut().insert("X-Subject-Token", v);
    }
    resp
}

/// `GET /v3`: Keystone's version document, which it serves without a token.
#[handler]
pub async fn version_document(shared: Data<&Arc<Shared>>) -> Response {
    let base = &shared.base_url;
    json_response(
        StatusCode::OK,
        &json!({"version": {
            "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}],
        }}),
    )
}

/// A comma-separated tag filter of `GET /v3/projects`; `None` when the parameter is absent.
fn tag_list(pairs: &[(String, String)], key: &str) -> Option<Vec<String>> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| {
        v.split(',')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect()
    })
}

fn project_json(p: &Project, base: &str) -> Value {
    json!({"id": p.id, "name": p.name, "domain_id": p.domain_id, "enabled": p.enabled,
           "tags": p.tags, "description": p.description,
           // A top-level project's parent is its domain.
           "parent_id": p.domain_id, "is_domain": false, "options": {},
           "links": {"self": format!("{base}/identity/v3/projects/{}", p.id)}})
}

/// `GET /v3/projects`: the cloud's projects, for an admin token only (403 otherwise, as
/// Keystone's default policy for `identity:list_projects`). Filters `domain_id`, `name`,
/// `enabled` (Keystone reads any value but a false one as true), `tags` (all of),
/// `tags-any`, `not-tags`, `not-tags-any`. Real Keystone never pages this listing: it only
/// cuts it at its `list_limit` (the world's `keystone_list_limit`) and says `truncated`. The
/// simulator also takes `limit` and `marker` and sets `links.next` while more remain, so
/// clients' paging loops are exercised.
#[handler]
pub async fn list_projects(req: &Request, shared: Data<&Arc<Shared>>) -> Response {
    let token = token_of(req);
    let quirks = match apply_faults(&shared, Target::KeystoneProjects, req, token.as_deref()).await
    {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    let Some(caller) = token.as_deref().and_then(|t| shared.validate(t)) else {
        return unauthenticated();
    };
    if !caller.admin {
        return keystone_error(
            StatusCode::FORBIDDEN,
            "You are not authorized to perform the requested action: identity:list_projects.",
        );
    }
    let pairs = query_pairs(req);
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let limit = match get("limit").map(|l| l.parse::<usize>()) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => return bad_request("limit must be a positive integer."),
    };
    let enabled = get("enabled").map(|raw| bool_param(&raw).unwrap_or(true));
    let (all, any) = (tag_list(&pairs, "tags"), tag_list(&pairs, "tags-any"));
    let (not_all, not_any) = (
        tag_list(&pairs, "not-tags"),
        tag_list(&pairs, "not-tags-any"),
    );
    let (domain, name) = (get("domain_id"), get("name"));
    let has = |p: &Project, t: &String| p.tags.contains(t);
    let listed = |p: &Project| {
        domain.as_ref().is_none_or(|d| &p.domain_id == d)
            && name.as_ref().is_none_or(|n| &p.name == n)
            && enabled.is_none_or(|e| p.enabled == e)
            && all.as_ref().is_none_or(|ts| ts.iter().all(|t| has(p, t)))
            && any.as_ref().is_none_or(|ts| ts.iter().any(|t| has(p, t)))
            && not_all
                .as_ref()
                .is_none_or(|ts| ts.is_empty() || !ts.iter().all(|t| has(p, t)))
            && not_any
                .as_ref()
                .is_none_or(|ts| !ts.iter().any(|t| has(p, t)))
    };
    let base = &shared.base_url;
    let (projects, more, cut) = {
        let idx = shared.read();
        let mut matching: Vec<&Project> = idx.world.projects.iter().filter(|p| listed(p)).collect();
        let cut = idx
            .world
            .keystone_list_limit
            .is_some_and(|n| matching.len() > n);
        if let Some(n) = idx.world.keystone_list_limit {
            matching.truncate(n);
        }
        let start = match get("marker") {
            None => 0,
            Some(m) => match matching.iter().position(|p| p.id == m) {
                Some(pos) => pos + 1,
                None => return bad_request(&format!("Marker {m} could not be found.")),
            },
        };
        let rest = &matching[start.min(matching.len())..];
        let page_size = match (limit, quirks.short_pages) {
            (Some(l), Some(s)) => Some(l.min(s)),
            (l, s) => l.or(s),
        };
        let page = page_size.map_or(rest, |n| &rest[..n.min(rest.len())]);
        let projects: Vec<Value> = page.iter().map(|p| project_json(p, base)).collect();
        (projects, page.len() < rest.len(), cut)
    };
    let query = req.uri().query().unwrap_or_default();
    let self_link = if query.is_empty() {
        format!("{base}/identity/v3/projects")
    } else {
        format!("{base}/identity/v3/projects?{query}")
    };
    let next = if quirks.next_loop {
        Value::String(self_link.clone())
    } else if more {
        let mut params: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "marker")
            .cloned()
            .collect();
        let last = projects
            .last()
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        params.push(("marker".into(), last.to_string()));
        Value::String(format!("{base}/identity/v3/projects?{}", encode(&params)))
    } else {
        Value::Null
    };
    let mut body = json!({"projects": projects,
                          "links": {"self": self_link, "next": next, "previous": null}});
    if cut {
        body["truncated"] = json!(true);
    }
    if quirks.malformed {
        return truncated(&body);
    }
    json_response(StatusCode::OK, &body)
}

/// Keystone's id of Glance's service in the simulated catalog.
pub const GLANCE_SERVICE_ID: &str = "glance-service";

/// The filters a unified-limits listing takes, as Keystone matches them (exactly: a limit
/// without a region does not match a `region_id` filter).
struct LimitFilter {
    pairs: Vec<(String, String)>,
}

impl LimitFilter {
    fn passes(&self, key: &str, value: Option<&str>) -> bool {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .all(|(_, wanted)| value == Some(wanted.as_str()))
    }

    /// Glance's limits: every one of the simulator's limits is registered for Glance.
    fn glance(&self, region: Option<&str>, resource: &str) -> bool {
        self.passes("service_id", Some(GLANCE_SERVICE_ID))
            && self.passes("region_id", region)
            && self.passes("resource_name", Some(resource))
    }
}

/// The caller of a unified-limits listing, after the faults (a 403 or 404 fault stands for a
/// Keystone that refuses them, or lacks them).
async fn limits_caller(shared: &Shared, req: &Request) -> Result<(Caller, LimitFilter), Response> {
    let token = token_of(req);
    apply_faults(shared, Target::KeystoneLimits, req, token.as_deref()).await?;
    let caller = token
        .as_deref()
        .and_then(|t| shared.validate(t))
        .ok_or_else(unauthenticated)?;
    Ok((
        caller,
        LimitFilter {
            pairs: query_pairs(req),
        },
    ))
}

/// `GET /v3/registered_limits` (filters `service_id`, `region_id`, `resource_name`): the
/// world's registered limits, all of them Glance's. Any token may list them.
#[handler]
pub async fn list_registered_limits(req: &Request, shared: Data<&Arc<Shared>>) -> Response {
    let (_, filter) = match limits_caller(&shared, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let base = &shared.base_url;
    let idx = shared.read();
    let limits: Vec<Value> = idx
        .world
        .registered_limits
        .iter()
        .enumerate()
        .filter(|(_, l)| filter.glance(l.region_id.as_deref(), &l.resource_name))
        .map(|(i, l)| {
            json!({"id": format!("registered-limit-{i}"), "service_id": GLANCE_SERVICE_ID,
                   "region_id": l.region_id, "resource_name": l.resource_name,
                   "default_limit": l.default_limit, "description": null,
                   "links": {"self": format!("{base}/identity/v3/registered_limits/registered-limit-{i}")}})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"registered_limits": limits,
                "links": {"self": format!("{base}/identity/v3/registered_limits"), "next": null, "previous": null}}),
    )
}

/// `GET /v3/limits` (filters `service_id`, `region_id`, `resource_name`, `project_id`):
/// every project's limits for an admin, as Keystone shows a token with the admin role; its
/// own project's for anyone else.
#[handler]
pub async fn list_limits(req: &Request, shared: Data<&Arc<Shared>>) -> Response {
    let (caller, filter) = match limits_caller(&shared, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let base = &shared.base_url;
    let idx = shared.read();
    let limits: Vec<Value> = idx
        .world
        .project_limits
        .iter()
        .enumerate()
        .filter(|(_, l)| caller.admin || caller.project_id.as_deref() == Some(&l.project_id))
        .filter(|(_, l)| {
            filter.glance(l.region_id.as_deref(), &l.resource_name)
                && filter.passes("project_id", Some(&l.project_id))
        })
        .map(|(i, l)| {
            json!({"id": format!("limit-{i}"), "service_id": GLANCE_SERVICE_ID,
                   "region_id": l.region_id, "resource_name": l.resource_name,
                   "resource_limit": l.resource_limit, "project_id": l.project_id,
                   "domain_id": null, "description": null,
                   "links": {"self": format!("{base}/identity/v3/limits/limit-{i}")}})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"limits": limits,
                "links": {"self": format!("{base}/identity/v3/limits"), "next": null, "previous": null}}),
    )
}
