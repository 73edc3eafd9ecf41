use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A cloud's own TLS settings: the CA bundle its certificates are checked against (beside the
/// system's roots), whether they are checked at all, and a client certificate with its key
/// (the key sealed like credentials).
#[derive(DeriveIden)]
enum ServiceSettings {
    Table,
    TlsCacert,
    TlsVerify,
    TlsCert,
    TlsKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            text_null(ServiceSettings::TlsCacert).to_owned(),
            boolean(ServiceSettings::TlsVerify).default(true).to_owned(),
            text_null(ServiceSettings::TlsCert).to_owned(),
            text_null(ServiceSettings::TlsKey).to_owned(),
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
            ServiceSettings::TlsCacert,
            ServiceSettings::TlsVerify,
            ServiceSettings::TlsCert,
            ServiceSettings::TlsKey,
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
