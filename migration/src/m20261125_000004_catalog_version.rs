use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A per-cloud counter that every write to a cloud's images or links raises, so the API's
/// in-memory listing index can tell with one small query whether it is current.
#[derive(DeriveIden)]
enum ServiceSettings {
    Table,
    CatalogVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ServiceSettings::Table)
                .add_column(big_integer(ServiceSettings::CatalogVersion).default(0))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ServiceSettings::Table)
                .drop_column(ServiceSettings::CatalogVersion)
                .to_owned(),
        )
        .await
    }
}
