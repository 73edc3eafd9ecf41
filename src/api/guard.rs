//! What every request must satisfy before a handler sees it: a bounded request target, header
//! block and body, and no NUL character in the query or in a JSON body's strings (PostgreSQL
//! text cannot hold one, and no name, URL or secret needs one). Errors are the API's usual
//! JSON: 414, 431 and 413 `{"detail"}`, 400 `{field: [message]}` naming the parameter or the
//! body field. (Requests beyond even the HTTP parser's own limits are answered by
//! `server::parse_errors`, in the same shape.)
use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};
use serde_json::Value;

use super::errors::{ApiError, BeforeHandler, Detail, ErrorResponse};

/// DRF's message for the same rule.
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// Request size limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// Longest request target (path and query) accepted, in bytes: nginx's default, far beyond
/// any query a client of this API needs.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Largest header block accepted (names and values), in bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// 414 or 431 when the request target or the header block is over its limit.
fn head_too_large(req: &Request) -> Option<Response> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(
            BeforeHandler::UriTooLong(Detail::json(format!(
                "The request target is longer than {MAX_URI_BYTES} bytes."
            )))
            .into_response(),
        );
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > MAX_HEADER_BYTES {
        return Some(
            BeforeHandler::HeadersTooLarge(Detail::json(format!(
                "The request's header fields are larger than {MAX_HEADER_BYTES} bytes."
            )))
            .into_response(),
        );
    }
    None
}

/// Checks the request (see the module's comment), then hands it on.
pub async fn guard<E: Endpoint>(
    next: E,
    mut req: Request,
    limits: Limits,
) -> poem::Result<Response> {
    if let Some(refused) = head_too_large(&req) {
        return Ok(refused);
    }
    // The Glance face answers for itself in Glance's shapes; it refuses every body unread
    // and reads its query in memory only.
    if req.uri().path().starts_with(super::glance::FACE) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    if let Some(field) = req.uri().query().and_then(query_field_with_nul) {
        return Ok(ErrorResponse::from(ApiError::field(&field, NULL_CHARACTERS)).into_response());
    }
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        let too_large = || {
            BeforeHandler::PayloadTooLarge(Detail::json(format!(
                "The request body is larger than {} bytes.",
                limits.max_body_bytes
            )))
            .into_response()
        };
        let declared = req
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limits.max_body_bytes) {
            return Ok(too_large());
        }
        let body = match req
            .take_body()
            .into_bytes_limit(limits.max_body_bytes)
            .await
        {
            Ok(body) => body,
            Err(poem::error::ReadBodyError::PayloadTooLarge) => return Ok(too_large()),
            Err(e) => return Err(e.into()),
        };
        // Only JSON the handler could read is looked into; the rest is the handler's to refuse.
        if let Ok(value) = serde_json::from_slice::<Value>(&body)
            && let Some(field) = json_field_with_nul(&value, "")
        {
            return Ok(
                ErrorResponse::from(ApiError::field(&field, NULL_CHARACTERS)).into_response(),
            );
        }
        req.set_body(body);
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// The first query parameter whose name or value holds a NUL character.
fn query_field_with_nul(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', ""))
}

/// The path (`field`, `field.inner`, `list.0`) of the first string in `value` that holds a
/// NUL character, in a key or a value.
fn json_field_with_nul(value: &Value, at: &str) -> Option<String> {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(if at.is_empty() {
            "non_field_errors".to_string()
        } else {
            at.to_string()
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "")))
            } else {
                json_field_with_nul(v, &join(k))
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| json_field_with_nul(v, &join(&i.to_string()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_found_where_it_is() {
        assert_eq!(
            query_field_with_nul("name=a%00b&x=1").as_deref(),
            Some("name")
        );
        assert_eq!(query_field_with_nul("name=ab&x=1"), None);
        assert_eq!(
            json_field_with_nul(&json!({"name": "ok", "options": {"region": "a\u{0}"}}), "")
                .as_deref(),
            Some("options.region")
        );
        assert_eq!(
            json_field_with_nul(&json!({"tenants": ["a", "b\u{0}"]}), "").as_deref(),
            Some("tenants.1")
        );
        assert_eq!(json_field_with_nul(&json!({"name": "fine"}), ""), None);
    }
}
