//! `usage_stats`: per image name, how many instances run it now and how many ever used it.
use std::collections::HashMap;

use entity::{images, instances, service_settings};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::paging::{PageRequest, Paged};
use super::{Catalog, CatalogResult, Scope};

pub const RUNNING_STATUS: &str = "ACTIVE";

/// SQL counting, in a group of instances, those running now (not deleted and `ACTIVE`).
pub(super) fn running_count() -> Expr {
    Expr::cust(format!(
        "COALESCE(SUM(CASE WHEN deleted_at IS NULL AND status = '{RUNNING_STATUS}' THEN 1 ELSE 0 END), 0)"
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
                }
            })
            .collect();
        Ok(Paged { items, page })
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
