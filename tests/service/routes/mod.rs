//! The HTTP API, one module per resource and one file per verb.
mod dashboard;
mod errors;
pub(crate) mod glance;
mod health;
mod image_quotas;
mod limits;
mod metrics;
mod offerings;
mod openapi;
mod openstack_images;
mod openstack_tenants;
mod permissions;
mod secrets;
mod service_settings;
mod tokens;
