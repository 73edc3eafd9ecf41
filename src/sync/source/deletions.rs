//! Why a complete listing no longer shows a server. Nova's plain listing shows live servers
//! only: a server deleted since the last sweep is simply not there, and the sweep alone
//! could only date its end by itself, up to a sweep period late. Nova's `changes-since`
//! listing also shows the servers deleted since then (`DELETED`, with `terminated_at`). So
//! when a complete listing leaves instances the catalog holds as live unlisted, Nova is asked
//! once (paged) for the servers changed since the last complete listing, in the cloud's own
//! clock; the deleted ones among those instances go through the compare as a delta poll's
//! would, and their lives end when Nova terminated them. Nothing vanished, nothing is asked.
//! A refusal or failure is logged, and those instances end as before, at the sync's time.
use std::collections::{HashMap, HashSet};

use crate::catalog::inventory::Vanished;
use crate::catalog::{Catalog, ServerStatus, TenantId};
use crate::openstack::nova::{NovaServer, ServerPager};
use crate::openstack::{OpenStackError, Session};
use crate::sync::cursor::Cursor;

/// Whose servers the session lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The token's project (a tenant's own login).
    Project,
    /// Every project (an admin's `all_tenants` listing).
    Cloud,
}

/// The servers Nova lists as deleted that explain instances of `tenants` that `listed` (a
/// complete listing's server ids) leaves out; `since` is where the last complete listing
/// left the cursor. Empty when nothing vanished (then nothing is asked), when there is no
/// time to ask from, and when the catalog or Nova fails (logged).
pub async fn explain(
    catalog: &Catalog,
    session: &Session,
    reach: Reach,
    tenants: &[TenantId],
    listed: &HashSet<&str>,
    since: Option<Cursor>,
) -> Vec<NovaServer> {
    let vanished = match catalog.inventory().vanished(tenants, listed).await {
        Ok(vanished) if vanished.is_empty() => return Vec::new(),
        Ok(vanished) => vanished,
        Err(e) => {
            tracing::warn!(error = %e, "reading vanished instances failed; they end at the sync's time");
            return Vec::new();
        }
    };
    let Some(from) = since.and_then(|c| c.servers).or_else(|| oldest(&vanished)) else {
        return Vec::new();
    };
    let wanted: HashSet<String> = vanished.into_iter().map(|v| v.backend_id).collect();
    match deleted_since(session, reach, &Cursor::changes_since(from), &wanted).await {
        Ok(found) => {
            tracing::debug!(
                vanished = wanted.len(),
                deleted = found.len(),
                "Nova's deleted servers"
            );
            found
        }
        Err(e) => {
            tracing::warn!(
                vanished = wanted.len(),
                error = %e,
                "listing Nova's deleted servers failed; the vanished instances end at the sync's time"
            );
            Vec::new()
        }
    }
}

/// Without a cursor (the cloud changed mode since), the oldest `updated` Nova gave the
/// vanished instances: none was deleted before its own.
fn oldest(vanished: &[Vanished]) -> Option<chrono::DateTime<chrono::Utc>> {
    vanished.iter().filter_map(|v| v.upstream_updated_at).min()
}

/// The servers `wanted` that Nova lists as deleted among those changed since `since`.
async fn deleted_since(
    session: &Session,
    reach: Reach,
    since: &str,
    wanted: &HashSet<String>,
) -> Result<Vec<NovaServer>, OpenStackError> {
    let pager = match reach {
        Reach::Project => ServerPager::new(session),
        Reach::Cloud => ServerPager::all_tenants(session),
    };
    let mut pager = pager.changed_since(since);
    let mut found = Vec::new();
    let mut ids = HashSet::new();
    while let Some(page) = pager.next_page().await? {
        found.extend(page.into_iter().filter(|s| {
            ServerStatus::from(s.status.as_str()).is_deleted()
                && wanted.contains(&s.id)
                && ids.insert(s.id.clone())
        }));
    }
    Ok(found)
}

/// Deleted servers found for a whole cloud, by the project Nova names.
#[derive(Debug, Default)]
pub struct ByProject(HashMap<String, Vec<NovaServer>>);

impl ByProject {
    pub fn new(servers: Vec<NovaServer>) -> Self {
        let mut by = HashMap::<String, Vec<NovaServer>>::new();
        for s in servers {
            if let Some(project) = s.tenant_id.clone() {
                by.entry(project).or_default().push(s);
            }
        }
        Self(by)
    }

    pub fn of(&self, project: &str) -> Vec<&NovaServer> {
        self.0
            .get(project)
            .map_or_else(Vec::new, |s| s.iter().collect())
    }
}
