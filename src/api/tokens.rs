//! `/api/tokens/`: create (the secret is shown once), list, revoke. Staff only.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::auth::Caller;
use super::errors::ErrorResponse;
use super::query::uuid_from_url;
use super::settings::Deleted;
use super::{ApiTags, AppState};
use crate::catalog::tokens::{self, NewToken, TokenView};
use crate::catalog::{hex, parse_uuid};
use crate::error::{AppError, Validator};

pub struct TokensApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
#[oai(rename = "ApiToken")]
pub struct ApiToken {
    pub uuid: String,
    pub name: String,
    pub is_staff: bool,
    /// Uuids of the tenants a scoped token sees.
    pub tenants: Vec<String>,
    pub created: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The secret: present only in the response that created the token.
    #[oai(skip_serializing_if_is_none)]
    pub token: Option<String>,
}

#[derive(Object, Default)]
#[oai(rename = "ApiTokenRequest")]
pub struct ApiTokenRequest {
    pub name: Option<String>,
    pub is_staff: Option<bool>,
    /// Tenant uuids or URLs.
    pub tenants: Option<Vec<String>>,
    pub expires_in_days: Option<i64>,
}

#[derive(ApiResponse)]
pub enum TokenCreated {
    #[oai(status = 201)]
    Created(Json<ApiToken>),
}

#[derive(ApiResponse)]
pub enum TokenList {
    #[oai(status = 200)]
    Ok(Json<Vec<ApiToken>>),
}

fn shape(view: TokenView, secret: Option<String>) -> ApiToken {
    ApiToken {
        uuid: hex(&view.token.uuid),
        name: view.token.name,
        is_staff: view.token.is_staff,
        tenants: view.tenant_uuids.iter().map(hex).collect(),
        created: view.token.created,
        expires_at: view.token.expires_at,
        last_used_at: view.token.last_used_at,
        token: secret,
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Tokens")]
impl TokensApi {
    #[oai(path = "/tokens/", method = "get", operation_id = "tokens_list")]
    async fn list(&self, caller: Caller) -> Result<TokenList, ErrorResponse> {
        caller.require_staff()?;
        let items = tokens::list(&self.state.db).await?;
        Ok(TokenList::Ok(Json(
            items.into_iter().map(|t| shape(t, None)).collect(),
        )))
    }

    /// Create a token. The response carries the secret; it cannot be shown again.
    #[oai(path = "/tokens/", method = "post", operation_id = "tokens_create")]
    async fn create(
        &self,
        caller: Caller,
        body: Json<ApiTokenRequest>,
    ) -> Result<TokenCreated, ErrorResponse> {
        caller.require_staff()?;
        let body = body.0;
        let mut v = Validator::default();
        let name = v.require("name", &body.name).cloned().unwrap_or_default();
        let tenants = body
            .tenants
            .unwrap_or_default()
            .iter()
            .filter_map(|raw| {
                let parsed = uuid_from_url(raw);
                if parsed.is_none() {
                    v.add("tenants", format!("“{raw}” is not a tenant uuid or URL."));
                }
                parsed
            })
            .collect();
        v.finish()?;
        let (view, secret) = tokens::create(
            &self.state.db,
            NewToken {
                name,
                is_staff: body.is_staff.unwrap_or(false),
                tenants,
                expires_in_days: body.expires_in_days,
            },
        )
        .await?;
        Ok(TokenCreated::Created(Json(shape(view, Some(secret)))))
    }

    #[oai(
        path = "/tokens/:uuid/",
        method = "delete",
        operation_id = "tokens_destroy"
    )]
    async fn destroy(&self, caller: Caller, uuid: Path<String>) -> Result<Deleted, ErrorResponse> {
        caller.require_staff()?;
        let uuid = parse_uuid(&uuid.0).ok_or(AppError::NotFound)?;
        tokens::revoke(&self.state.db, &hex(&uuid)).await?;
        Ok(Deleted::NoContent)
    }
}
