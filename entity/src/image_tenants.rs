use sea_orm::entity::prelude::*;

use crate::types::{ImageId, TenantId};

/// Which tenants see which image.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "image_tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub image_id: ImageId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
