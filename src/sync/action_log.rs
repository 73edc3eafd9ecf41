//! Which servers' action logs a sync reads, and reading them: the log dates a server's status
//! changes by the actions that made them (see [`super::lifecycle`]). Only servers seen for
//! the first time and servers that changed since the catalog last recorded them (their
//! status, flavor or image, or their `updated`, which also moves for a stop undone by a start
//! before the sync) are asked about, a few at a time, so an idle re-sync sends no request. A
//! changed server's log is asked only from the server's last recorded change on
//! (`changes-since`, in Nova's own clock).
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use futures_util::{StreamExt, stream};

use crate::catalog::CloudId;
use crate::catalog::inventory::KnownInstance;
use crate::openstack::nova::NovaServer;
use crate::openstack::nova_actions::{ActionLog, ActionLogReader, InstanceAction};
use crate::openstack::session::Session;
use crate::sync::context::SyncContext;
use crate::sync::error::Error;

/// Logs read at once: a sweep's other requests keep their share of the cloud.
const LOG_LOOKUPS: usize = 4;

/// Slack on `changes-since`: an action recorded in the same second as the change the
/// catalog last saw is read again rather than missed.
const OVERLAP: Duration = Duration::seconds(1);

/// The action logs a sync read, by Nova server id, each oldest first.
#[derive(Debug, Default)]
pub struct ActionLogs(HashMap<String, Vec<InstanceAction>>);

impl ActionLogs {
    /// The server's log, when it was read.
    pub fn of(&self, server_id: &str) -> Option<&[InstanceAction]> {
        self.0.get(server_id).map(Vec::as_slice)
    }
}

/// Whether the listed server is one whose log dates something: new, or changed in status,
/// flavor or image since the catalog recorded it. `Some(since)` for the log to ask for
/// (`None` inside: all of it).
fn wanted(server: &NovaServer, known: Option<&KnownInstance>) -> Option<Option<DateTime<Utc>>> {
    if server.status.as_str() == "DELETED" || server.terminated_at.is_some() {
        // Its end is dated by `terminated_at`.
        return None;
    }
    let Some(known) = known.filter(|k| !k.lacks_history()) else {
        return Some(None);
    };
    let r = &known.record;
    if r.status.is_deleted() || r.terminated_at.is_some() {
        return None;
    }
    let flavor = &server.flavor;
    let changed = r.status.as_str() != server.status.as_str()
        || r.vcpus != flavor.vcpus
        || r.ram_mib != flavor.ram_mib
        || r.disk_gib != flavor.disk_gib
        || r.ephemeral_gib != flavor.ephemeral_gib
        || (server.image_id.is_some() && r.image_backend_id != server.image_id)
        || r.upstream_updated_at != server.updated;
    changed.then(|| r.upstream_updated_at.map(|t| t - OVERLAP))
}

/// Reads the logs of the listed servers that need them. A log Nova refuses (the cloud's
/// policy keeps it from this token: every later one is not asked for) or fails to give is
/// left out: those servers are dated as without a log.
pub async fn read(
    ctx: &SyncContext<'_>,
    session: &Session,
    cloud: CloudId,
    servers: &[NovaServer],
) -> Result<ActionLogs, Error> {
    if servers.is_empty() {
        return Ok(ActionLogs::default());
    }
    let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
    let known = ctx.catalog.inventory().known_instances(cloud, &ids).await?;
    let asks: Vec<(String, Option<DateTime<Utc>>)> = servers
        .iter()
        .filter_map(|s| wanted(s, known.get(&s.id)).map(|since| (s.id.clone(), since)))
        .collect();
    if asks.is_empty() {
        return Ok(ActionLogs::default());
    }
    let reader = match ActionLogReader::new(session).await {
        Ok(reader) => reader,
        Err(e) => {
            tracing::warn!(error = %e, "no instance action logs: dating changes without them");
            return Ok(ActionLogs::default());
        }
    };
    let forbidden = AtomicBool::new(false);
    let mut logs = HashMap::new();
    let mut reads = stream::iter(asks)
        .map(|(id, since)| read_one(&reader, &forbidden, id, since))
        .buffer_unordered(LOG_LOOKUPS)
        .boxed();
    while let Some(read) = reads.next().await {
        logs.extend(read);
    }
    drop(reads);
    ctx.check_shutdown()?;
    Ok(ActionLogs(logs))
}

/// One server's log, when Nova gives it; after a refusal by policy no more are asked for.
async fn read_one(
    reader: &ActionLogReader<'_>,
    forbidden: &AtomicBool,
    id: String,
    since: Option<DateTime<Utc>>,
) -> Option<(String, Vec<InstanceAction>)> {
    if forbidden.load(Ordering::Relaxed) {
        return None;
    }
    match reader.actions(&id, since).await {
        Ok(ActionLog::Actions(actions)) => Some((id, actions)),
        Ok(ActionLog::Forbidden) => {
            if !forbidden.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    "Nova's policy keeps the instance action log from this token: \
                     dating changes by the servers' times"
                );
            }
            None
        }
        Ok(ActionLog::Unknown) => None,
        Err(e) => {
            tracing::warn!(server = %id, error = %e, "reading the instance action log failed");
            None
        }
    }
}
