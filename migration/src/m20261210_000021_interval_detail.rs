use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What a billing team needs of each interval: the image the instance counted for and its
/// name *at the time* (a later rename must not move closed periods), and how each boundary
/// was dated. Instances keep their boot volume's size, which is what a boot-from-volume
/// server's disk is billed at.
#[derive(DeriveIden)]
enum InstanceIntervals {
    Table,
    InstanceId,
    ImageBackendId,
    ImageName,
    StartedBy,
    EndedBy,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    ImageBackendId,
    ImageName,
    BootVolumeGib,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time. Rows written before
        // this migration keep a null dating: how they were dated was not recorded.
        for column in [
            string_null(InstanceIntervals::ImageBackendId).to_owned(),
            string(InstanceIntervals::ImageName).default("").to_owned(),
            string_null(InstanceIntervals::StartedBy).to_owned(),
            string_null(InstanceIntervals::EndedBy).to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(InstanceIntervals::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Instances::Table)
                .add_column(big_integer_null(Instances::BootVolumeGib))
                .to_owned(),
        )
        .await?;
        // Existing intervals count for the image their instance counts for now: the best
        // the catalog knows of the past.
        let from_instance = |column: Instances| {
            Query::select()
                .column(column)
                .from(Instances::Table)
                .and_where(
                    Expr::col((Instances::Table, Instances::Id))
                        .equals((InstanceIntervals::Table, InstanceIntervals::InstanceId)),
                )
                .to_owned()
        };
        let backfill = Query::update()
            .table(InstanceIntervals::Table)
            .value(
                InstanceIntervals::ImageBackendId,
                SimpleExpr::SubQuery(
                    None,
                    Box::new(from_instance(Instances::ImageBackendId).into_sub_query_statement()),
                ),
            )
            .value(
                InstanceIntervals::ImageName,
                SimpleExpr::SubQuery(
                    None,
                    Box::new(from_instance(Instances::ImageName).into_sub_query_statement()),
                ),
            )
            .to_owned();
        m.exec_stmt(backfill).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            InstanceIntervals::ImageBackendId,
            InstanceIntervals::ImageName,
            InstanceIntervals::StartedBy,
            InstanceIntervals::EndedBy,
        ] {
            m.alter_table(
                Table::alter()
                    .table(InstanceIntervals::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Instances::Table)
                .drop_column(Instances::BootVolumeGib)
                .to_owned(),
        )
        .await
    }
}
