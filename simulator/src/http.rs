//! Response helpers shared by the simulated services: OpenStack-shaped errors, and turning
//! armed faults into what the client sees.
use poem::http::StatusCode;
use poem::{Request, Response};
use serde_json::{Value, json};

use crate::faults::{Action, Target};
use crate::state::{Caller, Shared};

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// Keystone's (and keystonemiddleware's) error shape.
pub fn keystone_error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": status.as_u16(), "message": message, "title": title(status)}}),
    )
}

/// Glance's error shape for a client that asked for JSON.
pub fn glance_error(status: StatusCode, message: &str) -> Response {
    // webob's JSON errors keep the HTML line breaks of its templates, as real Glance shows.
    json_response(
        status,
        &json!({"code": format!("{} {}", status.as_u16(), title(status)), "title": title(status),
                "message": format!("{message}<br /><br />\n\n\n")}),
    )
}

/// Nova's error shape: the fault name is the key.
pub fn nova_error(status: StatusCode, message: &str) -> Response {
    let key = match status {
        StatusCode::BAD_REQUEST => "badRequest",
        StatusCode::NOT_FOUND => "itemNotFound",
        StatusCode::FORBIDDEN => "forbidden",
        _ => "computeFault",
    };
    json_response(
        status,
        &json!({key: {"code": status.as_u16(), "message": message}}),
    )
}

pub fn unauthorized() -> Response {
    keystone_error(
        StatusCode::UNAUTHORIZED,
        "The request you have made requires authentication.",
    )
    .with_header("WWW-Authenticate", "Keystone uri=\"/identity\"")
}

trait WithHeader {
    fn with_header(self, name: &'static str, value: &str) -> Self;
}

impl WithHeader for Response {
    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = value.parse() {
            self.headers_mut().insert(name, v);
        }
        self
    }
}

/// The quirks a listing must show in this response.
#[derive(Clone, Debug, Default)]
pub struct Quirks {
    pub malformed: bool,
    pub lone_surrogates: bool,
    pub junk_entries: bool,
    pub next_loop: bool,
    pub duplicate_ids: bool,
    pub short_pages: Option<usize>,
}

pub fn token_of(req: &Request) -> Option<String> {
    req.header("X-Auth-Token").map(String::from)
}

/// Counts the request and applies the faults that end it early (status, reset, expired
/// token) or slow it down; returns the quirks the handler must apply to its answer.
pub async fn apply_faults(
    shared: &Shared,
    target: Target,
    req: &Request,
    token: Option<&str>,
) -> Result<Quirks, Response> {
    let actions = shared.faults().on_request(target, token);
    let mut quirks = Quirks::default();
    for action in actions {
        match action {
            Action::Delay(d) => tokio::time::sleep(d).await,
            Action::Status { code, retry_after } => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut resp = keystone_error(status, "simulated failure");
                if let Some(secs) = retry_after {
                    resp = resp.with_header("Retry-After", &secs.to_string());
                }
                return Err(resp);
            }
            Action::Reset => {
                if let Some(peer) = req.remote_addr().as_socket_addr() {
                    shared.resets.mark(*peer);
                }
                return Err(Response::builder().body("reset"));
            }
            Action::ExpireToken => {
                if let Some(t) = token {
                    shared.revoke_token(t);
                }
                return Err(unauthorized());
            }
            Action::Malformed => quirks.malformed = true,
            Action::LoneSurrogates => quirks.lone_surrogates = true,
            Action::JunkEntries => quirks.junk_entries = true,
            Action::NextLoop => quirks.next_loop = true,
            Action::DuplicateIds => quirks.duplicate_ids = true,
            Action::ShortPages(n) => quirks.short_pages = Some(n.max(1)),
        }
    }
    Ok(quirks)
}

/// Faults first, then the token: the project-scoped caller of a service request.
pub async fn service_call(
    shared: &Shared,
    target: Target,
    req: &Request,
) -> Result<(Caller, String, Quirks), Response> {
    let token = token_of(req);
    let quirks = apply_faults(shared, target, req, token.as_deref()).await?;
    let caller = token
        .as_deref()
        .and_then(|t| shared.validate(t))
        .ok_or_else(unauthorized)?;
    let project = caller.project_id.clone().ok_or_else(|| {
        keystone_error(
            StatusCode::FORBIDDEN,
            "This service needs a project-scoped token.",
        )
    })?;
    Ok((caller, project, quirks))
}

/// A 200 whose JSON is cut off, for the malformed-body fault.
pub fn truncated(body: &Value) -> Response {
    truncated_bytes(body.to_string().into_bytes())
}

pub fn truncated_bytes(mut body: Vec<u8>) -> Response {
    body.truncate(body.len() / 2);
    Response::builder()
        .content_type("application/json")
        .body(body)
}

/// Query pairs in request order (the order Glance keeps in its `next` links).
pub fn query_pairs(req: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A boolean query parameter as oslo's strict `bool_from_string` reads it (`1`/`0`, `true`/
/// `false`, `yes`/`no`, `on`/`off`, `t`/`f`, `y`/`n`, any case); `None` for anything else,
/// which the services answer with a 400.
pub fn bool_param(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}
