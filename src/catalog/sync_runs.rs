//! The record of sync runs, and the per-tenant lease that keeps one sync per tenant at a time
//! across replicas.
use chrono::{DateTime, Utc};
use entity::{sync_runs, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::paging::{PageRequest, Paged};
use crate::error::{AppError, AppResult};

pub const RUNNING: &str = "running";
pub const SUCCESS: &str = "success";
pub const FAILED: &str = "failed";
pub const ABORTED: &str = "aborted";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub images_seen: i64,
    pub images_added: i64,
    pub images_updated: i64,
    pub images_removed: i64,
    pub instances_seen: i64,
}

pub async fn start(
    db: &DatabaseConnection,
    tenant_id: i32,
    now: DateTime<Utc>,
) -> Result<sync_runs::Model, DbErr> {
    sync_runs::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        started_at: Set(now),
        finished_at: Set(None),
        outcome: Set(RUNNING.into()),
        images_seen: Set(0),
        images_added: Set(0),
        images_updated: Set(0),
        images_removed: Set(0),
        instances_seen: Set(0),
        error_message: Set(String::new()),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn finish(
    db: &DatabaseConnection,
    run: &sync_runs::Model,
    outcome: &str,
    counts: RunCounts,
    error: &str,
    now: DateTime<Utc>,
) -> Result<sync_runs::Model, DbErr> {
    let mut m: sync_runs::ActiveModel = run.clone().into();
    m.finished_at = Set(Some(now));
    m.outcome = Set(outcome.to_string());
    m.images_seen = Set(counts.images_seen);
    m.images_added = Set(counts.images_added);
    m.images_updated = Set(counts.images_updated);
    m.images_removed = Set(counts.images_removed);
    m.instances_seen = Set(counts.instances_seen);
    m.error_message = Set(error.to_string());
    m.update(db).await
}

/// Sets the tenant's state after a run: OK clears the message, ERRED records it.
pub async fn record_outcome(
    db: &DatabaseConnection,
    tenant_id: i32,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut update = tenants::Entity::update_many()
        .col_expr(tenants::Column::LastSyncAt, Expr::val(now))
        .col_expr(tenants::Column::Modified, Expr::val(now));
    update = match error {
        None => update
            .col_expr(tenants::Column::State, Expr::val("OK"))
            .col_expr(tenants::Column::ErrorMessage, Expr::val(""))
            .col_expr(tenants::Column::LastSuccessAt, Expr::val(now)),
        Some(msg) => update
            .col_expr(tenants::Column::State, Expr::val("ERRED"))
            .col_expr(tenants::Column::ErrorMessage, Expr::val(msg)),
    };
    update
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Claims the tenant for `holder` until `now + ttl` when nobody holds a live claim and, with
/// `due_before`, when its last sync started before that time (so replicas sweeping together
/// sync it once). Returns whether the claim was taken.
pub async fn acquire_lease(
    db: &DatabaseConnection,
    tenant_id: i32,
    holder: &str,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
    due_before: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let mut cond = Condition::all().add(tenants::Column::Id.eq(tenant_id)).add(
        Condition::any()
            .add(tenants::Column::SyncLeaseExpiresAt.is_null())
            .add(tenants::Column::SyncLeaseExpiresAt.lt(now)),
    );
    if let Some(due) = due_before {
        cond = cond.add(
            Condition::any()
                .add(tenants::Column::LastSyncAt.is_null())
                .add(tenants::Column::LastSyncAt.lt(due)),
        );
    }
    let res = tenants::Entity::update_many()
        .col_expr(tenants::Column::SyncLeaseHolder, Expr::val(holder))
        .col_expr(tenants::Column::SyncLeaseExpiresAt, Expr::val(now + ttl))
        .filter(cond)
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn release_lease(
    db: &DatabaseConnection,
    tenant_id: i32,
    holder: &str,
) -> Result<(), DbErr> {
    tenants::Entity::update_many()
        .col_expr(
            tenants::Column::SyncLeaseHolder,
            Expr::val(Option::<String>::None),
        )
        .col_expr(
            tenants::Column::SyncLeaseExpiresAt,
            Expr::val(Option::<DateTime<Utc>>::None),
        )
        .filter(tenants::Column::Id.eq(tenant_id))
        .filter(tenants::Column::SyncLeaseHolder.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether some replica holds a live claim on the tenant.
pub fn is_syncing(tenant: &tenants::Model, now: DateTime<Utc>) -> bool {
    tenant.sync_lease_expires_at.is_some_and(|t| t > now)
}

#[derive(Clone, Debug)]
pub struct RunView {
    pub run: sync_runs::Model,
    pub tenant_uuid: Uuid,
}

pub async fn list(
    db: &DatabaseConnection,
    tenant: Option<Uuid>,
    page: PageRequest,
) -> AppResult<Paged<RunView>> {
    let mut query = sync_runs::Entity::find();
    if let Some(uuid) = tenant {
        query = query.filter(
            sync_runs::Column::TenantId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(tenants::Column::Id)
                    .from(tenants::Entity)
                    .and_where(tenants::Column::Uuid.eq(uuid))
                    .to_owned(),
            ),
        );
    }
    let total = query.clone().count(db).await?;
    let page = page.resolve(total).map_err(|_| AppError::InvalidPage)?;
    let runs = query
        .order_by_desc(sync_runs::Column::StartedAt)
        .order_by_desc(sync_runs::Column::Id)
        .offset(page.offset())
        .limit(page.size)
        .all(db)
        .await?;
    let ids: Vec<i32> = runs.iter().map(|r| r.tenant_id).collect();
    let uuids: std::collections::HashMap<i32, Uuid> = tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .column(tenants::Column::Uuid)
        .filter(tenants::Column::Id.is_in(ids))
        .into_tuple::<(i32, Uuid)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let items = runs
        .into_iter()
        .filter_map(|run| {
            uuids.get(&run.tenant_id).map(|u| RunView {
                tenant_uuid: *u,
                run,
            })
        })
        .collect();
    Ok(Paged { items, page })
}
