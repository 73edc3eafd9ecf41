//! What a source lists ([`Listing`]) and what of it one tenant sees ([`View`]): the one shape
//! every source produces and the reconcile applies.
use std::collections::HashMap;
use std::hash::Hash;

use super::action_log::ActionLogs;
use super::attribution::BootVolumes;
use super::cursor::Cursor;
use super::fingerprint::{Digest, DigestWriter, FINGERPRINT_SALT};
use crate::catalog::MemberStatus;
use crate::catalog::inventory::{Applied, SeenIds};
use crate::catalog::tenants::MissingService;
use crate::openstack::cinder::CinderVolume;
use crate::openstack::glance::{GlanceImage, GlanceInfo};
use crate::openstack::nova::NovaServer;

/// Membership statuses by Glance id: of the shared images of other projects a project sees
/// as a member.
pub type Memberships = HashMap<String, MemberStatus>;

/// How much of what it lists a listing covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// Everything: what it does not list is gone.
    Complete,
    /// Only what changed since this cursor: nothing unlisted is gone, and facts it cannot
    /// tell stay as stored.
    ChangesSince(Cursor),
}

/// Everything one source listed, owned.
#[derive(Debug)]
pub struct Listing {
    pub images: Vec<GlanceImage>,
    /// The status of the listing project's membership of each listed image it sees as a
    /// member of another project's shared image, by Glance id (a tenant's own listing; a
    /// whole-cloud listing keeps its members per project).
    pub memberships: Memberships,
    /// `None`: the cloud has no compute endpoint.
    pub servers: Option<Vec<NovaServer>>,
    /// Servers Nova lists as deleted that the catalog held as live and a complete listing no
    /// longer shows (see [`deletions`](super::source::deletions)).
    pub deleted: Vec<NovaServer>,
    /// `None`: the cloud has no volume endpoint.
    pub volumes: Option<Vec<CinderVolume>>,
    /// Glance's `/v2/info/*` for the listing's project; `None` where the source cannot tell
    /// them (a delta), and the tenant keeps its own. A whole-cloud listing keeps its facts
    /// apart and tells each view its project's.
    pub facts: Option<GlanceInfo>,
    /// The newest change the listing shows.
    pub cursor: Cursor,
    pub extent: Extent,
    /// The action logs of the listed servers that needed them (new, changed or deleted ones),
    /// and of `deleted`'s.
    pub actions: ActionLogs,
}

impl Listing {
    pub fn is_complete(&self) -> bool {
        self.extent == Extent::Complete
    }

    /// Where the next delta poll starts when this listing moves it: always after a complete
    /// listing, after a delta only when it showed something newer.
    pub fn next_cursor(&self) -> Option<Cursor> {
        match self.extent {
            Extent::Complete => Some(self.cursor),
            Extent::ChangesSince(since) => (self.cursor != since).then_some(self.cursor),
        }
    }

    /// Whether the listing holds anything (a delta poll with nothing to apply).
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.servers.as_ref().is_none_or(Vec::is_empty)
    }

    /// The whole listing as one tenant's view: what a tenant's own token listed.
    pub fn whole(&self) -> View<'_> {
        View {
            images: self.images.iter().collect(),
            memberships: self
                .memberships
                .iter()
                .map(|(id, status)| (id.as_str(), *status))
                .collect(),
            servers: self.servers.as_ref().map(|s| s.iter().collect()),
            deleted: self.deleted.iter().collect(),
            volumes: self.volumes.as_ref().map(|v| v.iter().collect()),
            facts: self.facts.clone().map(Box::new),
            complete: self.is_complete(),
            cursor: self.next_cursor(),
            shared: None,
            actions: &self.actions,
            deleted_actions: None,
        }
    }
}

/// What one tenant sees of a listing: what the reconcile compares with the catalog.
pub struct View<'a> {
    pub images: Vec<&'a GlanceImage>,
    /// The tenant's membership status of each image it sees as a member of another
    /// project's shared image, by Glance id; the other images are no memberships.
    pub memberships: HashMap<&'a str, MemberStatus>,
    pub servers: Option<Vec<&'a NovaServer>>,
    /// Servers Nova lists as deleted that explain instances `servers` no longer shows: their
    /// lives end when Nova terminated them. Not part of the view's digest (nor its count of
    /// servers seen): a view that shows the same live servers is the same view.
    pub deleted: Vec<&'a NovaServer>,
    pub volumes: Option<Vec<&'a CinderVolume>>,
    /// Glance's `/v2/info/*` as the tenant's own token would read them; `None`: not told.
    /// Owned (a few small documents): a whole-cloud listing makes each project's.
    pub facts: Option<Box<GlanceInfo>>,
    /// Only a complete view may take what it does not list for gone.
    pub complete: bool,
    /// Where the tenant's own next delta poll starts, when this view moves it (views of the
    /// tenant's own listing; a whole-cloud listing keeps its cursor on the cloud).
    pub cursor: Option<Cursor>,
    /// Set for a view of a whole-cloud listing that other tenants' views share.
    pub shared: Option<Shared<'a>>,
    /// The action logs read for the listing's servers.
    pub actions: &'a ActionLogs,
    /// The action logs of `deleted`, where they were read apart from the listing's (a
    /// whole-cloud sweep reads them with the deletions it explains for the changed views);
    /// a tenant's own listing has them in `actions`.
    pub deleted_actions: Option<&'a ActionLogs>,
}

/// A view's share of a whole-cloud listing.
pub struct Shared<'a> {
    /// Digest of the view's images, servers and volumes, whatever their order.
    pub digest: Digest,
    /// What syncs from the same listing have applied.
    pub applied: &'a AppliedImages,
}

impl View<'_> {
    /// The status of the tenant's membership of a listed image (`None`: no membership).
    pub fn member_status(&self, id: &str) -> Option<MemberStatus> {
        self.memberships.get(id).copied()
    }

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
    /// `None` for a view that is not part of a whole-cloud listing.
    pub fn fingerprint_with(&self, names: &HashMap<String, String>) -> Option<String> {
        let shared = self.shared.as_ref()?;
        let refs = self.image_refs();
        let mut refs: Vec<(&str, Option<&String>)> =
            refs.iter().map(|id| (id.as_str(), names.get(id))).collect();
        refs.sort_unstable();
        refs.dedup();
        let mut h = DigestWriter::new();
        FINGERPRINT_SALT.hash(&mut h);
        shared.digest.hash(&mut h);
        refs.hash(&mut h);
        Some(hex::encode(h.finish_digest()))
    }
}

/// The images of one whole-cloud listing that syncs from it have applied: the catalog holds
/// each as listed, so the next tenant's compare need not read it back (the public images the
/// first tenant's apply wrote are most of every other tenant's view). They are trusted only
/// while the cloud's listing version is the one the last such apply left: a write from
/// anywhere else (another process, a pull, a delta poll) makes every tenant read the rows again.
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
