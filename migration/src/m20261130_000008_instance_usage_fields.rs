use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What usage accounting needs of a server beyond its status: its flavor's size (Nova 2.47+
/// embeds it; older clouds give only the flavor's id), when it was launched and terminated,
/// when Nova last changed it, its VM state and the volumes attached to it (boot-from-volume
/// servers are attributed to their boot volume's image).
#[derive(DeriveIden)]
enum Instances {
    Table,
    FlavorName,
    Vcpus,
    RamMib,
    DiskGib,
    EphemeralGib,
    LaunchedAt,
    TerminatedAt,
    UpstreamUpdatedAt,
    VmState,
    AttachedVolumes,
}

fn columns() -> Vec<ColumnDef> {
    vec![
        string(Instances::FlavorName).default("").to_owned(),
        integer_null(Instances::Vcpus).to_owned(),
        big_integer_null(Instances::RamMib).to_owned(),
        big_integer_null(Instances::DiskGib).to_owned(),
        big_integer_null(Instances::EphemeralGib).to_owned(),
        timestamp_with_time_zone_null(Instances::LaunchedAt).to_owned(),
        timestamp_with_time_zone_null(Instances::TerminatedAt).to_owned(),
        timestamp_with_time_zone_null(Instances::UpstreamUpdatedAt).to_owned(),
        string(Instances::VmState).default("").to_owned(),
        json(Instances::AttachedVolumes)
            .default(Expr::cust("'[]'"))
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for mut column in columns() {
            m.alter_table(
                Table::alter()
                    .table(Instances::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Instances::FlavorName,
            Instances::Vcpus,
            Instances::RamMib,
            Instances::DiskGib,
            Instances::EphemeralGib,
            Instances::LaunchedAt,
            Instances::TerminatedAt,
            Instances::UpstreamUpdatedAt,
            Instances::VmState,
            Instances::AttachedVolumes,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Instances::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
