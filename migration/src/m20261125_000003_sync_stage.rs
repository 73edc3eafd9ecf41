use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Image rows a running sync has listed but not applied yet: new or changed records and new
/// links, moved here in batches so a sync's memory does not grow with the catalog. Invisible
/// to the API; applied (and emptied) in the sync's final transaction.
#[derive(DeriveIden)]
enum SyncStage {
    Table,
    TenantId,
    BackendId,
    Link,
    Upsert,
    Uuid,
    Name,
    MinDisk,
    MinRam,
    Status,
    Visibility,
    Size,
    Checksum,
    DiskFormat,
    ContainerFormat,
    BackendCreatedAt,
    BackendUpdatedAt,
    HwRescueDevice,
    HwRescueBus,
    Properties,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SyncStage::Table)
                .col(integer(SyncStage::TenantId))
                .col(string(SyncStage::BackendId))
                .col(boolean(SyncStage::Link))
                .col(boolean(SyncStage::Upsert))
                .col(uuid_null(SyncStage::Uuid))
                .col(string_null(SyncStage::Name))
                .col(big_integer_null(SyncStage::MinDisk))
                .col(big_integer_null(SyncStage::MinRam))
                .col(string_null(SyncStage::Status))
                .col(string_null(SyncStage::Visibility))
                .col(big_integer_null(SyncStage::Size))
                .col(string_null(SyncStage::Checksum))
                .col(string_null(SyncStage::DiskFormat))
                .col(string_null(SyncStage::ContainerFormat))
                .col(timestamp_with_time_zone_null(SyncStage::BackendCreatedAt))
                .col(timestamp_with_time_zone_null(SyncStage::BackendUpdatedAt))
                .col(string_null(SyncStage::HwRescueDevice))
                .col(string_null(SyncStage::HwRescueBus))
                .col(json_null(SyncStage::Properties))
                .primary_key(
                    Index::create()
                        .col(SyncStage::TenantId)
                        .col(SyncStage::BackendId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sync_stage_tenant")
                        .from(SyncStage::Table, SyncStage::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SyncStage::Table).to_owned())
            .await
    }
}
