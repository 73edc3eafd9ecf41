//! Image queries: the filtered, visibility-checked, de-duplicated and paginated list, and
//! single-image retrieval.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use entity::{image_tenants, images, service_settings, tenants};
use sea_orm::sea_query::{Alias, Condition, Expr, Func, IntoIden, NullOrdering, Query};
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, ExprTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::offerings::OfferingScope;
use super::paging::{PageRequest, Paged};
use super::read_index::Snapshot;
use super::{
    Catalog, CatalogError, CatalogResult, CloudId, ImageVisibility, MemberStatus, Scope, TenantId,
};

/// A catalog image as stored.
pub type Image = images::Model;

#[derive(Clone, Debug, Default)]
pub struct ImageFilter {
    /// Case-insensitive substrings; each must match.
    pub name_contains: Vec<String>,
    pub name_exact: Vec<String>,
    pub clouds: Vec<Uuid>,
    pub tenants: Vec<Uuid>,
    pub offerings: Vec<Uuid>,
    pub is_rescue_image: Option<bool>,
    pub detail: DetailFilter,
    /// By default only the newest image per (cloud, name) is listed, as Waldur does.
    pub show_duplicate_names: bool,
}

/// Filters on an image's Glance detail. Each condition must hold (repeated values: each).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DetailFilter {
    pub visibility: Vec<ImageVisibility>,
    pub status: Vec<String>,
    pub disk_format: Vec<String>,
    /// Owning project ids.
    pub owner: Vec<String>,
    pub tags: Vec<String>,
    /// (key, value) pairs of extra properties; `os_distro=x` is `("os_distro", "x")`.
    pub properties: Vec<(String, String)>,
    /// Microseconds since the epoch: created at or after.
    pub created_after: Option<i64>,
    /// Microseconds since the epoch: created strictly before.
    pub created_before: Option<i64>,
}

/// What a list can be ordered by (Waldur's `o`). Images without a creation time or a size
/// count as the smallest; ties go by name, then uuid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Created,
    MinDisk,
    Size,
}

/// Keys in turn, each ascending (`false`) or descending (`true`); empty: by name then uuid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageOrder(pub Vec<(SortKey, bool)>);

impl ImageOrder {
    /// Whether this is the listing's own order (name, then uuid).
    pub fn is_default(&self) -> bool {
        matches!(self.0.as_slice(), [] | [(SortKey::Name, false)])
    }
}

/// An image as a list, retrieve and the Glance-compatible API show it.
#[derive(Clone, Debug)]
pub struct ImageDetail {
    pub uuid: Uuid,
    pub cloud_uuid: Uuid,
    pub name: String,
    /// The Glance id.
    pub backend_id: String,
    /// MiB.
    pub min_disk: i64,
    /// MiB.
    pub min_ram: i64,
    pub backend_created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub backend_updated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub hw_rescue_device: String,
    pub hw_rescue_bus: String,
    pub status: String,
    pub visibility: ImageVisibility,
    /// Bytes.
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    /// The owning project's id.
    pub owner: Option<String>,
    pub protected: bool,
    pub os_hidden: bool,
    pub tags: Vec<String>,
    /// Extra Glance properties, `hw_rescue_*` included when set.
    pub properties: BTreeMap<String, String>,
    /// Registered tenants that see the image (of the caller's own, for a scoped caller).
    pub tenants_count: u64,
    /// For a scoped caller, the statuses of its tenants' memberships of the image, each once,
    /// in order; a link without one (no membership, or stored before the catalog kept
    /// statuses) counts as accepted. Empty for staff. The Glance face lists another project's
    /// shared image by them.
    pub memberships: Vec<MemberStatus>,
}

impl ImageDetail {
    fn of(image: Image, cloud_uuid: Uuid, links: &Links) -> Self {
        let properties = super::read_index::stored_properties(&image);
        let tags = super::read_index::stored_tags(&image)
            .map(String::from)
            .collect();
        Self {
            uuid: image.uuid,
            cloud_uuid,
            name: image.name,
            backend_id: image.backend_id,
            min_disk: image.min_disk,
            min_ram: image.min_ram,
            backend_created_at: image.backend_created_at,
            backend_updated_at: image.backend_updated_at,
            hw_rescue_device: image.hw_rescue_device,
            hw_rescue_bus: image.hw_rescue_bus,
            status: image.status,
            visibility: image.visibility,
            size: image.size,
            virtual_size: image.virtual_size,
            disk_format: image.disk_format,
            container_format: image.container_format,
            checksum: image.checksum,
            os_hash_algo: image.os_hash_algo,
            os_hash_value: image.os_hash_value,
            owner: image.owner,
            protected: image.protected,
            os_hidden: image.os_hidden,
            tags,
            properties,
            tenants_count: links.count,
            memberships: links.statuses.clone(),
        }
    }
}

/// The links of an image that a caller sees it through: how many, and their statuses (see
/// [`ImageDetail::memberships`]).
#[derive(Default)]
struct Links {
    count: u64,
    statuses: Vec<MemberStatus>,
}

/// A filter whose uuids have been looked up, ready to become SQL.
pub(super) struct ResolvedFilter<'a> {
    filter: &'a ImageFilter,
    scope: &'a Scope,
    /// `None` for an unknown offering uuid: nothing can match.
    pub(super) offerings: Vec<Option<OfferingScope>>,
    /// JSON in SQL differs between the databases.
    backend: DatabaseBackend,
    /// A scoped caller named a tenant, cloud or offering outside its scope: the answer is
    /// the one an unknown uuid gets (nothing), so it learns nothing of what others see.
    pub(super) out_of_scope: bool,
}

pub struct Images<'a>(pub(super) &'a Catalog);

impl Images<'_> {
    /// The images `scope` sees that pass `filter`, in `order`, one page of them.
    pub async fn list(
        &self,
        scope: &Scope,
        filter: &ImageFilter,
        order: &ImageOrder,
        page: PageRequest,
    ) -> CatalogResult<Paged<ImageDetail>> {
        let resolved = self.resolve(scope, filter).await?;
        let snapshot = self.0.index.current(self.0.db()).await?;
        self.page_of(&resolved, snapshot.as_deref(), order, page)
            .await
    }

    /// A page as `render` makes it of [`Images::list`]'s answer, remembered with the listing
    /// index's snapshot under `key`, the caller's scope and the resolved filter: the same
    /// request again is answered without listing or rendering until the snapshot is replaced
    /// (after any write to the catalog). `key` must name everything else `render` depends on
    /// (the path and the whole query); `None` remembers nothing. `render` returns the
    /// rendering and about how many bytes it holds. Before the first snapshot, nothing is
    /// remembered.
    pub async fn list_rendered<R, E>(
        &self,
        scope: &Scope,
        filter: &ImageFilter,
        order: &ImageOrder,
        page: PageRequest,
        key: Option<&str>,
        render: impl FnOnce(Paged<ImageDetail>) -> Result<(R, usize), E>,
    ) -> Result<Arc<R>, E>
    where
        R: std::any::Any + Send + Sync,
        E: From<CatalogError>,
    {
        let resolved = self.resolve(scope, filter).await?;
        let snapshot = self
            .0
            .index
            .current(self.0.db())
            .await
            .map_err(CatalogError::from)?;
        let remembered = match (&snapshot, key) {
            (Some(snapshot), Some(key)) if !resolved.out_of_scope => {
                let key = format!("images|{key}|{scope:?}|{:?}", resolved.offerings);
                if let Some(hit) = snapshot.rendered::<R>(&key) {
                    return Ok(hit);
                }
                Some((snapshot, key))
            }
            _ => None,
        };
        let paged = self
            .page_of(&resolved, snapshot.as_deref(), order, page)
            .await?;
        let (rendering, bytes) = render(paged)?;
        let rendering = Arc::new(rendering);
        if let Some((snapshot, key)) = remembered {
            snapshot.keep_rendered(key, rendering.clone(), bytes);
        }
        Ok(rendering)
    }

    /// The page of a resolved filter: from the snapshot, by SQL without one.
    async fn page_of(
        &self,
        resolved: &ResolvedFilter<'_>,
        snapshot: Option<&Snapshot>,
        order: &ImageOrder,
        page: PageRequest,
    ) -> CatalogResult<Paged<ImageDetail>> {
        let (db, scope, filter) = (self.0.db(), resolved.scope, resolved.filter);
        if resolved.out_of_scope {
            return Ok(Paged {
                items: Vec::new(),
                page: page.resolve(0)?,
            });
        }
        if let Some(snapshot) = snapshot {
            let matching = snapshot.ordered(filter, scope, &resolved.offerings, order);
            let (page, hits) = page.slice(&matching)?;
            // The index holds what a list shows: the page needs no database read.
            let items = hits
                .iter()
                .filter_map(|&hit| snapshot.listed(hit, scope))
                .collect();
            return Ok(Paged { items, page });
        }
        let condition = resolved.condition(images::Entity);
        let total = images::Entity::find()
            .filter(condition.clone())
            .count(db)
            .await?;
        let page = page.resolve(total)?;
        let rows = ordered_by(images::Entity::find().filter(condition), order)
            .offset(page.offset())
            .limit(page.size)
            .all(db)
            .await?;
        Ok(Paged {
            items: with_cloud_uuids(db, scope, rows).await?,
            page,
        })
    }

    /// How many images `scope` sees that pass `filter`.
    pub async fn count(&self, scope: &Scope, filter: &ImageFilter) -> CatalogResult<u64> {
        let db = self.0.db();
        let resolved = self.resolve(scope, filter).await?;
        let snapshot = self.0.index.current(db).await?;
        if resolved.out_of_scope {
            return Ok(0);
        }
        if let Some(snapshot) = snapshot {
            return Ok(snapshot.matching(filter, scope, &resolved.offerings).len() as u64);
        }
        Ok(images::Entity::find()
            .filter(resolved.condition(images::Entity))
            .count(db)
            .await?)
    }

    /// One image, if `scope` sees it: from the listing index, by SQL before it exists.
    pub async fn get(&self, scope: &Scope, uuid: Uuid) -> CatalogResult<ImageDetail> {
        let db = self.0.db();
        if let Some(snapshot) = self.0.index.current(db).await? {
            return snapshot.find(&uuid, scope).ok_or(CatalogError::NotFound);
        }
        let image = images::Entity::find()
            .filter(images::Column::Uuid.eq(uuid))
            .filter(scope_condition(images::Entity, scope))
            .one(db)
            .await?
            .ok_or(CatalogError::NotFound)?;
        with_cloud_uuids(db, scope, vec![image])
            .await?
            .pop()
            .ok_or(CatalogError::NotFound)
    }

    /// Every image of the cloud `cloud` that `scope` sees (namesakes included), by name then
    /// uuid: what the Glance-compatible API lists from. `NotFound` for an unknown cloud, or
    /// one none of a scoped caller's tenants is in.
    pub async fn in_cloud(&self, scope: &Scope, cloud: Uuid) -> CatalogResult<Vec<ImageDetail>> {
        let filter = ImageFilter {
            clouds: vec![cloud],
            show_duplicate_names: true,
            ..ImageFilter::default()
        };
        let known = service_settings::Entity::find()
            .filter(service_settings::Column::Uuid.eq(cloud))
            .count(self.0.db())
            .await?;
        if known == 0 {
            return Err(CatalogError::NotFound);
        }
        let resolved = self.resolve(scope, &filter).await?;
        if resolved.out_of_scope {
            return Err(CatalogError::NotFound);
        }
        let db = self.0.db();
        if let Some(snapshot) = self.0.index.current(db).await? {
            let hits = snapshot.matching(&filter, scope, &[]);
            return Ok(hits
                .iter()
                .filter_map(|&hit| snapshot.listed(hit, scope))
                .collect());
        }
        let rows = images::Entity::find()
            .filter(resolved.condition(images::Entity))
            .order_by_asc(images::Column::Name)
            .order_by_asc(images::Column::Uuid)
            .all(db)
            .await?;
        with_cloud_uuids(db, scope, rows).await
    }

    /// The image's extra Glance properties (everything Glance sent beyond its own fields, the
    /// rescue fields included), as Nova's image metadata shows them: string values as they
    /// are, others as JSON text. `NotFound` unless the image is visible in `scope`.
    pub async fn metadata(
        &self,
        scope: &Scope,
        uuid: Uuid,
    ) -> CatalogResult<BTreeMap<String, String>> {
        let image = images::Entity::find()
            .filter(images::Column::Uuid.eq(uuid))
            .filter(scope_condition(images::Entity, scope))
            .one(self.0.db())
            .await?
            .ok_or(CatalogError::NotFound)?;
        Ok(super::read_index::stored_properties(&image))
    }

    pub(super) async fn resolve<'a>(
        &self,
        scope: &'a Scope,
        filter: &'a ImageFilter,
    ) -> CatalogResult<ResolvedFilter<'a>> {
        let mut scopes = Vec::with_capacity(filter.offerings.len());
        for uuid in &filter.offerings {
            scopes.push(self.0.offerings().scope_of(*uuid).await?);
        }
        let out_of_scope = match scope {
            Scope::All => false,
            Scope::Tenants(ids) => self.outside(ids, filter, &scopes).await?,
        };
        Ok(ResolvedFilter {
            filter,
            scope,
            offerings: scopes,
            backend: self.0.db().get_database_backend(),
            out_of_scope,
        })
    }

    /// Whether the filter names a known tenant, cloud or offering that a caller who sees only
    /// the tenants `ids` must not learn about: another tenant, or a cloud none of its tenants
    /// is in.
    async fn outside(
        &self,
        ids: &[TenantId],
        filter: &ImageFilter,
        offerings: &[Option<OfferingScope>],
    ) -> CatalogResult<bool> {
        if filter.tenants.is_empty() && filter.clouds.is_empty() && offerings.is_empty() {
            return Ok(false);
        }
        let db = self.0.db();
        let named: Vec<TenantId> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .filter(tenants::Column::Uuid.is_in(filter.tenants.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let own_clouds: Vec<CloudId> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::CloudId)
            .filter(tenants::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let clouds: Vec<CloudId> = service_settings::Entity::find()
            .select_only()
            .column(service_settings::Column::Id)
            .filter(service_settings::Column::Uuid.is_in(filter.clouds.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let foreign_offering = offerings.iter().flatten().any(|o| match o {
            OfferingScope::Tenant(id) => !ids.contains(id),
            OfferingScope::Cloud { id, .. } => !own_clouds.contains(id),
        });
        Ok(named.iter().any(|t| !ids.contains(t))
            || clouds.iter().any(|c| !own_clouds.contains(c))
            || foreign_offering)
    }
}

/// The rows as listed, with their clouds' uuids and the count of tenants the caller sees them
/// through (two queries).
async fn with_cloud_uuids(
    db: &DatabaseConnection,
    scope: &Scope,
    rows: Vec<Image>,
) -> CatalogResult<Vec<ImageDetail>> {
    let mut clouds: Vec<CloudId> = rows.iter().map(|i| i.cloud_id).collect();
    clouds.sort_unstable();
    clouds.dedup();
    let uuids: HashMap<CloudId, Uuid> = service_settings::Entity::find()
        .select_only()
        .column(service_settings::Column::Id)
        .column(service_settings::Column::Uuid)
        .filter(service_settings::Column::Id.is_in(clouds))
        .into_tuple::<(CloudId, Uuid)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let links = tenant_links(db, scope, &rows).await?;
    let none = Links::default();
    rows.into_iter()
        .map(|image| {
            let cloud_uuid = *uuids.get(&image.cloud_id).ok_or(CatalogError::NotFound)?;
            let links = links.get(&image.id).unwrap_or(&none);
            Ok(ImageDetail::of(image, cloud_uuid, links))
        })
        .collect()
}

/// How many tenants (of the scope's) see each of these images, and, for a scoped caller,
/// with which membership statuses.
async fn tenant_links(
    db: &DatabaseConnection,
    scope: &Scope,
    rows: &[Image],
) -> CatalogResult<HashMap<super::ImageId, Links>> {
    let mut links: HashMap<super::ImageId, Links> = HashMap::new();
    for chunk in rows.chunks(400) {
        let mut query = image_tenants::Entity::find()
            .select_only()
            .column(image_tenants::Column::ImageId)
            .column(image_tenants::Column::MemberStatus)
            .column_as(image_tenants::Column::TenantId.count(), "n")
            .filter(image_tenants::Column::ImageId.is_in(chunk.iter().map(|i| i.id)))
            .group_by(image_tenants::Column::ImageId)
            .group_by(image_tenants::Column::MemberStatus);
        if let Scope::Tenants(ids) = scope {
            query = query.filter(image_tenants::Column::TenantId.is_in(ids.iter().copied()));
        }
        type Found = (super::ImageId, Option<MemberStatus>, i64);
        let found: Vec<Found> = query.into_tuple().all(db).await?;
        for (id, status, n) in found {
            let entry = links.entry(id).or_default();
            entry.count += u64::try_from(n).unwrap_or(0);
            if matches!(scope, Scope::Tenants(_)) {
                entry
                    .statuses
                    .push(status.unwrap_or(MemberStatus::Accepted));
                entry.statuses.sort_unstable();
                entry.statuses.dedup();
            }
        }
    }
    Ok(links)
}

/// The query in `order`, ties by name then uuid. Missing values count as the smallest, as in
/// the listing index.
fn ordered_by(
    mut query: sea_orm::Select<images::Entity>,
    order: &ImageOrder,
) -> sea_orm::Select<images::Entity> {
    for &(key, descending) in &order.0 {
        let (dir, nulls) = if descending {
            (Order::Desc, NullOrdering::Last)
        } else {
            (Order::Asc, NullOrdering::First)
        };
        let columns: &[images::Column] = match key {
            SortKey::Name => &[images::Column::Name, images::Column::Uuid],
            SortKey::Created => &[images::Column::BackendCreatedAt],
            SortKey::MinDisk => &[images::Column::MinDisk],
            SortKey::Size => &[images::Column::Size],
        };
        for column in columns {
            query = query.order_by_with_nulls(*column, dir.clone(), nulls);
        }
    }
    query
        .order_by_asc(images::Column::Name)
        .order_by_asc(images::Column::Uuid)
}

/// `tag` is among the table's `tags` (a JSON array of strings).
fn json_contains(backend: DatabaseBackend, table: &str, tag: &str) -> Expr {
    let sql = match backend {
        DatabaseBackend::Postgres => format!(
            r#"EXISTS (SELECT 1 FROM json_array_elements_text("{table}"."tags") AS tag(value) WHERE tag.value = $1)"#
        ),
        // SQLite's query builder binds `?`, PostgreSQL's `$n`.
        _ => format!(
            r#"EXISTS (SELECT 1 FROM json_each("{table}"."tags") AS tag WHERE tag.value = ?)"#
        ),
    };
    Expr::cust_with_values(sql, [tag])
}

/// The table's `properties` (a JSON object of strings) has `key` set to `value`.
fn json_property(backend: DatabaseBackend, table: &str, key: &str, value: &str) -> Expr {
    let sql = match backend {
        DatabaseBackend::Postgres => format!(r#"("{table}"."properties" ->> $1) = $2"#),
        _ => format!(
            r#"EXISTS (SELECT 1 FROM json_each("{table}"."properties") AS p WHERE p.key = ? AND p.value = ?)"#
        ),
    };
    Expr::cust_with_values(sql, [key, value])
}

fn nothing() -> Expr {
    Expr::val(1).eq(0)
}

/// Images linked to any tenant selected by `tenant_ids` (a subquery on `tenants.id`).
fn linked_to(t: impl IntoIden + Clone, tenant_ids: sea_orm::sea_query::SelectStatement) -> Expr {
    Expr::col((t, images::Column::Id)).in_subquery(
        Query::select()
            .column(image_tenants::Column::ImageId)
            .from(image_tenants::Entity)
            .and_where(Expr::col(image_tenants::Column::TenantId).in_subquery(tenant_ids))
            .to_owned(),
    )
}

/// Images linked to one of the scope's tenants (all for staff).
pub(super) fn scope_condition(t: impl IntoIden + Clone, scope: &Scope) -> Condition {
    match scope {
        Scope::All => Condition::all(),
        Scope::Tenants(ids) if ids.is_empty() => Condition::all().add(nothing()),
        Scope::Tenants(ids) => Condition::all().add(
            Expr::col((t, images::Column::Id)).in_subquery(
                Query::select()
                    .column(image_tenants::Column::ImageId)
                    .from(image_tenants::Entity)
                    .and_where(image_tenants::Column::TenantId.is_in(ids.iter().copied()))
                    .to_owned(),
            ),
        ),
    }
}

impl ResolvedFilter<'_> {
    /// Everything but the duplicate-name rule, for the table (or alias) `t`.
    fn plain_condition(&self, t: impl IntoIden + Clone) -> Condition {
        let f = self.filter;
        let col = |c: images::Column| Expr::col((t.clone(), c));
        let mut cond = scope_condition(t.clone(), self.scope);
        for needle in &f.name_contains {
            cond = cond.add(
                Expr::expr(Func::lower(col(images::Column::Name)))
                    .like(super::like_contains(needle)),
            );
        }
        for name in &f.name_exact {
            cond = cond.add(col(images::Column::Name).eq(name.as_str()));
        }
        for uuid in &f.clouds {
            cond = cond.add(
                col(images::Column::CloudId).in_subquery(
                    Query::select()
                        .column(service_settings::Column::Id)
                        .from(service_settings::Entity)
                        .and_where(service_settings::Column::Uuid.eq(*uuid))
                        .to_owned(),
                ),
            );
        }
        for uuid in &f.tenants {
            cond = cond.add(linked_to(
                t.clone(),
                Query::select()
                    .column(tenants::Column::Id)
                    .from(tenants::Entity)
                    .and_where(tenants::Column::Uuid.eq(*uuid))
                    .to_owned(),
            ));
        }
        for scope in &self.offerings {
            cond = cond.add(match scope {
                None => nothing(),
                Some(OfferingScope::Tenant(id)) => linked_to(
                    t.clone(),
                    Query::select()
                        .column(tenants::Column::Id)
                        .from(tenants::Entity)
                        .and_where(tenants::Column::Id.eq(*id))
                        .to_owned(),
                ),
                Some(OfferingScope::Cloud {
                    id,
                    has_tenants: true,
                }) => linked_to(
                    t.clone(),
                    Query::select()
                        .column(tenants::Column::Id)
                        .from(tenants::Entity)
                        .and_where(tenants::Column::CloudId.eq(*id))
                        .to_owned(),
                ),
                Some(OfferingScope::Cloud {
                    id,
                    has_tenants: false,
                }) => col(images::Column::CloudId).eq(*id),
            });
        }
        match f.is_rescue_image {
            Some(true) => cond = cond.add(col(images::Column::HwRescueDevice).ne("")),
            Some(false) => cond = cond.add(col(images::Column::HwRescueDevice).eq("")),
            None => {}
        }
        self.detail_condition(t, cond)
    }

    /// The detail filters added to `cond`.
    fn detail_condition(&self, t: impl IntoIden + Clone, mut cond: Condition) -> Condition {
        let d = &self.filter.detail;
        let col = |c: images::Column| Expr::col((t.clone(), c));
        for v in &d.visibility {
            cond = cond.add(col(images::Column::Visibility).eq(v.as_str()));
        }
        for (values, column) in [
            (&d.status, images::Column::Status),
            (&d.disk_format, images::Column::DiskFormat),
            (&d.owner, images::Column::Owner),
        ] {
            for v in values {
                cond = cond.add(col(column).eq(v.as_str()));
            }
        }
        let table = t.clone().into_iden().to_string();
        for tag in &d.tags {
            cond = cond.add(json_contains(self.backend, &table, tag));
        }
        for (key, value) in &d.properties {
            cond = cond.add(match key.as_str() {
                "hw_rescue_device" => col(images::Column::HwRescueDevice).eq(value.as_str()),
                "hw_rescue_bus" => col(images::Column::HwRescueBus).eq(value.as_str()),
                _ => json_property(self.backend, &table, key, value),
            });
        }
        let at = |micros: i64| chrono::DateTime::from_timestamp_micros(micros);
        if let Some(after) = d.created_after.and_then(at) {
            cond = cond.add(col(images::Column::BackendCreatedAt).gte(after));
        }
        if let Some(before) = d.created_before.and_then(at) {
            cond = cond.add(col(images::Column::BackendCreatedAt).lt(before));
        }
        cond
    }

    /// The full condition on `t`: filters plus, unless duplicates were asked for, "no newer
    /// image with the same (cloud, name) passes the same filters". Applying the filters
    /// inside the rule keeps a tenant's own image listed when a newer namesake is invisible.
    fn condition(&self, t: impl IntoIden + Clone) -> Condition {
        let cond = self.plain_condition(t.clone());
        if self.filter.show_duplicate_names {
            return cond;
        }
        let j = Alias::new("newer");
        let outer = |c: images::Column| Expr::col((t.clone(), c));
        let inner = |c: images::Column| Expr::col((j.clone(), c));
        let created = images::Column::BackendCreatedAt;
        let newer = Condition::any()
            .add(inner(created).is_not_null().and(outer(created).is_null()))
            .add(inner(created).gt(outer(created)))
            .add(
                Condition::all()
                    .add(
                        Condition::any()
                            .add(inner(created).equals((t.clone(), created)))
                            .add(inner(created).is_null().and(outer(created).is_null())),
                    )
                    .add(inner(images::Column::Id).lt(outer(images::Column::Id))),
            );
        let subquery = Query::select()
            .expr(Expr::val(1))
            .from_as(images::Entity, j.clone())
            .cond_where(
                Condition::all()
                    .add(
                        inner(images::Column::CloudId).equals((t.clone(), images::Column::CloudId)),
                    )
                    .add(inner(images::Column::Name).equals((t.clone(), images::Column::Name)))
                    .add(newer)
                    .add(self.plain_condition(j.clone())),
            )
            .to_owned();
        cond.add(Expr::exists(subquery).not())
    }
}
