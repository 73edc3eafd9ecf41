//! Token authentication as a poem-openapi extractor, declared in the spec as the `Token`
//! security scheme (`Authorization: Token <key>`; the `x-auth-token` query parameter works too).
use std::sync::Arc;

use poem::Request;
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::AppState;
use super::errors::ErrorResponse;
use crate::catalog::Visibility;
use crate::catalog::tokens::{self, Principal};
use crate::error::AppError;

pub const SCHEME_NAME: &str = "Token";

/// The authenticated caller of an endpoint.
pub struct Caller(pub Principal);

impl Caller {
    pub fn visibility(&self) -> Visibility {
        self.0.visibility()
    }

    /// Management writes (and token administration) are for staff only.
    pub fn require_staff(&self) -> Result<(), ErrorResponse> {
        if self.0.is_staff {
            Ok(())
        } else {
            Err(AppError::Forbidden.into())
        }
    }
}

/// The presented key: `Authorization: Token <key>` (keyword in any case) or `?x-auth-token=`.
fn presented_key(req: &Request) -> Result<Option<String>, AppError> {
    if let Some(header) = req.headers().get(poem::http::header::AUTHORIZATION) {
        let value = header.to_str().map_err(|_| AppError::InvalidToken)?;
        let mut parts = value.split_whitespace();
        return match (parts.next(), parts.next(), parts.next()) {
            (Some(kw), Some(key), None) if kw.eq_ignore_ascii_case("token") => {
                Ok(Some(key.to_string()))
            }
            // Another scheme (Basic, Bearer…) is not ours: treat as not provided, as DRF does.
            (Some(kw), _, _) if !kw.eq_ignore_ascii_case("token") => Ok(None),
            _ => Err(AppError::InvalidToken),
        };
    }
    Ok(req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "x-auth-token")
            .map(|(_, v)| v.into_owned())
    }))
}

impl<'a> ApiExtractor<'a> for Caller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME_NAME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "`Authorization: Token <key>`. The `x-auth-token` query parameter is also accepted.",
                ),
                name: Some("Authorization"),
                key_in: Some("header"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME_NAME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = req
            .data::<Arc<AppState>>()
            .expect("AppState is attached to every route");
        let principal = match presented_key(req) {
            Ok(Some(key)) => tokens::authenticate(&state.db, &key).await,
            Ok(None) => Err(AppError::NotAuthenticated),
            Err(e) => Err(e),
        };
        principal
            .map(Caller)
            .map_err(|e| poem::Error::from(ErrorResponse::from(e)))
    }
}
