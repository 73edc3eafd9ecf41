use sea_orm::entity::prelude::*;

use crate::types::{CloudId, TenantId};

/// A marketplace offering whose scope is exactly one of a cloud or a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offerings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    pub name: String,
    /// The cloud (Waldur's "service settings", hence the column name).
    #[sea_orm(column_name = "settings_id")]
    pub cloud_id: Option<CloudId>,
    pub tenant_id: Option<TenantId>,
    pub created: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
