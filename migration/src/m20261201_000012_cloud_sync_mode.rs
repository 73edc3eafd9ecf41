use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// How a cloud is swept: `per_tenant` (each tenant logs in and lists what it sees), `cloud`
/// (one admin listing for all its tenants) or `auto` (cloud mode when the cloud's own
/// credentials carry the admin role). Whether its tenants are discovered from Keystone's
/// projects (and which tags a project needs), and the record of its last sweep.
#[derive(DeriveIden)]
enum ServiceSettings {
    Table,
    SyncMode,
    DiscoverTenants,
    ProjectTags,
    LastSweep,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            string(ServiceSettings::SyncMode).default("auto").to_owned(),
            boolean(ServiceSettings::DiscoverTenants)
                .default(false)
                .to_owned(),
            json(ServiceSettings::ProjectTags)
                .default(Expr::cust("'[]'"))
                .to_owned(),
            json_null(ServiceSettings::LastSweep).to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(ServiceSettings::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ServiceSettings::SyncMode,
            ServiceSettings::DiscoverTenants,
            ServiceSettings::ProjectTags,
            ServiceSettings::LastSweep,
        ] {
            m.alter_table(
                Table::alter()
                    .table(ServiceSettings::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
