use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A digest of the view a tenant's last sync from a whole-cloud listing applied, kept while
/// nothing else has written what that view covers: a later sweep whose view has the same
/// digest skips comparing it with the catalog. Null: compare.
#[derive(DeriveIden)]
enum Tenants {
    Table,
    ViewFingerprint,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(string_null(Tenants::ViewFingerprint))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::ViewFingerprint)
                .to_owned(),
        )
        .await
    }
}
