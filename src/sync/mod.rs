//! Syncing tenants from OpenStack into the catalog, as one pipeline: a *source* lists
//! ([`source`]), one *reconcile* applies a tenant's view of the listing ([`reconcile`]), a
//! [`run::Runner`] owns a tenant run's life (claim, heartbeat, record, release), and the
//! [`engine`] schedules and fans out (sweeps per cloud in [`sweep`], delta polls in
//! [`delta`]). `docs/ARCHITECTURE.md` draws it.
pub mod action_log;
pub mod admin;
pub mod attribution;
pub mod check;
pub mod context;
pub mod credentials;
pub mod cursor;
pub mod delta;
pub mod engine;
pub mod error;
pub mod fingerprint;
pub mod lifecycle;
pub mod listing;
pub mod mapping;
pub mod project_filter;
pub mod reconcile;
pub mod run;
pub mod runtime;
pub mod settings;
pub mod source;
pub mod sweep;

pub use delta::DeltaOutcome;
pub use engine::{PullError, SyncEngine};
pub use error::Error;
pub use reconcile::TenantSummary;
pub use run::TenantOutcome;
pub use settings::SyncSettings;
pub use sweep::{LogObserver, SweepObserver};
