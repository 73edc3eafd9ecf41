use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// An instance's life as the syncs saw it: one row per stretch of time in one status at one
/// flavor size, the last one open (`ended_at` null) while the instance lives. Usage reports
/// sum these; rows are only ever added, and closed once.
#[derive(DeriveIden)]
enum InstanceIntervals {
    Table,
    Id,
    InstanceId,
    TenantId,
    Status,
    StartedAt,
    EndedAt,
    Vcpus,
    RamMib,
    DiskGib,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(InstanceIntervals::Table)
                .col(big_pk_auto(InstanceIntervals::Id))
                .col(big_integer(InstanceIntervals::InstanceId))
                .col(integer(InstanceIntervals::TenantId))
                .col(string(InstanceIntervals::Status))
                .col(timestamp_with_time_zone(InstanceIntervals::StartedAt))
                .col(timestamp_with_time_zone_null(InstanceIntervals::EndedAt))
                .col(integer_null(InstanceIntervals::Vcpus))
                .col(big_integer_null(InstanceIntervals::RamMib))
                .col(big_integer_null(InstanceIntervals::DiskGib))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_instance_intervals_instance")
                        .from(InstanceIntervals::Table, InstanceIntervals::InstanceId)
                        .to(Instances::Table, Instances::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // Closing an instance's open interval, and its history in order.
        m.create_index(
            Index::create()
                .name("ix_instance_intervals_instance")
                .table(InstanceIntervals::Table)
                .col(InstanceIntervals::InstanceId)
                .col(InstanceIntervals::StartedAt)
                .to_owned(),
        )
        .await?;
        // Reports: a tenant's intervals that overlap a window.
        m.create_index(
            Index::create()
                .name("ix_instance_intervals_tenant_started")
                .table(InstanceIntervals::Table)
                .col(InstanceIntervals::TenantId)
                .col(InstanceIntervals::StartedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(InstanceIntervals::Table).to_owned())
            .await
    }
}
