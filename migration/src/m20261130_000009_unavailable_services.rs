use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Which upstream services a tenant's cloud lacks (`["compute"]`, `["volume"]`): its sync goes
/// on without them and says so on the tenant and the run. And the volume a boot-from-volume
/// server was attributed through.
#[derive(DeriveIden)]
enum Tenants {
    Table,
    UnavailableServices,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    UnavailableServices,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    BootVolumeId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let empty = || Expr::cust("'[]'");
        // One column per statement: SQLite alters one thing at a time.
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(json(Tenants::UnavailableServices).default(empty()))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SyncRuns::Table)
                .add_column(json(SyncRuns::UnavailableServices).default(empty()))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Instances::Table)
                .add_column(string_null(Instances::BootVolumeId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::UnavailableServices)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SyncRuns::Table)
                .drop_column(SyncRuns::UnavailableServices)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Instances::Table)
                .drop_column(Instances::BootVolumeId)
                .to_owned(),
        )
        .await
    }
}
