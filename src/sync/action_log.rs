//! Which servers' action logs a sync reads, and reading them: the log dates a server's status
//! changes by the actions that made them (see [`super::lifecycle`]). Only servers seen for
//! the first time, servers that changed since the catalog last recorded them (their status,
//! flavor or image, or their `updated`, which also moves for a stop undone by a start before
//! the sync) and servers deleted since the catalog recorded them live (Nova lists a deleted
//! server's actions from microversion 2.21) are asked about, a few at a time, so an idle
//! re-sync sends no request. A known server's log is asked only from the server's last
//! recorded change on (`changes-since`, in Nova's own clock).
//!
//! Then, where Nova's policy shows them to the token, the events of the actions that date a
//! step (see [`lifecycle::dating_actions`]): one request per action, the same few at a time,
//! the first alone so that a cloud whose policy refuses them costs one request.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use futures_util::{StreamExt, stream};

use crate::catalog::CloudId;
use crate::catalog::inventory::{InstanceRecord, KnownInstance};
use crate::openstack::nova::NovaServer;
use crate::openstack::nova_actions::{
    ActionEvents, ActionLog, ActionLogReader, InstanceAction, Outcome,
};
use crate::openstack::session::Session;
use crate::sync::context::SyncContext;
use crate::sync::error::Error;
use crate::sync::lifecycle;

/// Logs read at once: a sweep's other requests keep their share of the cloud.
const LOG_LOOKUPS: usize = 4;

/// Actions whose events are read per server and sync, the newest. A server first seen with a
/// long history would otherwise cost one request per step it ever took (hundreds for an old
/// server, thousands of requests on a cloud's first sync); its older steps lie in periods
/// long billed, where dating by the request is early by only the action's own duration
/// (minutes, against the months the server ran). A changed server rarely has more than a
/// few new steps between two syncs, so the cap costs it nothing.
const EVENT_READS_PER_SERVER: usize = 10;

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
/// flavor or image since the catalog recorded it, or deleted since the catalog recorded it
/// live (its steps between the recorded state and the deletion). `Some(since)` for the log to
/// ask for (`None` inside: all of it).
fn wanted(server: &NovaServer, known: Option<&KnownInstance>) -> Option<Option<DateTime<Utc>>> {
    let ended = server.status.as_str() == "DELETED" || server.terminated_at.is_some();
    let known = known.filter(|k| !k.lacks_history());
    let Some(known) = known else {
        // A server first seen ended is dated by its own times (its end by `terminated_at`):
        // a deleted server's whole log would be a request for a life already over.
        return (!ended).then_some(None);
    };
    let r = &known.record;
    if r.status.is_deleted() || r.terminated_at.is_some() {
        // Its end is recorded: nothing left to date.
        return None;
    }
    let since = r.upstream_updated_at.map(|t| t - OVERLAP);
    if ended {
        return Some(since);
    }
    let flavor = &server.flavor;
    let changed = r.status.as_str() != server.status.as_str()
        || r.vcpus != flavor.vcpus
        || r.ram_mib != flavor.ram_mib
        || r.disk_gib != flavor.disk_gib
        || r.ephemeral_gib != flavor.ephemeral_gib
        || (server.image_id.is_some() && r.image_backend_id != server.image_id)
        || r.upstream_updated_at != server.updated;
    changed.then_some(since)
}

/// Reads the logs of the listed servers that need them, then (where the token may) the
/// events of the actions that date a change. A log Nova refuses (the cloud's policy keeps it
/// from this token: every later one is not asked for) or fails to give is left out: those
/// servers are dated as without a log; an action whose events are not read is dated by its
/// request.
pub async fn read(
    ctx: &SyncContext<'_>,
    session: &Session,
    cloud: CloudId,
    servers: &[&NovaServer],
) -> Result<ActionLogs, Error> {
    if servers.is_empty() {
        return Ok(ActionLogs::default());
    }
    let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
    let known = ctx.catalog.inventory().known_instances(cloud, &ids).await?;
    // As the lifecycle takes it: an instance without history starts as if seen first.
    let previous = |id: &str| {
        known
            .get(id)
            .filter(|k| !k.lacks_history())
            .map(|k| &k.record)
    };
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
    let admin = session.scope().await.is_ok_and(|scope| scope.admin);
    if reader.may_read_events(admin) {
        read_outcomes(&reader, &mut logs, previous).await;
        ctx.check_shutdown()?;
    }
    Ok(ActionLogs(logs))
}

/// Reads the events of the actions that date a step, newest first up to
/// [`EVENT_READS_PER_SERVER`] a server, and notes each action's outcome in `logs`.
async fn read_outcomes<'k>(
    reader: &ActionLogReader<'_>,
    logs: &mut HashMap<String, Vec<InstanceAction>>,
    previous: impl Fn(&str) -> Option<&'k InstanceRecord>,
) {
    let mut asks: Vec<(String, String)> = Vec::new();
    for (id, log) in logs.iter() {
        let dating = lifecycle::dating_actions(previous(id), log);
        asks.extend(
            dating
                .iter()
                .rev()
                .filter(|a| !a.request_id.is_empty())
                .take(EVENT_READS_PER_SERVER)
                .map(|a| (id.clone(), a.request_id.clone())),
        );
    }
    let Some(first) = asks.first().cloned() else {
        return;
    };
    let refused = AtomicBool::new(false);
    let mut outcomes: Vec<(String, String, Outcome)> = Vec::new();
    // The first alone: a refusal by policy then costs one request, not one per lookup.
    outcomes.extend(read_events(reader, &refused, first).await);
    let mut reads = stream::iter(asks.into_iter().skip(1))
        .map(|ask| read_events(reader, &refused, ask))
        .buffer_unordered(LOG_LOOKUPS)
        .boxed();
    while let Some(read) = reads.next().await {
        outcomes.extend(read);
    }
    drop(reads);
    for (id, request_id, outcome) in outcomes {
        let action = logs
            .get_mut(&id)
            .and_then(|log| log.iter_mut().find(|a| a.request_id == request_id));
        if let Some(action) = action {
            action.outcome = Some(outcome);
        }
    }
}

/// How one action ended, when Nova shows its events; after a refusal (403, or an answer
/// without events) no more are asked for.
async fn read_events(
    reader: &ActionLogReader<'_>,
    refused: &AtomicBool,
    (id, request_id): (String, String),
) -> Option<(String, String, Outcome)> {
    if refused.load(Ordering::Relaxed) {
        return None;
    }
    match reader.events(&id, &request_id).await {
        Ok(ActionEvents::Events(events)) => {
            Outcome::of(&events).map(|outcome| (id, request_id, outcome))
        }
        Ok(ActionEvents::Forbidden | ActionEvents::Hidden) => {
            if !refused.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    "Nova's policy keeps instance action events from this token: \
                     dating changes by when Nova took the requests"
                );
            }
            None
        }
        Ok(ActionEvents::Unknown) => None,
        Err(e) => {
            tracing::warn!(server = %id, error = %e, "reading an instance action's events failed");
            None
        }
    }
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
