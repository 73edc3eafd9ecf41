//! Glance v2: the image listing with its visibility rules and paging, one image, an image's
//! memberships or one of them, and the `/v2/info/*` endpoints.
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::faults::Target;
use crate::http::{
    Quirks, encode, glance_error, json_response, query_pairs, service_call, truncated_bytes,
};
use crate::state::{Caller, Indexed, Shared};
use crate::world::{Image, Member, World};

/// Glance's `limit_param_default` and `api_limit_max`.
pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 1000;

const VISIBILITIES: &[&str] = &["public", "private", "shared", "community", "all"];
const MEMBER_STATUSES: &[&str] = &["accepted", "pending", "rejected", "all"];

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An image as Glance shows it: core keys plus extra properties as top-level strings.
/// Serialized straight from the world, without an intermediate JSON tree.
#[derive(Serialize)]
pub struct ImageOut<'a> {
    #[serde(flatten)]
    properties: &'a BTreeMap<String, String>,
    id: &'a str,
    name: &'a Option<String>,
    status: &'a str,
    visibility: &'a str,
    protected: bool,
    os_hidden: bool,
    owner: &'a str,
    min_disk: i64,
    min_ram: i64,
    size: Option<i64>,
    virtual_size: Option<i64>,
    checksum: &'a Option<String>,
    os_hash_algo: Option<&'static str>,
    os_hash_value: Option<String>,
    disk_format: &'a Option<String>,
    container_format: &'a Option<String>,
    created_at: String,
    updated_at: String,
    tags: &'a [String],
    #[serde(rename = "self")]
    self_link: String,
    file: String,
    schema: &'static str,
}

impl<'a> ImageOut<'a> {
    pub fn new(img: &'a Image) -> Self {
        Self {
            properties: &img.properties,
            id: &img.id,
            name: &img.name,
            status: &img.status,
            visibility: &img.visibility,
            protected: img.protected,
            os_hidden: img.os_hidden,
            owner: &img.owner,
            min_disk: img.min_disk,
            min_ram: img.min_ram,
            size: img.size,
            virtual_size: None,
            checksum: &img.checksum,
            os_hash_algo: img.checksum.as_ref().map(|_| "sha512"),
            os_hash_value: img.checksum.as_ref().map(|c| c.repeat(4)),
            disk_format: &img.disk_format,
            container_format: &img.container_format,
            created_at: timestamp(img.created_at),
            updated_at: timestamp(img.updated_at),
            tags: &img.tags,
            self_link: format!("/v2/images/{}", img.id),
            file: format!("/v2/images/{}/file", img.id),
            schema: "/v2/schemas/image",
        }
    }
}

#[derive(Serialize)]
struct PageOut<'a> {
    images: Vec<ImageOut<'a>>,
    first: String,
    schema: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Whether the caller may see the image at all (show, marker, membership lookups).
fn accessible(img: &Image, caller: &Caller, project: &str) -> bool {
    img.status != "deleted"
        && (caller.admin
            || matches!(img.visibility.as_str(), "public" | "community")
            || img.owner == project
            || img.member(project).is_some())
}

struct ListFilter {
    visibility: Option<String>,
    member_status: String,
    os_hidden: bool,
    name: Option<String>,
    status: Option<String>,
    owner: Option<String>,
    /// Glance's time comparison filter on `updated_at` (`gt:2026-11-30T10:00:00Z`).
    updated_at: Option<TimeFilter>,
}

/// `op:timestamp` with Glance's operators.
#[derive(Clone, Copy, Debug)]
struct TimeFilter {
    op: TimeOp,
    at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Copy, Debug)]
enum TimeOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl TimeFilter {
    fn parse(raw: &str) -> Result<Self, String> {
        let (op, at) = match raw.split_once(':') {
            Some((op, rest)) if op.chars().all(|c| c.is_ascii_alphabetic()) => (op, rest),
            _ => ("eq", raw),
        };
        let op = match op {
            "gt" => TimeOp::Gt,
            "gte" => TimeOp::Gte,
            "lt" => TimeOp::Lt,
            "lte" => TimeOp::Lte,
            "eq" => TimeOp::Eq,
            "neq" => TimeOp::Neq,
            other => return Err(format!("Invalid operator: {other}")),
        };
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .map_err(|_| format!("Unable to parse datetime: {at}"))?
            .to_utc();
        Ok(Self { op, at })
    }

    fn holds(&self, t: chrono::DateTime<chrono::Utc>) -> bool {
        match self.op {
            TimeOp::Gt => t > self.at,
            TimeOp::Gte => t >= self.at,
            TimeOp::Lt => t < self.at,
            TimeOp::Lte => t <= self.at,
            TimeOp::Eq => t == self.at,
            TimeOp::Neq => t != self.at,
        }
    }
}

/// The order of a listing: Glance's default (newest created first), or by `updated_at`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SortKey {
    CreatedAt,
    UpdatedAt,
}

impl ListFilter {
    /// Glance's listing rules for a project-scoped caller. Admins list every image in the
    /// cloud (Glance's default policy), whatever project their token is scoped to.
    fn lists(&self, img: &Image, caller: &Caller, project: &str) -> bool {
        if img.status == "deleted" || img.os_hidden != self.os_hidden {
            return false;
        }
        if let Some(v) = &self.visibility
            && v != "all"
            && &img.visibility != v
        {
            return false;
        }
        if self
            .name
            .as_ref()
            .is_some_and(|n| img.name.as_ref() != Some(n))
            || self.status.as_ref().is_some_and(|s| &img.status != s)
            || self.owner.as_ref().is_some_and(|o| &img.owner != o)
        {
            return false;
        }
        if caller.admin {
            return true;
        }
        match img.visibility.as_str() {
            "public" => true,
            // Others' community images appear only when asked for by visibility.
            "community" => img.owner == project || self.visibility.is_some(),
            "shared" => {
                img.owner == project
                    || img.member(project).is_some_and(|m| {
                        self.member_status == "all" || m.status == self.member_status
                    })
            }
            _ => img.owner == project,
        }
    }
}

type Listing = (ListFilter, Order, usize, Option<String>);

fn parse_list(pairs: &[(String, String)]) -> Result<Listing, String> {
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 0 => (n as usize).min(MAX_LIMIT),
            Ok(_) => return Err("limit param must be positive".into()),
            Err(_) => return Err("limit param must be an integer".into()),
        },
    };
    let visibility = get("visibility");
    if let Some(v) = &visibility
        && !VISIBILITIES.contains(&v.as_str())
    {
        return Err(format!("Invalid visibility value: {v}"));
    }
    let member_status = get("member_status").unwrap_or_else(|| "accepted".into());
    if !MEMBER_STATUSES.contains(&member_status.as_str()) {
        return Err(format!("Invalid status: {member_status}"));
    }
    let updated_at = get("updated_at")
        .map(|raw| TimeFilter::parse(&raw))
        .transpose()?;
    let sort_key = match get("sort_key").as_deref() {
        None | Some("created_at") => SortKey::CreatedAt,
        Some("updated_at") => SortKey::UpdatedAt,
        Some(other) => return Err(format!("Invalid sort key: {other}")),
    };
    let ascending = match get("sort_dir").as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Err(format!("Invalid sort direction: {other}")),
    };
    let os_hidden = match get("os_hidden").map(|v| v.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            return Err(format!(
                "Invalid value '{v}' for 'os_hidden' filter. Valid values are 'true' or 'false'."
            ));
        }
    };
    Ok((
        ListFilter {
            visibility,
            member_status,
            os_hidden,
            name: get("name"),
            status: get("status"),
            owner: get("owner"),
            updated_at,
        },
        Order {
            key: sort_key,
            ascending,
        },
        limit,
        get("marker"),
    ))
}

#[derive(Clone, Copy, Debug)]
struct Order {
    key: SortKey,
    ascending: bool,
}

impl Order {
    fn is_default(&self) -> bool {
        self.key == SortKey::CreatedAt && !self.ascending
    }

    /// The world's images in this order (positions into `world.images`); the default order is
    /// the index's own, not copied.
    fn of<'a>(&self, idx: &'a Indexed) -> std::borrow::Cow<'a, [usize]> {
        if self.is_default() {
            return std::borrow::Cow::Borrowed(&idx.image_order);
        }
        let mut order = idx.image_order.clone();
        if self.key == SortKey::UpdatedAt {
            let images = &idx.world.images;
            order.sort_by(|&a, &b| {
                (images[b].updated_at, &images[b].id).cmp(&(images[a].updated_at, &images[a].id))
            });
        }
        if self.ascending {
            order.reverse();
        }
        std::borrow::Cow::Owned(order)
    }
}

fn list_page<'a>(
    idx: &'a Indexed,
    caller: &Caller,
    project: &str,
    pairs: &[(String, String)],
    quirks: &Quirks,
) -> Result<(Vec<ImageOut<'a>>, bool), String> {
    let (filter, sort, limit, marker) = parse_list(pairs)?;
    let order = sort.of(idx);
    let start = match &marker {
        None => 0,
        Some(m) => {
            let found = if sort.is_default() {
                idx.image_pos.get(m).copied()
            } else {
                order.iter().position(|&i| idx.world.images[i].id == *m)
            };
            let pos = found
                .filter(|&pos| accessible(&idx.world.images[order[pos]], caller, project))
                .ok_or_else(|| format!("marker not found: {m}"))?;
            if quirks.duplicate_ids { pos } else { pos + 1 }
        }
    };
    let page_size = quirks.short_pages.map_or(limit, |n| n.min(limit));
    let mut page = Vec::with_capacity(page_size.min(MAX_LIMIT));
    for &i in order.iter().skip(start) {
        if page.len() >= page_size {
            break;
        }
        let img = &idx.world.images[i];
        let changed = filter.updated_at.is_none_or(|f| f.holds(img.updated_at));
        if changed && filter.lists(img, caller, project) {
            page.push(ImageOut::new(img));
        }
    }
    let full = page_size > 0 && page.len() == page_size;
    Ok((page, full))
}

#[handler]
pub async fn list_images(req: &Request, shared: Data<&Arc<Shared>>) -> Response {
    let (caller, project, quirks) = match service_call(&shared, Target::GlanceImages, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let pairs = query_pairs(req);
    let without_marker: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    let mut first = "/v2/images".to_string();
    if !without_marker.is_empty() {
        first = format!("{first}?{}", encode(&without_marker));
    }
    let body = {
        let idx = shared.read();
        let (images, full) = match list_page(&idx, &caller, &project, &pairs, &quirks) {
            Ok(r) => r,
            Err(message) => return glance_error(StatusCode::BAD_REQUEST, &message),
        };
        let next = if quirks.next_loop {
            Some(format!(
                "/v2/images?{}",
                req.uri().query().unwrap_or_default()
            ))
        } else if full {
            let last = images.last().map(|i| i.id.to_string()).unwrap_or_default();
            let mut params = without_marker;
            params.push(("marker".into(), last));
            Some(format!("/v2/images?{}", encode(&params)))
        } else {
            None
        };
        let page = PageOut {
            images,
            first,
            schema: "/v2/schemas/images",
            next,
        };
        match serde_json::to_vec(&page) {
            Ok(bytes) => bytes,
            Err(e) => {
                return glance_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
            }
        }
    };
    if quirks.malformed {
        return truncated_bytes(body);
    }
    let body = if quirks.junk_entries {
        with_junk_images(body)
    } else {
        body
    };
    let body = if quirks.lone_surrogates {
        // serde_json writes `"name":"…"` without spaces.
        String::from_utf8_lossy(&body)
            .replace("\"name\":\"", "\"name\":\"\\ud800")
            .into_bytes()
    } else {
        body
    };
    Response::builder()
        .content_type("application/json")
        .body(body)
}

/// The page with entries that are no image put first in its `images` array.
fn with_junk_images(body: Vec<u8>) -> Vec<u8> {
    const JUNK: &str = r#"{"name":"no id"},null,7,{"id":"","min_disk":"ten"}"#;
    let text = String::from_utf8_lossy(&body);
    match text.split_once("\"images\":[") {
        Some((head, tail)) => {
            let comma = if tail.starts_with(']') { "" } else { "," };
            format!("{head}\"images\":[{JUNK}{comma}{tail}").into_bytes()
        }
        None => body,
    }
}

#[handler]
pub async fn show_image(
    req: &Request,
    Path(id): Path<String>,
    shared: Data<&Arc<Shared>>,
) -> Response {
    let (caller, project, _) = match service_call(&shared, Target::GlanceImages, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let idx = shared.read();
    match idx
        .image(&id)
        .filter(|img| accessible(img, &caller, &project))
    {
        Some(img) => json_response(StatusCode::OK, &to_json(&ImageOut::new(img))),
        None => glance_error(
            StatusCode::NOT_FOUND,
            &format!("No image found with ID {id}"),
        ),
    }
}

fn member_json(img: &Image, member: &Member) -> Value {
    json!({"image_id": img.id, "member_id": member.project_id, "status": member.status,
           "created_at": timestamp(img.created_at), "updated_at": timestamp(img.updated_at),
           "schema": "/v2/schemas/member"})
}

/// `GET /v2/images/{id}/members`, as Glance answers it: 404 for an image the caller cannot
/// see, 403 for one that is not `shared` ("Only shared images have members", public, private
/// and community alike), else every membership for the owner or an admin and only its own for
/// a member.
#[handler]
pub async fn list_members(
    req: &Request,
    Path(id): Path<String>,
    shared: Data<&Arc<Shared>>,
) -> Response {
    let (caller, project, quirks) = match service_call(&shared, Target::GlanceMembers, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let body = {
        let idx = shared.read();
        let Some(img) = idx
            .image(&id)
            .filter(|img| accessible(img, &caller, &project))
        else {
            return glance_error(
                StatusCode::NOT_FOUND,
                &format!("No image found with ID {id}"),
            );
        };
        if img.visibility != "shared" {
            return glance_error(
                StatusCode::FORBIDDEN,
                &format!("Error fetching members of image {id}: Only shared images have members."),
            );
        }
        let everyone = caller.admin || img.owner == project;
        let members: Vec<Value> = img
            .members
            .iter()
            .filter(|m| everyone || m.project_id == project)
            .map(|m| member_json(img, m))
            .collect();
        json!({"members": members, "schema": "/v2/schemas/members"})
    };
    if quirks.malformed {
        return truncated_bytes(body.to_string().into_bytes());
    }
    json_response(StatusCode::OK, &body)
}

/// `GET /v2/images/{id}/members/{member_id}`: the image's owner, an admin, or the member
/// itself may look a membership up.
#[handler]
pub async fn show_member(
    req: &Request,
    Path((id, member_id)): Path<(String, String)>,
    shared: Data<&Arc<Shared>>,
) -> Response {
    let (caller, project, _) = match service_call(&shared, Target::GlanceMembers, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let idx = shared.read();
    let Some(img) = idx
        .image(&id)
        .filter(|img| accessible(img, &caller, &project))
    else {
        return glance_error(
            StatusCode::NOT_FOUND,
            &format!("No image found with ID {id}"),
        );
    };
    let allowed = caller.admin || img.owner == project || member_id == project;
    match img.member(&member_id).filter(|_| allowed) {
        Some(m) => json_response(StatusCode::OK, &member_json(img, m)),
        None => glance_error(
            StatusCode::NOT_FOUND,
            &format!("{member_id} not found in the member list of the image {id}."),
        ),
    }
}

/// `PUT /v2/images/{id}/members/{member_id}` with `{"status": …}`: the member itself (or an
/// admin) accepts, rejects or resets its membership, as Glance's default policy lets it
/// (`modify_member`: admin or the shared member). 404 for an image the caller cannot see or
/// an unknown member; 403 for the owner, anyone else, or an image that is not shared; 400 for
/// a status other than `pending`, `accepted`, `rejected`. The image's `updated_at` does not
/// move, as in Glance.
#[handler]
pub async fn update_member(
    req: &Request,
    Path((id, member_id)): Path<(String, String)>,
    body: Body,
    shared: Data<&Arc<Shared>>,
) -> Response {
    let (caller, project, _) = match service_call(&shared, Target::GlanceMembers, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let body: Option<Value> = body
        .into_vec()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(status) = body.as_ref().and_then(|b| b.get("status")) else {
        return glance_error(StatusCode::BAD_REQUEST, "Status not specified");
    };
    let status = status.as_str().unwrap_or_default().to_string();
    let mut idx = shared.write();
    let Some(img) = idx
        .world
        .images
        .iter_mut()
        .find(|img| img.id == id && accessible(img, &caller, &project))
    else {
        return glance_error(
            StatusCode::NOT_FOUND,
            &format!("No image found with ID {id}"),
        );
    };
    let forbidden = || {
        glance_error(
            StatusCode::FORBIDDEN,
            &format!("Not allowed to update members for image {id}."),
        )
    };
    if img.visibility != "shared" {
        return forbidden();
    }
    if img.member(&member_id).is_none() {
        return glance_error(
            StatusCode::NOT_FOUND,
            &format!("{member_id} not found in the member list of the image {id}."),
        );
    }
    if !(caller.admin || member_id == project) {
        return forbidden();
    }
    if !["pending", "accepted", "rejected"].contains(&status.as_str()) {
        return glance_error(
            StatusCode::BAD_REQUEST,
            "Incorrect request: Status must be \"pending\", \"accepted\" or \"rejected\".",
        );
    }
    let Some(member) = img.members.iter_mut().find(|m| m.project_id == member_id) else {
        return forbidden();
    };
    member.status = status;
    let member = member.clone();
    json_response(StatusCode::OK, &member_json(img, &member))
}

#[handler]
pub async fn info(req: &Request, Path(what): Path<String>, shared: Data<&Arc<Shared>>) -> Response {
    let (_, project, _) = match service_call(&shared, Target::GlanceInfo, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let idx = shared.read();
    let world = &idx.world;
    let not_found = || glance_error(StatusCode::NOT_FOUND, "The resource could not be found.");
    match what.as_str() {
        "usage" if world.info_usage_enabled => {
            json_response(StatusCode::OK, &json!({"usage": usage(world, &project)}))
        }
        "stores" if world.info_stores_enabled => json_response(
            StatusCode::OK,
            &json!({"stores": world.stores.iter().map(|s| {
                // Glance leaves `default` out of the stores that are not.
                let mut store = json!({"id": s.id, "description": s.description});
                if s.default {
                    store["default"] = json!(true);
                }
                store
            }).collect::<Vec<_>>()}),
        ),
        "import" if world.info_import_enabled => json_response(
            StatusCode::OK,
            &json!({"import-methods": {"description": "Import methods available.", "type": "array",
                    "value": world.import_methods}}),
        ),
        _ => not_found(),
    }
}

/// Glance 33's `/v2/info/usage` body for `project` (`glance/quota/keystone.py` `get_usage`):
/// `{}` without `use_keystone_limits`; else each resource's limit as oslo.limit finds it (the
/// project's limit, else the registered default, in the cloud's region; else 0) and its usage
/// as Glance's database API counts the images the project owns. An image's locations are its
/// `stores` property's ids when it has one (a multi-store Glance shows `stores`), else one
/// for an image whose data was uploaded (`active`, `deactivated`).
fn usage(world: &World, project: &str) -> Value {
    if !world.glance_keystone_limits {
        return json!({});
    }
    let region = Some(world.region.as_str());
    let limit = |resource: &str| {
        world
            .project_limits
            .iter()
            .find(|l| {
                l.project_id == project
                    && l.resource_name == resource
                    && l.region_id.as_deref() == region
            })
            .map(|l| l.resource_limit)
            .or_else(|| {
                world
                    .registered_limits
                    .iter()
                    .find(|l| l.resource_name == resource && l.region_id.as_deref() == region)
                    .map(|l| l.default_limit)
            })
            .unwrap_or(0)
    };
    let (mut stored, mut staged, mut count, mut uploading) = (0i128, 0i128, 0i64, 0i64);
    for img in world.images.iter().filter(|i| i.owner == project) {
        let status = img.status.as_str();
        let dead = matches!(status, "killed" | "deleted" | "pending_delete");
        let in_staging = matches!(status, "uploading" | "importing");
        let copying = img
            .properties
            .get("os_glance_importing_to_stores")
            .is_some_and(|s| !s.is_empty());
        let size = i128::from(img.size.filter(|&s| s > 0).unwrap_or(0));
        let locations = match img.properties.get("stores") {
            Some(stores) => stores.split(',').filter(|s| !s.is_empty()).count(),
            None => usize::from(matches!(status, "active" | "deactivated")),
        };
        if !dead {
            count += 1;
            stored += size * locations as i128;
        }
        if in_staging || (copying && !dead) {
            staged += size;
        }
        if in_staging || status == "saving" || (copying && !dead) {
            uploading += 1;
        }
    }
    let mib = |bytes: i128| (bytes >> 20) as i64;
    let figure = |resource: &str, usage: i64| json!({"limit": limit(resource), "usage": usage});
    json!({
        "image_size_total": figure("image_size_total", mib(stored)),
        "image_stage_total": figure("image_stage_total", mib(staged)),
        "image_count_total": figure("image_count_total", count),
        "image_count_uploading": figure("image_count_uploading", uploading),
    })
}
