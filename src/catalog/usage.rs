//! `usage_stats`: per image name, how many instances run it now and how many ever used it.
use std::collections::HashMap;

use entity::{image_tenants, images, instances, service_settings};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::paging::{PageRequest, Paged};
use super::{Catalog, CatalogResult, CloudId, Scope, ServerStatus, TenantId};

/// SQL counting, in a group of instances, those running now (not deleted and `ACTIVE`).
pub(super) fn running_count() -> Expr {
    Expr::cust(format!(
        "COALESCE(SUM(CASE WHEN deleted_at IS NULL AND status = '{}' THEN 1 ELSE 0 END), 0)",
        ServerStatus::Active.as_str()
    ))
}

#[derive(Clone, Debug, Default)]
pub struct UsageFilter {
    /// Only clouds marked shared.
    pub shared: Option<bool>,
    /// Only these clouds (uuids); empty means all.
    pub service_providers: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    pub name: String,
    pub running_instances_count: i64,
    pub created_instances_count: i64,
    /// The tenant or cloud of the row, with `group_by` (its uuid and name).
    pub group: Option<(Uuid, String)>,
}

/// `usage_stats`' optional second key besides the image name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageGroup {
    /// A row per (name, tenant): the names each tenant sees, its instances' counts.
    Tenant,
    /// A row per (name, cloud): the names the caller sees in each cloud.
    Settings,
}

#[derive(FromQueryResult)]
struct Counts {
    image_name: String,
    running: i64,
    created: i64,
}

fn cloud_condition(cloud_col: impl ColumnTrait, filter: &UsageFilter) -> Condition {
    let mut clouds = Query::select()
        .column(service_settings::Column::Id)
        .from(service_settings::Entity)
        .to_owned();
    let mut restricted = false;
    if let Some(shared) = filter.shared {
        clouds.and_where(service_settings::Column::Shared.eq(shared));
        restricted = true;
    }
    if !filter.service_providers.is_empty() {
        clouds.and_where(
            service_settings::Column::Uuid.is_in(filter.service_providers.iter().copied()),
        );
        restricted = true;
    }
    if restricted {
        Condition::all().add(cloud_col.in_subquery(clouds))
    } else {
        Condition::all()
    }
}

pub struct Usage<'a>(pub(super) &'a Catalog);

impl Usage<'_> {
    /// Per visible image name, one page: instances running it now and instances ever created.
    /// From the listing index, names and counts of one snapshot; by SQL before it exists.
    pub async fn stats(
        &self,
        scope: &Scope,
        filter: &UsageFilter,
        page: PageRequest,
    ) -> CatalogResult<Paged<UsageRow>> {
        let db = self.0.db();
        let Some(snapshot) = self.0.index.current(db).await? else {
            return stats_by_sql(db, scope, filter, page).await;
        };
        let clouds = snapshot.clouds_matching(filter.shared, &filter.service_providers);
        let names = snapshot.visible_names(scope, clouds.as_deref());
        let (page, names) = page.slice(&names)?;
        let items = names
            .iter()
            .map(|name| {
                let counts = snapshot.usage_counts(name, scope, clouds.as_deref());
                UsageRow {
                    name: name.to_string(),
                    running_instances_count: counts.running,
                    created_instances_count: counts.created,
                    group: None,
                }
            })
            .collect();
        Ok(Paged { items, page })
    }

    /// `stats` with a row per (name, tenant) or (name, cloud), ordered by name, then the
    /// group's name and uuid. By SQL: the rows are as many as the links, so they are counted
    /// and paged in memory.
    pub async fn grouped(
        &self,
        scope: &Scope,
        filter: &UsageFilter,
        group: UsageGroup,
    ) -> CatalogResult<Vec<UsageRow>> {
        let db = self.0.db();
        // The (group id, name) pairs the caller sees.
        let pairs: Vec<(i64, String)> = match group {
            UsageGroup::Tenant => {
                let mut q = image_tenants::Entity::find()
                    .select_only()
                    .column(image_tenants::Column::TenantId)
                    .column_as(Expr::col((images::Entity, images::Column::Name)), "name")
                    .distinct()
                    .join(
                        JoinType::InnerJoin,
                        image_tenants::Entity::belongs_to(images::Entity)
                            .from(image_tenants::Column::ImageId)
                            .to(images::Column::Id)
                            .into(),
                    )
                    .filter(cloud_condition(images::Column::CloudId, filter));
                if let Scope::Tenants(ids) = scope {
                    q = q.filter(image_tenants::Column::TenantId.is_in(ids.iter().copied()));
                }
                q.into_tuple::<(TenantId, String)>()
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|(t, n)| (i64::from(t.0), n))
                    .collect()
            }
            UsageGroup::Settings => images::Entity::find()
                .select_only()
                .column(images::Column::CloudId)
                .column(images::Column::Name)
                .distinct()
                .filter(super::images::scope_condition(images::Entity, scope))
                .filter(cloud_condition(images::Column::CloudId, filter))
                .into_tuple::<(CloudId, String)>()
                .all(db)
                .await?
                .into_iter()
                .map(|(c, n)| (i64::from(c.0), n))
                .collect(),
        };
        let mut counts_query = instances::Entity::find()
            .select_only()
            .column(instances::Column::ImageName)
            .column(instances::Column::TenantId)
            .column(instances::Column::CloudId)
            .expr(running_count())
            .expr(Expr::cust("COUNT(*)"))
            .filter(cloud_condition(instances::Column::CloudId, filter))
            .group_by(instances::Column::ImageName)
            .group_by(instances::Column::TenantId)
            .group_by(instances::Column::CloudId);
        if let Scope::Tenants(ids) = scope {
            counts_query =
                counts_query.filter(instances::Column::TenantId.is_in(ids.iter().copied()));
        }
        let mut counts: HashMap<(i64, String), (i64, i64)> = HashMap::new();
        for (name, tenant, cloud, running, created) in counts_query
            .into_tuple::<(String, TenantId, CloudId, i64, i64)>()
            .all(db)
            .await?
        {
            let id = match group {
                UsageGroup::Tenant => i64::from(tenant.0),
                UsageGroup::Settings => i64::from(cloud.0),
            };
            let sum = counts.entry((id, name)).or_default();
            sum.0 += running;
            sum.1 += created;
        }
        let names = self.group_names(group).await?;
        let mut rows: Vec<UsageRow> = pairs
            .into_iter()
            .filter_map(|(id, name)| {
                let (running, created) =
                    counts.get(&(id, name.clone())).copied().unwrap_or_default();
                Some(UsageRow {
                    group: Some(names.get(&id)?.clone()),
                    name,
                    running_instances_count: running,
                    created_instances_count: created,
                })
            })
            .collect();
        rows.sort_by(|a, b| {
            let key = |r: &UsageRow| r.group.as_ref().map(|(u, n)| (n.clone(), *u));
            a.name.cmp(&b.name).then_with(|| key(a).cmp(&key(b)))
        });
        Ok(rows)
    }

    /// Uuid and name of every tenant or cloud, by id.
    async fn group_names(&self, group: UsageGroup) -> CatalogResult<HashMap<i64, (Uuid, String)>> {
        let db = self.0.db();
        Ok(match group {
            UsageGroup::Tenant => super::tenant_labels(db)
                .await?
                .into_iter()
                .map(|(id, label)| (i64::from(id.0), label))
                .collect(),
            UsageGroup::Settings => super::cloud_labels(db)
                .await?
                .into_iter()
                .map(|(id, label)| (i64::from(id.0), label))
                .collect(),
        })
    }

    /// How many rows `stats` has in all.
    pub async fn count(&self, scope: &Scope, filter: &UsageFilter) -> CatalogResult<u64> {
        let db = self.0.db();
        if let Some(snapshot) = self.0.index.current(db).await? {
            let clouds = snapshot.clouds_matching(filter.shared, &filter.service_providers);
            return Ok(snapshot.visible_names(scope, clouds.as_deref()).len() as u64);
        }
        Ok(distinct_names(scope, filter).count(db).await?)
    }
}

/// `Usage::stats` by SQL (before the listing index exists, or with it turned off).
async fn stats_by_sql(
    db: &DatabaseConnection,
    scope: &Scope,
    filter: &UsageFilter,
    page: PageRequest,
) -> CatalogResult<Paged<UsageRow>> {
    let names = distinct_names(scope, filter);
    let total = names.clone().count(db).await?;
    let page = page.resolve(total)?;
    let names: Vec<String> = names
        .order_by_asc(images::Column::Name)
        .offset(page.offset())
        .limit(page.size)
        .into_tuple()
        .all(db)
        .await?;
    let mut instances_query = instances::Entity::find()
        .select_only()
        .column(instances::Column::ImageName)
        .expr_as(running_count(), "running")
        .expr_as(Expr::cust("COUNT(*)"), "created")
        .filter(instances::Column::ImageName.is_in(names.iter().cloned()))
        .filter(cloud_condition(instances::Column::CloudId, filter))
        .group_by(instances::Column::ImageName);
    if let Scope::Tenants(ids) = scope {
        instances_query =
            instances_query.filter(instances::Column::TenantId.is_in(ids.iter().copied()));
    }
    let counts: HashMap<String, (i64, i64)> = instances_query
        .into_model::<Counts>()
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.image_name, (c.running, c.created)))
        .collect();
    let items = names
        .into_iter()
        .map(|name| {
            let (running, created) = counts.get(&name).copied().unwrap_or((0, 0));
            UsageRow {
                name,
                running_instances_count: running,
                created_instances_count: created,
                group: None,
            }
        })
        .collect();
    Ok(Paged { items, page })
}

/// The SQL for the distinct names of the images visible to the caller in the chosen clouds.
fn distinct_names(scope: &Scope, filter: &UsageFilter) -> sea_orm::Select<images::Entity> {
    images::Entity::find()
        .select_only()
        .column(images::Column::Name)
        .distinct()
        .filter(super::images::scope_condition(images::Entity, scope))
        .filter(cloud_condition(images::Column::CloudId, filter))
}
