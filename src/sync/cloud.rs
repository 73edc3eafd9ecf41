//! Cloud mode: one admin listing of a whole cloud per sweep, from which each tenant's view is
//! derived with Glance's own rules, instead of one login and one listing per tenant. A cloud
//! with 1,000 projects and 300 public images is then read once per sweep, not 1,000 times.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};

use super::tenant::SyncError;
use crate::openstack::cinder::{self, CinderVolume};
use crate::openstack::glance::{self, GlanceImage, ImagePager};
use crate::openstack::nova::{NovaServer, ServerPager};
use crate::openstack::{OpenStackError, Session};

/// Member lists read at once.
const MEMBER_LOOKUPS: usize = 8;

/// Everything an admin token lists of a cloud.
#[derive(Debug, Default)]
pub struct CloudListing {
    images: Vec<GlanceImage>,
    /// `None`: the cloud has no compute endpoint.
    servers: Option<Vec<NovaServer>>,
    /// `None`: the cloud has no volume endpoint.
    volumes: Option<Vec<CinderVolume>>,
    /// Only what changed since a cursor.
    partial: bool,
    by_project: ByProject,
}

/// Positions in a listing by project, so a tenant's view is not a scan of the whole cloud.
#[derive(Debug, Default)]
struct ByProject {
    /// Public and community images: every project sees them.
    everyone: Vec<usize>,
    /// Images a project owns or is a member of (shared ones, any member status).
    images: HashMap<String, Vec<usize>>,
    servers: HashMap<String, Vec<usize>>,
    volumes: HashMap<String, Vec<usize>>,
}

/// Where a delta poll starts: the newest change a listing showed, in the cloud's own clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    pub images: Option<DateTime<Utc>>,
    pub servers: Option<DateTime<Utc>>,
}

/// A delta poll asks for changes from this long before its cursor: changes committed out of
/// order with their timestamps (several API workers) are not missed; seeing one twice costs
/// nothing.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(60);

/// What one project sees of a cloud listing: what its own token would list.
pub struct TenantView<'a> {
    /// Only what changed since a cursor (a delta poll): nothing unlisted is gone.
    pub partial: bool,
    pub images: Vec<&'a GlanceImage>,
    pub servers: Option<Vec<&'a NovaServer>>,
    pub volumes: Option<Vec<&'a CinderVolume>>,
}

impl CloudListing {
    /// Lists the whole cloud through an admin `session`: every image (both passes, hidden
    /// ones too), the members of each shared image, every project's servers and volumes.
    pub async fn fetch(session: &Session) -> Result<Self, SyncError> {
        let mut images = Vec::new();
        let mut ids = HashSet::new();
        let mut pager = ImagePager::new(session);
        while let Some(page) = pager.next_page().await? {
            images.extend(
                page.into_iter()
                    .filter(|i| !i.is_gone() && ids.insert(i.id.clone())),
            );
        }
        let members = members_of_shared(session, &images).await?;
        let servers = match session.endpoint("compute").await {
            Ok(_) => Some(all_servers(session).await?),
            Err(OpenStackError::EndpointMissing { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let volumes = cinder::list_volumes_all_tenants(session)
            .await?
            .map(|list| list.volumes);
        Ok(Self::new(images, members, servers, volumes, false))
    }

    /// Lists what changed since `cursor` (minus an overlap): images updated after it (both
    /// passes) with the members of the shared ones, servers changed since it (deleted ones
    /// included), and, only when a changed server booted from a volume, the volumes. With
    /// nothing changed that is a login, two image requests and one or two compute requests.
    pub async fn fetch_changes(session: &Session, cursor: &Cursor) -> Result<Self, SyncError> {
        let stamp = |t: Option<DateTime<Utc>>| {
            (t.unwrap_or(DateTime::<Utc>::UNIX_EPOCH) - OVERLAP)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        let mut images = Vec::new();
        let mut ids = HashSet::new();
        let mut pager = ImagePager::updated_after(session, &stamp(cursor.images));
        while let Some(page) = pager.next_page().await? {
            images.extend(
                page.into_iter()
                    .filter(|i| !i.is_gone() && ids.insert(i.id.clone())),
            );
        }
        // Images the overlap lists again were looked up by the listing before: their
        // members are not asked for again (a membership change does not move `updated_at`).
        let newer: Vec<GlanceImage> = images
            .iter()
            .filter(|i| i.updated_at > cursor.images)
            .cloned()
            .collect();
        let members = members_of_shared(session, &newer).await?;
        let servers = match session.endpoint("compute").await {
            Ok(_) => {
                let mut servers = Vec::new();
                let mut ids = HashSet::new();
                let mut pager =
                    ServerPager::all_tenants(session).changed_since(&stamp(cursor.servers));
                while let Some(page) = pager.next_page().await? {
                    servers.extend(page.into_iter().filter(|s| ids.insert(s.id.clone())));
                }
                Some(servers)
            }
            Err(OpenStackError::EndpointMissing { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let from_volumes = servers
            .iter()
            .flatten()
            .any(|s| s.image_id.is_none() && !s.volume_ids.is_empty());
        let volumes = if from_volumes {
            cinder::list_volumes_all_tenants(session)
                .await?
                .map(|list| list.volumes)
        } else {
            Some(Vec::new())
        };
        Ok(Self::new(images, members, servers, volumes, true))
    }

    /// The newest change this listing shows, else `since`: where the next delta poll starts.
    pub fn cursor(&self, since: &Cursor) -> Cursor {
        let newest = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| Ord::max(a, b);
        Cursor {
            images: self
                .images
                .iter()
                .map(|i| i.updated_at)
                .fold(since.images, newest),
            servers: self
                .servers
                .iter()
                .flatten()
                .map(|s| s.updated)
                .fold(since.servers, newest),
        }
    }

    /// Whether the listing holds anything (a delta poll with nothing to apply).
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.servers.as_ref().is_none_or(Vec::is_empty)
    }

    fn new(
        images: Vec<GlanceImage>,
        members: HashMap<String, HashSet<String>>,
        servers: Option<Vec<NovaServer>>,
        volumes: Option<Vec<CinderVolume>>,
        partial: bool,
    ) -> Self {
        let mut by_project = ByProject::default();
        for (i, img) in images.iter().enumerate() {
            if let Some(owner) = &img.owner {
                by_project.images.entry(owner.clone()).or_default().push(i);
            }
            match img.visibility.as_str() {
                "public" | "community" => by_project.everyone.push(i),
                "shared" => {
                    for member in members.get(&img.id).into_iter().flatten() {
                        by_project.images.entry(member.clone()).or_default().push(i);
                    }
                }
                _ => {}
            }
        }
        for (i, s) in servers.iter().flatten().enumerate() {
            if let Some(t) = &s.tenant_id {
                by_project.servers.entry(t.clone()).or_default().push(i);
            }
        }
        for (i, v) in volumes.iter().flatten().enumerate() {
            if let Some(t) = &v.tenant_id {
                by_project.volumes.entry(t.clone()).or_default().push(i);
            }
        }
        Self {
            images,
            servers,
            volumes,
            partial,
            by_project,
        }
    }

    /// What `project` sees: its own images, public and community ones, shared ones it is a
    /// member of (any status, as `member_status=all` lists them), and its servers and volumes;
    /// in listing order. These are `ProjectFilter`'s rules for an admin listing, with the
    /// member lists read, applied through an index made once rather than per tenant.
    pub fn view(&self, project: &str) -> TenantView<'_> {
        let none = Vec::new();
        let of = |map: &HashMap<String, Vec<usize>>| map.get(project).unwrap_or(&none).clone();
        let mut images = self.by_project.everyone.clone();
        images.extend(of(&self.by_project.images));
        images.sort_unstable();
        images.dedup();
        TenantView {
            partial: self.partial,
            images: images.into_iter().map(|i| &self.images[i]).collect(),
            servers: self.servers.as_ref().map(|all| {
                of(&self.by_project.servers)
                    .into_iter()
                    .map(|i| &all[i])
                    .collect()
            }),
            volumes: self.volumes.as_ref().map(|all| {
                of(&self.by_project.volumes)
                    .into_iter()
                    .map(|i| &all[i])
                    .collect()
            }),
        }
    }

    /// Images, servers and volumes listed.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (
            self.images.len(),
            self.servers.as_ref().map_or(0, Vec::len),
            self.volumes.as_ref().map_or(0, Vec::len),
        )
    }
}

/// Every project's servers, each once.
async fn all_servers(session: &Session) -> Result<Vec<NovaServer>, SyncError> {
    let mut servers = Vec::new();
    let mut ids = HashSet::new();
    let mut pager = ServerPager::all_tenants(session);
    while let Some(page) = pager.next_page().await? {
        servers.extend(page.into_iter().filter(|s| ids.insert(s.id.clone())));
    }
    Ok(servers)
}

/// The member projects of each shared image, a few lists at a time.
async fn members_of_shared(
    session: &Session,
    images: &[GlanceImage],
) -> Result<HashMap<String, HashSet<String>>, SyncError> {
    // Owned ids: a stream of futures borrowing through iterator closures is not `Send`
    // for every lifetime, which a spawned sweep needs.
    let shared: Vec<String> = images
        .iter()
        .filter(|i| i.visibility == "shared")
        .map(|i| i.id.clone())
        .collect();
    let lookups = shared.into_iter().map(|id| async move {
        let members = glance::members(session, &id).await?;
        Ok::<_, OpenStackError>((id, members.into_iter().map(|m| m.member_id).collect()))
    });
    Ok(stream::iter(lookups)
        .buffer_unordered(MEMBER_LOOKUPS)
        .try_collect()
        .await?)
}
