use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Why tenant discovery retired a tenant ("project disabled", "project deleted"); null for a
/// live one. A retired tenant keeps its row and usage history, sees no images and is not
/// swept, until its project is back.
#[derive(DeriveIden)]
enum Tenants {
    Table,
    Retired,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(string_null(Tenants::Retired))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::Retired)
                .to_owned(),
        )
        .await
    }
}
