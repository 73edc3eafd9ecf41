use sea_orm::entity::prelude::*;

use crate::types::{CloudId, TenantId};

/// A Nova server. Rows stay after the server disappears (`deleted_at` is set) so that
/// "created instances" counts keep their history.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instances")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    /// The cloud (Waldur's "service settings", hence the column name).
    #[sea_orm(column_name = "settings_id")]
    pub cloud_id: CloudId,
    pub tenant_id: TenantId,
    pub backend_id: String,
    pub name: String,
    pub image_backend_id: Option<String>,
    pub image_name: String,
    pub status: String,
    pub backend_created_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
