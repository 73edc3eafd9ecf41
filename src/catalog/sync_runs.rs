//! The record of sync runs, and the per-tenant lease that keeps one sync per tenant at a time
//! across replicas.
use chrono::{DateTime, Utc};
use entity::{sync_runs, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::paging::{PageRequest, Paged};
use super::{Catalog, CatalogResult, ErrorKind, RunOutcome, State, TenantId};

/// A sync run as stored.
pub type SyncRun = sync_runs::Model;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub images_seen: i64,
    pub images_added: i64,
    pub images_updated: i64,
    pub images_removed: i64,
    pub instances_seen: i64,
}

/// A run that found the tenant's view as its last sync applied it.
#[derive(Clone, Debug)]
pub struct UnchangedRun {
    pub tenant_id: TenantId,
    pub counts: RunCounts,
    pub unavailable: Vec<super::tenants::MissingService>,
}

/// How a run ended, as its record keeps it.
#[derive(Clone, Debug)]
pub struct RunEnd {
    pub outcome: RunOutcome,
    pub counts: RunCounts,
    /// Services the cloud lacks, which the sync went on without.
    pub unavailable: Vec<super::tenants::MissingService>,
    /// Why it did not succeed; `None` for a success.
    pub failure: Option<Failure>,
}

/// Why a run failed: a stable kind to group by and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

/// Tenants per statement in batched bookkeeping: well under every bound-variable limit.
const BATCH: usize = 400;

#[derive(Clone, Debug)]
pub struct RunView {
    pub run: SyncRun,
    pub tenant_uuid: Uuid,
}

/// Why a run was closed as `interrupted`.
pub const INTERRUPTED_MESSAGE: &str = "the process running this sync stopped (crash, kill or lost lease) before it recorded how the sync ended";

/// Whether some replica holds a live claim on the tenant.
pub fn is_syncing(tenant: &super::tenants::Tenant, now: DateTime<Utc>) -> bool {
    tenant.sync_lease_expires_at.is_some_and(|t| t > now)
}

pub struct SyncRuns<'a>(pub(super) &'a Catalog);

impl SyncRuns<'_> {
    /// Records that `holder` started a sync of the tenant. The caller holds the tenant's
    /// claim, so a run of the tenant still `running` belongs to a process that lost it (it
    /// died, or stalled past the claim's life): that run is closed as `interrupted` first.
    /// Sweeps close dead runs when they start, but a claim that expires later in the sweep
    /// would otherwise leave the dead run `running` beside the new one until the next sweep.
    pub async fn start(
        &self,
        tenant_id: TenantId,
        holder: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<SyncRun> {
        let db = self.0.writer();
        self.interrupt(
            Condition::all().add(sync_runs::Column::TenantId.eq(tenant_id)),
            now,
        )
        .await?;
        Ok(sync_runs::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            holder: Set(Some(holder.to_string())),
            started_at: Set(now),
            finished_at: Set(None),
            outcome: Set(RunOutcome::Running),
            images_seen: Set(0),
            images_added: Set(0),
            images_updated: Set(0),
            images_removed: Set(0),
            instances_seen: Set(0),
            error_message: Set(String::new()),
            ..Default::default()
        }
        .insert(db)
        .await?)
    }

    /// Records how a run ended.
    pub async fn finish(
        &self,
        run: &SyncRun,
        end: &RunEnd,
        now: DateTime<Utc>,
    ) -> CatalogResult<SyncRun> {
        let mut m: sync_runs::ActiveModel = run.clone().into();
        let counts = end.counts;
        m.finished_at = Set(Some(now));
        m.outcome = Set(end.outcome);
        m.images_seen = Set(counts.images_seen);
        m.images_added = Set(counts.images_added);
        m.images_updated = Set(counts.images_updated);
        m.images_removed = Set(counts.images_removed);
        m.instances_seen = Set(counts.instances_seen);
        m.unavailable_services = Set(super::tenants::MissingService::json(&end.unavailable));
        m.error_message = Set(end
            .failure
            .as_ref()
            .map_or_else(String::new, |f| f.message.clone()));
        m.error_kind = Set(end.failure.as_ref().map(|f| f.kind));
        Ok(m.update(self.0.writer()).await?)
    }

    /// Sets the tenant's state after a run: OK clears the message, ERRED records it.
    pub async fn record_outcome(
        &self,
        tenant_id: TenantId,
        failure: Option<&Failure>,
        now: DateTime<Utc>,
    ) -> CatalogResult<()> {
        let mut update = tenants::Entity::update_many()
            .col_expr(tenants::Column::LastSyncAt, Expr::val(now))
            .col_expr(tenants::Column::Modified, Expr::val(now));
        update = match failure {
            None => update
                .col_expr(tenants::Column::State, Expr::val(State::Ok.as_str()))
                .col_expr(tenants::Column::ErrorMessage, Expr::val(""))
                .col_expr(
                    tenants::Column::ErrorKind,
                    Expr::val(Option::<String>::None),
                )
                .col_expr(tenants::Column::LastSuccessAt, Expr::val(now)),
            Some(f) => update
                .col_expr(tenants::Column::State, Expr::val(State::Erred.as_str()))
                .col_expr(tenants::Column::ErrorMessage, Expr::val(f.message.as_str()))
                .col_expr(tenants::Column::ErrorKind, Expr::val(f.kind.as_str())),
        };
        update
            .filter(tenants::Column::Id.eq(tenant_id))
            .exec(self.0.writer())
            .await?;
        Ok(())
    }

    /// Claims the tenant for `holder` until `now + ttl` when nobody holds a live claim and, with
    /// `due_before`, when its last sync started before that time (so replicas sweeping together
    /// sync it once). Returns whether the claim was taken.
    pub async fn acquire_lease(
        &self,
        tenant_id: TenantId,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
        due_before: Option<DateTime<Utc>>,
    ) -> CatalogResult<bool> {
        let claimed = self
            .acquire_leases(&[tenant_id], holder, now, ttl, due_before)
            .await?;
        Ok(!claimed.is_empty())
    }

    /// `acquire_lease` for many tenants at once (a statement per few hundred): the tenants
    /// claimed, as they are now, in id order.
    pub async fn acquire_leases(
        &self,
        tenant_ids: &[TenantId],
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
        due_before: Option<DateTime<Utc>>,
    ) -> CatalogResult<Vec<super::tenants::Tenant>> {
        let mut claimed = Vec::with_capacity(tenant_ids.len());
        for chunk in tenant_ids.chunks(BATCH) {
            let mut cond = Condition::all()
                .add(tenants::Column::Id.is_in(chunk.iter().copied()))
                .add(
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
            let rows = tenants::Entity::update_many()
                .col_expr(tenants::Column::SyncLeaseHolder, Expr::val(holder))
                .col_expr(tenants::Column::SyncLeaseExpiresAt, Expr::val(now + ttl))
                .filter(cond)
                .exec_with_returning(self.0.writer())
                .await?;
            claimed.extend(rows);
        }
        claimed.sort_unstable_by_key(|t| t.id);
        Ok(claimed)
    }

    /// Extends `holder`'s claim on the tenant to `now + ttl`; `false` when it no longer holds
    /// it (its claim expired and another process took the tenant over).
    pub async fn renew_lease(
        &self,
        tenant_id: TenantId,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> CatalogResult<bool> {
        let res = tenants::Entity::update_many()
            .col_expr(tenants::Column::SyncLeaseExpiresAt, Expr::val(now + ttl))
            .filter(tenants::Column::Id.eq(tenant_id))
            .filter(tenants::Column::SyncLeaseHolder.eq(holder))
            .exec(self.0.writer())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Drops every claim `holder` holds: a process starting under the id it had before a
    /// crash holds nothing yet.
    pub async fn release_leases_of(&self, holder: &str) -> CatalogResult<u64> {
        self.clear_leases(Condition::all().add(tenants::Column::SyncLeaseHolder.eq(holder)))
            .await
    }

    /// Clears the claims on the tenants `which` selects; returns how many.
    async fn clear_leases(&self, which: Condition) -> CatalogResult<u64> {
        let res = tenants::Entity::update_many()
            .col_expr(
                tenants::Column::SyncLeaseHolder,
                Expr::val(Option::<String>::None),
            )
            .col_expr(
                tenants::Column::SyncLeaseExpiresAt,
                Expr::val(Option::<DateTime<Utc>>::None),
            )
            .filter(which)
            .exec(self.0.writer())
            .await?;
        Ok(res.rows_affected)
    }

    /// Closes as `interrupted` the runs still `running` whose process no longer holds a live
    /// claim on their tenant: it died (or lost the claim) before it finished. Returns how many.
    pub async fn close_dead_runs(&self, now: DateTime<Utc>) -> CatalogResult<u64> {
        let db = self.0.writer();
        let running: Vec<(i64, TenantId, Option<String>)> = sync_runs::Entity::find()
            .select_only()
            .column(sync_runs::Column::Id)
            .column(sync_runs::Column::TenantId)
            .column(sync_runs::Column::Holder)
            .filter(sync_runs::Column::Outcome.eq(RunOutcome::Running))
            .into_tuple()
            .all(db)
            .await?;
        if running.is_empty() {
            return Ok(0);
        }
        let live: Vec<(TenantId, String)> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::SyncLeaseHolder)
            .filter(tenants::Column::Id.is_in(running.iter().map(|r| r.1)))
            .filter(tenants::Column::SyncLeaseExpiresAt.gt(now))
            .filter(tenants::Column::SyncLeaseHolder.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        let dead: Vec<i64> = running
            .into_iter()
            .filter(|(_, tenant, holder)| {
                !live
                    .iter()
                    .any(|(t, h)| t == tenant && holder.as_deref() == Some(h.as_str()))
            })
            .map(|(id, _, _)| id)
            .collect();
        if dead.is_empty() {
            return Ok(0);
        }
        self.interrupt(Condition::all().add(sync_runs::Column::Id.is_in(dead)), now)
            .await
    }

    /// Closes as `interrupted` the runs `which` selects that are still `running`; returns how
    /// many.
    async fn interrupt(&self, which: Condition, now: DateTime<Utc>) -> CatalogResult<u64> {
        Ok(Self::interrupt_in(self.0.writer(), which, now).await?)
    }

    async fn interrupt_in<C: sea_orm::ConnectionTrait>(
        db: &C,
        which: Condition,
        now: DateTime<Utc>,
    ) -> Result<u64, sea_orm::DbErr> {
        let res = sync_runs::Entity::update_many()
            .col_expr(
                sync_runs::Column::Outcome,
                Expr::val(RunOutcome::Interrupted.as_str()),
            )
            .col_expr(sync_runs::Column::FinishedAt, Expr::val(now))
            .col_expr(
                sync_runs::Column::ErrorMessage,
                Expr::val(INTERRUPTED_MESSAGE),
            )
            .col_expr(
                sync_runs::Column::ErrorKind,
                Expr::val(ErrorKind::LeaseLost.as_str()),
            )
            .filter(which)
            .filter(sync_runs::Column::Outcome.eq(RunOutcome::Running))
            .exec(db)
            .await?;
        Ok(res.rows_affected)
    }

    pub async fn release_lease(&self, tenant_id: TenantId, holder: &str) -> CatalogResult<()> {
        self.release_leases(&[tenant_id], holder).await
    }

    /// Drops `holder`'s claims on these tenants.
    pub async fn release_leases(&self, tenant_ids: &[TenantId], holder: &str) -> CatalogResult<()> {
        for chunk in tenant_ids.chunks(BATCH) {
            self.clear_leases(
                Condition::all()
                    .add(tenants::Column::Id.is_in(chunk.iter().copied()))
                    .add(tenants::Column::SyncLeaseHolder.eq(holder)),
            )
            .await?;
        }
        Ok(())
    }

    /// Records at once, for tenants `holder` holds whose view was what their last sync
    /// applied, a successful run that changed nothing (`started` to `finished`, with what it
    /// saw), and sets them OK: `start`, `finish` and `record_outcome` for each, as few
    /// statements.
    pub async fn record_unchanged(
        &self,
        runs: &[UnchangedRun],
        holder: &str,
        started: DateTime<Utc>,
        finished: DateTime<Utc>,
    ) -> CatalogResult<()> {
        let txn = super::db::begin_write(self.0.writer()).await?;
        for chunk in runs.chunks(BATCH) {
            let ids = || chunk.iter().map(|r| r.tenant_id);
            Self::interrupt_in(
                &txn,
                Condition::all().add(sync_runs::Column::TenantId.is_in(ids())),
                started,
            )
            .await?;
            sync_runs::Entity::insert_many(chunk.iter().map(|r| sync_runs::ActiveModel {
                uuid: Set(Uuid::new_v4()),
                tenant_id: Set(r.tenant_id),
                holder: Set(Some(holder.to_string())),
                started_at: Set(started),
                finished_at: Set(Some(finished)),
                outcome: Set(RunOutcome::Success),
                images_seen: Set(r.counts.images_seen),
                images_added: Set(0),
                images_updated: Set(0),
                images_removed: Set(0),
                instances_seen: Set(r.counts.instances_seen),
                unavailable_services: Set(super::tenants::MissingService::json(&r.unavailable)),
                error_message: Set(String::new()),
                ..Default::default()
            }))
            .exec_without_returning(&txn)
            .await?;
            tenants::Entity::update_many()
                .col_expr(tenants::Column::LastSyncAt, Expr::val(finished))
                .col_expr(tenants::Column::Modified, Expr::val(finished))
                .col_expr(tenants::Column::State, Expr::val(State::Ok.as_str()))
                .col_expr(tenants::Column::ErrorMessage, Expr::val(""))
                .col_expr(
                    tenants::Column::ErrorKind,
                    Expr::val(Option::<String>::None),
                )
                .col_expr(tenants::Column::LastSuccessAt, Expr::val(finished))
                .filter(tenants::Column::Id.is_in(ids()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Runs (of one tenant, or all), newest first.
    pub async fn list(
        &self,
        tenant: Option<Uuid>,
        page: PageRequest,
    ) -> CatalogResult<Paged<RunView>> {
        let db = self.0.db();
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
        let page = page.resolve(total)?;
        let runs = query
            .order_by_desc(sync_runs::Column::StartedAt)
            .order_by_desc(sync_runs::Column::Id)
            .offset(page.offset())
            .limit(page.size)
            .all(db)
            .await?;
        let ids: Vec<TenantId> = runs.iter().map(|r| r.tenant_id).collect();
        let uuids: std::collections::HashMap<TenantId, Uuid> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::Uuid)
            .filter(tenants::Column::Id.is_in(ids))
            .into_tuple::<(TenantId, Uuid)>()
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
}
