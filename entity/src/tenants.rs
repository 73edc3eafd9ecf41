use sea_orm::entity::prelude::*;

use crate::types::{CloudId, ErrorKind, State, TenantId};

/// An OpenStack project within one cloud.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: TenantId,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    pub name: String,
    pub backend_id: String,
    /// The cloud (Waldur's "service settings", hence the column name).
    #[sea_orm(column_name = "settings_id")]
    pub cloud_id: CloudId,
    /// Sealed tenant-specific credentials; when absent the cloud's are scoped to this project.
    pub credentials: Option<String>,
    pub state: State,
    pub error_message: String,
    /// Why the last sync failed, while the tenant is ERRED.
    pub error_kind: Option<ErrorKind>,
    pub created: DateTimeUtc,
    pub modified: DateTimeUtc,
    pub last_sync_at: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    /// Glance `/v2/info/usage`, `/stores`, `/import` as last seen; null where unsupported.
    pub image_quota_usage: Option<Json>,
    pub stores: Option<Json>,
    pub import_methods: Option<Json>,
    /// Upstream services the cloud lacked at the last sync (`["compute"]`, `["volume"]`).
    pub unavailable_services: Json,
    /// Which replica is syncing this tenant, and until when its claim holds.
    pub sync_lease_holder: Option<String>,
    pub sync_lease_expires_at: Option<DateTimeUtc>,
    /// Why tenant discovery retired it ("project disabled", "project deleted"); `None` while
    /// its project is there.
    pub retired: Option<String>,
    /// Digest of the whole-cloud view its last sync applied, while nothing else has written
    /// what that view covers; a sweep with the same view skips the compare. `None`: compare.
    pub view_fingerprint: Option<String>,
    /// Where a delta poll of this tenant through its own login starts (its cloud synced per
    /// tenant): the newest changes its last listing showed, in the cloud's clock.
    pub delta_cursor: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::service_settings::Entity",
        from = "Column::CloudId",
        to = "super::service_settings::Column::Id",
        on_delete = "Cascade"
    )]
    ServiceSettings,
}

impl Related<super::service_settings::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ServiceSettings.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
