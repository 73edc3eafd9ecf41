//! What a sync needs besides its tenant: the catalog, session settings, batch sizes, the
//! shutdown signal, the clock, and where its upstream requests are counted.
use std::collections::BTreeMap;

use tokio::sync::watch;

use super::error::Error;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::openstack::SessionSettings;

pub struct SyncContext<'a> {
    pub catalog: &'a Catalog,
    /// Timeouts and retries of the sessions a source opens.
    pub session: &'a SessionSettings,
    /// New/changed records held in memory before they go to the staging table.
    pub stage_batch: usize,
    /// New links (Glance ids, far smaller than records) held in memory before they are staged.
    pub stage_links_batch: usize,
    pub shutdown: watch::Receiver<bool>,
    /// When this sync observes what it lists.
    pub clock: &'a Clock,
    /// Where the sync adds the upstream requests it made (the sweep's record of its cloud).
    pub tally: Option<&'a RequestTally>,
}

impl SyncContext<'_> {
    /// `Err(Cancelled)` once the process is stopping: checked between pages and before an
    /// apply, so a stop never leaves half a listing applied.
    pub fn check_shutdown(&self) -> Result<(), Error> {
        if *self.shutdown.borrow() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Adds a session's requests to the tally, if the sync keeps one.
    pub fn count(&self, requests: &BTreeMap<&'static str, u64>) {
        if let Some(tally) = self.tally {
            tally.add(requests);
        }
    }
}

/// Upstream requests by service, added up over the syncs of a sweep.
#[derive(Debug, Default)]
pub struct RequestTally(std::sync::Mutex<BTreeMap<String, u64>>);

impl RequestTally {
    pub fn add(&self, requests: &BTreeMap<&'static str, u64>) {
        // A poisoned tally only means a panic elsewhere mid-add: the counts are still usable.
        let mut sum = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (service, n) in requests {
            *sum.entry((*service).to_string()).or_default() += n;
        }
    }

    pub fn totals(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
