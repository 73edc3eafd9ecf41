//! cloudcensus: a census of OpenStack images and instances across clouds and tenants.
//!
//! Layers, each in its own folder: `api` (HTTP: parse, authorize, shape), `catalog` (the one
//! door to the database), `sync` (OpenStack into the catalog), `openstack` (wire types and
//! clients), `crypto` (credentials at rest), `metrics` (what Prometheus scrapes), `cli` (the commands).
pub mod api;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod metrics;
pub mod openstack;
pub mod server;
pub mod sync;

/// Installs the process-wide TLS crypto provider. Call once before any TLS use.
pub fn install_crypto_provider() {
    // A second call (tests start several servers in one process) returns Err: harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
