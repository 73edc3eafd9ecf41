use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Lets the usage history in memory catch up on what changed instead of reading everything
/// again: each write of an instance or an interval stamps the row with the cloud's
/// `usage_version` it makes (`usage_seq`), so "rows of cloud C newer than version V" is one
/// indexed range. Intervals get their cloud for that range (rows written before this
/// migration are stamped 0 and found by the first full read).
#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    #[sea_orm(iden = "settings_id")]
    CloudId,
    UsageSeq,
}

#[derive(DeriveIden)]
enum InstanceIntervals {
    Table,
    InstanceId,
    CloudId,
    UsageSeq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        m.alter_table(
            Table::alter()
                .table(Instances::Table)
                .add_column(big_integer(Instances::UsageSeq).default(0))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(InstanceIntervals::Table)
                .add_column(big_integer(InstanceIntervals::UsageSeq).default(0))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(InstanceIntervals::Table)
                .add_column(integer(InstanceIntervals::CloudId).default(0))
                .to_owned(),
        )
        .await?;
        let cloud_of_instance = Query::select()
            .column(Instances::CloudId)
            .from(Instances::Table)
            .and_where(
                Expr::col((Instances::Table, Instances::Id))
                    .equals((InstanceIntervals::Table, InstanceIntervals::InstanceId)),
            )
            .to_owned();
        m.exec_stmt(
            Query::update()
                .table(InstanceIntervals::Table)
                .value(InstanceIntervals::CloudId, cloud_of_instance)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_instances_cloud_usage_seq")
                .table(Instances::Table)
                .col(Instances::CloudId)
                .col(Instances::UsageSeq)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_instance_intervals_cloud_usage_seq")
                .table(InstanceIntervals::Table)
                .col(InstanceIntervals::CloudId)
                .col(InstanceIntervals::UsageSeq)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "ix_instances_cloud_usage_seq",
            "ix_instance_intervals_cloud_usage_seq",
        ] {
            m.drop_index(Index::drop().name(name).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(InstanceIntervals::Table)
                .drop_column(InstanceIntervals::CloudId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(InstanceIntervals::Table)
                .drop_column(InstanceIntervals::UsageSeq)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Instances::Table)
                .drop_column(Instances::UsageSeq)
                .to_owned(),
        )
        .await
    }
}
