use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The status of a tenant's membership of another project's shared image (`accepted`,
/// `pending`, `rejected`) on its link, so the Glance-compatible API lists shared images as
/// Glance does (accepted ones by default). NULL for a link that is no membership; links
/// stored before this migration stay NULL, read as accepted, until the tenant's next sync.
/// The staging table carries the status of the links a sync stages.
#[derive(DeriveIden)]
enum ImageTenants {
    Table,
    MemberStatus,
}

#[derive(DeriveIden)]
enum SyncStage {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ImageTenants::Table.into_iden(),
            SyncStage::Table.into_iden(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(table)
                    .add_column(string_null(ImageTenants::MemberStatus))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ImageTenants::Table.into_iden(),
            SyncStage::Table.into_iden(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(table)
                    .drop_column(ImageTenants::MemberStatus)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
