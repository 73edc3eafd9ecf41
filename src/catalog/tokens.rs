//! API tokens: random secrets shown once, stored as sha256, optionally scoped to tenants.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{api_token_tenants, api_tokens, tenants};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Catalog, CatalogError, CatalogResult, Scope, TenantId, TokenId, now};

/// 160 bits of randomness, as 40 hex digits like Django REST framework's tokens.
const TOKEN_BYTES: usize = 20;
/// `last_used_at` is refreshed at most this often, so reads do not turn into writes.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn generate_secret() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A token as stored (only the hash of its secret).
pub type ApiToken = api_tokens::Model;

/// How long a verified token is believed without asking the database. A revocation in this
/// process clears the cache at once; one in another process (a replica, the command line)
/// takes effect within this time.
const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Entries the cache holds before it starts over (it only ever holds valid tokens).
const TOKEN_CACHE_SIZE: usize = 10_000;

/// Tokens verified in the last `TOKEN_CACHE_TTL`, by the hash of their secret: most requests
/// then make no token query.
#[derive(Default)]
pub(super) struct TokenCache(std::sync::Mutex<HashMap<String, Verified>>);

#[derive(Clone)]
struct Verified {
    principal: Principal,
    expires_at: Option<DateTime<Utc>>,
    at: std::time::Instant,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Verified> {
        let entries = self.0.lock().ok()?;
        entries
            .get(hash)
            .filter(|v| v.at.elapsed() < TOKEN_CACHE_TTL)
            .cloned()
    }

    fn put(&self, hash: String, verified: Verified) {
        if let Ok(mut entries) = self.0.lock() {
            if entries.len() >= TOKEN_CACHE_SIZE {
                entries.clear();
            }
            entries.insert(hash, verified);
        }
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.0.lock() {
            entries.clear();
        }
    }
}

/// Who is calling, once a token has been checked.
#[derive(Clone, Debug)]
pub struct Principal {
    pub token_id: TokenId,
    pub is_staff: bool,
    pub tenant_ids: Vec<TenantId>,
}

impl Principal {
    pub fn scope(&self) -> Scope {
        if self.is_staff {
            Scope::All
        } else {
            Scope::Tenants(self.tenant_ids.clone())
        }
    }
}

/// What a presented secret turned out to be.
#[derive(Clone, Debug)]
pub enum Authenticated {
    Valid(Principal),
    Unknown,
    Expired,
}

#[derive(Clone, Debug)]
pub struct TokenView {
    pub token: ApiToken,
    pub tenant_uuids: Vec<Uuid>,
}

/// A token to create: staff, or scoped to at least one tenant.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub is_staff: bool,
    pub tenants: Vec<TenantId>,
    pub expires_in_days: Option<i64>,
}

/// A token lives from one day to a hundred years (or forever).
pub const EXPIRY_DAYS: std::ops::RangeInclusive<i64> = 1..=36_500;

/// How a token to revoke is named.
#[derive(Clone, Debug)]
pub enum TokenRef {
    Uuid(Uuid),
    /// Its name, else its uuid, else its numeric id (the command line's choice).
    Key(String),
}

pub struct Tokens<'a>(pub(super) &'a Catalog);

impl Tokens<'_> {
    /// Creates a token and returns it with its secret, which is not stored.
    pub async fn create(&self, new: NewToken) -> CatalogResult<(TokenView, String)> {
        let db = self.0.writer();
        if new.name.trim().is_empty() {
            return Err(CatalogError::Invalid("a token needs a name".into()));
        }
        if new.is_staff != new.tenants.is_empty() {
            return Err(CatalogError::Invalid(
                "a token is either staff or scoped to tenants".into(),
            ));
        }
        if let Some(days) = new.expires_in_days
            && !EXPIRY_DAYS.contains(&days)
        {
            return Err(CatalogError::Invalid(
                "a token expires after 1 to 36500 days".into(),
            ));
        }
        let exists = api_tokens::Entity::find()
            .filter(api_tokens::Column::Name.eq(new.name.as_str()))
            .one(db)
            .await?;
        if exists.is_some() {
            return Err(CatalogError::Conflict(
                "a token with this name already exists".into(),
            ));
        }
        let secret = generate_secret();
        let created = now();
        let txn = super::db::begin_write(db).await?;
        let token = api_tokens::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            name: Set(new.name),
            token_hash: Set(hash(&secret)),
            is_staff: Set(new.is_staff),
            created: Set(created),
            expires_at: Set(new.expires_in_days.map(|d| created + Duration::days(d))),
            last_used_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let mut tenant_ids = new.tenants;
        tenant_ids.sort_unstable();
        tenant_ids.dedup();
        for tenant_id in tenant_ids {
            api_token_tenants::ActiveModel {
                token_id: Set(token.id),
                tenant_id: Set(tenant_id),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        let view = self
            .views(vec![token])
            .await?
            .pop()
            .ok_or(CatalogError::NotFound)?;
        Ok((view, secret))
    }

    /// Every token, by name.
    pub async fn list(&self) -> CatalogResult<Vec<TokenView>> {
        let tokens = api_tokens::Entity::find()
            .order_by_asc(api_tokens::Column::Name)
            .all(self.0.db())
            .await?;
        self.views(tokens).await
    }

    /// The tokens with the uuids of the tenants they are scoped to.
    async fn views(&self, tokens: Vec<ApiToken>) -> CatalogResult<Vec<TokenView>> {
        let db = self.0.db();
        let tenant_uuids: HashMap<TenantId, Uuid> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::Uuid)
            .into_tuple::<(TenantId, Uuid)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let links: Vec<(TokenId, Uuid)> = api_token_tenants::Entity::find()
            .select_only()
            .column(api_token_tenants::Column::TokenId)
            .column(api_token_tenants::Column::TenantId)
            .filter(api_token_tenants::Column::TokenId.is_in(tokens.iter().map(|t| t.id)))
            .into_tuple::<(TokenId, TenantId)>()
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(token, tenant)| tenant_uuids.get(&tenant).map(|u| (token, *u)))
            .collect();
        Ok(tokens
            .into_iter()
            .map(|token| {
                let mut tenant_uuids: Vec<Uuid> = links
                    .iter()
                    .filter(|(id, _)| *id == token.id)
                    .map(|(_, u)| *u)
                    .collect();
                tenant_uuids.sort();
                TokenView {
                    token,
                    tenant_uuids,
                }
            })
            .collect())
    }

    /// Deletes a token and returns it.
    pub async fn revoke(&self, which: &TokenRef) -> CatalogResult<ApiToken> {
        let db = self.0.writer();
        let by = |c: api_tokens::Column, v: sea_orm::Value| c.eq(v);
        let condition = match which {
            TokenRef::Uuid(uuid) => by(api_tokens::Column::Uuid, (*uuid).into()),
            TokenRef::Key(key) => {
                let key = key.trim();
                let mut any = by(api_tokens::Column::Name, key.into());
                if let Some(uuid) = super::parse_uuid(key) {
                    any = any.or(api_tokens::Column::Uuid.eq(uuid));
                } else if let Ok(id) = key.parse::<i32>() {
                    any = any.or(api_tokens::Column::Id.eq(TokenId(id)));
                }
                any
            }
        };
        let token = api_tokens::Entity::find()
            .filter(condition)
            .one(db)
            .await?
            .ok_or(CatalogError::NotFound)?;
        api_tokens::Entity::delete_by_id(token.id).exec(db).await?;
        self.0.tokens.clear();
        Ok(token)
    }

    /// Checks a presented secret and says whose it is.
    pub async fn authenticate(&self, secret: &str) -> CatalogResult<Authenticated> {
        let hash = hash(secret.trim());
        if let Some(verified) = self.0.tokens.get(&hash) {
            return Ok(if verified.expires_at.is_some_and(|at| at <= now()) {
                Authenticated::Expired
            } else {
                Authenticated::Valid(verified.principal)
            });
        }
        let db = self.0.db();
        let Some(token) = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash.as_str()))
            .one(db)
            .await?
        else {
            return Ok(Authenticated::Unknown);
        };
        let now = now();
        if token.expires_at.is_some_and(|at| at <= now) {
            return Ok(Authenticated::Expired);
        }
        let tenant_ids = if token.is_staff {
            Vec::new()
        } else {
            api_token_tenants::Entity::find()
                .select_only()
                .column(api_token_tenants::Column::TenantId)
                .filter(api_token_tenants::Column::TokenId.eq(token.id))
                .into_tuple()
                .all(db)
                .await?
        };
        self.touch(&token, now);
        let principal = Principal {
            token_id: token.id,
            is_staff: token.is_staff,
            tenant_ids,
        };
        let verified = Verified {
            principal: principal.clone(),
            expires_at: token.expires_at,
            at: std::time::Instant::now(),
        };
        self.0.tokens.put(hash, verified);
        Ok(Authenticated::Valid(principal))
    }

    /// Records the use, at most once per `LAST_USED_GRANULARITY`, in the background: a
    /// request never waits for a write (on SQLite it would wait for a sync's transaction).
    fn touch(&self, token: &ApiToken, now: DateTime<Utc>) {
        if token
            .last_used_at
            .is_some_and(|at| now - at < LAST_USED_GRANULARITY)
        {
            return;
        }
        let (db, id) = (self.0.writer().clone(), token.id);
        tokio::spawn(async move {
            let update = api_tokens::Entity::update_many()
                .col_expr(
                    api_tokens::Column::LastUsedAt,
                    sea_orm::sea_query::Expr::val(now),
                )
                .filter(api_tokens::Column::Id.eq(id))
                .exec(&db)
                .await;
            if let Err(e) = update {
                tracing::debug!(error = %e, "recording a token's last use failed");
            }
        });
    }
}
