//! Image queries: the filtered, visibility-checked, de-duplicated and paginated list, and
//! single-image retrieval.
use std::collections::HashMap;
use std::sync::Arc;

use entity::{image_tenants, images, service_settings, tenants};
use sea_orm::sea_query::{Alias, Condition, Expr, Func, IntoIden, Query};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::offerings::OfferingScope;
use super::paging::{PageRequest, Paged};
use super::read_index::Snapshot;
use super::{Catalog, CatalogError, CatalogResult, CloudId, Scope, TenantId};

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
    /// By default only the newest image per (cloud, name) is listed, as Waldur does.
    pub show_duplicate_names: bool,
}

/// An image as a list (and retrieve) shows it.
#[derive(Clone, Debug)]
pub struct ListedImage {
    pub uuid: Uuid,
    pub cloud_uuid: Uuid,
    pub name: String,
    pub backend_id: String,
    pub min_disk: i64,
    pub min_ram: i64,
    pub backend_created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub hw_rescue_device: String,
    pub hw_rescue_bus: String,
}

impl ListedImage {
    fn of(image: Image, cloud_uuid: Uuid) -> Self {
        Self {
            uuid: image.uuid,
            cloud_uuid,
            name: image.name,
            backend_id: image.backend_id,
            min_disk: image.min_disk,
            min_ram: image.min_ram,
            backend_created_at: image.backend_created_at,
            hw_rescue_device: image.hw_rescue_device,
            hw_rescue_bus: image.hw_rescue_bus,
        }
    }
}

/// A filter whose uuids have been looked up, ready to become SQL.
pub(super) struct ResolvedFilter<'a> {
    filter: &'a ImageFilter,
    scope: &'a Scope,
    /// `None` for an unknown offering uuid: nothing can match.
    pub(super) offerings: Vec<Option<OfferingScope>>,
    /// A scoped caller named a tenant, cloud or offering outside its scope: the answer is
    /// the one an unknown uuid gets (nothing), so it learns nothing of what others see.
    pub(super) out_of_scope: bool,
}

pub struct Images<'a>(pub(super) &'a Catalog);

impl Images<'_> {
    /// The images `scope` sees that pass `filter`, by name then uuid, one page of them.
    pub async fn list(
        &self,
        scope: &Scope,
        filter: &ImageFilter,
        page: PageRequest,
    ) -> CatalogResult<Paged<ListedImage>> {
        let resolved = self.resolve(scope, filter).await?;
        let snapshot = self.0.index.current(self.0.db()).await?;
        self.page_of(&resolved, snapshot.as_deref(), page).await
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
        page: PageRequest,
        key: Option<&str>,
        render: impl FnOnce(Paged<ListedImage>) -> Result<(R, usize), E>,
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
        let paged = self.page_of(&resolved, snapshot.as_deref(), page).await?;
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
        page: PageRequest,
    ) -> CatalogResult<Paged<ListedImage>> {
        let (db, scope, filter) = (self.0.db(), resolved.scope, resolved.filter);
        if resolved.out_of_scope {
            return Ok(Paged {
                items: Vec::new(),
                page: page.resolve(0)?,
            });
        }
        if let Some(snapshot) = snapshot {
            let matching = snapshot.matching(filter, scope, &resolved.offerings);
            let (page, hits) = page.slice(&matching)?;
            // The index holds what a list shows: the page needs no database read.
            let items = hits
                .iter()
                .filter_map(|&hit| snapshot.listed(hit))
                .collect();
            return Ok(Paged { items, page });
        }
        let condition = resolved.condition(images::Entity);
        let total = images::Entity::find()
            .filter(condition.clone())
            .count(db)
            .await?;
        let page = page.resolve(total)?;
        let rows = images::Entity::find()
            .filter(condition)
            .order_by_asc(images::Column::Name)
            .order_by_asc(images::Column::Uuid)
            .offset(page.offset())
            .limit(page.size)
            .all(db)
            .await?;
        Ok(Paged {
            items: with_cloud_uuids(db, rows).await?,
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
    pub async fn get(&self, scope: &Scope, uuid: Uuid) -> CatalogResult<ListedImage> {
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
        with_cloud_uuids(db, vec![image])
            .await?
            .pop()
            .ok_or(CatalogError::NotFound)
    }

    /// The image's extra Glance properties (everything Glance sent beyond its own fields),
    /// as Nova's image metadata shows them: string values as they are, others as JSON text.
    /// `NotFound` unless the image is visible in `scope`.
    pub async fn metadata(
        &self,
        scope: &Scope,
        uuid: Uuid,
    ) -> CatalogResult<std::collections::BTreeMap<String, String>> {
        let stored: Option<serde_json::Value> = images::Entity::find()
            .select_only()
            .column(images::Column::Properties)
            .filter(images::Column::Uuid.eq(uuid))
            .filter(scope_condition(images::Entity, scope))
            .into_tuple()
            .one(self.0.db())
            .await?;
        let stored = stored.ok_or(CatalogError::NotFound)?;
        Ok(stored
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (key.clone(), text)
            })
            .collect())
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

/// The rows as listed, with their clouds' uuids (one query).
async fn with_cloud_uuids(
    db: &DatabaseConnection,
    rows: Vec<Image>,
) -> CatalogResult<Vec<ListedImage>> {
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
    rows.into_iter()
        .map(|image| {
            let cloud_uuid = *uuids.get(&image.cloud_id).ok_or(CatalogError::NotFound)?;
            Ok(ListedImage::of(image, cloud_uuid))
        })
        .collect()
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
