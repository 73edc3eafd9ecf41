use sea_orm::entity::prelude::*;

use crate::types::{ImageId, MemberStatus, TenantId};

/// Which tenants see which image, and, when the tenant sees it as a member of another
/// project's shared image, its membership's status.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "image_tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub image_id: ImageId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// `None` when the link is no membership (the tenant's own image, a public or community
    /// one), or was stored before statuses were kept (read as accepted until the next sync).
    pub member_status: Option<MemberStatus>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
