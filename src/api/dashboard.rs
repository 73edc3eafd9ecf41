//! `GET /` and `GET /assets/{name}`: the web dashboard. Its HTML, CSS and JavaScript are
//! compiled into the binary (nothing is fetched from elsewhere at run time), and it reads
//! only the public JSON API with the token the person signs in with. Every answer carries a
//! strict Content-Security-Policy: scripts and styles from this origin only, no inline code,
//! requests to this origin only.
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::Path;
use poem::{Endpoint, IntoResponse, Request, Response, handler};

use super::errors::{NOT_FOUND, json_response};

/// One embedded file: the name it is served under, its media type and its bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: &str = include_str!("../../web/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        name: "dashboard.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../web/dashboard.css"),
    },
    Asset {
        name: "dashboard.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/dashboard.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../web/favicon.svg"),
    },
];

/// Same-origin everything, and no `unsafe-inline` anywhere: the page has no inline script,
/// handler attribute or `style` attribute. (The CSV download's `blob:` URL is a navigation
/// the policy does not govern.)
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = Response::builder().content_type(content_type).body(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Small files: revalidating each load costs less than a stale dashboard after an upgrade.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The endpoint nested at `/` (the API), answering `GET /` and `HEAD /` with the dashboard.
pub struct WithIndex<E>(pub E);

impl<E: Endpoint> Endpoint for WithIndex<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if req.uri().path() == "/" && matches!(*req.method(), Method::GET | Method::HEAD) {
            return Ok(page("text/html; charset=utf-8", INDEX));
        }
        Ok(self.0.call(req).await?.into_response())
    }
}

#[handler]
pub fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => page(a.content_type, a.body),
        None => json_response(StatusCode::NOT_FOUND, NOT_FOUND),
    }
}
