//! A whole cloud, listed once through an admin session: every image (both passes, hidden ones
//! too) with the members of each shared image, every project's servers and volumes. Each
//! tenant's [`View`] is derived from it with Glance's own rules instead of one login and one
//! listing per tenant: a cloud with 1,000 projects and 300 public images is read once per
//! sweep, not 1,000 times. With a cursor it lists only what changed since (a delta poll).
use std::collections::{HashMap, HashSet};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::{MEMBER_LOOKUPS, boots_from_volume, has_compute};
use crate::openstack::cinder::{self, CinderVolume};
use crate::openstack::glance::{self, GlanceImage, ImagePager};
use crate::openstack::nova::{NovaServer, ServerPager};
use crate::openstack::{OpenStackError, Session};
use crate::sync::cursor::Cursor;
use crate::sync::error::Error;
use crate::sync::fingerprint::{Digest, DigestWriter};
use crate::sync::listing::{AppliedImages, Extent, Listing, Shared, View};

/// A whole cloud's listing, indexed by project.
#[derive(Debug)]
pub struct CloudListing {
    pub listing: Listing,
    by_project: ByProject,
    /// Each image's digest, by position: hashed once per listing, not once per tenant.
    digests: Vec<Digest>,
    applied: AppliedImages,
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

impl CloudListing {
    /// Lists the whole cloud through an admin `session`, or (`ChangesSince`) only what changed
    /// since a cursor, minus an overlap: images updated after it (both passes) with the
    /// members of the shared ones, servers changed since it (deleted ones included), and,
    /// only when a changed server booted from a volume, the volumes. With nothing changed
    /// that is two image requests and one or two compute requests.
    pub async fn fetch(session: &Session, extent: Extent) -> Result<Self, Error> {
        let since = match extent {
            Extent::Complete => None,
            Extent::ChangesSince(cursor) => Some(cursor),
        };
        let images = all_images(session, since.as_ref()).await?;
        // Images a delta's overlap lists again were looked up before: their members are not
        // asked for again (a membership change does not move `updated_at`).
        let newer: Vec<&GlanceImage> = images
            .iter()
            .filter(|i| since.is_none_or(|c| i.updated_at > c.images))
            .collect();
        let members = members_of_shared(session, &newer).await?;
        let servers = all_servers(session, since.as_ref()).await?;
        let volumes = match since {
            Some(_) if !boots_from_volume(servers.iter().flatten()) => Some(Vec::new()),
            _ => cinder::list_volumes_all_tenants(session)
                .await?
                .map(|list| list.volumes),
        };
        let from = since.unwrap_or_default();
        let cursor = from.advanced(&images, servers.iter().flatten());
        let listing = Listing {
            images,
            servers,
            deleted: Vec::new(),
            volumes,
            facts: None,
            cursor,
            extent,
        };
        Ok(Self::new(listing, &members))
    }

    fn new(listing: Listing, members: &HashMap<String, HashSet<String>>) -> Self {
        let by_project = ByProject::of(&listing, members);
        let digests = listing.images.iter().map(DigestWriter::of).collect();
        Self {
            listing,
            by_project,
            digests,
            applied: AppliedImages::default(),
        }
    }

    /// What `project` sees: its own images, public and community ones, shared ones it is a
    /// member of (any status, as `member_status=all` lists them), and its servers and volumes;
    /// in listing order. These are `ProjectFilter`'s rules for an admin listing, with the
    /// member lists read, applied through an index made once rather than per tenant.
    pub fn view(&self, project: &str) -> View<'_> {
        let listing = &self.listing;
        let none = Vec::new();
        let of = |map: &HashMap<String, Vec<usize>>| map.get(project).unwrap_or(&none).clone();
        let mut images = self.by_project.everyone.clone();
        images.extend(of(&self.by_project.images));
        images.sort_unstable();
        images.dedup();
        let servers: Option<Vec<&NovaServer>> = listing.servers.as_ref().map(|all| {
            let at = of(&self.by_project.servers);
            at.into_iter().map(|i| &all[i]).collect()
        });
        let volumes: Option<Vec<&CinderVolume>> = listing.volumes.as_ref().map(|all| {
            let at = of(&self.by_project.volumes);
            at.into_iter().map(|i| &all[i]).collect()
        });
        // Sorted digests: a listing that comes back in another order is the same view.
        let sorted = |mut d: Vec<Digest>| {
            d.sort_unstable();
            d
        };
        let digest = DigestWriter::of(&(
            sorted(images.iter().map(|&i| self.digests[i]).collect()),
            servers
                .as_ref()
                .map(|s| sorted(s.iter().map(DigestWriter::of).collect())),
            volumes
                .as_ref()
                .map(|v| sorted(v.iter().map(DigestWriter::of).collect())),
        ));
        View {
            images: images.into_iter().map(|i| &listing.images[i]).collect(),
            servers,
            deleted: Vec::new(),
            volumes,
            facts: None,
            complete: listing.is_complete(),
            cursor: None,
            shared: Some(Shared {
                digest,
                applied: &self.applied,
            }),
        }
    }

    /// Images, servers and volumes listed.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let l = &self.listing;
        (
            l.images.len(),
            l.servers.as_ref().map_or(0, Vec::len),
            l.volumes.as_ref().map_or(0, Vec::len),
        )
    }
}

impl ByProject {
    fn of(listing: &Listing, members: &HashMap<String, HashSet<String>>) -> Self {
        let mut by_project = Self::default();
        for (i, img) in listing.images.iter().enumerate() {
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
        for (i, s) in listing.servers.iter().flatten().enumerate() {
            if let Some(t) = &s.tenant_id {
                by_project.servers.entry(t.clone()).or_default().push(i);
            }
        }
        for (i, v) in listing.volumes.iter().flatten().enumerate() {
            if let Some(t) = &v.tenant_id {
                by_project.volumes.entry(t.clone()).or_default().push(i);
            }
        }
        by_project
    }
}

/// Every image of the cloud (or those updated since the cursor), each once, gone ones left out.
async fn all_images(session: &Session, since: Option<&Cursor>) -> Result<Vec<GlanceImage>, Error> {
    let mut images = Vec::new();
    let mut ids = HashSet::new();
    let mut pager = match since {
        Some(cursor) => ImagePager::updated_after(session, &cursor.images_query()),
        None => ImagePager::new(session),
    };
    while let Some(page) = pager.next_page().await? {
        images.extend(
            page.into_iter()
                .filter(|i| !i.is_gone() && ids.insert(i.id.clone())),
        );
    }
    Ok(images)
}

/// Every project's servers (or those changed since the cursor), each once; `None` when the
/// cloud has no compute endpoint.
async fn all_servers(
    session: &Session,
    since: Option<&Cursor>,
) -> Result<Option<Vec<NovaServer>>, Error> {
    if !has_compute(session).await? {
        return Ok(None);
    }
    let mut servers = Vec::new();
    let mut ids = HashSet::new();
    let mut pager = ServerPager::all_tenants(session);
    if let Some(cursor) = since {
        pager = pager.changed_since(&cursor.servers_query());
    }
    while let Some(page) = pager.next_page().await? {
        servers.extend(page.into_iter().filter(|s| ids.insert(s.id.clone())));
    }
    Ok(Some(servers))
}

/// The member projects of each shared image, a few lists at a time.
async fn members_of_shared(
    session: &Session,
    images: &[&GlanceImage],
) -> Result<HashMap<String, HashSet<String>>, Error> {
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
