use sea_orm::entity::prelude::*;

use crate::types::{TenantId, TokenId};

/// The tenants a scoped token may see. A staff token has no rows here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_token_tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_id: TokenId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
