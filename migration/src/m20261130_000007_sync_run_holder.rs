use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Which process ran a sync run: a run still `running` whose tenant's lease that process no
/// longer holds was left by a process that died, and is closed as `interrupted`.
#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Holder,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(SyncRuns::Table)
                .add_column(string_null(SyncRuns::Holder))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(SyncRuns::Table)
                .drop_column(SyncRuns::Holder)
                .to_owned(),
        )
        .await
    }
}
