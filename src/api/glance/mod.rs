//! A Glance v2-compatible read API per cloud, so OpenStack's own tools read the census:
//! `/image/{cloud uuid}` is a Glance endpoint (`glance --os-image-url …/image/{uuid}`).
//! It serves the version document, `GET /v2/images` with Glance's list semantics
//! (`list`), `GET /v2/images/{id}` (ids are the upstream ids), Glance 33's schemas and
//! `/v2/info/{usage,stores,import}` as the token's tenant last synced them. Census tokens are
//! accepted as `X-Auth-Token`; staff sees the whole cloud as Glance's admin would, a scoped
//! token what its tenants' projects see (`X-Project-Id` narrows to one of them). Every write
//! is refused with 403. This is Glance's API, not ours: it is outside the OpenAPI document,
//! and every answer, errors included, is shaped as Glance's (`reply`).
mod list;
mod reply;
mod shape;

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, PathPattern, Request, Response};
use serde_json::Value;
use uuid::Uuid;

use super::AppState;
use super::auth::principal_of;
use super::errors::ApiError;
use crate::catalog::glance_projects::GlanceProject;
use crate::catalog::images::ImageDetail;
use crate::catalog::tokens::Principal;
use crate::catalog::{CatalogError, Scope, hex, parse_uuid};
use list::{ListQuery, Viewer};
use reply::GlanceError;

/// Where the face is nested in the application.
pub const PREFIX: &str = "/image";
/// The paths it answers.
pub const FACE: &str = "/image/";

/// Glance 33's schemas, as its `GET /v2/schemas/image(s)` answered them.
const IMAGE_SCHEMA: &str = include_str!("schema-image.json");
const IMAGES_SCHEMA: &str = include_str!("schema-images.json");

/// The endpoint nested at [`PREFIX`]: it answers every request itself (errors included), so
/// the application's Waldur-shaped error handling never sees one.
pub struct GlanceFace;

impl Endpoint for GlanceFace {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_string();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let route = segments
            .split_first()
            .map_or(Route::Unknown, |(_, rest)| Route::of(rest));
        let accept = req.header("accept").map(str::to_string);
        let mut response = match answer(&req, &segments, &route).await {
            Ok(response) => response,
            Err(e) => e.render(accept.as_deref()),
        };
        response.set_data(PathPattern(route.label().into()));
        Ok(response)
    }
}

/// What a path under `/image/{cloud}` names.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    /// `/` (Glance answers 300 there) or `/versions` (200).
    Versions {
        explicit: bool,
    },
    Images,
    Image(&'a str),
    ImageFile(&'a str),
    Schema(&'static str),
    Info(Info),
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Info {
    Usage,
    Stores,
    Import,
}

impl<'a> Route<'a> {
    /// The route of the path's segments after the cloud's uuid (empty ones dropped: a client
    /// given an endpoint URL ending in `/` asks for `…//v2/images`).
    fn of(rest: &[&'a str]) -> Self {
        match rest {
            [] => Route::Versions { explicit: false },
            ["versions"] => Route::Versions { explicit: true },
            ["v2", "images"] => Route::Images,
            ["v2", "images", id] => Route::Image(id),
            ["v2", "images", id, "file"] => Route::ImageFile(id),
            ["v2", "schemas", "image"] => Route::Schema(IMAGE_SCHEMA),
            ["v2", "schemas", "images"] => Route::Schema(IMAGES_SCHEMA),
            ["v2", "info", "usage"] => Route::Info(Info::Usage),
            ["v2", "info", "stores"] => Route::Info(Info::Stores),
            ["v2", "info", "import"] => Route::Info(Info::Import),
            _ => Route::Unknown,
        }
    }

    /// The route's template, as the metrics label requests.
    fn label(&self) -> &'static str {
        match self {
            Route::Versions { explicit: false } => "/image/:cloud",
            Route::Versions { explicit: true } => "/image/:cloud/versions",
            Route::Images => "/image/:cloud/v2/images",
            Route::Image(_) => "/image/:cloud/v2/images/:id",
            Route::ImageFile(_) => "/image/:cloud/v2/images/:id/file",
            Route::Schema(s) if std::ptr::eq(*s, IMAGE_SCHEMA) => "/image/:cloud/v2/schemas/image",
            Route::Schema(_) => "/image/:cloud/v2/schemas/images",
            Route::Info(Info::Usage) => "/image/:cloud/v2/info/usage",
            Route::Info(Info::Stores) => "/image/:cloud/v2/info/stores",
            Route::Info(Info::Import) => "/image/:cloud/v2/info/import",
            Route::Unknown => "/image/*",
        }
    }
}

fn json(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn internal(e: CatalogError) -> GlanceError {
    tracing::error!(error = %e, "internal error");
    GlanceError::internal()
}

fn no_such_cloud(raw: &str) -> GlanceError {
    GlanceError::not_found(format!("No cloud {raw} is visible to this token."))
}

/// The answer to a request under `/image/`; `segments` are its path's (the cloud first).
async fn answer(
    req: &Request,
    segments: &[&str],
    route: &Route<'_>,
) -> Result<Response, GlanceError> {
    let state = req
        .data::<Arc<AppState>>()
        .ok_or_else(GlanceError::internal)?;
    let Some(raw_cloud) = segments.first() else {
        return Err(GlanceError::no_route());
    };
    let write = match *req.method() {
        Method::GET | Method::HEAD => false,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE => true,
        ref other => return Err(GlanceError::method_not_allowed(other.as_str(), "GET, HEAD")),
    };
    let cloud = parse_uuid(raw_cloud).ok_or_else(|| no_such_cloud(raw_cloud))?;
    if let Route::Versions { explicit } = route
        && !write
    {
        // Glance serves its versions without a token.
        return versions(state, cloud, *explicit).await;
    }
    let principal = caller(state, req).await?;
    let projects = match state
        .catalog
        .tenants()
        .glance_projects(&principal.scope(), cloud)
        .await
    {
        Ok(projects) => projects,
        Err(CatalogError::NotFound) => return Err(no_such_cloud(raw_cloud)),
        Err(e) => return Err(internal(e)),
    };
    if !principal.is_staff && projects.is_empty() {
        return Err(no_such_cloud(raw_cloud));
    }
    if write {
        return Err(GlanceError::forbidden(format!(
            "cloudcensus is a read-only census of the images of this cloud: {} is not allowed here. Make changes in the Glance of the cloud itself.",
            req.method()
        )));
    }
    let audience = Audience::of(&principal, projects, req.header("x-project-id"))?;
    read(req, state, cloud, route, &audience).await
}

/// The answer to a read of `route` for `audience`.
async fn read(
    req: &Request,
    state: &AppState,
    cloud: Uuid,
    route: &Route<'_>,
    audience: &Audience,
) -> Result<Response, GlanceError> {
    match route {
        Route::Versions { .. } | Route::Unknown => Err(GlanceError::no_route()),
        Route::Images => list_images(req, state, cloud, audience).await,
        Route::Image(id) => {
            let images = audience.images(state, cloud).await?;
            let image = images
                .iter()
                .find(|i| i.backend_id == *id)
                .ok_or_else(|| GlanceError::not_found(format!("No image found with ID {id}")))?;
            Ok(json(StatusCode::OK, &shape::image(image)))
        }
        Route::ImageFile(_) => Err(GlanceError::forbidden(
            "cloudcensus is a read-only census: it keeps no image data. Download the image from the Glance of the cloud itself.",
        )),
        Route::Schema(schema) => Ok(Response::builder()
            .content_type("application/json")
            .body(*schema)),
        Route::Info(info) => {
            let project = audience.project()?;
            let body = match info {
                Info::Usage => project.usage.as_deref().map(shape::usage),
                Info::Import => project.import_methods.as_deref().map(shape::import_methods),
                Info::Stores => Some(shape::stores(project.stores.as_deref().ok_or_else(
                    || GlanceError::not_found("Multi backend is not supported at this site."),
                )?)),
            };
            Ok(json(
                StatusCode::OK,
                &body.ok_or_else(GlanceError::no_route)?,
            ))
        }
    }
}

/// `GET /v2/images`: the query read as Glance reads it, then one page of the cloud's images.
async fn list_images(
    req: &Request,
    state: &AppState,
    cloud: Uuid,
    audience: &Audience,
) -> Result<Response, GlanceError> {
    let pairs: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let query = ListQuery::parse(&pairs).map_err(GlanceError::bad_request)?;
    let images = audience.images(state, cloud).await?;
    let page = list::select(&images, &query, &audience.viewer).map_err(GlanceError::bad_request)?;
    Ok(json(StatusCode::OK, &shape::page(&page, &pairs)))
}

/// The version document, whose links lead back to this cloud's endpoint.
async fn versions(state: &AppState, cloud: Uuid, explicit: bool) -> Result<Response, GlanceError> {
    match state.catalog.clouds().find(cloud).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(no_such_cloud(&hex(&cloud))),
        Err(e) => return Err(internal(e)),
    }
    let root = format!("{}{PREFIX}/{}", state.public_url, hex(&cloud));
    let status = if explicit {
        StatusCode::OK
    } else {
        StatusCode::MULTIPLE_CHOICES
    };
    Ok(json(status, &shape::versions(&root)))
}

/// The census token the request presents as `X-Auth-Token` (keystonemiddleware's 401
/// without one, or with one the census does not know or that has expired).
async fn caller(state: &AppState, req: &Request) -> Result<Principal, GlanceError> {
    let unauthorized = || GlanceError::unauthorized(&state.public_url);
    let key = req.header("x-auth-token").ok_or_else(unauthorized)?;
    match principal_of(state, key.trim()).await {
        Ok(principal) => Ok(principal),
        Err(ApiError::Internal(e)) => Err(internal(e)),
        Err(_) => Err(unauthorized()),
    }
}

/// For whom a request reads the cloud: which images (`scope`), with which project's eyes
/// (`viewer`), and the tenant whose facts `/v2/info/*` answers with.
struct Audience {
    scope: Scope,
    viewer: Viewer,
    /// The token's live tenants in the cloud (all of them for staff), or the one
    /// `X-Project-Id` named.
    projects: Vec<GlanceProject>,
}

impl Audience {
    fn of(
        principal: &Principal,
        projects: Vec<GlanceProject>,
        project_header: Option<&str>,
    ) -> Result<Self, GlanceError> {
        if let Some(wanted) = project_header.map(str::trim).filter(|p| !p.is_empty()) {
            let project = projects
                .into_iter()
                .find(|p| p.project_id == wanted)
                .ok_or_else(|| {
                    GlanceError::forbidden(format!(
                        "This token sees no project {wanted} in this cloud."
                    ))
                })?;
            return Ok(Self {
                scope: Scope::Tenants(vec![project.tenant_id]),
                viewer: Viewer::Projects(vec![project.project_id.clone()]),
                projects: vec![project],
            });
        }
        let (scope, viewer) = if principal.is_staff {
            (Scope::All, Viewer::Staff)
        } else {
            (
                Scope::Tenants(projects.iter().map(|p| p.tenant_id).collect()),
                Viewer::Projects(projects.iter().map(|p| p.project_id.clone()).collect()),
            )
        };
        Ok(Self {
            scope,
            viewer,
            projects,
        })
    }

    /// The one tenant whose Glance facts answer `/v2/info/*`.
    fn project(&self) -> Result<&GlanceProject, GlanceError> {
        match self.projects.as_slice() {
            [one] => Ok(one),
            [] => Err(GlanceError::not_found(
                "No tenant of this cloud is registered: the census has no Glance facts for it.",
            )),
            many => Err(GlanceError::bad_request(format!(
                "This token sees {} projects of this cloud: name one with the X-Project-Id header.",
                many.len()
            ))),
        }
    }

    /// Every image of the cloud the audience sees.
    async fn images(&self, state: &AppState, cloud: Uuid) -> Result<Vec<ImageDetail>, GlanceError> {
        match state.catalog.images().in_cloud(&self.scope, cloud).await {
            Ok(images) => Ok(images),
            Err(CatalogError::NotFound) => Err(no_such_cloud(&hex(&cloud))),
            Err(e) => Err(internal(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_as_glances() {
        assert_eq!(Route::of(&[]), Route::Versions { explicit: false });
        assert_eq!(Route::of(&["versions"]), Route::Versions { explicit: true });
        assert_eq!(Route::of(&["v2", "images"]), Route::Images);
        assert_eq!(Route::of(&["v2", "images", "x"]), Route::Image("x"));
        assert_eq!(
            Route::of(&["v2", "images", "x", "file"]),
            Route::ImageFile("x")
        );
        assert_eq!(
            Route::of(&["v2", "images", "x", "tags", "t"]),
            Route::Unknown
        );
        assert_eq!(
            Route::of(&["v2", "info", "stores"]),
            Route::Info(Info::Stores)
        );
        assert_eq!(
            Route::of(&["v2", "schemas", "image"]).label(),
            "/image/:cloud/v2/schemas/image"
        );
        assert_eq!(
            Route::of(&["v2", "schemas", "images"]).label(),
            "/image/:cloud/v2/schemas/images"
        );
    }

    #[test]
    fn schemas_are_json() {
        for schema in [IMAGE_SCHEMA, IMAGES_SCHEMA] {
            let parsed: Value = serde_json::from_str(schema).expect("valid JSON");
            assert!(parsed["name"].is_string());
        }
    }
}
