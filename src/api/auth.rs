//! Access as types: [`Caller`] is any authenticated token, [`Staff`] a staff token. Both are
//! poem-openapi extractors declared in the spec as the `Token` security scheme
//! (`Authorization: Token <key>`; the `x-auth-token` query parameter works too).
use std::sync::Arc;

use poem::Request;
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::AppState;
use super::errors::{ApiError, ErrorResponse};
use crate::catalog::Scope;
use crate::catalog::tokens::{Authenticated, Principal};

pub const SCHEME_NAME: &str = "Token";

/// The authenticated caller of an endpoint.
pub struct Caller(pub Principal);

impl Caller {
    /// What the caller may see.
    pub fn scope(&self) -> Scope {
        self.0.scope()
    }
}

/// A caller with a staff token: management writes and token administration. Anyone else
/// gets 403 (401 without a valid token).
pub struct Staff(pub Principal);

/// The presented key: `Authorization: Token <key>` (keyword in any case) or `?x-auth-token=`.
fn presented_key(req: &Request) -> Result<Option<String>, ApiError> {
    if let Some(header) = req.headers().get(poem::http::header::AUTHORIZATION) {
        let value = header.to_str().map_err(|_| ApiError::InvalidToken)?;
        let mut parts = value.split_whitespace();
        return match (parts.next(), parts.next(), parts.next()) {
            (Some(kw), Some(key), None) if kw.eq_ignore_ascii_case("token") => {
                Ok(Some(key.to_string()))
            }
            // Another scheme (Basic, Bearer…) is not ours: treat as not provided, as DRF does.
            (Some(kw), _, _) if !kw.eq_ignore_ascii_case("token") => Ok(None),
            _ => Err(ApiError::InvalidToken),
        };
    }
    Ok(req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "x-auth-token")
            .map(|(_, v)| v.into_owned())
    }))
}

async fn authenticate(req: &Request) -> Result<Principal, ApiError> {
    let Some(state) = req.data::<Arc<AppState>>() else {
        return Err(ApiError::NotAuthenticated);
    };
    let key = presented_key(req)?.ok_or(ApiError::NotAuthenticated)?;
    principal_of(state, &key).await
}

/// The principal whose token `key` is (the Glance face takes it from `X-Auth-Token`).
pub async fn principal_of(state: &AppState, key: &str) -> Result<Principal, ApiError> {
    match state.catalog.tokens().authenticate(key).await? {
        Authenticated::Valid(principal) => Ok(principal),
        Authenticated::Unknown => Err(ApiError::InvalidToken),
        Authenticated::Expired => Err(ApiError::TokenExpired),
    }
}

fn register_scheme(registry: &mut Registry) {
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

fn rejected(e: ApiError) -> poem::Error {
    poem::Error::from(ErrorResponse::from(e))
}

/// An `ApiExtractor` declared as the `Token` scheme that admits a principal by `$admit`.
macro_rules! token_extractor {
    ($ty:ident, $admit:expr) => {
        impl<'a> ApiExtractor<'a> for $ty {
            const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
            type ParamType = ();
            type ParamRawType = ();

            fn register(registry: &mut Registry) {
                register_scheme(registry);
            }

            fn security_schemes() -> Vec<&'static str> {
                vec![SCHEME_NAME]
            }

            async fn from_request(
                req: &'a Request,
                _body: &mut poem::RequestBody,
                _param_opts: ExtractParamOptions<Self::ParamType>,
            ) -> poem::Result<Self> {
                let admit: fn(Principal) -> Result<$ty, ApiError> = $admit;
                authenticate(req).await.and_then(admit).map_err(rejected)
            }
        }
    };
}

token_extractor!(Caller, |principal| Ok(Caller(principal)));
token_extractor!(Staff, |principal| if principal.is_staff {
    Ok(Staff(principal))
} else {
    Err(ApiError::Forbidden)
});
