//! How the engine syncs: its schedules, concurrency, leases and batch sizes.
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};

use crate::clock::Clock;
use crate::openstack::SessionSettings;

#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// 6-field cron (with seconds), UTC.
    pub cron: String,
    pub concurrency: usize,
    /// How long a claim on a tenant holds if its holder dies mid-sync; a running sync renews
    /// it every third of that.
    pub lease_ttl: Duration,
    /// This process's id in tenant leases and sync runs. `serve` uses one that survives a
    /// restart (host and port), so a restarted process frees what it held at once; others get
    /// a unique one and leave their claims to expire.
    pub holder: Option<String>,
    /// Timeouts and retries for OpenStack requests.
    pub session: SessionSettings,
    /// New/changed image rows a tenant's sync holds in memory before staging them.
    pub stage_batch: usize,
    /// New links a tenant's sync holds in memory before staging them.
    pub stage_links_batch: usize,
    /// Threads the process's syncs run on, apart from the API's (see [`super::runtime`]); the
    /// first engine of a process sets it.
    pub threads: usize,
    /// When syncs observe things (runs, tenants' last sync, instances' transitions).
    pub clock: Clock,
    /// How long closed lifecycle intervals are kept (pruned daily); `None`: forever.
    pub usage_retention: Option<chrono::Duration>,
    /// When delta polls run between sweeps (6-field cron); `None`: never.
    pub delta_cron: Option<String>,
}

pub const DEFAULT_CRON: &str = "0 */10 * * * *";

/// Delta polls: every minute, at second 30 (sweeps usually start on the minute).
pub const DEFAULT_DELTA_CRON: &str = "30 * * * * *";

/// When usage history is pruned (with a retention set): daily at 03:17 UTC.
pub const PRUNE_CRON: &str = "0 17 3 * * *";

/// A claim on a tenant outlives its holder by at most this long.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);

impl SyncSettings {
    pub fn new(cron: &str, concurrency: usize) -> Self {
        Self {
            cron: cron.to_string(),
            concurrency: concurrency.max(1),
            lease_ttl: DEFAULT_LEASE_TTL,
            holder: None,
            stage_batch: 5_000,
            stage_links_batch: 100_000,
            session: SessionSettings::default(),
            threads: super::runtime::default_threads(),
            clock: Clock::System,
            usage_retention: None,
            delta_cron: None,
        }
    }
}

/// A schedule that is not a 6-field cron expression.
#[derive(Debug, thiserror::Error)]
#[error("{expr:?} is not a 6-field cron expression (sec min hour day month weekday): {source}")]
pub struct CronError {
    expr: String,
    source: croner::errors::CronError,
}

pub fn parse_cron(expr: &str) -> Result<croner::Cron, CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(expr)
        .map_err(|source| CronError {
            expr: expr.to_string(),
            source,
        })
}

/// The schedule's tick at or before `now`. croner keeps `now`'s fraction of a second in the
/// occurrence it finds; cut off, every replica gets the same tick whenever in that second its
/// job fires (with the fraction, a replica firing later in the second took a tenant synced
/// earlier in it for due again).
pub fn current_tick(cron: &croner::Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tick = cron.find_previous_occurrence(&now, true).ok()?;
    Some(tick.with_nanosecond(0).unwrap_or(tick))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_firing_within_one_second_share_its_tick() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let every_second = parse_cron("*/1 * * * * *").unwrap();
        let early = current_tick(&every_second, t("2026-11-30T18:18:13.001Z"));
        let late = current_tick(&every_second, t("2026-11-30T18:18:13.902Z"));
        assert_eq!(early, Some(t("2026-11-30T18:18:13Z")));
        assert_eq!(early, late);
        let every_ten_minutes = parse_cron("0 */10 * * * *").unwrap();
        assert_eq!(
            current_tick(&every_ten_minutes, t("2026-11-30T18:17:59.503Z")),
            Some(t("2026-11-30T18:10:00Z"))
        );
    }
}
