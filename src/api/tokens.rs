//! `/api/tokens/`: create (the secret is shown once), list, revoke (staff only); and
//! `/api/users/me/`: what the calling token may do (any token).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::Created;
use super::auth::{Caller, Staff};
use super::clouds::Deleted;
use super::errors::{ApiError, ErrorResponse};
use super::params::Path;
use super::query::uuid_from_url;
use super::validate::{BLANK, NAME_MAX, TEXT_MAX, Validator};
use super::{ApiTags, AppState};
use crate::catalog::tokens::{EXPIRY_DAYS, NewToken, TokenRef, TokenView};
use crate::catalog::{CatalogError, hex};

pub struct TokensApi;

/// The calling token's rights: what a client shows or hides without trying and failing.
#[derive(Object)]
#[oai(rename = "CurrentUser")]
pub struct CurrentUser {
    /// Staff see everything and manage; others see their tenants only and may not write.
    pub is_staff: bool,
    /// How many tenants a scoped token sees (0 for staff: they see all).
    pub tenants_count: u64,
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
    #[oai(nullable)]
    pub expires_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The secret: present only in the response that created the token.
    #[oai(skip_serializing_if_is_none)]
    pub token: Option<String>,
}

#[derive(Object, Default)]
#[oai(rename = "ApiTokenRequest")]
pub struct ApiTokenRequest {
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub is_staff: Option<bool>,
    /// Tenant uuids or URLs.
    #[oai(nullable)]
    pub tenants: Option<Vec<String>>,
    #[oai(nullable)]
    pub expires_in_days: Option<i64>,
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

impl ApiTokenRequest {
    /// Checks every field (scoped tenants must exist) and reports all errors at once.
    async fn check(self, state: &AppState) -> Result<NewToken, ApiError> {
        let mut v = Validator::default();
        v.at_most("name", self.name.as_deref(), NAME_MAX);
        for raw in self.tenants.iter().flatten() {
            v.at_most("tenants", Some(raw), TEXT_MAX);
        }
        v.finish()?;
        let mut v = Validator::default();
        let name = v.require("name", &self.name).cloned().unwrap_or_default();
        let uuids: Vec<uuid::Uuid> = self
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
        let mut v = Validator::default();
        let name = name.trim().to_string();
        if name.is_empty() {
            v.add("name", BLANK);
        }
        let is_staff = self.is_staff.unwrap_or(false);
        match (is_staff, uuids.is_empty()) {
            (true, false) => v.add("tenants", "A staff token sees everything; give no tenants."),
            (false, true) => v.add(
                "tenants",
                "Give at least one tenant, or make a staff token.",
            ),
            _ => {}
        }
        if let Some(days) = self.expires_in_days
            && !EXPIRY_DAYS.contains(&days)
        {
            v.add(
                "expires_in_days",
                "Ensure this value is between 1 and 36500.",
            );
        }
        v.finish()?;
        let ids = state.catalog.tenants().ids_of(&uuids).await?;
        let mut v = Validator::default();
        for uuid in &uuids {
            if !ids.contains_key(uuid) {
                v.add("tenants", format!("Tenant {} does not exist.", hex(uuid)));
            }
        }
        v.finish()?;
        Ok(NewToken {
            name,
            is_staff,
            tenants: ids.into_values().collect(),
            expires_in_days: self.expires_in_days,
        })
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Tokens")]
impl TokensApi {
    /// What the calling token may do (any token), as Waldur's `users/me/` tells its user's.
    #[oai(
        path = "/users/me/",
        method = "get",
        operation_id = "users_me_retrieve"
    )]
    async fn me(&self, caller: Caller) -> Result<Json<CurrentUser>, ErrorResponse> {
        // A Result although nothing here fails: its error statuses document the 401 of the
        // token check.
        let p = caller.0;
        Ok(Json(CurrentUser {
            is_staff: p.is_staff,
            tenants_count: if p.is_staff {
                0
            } else {
                p.tenant_ids.len() as u64
            },
        }))
    }

    #[oai(path = "/tokens/", method = "get", operation_id = "tokens_list")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
    ) -> Result<TokenList, ErrorResponse> {
        let items = state.catalog.tokens().list().await?;
        Ok(TokenList::Ok(Json(
            items.into_iter().map(|t| shape(t, None)).collect(),
        )))
    }

    /// Create a token. The response carries the secret; it cannot be shown again.
    #[oai(path = "/tokens/", method = "post", operation_id = "tokens_create")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        body: Json<ApiTokenRequest>,
    ) -> Result<Created<ApiToken>, ErrorResponse> {
        let new = body.0.check(&state).await?;
        let (view, secret) = match state.catalog.tokens().create(new).await {
            Err(CatalogError::Conflict(_)) => {
                return Err(
                    ApiError::field("name", "A token with this name already exists.").into(),
                );
            }
            other => other?,
        };
        Ok(Created::Created(Json(shape(view, Some(secret)))))
    }

    #[oai(
        path = "/tokens/:uuid/",
        method = "delete",
        operation_id = "tokens_destroy"
    )]
    async fn destroy(
        &self,
        state: Data<&Arc<AppState>>,
        _staff: Staff,
        uuid: Path<Uuid>,
    ) -> Result<Deleted, ErrorResponse> {
        state
            .catalog
            .tokens()
            .revoke(&TokenRef::Uuid(uuid.0))
            .await?;
        Ok(Deleted::NoContent)
    }
}
