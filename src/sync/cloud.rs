//! Cloud mode: one admin listing of a whole cloud per sweep, from which each tenant's view is
//! derived with Glance's own rules, instead of one login and one listing per tenant. A cloud
//! with 1,000 projects and 300 public images is then read once per sweep, not 1,000 times.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};

use super::project_filter::{ProjectFilter, Verdict};
use super::tenant::SyncError;
use crate::openstack::cinder::{self, CinderVolume};
use crate::openstack::glance::{self, GlanceImage, ImagePager};
use crate::openstack::nova::{NovaServer, ServerPager};
use crate::openstack::session::TokenScope;
use crate::openstack::{OpenStackError, Session};

/// Member lists read at once.
const MEMBER_LOOKUPS: usize = 8;

/// Everything an admin token lists of a cloud.
#[derive(Debug, Default)]
pub struct CloudListing {
    images: Vec<GlanceImage>,
    /// The projects each shared image is shared with (any member status), by image id.
    members: HashMap<String, HashSet<String>>,
    /// `None`: the cloud has no compute endpoint.
    servers: Option<Vec<NovaServer>>,
    /// `None`: the cloud has no volume endpoint.
    volumes: Option<Vec<CinderVolume>>,
    /// Only what changed since a cursor.
    partial: bool,
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
        Ok(Self {
            images,
            members,
            servers,
            volumes,
            partial: false,
        })
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
        Ok(Self {
            images,
            members,
            servers,
            volumes,
            partial: true,
        })
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

    /// What `project` sees: its own images, public and community ones, shared ones it is a
    /// member of (any status, as `member_status=all` lists them), and its servers and volumes.
    pub fn view(&self, project: &str) -> TenantView<'_> {
        let filter = ProjectFilter::new(
            &TokenScope {
                project_id: Some(project.to_string()),
                admin: true,
            },
            project,
        );
        let images = self
            .images
            .iter()
            .filter(|img| match filter.judge(img) {
                Verdict::Visible => true,
                Verdict::NotVisible => false,
                Verdict::AskMembership => self
                    .members
                    .get(&img.id)
                    .is_some_and(|m| m.contains(project)),
            })
            .collect();
        let of_project = |tenant: &Option<String>| tenant.as_deref() == Some(project);
        TenantView {
            partial: self.partial,
            images,
            servers: self
                .servers
                .as_ref()
                .map(|s| s.iter().filter(|s| of_project(&s.tenant_id)).collect()),
            volumes: self
                .volumes
                .as_ref()
                .map(|v| v.iter().filter(|v| of_project(&v.tenant_id)).collect()),
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
