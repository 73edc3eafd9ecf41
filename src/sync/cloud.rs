//! Cloud mode: one admin listing of a whole cloud per sweep, from which each tenant's view is
//! derived with Glance's own rules, instead of one login and one listing per tenant. A cloud
//! with 1,000 projects and 300 public images is then read once per sweep, not 1,000 times.
use std::collections::{HashMap, HashSet};

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
}

/// What one project sees of a cloud listing: what its own token would list.
pub struct TenantView<'a> {
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
        })
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
