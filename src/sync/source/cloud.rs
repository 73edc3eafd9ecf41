//! A whole cloud, listed once through an admin session: every image (both passes, hidden ones
//! too) with the members of each shared image, every project's servers and volumes. Each
//! tenant's [`View`] is derived from it with Glance's own rules instead of one login and one
//! listing per tenant: a cloud with 1,000 projects and 300 public images is read once per
//! sweep, not 1,000 times. With a cursor it lists only what changed since (a delta poll).
//! A complete listing also reads Glance's `/v2/info/*` facts once and tells each view its
//! project's ([`CloudFacts`]).
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::facts::{self, Census, CloudFacts, FactsUnread};
use super::{MEMBER_LOOKUPS, boots_from_volume, has_compute, member_status};
use crate::catalog::{CloudId, MemberStatus};
use crate::openstack::cinder::{self, CinderVolume};
use crate::openstack::glance::{self, GlanceImage, ImageMember, ImagePager};
use crate::openstack::nova::{NovaServer, ServerPager};
use crate::openstack::{OpenStackError, Session};
use crate::sync::action_log::{self, ActionLogs};
use crate::sync::context::SyncContext;
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
    /// Glance's facts (a complete listing's; `Err`: why there are none, and the tenants keep
    /// theirs).
    pub facts: Result<CloudFacts, FactsUnread>,
    /// What each project owns, as Glance's quota counts it.
    census: HashMap<String, Census>,
}

/// Positions in a listing by project, so a tenant's view is not a scan of the whole cloud.
#[derive(Debug, Default)]
struct ByProject {
    /// Public and community images: every project sees them.
    everyone: Vec<usize>,
    /// Images a project owns or is a member of (shared ones, any member status).
    images: HashMap<String, Vec<usize>>,
    /// The statuses of a project's memberships of other projects' shared images.
    memberships: HashMap<String, Vec<(usize, MemberStatus)>>,
    servers: HashMap<String, Vec<usize>>,
    volumes: HashMap<String, Vec<usize>>,
}

impl CloudListing {
    /// Lists the whole cloud through an admin `session`, or (`ChangesSince`) only what changed
    /// since a cursor, minus an overlap: images updated after it (both passes) with the
    /// members of the shared ones, servers changed since it (deleted ones included), and,
    /// only when a changed server booted from a volume, the volumes. With nothing changed
    /// that is two image requests and one or two compute requests.
    /// The action logs of new, changed and deleted servers are read through the same session
    /// (those of the servers a sweep finds deleted, apart: see `sweep`).
    pub async fn fetch(
        ctx: &SyncContext<'_>,
        session: &Session,
        cloud: CloudId,
        extent: Extent,
    ) -> Result<Self, Error> {
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
        let actions = match &servers {
            Some(servers) => {
                let asked: Vec<&NovaServer> = servers.iter().collect();
                action_log::read(ctx, session, cloud, &asked).await?
            }
            None => ActionLogs::default(),
        };
        // Facts only with a complete listing, as a tenant's own sync reads them: an idle
        // delta poll stays a few requests.
        let facts = match since {
            None => CloudFacts::read(session).await,
            Some(_) => Err(FactsUnread::Delta),
        };
        let from = since.unwrap_or_default();
        let cursor = from.advanced(&images, servers.iter().flatten());
        let listing = Listing {
            images,
            memberships: HashMap::new(),
            servers,
            deleted: Vec::new(),
            volumes,
            facts: None,
            cursor,
            extent,
            actions,
        };
        Ok(Self::new(listing, &members, facts))
    }

    fn new(
        listing: Listing,
        members: &HashMap<String, Vec<ImageMember>>,
        facts: Result<CloudFacts, FactsUnread>,
    ) -> Self {
        let by_project = ByProject::of(&listing, members);
        let digests = listing.images.iter().map(DigestWriter::of).collect();
        let census = match facts {
            Ok(_) => Census::by_owner(&listing.images),
            Err(_) => HashMap::new(),
        };
        Self {
            listing,
            by_project,
            digests,
            applied: AppliedImages::default(),
            facts,
            census,
        }
    }

    /// What `project` sees: its own images, public and community ones, shared ones it is a
    /// member of (any status, as `member_status=all` lists them, each with its status), and
    /// its servers and volumes; in listing order. These are `ProjectFilter`'s rules for an admin listing, with the
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
        let told = self
            .facts
            .as_ref()
            .ok()
            .map(|f| Box::new(f.for_project(project, self.census.get(project))));
        // Sorted digests: a listing that comes back in another order is the same view.
        let sorted = |mut d: Vec<Digest>| {
            d.sort_unstable();
            d
        };
        let memberships = self.by_project.memberships.get(project);
        let mut statuses: Vec<(Digest, MemberStatus)> = memberships
            .into_iter()
            .flatten()
            .map(|&(i, status)| (self.digests[i], status))
            .collect();
        statuses.sort_unstable();
        // A member's status changes without its image changing: the digest holds both.
        let mut digest = DigestWriter::new();
        (
            sorted(images.iter().map(|&i| self.digests[i]).collect()),
            statuses,
            servers
                .as_ref()
                .map(|s| sorted(s.iter().map(DigestWriter::of).collect())),
            volumes
                .as_ref()
                .map(|v| sorted(v.iter().map(DigestWriter::of).collect())),
        )
            .hash(&mut digest);
        facts::hash_facts(told.as_deref(), &mut digest);
        let digest = digest.finish_digest();
        View {
            images: images.into_iter().map(|i| &listing.images[i]).collect(),
            memberships: memberships
                .into_iter()
                .flatten()
                .map(|&(i, status)| (listing.images[i].id.as_str(), status))
                .collect(),
            servers,
            deleted: Vec::new(),
            volumes,
            facts: told,
            complete: listing.is_complete(),
            cursor: None,
            shared: Some(Shared {
                digest,
                applied: &self.applied,
            }),
            actions: &listing.actions,
            deleted_actions: None,
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
    fn of(listing: &Listing, members: &HashMap<String, Vec<ImageMember>>) -> Self {
        let mut by_project = Self::default();
        for (i, img) in listing.images.iter().enumerate() {
            if let Some(owner) = &img.owner {
                by_project.images.entry(owner.clone()).or_default().push(i);
            }
            match img.visibility.as_str() {
                "public" | "community" => by_project.everyone.push(i),
                "shared" => {
                    for member in members.get(&img.id).into_iter().flatten() {
                        let project = &member.member_id;
                        // The owner sees its image as its own, whatever its member list says.
                        if img.owner.as_ref() == Some(project) {
                            continue;
                        }
                        by_project
                            .images
                            .entry(project.clone())
                            .or_default()
                            .push(i);
                        by_project
                            .memberships
                            .entry(project.clone())
                            .or_default()
                            .push((i, member_status(&member.status)));
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

/// The memberships of each shared image, a few lists at a time.
async fn members_of_shared(
    session: &Session,
    images: &[&GlanceImage],
) -> Result<HashMap<String, Vec<ImageMember>>, Error> {
    // Owned ids: a stream of futures borrowing through iterator closures is not `Send`
    // for every lifetime, which a spawned sweep needs.
    let shared: Vec<String> = images
        .iter()
        .filter(|i| i.visibility == "shared")
        .map(|i| i.id.clone())
        .collect();
    let lookups = shared.into_iter().map(|id| async move {
        let members = glance::members(session, &id).await?;
        Ok::<_, OpenStackError>((id, members))
    });
    Ok(stream::iter(lookups)
        .buffer_unordered(MEMBER_LOOKUPS)
        .try_collect()
        .await?)
}
