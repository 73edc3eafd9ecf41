use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What Glance says of an image that the catalog did not keep before, for the image detail
/// and the Glance-compatible API: the owner, flags, tags, the multihash and the virtual size.
/// The staging table mirrors the image columns (a sync stages rows before applying them).
#[derive(DeriveIden)]
enum Images {
    Table,
    Owner,
    Protected,
    OsHidden,
    Tags,
    OsHashAlgo,
    OsHashValue,
    VirtualSize,
}

#[derive(DeriveIden)]
enum SyncStage {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let image_columns = [
            string_null(Images::Owner).to_owned(),
            boolean(Images::Protected).default(false).to_owned(),
            boolean(Images::OsHidden).default(false).to_owned(),
            json(Images::Tags).default("[]").to_owned(),
            string_null(Images::OsHashAlgo).to_owned(),
            string_null(Images::OsHashValue).to_owned(),
            big_integer_null(Images::VirtualSize).to_owned(),
        ];
        let staged_columns = [
            string_null(Images::Owner).to_owned(),
            boolean_null(Images::Protected).to_owned(),
            boolean_null(Images::OsHidden).to_owned(),
            json_null(Images::Tags).to_owned(),
            string_null(Images::OsHashAlgo).to_owned(),
            string_null(Images::OsHashValue).to_owned(),
            big_integer_null(Images::VirtualSize).to_owned(),
        ];
        // One column per statement: SQLite alters one thing at a time.
        for column in image_columns {
            m.alter_table(
                Table::alter()
                    .table(Images::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        for column in staged_columns {
            m.alter_table(
                Table::alter()
                    .table(SyncStage::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [Images::Table.into_iden(), SyncStage::Table.into_iden()] {
            for column in [
                Images::Owner,
                Images::Protected,
                Images::OsHidden,
                Images::Tags,
                Images::OsHashAlgo,
                Images::OsHashValue,
                Images::VirtualSize,
            ] {
                m.alter_table(
                    Table::alter()
                        .table(table.clone())
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
            }
        }
        Ok(())
    }
}
