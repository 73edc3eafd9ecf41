use sea_orm::entity::prelude::*;

use crate::server_status::ServerStatus;
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
    pub status: ServerStatus,
    pub backend_created_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
    /// The flavor's name (2.47+: `original_name`; older clouds: its id).
    pub flavor_name: String,
    /// The flavor's size; unknown (null) from clouds older than Nova 2.47.
    pub vcpus: Option<i32>,
    pub ram_mib: Option<i64>,
    pub disk_gib: Option<i64>,
    pub ephemeral_gib: Option<i64>,
    /// `OS-SRV-USG:launched_at` / `terminated_at`.
    pub launched_at: Option<DateTimeUtc>,
    pub terminated_at: Option<DateTimeUtc>,
    /// Nova's `updated`: when the server last changed upstream.
    pub upstream_updated_at: Option<DateTimeUtc>,
    /// `OS-EXT-STS:vm_state` where the cloud shows it, else empty.
    pub vm_state: String,
    /// Ids of the attached volumes, a JSON array of strings.
    pub attached_volumes: Json,
    /// The boot volume a server without an image was attributed to an image through.
    pub boot_volume_id: Option<String>,
    /// That boot volume's size (Cinder's `size`): what the server's disk is billed at.
    pub boot_volume_gib: Option<i64>,
    /// The cloud's `usage_version` the write that last changed the row made.
    pub usage_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
