//! The one place where errors become HTTP responses. Every error body is JSON: either
//! `{"detail": "..."}` or DRF-style `{"field": ["message"]}`.
use std::collections::BTreeMap;

use poem::Response;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::error::AppError;

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

#[derive(ApiResponse, Debug)]
pub enum ErrorResponse {
    /// Invalid input: field name → messages (or `detail` for a malformed request).
    #[oai(status = 400)]
    BadRequest(Json<BTreeMap<String, Vec<String>>>),
    /// Missing, invalid or expired token.
    #[oai(status = 401)]
    Unauthorized(Json<Detail>, #[oai(header = "WWW-Authenticate")] String),
    /// The token may not do this.
    #[oai(status = 403)]
    Forbidden(Json<Detail>),
    /// No such object, or not visible to this token; or a page past the end.
    #[oai(status = 404)]
    NotFound(Json<Detail>),
    /// The request conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<Detail>),
    #[oai(status = 500)]
    Internal(Json<Detail>),
}

impl From<AppError> for ErrorResponse {
    fn from(err: AppError) -> Self {
        let unauthorized = |msg: &str| Self::Unauthorized(Detail::json(msg), AUTH_SCHEME.into());
        match err {
            AppError::Validation(fields) => Self::BadRequest(Json(fields)),
            AppError::NotAuthenticated => unauthorized(NOT_AUTHENTICATED),
            AppError::InvalidToken => unauthorized(INVALID_TOKEN),
            AppError::TokenExpired => unauthorized(TOKEN_EXPIRED),
            AppError::Forbidden => Self::Forbidden(Detail::json(FORBIDDEN)),
            AppError::NotFound => Self::NotFound(Detail::json(NOT_FOUND)),
            AppError::InvalidPage => Self::NotFound(Detail::json(INVALID_PAGE)),
            AppError::Conflict(msg) => Self::Conflict(Detail::json(msg)),
            AppError::Database(e) => {
                tracing::error!(error = %e, "database error");
                Self::Internal(Detail::json("Internal server error."))
            }
            AppError::Crypto(e) => {
                tracing::error!(error = %e, "credential error");
                Self::Internal(Detail::json("Internal server error."))
            }
        }
    }
}

fn json_response(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({ "detail": detail });
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// Reshapes errors raised by poem itself (unknown route, wrong method, unparsable body) into
/// the same JSON shape as ours; our own responses pass through untouched.
pub async fn reshape_framework_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
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
