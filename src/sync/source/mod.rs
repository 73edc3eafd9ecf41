//! Where listings come from. Each source produces a [`Listing`](super::listing::Listing) —
//! complete, or the changes since a cursor — and each tenant's
//! [`View`](super::listing::View) of it goes to the one reconcile:
//! - [`own`]: a tenant's own login (per-tenant mode, pulls, its delta polls);
//! - [`cloud`]: one admin listing of a whole cloud, viewed per project (cloud mode, the
//!   cloud's delta polls), with [`facts`] telling each project's Glance `/v2/info/*`.
//!
//! [`deletions`] explains what a complete listing of either no longer shows: the servers
//! Nova lists as deleted since the last one.
//!
//! A new source (a batch of bus notifications, say) is one new file here that builds a
//! `Listing` of what it learned, with `Extent::ChangesSince`.
pub mod cloud;
pub mod deletions;
mod facts;
pub mod own;

use crate::catalog::MemberStatus;
use crate::openstack::nova::NovaServer;
use crate::openstack::{OpenStackError, Session};
use crate::sync::error::Error;

/// Member lists (or memberships) of shared images read at once.
const MEMBER_LOOKUPS: usize = 8;

/// Whether the cloud has a compute endpoint: an image census does not need Nova, so a cloud
/// without one lists no servers (and takes none for gone).
async fn has_compute(session: &Session) -> Result<bool, Error> {
    match session.endpoint("compute").await {
        Ok(_) => Ok(true),
        Err(OpenStackError::EndpointMissing { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether a server booted from a volume: only then does a delta need the volumes.
fn boots_from_volume<'a>(mut servers: impl Iterator<Item = &'a NovaServer>) -> bool {
    servers.any(|s| s.image_id.is_none() && !s.volume_ids.is_empty())
}

/// A membership's status as Glance names it. Upstream text is untrusted: a status Glance does
/// not have counts as pending, so the Glance face's default listing (accepted only) leaves
/// the image out rather than show what its member never accepted.
fn member_status(raw: &str) -> MemberStatus {
    MemberStatus::parse(raw).unwrap_or(MemberStatus::Pending)
}
