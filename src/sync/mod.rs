//! Syncing tenants from OpenStack into the catalog: per-tenant reconcile, the sweep, the
//! schedule, manual pulls.
pub mod attribution;
pub mod cloud;
pub mod credentials;
pub mod delta;
pub mod engine;
pub mod lifecycle;
pub mod mapping;
pub mod project_filter;
pub mod runtime;
pub mod sweep;
pub mod tenant;

pub use engine::{SyncEngine, SyncSettings};
pub use tenant::{SyncError, TenantSummary};
