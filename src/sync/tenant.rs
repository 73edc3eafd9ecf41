//! One tenant's sync: list everything the tenant sees upstream, compare it page by page with
//! the catalog, and only after a complete listing apply the difference in one transaction.
use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::watch;
use tracing::instrument;

use super::attribution::BootVolumes;
use super::cloud::{Cursor, TenantView};
use super::credentials::{self, CredentialError};
use super::lifecycle::{self, Window};
use super::mapping;
use super::project_filter::{ProjectFilter, Verdict};
use crate::catalog::clouds::Cloud;
use crate::catalog::inventory::{
    AppliedCounts, KnownImage, SeenIds, SyncTarget, TenantChanges, TenantFacts, ViewMark,
};
use crate::catalog::sync_runs::RunCounts;
use crate::catalog::tenants::{MissingService, Tenant};
use crate::catalog::{Catalog, CatalogError};
use crate::clock::Clock;
use crate::openstack::cinder;
use crate::openstack::glance::{self, GlanceImage, ImagePager};
use crate::openstack::nova::{NovaServer, ServerPager};
use crate::openstack::{OpenStackError, Session, SessionConfig, SessionSettings};

/// Membership lookups in flight at once, per tenant.
const MEMBER_LOOKUPS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    OpenStack(#[from] OpenStackError),
    #[error("credentials: {0}")]
    Credentials(#[from] CredentialError),
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    #[error("the sync was aborted by shutdown")]
    Aborted,
    /// The cloud's one listing failed or could not be made (cloud mode).
    #[error("cloud listing: {0}")]
    CloudListing(String),
    #[error("another process took the tenant over: this process's claim expired while it synced")]
    LeaseLost,
    #[error(
        "the credentials are scoped to project {token_project}, not to this tenant's project {tenant_project}"
    )]
    WrongProject {
        token_project: String,
        tenant_project: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantSummary {
    pub counts: RunCounts,
    pub applied: AppliedCounts,
    /// Services the cloud lacks, which the sync went on without.
    pub unavailable: Vec<MissingService>,
    /// The tenant's view was the one its last sync applied: nothing was compared.
    pub unchanged: bool,
}

/// What a tenant's sync needs besides the tenant.
pub struct SyncContext<'a> {
    pub catalog: &'a Catalog,
    /// Timeouts and retries of the tenant's session.
    pub session: &'a SessionSettings,
    /// New/changed records held in memory before they go to the staging table.
    pub stage_batch: usize,
    /// New links (Glance ids, far smaller than records) held in memory before they are staged.
    pub stage_links_batch: usize,
    pub shutdown: watch::Receiver<bool>,
    /// When this sync observes what it lists.
    pub clock: &'a Clock,
    /// Where the sync adds the upstream requests it made (the sweep's record of its cloud).
    pub tally: Option<&'a RequestTally>,
}

/// Upstream requests by service, added up over the syncs of a sweep.
#[derive(Debug, Default)]
pub struct RequestTally(std::sync::Mutex<std::collections::BTreeMap<String, u64>>);

impl RequestTally {
    pub fn add(&self, requests: &std::collections::BTreeMap<&'static str, u64>) {
        if let Ok(mut sum) = self.0.lock() {
            for (service, n) in requests {
                *sum.entry((*service).to_string()).or_default() += n;
            }
        }
    }

    pub fn totals(&self) -> std::collections::BTreeMap<String, u64> {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl SyncContext<'_> {
    fn check_shutdown(&self) -> Result<(), SyncError> {
        if *self.shutdown.borrow() {
            Err(SyncError::Aborted)
        } else {
            Ok(())
        }
    }
}

/// Where a tenant's sync gets what it lists.
pub enum Upstream<'a> {
    /// The tenant's own session: what its token sees.
    Session(&'a Session),
    /// What the tenant's own token lists as changed since the cursor (a delta poll).
    Changes(&'a Session, Cursor),
    /// The cloud's one admin listing, narrowed to the tenant's project.
    Cloud(TenantView<'a>),
}

impl Upstream<'_> {
    /// Only what changed is listed: nothing unlisted is gone, and the tenant's facts stay.
    fn partial(&self) -> bool {
        match self {
            Self::Session(_) => false,
            Self::Changes(..) => true,
            Self::Cloud(view) => view.partial,
        }
    }
}

/// Syncs the tenant through its own login.
#[instrument(level = "debug", skip_all, fields(tenant = %target.tenant.name))]
pub async fn sync_tenant(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
) -> Result<TenantSummary, SyncError> {
    own_login(ctx, target, None).await
}

/// Applies what the tenant's own token lists as changed since `since` (a delta poll of a
/// tenant synced per tenant); with nothing changed, writes nothing.
#[instrument(level = "debug", skip_all, fields(tenant = %target.tenant.name))]
pub async fn poll_tenant(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    since: Cursor,
) -> Result<TenantSummary, SyncError> {
    own_login(ctx, target, Some(since)).await
}

/// Logs in as the tenant and syncs it from its own listing (only the changes since a cursor
/// when there is one); the requests go to the context's tally.
async fn own_login(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    since: Option<Cursor>,
) -> Result<TenantSummary, SyncError> {
    let session = new_session(ctx, target)?;
    let result = async {
        login(&session, target).await?;
        let upstream = match since {
            Some(since) => Upstream::Changes(&session, since),
            None => Upstream::Session(&session),
        };
        sync_from(ctx, target, &upstream).await
    }
    .await;
    if let Some(tally) = ctx.tally {
        tally.add(&session.requests());
    }
    result
}

/// Lists what the tenant sees from `upstream`, compares it with the catalog and applies the
/// difference.
#[instrument(level = "debug", skip_all, fields(tenant = %target.tenant.name))]
pub async fn sync_from(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    upstream: &Upstream<'_>,
) -> Result<TenantSummary, SyncError> {
    let (cloud, tenant) = (&target.cloud, &target.tenant);
    // What is listed now is as of now: one time for the whole sync.
    let observed = ctx.clock.now();
    let mut changes = TenantChanges::default();
    let mut counts = RunCounts::default();
    let since = match upstream {
        Upstream::Changes(_, since) => *since,
        _ => Cursor::default(),
    };
    let mut intake = Intake {
        ctx,
        cloud,
        tenant,
        changes: &mut changes,
        counts: &mut counts,
        newest: since,
        trusted: Trusted::default(),
    };
    match upstream {
        Upstream::Session(session) => list_images(session, None, &mut intake).await?,
        Upstream::Changes(session, since) => list_images(session, Some(since), &mut intake).await?,
        Upstream::Cloud(view) => {
            inventory_clear_stage(ctx, tenant).await?;
            intake.trusted = Trusted::of(ctx, view, tenant).await?;
            for chunk in view.images.chunks(crate::openstack::PAGE_LIMIT as usize) {
                ctx.check_shutdown()?;
                intake.take_images(chunk).await?;
            }
        }
    }
    let window = Window {
        since: tenant.last_success_at,
        until: observed,
    };
    let (unavailable, names) = list_instances(upstream, window, &mut intake).await?;
    let newest = intake.newest;
    match upstream {
        Upstream::Cloud(view) if !view.partial => {
            changes.view = ViewMark::Set(view.fingerprint_with(&names));
        }
        Upstream::Session(_) => changes.delta_cursor = serde_json::to_value(newest).ok(),
        Upstream::Changes(..) if newest != since => {
            changes.delta_cursor = serde_json::to_value(newest).ok();
        }
        _ => {}
    }
    if upstream.partial() {
        // A delta poll: what was not listed did not change; the tenant's facts stay.
        changes.images_partial = true;
        changes.servers_unlisted = true;
        if changes.seen_images.is_empty()
            && changes.seen_instances.is_empty()
            && changes.delta_cursor.is_none()
        {
            return Ok(TenantSummary {
                counts,
                applied: AppliedCounts::default(),
                unavailable,
                unchanged: true,
            });
        }
        ctx.check_shutdown()?;
        let applied = apply(ctx, target, upstream, &changes, observed).await?;
        return Ok(TenantSummary {
            counts,
            applied,
            unavailable: Vec::new(),
            unchanged: false,
        });
    }
    let unavailable_services = MissingService::json(&unavailable);
    let facts = match upstream {
        Upstream::Session(session) | Upstream::Changes(session, _) => {
            let info = glance::info(session).await?;
            TenantFacts {
                image_quota_usage: info.usage,
                stores: info.stores,
                import_methods: info.import_methods,
                unavailable_services,
            }
        }
        // Glance's `/v2/info/*` answer for the token's project: an admin listing cannot tell
        // them for another project, so the tenant keeps what it has.
        Upstream::Cloud(_) => TenantFacts {
            unavailable_services,
            ..TenantFacts::stored(tenant)
        },
    };
    if facts != TenantFacts::stored(tenant) {
        changes.facts = Some(facts);
    }

    ctx.check_shutdown()?;
    let applied = apply(ctx, target, upstream, &changes, observed).await?;
    counts.images_removed = applied.images_unlinked as i64;
    Ok(TenantSummary {
        counts,
        applied,
        unavailable,
        unchanged: false,
    })
}

/// Applies the tenant's changes; what it applied from a cloud listing, the next tenant's
/// compare need not read back.
async fn apply(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    upstream: &Upstream<'_>,
    changes: &TenantChanges,
    observed: chrono::DateTime<chrono::Utc>,
) -> Result<AppliedCounts, SyncError> {
    let applied = ctx
        .catalog
        .inventory()
        .apply(target.cloud.id, target.tenant.id, changes, observed)
        .await?;
    if let Upstream::Cloud(view) = upstream {
        view.applied
            .record(view.images.iter().map(|i| i.id.as_str()), &applied);
    }
    Ok(applied.counts)
}

/// What an interrupted earlier sync of this tenant staged is stale.
async fn inventory_clear_stage(ctx: &SyncContext<'_>, tenant: &Tenant) -> Result<(), SyncError> {
    ctx.catalog.inventory().clear_stage(tenant.id).await?;
    Ok(())
}

/// A sync's listing as it goes: pages of images and servers are compared with the catalog
/// into the tenant's changes.
struct Intake<'s, 'c> {
    ctx: &'s SyncContext<'c>,
    cloud: &'s Cloud,
    tenant: &'s Tenant,
    changes: &'s mut TenantChanges,
    counts: &'s mut RunCounts,
    /// The newest change listed so far (where the next delta poll starts).
    newest: Cursor,
    /// Images known to be stored as listed (cloud mode).
    trusted: Trusted,
}

/// Images a compare need not read back (cloud mode): those an earlier apply from the same
/// listing wrote or found as listed, with the tenant's links among them.
#[derive(Default)]
struct Trusted {
    applied: SeenIds,
    /// The tenant's links, read once when there are images to trust.
    linked: SeenIds,
}

impl Trusted {
    async fn of(
        ctx: &SyncContext<'_>,
        view: &TenantView<'_>,
        tenant: &Tenant,
    ) -> Result<Self, SyncError> {
        let inventory = ctx.catalog.inventory();
        let version = inventory.catalog_version(tenant.cloud_id).await?;
        let applied = view.applied.trusted_at(version);
        if applied.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self {
            applied,
            linked: inventory.linked_images(tenant.id).await?,
        })
    }

    /// Whether the tenant is linked to the image, when the image is trusted.
    fn linked(&self, id: &str) -> Option<bool> {
        self.applied.contains(id).then(|| self.linked.contains(id))
    }
}

impl Intake<'_, '_> {
    /// Compares images the tenant sees with the catalog; stages big batches.
    async fn take_images(&mut self, fresh: &[&GlanceImage]) -> Result<(), SyncError> {
        let ids: Vec<String> = fresh
            .iter()
            .filter(|i| self.trusted.linked(&i.id).is_none())
            .map(|i| i.id.clone())
            .collect();
        let known = self
            .ctx
            .catalog
            .inventory()
            .known_images(self.cloud.id, self.tenant.id, &ids)
            .await?;
        compare_images(fresh, &known, &self.trusted, self.changes, self.counts);
        stage_if_large(self.ctx, self.tenant, self.changes).await
    }
}

/// A session for the tenant, not logged in yet.
fn new_session(ctx: &SyncContext<'_>, target: &SyncTarget) -> Result<Session, SyncError> {
    let cloud = &target.cloud;
    Ok(Session::new(SessionConfig {
        auth_url: cloud.auth_url.clone(),
        interface: cloud.interface.as_str().to_string(),
        region: cloud.region.clone(),
        auth: credentials::auth_method(target)?,
        settings: ctx.session.clone(),
    })?)
}

/// Logs the tenant's session in and checks that it is scoped to the tenant's project.
async fn login(session: &Session, target: &SyncTarget) -> Result<(), SyncError> {
    let tenant = &target.tenant;
    session.login().await?;
    // An application credential is bound to its own project: used for another tenant, it
    // would file that project's images under this one.
    if let Some(token_project) = session.scope().await?.project_id
        && token_project != tenant.backend_id
    {
        return Err(SyncError::WrongProject {
            token_project,
            tenant_project: tenant.backend_id.clone(),
        });
    }
    Ok(())
}

/// The tenant's servers with what they count for, and their lifecycle changes; returns the
/// services the cloud lacks. An image census does not need Nova: without it, no server is
/// listed (and none is taken for vanished); without Cinder, boot-from-volume servers count
/// for no image.
async fn list_instances(
    upstream: &Upstream<'_>,
    window: Window,
    intake: &mut Intake<'_, '_>,
) -> Result<(Vec<MissingService>, ImageNames), SyncError> {
    let mut unavailable = Vec::new();
    match upstream {
        Upstream::Session(session) => {
            if !has_endpoint(session, "compute").await? {
                intake.changes.servers_unlisted = true;
                return Ok((vec![MissingService::Compute], ImageNames::new()));
            }
            let volumes = match cinder::list_volumes(session).await? {
                Some(list) => BootVolumes::new(&list.volumes),
                None => {
                    unavailable.push(MissingService::Volume);
                    BootVolumes::default()
                }
            };
            let mut servers = ServerIntake::new(intake, &volumes, window);
            let mut pager = ServerPager::new(session);
            while let Some(page) = pager.next_page().await? {
                intake.ctx.check_shutdown()?;
                intake.newest = intake.newest.advanced([], &page);
                let page: Vec<&NovaServer> = page.iter().collect();
                servers.take(intake, &page).await?;
            }
            intake.changes.upsert_instances = servers.upserts;
            Ok((unavailable, servers.used_names))
        }
        Upstream::Changes(session, since) => {
            if !has_endpoint(session, "compute").await? {
                return Ok((vec![MissingService::Compute], ImageNames::new()));
            }
            let mut changed = Vec::new();
            let mut pager = ServerPager::new(session).changed_since(&since.servers_query());
            while let Some(page) = pager.next_page().await? {
                intake.ctx.check_shutdown()?;
                changed.extend(page);
            }
            intake.newest = intake.newest.advanced([], &changed);
            // Volumes only when a changed server booted from one: an idle poll stays cheap.
            let from_volume = changed
                .iter()
                .any(|s| s.image_id.is_none() && !s.volume_ids.is_empty());
            let volumes = if from_volume {
                cinder::list_volumes(session)
                    .await?
                    .map(|list| BootVolumes::new(&list.volumes))
                    .unwrap_or_default()
            } else {
                BootVolumes::default()
            };
            let mut servers = ServerIntake::new(intake, &volumes, window);
            let changed: Vec<&NovaServer> = changed.iter().collect();
            servers.take(intake, &changed).await?;
            intake.changes.upsert_instances = servers.upserts;
            Ok((Vec::new(), servers.used_names))
        }
        Upstream::Cloud(view) => {
            let Some(listed) = &view.servers else {
                intake.changes.servers_unlisted = true;
                return Ok((vec![MissingService::Compute], ImageNames::new()));
            };
            let volumes = match &view.volumes {
                Some(volumes) => BootVolumes::new(volumes.iter().copied()),
                None => {
                    unavailable.push(MissingService::Volume);
                    BootVolumes::default()
                }
            };
            let mut servers = ServerIntake::new(intake, &volumes, window);
            for chunk in listed.chunks(crate::openstack::PAGE_LIMIT as usize) {
                intake.ctx.check_shutdown()?;
                servers.take(intake, chunk).await?;
            }
            intake.changes.upsert_instances = servers.upserts;
            Ok((unavailable, servers.used_names))
        }
    }
}

/// Names of images by Glance id.
type ImageNames = HashMap<String, String>;

/// Whether the token's catalog has an endpoint of `service_type` for the cloud's interface
/// and region.
async fn has_endpoint(session: &Session, service_type: &str) -> Result<bool, SyncError> {
    match session.endpoint(service_type).await {
        Ok(_) => Ok(true),
        Err(OpenStackError::EndpointMissing { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The images the tenant's own token lists, page by page.
#[instrument(level = "debug", skip_all)]
async fn list_images(
    session: &Session,
    since: Option<&Cursor>,
    intake: &mut Intake<'_, '_>,
) -> Result<(), SyncError> {
    let visibility = ProjectFilter::new(&session.scope().await?, &intake.tenant.backend_id);
    inventory_clear_stage(intake.ctx, intake.tenant).await?;
    let mut pager = match since {
        Some(since) => ImagePager::updated_after(session, &since.images_query()),
        None => ImagePager::new(session),
    };
    while let Some(page) = pager.next_page().await? {
        intake.ctx.check_shutdown()?;
        intake.newest = intake.newest.advanced(&page, []);
        let (mut fresh, mut ask) = split_page(page, &visibility, &intake.changes.seen_images);
        if let Some(since) = since {
            // What the overlap lists again was looked up before; a membership change does
            // not move `updated_at`, so asking again would find nothing new.
            ask.retain(|img| img.updated_at > since.images);
        }
        fresh.extend(members_of(session, &visibility, ask).await?);
        let fresh: Vec<&GlanceImage> = fresh.iter().collect();
        intake.take_images(&fresh).await?;
    }
    Ok(())
}

/// The page's images the tenant sees that this listing has not seen yet, and the shared
/// images of other projects whose member lists must tell. A page may repeat ids of earlier
/// pages (or hold gone images): each id is kept once.
fn split_page(
    page: Vec<GlanceImage>,
    visibility: &ProjectFilter,
    seen: &SeenIds,
) -> (Vec<GlanceImage>, Vec<GlanceImage>) {
    let mut fresh = Vec::with_capacity(page.len());
    let mut ask = Vec::new();
    for img in page {
        if img.is_gone() || seen.contains(&img.id) {
            continue;
        }
        match visibility.judge(&img) {
            Verdict::Visible => fresh.push(img),
            Verdict::NotVisible => {}
            Verdict::AskMembership => ask.push(img),
        }
    }
    (fresh, ask)
}

/// Counts and records what the listed images change: new links, new or changed rows.
/// `known` holds the catalog's rows of the images not `trusted`.
fn compare_images(
    listed: &[&GlanceImage],
    known: &HashMap<String, KnownImage>,
    trusted: &Trusted,
    changes: &mut TenantChanges,
    counts: &mut RunCounts,
) {
    for img in listed {
        if !changes.seen_images.insert(&img.id) {
            continue;
        }
        counts.images_seen += 1;
        let (linked, upsert) = match trusted.linked(&img.id) {
            Some(linked) => (linked, None),
            None => {
                let record = mapping::image_record(img);
                match known.get(&img.id) {
                    // A row new to the catalog is an addition, not an update.
                    None => (false, Some(record)),
                    Some(k) if k.differs_from(&record) => {
                        counts.images_updated += 1;
                        (k.linked, Some(record))
                    }
                    Some(k) => (k.linked, None),
                }
            }
        };
        if linked {
            changes.already_linked += 1;
        } else {
            counts.images_added += 1;
            changes.link.push(img.id.clone());
        }
        if let Some(record) = upsert {
            changes.upsert_images.push(record);
        }
    }
}

/// Bounded memory: hands big batches to the staging table (the catalog is untouched). Links
/// stay in memory longer: staging one costs a row written twice, holding it a short string,
/// and most links of a first sync are to images another tenant added.
async fn stage_if_large(
    ctx: &SyncContext<'_>,
    tenant: &Tenant,
    changes: &mut TenantChanges,
) -> Result<(), SyncError> {
    let stage_links = changes.link.len() >= ctx.stage_links_batch;
    if changes.upsert_images.len() < ctx.stage_batch && !stage_links {
        return Ok(());
    }
    let links: &[String] = if stage_links { &changes.link } else { &[] };
    ctx.catalog
        .inventory()
        .stage(tenant.id, &changes.upsert_images, links)
        .await?;
    changes.upsert_images.clear();
    if stage_links {
        changes.link.clear();
    }
    changes.staged = true;
    Ok(())
}

/// Lookups of one page's shared images of other projects, a few at a time: the images the
/// tenant is a member of.
async fn members_of(
    session: &Session,
    visibility: &ProjectFilter,
    candidates: Vec<GlanceImage>,
) -> Result<Vec<GlanceImage>, SyncError> {
    let lookups = candidates.into_iter().map(|img| async move {
        let status = glance::member_status(session, &img.id, visibility.project_id()).await?;
        Ok::<_, OpenStackError>(status.map(|_| img))
    });
    let found: Vec<Option<GlanceImage>> = stream::iter(lookups)
        .buffer_unordered(MEMBER_LOOKUPS)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Servers compared with the catalog page by page: what they count for, their lifecycle
/// edits, and the rows to write.
struct ServerIntake<'v> {
    volumes: &'v BootVolumes,
    /// Since the tenant's last successful sync: when the changes seen now happened.
    window: Window,
    /// Names of images this very sync adds, which are not in the catalog yet.
    pending_names: HashMap<String, String>,
    upserts: Vec<crate::catalog::inventory::InstanceRecord>,
    /// The names found for the images servers count for (part of the view's fingerprint).
    used_names: ImageNames,
}

impl<'v> ServerIntake<'v> {
    fn new(intake: &Intake<'_, '_>, volumes: &'v BootVolumes, window: Window) -> Self {
        Self {
            volumes,
            window,
            pending_names: intake
                .changes
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
        intake: &mut Intake<'_, '_>,
        page: &[&NovaServer],
    ) -> Result<(), SyncError> {
        let (cloud, tenant) = (intake.cloud, intake.tenant);
        let changes = &mut *intake.changes;
        let inventory = intake.ctx.catalog.inventory();
        let fresh: Vec<&NovaServer> = page
            .iter()
            .copied()
            .filter(|s| !changes.seen_instances.contains(&s.id))
            .collect();
        let ids: Vec<String> = fresh.iter().map(|s| s.id.clone()).collect();
        let sources: Vec<ImageSource> = fresh
            .iter()
            .map(|s| ImageSource::of(s, self.volumes))
            .collect();
        let image_ids: Vec<String> = sources.iter().filter_map(|s| s.id.clone()).collect();
        let known = inventory.known_instances(cloud.id, &ids).await?;
        let mut names = inventory.image_names(cloud.id, &image_ids).await?;
        if changes.staged {
            names.extend(inventory.staged_names(tenant.id, &image_ids).await?);
        }
        for (server, source) in fresh.into_iter().zip(sources) {
            if !changes.seen_instances.insert(server.id.clone()) {
                continue;
            }
            intake.counts.instances_seen += 1;
            let previous = known.get(&server.id);
            // By Glance id when the catalog has the image; else the name recorded upstream
            // (on the boot volume) or when the image was last seen: deleted images keep their
            // usage.
            let found = source.id.as_deref().and_then(|id| {
                self.pending_names
                    .get(id)
                    .cloned()
                    .or_else(|| names.get(id).cloned())
            });
            if let (Some(id), Some(name)) = (&source.id, &found) {
                self.used_names.insert(id.clone(), name.clone());
            }
            let image_name = found
                .or(source.recorded_name)
                .or_else(|| previous.map(|p| p.record.image_name.clone()))
                .unwrap_or_default();
            let record =
                mapping::instance_record(server, source.id, image_name, source.volume, tenant.id);
            // An instance recorded before the history existed starts it as if seen first now.
            let known = previous.filter(|p| !p.lacks_history()).map(|p| &p.record);
            let lived = lifecycle::edits(known, &record, &self.window);
            if !lived.is_empty() {
                changes.lifecycle.push((server.id.clone(), lived));
            }
            if previous.is_none_or(|p| p.differs_from(&record)) {
                self.upserts.push(record);
            }
        }
        Ok(())
    }
}

/// The image a server counts for: its own, or its boot volume's.
struct ImageSource {
    /// The Glance id.
    id: Option<String>,
    /// The name recorded upstream with it (on the boot volume).
    recorded_name: Option<String>,
    /// The boot volume it came from.
    volume: Option<String>,
}

impl ImageSource {
    fn of(server: &NovaServer, volumes: &BootVolumes) -> Self {
        match volumes.of(server) {
            Some(boot) => Self {
                id: boot.image_id.clone(),
                recorded_name: boot.image_name.clone(),
                volume: Some(boot.id.clone()),
            },
            None => Self {
                id: server.image_id.clone(),
                recorded_name: None,
                volume: None,
            },
        }
    }
}
