//! Cloud mode: one admin listing of a whole cloud per sweep, from which each tenant's view is
//! derived with Glance's own rules, instead of one login and one listing per tenant. A cloud
//! with 1,000 projects and 300 public images is then read once per sweep, not 1,000 times.
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use sha2::{Digest as _, Sha256};

use super::attribution::BootVolumes;
use super::tenant::SyncError;
use crate::catalog::inventory::{Applied, SeenIds};
use crate::catalog::tenants::MissingService;
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
    /// Each image's digest, by position: hashed once per listing, not once per tenant.
    digests: Vec<Digest>,
    applied: AppliedImages,
}

/// The images of one listing that syncs from it have applied: the catalog holds each as
/// listed, so the next tenant's compare need not read it back (the public images the first
/// tenant's apply wrote are most of every other tenant's view). They are trusted only while
/// the cloud's listing version is the one the last such apply left: a write from anywhere
/// else (another process, a pull, a delta poll) makes every tenant read the rows again.
#[derive(Debug, Default)]
pub struct AppliedImages(std::sync::Mutex<AppliedState>);

#[derive(Debug, Default)]
struct AppliedState {
    ids: SeenIds,
    /// The cloud's listing version the last apply left; `None` before the first.
    catalog_version: Option<i64>,
}

impl AppliedImages {
    /// The images applied from this listing, when the cloud's listing is still at
    /// `catalog_version`, the version the last apply from it left; else none.
    pub fn trusted_at(&self, catalog_version: i64) -> SeenIds {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if state.catalog_version == Some(catalog_version) {
            state.ids.clone()
        } else {
            SeenIds::default()
        }
    }

    /// Records that an apply from this listing left the catalog holding `images` as listed.
    /// The images applied before are kept when nothing else wrote between the two applies.
    pub fn record<'i>(&self, images: impl IntoIterator<Item = &'i str>, applied: &Applied) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if state.catalog_version != Some(applied.catalog_version_before()) {
            state.ids = SeenIds::default();
        }
        for id in images {
            state.ids.insert(id);
        }
        state.catalog_version = Some(applied.catalog_version);
    }
}

/// SHA-256 of a listed object's fields.
type Digest = [u8; 32];

/// What a fingerprint starts with. The crate's version is part of it: a release may record
/// an image differently, so its first sweep compares every view once.
const FINGERPRINT_SALT: &str = concat!("cloudcensus view ", env!("CARGO_PKG_VERSION"), " 1");

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

impl Cursor {
    /// The time to ask Glance for images updated after (`updated_at=gt:`).
    pub fn images_query(&self) -> String {
        Self::query(self.images)
    }

    /// The time to ask Nova for servers changed since (`changes-since=`).
    pub fn servers_query(&self) -> String {
        Self::query(self.servers)
    }

    fn query(t: Option<DateTime<Utc>>) -> String {
        (t.unwrap_or(DateTime::<Utc>::UNIX_EPOCH) - OVERLAP)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    /// This cursor moved on to the newest change `images` and `servers` show.
    pub fn advanced<'a>(
        &self,
        images: impl IntoIterator<Item = &'a GlanceImage>,
        servers: impl IntoIterator<Item = &'a NovaServer>,
    ) -> Self {
        let newest = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| Ord::max(a, b);
        Self {
            images: images
                .into_iter()
                .map(|i| i.updated_at)
                .fold(self.images, newest),
            servers: servers
                .into_iter()
                .map(|s| s.updated)
                .fold(self.servers, newest),
        }
    }
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
    /// Digest of the above, whatever their order.
    digest: Digest,
    /// What syncs from the same listing have applied.
    pub applied: &'a AppliedImages,
}

impl TenantView<'_> {
    /// The services the cloud lacks: without compute nothing else is asked.
    pub fn unavailable(&self) -> Vec<MissingService> {
        match (&self.servers, &self.volumes) {
            (None, _) => vec![MissingService::Compute],
            (Some(_), None) => vec![MissingService::Volume],
            (Some(_), Some(_)) => Vec::new(),
        }
    }

    /// The Glance ids the view's servers count for (their own image, or their boot
    /// volume's): a sync names their instance rows after these images in the catalog.
    pub fn image_refs(&self) -> Vec<String> {
        let volumes = BootVolumes::new(self.volumes.iter().flatten().copied());
        let source = |s: &NovaServer| match volumes.of(s) {
            Some(boot) => boot.image_id.clone(),
            None => s.image_id.clone(),
        };
        self.servers
            .iter()
            .flatten()
            .filter_map(|s| source(s))
            .collect()
    }

    /// Everything a sync from this view compares with the catalog besides the tenant's own
    /// rows: the view's images, servers and volumes, and `names`, the catalog's names of the
    /// images its servers count for (an image the tenant does not see still names them).
    /// A sync records the fingerprint with the names it used; a later sweep whose view, with
    /// the catalog's names then, has the same fingerprint would find nothing to change.
    pub fn fingerprint_with(&self, names: &HashMap<String, String>) -> String {
        let refs = self.image_refs();
        let mut refs: Vec<(&str, Option<&String>)> =
            refs.iter().map(|id| (id.as_str(), names.get(id))).collect();
        refs.sort_unstable();
        refs.dedup();
        let mut h = DigestWriter::new();
        FINGERPRINT_SALT.hash(&mut h);
        self.digest.hash(&mut h);
        refs.hash(&mut h);
        hex::encode(h.finish_digest())
    }
}

/// Feeds what `Hash` writes into SHA-256: a digest stable across processes and 256 bits
/// wide, where `DefaultHasher` is neither.
struct DigestWriter(Sha256);

impl DigestWriter {
    fn new() -> Self {
        Self(Sha256::new())
    }

    fn finish_digest(self) -> Digest {
        self.0.finalize().into()
    }

    fn of(value: &impl Hash) -> Digest {
        let mut h = Self::new();
        value.hash(&mut h);
        h.finish_digest()
    }
}

impl Hasher for DigestWriter {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Not used: the digest is read whole with `finish_digest`.
    fn finish(&self) -> u64 {
        let d: Digest = self.0.clone().finalize().into();
        u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }
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
        let mut images = Vec::new();
        let mut ids = HashSet::new();
        let mut pager = ImagePager::updated_after(session, &cursor.images_query());
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
                    ServerPager::all_tenants(session).changed_since(&cursor.servers_query());
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
        since.advanced(&self.images, self.servers.iter().flatten())
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
        let digests = images.iter().map(DigestWriter::of).collect();
        Self {
            images,
            servers,
            volumes,
            partial,
            by_project,
            digests,
            applied: AppliedImages::default(),
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
        let servers: Option<Vec<&NovaServer>> = self.servers.as_ref().map(|all| {
            of(&self.by_project.servers)
                .into_iter()
                .map(|i| &all[i])
                .collect()
        });
        let volumes: Option<Vec<&CinderVolume>> = self.volumes.as_ref().map(|all| {
            of(&self.by_project.volumes)
                .into_iter()
                .map(|i| &all[i])
                .collect()
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
        TenantView {
            partial: self.partial,
            images: images.into_iter().map(|i| &self.images[i]).collect(),
            servers,
            volumes,
            digest,
            applied: &self.applied,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::inventory::AppliedCounts;

    /// An apply that left the listing at `version`, having changed it or not.
    fn applied(version: i64, changed: bool) -> Applied {
        Applied {
            counts: AppliedCounts {
                images_linked: u64::from(changed),
                ..AppliedCounts::default()
            },
            catalog_version: version,
        }
    }

    fn trusted(images: &AppliedImages, version: i64, ids: &[&str]) -> Vec<bool> {
        let trusted = images.trusted_at(version);
        ids.iter().map(|id| trusted.contains(id)).collect()
    }

    #[test]
    fn applied_images_are_trusted_only_while_nothing_else_wrote() {
        let images = AppliedImages::default();
        assert!(images.trusted_at(0).is_empty(), "nothing applied yet");

        images.record(["a", "b"], &applied(5, true));
        assert_eq!(trusted(&images, 5, &["a", "b", "c"]), [true, true, false]);
        assert!(images.trusted_at(6).is_empty(), "another write since");

        // The next apply began where the last one left the listing: both are kept.
        images.record(["c"], &applied(6, true));
        assert_eq!(trusted(&images, 6, &["a", "b", "c"]), [true, true, true]);

        // An apply that changed nothing leaves the version as it found it.
        images.record(["d"], &applied(6, false));
        assert_eq!(trusted(&images, 6, &["a", "d"]), [true, true]);

        // Something else wrote between two applies (8 ≠ 6): only the last apply's images stand.
        images.record(["e"], &applied(9, true));
        assert_eq!(trusted(&images, 9, &["a", "d", "e"]), [false, false, true]);
    }
}
