//! The one place where errors become HTTP responses. Every error body is JSON: either
//! `{"detail": "..."}` or DRF-style `{"field": ["message"]}`. The catalog's and the sync
//! engine's errors are mapped here, and nowhere else; so are the answers the guard, the
//! framework and the connection give before a handler runs ([`BeforeHandler`]).
use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, Union};

use crate::catalog::CatalogError;
use crate::catalog::paging::InvalidPage;
use crate::sync::engine::PullError;

/// Field name → messages (DRF's validation error body).
pub type FieldErrors = std::collections::BTreeMap<String, Vec<String>>;

/// What went wrong with a request, in HTTP's terms.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid input: {0:?}")]
    Validation(FieldErrors),
    #[error("authentication credentials were not provided")]
    NotAuthenticated,
    #[error("invalid token")]
    InvalidToken,
    #[error("token has expired")]
    TokenExpired,
    #[error("permission denied")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid page")]
    InvalidPage,
    /// A fault of the service (database, stored credentials), never the client's.
    #[error(transparent)]
    Internal(CatalogError),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }
}

impl From<CatalogError> for ApiError {
    /// A handler that expects `Conflict` or `Invalid` from a call maps them to errors of the
    /// field concerned itself; what reaches this is reported as DRF reports a failed
    /// uniqueness check: 400 under `non_field_errors`.
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::NotFound => Self::NotFound,
            CatalogError::PageOutOfRange => Self::InvalidPage,
            CatalogError::Conflict(reason) => {
                Self::field("non_field_errors", capitalized_sentence(&reason))
            }
            CatalogError::Invalid(reason) => Self::field("non_field_errors", reason),
            e @ (CatalogError::Database(_)
            | CatalogError::Open(_)
            | CatalogError::Crypto(_)
            | CatalogError::Computation(_)) => Self::Internal(e),
        }
    }
}

impl From<InvalidPage> for ApiError {
    fn from(_: InvalidPage) -> Self {
        Self::InvalidPage
    }
}

/// "a thing happened" → "A thing happened." (the catalog's reasons are lower-case phrases).
fn capitalized_sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[derive(Object, Debug, Clone)]
pub struct Detail {
    pub detail: String,
}

impl Detail {
    pub fn json(detail: impl Into<String>) -> Json<Detail> {
        Json(Detail {
            detail: detail.into(),
        })
    }
}

pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
pub const INVALID_TOKEN: &str = "Invalid token.";
pub const TOKEN_EXPIRED: &str = "Token has expired.";
pub const FORBIDDEN: &str = "You do not have permission to perform this action.";
pub const NOT_FOUND: &str = "Not found.";
pub const INVALID_PAGE: &str = "Invalid page.";
pub const AUTH_SCHEME: &str = "Token";

/// A 400's body: DRF's field errors, or a `detail` when the request could not be read at all
/// (malformed JSON, an unparsable request line).
#[derive(Union, Debug)]
#[oai(one_of)]
pub enum BadRequestBody {
    Fields(BTreeMap<String, Vec<String>>),
    Malformed(Detail),
}

#[derive(ApiResponse, Debug)]
pub enum ErrorResponse {
    /// Invalid input: field name → messages, or `detail` for a malformed request.
    #[oai(status = 400)]
    BadRequest(Json<BadRequestBody>),
    /// Missing, invalid or expired token.
    #[oai(status = 401)]
    Unauthorized(Json<Detail>, #[oai(header = "WWW-Authenticate")] String),
    /// The token may not do this.
    #[oai(status = 403)]
    Forbidden(Json<Detail>),
    /// No such object, or not visible to this token; or a page past the end.
    #[oai(status = 404)]
    NotFound(Json<Detail>),
    #[oai(status = 500)]
    Internal(Json<Detail>),
}

impl From<ApiError> for ErrorResponse {
    fn from(err: ApiError) -> Self {
        let unauthorized = |msg: &str| Self::Unauthorized(Detail::json(msg), AUTH_SCHEME.into());
        match err {
            ApiError::Validation(fields) => Self::BadRequest(Json(BadRequestBody::Fields(fields))),
            ApiError::NotAuthenticated => unauthorized(NOT_AUTHENTICATED),
            ApiError::InvalidToken => unauthorized(INVALID_TOKEN),
            ApiError::TokenExpired => unauthorized(TOKEN_EXPIRED),
            ApiError::Forbidden => Self::Forbidden(Detail::json(FORBIDDEN)),
            ApiError::NotFound => Self::NotFound(Detail::json(NOT_FOUND)),
            ApiError::InvalidPage => Self::NotFound(Detail::json(INVALID_PAGE)),
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                Self::Internal(Detail::json("Internal server error."))
            }
        }
    }
}

/// The answers given before a handler runs: by the guard (NUL characters, body size), by the
/// framework (a body that is not JSON) and by the connection (a request line or header block
/// that cannot be parsed or is too large). `spec::BeforeHandlers` declares them on the
/// operations that can get them.
#[derive(ApiResponse, Debug)]
pub enum BeforeHandler {
    /// A NUL character in the query (field errors), or a request that could not be parsed.
    #[oai(status = 400)]
    BadRequest(Json<BadRequestBody>),
    /// The request body is larger than the configured limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<Detail>),
    /// The request target is too long.
    #[oai(status = 414)]
    UriTooLong(Json<Detail>),
    /// The body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<Detail>),
    /// The header fields are too large or too many.
    #[oai(status = 431)]
    HeadersTooLarge(Json<Detail>),
}

impl BeforeHandler {
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::BadRequest(Json(BadRequestBody::Malformed(Detail {
            detail: detail.into(),
        })))
    }
}

pub(super) fn json_response(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({ "detail": detail });
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// Reshapes errors raised by poem itself (unknown route, wrong method, unparsable body) into
/// the same JSON shape as ours; our own responses pass through untouched.
pub async fn reshape_framework_error(err: poem::Error) -> Response {
    // The route's template goes with the answer, for the metrics.
    let route = err.data::<poem::PathPattern>().cloned();
    let mut resp = reshape(err);
    if let Some(route) = route {
        resp.set_data(route);
    }
    resp
}

fn reshape(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    match status {
        StatusCode::BAD_REQUEST => {
            return BeforeHandler::malformed(format!("Malformed request: {err}")).into_response();
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            return BeforeHandler::UnsupportedMediaType(Detail::json(format!(
                "Unsupported media type: {err}"
            )))
            .into_response();
        }
        _ => {}
    }
    let detail = match status {
        StatusCode::NOT_FOUND => NOT_FOUND.to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed.".to_string(),
        StatusCode::UNAUTHORIZED => NOT_AUTHENTICATED.to_string(),
        s if s.is_client_error() => format!("Malformed request: {err}"),
        _ => {
            tracing::error!(error = %err, "unhandled error");
            "Internal server error.".to_string()
        }
    };
    let mut resp = json_response(status, &detail);
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static(AUTH_SCHEME),
        );
    }
    resp
}

impl From<CatalogError> for ErrorResponse {
    fn from(err: CatalogError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<InvalidPage> for ErrorResponse {
    fn from(_: InvalidPage) -> Self {
        ApiError::InvalidPage.into()
    }
}

/// The answer to a pull: accepted, or 409 while a sync of the tenant is already running.
#[derive(ApiResponse)]
pub enum PullResponse {
    #[oai(status = 202)]
    Accepted(Json<Detail>),
    /// A sync of the tenant is already running (on this or another replica).
    #[oai(status = 409)]
    Busy(Json<Detail>),
}

impl PullResponse {
    pub fn of<T>(result: Result<T, PullError>) -> Result<Self, ErrorResponse> {
        match result {
            Ok(_) => Ok(Self::Accepted(Detail::json(
                "Pull operation was successfully scheduled.",
            ))),
            Err(PullError::AlreadySyncing) => Ok(Self::Busy(Detail::json(
                "A sync of this tenant is already in progress.",
            ))),
            Err(PullError::NotFound) => Err(ApiError::NotFound.into()),
            Err(PullError::Catalog(e)) => Err(e.into()),
        }
    }
}
