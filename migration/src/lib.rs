//! Schema migrations. Run automatically at start-up and by `cloudcensus migrate`.
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_catalog;
mod m20261125_000002_sync;
mod m20261125_000003_sync_stage;
mod m20261125_000004_catalog_version;
mod m20261130_000005_drop_pull_requested_at;
mod m20261130_000006_usage_version;
mod m20261130_000007_sync_run_holder;
mod m20261130_000008_instance_usage_fields;
mod m20261130_000009_unavailable_services;
mod m20261130_000010_instance_intervals;
mod m20261201_000011_usage_seq;
mod m20261201_000012_cloud_sync_mode;
mod m20261201_000013_tenant_retired;
mod m20261201_000014_delta_cursor;
mod m20261201_000015_view_fingerprint;
mod m20261201_000016_tenant_delta_cursor;
mod m20261207_000017_error_kind;
mod m20261208_000018_cloud_tls;
mod m20261209_000019_image_details;
mod m20261210_000020_member_status;
mod m20261210_000021_interval_detail;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_catalog::Migration),
            Box::new(m20261125_000002_sync::Migration),
            Box::new(m20261125_000003_sync_stage::Migration),
            Box::new(m20261125_000004_catalog_version::Migration),
            Box::new(m20261130_000005_drop_pull_requested_at::Migration),
            Box::new(m20261130_000006_usage_version::Migration),
            Box::new(m20261130_000007_sync_run_holder::Migration),
            Box::new(m20261130_000008_instance_usage_fields::Migration),
            Box::new(m20261130_000009_unavailable_services::Migration),
            Box::new(m20261130_000010_instance_intervals::Migration),
            Box::new(m20261201_000011_usage_seq::Migration),
            Box::new(m20261201_000012_cloud_sync_mode::Migration),
            Box::new(m20261201_000013_tenant_retired::Migration),
            Box::new(m20261201_000014_delta_cursor::Migration),
            Box::new(m20261201_000015_view_fingerprint::Migration),
            Box::new(m20261201_000016_tenant_delta_cursor::Migration),
            Box::new(m20261207_000017_error_kind::Migration),
            Box::new(m20261208_000018_cloud_tls::Migration),
            Box::new(m20261209_000019_image_details::Migration),
            Box::new(m20261210_000020_member_status::Migration),
            Box::new(m20261210_000021_interval_detail::Migration),
        ]
    }
}
