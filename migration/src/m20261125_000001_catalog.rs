use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServiceSettings {
    Table,
    Id,
    Uuid,
    Name,
    Type,
    AuthUrl,
    Region,
    Interface,
    Domain,
    Shared,
    Credentials,
    State,
    ErrorMessage,
    Created,
    Modified,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Uuid,
    Name,
    BackendId,
    SettingsId,
    Credentials,
    State,
    ErrorMessage,
    Created,
    Modified,
    LastSyncAt,
    LastSuccessAt,
    PullRequestedAt,
}

#[derive(DeriveIden)]
enum Offerings {
    Table,
    Id,
    Uuid,
    Name,
    SettingsId,
    TenantId,
    Created,
}

#[derive(DeriveIden)]
enum Images {
    Table,
    Id,
    Uuid,
    SettingsId,
    BackendId,
    Name,
    MinDisk,
    MinRam,
    Status,
    Visibility,
    Size,
    Checksum,
    DiskFormat,
    ContainerFormat,
    BackendCreatedAt,
    BackendUpdatedAt,
    HwRescueDevice,
    HwRescueBus,
    Properties,
}

#[derive(DeriveIden)]
enum ImageTenants {
    Table,
    ImageId,
    TenantId,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    Uuid,
    SettingsId,
    TenantId,
    BackendId,
    Name,
    ImageBackendId,
    ImageName,
    Status,
    BackendCreatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Uuid,
    Name,
    TokenHash,
    IsStaff,
    Created,
    ExpiresAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum ApiTokenTenants {
    Table,
    TokenId,
    TenantId,
}

fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Names sort byte-wise on every backend, so pages come out in the same order on
        // SQLite and on a PostgreSQL whose default collation is locale-aware.
        let name_col = |col: Images| {
            let mut def = string(col);
            if m.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
                def.extra("COLLATE \"C\"");
            }
            def
        };
        m.create_table(
            Table::create()
                .table(ServiceSettings::Table)
                .col(pk_auto(ServiceSettings::Id))
                .col(uuid_uniq(ServiceSettings::Uuid))
                .col(string(ServiceSettings::Name))
                .col(string(ServiceSettings::Type))
                .col(string(ServiceSettings::AuthUrl))
                .col(string(ServiceSettings::Region))
                .col(string(ServiceSettings::Interface))
                .col(string(ServiceSettings::Domain))
                .col(boolean(ServiceSettings::Shared))
                .col(text_null(ServiceSettings::Credentials))
                .col(string(ServiceSettings::State))
                .col(text(ServiceSettings::ErrorMessage))
                .col(timestamp_with_time_zone(ServiceSettings::Created))
                .col(timestamp_with_time_zone(ServiceSettings::Modified))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(pk_auto(Tenants::Id))
                .col(uuid_uniq(Tenants::Uuid))
                .col(string(Tenants::Name))
                .col(string(Tenants::BackendId))
                .col(integer(Tenants::SettingsId))
                .col(text_null(Tenants::Credentials))
                .col(string(Tenants::State))
                .col(text(Tenants::ErrorMessage))
                .col(timestamp_with_time_zone(Tenants::Created))
                .col(timestamp_with_time_zone(Tenants::Modified))
                .col(timestamp_with_time_zone_null(Tenants::LastSyncAt))
                .col(timestamp_with_time_zone_null(Tenants::LastSuccessAt))
                .col(timestamp_with_time_zone_null(Tenants::PullRequestedAt))
                .foreign_key(&mut cascade(
                    "fk_tenants_settings",
                    (Tenants::Table, Tenants::SettingsId),
                    (ServiceSettings::Table, ServiceSettings::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_tenants_settings_backend")
                .table(Tenants::Table)
                .col(Tenants::SettingsId)
                .col(Tenants::BackendId)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Offerings::Table)
                .col(pk_auto(Offerings::Id))
                .col(uuid_uniq(Offerings::Uuid))
                .col(string(Offerings::Name))
                .col(integer_null(Offerings::SettingsId))
                .col(integer_null(Offerings::TenantId))
                .col(timestamp_with_time_zone(Offerings::Created))
                .foreign_key(&mut cascade(
                    "fk_offerings_settings",
                    (Offerings::Table, Offerings::SettingsId),
                    (ServiceSettings::Table, ServiceSettings::Id),
                ))
                .foreign_key(&mut cascade(
                    "fk_offerings_tenant",
                    (Offerings::Table, Offerings::TenantId),
                    (Tenants::Table, Tenants::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Images::Table)
                .col(big_pk_auto(Images::Id))
                .col(uuid_uniq(Images::Uuid))
                .col(integer(Images::SettingsId))
                .col(string(Images::BackendId))
                .col(name_col(Images::Name))
                .col(big_integer(Images::MinDisk))
                .col(big_integer(Images::MinRam))
                .col(string(Images::Status))
                .col(string(Images::Visibility))
                .col(big_integer_null(Images::Size))
                .col(string_null(Images::Checksum))
                .col(string_null(Images::DiskFormat))
                .col(string_null(Images::ContainerFormat))
                .col(timestamp_with_time_zone_null(Images::BackendCreatedAt))
                .col(timestamp_with_time_zone_null(Images::BackendUpdatedAt))
                .col(string(Images::HwRescueDevice))
                .col(string(Images::HwRescueBus))
                .col(json(Images::Properties))
                .foreign_key(&mut cascade(
                    "fk_images_settings",
                    (Images::Table, Images::SettingsId),
                    (ServiceSettings::Table, ServiceSettings::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_images_settings_backend")
                .table(Images::Table)
                .col(Images::SettingsId)
                .col(Images::BackendId)
                .unique()
                .to_owned(),
        )
        .await?;
        // The list order (name, uuid) and the newest-per-(settings, name) rule.
        m.create_index(
            Index::create()
                .name("ix_images_name_uuid")
                .table(Images::Table)
                .col(Images::Name)
                .col(Images::Uuid)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_images_settings_name_created")
                .table(Images::Table)
                .col(Images::SettingsId)
                .col(Images::Name)
                .col(Images::BackendCreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_images_rescue")
                .table(Images::Table)
                .col(Images::HwRescueDevice)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ImageTenants::Table)
                .col(big_integer(ImageTenants::ImageId))
                .col(integer(ImageTenants::TenantId))
                .primary_key(
                    Index::create()
                        .col(ImageTenants::ImageId)
                        .col(ImageTenants::TenantId),
                )
                .foreign_key(&mut cascade(
                    "fk_image_tenants_image",
                    (ImageTenants::Table, ImageTenants::ImageId),
                    (Images::Table, Images::Id),
                ))
                .foreign_key(&mut cascade(
                    "fk_image_tenants_tenant",
                    (ImageTenants::Table, ImageTenants::TenantId),
                    (Tenants::Table, Tenants::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_image_tenants_tenant")
                .table(ImageTenants::Table)
                .col(ImageTenants::TenantId)
                .col(ImageTenants::ImageId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Instances::Table)
                .col(big_pk_auto(Instances::Id))
                .col(uuid_uniq(Instances::Uuid))
                .col(integer(Instances::SettingsId))
                .col(integer(Instances::TenantId))
                .col(string(Instances::BackendId))
                .col(string(Instances::Name))
                .col(string_null(Instances::ImageBackendId))
                .col(string(Instances::ImageName))
                .col(string(Instances::Status))
                .col(timestamp_with_time_zone_null(Instances::BackendCreatedAt))
                .col(timestamp_with_time_zone_null(Instances::DeletedAt))
                .foreign_key(&mut cascade(
                    "fk_instances_settings",
                    (Instances::Table, Instances::SettingsId),
                    (ServiceSettings::Table, ServiceSettings::Id),
                ))
                .foreign_key(&mut cascade(
                    "fk_instances_tenant",
                    (Instances::Table, Instances::TenantId),
                    (Tenants::Table, Tenants::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_instances_settings_backend")
                .table(Instances::Table)
                .col(Instances::SettingsId)
                .col(Instances::BackendId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_instances_image_name")
                .table(Instances::Table)
                .col(Instances::ImageName)
                .col(Instances::TenantId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(pk_auto(ApiTokens::Id))
                .col(uuid_uniq(ApiTokens::Uuid))
                .col(string_uniq(ApiTokens::Name))
                .col(string_uniq(ApiTokens::TokenHash))
                .col(boolean(ApiTokens::IsStaff))
                .col(timestamp_with_time_zone(ApiTokens::Created))
                .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApiTokenTenants::Table)
                .col(integer(ApiTokenTenants::TokenId))
                .col(integer(ApiTokenTenants::TenantId))
                .primary_key(
                    Index::create()
                        .col(ApiTokenTenants::TokenId)
                        .col(ApiTokenTenants::TenantId),
                )
                .foreign_key(&mut cascade(
                    "fk_api_token_tenants_token",
                    (ApiTokenTenants::Table, ApiTokenTenants::TokenId),
                    (ApiTokens::Table, ApiTokens::Id),
                ))
                .foreign_key(&mut cascade(
                    "fk_api_token_tenants_tenant",
                    (ApiTokenTenants::Table, ApiTokenTenants::TenantId),
                    (Tenants::Table, Tenants::Id),
                ))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ApiTokenTenants::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Instances::Table.into_iden(),
            ImageTenants::Table.into_iden(),
            Images::Table.into_iden(),
            Offerings::Table.into_iden(),
            Tenants::Table.into_iden(),
            ServiceSettings::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
