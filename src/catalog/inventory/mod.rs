//! What a sync reads and writes: comparing a page of upstream images or servers with the
//! catalog (this module), staging large listings (`staging`), and applying one tenant's
//! complete listing in a single transaction (`apply`).
//!
//! An image's (and an instance's) columns are defined once, by its entity: a record is the
//! entity's model, compared and written column by column, and the staging table names its
//! columns after the image's. Adding a column takes the entity field, the mapping from
//! OpenStack, and a migration of both tables (a test fails when the staging table lags).
mod apply;
pub(super) use apply::unlink;
mod lifecycle;
mod staging;

use std::collections::{HashMap, HashSet};

use entity::{image_tenants, images, instances, tenants};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait, Iterable, ModelTrait,
    QueryFilter, QuerySelect,
};

use super::clouds::Cloud;
use super::credentials::Credentials;
use super::tenants::Tenant;
use super::{
    Catalog, CatalogError, CatalogResult, CloudId, DatedBy, ImageId, MemberStatus, Scope,
    ServerStatus, TenantId,
};

/// Ids looked up per query while comparing a page (a Glance page holds up to 1000). SQLite
/// gains from fewer round trips; PostgreSQL plans `IN` lists of 1000 worse than of 400 (an idle
/// re-sync ran at 40k rather than 67k links/s).
fn lookup_chunk(db: &DatabaseConnection) -> usize {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => 1000,
        _ => 400,
    }
}

/// An image as a sync maps it from Glance: the catalog's row, whose `id`, `uuid` and
/// `cloud_id` the catalog assigns when it stores it.
pub type ImageRecord = images::Model;

/// A server as a sync maps it from Nova; `id`, `uuid` and `cloud_id` as for images.
pub type InstanceRecord = instances::Model;

/// The columns that describe an image (what a sync takes from Glance and overwrites): all
/// but the row's identity.
fn image_columns() -> impl Iterator<Item = images::Column> {
    use images::Column as C;
    C::iter().filter(|c| !matches!(c, C::Id | C::Uuid | C::CloudId | C::BackendId))
}

/// The columns that describe an instance: all but the row's identity and its write stamp.
fn instance_columns() -> impl Iterator<Item = instances::Column> {
    use instances::Column as C;
    C::iter().filter(|c| !matches!(c, C::Id | C::Uuid | C::CloudId | C::BackendId | C::UsageSeq))
}

/// `INSERT INTO image_tenants (image_id, tenant_id, member_status) <select> ON CONFLICT DO
/// NOTHING`: links whose (image id, tenant id, member status) the select yields.
fn insert_links(
    select: sea_orm::sea_query::SelectStatement,
) -> Result<sea_orm::sea_query::InsertStatement, sea_orm::DbErr> {
    let key = [
        image_tenants::Column::ImageId,
        image_tenants::Column::TenantId,
    ];
    use sea_orm::sea_query::{OnConflict, Query};
    Ok(Query::insert()
        .into_table(image_tenants::Entity)
        .columns(key.into_iter().chain([image_tenants::Column::MemberStatus]))
        .select_from(select)
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
        .on_conflict(OnConflict::columns(key).do_nothing().to_owned())
        .to_owned())
}

/// A link a sync makes: the image's Glance id, and the status of the tenant's membership when
/// it sees the image as a member of another project's shared image (`None`: no membership).
pub type NewLink = (String, Option<MemberStatus>);

/// A stored status as a value to bind (`NULL` for none).
fn status_value(status: Option<MemberStatus>) -> sea_orm::Value {
    status.map(|s| s.as_str().to_string()).into()
}

/// An image as the catalog has it now, and whether (and how) the tenant already sees it.
pub struct KnownImage {
    pub record: ImageRecord,
    pub linked: bool,
    /// The stored status of the tenant's link, when linked.
    pub member_status: Option<MemberStatus>,
}

impl KnownImage {
    /// Whether Glance now describes the image otherwise than the catalog has it.
    pub fn differs_from(&self, listed: &ImageRecord) -> bool {
        image_columns().any(|c| self.record.get(c) != listed.get(c))
    }
}

/// An instance as the catalog has it now.
pub struct KnownInstance {
    pub record: InstanceRecord,
    /// Whether its lifecycle history is open (an instance recorded before the history existed,
    /// or whose open interval was pruned, has none).
    pub has_open_interval: bool,
}

impl KnownInstance {
    /// A live instance with no open interval: recorded before the lifecycle history existed.
    /// Its history starts as if it were seen for the first time.
    pub fn lacks_history(&self) -> bool {
        let r = &self.record;
        let ended = r.deleted_at.is_some() || r.terminated_at.is_some() || r.status.is_deleted();
        !ended && !self.has_open_interval
    }

    /// Whether the listed server differs from the row (its tenant, or being gone, included).
    pub fn differs_from(&self, listed: &InstanceRecord) -> bool {
        instance_columns().any(|c| self.record.get(c) != listed.get(c))
    }
}

/// A live instance a complete listing no longer shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vanished {
    pub backend_id: String,
    /// Nova's `updated` when the instance was last listed: it was deleted no earlier.
    pub upstream_updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A tenant to sync: the tenant, its cloud, and the credentials to log in with (the
/// tenant's own, else the cloud's).
pub struct SyncTarget {
    pub tenant: Tenant,
    pub cloud: Cloud,
    /// `Err` when the stored credentials cannot be opened (the sync records the failure).
    pub credentials: Result<Option<Credentials>, crate::crypto::CryptoError>,
}

/// Glance ids a listing has seen, kept as 64-bit hashes: a million ids take ~16 MiB rather
/// than ~100 MiB. (SipHash with fixed keys; a collision, about 3e-8 at a million ids, would
/// make one image look like a repeat.)
#[derive(Clone, Default, Debug)]
pub struct SeenIds(HashSet<u64>);

impl SeenIds {
    fn hash(id: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
    }

    /// `false` when the id was seen before.
    pub fn insert(&mut self, id: &str) -> bool {
        self.0.insert(Self::hash(id))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.contains(&Self::hash(id))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A tenant's links as a compare reads them at once: which Glance ids, and the status of
/// each link that has one.
#[derive(Clone, Default, Debug)]
pub struct TenantLinks {
    pub ids: SeenIds,
    pub statuses: HashMap<String, MemberStatus>,
}

/// Everything one tenant's complete listing changes.
#[derive(Default, Debug)]
pub struct TenantChanges {
    /// New or changed image rows not yet staged.
    pub upsert_images: Vec<ImageRecord>,
    /// Glance ids the tenant sees but is not yet linked to (with their membership's status),
    /// not yet staged.
    pub link: Vec<NewLink>,
    /// Links whose membership status changes (a member accepted, say), by Glance id. Kept in
    /// memory, never staged: a change of status is rare, and a first sync, the one that
    /// stages, has only new links.
    pub restatus: Vec<NewLink>,
    /// Whether earlier batches of the two lists above went to the staging table.
    pub staged: bool,
    /// Every Glance id the tenant sees (to find what it no longer sees).
    pub seen_images: SeenIds,
    /// How many of the seen images the tenant was linked to when they were compared. When
    /// the tenant has that many links, none is to an image it no longer sees, and the apply
    /// need not look for one.
    pub already_linked: u64,
    pub upsert_instances: Vec<InstanceRecord>,
    pub seen_instances: HashSet<String>,
    /// How instances' recorded lives change, by Nova id, each in order.
    pub lifecycle: Vec<(String, Vec<IntervalEdit>)>,
    /// What the sync learned of the tenant's services, when it differs from what is stored.
    pub facts: Option<TenantFacts>,
    /// The cloud has no compute endpoint, or only changed servers were listed (a delta
    /// poll): an unlisted server has not vanished.
    pub servers_unlisted: bool,
    /// Only changed images were listed (a delta poll): an unlisted image is still seen.
    pub images_partial: bool,
    /// What becomes of the fingerprint of the tenant's view.
    pub view: ViewMark,
    /// Where the next delta poll of the tenant through its own login starts, when this
    /// listing moves it.
    pub delta_cursor: Option<serde_json::Value>,
}

/// A tenant keeps the fingerprint of the whole-cloud view its last sync applied while the
/// catalog still holds what that view says (then a sweep with the same view skips the
/// compare). Image rows are shared by the tenants that see them, so a write from anything
/// but a whole-cloud view forgets theirs too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ViewMark {
    /// The changes make the catalog hold this view of a whole-cloud listing.
    Set(String),
    /// The changes come from elsewhere (the tenant's own listing, a delta poll).
    #[default]
    Forget,
}

/// A change to an instance's recorded life.
#[derive(Clone, Debug, PartialEq)]
pub enum IntervalEdit {
    /// Closes the open interval at this time (never before it started).
    Close(Boundary),
    /// Adds an interval, open when `ended` is `None`.
    Add(Stint),
}

/// When an interval starts or ends, and how that time was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boundary {
    pub at: chrono::DateTime<chrono::Utc>,
    pub by: DatedBy,
}

/// A stretch of an instance's life in one status, at one billed size, counting for one image
/// under one name.
#[derive(Clone, Debug, PartialEq)]
pub struct Stint {
    pub status: ServerStatus,
    pub started: Boundary,
    pub ended: Option<Boundary>,
    pub vcpus: Option<i32>,
    pub ram_mib: Option<i64>,
    /// The billed disk: root plus ephemeral, or the boot volume's size.
    pub disk_gib: Option<i64>,
    pub image_backend_id: Option<String>,
    pub image_name: String,
}

/// What a sync learns of a tenant's services besides images and servers: Glance's
/// `/v2/info/*` documents and which services the cloud lacks.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantFacts {
    pub image_quota_usage: Option<serde_json::Value>,
    pub stores: Option<serde_json::Value>,
    pub import_methods: Option<serde_json::Value>,
    pub unavailable_services: serde_json::Value,
}

impl TenantFacts {
    /// The facts as stored on `tenant`.
    pub fn stored(tenant: &super::tenants::Tenant) -> Self {
        Self {
            image_quota_usage: tenant.image_quota_usage.clone(),
            stores: tenant.stores.clone(),
            import_methods: tenant.import_methods.clone(),
            unavailable_services: tenant.unavailable_services.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppliedCounts {
    pub images_upserted: u64,
    pub images_linked: u64,
    pub images_unlinked: u64,
    pub images_deleted: u64,
    /// Links whose membership status changed.
    pub memberships_changed: u64,
    pub instances_upserted: u64,
    pub instances_marked_deleted: u64,
    /// Lifecycle intervals added or closed.
    pub intervals_written: u64,
}

impl AppliedCounts {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the cloud's image list changed (instances do not show in it).
    pub fn changes_listing(&self) -> bool {
        self.images_upserted
            + self.images_linked
            + self.images_unlinked
            + self.images_deleted
            + self.memberships_changed
            > 0
    }

    /// Whether the cloud's instance counts (`usage_stats`) may have changed.
    pub fn changes_usage(&self) -> bool {
        self.instances_upserted + self.instances_marked_deleted + self.intervals_written > 0
    }

    pub fn rows_written(&self) -> u64 {
        self.images_upserted
            + self.images_linked
            + self.images_unlinked
            + self.images_deleted
            + self.memberships_changed
            + self.instances_upserted
            + self.instances_marked_deleted
            + self.intervals_written
    }
}

/// What an apply wrote, and the cloud's listing version it left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub counts: AppliedCounts,
    /// The cloud's `catalog_version` as the apply committed it: one more than before when the
    /// apply changed the cloud's listing, else as before.
    pub catalog_version: i64,
}

impl Applied {
    /// The version the cloud's listing had when the apply began.
    pub fn catalog_version_before(&self) -> i64 {
        self.catalog_version - i64::from(self.counts.changes_listing())
    }
}

pub struct Inventory<'a>(pub(super) &'a Catalog);

impl Inventory<'_> {
    /// The tenant to sync, with its cloud and opened credentials.
    pub async fn target(&self, tenant_id: TenantId) -> CatalogResult<SyncTarget> {
        let Some((tenant, Some(cloud))) = tenants::Entity::find_by_id(tenant_id)
            .find_also_related(entity::service_settings::Entity)
            .one(self.0.writer())
            .await?
        else {
            return Err(CatalogError::NotFound);
        };
        let sealed = tenant
            .credentials
            .as_deref()
            .or(cloud.credentials.as_deref());
        let credentials = sealed
            .map(|sealed| Credentials::open(&self.0.secrets, sealed))
            .transpose();
        Ok(SyncTarget {
            tenant,
            cloud,
            credentials,
        })
    }

    /// The catalog rows for these Glance ids of one cloud, with the tenant's links.
    pub async fn known_images(
        &self,
        cloud: CloudId,
        tenant_id: TenantId,
        backend_ids: &[String],
    ) -> CatalogResult<HashMap<String, KnownImage>> {
        let db = self.0.writer();
        let mut out = HashMap::with_capacity(backend_ids.len());
        for chunk in backend_ids.chunks(lookup_chunk(db)) {
            let rows = images::Entity::find()
                .filter(images::Column::CloudId.eq(cloud))
                .filter(images::Column::BackendId.is_in(chunk.iter().cloned()))
                .all(db)
                .await?;
            let ids: Vec<ImageId> = rows.iter().map(|r| r.id).collect();
            let linked: HashMap<ImageId, Option<MemberStatus>> = image_tenants::Entity::find()
                .select_only()
                .column(image_tenants::Column::ImageId)
                .column(image_tenants::Column::MemberStatus)
                .filter(image_tenants::Column::TenantId.eq(tenant_id))
                .filter(image_tenants::Column::ImageId.is_in(ids))
                .into_tuple::<(ImageId, Option<MemberStatus>)>()
                .all(db)
                .await?
                .into_iter()
                .collect();
            for row in rows {
                let link = linked.get(&row.id).copied();
                out.insert(
                    row.backend_id.clone(),
                    KnownImage {
                        linked: link.is_some(),
                        member_status: link.flatten(),
                        record: row,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Names of images of one cloud by Glance id (to name the image an instance runs).
    pub async fn image_names(
        &self,
        cloud: CloudId,
        backend_ids: &[String],
    ) -> CatalogResult<HashMap<String, String>> {
        let db = self.0.writer();
        let mut out = HashMap::new();
        for chunk in backend_ids.chunks(lookup_chunk(db)) {
            let rows: Vec<(String, String)> = images::Entity::find()
                .select_only()
                .column(images::Column::BackendId)
                .column(images::Column::Name)
                .filter(images::Column::CloudId.eq(cloud))
                .filter(images::Column::BackendId.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(db)
                .await?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// The catalog's rows for these Nova ids of one cloud.
    pub async fn known_instances(
        &self,
        cloud: CloudId,
        backend_ids: &[String],
    ) -> CatalogResult<HashMap<String, KnownInstance>> {
        let db = self.0.writer();
        let mut out = HashMap::with_capacity(backend_ids.len());
        for chunk in backend_ids.chunks(lookup_chunk(db)) {
            let rows = instances::Entity::find()
                .filter(instances::Column::CloudId.eq(cloud))
                .filter(instances::Column::BackendId.is_in(chunk.iter().cloned()))
                .all(db)
                .await?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let open: HashSet<i64> = entity::instance_intervals::Entity::find()
                .select_only()
                .column(entity::instance_intervals::Column::InstanceId)
                .filter(entity::instance_intervals::Column::InstanceId.is_in(ids))
                .filter(entity::instance_intervals::Column::EndedAt.is_null())
                .into_tuple::<i64>()
                .all(db)
                .await?
                .into_iter()
                .collect();
            for record in rows {
                let has_open_interval = open.contains(&record.id);
                out.insert(
                    record.backend_id.clone(),
                    KnownInstance {
                        record,
                        has_open_interval,
                    },
                );
            }
        }
        Ok(out)
    }

    /// The instances of `tenants` the catalog holds as live (not marked deleted, nor
    /// terminated or `DELETED` as Nova last listed them) whose Nova id `listed` leaves out:
    /// what a complete listing no longer shows, with the `updated` Nova last gave each.
    pub async fn vanished(
        &self,
        tenants: &[TenantId],
        listed: &HashSet<&str>,
    ) -> CatalogResult<Vec<Vanished>> {
        let db = self.0.writer();
        let mut out = Vec::new();
        for chunk in tenants.chunks(lookup_chunk(db)) {
            let rows: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> =
                instances::Entity::find()
                    .select_only()
                    .column(instances::Column::BackendId)
                    .column(instances::Column::UpstreamUpdatedAt)
                    .filter(instances::Column::TenantId.is_in(chunk.iter().copied()))
                    .filter(instances::Column::DeletedAt.is_null())
                    .filter(instances::Column::TerminatedAt.is_null())
                    .filter(instances::Column::Status.ne(ServerStatus::Deleted))
                    .into_tuple()
                    .all(db)
                    .await?;
            out.extend(
                rows.into_iter()
                    .filter(|(id, _)| !listed.contains(id.as_str()))
                    .map(|(backend_id, updated)| Vanished {
                        backend_id,
                        upstream_updated_at: updated,
                    }),
            );
        }
        Ok(out)
    }

    /// Applies a tenant's changes atomically: either all of them or none.
    pub async fn apply(
        &self,
        cloud: CloudId,
        tenant_id: TenantId,
        changes: &TenantChanges,
        now: chrono::DateTime<chrono::Utc>,
    ) -> CatalogResult<Applied> {
        let applied = apply::apply(self.0.writer(), cloud, tenant_id, changes, now).await?;
        if applied.counts.changes_listing() || applied.counts.changes_usage() {
            self.0.refresh_index().await;
        }
        Ok(applied)
    }

    /// The cloud's listing version now: it moves with every write to the cloud's images or
    /// links (see `Applied::catalog_version`).
    pub async fn catalog_version(&self, cloud: CloudId) -> CatalogResult<i64> {
        Ok(super::read_index::catalog_version(self.0.writer(), cloud).await?)
    }

    /// The Glance ids of the images the tenant is linked to, and the stored statuses of its
    /// links that have one (memberships: few beside the public images).
    pub async fn linked_images(&self, tenant_id: TenantId) -> CatalogResult<TenantLinks> {
        let linked =
            super::images::scope_condition(images::Entity, &Scope::Tenants(vec![tenant_id]));
        let rows: Vec<String> = images::Entity::find()
            .select_only()
            .column(images::Column::BackendId)
            .filter(linked)
            .into_tuple()
            .all(self.0.writer())
            .await?;
        let mut ids = SeenIds::default();
        for id in &rows {
            ids.insert(id);
        }
        use sea_orm::sea_query::{Expr, Query};
        let link = |c: image_tenants::Column| Expr::col((image_tenants::Entity, c));
        let select = Query::select()
            .column((images::Entity, images::Column::BackendId))
            .column((image_tenants::Entity, image_tenants::Column::MemberStatus))
            .from(image_tenants::Entity)
            .inner_join(
                images::Entity,
                Expr::col((images::Entity, images::Column::Id))
                    .equals((image_tenants::Entity, image_tenants::Column::ImageId)),
            )
            .and_where(link(image_tenants::Column::TenantId).eq(tenant_id))
            .and_where(link(image_tenants::Column::MemberStatus).is_not_null())
            .to_owned();
        let mut statuses = HashMap::new();
        for row in self.0.writer().query_all(&select).await? {
            let id: String = row.try_get("", "backend_id")?;
            let status: Option<MemberStatus> = row.try_get("", "member_status")?;
            if let Some(status) = status {
                statuses.insert(id, status);
            }
        }
        Ok(TenantLinks { ids, statuses })
    }

    /// Removes what an earlier, unfinished sync of the tenant staged.
    pub async fn clear_stage(&self, tenant_id: TenantId) -> CatalogResult<()> {
        Ok(staging::clear(self.0.writer(), tenant_id).await?)
    }

    /// Hands new/changed records and new links to the staging table (the catalog is
    /// untouched until the sync applies).
    pub async fn stage(
        &self,
        tenant_id: TenantId,
        upserts: &[ImageRecord],
        links: &[NewLink],
    ) -> CatalogResult<()> {
        Ok(staging::stage(self.0.writer(), tenant_id, upserts, links).await?)
    }

    /// Names of staged images by Glance id (for instances booted from images this sync adds).
    pub async fn staged_names(
        &self,
        tenant_id: TenantId,
        backend_ids: &[String],
    ) -> CatalogResult<HashMap<String, String>> {
        Ok(staging::staged_names(self.0.writer(), tenant_id, backend_ids).await?)
    }
}
