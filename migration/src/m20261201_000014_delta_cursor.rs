use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Where a cloud's next delta poll starts: the newest image and server change its last
/// listing showed, in the cloud's own clock (`{"images": …, "servers": …}`); null until a
/// whole-cloud listing has been applied.
#[derive(DeriveIden)]
enum ServiceSettings {
    Table,
    DeltaCursor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ServiceSettings::Table)
                .add_column(json_null(ServiceSettings::DeltaCursor))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ServiceSettings::Table)
                .drop_column(ServiceSettings::DeltaCursor)
                .to_owned(),
        )
        .await
    }
}
