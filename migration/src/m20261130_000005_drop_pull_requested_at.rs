use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `tenants.pull_requested_at` was written by `pull/` and never read: a pull starts a sync at
/// once (the sync engine is always there), so the column goes.
#[derive(DeriveIden)]
enum Tenants {
    Table,
    PullRequestedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::PullRequestedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(timestamp_with_time_zone_null(Tenants::PullRequestedAt))
                .to_owned(),
        )
        .await
    }
}
