//! API tokens: random secrets shown once, stored as sha256, optionally scoped to tenants.
use chrono::{DateTime, Duration, Utc};
use entity::{api_token_tenants, api_tokens, tenants};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Visibility, now};
use crate::error::{AppError, AppResult, Validator};

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

/// Who is calling, once a token has been checked.
#[derive(Clone, Debug)]
pub struct Principal {
    pub token_id: i32,
    pub is_staff: bool,
    pub tenant_ids: Vec<i32>,
}

impl Principal {
    pub fn visibility(&self) -> Visibility {
        if self.is_staff {
            Visibility::All
        } else {
            Visibility::Tenants(self.tenant_ids.clone())
        }
    }
}

#[derive(Clone, Debug)]
pub struct TokenView {
    pub token: api_tokens::Model,
    pub tenant_uuids: Vec<Uuid>,
}

#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub is_staff: bool,
    pub tenants: Vec<Uuid>,
    pub expires_in_days: Option<i64>,
}

pub async fn create(db: &DatabaseConnection, new: NewToken) -> AppResult<(TokenView, String)> {
    let mut v = Validator::default();
    let name = new.name.trim().to_string();
    if name.is_empty() {
        v.add("name", "This field may not be blank.");
    }
    match (new.is_staff, new.tenants.is_empty()) {
        (true, false) => v.add("tenants", "A staff token sees everything; give no tenants."),
        (false, true) => v.add(
            "tenants",
            "Give at least one tenant, or make a staff token.",
        ),
        _ => {}
    }
    if let Some(days) = new.expires_in_days
        && !(1..=36_500).contains(&days)
    {
        v.add(
            "expires_in_days",
            "Ensure this value is between 1 and 36500.",
        );
    }
    v.finish()?;
    let tenant_ids = super::tenants::ids_for(db, "tenants", &new.tenants).await?;
    if api_tokens::Entity::find()
        .filter(api_tokens::Column::Name.eq(name.as_str()))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::field(
            "name",
            "A token with this name already exists.",
        ));
    }
    let secret = generate_secret();
    let created = now();
    let txn = crate::db::begin_write(db).await?;
    let token = api_tokens::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        name: Set(name),
        token_hash: Set(hash(&secret)),
        is_staff: Set(new.is_staff),
        created: Set(created),
        expires_at: Set(new.expires_in_days.map(|d| created + Duration::days(d))),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    for tenant_id in &tenant_ids {
        api_token_tenants::ActiveModel {
            token_id: Set(token.id),
            tenant_id: Set(*tenant_id),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    let mut tenant_uuids = new.tenants;
    tenant_uuids.sort();
    tenant_uuids.dedup();
    Ok((
        TokenView {
            token,
            tenant_uuids,
        },
        secret,
    ))
}

pub async fn list(db: &DatabaseConnection) -> AppResult<Vec<TokenView>> {
    let tokens = api_tokens::Entity::find()
        .order_by_asc(api_tokens::Column::Name)
        .all(db)
        .await?;
    let tenant_uuids: std::collections::HashMap<i32, Uuid> = tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .column(tenants::Column::Uuid)
        .into_tuple::<(i32, Uuid)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let links: Vec<(i32, Uuid)> = api_token_tenants::Entity::find()
        .select_only()
        .column(api_token_tenants::Column::TokenId)
        .column(api_token_tenants::Column::TenantId)
        .into_tuple::<(i32, i32)>()
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

/// Deletes the token named `key` (its name, uuid or numeric id).
pub async fn revoke(db: &DatabaseConnection, key: &str) -> AppResult<api_tokens::Model> {
    let key = key.trim();
    let mut query = api_tokens::Entity::find().filter(api_tokens::Column::Name.eq(key));
    if let Some(uuid) = super::parse_uuid(key) {
        query = api_tokens::Entity::find().filter(
            api_tokens::Column::Name
                .eq(key)
                .or(api_tokens::Column::Uuid.eq(uuid)),
        );
    } else if let Ok(id) = key.parse::<i32>() {
        query = api_tokens::Entity::find().filter(
            api_tokens::Column::Name
                .eq(key)
                .or(api_tokens::Column::Id.eq(id)),
        );
    }
    let token = query.one(db).await?.ok_or(AppError::NotFound)?;
    api_tokens::Entity::delete_by_id(token.id).exec(db).await?;
    Ok(token)
}

/// Checks a presented secret and says who it belongs to.
pub async fn authenticate(db: &DatabaseConnection, secret: &str) -> AppResult<Principal> {
    let token = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash(secret.trim())))
        .one(db)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let now = now();
    if token.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::TokenExpired);
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
    touch(db, &token, now).await?;
    Ok(Principal {
        token_id: token.id,
        is_staff: token.is_staff,
        tenant_ids,
    })
}

async fn touch(
    db: &DatabaseConnection,
    token: &api_tokens::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if token
        .last_used_at
        .is_some_and(|at| now - at < LAST_USED_GRANULARITY)
    {
        return Ok(());
    }
    api_tokens::Entity::update_many()
        .col_expr(
            api_tokens::Column::LastUsedAt,
            sea_orm::sea_query::Expr::val(now),
        )
        .filter(api_tokens::Column::Id.eq(token.id))
        .exec(db)
        .await?;
    Ok(())
}
