use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    ImageQuotaUsage,
    Stores,
    ImportMethods,
    SyncLeaseHolder,
    SyncLeaseExpiresAt,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
    Uuid,
    TenantId,
    StartedAt,
    FinishedAt,
    Outcome,
    ImagesSeen,
    ImagesAdded,
    ImagesUpdated,
    ImagesRemoved,
    InstancesSeen,
    ErrorMessage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite cannot add several in one ALTER TABLE.
        for col in [
            json_null(Tenants::ImageQuotaUsage),
            json_null(Tenants::Stores),
            json_null(Tenants::ImportMethods),
            string_null(Tenants::SyncLeaseHolder),
            timestamp_with_time_zone_null(Tenants::SyncLeaseExpiresAt),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(SyncRuns::Table)
                .col(big_pk_auto(SyncRuns::Id))
                .col(uuid_uniq(SyncRuns::Uuid))
                .col(integer(SyncRuns::TenantId))
                .col(timestamp_with_time_zone(SyncRuns::StartedAt))
                .col(timestamp_with_time_zone_null(SyncRuns::FinishedAt))
                .col(string(SyncRuns::Outcome))
                .col(big_integer(SyncRuns::ImagesSeen))
                .col(big_integer(SyncRuns::ImagesAdded))
                .col(big_integer(SyncRuns::ImagesUpdated))
                .col(big_integer(SyncRuns::ImagesRemoved))
                .col(big_integer(SyncRuns::InstancesSeen))
                .col(text(SyncRuns::ErrorMessage))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sync_runs_tenant")
                        .from(SyncRuns::Table, SyncRuns::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_sync_runs_tenant_started")
                .table(SyncRuns::Table)
                .col(SyncRuns::TenantId)
                .col(SyncRuns::StartedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SyncRuns::Table).to_owned())
            .await?;
        for col in [
            Tenants::ImageQuotaUsage,
            Tenants::Stores,
            Tenants::ImportMethods,
            Tenants::SyncLeaseHolder,
            Tenants::SyncLeaseExpiresAt,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
