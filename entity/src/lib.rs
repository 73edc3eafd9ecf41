//! sea-orm entities of the cloudcensus catalog. The schema itself lives in `migration/`.
pub mod api_token_tenants;
pub mod api_tokens;
pub mod image_tenants;
pub mod images;
pub mod instance_intervals;
pub mod instances;
pub mod offerings;
pub mod server_status;
pub mod service_settings;
pub mod sync_runs;
pub mod tenants;
pub mod types;
