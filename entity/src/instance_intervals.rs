use sea_orm::entity::prelude::*;

use crate::server_status::ServerStatus;
use crate::types::{CloudId, DatedBy, TenantId};

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
    /// The Glance image the instance counted for during the interval, and its name then: a
    /// rename or a rebuild starts a new interval, so closed periods keep their names.
    pub image_backend_id: Option<String>,
    pub image_name: String,
    /// How `started_at` and `ended_at` were dated; null on rows older than the record.
    pub started_by: Option<DatedBy>,
    pub ended_by: Option<DatedBy>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
