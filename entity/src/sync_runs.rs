use sea_orm::entity::prelude::*;

use crate::types::{ErrorKind, RunOutcome, TenantId};

/// One sync of one tenant: when, how it ended, and what it changed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    pub tenant_id: TenantId,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub outcome: RunOutcome,
    pub images_seen: i64,
    pub images_added: i64,
    pub images_updated: i64,
    pub images_removed: i64,
    pub instances_seen: i64,
    pub error_message: String,
    /// Why the run failed, aborted or was interrupted; null for a success or a running one.
    pub error_kind: Option<ErrorKind>,
    /// The process that ran it (its lease holder id).
    pub holder: Option<String>,
    /// Upstream services the cloud lacked, which the sync went on without.
    pub unavailable_services: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
