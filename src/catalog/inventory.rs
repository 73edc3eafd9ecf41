//! What a sync reads and writes: comparing a page of upstream images or servers with the
//! catalog, and applying one tenant's complete listing in a single transaction.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{image_tenants, images, instances, tenants};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::clouds::Cloud;
use super::credentials::Credentials;
use super::tenants::Tenant;
use super::{Catalog, CatalogError, CatalogResult, CloudId, ImageId, ImageVisibility, TenantId};

/// Rows per multi-row statement: well under SQLite's bound-variable limit.
const CHUNK: usize = 400;
/// Ids looked up per query while comparing a page (a Glance page holds up to 1000). SQLite
/// gains from fewer round trips; PostgreSQL plans `IN` lists of 1000 worse than of 400 (an idle
/// re-sync ran at 40k rather than 67k links/s).
fn lookup_chunk(db: &DatabaseConnection) -> usize {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => 1000,
        _ => 400,
    }
}
/// Glance ids per link statement (one bound variable each).
const LINK_CHUNK: usize = 2000;
/// Links read per slice when looking for what a tenant no longer sees.
const SCAN_SLICE: u64 = 10_000;

/// The image columns an upsert overwrites when the row exists (all but ids and keys).
pub(crate) const UPDATED_IMAGE_COLUMNS: [images::Column; 14] = [
    images::Column::Name,
    images::Column::MinDisk,
    images::Column::MinRam,
    images::Column::Status,
    images::Column::Visibility,
    images::Column::Size,
    images::Column::Checksum,
    images::Column::DiskFormat,
    images::Column::ContainerFormat,
    images::Column::BackendCreatedAt,
    images::Column::BackendUpdatedAt,
    images::Column::HwRescueDevice,
    images::Column::HwRescueBus,
    images::Column::Properties,
];

/// `INSERT INTO image_tenants (image_id, tenant_id) <select> ON CONFLICT DO NOTHING`: links
/// whose (image id, tenant id) pairs the select yields.
pub(crate) fn insert_links(
    select: sea_orm::sea_query::SelectStatement,
) -> Result<sea_orm::sea_query::InsertStatement, DbErr> {
    Ok(Query::insert()
        .into_table(image_tenants::Entity)
        .columns([
            image_tenants::Column::ImageId,
            image_tenants::Column::TenantId,
        ])
        .select_from(select)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::columns([
                image_tenants::Column::ImageId,
                image_tenants::Column::TenantId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned())
}

/// The catalog's view of one image, as a sync compares and writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRecord {
    pub backend_id: String,
    pub name: String,
    pub min_disk: i64,
    pub min_ram: i64,
    pub status: String,
    pub visibility: ImageVisibility,
    pub size: Option<i64>,
    pub checksum: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub backend_created_at: Option<DateTime<Utc>>,
    pub backend_updated_at: Option<DateTime<Utc>>,
    pub hw_rescue_device: String,
    pub hw_rescue_bus: String,
    pub properties: serde_json::Value,
}

impl From<images::Model> for ImageRecord {
    fn from(m: images::Model) -> Self {
        Self {
            backend_id: m.backend_id,
            name: m.name,
            min_disk: m.min_disk,
            min_ram: m.min_ram,
            status: m.status,
            visibility: m.visibility,
            size: m.size,
            checksum: m.checksum,
            disk_format: m.disk_format,
            container_format: m.container_format,
            backend_created_at: m.backend_created_at,
            backend_updated_at: m.backend_updated_at,
            hw_rescue_device: m.hw_rescue_device,
            hw_rescue_bus: m.hw_rescue_bus,
            properties: m.properties,
        }
    }
}

impl ImageRecord {
    fn active_model(&self, cloud: CloudId) -> images::ActiveModel {
        images::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            settings_id: Set(cloud),
            backend_id: Set(self.backend_id.clone()),
            name: Set(self.name.clone()),
            min_disk: Set(self.min_disk),
            min_ram: Set(self.min_ram),
            status: Set(self.status.clone()),
            visibility: Set(self.visibility),
            size: Set(self.size),
            checksum: Set(self.checksum.clone()),
            disk_format: Set(self.disk_format.clone()),
            container_format: Set(self.container_format.clone()),
            backend_created_at: Set(self.backend_created_at),
            backend_updated_at: Set(self.backend_updated_at),
            hw_rescue_device: Set(self.hw_rescue_device.clone()),
            hw_rescue_bus: Set(self.hw_rescue_bus.clone()),
            properties: Set(self.properties.clone()),
            ..Default::default()
        }
    }
}

/// An image as the catalog has it now, and whether the tenant already sees it.
pub struct KnownImage {
    pub record: ImageRecord,
    pub linked: bool,
}

/// A tenant to sync: the tenant, its cloud, and the credentials to log in with (the
/// tenant's own, else the cloud's).
pub struct SyncTarget {
    pub tenant: Tenant,
    pub cloud: Cloud,
    /// `Err` when the stored credentials cannot be opened (the sync records the failure).
    pub credentials: Result<Option<Credentials>, crate::crypto::CryptoError>,
}

pub struct Inventory<'a>(pub(super) &'a Catalog);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceRecord {
    pub backend_id: String,
    pub name: String,
    pub image_backend_id: Option<String>,
    pub image_name: String,
    pub status: String,
    pub backend_created_at: Option<DateTime<Utc>>,
}

pub struct KnownInstance {
    pub record: InstanceRecord,
    pub tenant_id: TenantId,
    pub deleted: bool,
}

/// Glance ids a listing has seen, kept as 64-bit hashes: a million ids take ~16 MiB rather
/// than ~100 MiB. (SipHash with fixed keys; a collision, about 3e-8 at a million ids, would
/// make one image look like a repeat.)
#[derive(Default, Debug)]
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

/// Everything one tenant's complete listing changes.
#[derive(Default, Debug)]
pub struct TenantChanges {
    /// New or changed image rows not yet staged.
    pub upsert_images: Vec<ImageRecord>,
    /// Glance ids the tenant sees but is not yet linked to, not yet staged.
    pub link: Vec<String>,
    /// Whether earlier batches of the two lists above went to the staging table.
    pub staged: bool,
    /// Every Glance id the tenant sees (to find what it no longer sees).
    pub seen_images: SeenIds,
    pub upsert_instances: Vec<InstanceRecord>,
    pub seen_instances: HashSet<String>,
    /// Glance info, when it differs from what is stored.
    pub info: Option<GlanceInfoColumns>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GlanceInfoColumns {
    pub image_quota_usage: Option<serde_json::Value>,
    pub stores: Option<serde_json::Value>,
    pub import_methods: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppliedCounts {
    pub images_upserted: u64,
    pub images_linked: u64,
    pub images_unlinked: u64,
    pub images_deleted: u64,
    pub instances_upserted: u64,
    pub instances_marked_deleted: u64,
}

impl AppliedCounts {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the cloud's image list changed (instances do not show in it).
    pub fn changes_listing(&self) -> bool {
        self.images_upserted + self.images_linked + self.images_unlinked + self.images_deleted > 0
    }

    pub fn rows_written(&self) -> u64 {
        self.images_upserted
            + self.images_linked
            + self.images_unlinked
            + self.images_deleted
            + self.instances_upserted
            + self.instances_marked_deleted
    }
}

impl Inventory<'_> {
    /// The tenant to sync, with its cloud and opened credentials.
    pub async fn target(&self, tenant_id: TenantId) -> CatalogResult<SyncTarget> {
        let Some((tenant, Some(cloud))) = tenants::Entity::find_by_id(tenant_id)
            .find_also_related(entity::service_settings::Entity)
            .one(self.0.db())
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
        let db = self.0.db();
        let mut out = HashMap::with_capacity(backend_ids.len());
        for chunk in backend_ids.chunks(lookup_chunk(db)) {
            let rows = images::Entity::find()
                .filter(images::Column::SettingsId.eq(cloud))
                .filter(images::Column::BackendId.is_in(chunk.iter().cloned()))
                .all(db)
                .await?;
            let ids: Vec<ImageId> = rows.iter().map(|r| r.id).collect();
            let linked: HashSet<ImageId> = image_tenants::Entity::find()
                .select_only()
                .column(image_tenants::Column::ImageId)
                .filter(image_tenants::Column::TenantId.eq(tenant_id))
                .filter(image_tenants::Column::ImageId.is_in(ids))
                .into_tuple::<ImageId>()
                .all(db)
                .await?
                .into_iter()
                .collect();
            for row in rows {
                let is_linked = linked.contains(&row.id);
                out.insert(
                    row.backend_id.clone(),
                    KnownImage {
                        linked: is_linked,
                        record: row.into(),
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
        let db = self.0.db();
        let mut out = HashMap::new();
        for chunk in backend_ids.chunks(lookup_chunk(db)) {
            let rows: Vec<(String, String)> = images::Entity::find()
                .select_only()
                .column(images::Column::BackendId)
                .column(images::Column::Name)
                .filter(images::Column::SettingsId.eq(cloud))
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
        let db = self.0.db();
        let mut out = HashMap::with_capacity(backend_ids.len());
        for chunk in backend_ids.chunks(lookup_chunk(db)) {
            let rows = instances::Entity::find()
                .filter(instances::Column::SettingsId.eq(cloud))
                .filter(instances::Column::BackendId.is_in(chunk.iter().cloned()))
                .all(db)
                .await?;
            for m in rows {
                out.insert(
                    m.backend_id.clone(),
                    KnownInstance {
                        tenant_id: m.tenant_id,
                        deleted: m.deleted_at.is_some(),
                        record: InstanceRecord {
                            backend_id: m.backend_id,
                            name: m.name,
                            image_backend_id: m.image_backend_id,
                            image_name: m.image_name,
                            status: m.status,
                            backend_created_at: m.backend_created_at,
                        },
                    },
                );
            }
        }
        Ok(out)
    }

    /// Applies a tenant's changes atomically: either all of them or none.
    pub async fn apply(
        &self,
        settings_id: CloudId,
        tenant_id: TenantId,
        changes: &TenantChanges,
        now: DateTime<Utc>,
    ) -> CatalogResult<AppliedCounts> {
        let db = self.0.db();
        let txn = super::db::begin_write(db).await?;
        super::db::lock_cloud_writes(&txn, settings_id).await?;
        let mut counts = AppliedCounts::default();
        let t0 = std::time::Instant::now();

        for chunk in changes.upsert_images.chunks(CHUNK) {
            let models = chunk.iter().map(|r| r.active_model(settings_id));
            images::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([images::Column::SettingsId, images::Column::BackendId])
                        .update_columns(UPDATED_IMAGE_COLUMNS)
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            counts.images_upserted += chunk.len() as u64;
        }

        if changes.staged {
            let (upserted, linked) = super::staging::apply(&txn, settings_id, tenant_id).await?;
            counts.images_upserted += upserted;
            counts.images_linked += linked;
        }
        let t_images = t0.elapsed();
        // One statement per chunk: the ids are looked up inside the database.
        for chunk in changes.link.chunks(LINK_CHUNK) {
            let select = Query::select()
                .column(images::Column::Id)
                .expr(Expr::val(tenant_id))
                .from(images::Entity)
                .and_where(images::Column::SettingsId.eq(settings_id))
                .and_where(images::Column::BackendId.is_in(chunk.iter().cloned()))
                .to_owned();
            let insert = insert_links(select)?;
            counts.images_linked += txn.execute(&insert).await?.rows_affected();
        }

        let t_links = t0.elapsed();
        // What the tenant no longer sees: its links whose Glance id was not listed. Read in
        // slices by image id, so memory holds only what is gone.
        let mut gone: Vec<ImageId> = Vec::new();
        let mut after = ImageId(0);
        loop {
            let slice = Query::select()
                .column((image_tenants::Entity, image_tenants::Column::ImageId))
                .column((images::Entity, images::Column::BackendId))
                .from(image_tenants::Entity)
                .inner_join(
                    images::Entity,
                    Expr::col((images::Entity, images::Column::Id))
                        .equals((image_tenants::Entity, image_tenants::Column::ImageId)),
                )
                .and_where(
                    Expr::col((image_tenants::Entity, image_tenants::Column::TenantId))
                        .eq(tenant_id),
                )
                .and_where(
                    Expr::col((image_tenants::Entity, image_tenants::Column::ImageId)).gt(after),
                )
                .order_by(
                    (image_tenants::Entity, image_tenants::Column::ImageId),
                    sea_orm::Order::Asc,
                )
                .limit(SCAN_SLICE)
                .to_owned();
            let rows = txn.query_all(&slice).await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("", "image_id")?;
            for row in &rows {
                let backend_id: String = row.try_get("", "backend_id")?;
                if !changes.seen_images.contains(&backend_id) {
                    gone.push(row.try_get("", "image_id")?);
                }
            }
            if rows.len() < SCAN_SLICE as usize {
                break;
            }
        }
        for chunk in gone.chunks(CHUNK) {
            let res = image_tenants::Entity::delete_many()
                .filter(image_tenants::Column::TenantId.eq(tenant_id))
                .filter(image_tenants::Column::ImageId.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
            counts.images_unlinked += res.rows_affected;
            // Images that no tenant sees any more leave the catalog.
            let res = images::Entity::delete_many()
                .filter(images::Column::Id.is_in(chunk.iter().copied()))
                .filter(
                    Expr::exists(
                        Query::select()
                            .expr(Expr::val(1))
                            .from(image_tenants::Entity)
                            .and_where(
                                Expr::col((image_tenants::Entity, image_tenants::Column::ImageId))
                                    .equals((images::Entity, images::Column::Id)),
                            )
                            .to_owned(),
                    )
                    .not(),
                )
                .exec(&txn)
                .await?;
            counts.images_deleted += res.rows_affected;
        }

        for chunk in changes.upsert_instances.chunks(CHUNK) {
            let models = chunk.iter().map(|r| instances::ActiveModel {
                uuid: Set(Uuid::new_v4()),
                settings_id: Set(settings_id),
                tenant_id: Set(tenant_id),
                backend_id: Set(r.backend_id.clone()),
                name: Set(r.name.clone()),
                image_backend_id: Set(r.image_backend_id.clone()),
                image_name: Set(r.image_name.clone()),
                status: Set(r.status.clone()),
                backend_created_at: Set(r.backend_created_at),
                deleted_at: Set(None),
                ..Default::default()
            });
            instances::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([
                        instances::Column::SettingsId,
                        instances::Column::BackendId,
                    ])
                    .update_columns([
                        instances::Column::TenantId,
                        instances::Column::Name,
                        instances::Column::ImageBackendId,
                        instances::Column::ImageName,
                        instances::Column::Status,
                        instances::Column::BackendCreatedAt,
                        instances::Column::DeletedAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            counts.instances_upserted += chunk.len() as u64;
        }

        // Instances that vanished are kept, marked deleted, so "created" counts keep history.
        let live: Vec<(i64, String)> = instances::Entity::find()
            .select_only()
            .column(instances::Column::Id)
            .column(instances::Column::BackendId)
            .filter(instances::Column::TenantId.eq(tenant_id))
            .filter(instances::Column::DeletedAt.is_null())
            .into_tuple()
            .all(&txn)
            .await?;
        let vanished: Vec<i64> = live
            .into_iter()
            .filter(|(_, b)| !changes.seen_instances.contains(b))
            .map(|(id, _)| id)
            .collect();
        for chunk in vanished.chunks(CHUNK) {
            let res = instances::Entity::update_many()
                .col_expr(instances::Column::DeletedAt, Expr::val(now))
                .filter(instances::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
            counts.instances_marked_deleted += res.rows_affected;
        }

        if let Some(info) = &changes.info {
            tenants::Entity::update_many()
                .col_expr(
                    tenants::Column::ImageQuotaUsage,
                    Expr::val(info.image_quota_usage.clone()),
                )
                .col_expr(tenants::Column::Stores, Expr::val(info.stores.clone()))
                .col_expr(
                    tenants::Column::ImportMethods,
                    Expr::val(info.import_methods.clone()),
                )
                .filter(tenants::Column::Id.eq(tenant_id))
                .exec(&txn)
                .await?;
        }

        if counts.changes_listing() {
            super::read_index::touch(&txn, settings_id).await?;
        }

        let t_rest = t0.elapsed();
        txn.commit().await?;
        tracing::debug!(
            images_ms = t_images.as_millis() as u64,
            links_ms = (t_links - t_images).as_millis() as u64,
            rest_ms = (t_rest - t_links).as_millis() as u64,
            commit_ms = (t0.elapsed() - t_rest).as_millis() as u64,
            "apply phases"
        );
        super::db::refresh_statistics(db, counts.rows_written()).await?;
        Ok(counts)
    }

    /// Removes what an earlier, unfinished sync of the tenant staged.
    pub async fn clear_stage(&self, tenant_id: TenantId) -> CatalogResult<()> {
        Ok(super::staging::clear(self.0.db(), tenant_id).await?)
    }

    /// Hands new/changed records and new links to the staging table (the catalog is untouched).
    pub async fn stage(
        &self,
        tenant_id: TenantId,
        upserts: &[ImageRecord],
        links: &[String],
    ) -> CatalogResult<()> {
        Ok(super::staging::stage(self.0.db(), tenant_id, upserts, links).await?)
    }

    /// Names of staged images by Glance id (for instances booted from images this sync adds).
    pub async fn staged_names(
        &self,
        tenant_id: TenantId,
        backend_ids: &[String],
    ) -> CatalogResult<HashMap<String, String>> {
        Ok(super::staging::staged_names(self.0.db(), tenant_id, backend_ids).await?)
    }
}
