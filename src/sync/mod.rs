//! Syncing tenants from OpenStack into the catalog: per-tenant reconcile, the sweep, the
//! schedule, manual pulls.
pub mod credentials;
pub mod engine;
pub mod mapping;
pub mod tenant;
pub mod visibility;

pub use engine::{SyncEngine, SyncSettings};
pub use tenant::{SyncError, TenantSummary};
