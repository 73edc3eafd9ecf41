use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Where a delta poll of a tenant synced through its own login starts: the newest image and
/// server change its last listing showed, in the cloud's own clock (`{"images": …,
/// "servers": …}`); null until such a listing has been applied.
#[derive(DeriveIden)]
enum Tenants {
    Table,
    DeltaCursor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(json_null(Tenants::DeltaCursor))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::DeltaCursor)
                .to_owned(),
        )
        .await
    }
}
