use sea_orm::entity::prelude::*;

use crate::server_status::ServerStatus;
use crate::types::{CloudId, TenantId};

/// A stretch of an instance's life in one status at one flavor size; open (`ended_at` null)
/// while it lasts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instance_intervals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub instance_id: i64,
    pub tenant_id: TenantId,
    pub status: ServerStatus,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub vcpus: Option<i32>,
    pub ram_mib: Option<i64>,
    pub disk_gib: Option<i64>,
    /// The instance's cloud.
    pub cloud_id: CloudId,
    /// The cloud's `usage_version` the write that last changed the row made.
    pub usage_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
