use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Why a sync failed, as a stable name (`authentication`, `endpoint_missing`, …) beside the
/// human sentence in `error_message`: on each run, and on the tenant while it is ERRED. Null
/// for runs and tenants from before, as for successes.
#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    ErrorKind,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    ErrorKind,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(SyncRuns::Table)
                .add_column(string_null(SyncRuns::ErrorKind))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(string_null(Tenants::ErrorKind))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::ErrorKind)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SyncRuns::Table)
                .drop_column(SyncRuns::ErrorKind)
                .to_owned(),
        )
        .await
    }
}
