//! A view's servers compared with the catalog: which image each counts for, the edits to
//! its recorded life, and the rows to write.
use std::collections::HashMap;

use crate::catalog::inventory::{InstanceRecord, SyncTarget, TenantChanges};
use crate::catalog::sync_runs::RunCounts;
use crate::openstack::PAGE_LIMIT;
use crate::openstack::nova::NovaServer;
use crate::openstack::nova_actions::InstanceAction;
use crate::sync::action_log::ActionLogs;
use crate::sync::attribution::BootVolumes;
use crate::sync::context::SyncContext;
use crate::sync::error::Error;
use crate::sync::lifecycle::{self, Window};
use crate::sync::listing::View;
use crate::sync::mapping;

/// Names of images by Glance id.
pub(super) type ImageNames = HashMap<String, String>;

/// Compares the view's servers into `changes`, a page's worth at a time, then the deleted
/// servers that explain instances it no longer shows; returns the names found for the images
/// they count for (part of a whole-cloud view's fingerprint). Without Cinder,
/// boot-from-volume servers count for no image.
pub(super) async fn compare(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    view: &View<'_>,
    window: Window,
    changes: &mut TenantChanges,
    counts: &mut RunCounts,
) -> Result<ImageNames, Error> {
    let Some(listed) = &view.servers else {
        return Ok(ImageNames::new());
    };
    let volumes = BootVolumes::new(view.volumes.iter().flatten().copied());
    let first_sight = if listed_servers(&target.tenant) {
        window
    } else {
        window.unbounded()
    };
    let logs = Logs {
        listed: view.actions,
        deleted: view.deleted_actions,
    };
    let mut servers = ServerIntake::new(changes, &volumes, window, first_sight, logs);
    for chunk in listed.chunks(PAGE_LIMIT as usize) {
        ctx.check_shutdown()?;
        servers.take(ctx, target, chunk, changes, counts).await?;
    }
    // Not listed live, so not counted as seen; compared as a delta poll compares them.
    let mut uncounted = RunCounts::default();
    for chunk in view.deleted.chunks(PAGE_LIMIT as usize) {
        ctx.check_shutdown()?;
        servers
            .take(ctx, target, chunk, changes, &mut uncounted)
            .await?;
    }
    changes.upsert_instances = servers.upserts;
    Ok(servers.used_names)
}

/// Whether the tenant's last successful sync listed its servers, every one of them (a view
/// is applied only when complete), so a server it did not list is new since. Not when Nova
/// was missing then (nor when the tenant never synced: no lower side to its window anyway).
fn listed_servers(tenant: &crate::catalog::tenants::Tenant) -> bool {
    let missing = crate::catalog::tenants::unavailable_services(&tenant.unavailable_services);
    !missing
        .iter()
        .any(|s| s == crate::catalog::tenants::MissingService::Compute.as_str())
}

/// The action logs the source read: the listing's, and those of its deleted servers where
/// they were read apart.
#[derive(Clone, Copy)]
struct Logs<'v> {
    listed: &'v ActionLogs,
    deleted: Option<&'v ActionLogs>,
}

impl<'v> Logs<'v> {
    fn of(&self, server_id: &str) -> Option<&'v [InstanceAction]> {
        let listed = self.listed.of(server_id);
        listed.or_else(|| self.deleted.and_then(|d| d.of(server_id)))
    }
}

/// Servers compared with the catalog page by page: what they count for, their lifecycle
/// edits, and the rows to write.
struct ServerIntake<'v> {
    volumes: &'v BootVolumes,
    /// The action logs the source read.
    actions: Logs<'v>,
    /// Since the tenant's last successful sync: when the changes seen now happened.
    window: Window,
    /// The window of a server seen for the first time: without its lower side when the
    /// tenant's last sync did not list servers.
    first_sight: Window,
    /// Names of images this very sync adds, which are not in the catalog yet.
    pending_names: ImageNames,
    upserts: Vec<InstanceRecord>,
    /// The names found for the images servers count for.
    used_names: ImageNames,
}

impl<'v> ServerIntake<'v> {
    fn new(
        changes: &TenantChanges,
        volumes: &'v BootVolumes,
        window: Window,
        first_sight: Window,
        actions: Logs<'v>,
    ) -> Self {
        Self {
            volumes,
            actions,
            window,
            first_sight,
            pending_names: changes
                .upsert_images
                .iter()
                .map(|r| (r.backend_id.clone(), r.name.clone()))
                .collect(),
            upserts: Vec::new(),
            used_names: ImageNames::new(),
        }
    }

    async fn take(
        &mut self,
        ctx: &SyncContext<'_>,
        target: &SyncTarget,
        page: &[&NovaServer],
        changes: &mut TenantChanges,
        counts: &mut RunCounts,
    ) -> Result<(), Error> {
        let fresh: Vec<&NovaServer> = page
            .iter()
            .copied()
            .filter(|s| !changes.seen_instances.contains(&s.id))
            .collect();
        let sources: Vec<ImageSource> = fresh
            .iter()
            .map(|s| ImageSource::of(s, self.volumes))
            .collect();
        let (known, names) = self.lookups(ctx, target, &fresh, &sources, changes).await?;
        for (server, source) in fresh.into_iter().zip(sources) {
            if !changes.seen_instances.insert(server.id.clone()) {
                continue;
            }
            counts.instances_seen += 1;
            let previous = known.get(&server.id);
            let image_name = self.image_name(&source, &names, previous);
            let mut record = mapping::instance_record(
                server,
                source.id,
                image_name,
                source.volume,
                target.tenant.id,
            );
            if record.status.is_deleted() {
                // Deleted as of the sync that first learned it from Nova, whichever path
                // (a delta poll, or a sweep explaining what vanished): later listings of the
                // same deleted server change nothing.
                record.deleted_at = previous
                    .and_then(|p| p.record.deleted_at)
                    .or(Some(self.window.until));
            }
            let (known, window) = lifecycle::baseline(previous, self.window, self.first_sight);
            let log = self.actions.of(&server.id);
            let lived = lifecycle::edits(known, &record, &window, log);
            if !lived.is_empty() {
                changes.lifecycle.push((server.id.clone(), lived));
            }
            if previous.is_none_or(|p| p.differs_from(&record)) {
                self.upserts.push(record);
            }
        }
        Ok(())
    }

    /// The catalog's rows of these servers, and its names of the images they count for
    /// (staged ones included).
    async fn lookups(
        &self,
        ctx: &SyncContext<'_>,
        target: &SyncTarget,
        fresh: &[&NovaServer],
        sources: &[ImageSource],
        changes: &TenantChanges,
    ) -> Result<
        (
            HashMap<String, crate::catalog::inventory::KnownInstance>,
            ImageNames,
        ),
        Error,
    > {
        let inventory = ctx.catalog.inventory();
        let ids: Vec<String> = fresh.iter().map(|s| s.id.clone()).collect();
        let image_ids: Vec<String> = sources.iter().filter_map(|s| s.id.clone()).collect();
        let known = inventory.known_instances(target.cloud.id, &ids).await?;
        let mut names = inventory.image_names(target.cloud.id, &image_ids).await?;
        if changes.staged {
            names.extend(inventory.staged_names(target.tenant.id, &image_ids).await?);
        }
        Ok((known, names))
    }

    /// By Glance id when the catalog has the image (or this sync adds it); else the name
    /// recorded upstream (on the boot volume) or when the image was last seen: deleted images
    /// keep their usage.
    fn image_name(
        &mut self,
        source: &ImageSource,
        names: &ImageNames,
        previous: Option<&crate::catalog::inventory::KnownInstance>,
    ) -> String {
        let found = source.id.as_deref().and_then(|id| {
            self.pending_names
                .get(id)
                .cloned()
                .or_else(|| names.get(id).cloned())
        });
        if let (Some(id), Some(name)) = (&source.id, &found) {
            self.used_names.insert(id.clone(), name.clone());
        }
        found
            .or_else(|| source.recorded_name.clone())
            .or_else(|| previous.map(|p| p.record.image_name.clone()))
            .unwrap_or_default()
    }
}

/// The image a server counts for: its own, or its boot volume's.
struct ImageSource {
    /// The Glance id.
    id: Option<String>,
    /// The name recorded upstream with it (on the boot volume).
    recorded_name: Option<String>,
    /// The boot volume it came from, and its size.
    volume: Option<(String, Option<i64>)>,
}

impl ImageSource {
    fn of(server: &NovaServer, volumes: &BootVolumes) -> Self {
        match volumes.of(server) {
            Some(boot) => Self {
                id: boot.image_id.clone(),
                recorded_name: boot.image_name.clone(),
                volume: Some((boot.id.clone(), boot.size_gib)),
            },
            None => Self {
                id: server.image_id.clone(),
                recorded_name: None,
                volume: None,
            },
        }
    }
}
