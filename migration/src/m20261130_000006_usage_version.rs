use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A per-cloud counter that every write to a cloud's instances raises, so the listing index
/// can hold `usage_stats` counts and tell when they changed, apart from the image listing
/// (servers change far more often than images: a changed server must not reload the images).
#[derive(DeriveIden)]
enum ServiceSettings {
    Table,
    UsageVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ServiceSettings::Table)
                .add_column(big_integer(ServiceSettings::UsageVersion).default(0))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ServiceSettings::Table)
                .drop_column(ServiceSettings::UsageVersion)
                .to_owned(),
        )
        .await
    }
}
