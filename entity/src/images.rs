use sea_orm::entity::prelude::*;

use crate::types::{CloudId, ImageId, ImageVisibility};

/// A Glance image of one cloud, deduplicated across the tenants that see it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "images")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: ImageId,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    /// The cloud (Waldur's "service settings", hence the column name).
    #[sea_orm(column_name = "settings_id")]
    pub cloud_id: CloudId,
    pub backend_id: String,
    pub name: String,
    /// MiB, converted from Glance's GB.
    pub min_disk: i64,
    /// MiB, as Glance reports it.
    pub min_ram: i64,
    pub status: String,
    pub visibility: ImageVisibility,
    pub size: Option<i64>,
    pub checksum: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub backend_created_at: Option<DateTimeUtc>,
    pub backend_updated_at: Option<DateTimeUtc>,
    pub hw_rescue_device: String,
    pub hw_rescue_bus: String,
    pub properties: Json,
    /// The owning project's Glance id.
    pub owner: Option<String>,
    pub protected: bool,
    pub os_hidden: bool,
    /// A JSON array of strings.
    pub tags: Json,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub virtual_size: Option<i64>,
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
